"""The Prometheus collector: turns the latest Snapshot into metric families (docs/metrics.md lists them).

A labelled gauge keeps reporting 0 for a label value it has shown before (a fault kind nobody has any more, an
alarm kind now all cleared), so a graph drops to zero instead of stopping, and an alert on it resolves cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import tianyan
from tianyan.health.metrics.figures import (
    DatabaseFigures,
    MediaFigures,
    RtpFigures,
    SipFigures,
    Snapshot,
    VqdFigures,
)
from tianyan.media.alarms import KINDS as ALARM_KINDS

PREFIX = "tianyan_"
CAMERA_CLASSES = ("1", "2", "3")
STATUS_CLASSES = (1, 2, 3, 4, 5, 6)
WORK_ORDER_FAULTS = ("offline", "vqd", "retention")
WORK_ORDER_STATES = ("open", "resolved")
RTP_TRANSPORTS = ("udp", "tcp-passive", "tcp-active")

Labels = tuple[str, ...]


class SnapshotCollector(Collector):
    """Yields the families of `snapshot`; nothing before the first one is set."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self._seen: dict[str, set[Labels]] = {}

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        if snapshot is None:
            return []
        families = list(self._node(snapshot))
        if snapshot.database is not None:
            families += self._database(snapshot.database)
        if snapshot.stored is not None:
            families += self._stored(snapshot.stored)
        if snapshot.sip is not None:
            families += _sip(snapshot.sip)
        if snapshot.media is not None:
            families += self._media(snapshot.media)
            families += self._rtp(snapshot.media.rtp)
        if snapshot.vqd is not None:
            families += _vqd(snapshot.vqd)
        return families

    def _gauges(
        self, name: str, doc: str, labels: Labels, values: Mapping[Labels, float], known: Iterable[Labels] = ()
    ) -> GaugeMetricFamily:
        """A labelled gauge with every label set shown now, known in advance, or shown before (as 0)."""
        seen = self._seen.setdefault(name, set())
        seen.update(values)
        seen.update(known)
        family = GaugeMetricFamily(PREFIX + name, doc, labels=list(labels))
        for key in sorted(seen):
            family.add_metric(list(key), float(values.get(key, 0)))
        return family

    def _node(self, snapshot: Snapshot) -> Iterator[Metric]:
        info = GaugeMetricFamily(PREFIX + "build_info", "The running Tianyan version (always 1).", labels=["version"])
        info.add_metric([tianyan.__version__], 1)
        yield info
        parts = {
            ("database",): snapshot.database,
            ("sip",): snapshot.sip,
            ("media",): snapshot.media,
            ("vqd",): snapshot.vqd,
        }
        yield self._gauges(
            "component_up",
            "1 when this node runs the part (sip, media, vqd) or could read the database for this scrape, else 0.",
            ("component",),
            {key: float(value is not None) for key, value in parts.items()},
        )
        yield _gauge(
            "metrics_snapshot_seconds",
            "Time taken to gather the figures this scrape shows (they are cached for a few seconds).",
            snapshot.build_s,
        )

    def _database(self, db: DatabaseFigures) -> Iterator[Metric]:
        type_code = ("type_code",)
        yield self._gauges(
            "devices",
            "Devices in the registry, by GB/T 28181 type code (111 DVR, 118 NVR, 132 IPC...).",
            type_code,
            {(code,): total for code, (total, _) in db.devices.items()},
        )
        yield self._gauges(
            "devices_online",
            "Devices the registry marks online, by type code.",
            type_code,
            {(code,): online for code, (_, online) in db.devices.items()},
        )
        classes = [(cls,) for cls in CAMERA_CLASSES]
        yield self._gauges(
            "cameras",
            "Cameras in the registry, by class (1, 2, 3).",
            ("class",),
            {(str(cls),): total for cls, (total, _) in db.cameras.items()},
            classes,
        )
        yield self._gauges(
            "cameras_online",
            "Cameras the registry marks online, by class.",
            ("class",),
            {(str(cls),): online for cls, (_, online) in db.cameras.items()},
            classes,
        )
        yield self._gauges(
            "vqd_cameras",
            "Cameras by the verdict of their latest picture diagnosis (ok, failed).",
            ("result",),
            {("ok",): db.vqd_ok, ("failed",): db.vqd_failed},
        )
        yield self._gauges(
            "vqd_failed_cameras",
            "Cameras whose latest diagnosis failed, by fault (a camera with two faults counts under both).",
            ("fault",),
            {(fault,): count for fault, count in db.vqd_faults.items()},
        )
        yield self._gauges(
            "work_orders_open",
            "Work orders not closed, by fault kind and status (open, or resolved and awaiting its re-check).",
            ("fault", "status"),
            dict(db.work_orders),
            [(fault, status) for fault in WORK_ORDER_FAULTS for status in WORK_ORDER_STATES],
        )
        yield self._gauges(
            "media_alarms_open",
            "Media alarms not cleared, by kind.",
            ("kind",),
            {(kind,): count for kind, count in db.media_alarms.items()},
            [(kind,) for kind in ALARM_KINDS],
        )

    def _stored(self, stored: Mapping[str, tuple[int, int]]) -> Iterator[Metric]:
        yield self._gauges(
            "recording_stored_bytes",
            "Bytes of recordings the index holds, by storage pool (summed every few minutes).",
            ("pool",),
            {(pool,): size for pool, (_, size) in stored.items()},
        )
        yield self._gauges(
            "recording_segments",
            "Recording segment files the index holds, by storage pool (counted with the bytes).",
            ("pool",),
            {(pool,): segments for pool, (segments, _) in stored.items()},
        )

    def _media(self, media: MediaFigures) -> Iterator[Metric]:
        yield self._gauges(
            "media_feeds",
            "Upstream streams open in the media hub: running, or waiting (starting, re-opening after a loss).",
            ("state",),
            {("running",): media.feeds_running, ("waiting",): media.feeds_waiting},
        )
        yield _gauge(
            "media_feed_consumers", "Consumers attached to hub streams (live muxers, recorders).", media.feed_consumers
        )
        yield _gauge("media_live_viewers", "Browsers watching live over WebSocket.", media.live_viewers)
        yield self._gauges(
            "recorders",
            "Cameras recorded by plan: recording now, or waiting for their stream.",
            ("state",),
            {("recording",): media.recorders_recording, ("waiting",): media.recorders_waiting},
        )
        pools = media.pools
        for suffix, doc, values in (
            ("capacity_bytes", POOL_CAPACITY, [p.capacity_bytes for p in pools]),
            ("used_bytes", POOL_USED, [p.used_bytes for p in pools]),
            (
                "free_bytes",
                "Room left for recordings in the pool, the reserve kept back.",
                [p.free_bytes for p in pools],
            ),
            ("writable", "1 when recordings can be written to the pool now, else 0.", [p.writable for p in pools]),
        ):
            by_pool = {(pool.name,): float(value) for pool, value in zip(pools, values, strict=True)}
            yield self._gauges(f"storage_pool_{suffix}", doc, ("pool",), by_pool)
        yield _counters(
            "recording_written_bytes",
            "Bytes of recordings written, by pool.",
            "pool",
            {pool.name: pool.written_bytes for pool in pools},
        )

    def _rtp(self, rtp: RtpFigures) -> Iterator[Metric]:
        yield self._gauges(
            "rtp_streams",
            "RTP streams being received, by transport (udp, tcp-passive, tcp-active).",
            ("transport",),
            {(transport,): count for transport, count in rtp.streams.items()},
            [(transport,) for transport in RTP_TRANSPORTS],
        )
        yield _counter("rtp_streams_opened", "RTP streams opened for receiving.", rtp.streams_opened)
        yield _gauge("rtp_ports_free", "RTP ports left in the configured range.", rtp.ports_free)
        yield _counter("rtp_packets", "RTP packets accepted (of the stream's SSRC).", rtp.packets)
        yield _counter("rtp_bytes", "Bytes of accepted RTP packets, headers included.", rtp.bytes)
        yield _counter("rtp_lost_packets", "RTP packets never received (sequence gaps given up on).", rtp.lost)
        yield _counter(
            "rtp_reordered_packets", "RTP packets that arrived out of order, put back in order.", rtp.reordered
        )
        yield _counter("rtp_duplicate_packets", "RTP packets received twice (the copy dropped).", rtp.duplicates)
        yield _counters(
            "rtp_dropped_packets",
            "RTP packets dropped: too late for the reorder window, of another SSRC, or malformed.",
            "reason",
            {"late": rtp.late, "wrong_ssrc": rtp.wrong_ssrc, "malformed": rtp.malformed},
        )
        yield _counter("rtp_frames", "Frames assembled from RTP.", rtp.frames)
        yield _counter("rtp_lost_frames", "Frames dropped whole because a packet of theirs was lost.", rtp.lost_frames)


