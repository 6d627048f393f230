"""KPI answers computed a moment ago, for callers that say how old an answer may be (a dashboard opened again).

A KPI over 100,000 cameras takes the database most of a second; an analyst going back and forth between pages, or
several analysts of one scope, would have it computed again each time for figures that move by a camera or two a
minute. A caller that accepts an answer up to `max_age_s` old gets the last one computed for exactly the same
question (same user, filters, period as asked, plan, options), which carries the time it was computed; one that
does not (every report file, every API call by default) always gets a fresh computation. Identical questions asked
together share one computation.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_ENTRIES = 64


@dataclass
class _Entry(Generic[T]):
    at: float
    value: T


class RecentAnswers(Generic[T]):
    """At most `entries` answers, the least recently used dropped first."""

    def __init__(self, entries: int = DEFAULT_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self._running: dict[Hashable, asyncio.Future[T]] = {}
        self._size = entries
        self._clock = clock

    async def get(self, key: Hashable, max_age_s: float, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer to `key` computed at most `max_age_s` ago, else `compute()`'s (kept for the next caller)."""
        if max_age_s > 0:
            entry = self._entries.get(key)
            if entry is not None and self._clock() - entry.at <= max_age_s:
                self._entries.move_to_end(key)
                return entry.value
            running = self._running.get(key)
            if running is not None:
                try:
                    return await asyncio.shield(running)
                except asyncio.CancelledError:
                    if not running.cancelled():
                        raise  # this caller was cancelled, not the computation it waited for
                except Exception:
                    pass
                # The computation shared failed or was given up by its caller: this caller computes its own.
        started = self._clock()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure with nobody else waiting is not "never retrieved"
            raise
        finally:
            if self._running.get(key) is future:
                del self._running[key]
        future.set_result(value)
        self._entries[key] = _Entry(started, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
