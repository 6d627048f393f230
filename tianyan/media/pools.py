"""Storage pools: the directories recordings go to, how full each is, and which one the next segment goes to.

A pool's room is the smaller of what its capacity leaves after our own files (when it has a capacity) and what
the file system has free; a pool without a capacity is as big as its file system. Segments are spread by
putting each new one in the pool with the most room. A pool that cannot be written (missing mount, read-only,
a write just failed with ENOSPC or EIO) is skipped for a while, with the reason kept for alarms and the API.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tianyan.config import StoragePool

__all__ = ["NoPoolAvailable", "Pool", "PoolStatus", "StoragePools"]

log = logging.getLogger(__name__)

GB = 1_000_000_000
# Never fill a file system to the last byte: the database, logs and the OS share it.
DEFAULT_RESERVE_BYTES = 256 * 1024 * 1024
# A pool whose write failed is not tried again for this long.
DEFAULT_RETRY_S = 30.0


class NoPoolAvailable(OSError):
    """Every pool is full or unwritable; `reasons` says why, pool by pool."""

    def __init__(self, reasons: dict[str, str]) -> None:
        detail = "; ".join(f"{name}: {why}" for name, why in reasons.items()) or "no pools are configured"
        super().__init__(errno.ENOSPC, f"no storage pool can take a recording ({detail})")
        self.reasons = reasons


@dataclass(frozen=True)
class PoolStatus:
    name: str
    path: Path
    capacity_bytes: int  # the configured capacity, or the file system's size
    used_bytes: int  # our files (by our accounting) when there is a capacity, else the file system's use
    free_bytes: int  # room left for recordings, the reserve kept back
    fs_size_bytes: int
    fs_used_bytes: int
    fs_free_bytes: int
    ours_bytes: int
    writable: bool
    problem: str | None

    @property
    def free_fraction(self) -> float:
        return self.free_bytes / self.capacity_bytes if self.capacity_bytes > 0 else 0.0

    @property
    def used_fraction(self) -> float:
        return self.used_bytes / self.capacity_bytes if self.capacity_bytes > 0 else 1.0


@dataclass
class Pool:
    name: str
    path: Path
    capacity_bytes: int  # 0: the file system's size
    ours_bytes: int = 0
    written_bytes: int = 0  # recorded into it since start-up; only grows (for the bytes-written counter)
    failed_at: float | None = None
    failure: str | None = None


def _statvfs(path: Path) -> tuple[int, int, int]:
    """(size, used, free to us) of the file system holding `path`."""
    stats = os.statvfs(path)
    size = stats.f_blocks * stats.f_frsize
    return size, size - stats.f_bfree * stats.f_frsize, stats.f_bavail * stats.f_frsize


class StoragePools:
    def __init__(
        self,
        pools: Iterable[StoragePool],
        *,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        retry_s: float = DEFAULT_RETRY_S,
        monotonic: Callable[[], float] = time.monotonic,
        statvfs: Callable[[Path], tuple[int, int, int]] = _statvfs,
    ) -> None:
        self.pools: dict[str, Pool] = {}
        for pool in pools:
            if pool.name in self.pools:
                raise ValueError(f"storage pool {pool.name!r} is configured twice")
            self.pools[pool.name] = Pool(pool.name, Path(pool.path), round(pool.capacity_gb * GB))
        self.reserve_bytes = reserve_bytes
        self.retry_s = retry_s
        self._monotonic = monotonic
        self._statvfs = statvfs
        self.last_reasons: dict[str, str] = {}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.pools.values())

    def __contains__(self, name: object) -> bool:
        return name in self.pools

    def path(self, name: str) -> Path:
        return self.pools[name].path

    # --- our own accounting -------------------------------------------------------------------------------

    def set_ours(self, name: str, total_bytes: int) -> None:
        """What our files in the pool add up to (from the index at start-up)."""
        self.pools[name].ours_bytes = max(0, total_bytes)

    def account(self, name: str, delta_bytes: int) -> None:
        """Bytes written (positive) or deleted (negative) in a pool."""
        pool = self.pools.get(name)
        if pool is not None:
            pool.ours_bytes = max(0, pool.ours_bytes + delta_bytes)
            pool.written_bytes += max(0, delta_bytes)

    def mark_failed(self, name: str, reason: str) -> None:
        """A write to the pool just failed: skip it for `retry_s`."""
        pool = self.pools.get(name)
        if pool is not None:
            pool.failed_at, pool.failure = self._monotonic(), reason
            log.warning("storage pool %s failed: %s; skipped for %.0f s", name, reason, self.retry_s)

    # --- state ----------------------------------------------------------------------------------------------

    def status(self, name: str) -> PoolStatus:
        pool = self.pools[name]
        problem = self._problem(pool)
        try:
            fs_size, fs_used, fs_free = self._statvfs(pool.path)
        except OSError:
            fs_size = fs_used = fs_free = 0
        capacity = pool.capacity_bytes or fs_size
        if pool.capacity_bytes:
            used = pool.ours_bytes
            free = min(pool.capacity_bytes - pool.ours_bytes, fs_free - self.reserve_bytes)
        else:
            used = fs_used
            free = fs_free - self.reserve_bytes
        return PoolStatus(
            name, pool.path, capacity, used, max(0, free), fs_size, fs_used, fs_free, pool.ours_bytes,
            problem is None, problem,
        )  # fmt: skip

    def statuses(self) -> list[PoolStatus]:
        return [self.status(name) for name in self.pools]

    def _problem(self, pool: Pool) -> str | None:
        if pool.failed_at is not None:
            if self._monotonic() - pool.failed_at < self.retry_s:
                return f"a write failed: {pool.failure}"
            pool.failed_at = pool.failure = None
        try:
            pool.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"cannot create {pool.path}: {exc.strerror or exc}"
        if not pool.path.is_dir():
            return f"{pool.path} is not a directory"
        if not os.access(pool.path, os.W_OK | os.X_OK):
            return f"{pool.path} is not writable"
        return None

    def choose(self, bytes_hint: int = 0, *, exclude: Iterable[str] = ()) -> str:
        """The name of the writable pool with the most room for `bytes_hint` more bytes; NoPoolAvailable if none."""
        excluded = set(exclude)
        reasons: dict[str, str] = {}
        best: tuple[int, str] | None = None
        for name in self.pools:
            if name in excluded:
                reasons[name] = "just failed"
                continue
            status = self.status(name)
            if status.problem is not None:
                reasons[name] = status.problem
            elif status.free_bytes <= bytes_hint:
                reasons[name] = f"full ({status.free_bytes} bytes free, {bytes_hint} wanted)"
            elif best is None or status.free_bytes > best[0]:
                best = (status.free_bytes, name)
        self.last_reasons = reasons
        if best is None:
            raise NoPoolAvailable(reasons)
        return best[1]