POOL_CAPACITY = "Capacity of the pool (its configured capacity, else its file system's size)."
POOL_USED = "Bytes used in the pool (our recordings when it has a capacity, else its file system's use)."


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, doc, value=value)


def _counters(name: str, doc: str, label: str, values: Mapping[str, float]) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, doc, labels=[label])
    for key in sorted(values):
        family.add_metric([key], values[key])
    return family


def _by_class(counts: Mapping[int, int]) -> dict[str, int]:
    return {f"{cls}xx": counts.get(cls, 0) for cls in sorted({*STATUS_CLASSES, *counts})}


def _sip(sip: SipFigures) -> Iterator[Metric]:
    yield _counters(
        "sip_requests_received",
        "SIP requests received, by method (retransmissions included; unknown methods as 'other').",
        "method",
        sip.requests_received,
    )
    yield _counters(
        "sip_requests_sent", "SIP requests sent, by method (retransmissions included).", "method", sip.requests_sent
    )
    yield _counters(
        "sip_responses_received",
        "SIP responses received, by status class (1xx ... 6xx).",
        "status_class",
        _by_class(sip.responses_received),
    )
    yield _counters(
        "sip_responses_sent", "SIP responses sent, by status class.", "status_class", _by_class(sip.responses_sent)
    )
    yield _counters(
        "sip_parse_errors",
        "SIP messages dropped as malformed: unparsable (message) or a TCP stream out of step (tcp_framing).",
        "stage",
        {"message": sip.parse_errors, "tcp_framing": sip.framing_errors},
    )
    yield _counters(
        "sip_retransmissions",
        "SIP retransmissions: requests and final responses that arrived again, and messages we sent again.",
        "direction",
        {"received": sip.retransmissions_received, "sent": sip.retransmissions_sent},
    )
    yield _counter("sip_rate_limited", "SIP messages dropped by the per-source rate limit.", sip.rate_limited)
    yield _counter("sip_overloaded", "SIP requests refused (503) at the transaction or handler limit.", sip.overloaded)
    yield _counter("sip_timeouts", "SIP requests we sent that got no final response in time.", sip.timeouts)
    yield _counter("sip_handler_errors", "SIP requests whose handler failed (answered 500).", sip.handler_errors)
    yield _counter("sip_send_failures", "SIP messages the transport could not send.", sip.send_failures)
    transactions = GaugeMetricFamily(PREFIX + "sip_transactions", "SIP transactions open, by role.", labels=["role"])
    transactions.add_metric(["client"], sip.client_transactions)
    transactions.add_metric(["server"], sip.server_transactions)
    yield transactions
    yield _gauge("sip_tcp_connections", "SIP TCP connections open.", sip.tcp_connections)
    yield _gauge(
        "sip_registered_devices", "Devices registered with this SIP server and online now.", sip.registered_devices
    )
    yield _counter("sip_registrations", "REGISTERs accepted (first registrations and refreshes).", sip.registrations)
    yield _counter("sip_keepalives", "Keepalives received from registered devices.", sip.keepalives)
    yield _counter("sip_alarms_received", "Device alarms (MANSCDP Alarm notifications) received.", sip.alarms)
    yield _counter("sip_positions_received", "Mobile positions received.", sip.positions)
    yield _counter("sip_invites", "INVITEs to devices that started a media session.", sip.invites)
    yield _counter("sip_bad_bodies", "MANSCDP bodies that could not be read.", sip.bad_bodies)
    yield _counter("sip_catalog_syncs", "Device catalogs applied to the registry.", sip.catalog_syncs)
    yield _gauge("sip_media_sessions", "Media sessions (INVITE dialogs) open with devices.", sip.media_sessions)


def _vqd(vqd: VqdFigures) -> Iterator[Metric]:
    yield _counters(
        "vqd_diagnoses",
        "Picture diagnoses run by this node, by verdict (faulty includes signal_loss).",
        "result",
        {"ok": vqd.diagnoses - vqd.faulty, "faulty": vqd.faulty},
    )
    yield _counter(
        "vqd_no_picture", "Diagnoses that got no picture from the camera (verdict signal_loss).", vqd.no_picture
    )
    yield _counter("vqd_errors", "Diagnoses that failed with an error before a verdict.", vqd.errors)
    yield _counter("vqd_diagnosis_seconds", "Time spent diagnosing, pictures fetched included.", vqd.seconds)
