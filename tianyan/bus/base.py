"""What domains need of a bus; the in-process and NATS buses both provide it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from tianyan.core.events import Event


class Bus(Protocol):
    async def publish(self, event: Event) -> None: ...

    def subscribe(self, pattern: str, handler: Callable[[Event], Awaitable[None]]) -> Callable[[], None]: ...

    async def close(self) -> None: ...
