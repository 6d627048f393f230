"""The one error the SIP core raises for input it cannot accept; transports answer it with 400 or drop it."""

from __future__ import annotations


class SipError(ValueError):
    """A message (or part of one) that is malformed, too large, or missing what SIP requires."""
