"""Tianyan (天眼): city-scale public-security video surveillance platform."""

__version__ = "0.1.0"
