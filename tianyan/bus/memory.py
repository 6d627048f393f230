"""The embedded bus: events delivered in-process, each subscriber through its own bounded queue and task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tianyan.core.events import Event, subject_matches

log = logging.getLogger(__name__)
Handler = Callable[[Event], Awaitable[None]]


@dataclass
class _Subscriber:
    pattern: str
    handler: Handler
    queue: asyncio.Queue[Event]
    task: asyncio.Task[None] | None = None
    dropped: int = field(default=0)


class MemoryBus:
    """Publishing never waits on a slow subscriber: when its queue is full the event is dropped and counted."""

    def __init__(self, *, queue_size: int = 10_000) -> None:
        self._queue_size = queue_size
        self._subscribers: list[_Subscriber] = []

    async def publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            if subject_matches(subscriber.pattern, event.subject):
                try:
                    subscriber.queue.put_nowait(event)
                except asyncio.QueueFull:
                    subscriber.dropped += 1
                    log.warning("bus: subscriber %s is behind; dropped %s", subscriber.pattern, event.subject)

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """Deliver every matching event to `handler`, in order; returns the function that unsubscribes."""
        subscriber = _Subscriber(pattern, handler, asyncio.Queue(self._queue_size))
        subscriber.task = asyncio.get_running_loop().create_task(self._deliver(subscriber), name=f"bus:{pattern}")
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            if subscriber.task is not None:
                subscriber.task.cancel()

        return unsubscribe

    async def _deliver(self, subscriber: _Subscriber) -> None:
        while True:
            event = await subscriber.queue.get()
            try:
                await subscriber.handler(event)
            except Exception:
                # One bad handler must not stop the events that follow.
                log.exception("bus: handler for %s failed on %s", subscriber.pattern, event.subject)
            finally:
                subscriber.queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued event has been handled by its subscriber (tests, orderly shutdown)."""
        await asyncio.gather(*(s.queue.join() for s in self._subscribers))

    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            if subscriber.task is not None:
                subscriber.task.cancel()
        self._subscribers.clear()
