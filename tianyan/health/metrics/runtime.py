"""Reading the running SIP server and media plane: their own counters and tables, read as they are at scrape time.

Nothing here is called per packet or per message: the hot paths keep plain integers and these functions add
them up when a scrape asks, on the event loop that owns them (so no locks are needed).
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from typing import Protocol

from tianyan.gb28181.server import SipServer
from tianyan.health.metrics.figures import MediaFigures, PoolFigures, RtpFigures, SipFigures, VqdFigures
from tianyan.media.ingest import RETIRED_COUNTERS, RtpIngest
from tianyan.media.live_muxer import LiveMuxer
from tianyan.media.pools import StoragePools
from tianyan.media.service import MediaService

# Methods a SIP peer may send us are free text; any other is counted as "other" so a peer cannot add series.
SIP_METHODS = frozenset(
    {"ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK", "PUBLISH", "REFER",
     "REGISTER", "SUBSCRIBE", "UPDATE"}
)  # fmt: skip
OTHER_METHOD = "other"


def by_known_method(counts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for method, count in counts.items():
        key = method if method in SIP_METHODS else OTHER_METHOD
        out[key] = out.get(key, 0) + count
    return out


class DiagnosisCounts(Protocol):
    """The diagnosis scheduler's stats (health.vqd_runner.VqdStats), named here so metrics need not load OpenCV."""

    diagnoses: int
    faulty: int
    no_picture: int
    errors: int
    seconds: float


def read_vqd(stats: DiagnosisCounts) -> VqdFigures:
    return VqdFigures(stats.diagnoses, stats.faulty, stats.no_picture, stats.errors, stats.seconds)


def read_sip(server: SipServer) -> SipFigures:
    endpoint = server.endpoint
    stats, layer, transport, core = endpoint.stats, endpoint.layer, endpoint.transport, server.stats
    return SipFigures(
        requests_received=by_known_method(stats.by_method),
        requests_sent=by_known_method(stats.sent_by_method),
        responses_received=dict(stats.responses_received),
        responses_sent=dict(stats.responses_sent),
        parse_errors=stats.parse_errors,
        framing_errors=transport.stats.framing_errors,
        rate_limited=stats.rate_limited,
        overloaded=stats.overloaded,
        timeouts=stats.timeouts,
        handler_errors=stats.handler_errors,
        send_failures=transport.stats.send_failures,
        retransmissions_received=layer.retransmissions_received,
        retransmissions_sent=layer.retransmissions_sent,
        client_transactions=layer.client_count,
        server_transactions=layer.server_count,
        tcp_connections=transport.connection_count,
        registered_devices=server.presence.online_count(),
        registrations=core.registrations,
        keepalives=core.keepalives,
        alarms=core.alarms,
        positions=core.positions,
        invites=core.invites,
        bad_bodies=core.bad_bodies,
        catalog_syncs=core.catalog_syncs,
        media_sessions=len(server.media.sessions),
    )


class RisingTotals:
    """Keeps an ingest's totals from going down while that ingest lives.

    A stream re-keyed to the SSRC the device answered with starts its reorder counts afresh; summed with the
    others that would read as a counter reset, and Prometheus would count the whole total again. A new ingest
    (the media plane restarted) starts from zero, as a restarted process would.
    """

    def __init__(self) -> None:
        self._source: weakref.ref[RtpIngest] | None = None
        self._high: dict[str, int] = {}

    def of(self, ingest: RtpIngest, totals: dict[str, int]) -> dict[str, int]:
        if self._source is None or self._source() is not ingest:
            self._source, self._high = weakref.ref(ingest), {}
        for name, value in totals.items():
            self._high[name] = max(self._high.get(name, 0), value)
        return dict(self._high)


def read_rtp(ingest: RtpIngest, rising: RisingTotals) -> RtpFigures:
    totals = dict(ingest.retired)
    transports: Counter[str] = Counter()
    now_s = time.monotonic()
    for stream in ingest.streams:
        transports[stream.transport] += 1
        stats = stream.receiver.stats(now_s)
        for name in RETIRED_COUNTERS:
            totals[name] += getattr(stats, name)
    totals = rising.of(ingest, totals)
    return RtpFigures(
        streams=dict(transports), streams_opened=ingest.opened, ports_free=ingest.ports.free,
        packets=totals["packets"], bytes=totals["bytes"], lost=totals["lost"], reordered=totals["reordered"],
        duplicates=totals["duplicates"], late=totals["late"], wrong_ssrc=totals["wrong_ssrc"],
        malformed=totals["malformed"], frames=totals["frames"], lost_frames=totals["lost_frames"],
    )  # fmt: skip


def read_pools(pools: StoragePools) -> tuple[PoolFigures, ...]:
    """Each pool's room (a statvfs apiece, so the caller may run this in a thread)."""
    written = {pool.name: pool.written_bytes for pool in pools}
    return tuple(
        PoolFigures(s.name, s.capacity_bytes, s.used_bytes, s.free_bytes, s.writable, written.get(s.name, 0))
        for s in pools.statuses()
    )


def read_media(service: MediaService, rising: RisingTotals, pools: tuple[PoolFigures, ...]) -> MediaFigures:
    hub = service.hub
    feeds = list(hub.feeds.values())
    running = sum(1 for feed in feeds if feed.upstream is not None)
    sinks = [attachment.sink for feed in feeds for attachment in feed.attachments]
    viewers = sum(len(sink.viewers) for sink in sinks if isinstance(sink, LiveMuxer))
    recording = 0
    for entry in service.recordings.values():
        feed = hub.feed(entry.planned.gb_id, entry.planned.stream)
        recording += feed is not None and feed.upstream is not None
    return MediaFigures(
        feeds_running=running,
        feeds_waiting=len(feeds) - running,
        feed_consumers=len(sinks),
        live_viewers=viewers,
        recorders_recording=recording,
        recorders_waiting=len(service.recordings) - recording,
        pools=pools,
        rtp=read_rtp(service.ingest, rising),
    )
