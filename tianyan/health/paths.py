"""Where health keeps its files: evidence pictures and reference pictures, under <data_dir>/health."""

from __future__ import annotations

from pathlib import Path


def health_dir(data_dir: Path) -> Path:
    return data_dir / "health"
