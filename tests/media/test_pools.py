"""Storage pools: room per pool, spreading segments, and skipping pools that are full or cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tianyan.config import StoragePool
from tianyan.media.pools import GB, NoPoolAvailable, StoragePools

TB = 1000 * GB


class FakeFs:
    """statvfs results by directory: (size, used, free to us)."""

    def __init__(self) -> None:
        self.by_path: dict[Path, tuple[int, int, int]] = {}

    def __call__(self, path: Path) -> tuple[int, int, int]:
        return self.by_path[path]


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, *specs: tuple[str, float], reserve: int = 0) -> tuple[StoragePools, FakeFs, Ticks]:
    fs, ticks = FakeFs(), Ticks()
    pools = StoragePools(
        [StoragePool(name=name, path=tmp_path / name, capacity_gb=gb) for name, gb in specs],
        reserve_bytes=reserve, statvfs=fs, monotonic=ticks, retry_s=30,
    )  # fmt: skip
    return pools, fs, ticks


def test_the_pool_with_most_room_is_chosen(tmp_path: Path) -> None:
    pools, fs, _ = make(tmp_path, ("a", 0), ("b", 0))
    fs.by_path[tmp_path / "a"] = (4 * TB, 3 * TB, 1 * TB)
    fs.by_path[tmp_path / "b"] = (4 * TB, 1 * TB, 3 * TB)
    assert pools.choose(GB) == "b"
    status = pools.status("b")
    assert (status.capacity_bytes, status.used_bytes, status.free_bytes) == (4 * TB, TB, 3 * TB)
    assert status.free_fraction == pytest.approx(0.75)
    assert (tmp_path / "a").is_dir(), "a pool's directory is created when it is first looked at"


def test_a_capacity_counts_our_own_files(tmp_path: Path) -> None:
    pools, fs, _ = make(tmp_path, ("small", 10), ("big", 0), reserve=GB)
    fs.by_path[tmp_path / "small"] = (4 * TB, 0, 4 * TB)
    fs.by_path[tmp_path / "big"] = (4 * TB, 3 * TB, 12 * GB)
    pools.set_ours("small", 4 * GB)
    status = pools.status("small")
    assert (status.capacity_bytes, status.used_bytes, status.free_bytes) == (10 * GB, 4 * GB, 6 * GB)
    # big has 12 GB free less the 1 GB reserve: more than small's 6 GB.
    assert pools.choose() == "big"
    pools.account("big", 9 * GB)
    fs.by_path[tmp_path / "big"] = (4 * TB, 3 * TB + 9 * GB, 3 * GB)
    assert pools.choose() == "small"
    pools.account("small", 6 * GB)
    with pytest.raises(NoPoolAvailable) as caught:
        pools.choose(2 * GB)  # big has 2 GB after the reserve; small none
    assert set(caught.value.reasons) == {"small", "big"}
    assert caught.value.reasons["small"].startswith("full")


def test_a_pool_that_is_not_a_directory_is_skipped_with_the_reason(tmp_path: Path) -> None:
    pools, fs, _ = make(tmp_path, ("broken", 0), ("ok", 0))
    (tmp_path / "broken").write_text("a file where a mount point should be")
    fs.by_path[tmp_path / "broken"] = (TB, 0, TB)
    fs.by_path[tmp_path / "ok"] = (TB, TB // 2, TB // 2)
    assert pools.choose() == "ok"
    assert "broken" in pools.last_reasons
    assert not pools.status("broken").writable


def test_a_failed_pool_is_skipped_for_a_while(tmp_path: Path) -> None:
    pools, fs, ticks = make(tmp_path, ("a", 0), ("b", 0))
    fs.by_path[tmp_path / "a"] = (TB, 0, TB)
    fs.by_path[tmp_path / "b"] = (TB, TB // 2, TB // 2)
    pools.mark_failed("a", "ENOSPC (No space left on device)")
    assert pools.choose() == "b"
    assert "ENOSPC" in pools.last_reasons["a"]
    ticks.now += 31
    assert pools.choose() == "a"
    with pytest.raises(NoPoolAvailable, match="just failed"):
        pools.choose(exclude=["a", "b"])


def test_real_file_system(tmp_path: Path) -> None:
    pools = StoragePools([StoragePool(name="real", path=tmp_path / "real")], reserve_bytes=0)
    status = pools.status("real")
    assert status.fs_size_bytes > 0 and status.capacity_bytes == status.fs_size_bytes
    assert 0 <= status.used_fraction <= 1
    assert pools.choose() == "real"


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="twice"):
        StoragePools([StoragePool(name="x", path=tmp_path), StoragePool(name="x", path=tmp_path / "y")])
