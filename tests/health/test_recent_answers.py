"""Recent KPI answers: reused only when the caller accepts their age, shared while computing, bounded."""

from __future__ import annotations

import asyncio

import pytest

from tianyan.health.reports.recent import RecentAnswers


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("the database went away")
        return self.calls


async def test_an_answer_is_reused_only_as_long_as_the_caller_allows() -> None:
    clock, compute = Ticker(), Counting()
    recent: RecentAnswers[int] = RecentAnswers(clock=clock)
    assert await recent.get("q", 60, compute) == 1
    clock.now += 59
    assert await recent.get("q", 60, compute) == 1 and compute.calls == 1
    assert await recent.get("q", 0, compute) == 2, "max age 0 always computes afresh"
    assert await recent.get("q", 60, compute) == 2, "and the fresh answer is kept"
    clock.now += 61
    assert await recent.get("q", 60, compute) == 3
    assert await recent.get("other", 60, compute) == 4, "another question has its own answer"


async def test_identical_questions_asked_together_share_one_computation() -> None:
    compute = Counting()
    compute.gate = asyncio.Event()
    recent: RecentAnswers[int] = RecentAnswers(clock=Ticker())
    waiting = [asyncio.ensure_future(recent.get("q", 60, compute)) for _ in range(5)]
    await asyncio.sleep(0.01)
    compute.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 5 and compute.calls == 1


async def test_a_failed_shared_computation_fails_its_caller_and_the_others_compute_their_own() -> None:
    compute = Counting()
    compute.gate, compute.fail = asyncio.Event(), True
    recent: RecentAnswers[int] = RecentAnswers(clock=Ticker())
    first = asyncio.ensure_future(recent.get("q", 60, compute))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(recent.get("q", 60, compute))
    await asyncio.sleep(0.01)
    compute.gate.set()
    with pytest.raises(RuntimeError):
        await first
    compute.fail = False
    assert await second == 2
    assert await recent.get("q", 60, compute) == 2, "the good answer is kept, the failure is not"


async def test_a_cancelled_caller_does_not_cancel_those_that_waited_on_it() -> None:
    compute = Counting()
    compute.gate = asyncio.Event()
    recent: RecentAnswers[int] = RecentAnswers(clock=Ticker())
    first = asyncio.ensure_future(recent.get("q", 60, compute))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(recent.get("q", 60, compute))
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    compute.gate.set()
    assert await second == 2 and first.cancelled()


async def test_only_the_most_recently_used_answers_are_kept() -> None:
    compute = Counting()
    recent: RecentAnswers[int] = RecentAnswers(entries=2, clock=Ticker())
    for key in ("a", "b"):
        await recent.get(key, 60, compute)
    await recent.get("a", 60, compute)  # "a" used again: "b" is now the oldest
    await recent.get("c", 60, compute)
    assert await recent.get("a", 60, compute) == 1
    assert await recent.get("b", 60, compute) == 4, "b was dropped and is computed again"
