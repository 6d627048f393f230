"""GB/T 28181 SSRCs (the SDP y= line): parse, build, convert to the RTP integer, and allocate per SIP domain.

Layout (GB/T 28181-2016 appendix F): 10 decimal digits. Digit 1 is 0 for live media, 1 for
history (playback, download); digits 2-6 are digits 4-8 of the SIP domain ID; digits 7-10 are
a sequence that no other stream in the domain uses at the same time. Live and history share
the sequence space: the standard asks the last four digits to be unique in the domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEQUENCE_MIN = 1
SEQUENCE_MAX = 9999
MAX_SSRC_INT = 0xFFFFFFFF

_TEN_DIGITS = re.compile(r"[0-9]{10}")
_DOMAIN = re.compile(r"[0-9]{10}(?:[0-9]{10})?")


class SsrcError(ValueError):
    """A string or number that is not a valid GB/T 28181 SSRC, or a misuse of the allocator."""


class SsrcExhausted(SsrcError):
    """Every sequence of a domain is in use."""


@dataclass(frozen=True)
class Ssrc:
    """A validated GB SSRC; `text` is the 10-digit y= form, `value` the 32-bit RTP header form."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not _TEN_DIGITS.fullmatch(self.text):
            raise SsrcError(f"SSRC must be 10 digits, got {self.text!r}")
        if self.text[0] not in "01":
            raise SsrcError(f"SSRC digit 1 must be 0 (live) or 1 (history), got {self.text[0]!r} in {self.text!r}")

    @property
    def history(self) -> bool:
        return self.text[0] == "1"

    @property
    def domain_tag(self) -> str:
        """Digits 2-6: digits 4-8 of the domain that allocated it."""
        return self.text[1:6]

    @property
    def sequence(self) -> int:
        return int(self.text[6:])

    @property
    def value(self) -> int:
        # A leading 0 is just a leading zero: "0200000001" travels in RTP as 200000001.
        return int(self.text)

    def __str__(self) -> str:
        return self.text


def domain_tag(domain: str) -> str:
    """Digits 4-8 of a 10-digit SIP domain (or of a 20-digit platform ID, whose first 10 digits are the domain)."""
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise SsrcError(f"SIP domain must be 10 digits (or a 20-digit ID), got {domain!r}")
    return domain[3:8]


def parse_ssrc(text: str) -> Ssrc:
    """Validate the y= text of a GB SSRC: 10 digits, the first 0 or 1; surrounding spaces are forgiven."""
    if not isinstance(text, str):
        raise SsrcError("SSRC must be a string of 10 digits")
    # With digit 1 at most 1 the value is at most 1999999999, which always fits 32 bits.
    return Ssrc(text.strip())


def ssrc_from_int(value: int) -> Ssrc:
    """The GB SSRC an RTP header's 32-bit SSRC stands for, zero-padded back to 10 digits."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SSRC_INT:
        raise SsrcError(f"RTP SSRC must be a 32-bit unsigned integer, got {value!r}")
    return Ssrc(f"{value:010d}")


def make_ssrc(domain: str, sequence: int, *, history: bool = False) -> Ssrc:
    """Build the SSRC for a stream: live/history flag, the domain's digits 4-8, the 4-digit sequence."""
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= SEQUENCE_MAX:
        raise SsrcError(f"SSRC sequence must be 0-{SEQUENCE_MAX}, got {sequence!r}")
    return Ssrc(f"{1 if history else 0}{domain_tag(domain)}{sequence:04d}")


class SsrcAllocator:
    """Hands out SSRCs of one SIP domain whose sequences are not in use.

    The cursor moves on after each allocation and wraps from 9999 to 0001, so a sequence just
    released is the last to be handed out again: late packets of an old stream will not be
    mistaken for a new one.
    """

    def __init__(self, domain: str, *, first_sequence: int = SEQUENCE_MIN) -> None:
        self._tag = domain_tag(domain)
        self._domain = domain[:10]
        if not SEQUENCE_MIN <= first_sequence <= SEQUENCE_MAX:
            raise SsrcError(f"first sequence must be {SEQUENCE_MIN}-{SEQUENCE_MAX}, got {first_sequence}")
        self._cursor = first_sequence
        self._in_use: set[int] = set()

    @property
    def domain(self) -> str:
        return self._domain

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    @property
    def available(self) -> int:
        return SEQUENCE_MAX - SEQUENCE_MIN + 1 - len(self._in_use)

    def allocate(self, *, history: bool = False) -> Ssrc:
        if not self.available:
            raise SsrcExhausted(
                f"all {SEQUENCE_MAX} SSRC sequences of domain {self._domain} (tag {self._tag}) are in use"
            )
        sequence = self._cursor
        while sequence in self._in_use:
            sequence = sequence + 1 if sequence < SEQUENCE_MAX else SEQUENCE_MIN
        self._in_use.add(sequence)
        self._cursor = sequence + 1 if sequence < SEQUENCE_MAX else SEQUENCE_MIN
        return Ssrc(f"{1 if history else 0}{self._tag}{sequence:04d}")

    def reserve(self, ssrc: Ssrc | str) -> None:
        """Mark an SSRC in use that was not handed out here, e.g. after a restart; in use already is an error."""
        sequence = self._own_sequence(ssrc)
        if sequence < SEQUENCE_MIN:
            raise SsrcError(f"sequence 0000 is outside the allocator's range {SEQUENCE_MIN:04d}-{SEQUENCE_MAX}")
        if sequence in self._in_use:
            raise SsrcError(f"SSRC sequence {sequence:04d} of domain {self._domain} is already in use")
        self._in_use.add(sequence)

    def release(self, ssrc: Ssrc | str) -> bool:
        """Return an SSRC's sequence to the pool; False if it was not in use (a second BYE is harmless)."""
        sequence = self._own_sequence(ssrc)
        if sequence not in self._in_use:
            return False
        self._in_use.remove(sequence)
        return True

    def is_in_use(self, ssrc: Ssrc | str) -> bool:
        return self._own_sequence(ssrc) in self._in_use

    def _own_sequence(self, ssrc: Ssrc | str) -> int:
        parsed = ssrc if isinstance(ssrc, Ssrc) else parse_ssrc(ssrc)
        if parsed.domain_tag != self._tag:
            raise SsrcError(f"SSRC {parsed.text} belongs to domain tag {parsed.domain_tag}, not {self._tag}")
        return parsed.sequence
