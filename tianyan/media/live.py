"""Live view: the live muxers of this node, attached to the StreamHub while someone watches over WebSocket or HLS.

One `LiveMuxer` (live_muxer) per live feed is shared by every browser watching it; each browser reads its own
bounded queue, a `Viewer`, and one that cannot keep up is dropped with a close reason that says so.

`LiveViews` owns the muxers: the first viewer of a feed attaches a muxer to the hub, the last one to leave detaches
it (the hub keeps the upstream for the live grace period). HLS players do not hold a connection, so each playlist
request renews a lease that keeps the feed attached while the player keeps asking.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tianyan.media.hub import Attachment, StreamHub
from tianyan.media.live_muxer import (
    CLOSE_ENDED,
    CLOSE_SERVER_ERROR,
    CLOSE_TOKEN_INVALID,
    CLOSE_TOKEN_NOT_HERE,
    CLOSE_TOO_SLOW,
    CLOSE_UNAVAILABLE,
    DEFAULT_VIEWER_BYTES,
    LiveMuxer,
    StreamHeader,
    Viewer,
    ViewerClosed,
)

# The viewer and muxer names are imported from here by the API and the media service.
__all__ = [
    "CLOSE_ENDED",
    "CLOSE_SERVER_ERROR",
    "CLOSE_TOKEN_INVALID",
    "CLOSE_TOKEN_NOT_HERE",
    "CLOSE_TOO_SLOW",
    "CLOSE_UNAVAILABLE",
    "DEFAULT_VIEWER_BYTES",
    "LiveMuxer",
    "LiveViews",
    "StreamHeader",
    "Viewer",
    "ViewerClosed",
]


@dataclass(eq=False)
class _Entry:
    muxer: LiveMuxer
    attaching: asyncio.Task[Attachment] | None = None
    attachment: Attachment | None = None
    hls_until: float = 0.0
    viewers: set[Viewer] = field(default_factory=set)


class LiveViews:
    """The live muxers of this node: attached to the hub while someone watches, over WebSocket or HLS."""

    def __init__(
        self,
        hub: StreamHub,
        *,
        grace_s: float = 30.0,
        fragment_ms: int = 0,
        max_viewer_bytes: int = DEFAULT_VIEWER_BYTES,
        hls_target_s: float = 1.0,
        hls_idle_s: float = 20.0,
    ) -> None:
        self.hub = hub
        self.grace_s = grace_s
        self.fragment_ms = fragment_ms
        self.max_viewer_bytes = max_viewer_bytes
        self.hls_target_s = hls_target_s
        self.hls_idle_s = hls_idle_s
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._hls_leases: dict[str, float] = {}  # token nonce -> monotonic time the HLS session lapses
        self._reaper: asyncio.Task[None] | None = None

    def muxer(self, channel: str, stream: str = "main") -> LiveMuxer | None:
        entry = self._entries.get((channel, stream))
        return entry.muxer if entry is not None else None

    async def watch(self, channel: str, stream: str = "main") -> Viewer:
        """A new viewer of the channel's live stream; raises StreamUnavailable when it cannot be started."""
        entry = await self._attached(channel, stream)
        viewer = entry.muxer.add_viewer()
        entry.viewers.add(viewer)
        return viewer

    async def leave(self, viewer: Viewer) -> None:
        viewer.close(CLOSE_ENDED, "the viewer left")
        key = (viewer.muxer.channel, viewer.muxer.stream)
        entry = self._entries.get(key)
        if entry is None or entry.muxer is not viewer.muxer:
            return
        entry.viewers.discard(viewer)
        await self._release_if_idle(key, entry)

    async def hls(self, channel: str, stream: str = "main", *, lease: str = "") -> LiveMuxer:
        """The feed's muxer with its HLS playlist on; each call keeps the feed attached for `hls_idle_s` more.

        `lease` names the player's session (its token's nonce): see `hls_session_alive`."""
        entry = await self._attached(channel, stream)
        entry.hls_until = time.monotonic() + self.hls_idle_s
        if lease:
            self._hls_leases[lease] = entry.hls_until
        entry.muxer.enable_hls(target_s=self.hls_target_s)
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap())
        return entry.muxer

    def hls_session_alive(self, lease: str) -> bool:
        """Whether an HLS player with this lease asked within `hls_idle_s` (it may go on past its token's expiry)."""
        return self._hls_leases.get(lease, 0.0) > time.monotonic()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for key, entry in list(self._entries.items()):
            entry.muxer.on_end("the platform is stopping")
            self._entries.pop(key, None)
            if entry.attachment is not None:
                await self.hub.detach(entry.attachment, immediately=True)

    async def _attached(self, channel: str, stream: str) -> _Entry:
        key = (channel, stream)
        entry = self._entries.get(key)
        if entry is not None and entry.muxer.ended is not None and entry.attachment is not None:
            await self.hub.detach(entry.attachment, immediately=True)  # a muxer that failed: let its feed go
        if entry is None or entry.muxer.ended is not None:
            muxer = LiveMuxer(channel, stream, fragment_ms=self.fragment_ms, max_viewer_bytes=self.max_viewer_bytes)
            entry = self._entries[key] = _Entry(muxer)
            entry.attaching = asyncio.ensure_future(
                self.hub.attach(channel, muxer, stream=stream, linger_s=self.grace_s)
            )
        if entry.attachment is None:
            assert entry.attaching is not None
            try:
                entry.attachment = await asyncio.shield(entry.attaching)
            except BaseException:
                if self._entries.get(key) is entry and entry.attaching.done():
                    del self._entries[key]
                raise
        return entry

    async def _release_if_idle(self, key: tuple[str, str], entry: _Entry) -> None:
        if entry.viewers or entry.hls_until > time.monotonic():
            return
        if self._entries.get(key) is entry:
            del self._entries[key]
        if entry.attachment is not None:
            await self.hub.detach(entry.attachment)

    async def _reap(self) -> None:
        while any(entry.hls_until for entry in self._entries.values()):
            await asyncio.sleep(min(2.0, self.hls_idle_s / 4))
            now = time.monotonic()
            self._hls_leases = {lease: until for lease, until in self._hls_leases.items() if until > now}
            for key, entry in list(self._entries.items()):
                entry.viewers = {v for v in entry.viewers if v.closed is None}
                if entry.hls_until and entry.hls_until <= time.monotonic():
                    entry.hls_until = 0.0
                    await self._release_if_idle(key, entry)
