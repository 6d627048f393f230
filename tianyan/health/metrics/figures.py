"""The figures one scrape shows, as plain data: read once per cache period, turned into metrics by the collector."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SipFigures:
    """The SIP server's counters (since it started) and its current state."""

    requests_received: dict[str, int]  # by method, retransmissions included
    requests_sent: dict[str, int]
    responses_received: dict[int, int]  # by status class: 2 for 2xx
    responses_sent: dict[int, int]
    parse_errors: int
    framing_errors: int
    rate_limited: int
    overloaded: int
    timeouts: int
    handler_errors: int
    send_failures: int
    retransmissions_received: int
    retransmissions_sent: int
    client_transactions: int
    server_transactions: int
    tcp_connections: int
    registered_devices: int
    registrations: int
    keepalives: int
    alarms: int
    positions: int
    invites: int
    bad_bodies: int
    catalog_syncs: int
    media_sessions: int


@dataclass(frozen=True)
class RtpFigures:
    """The RTP ingest: counters summed over every stream it has received, closed ones included."""

    streams: dict[str, int]  # open now, by transport
    streams_opened: int
    ports_free: int
    packets: int
    bytes: int
    lost: int
    reordered: int
    duplicates: int
    late: int
    wrong_ssrc: int
    malformed: int
    frames: int
    lost_frames: int


@dataclass(frozen=True)
class PoolFigures:
    name: str
    capacity_bytes: int
    used_bytes: int
    free_bytes: int
    writable: bool
    written_bytes: int  # since the media plane started


@dataclass(frozen=True)
class MediaFigures:
    feeds_running: int
    feeds_waiting: int  # starting, or re-opening after a loss
    feed_consumers: int
    live_viewers: int
    recorders_recording: int
    recorders_waiting: int  # planned, but the camera's stream is not running
    pools: tuple[PoolFigures, ...]
    rtp: RtpFigures


@dataclass(frozen=True)
class VqdFigures:
    """The diagnosis scheduler's counters since it started."""

    diagnoses: int  # stored verdicts, signal_loss ones included
    faulty: int
    no_picture: int
    errors: int  # diagnoses that failed before a verdict
    seconds: float


@dataclass(frozen=True)
class DatabaseFigures:
    """Aggregates over the whole platform's tables (every node reports the same)."""

    devices: dict[str, tuple[int, int]]  # type code -> (in the registry, online)
    cameras: dict[int, tuple[int, int]]  # class -> (in the registry, online)
    vqd_ok: int
    vqd_failed: int
    vqd_faults: dict[str, int]  # fault -> cameras whose latest diagnosis failed with it
    work_orders: dict[tuple[str, str], int]  # (fault, status) -> orders not closed
    media_alarms: dict[str, int]  # kind -> open alarms


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape shows; a part this node does not run (or a database it cannot read) is None."""

    sip: SipFigures | None
    media: MediaFigures | None
    vqd: VqdFigures | None
    database: DatabaseFigures | None
    stored: dict[str, tuple[int, int]] | None  # pool -> (segments, bytes) in the recording index, as last summed
    build_s: float
