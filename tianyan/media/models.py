"""Media tables: the recording index (segments and gaps), per-day completeness, evidence locks, exports, alarms."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tianyan.db.base import Base, UtcDateTime, utcnow


class RecordingSegment(Base):
    """One fragmented-MP4 file of a camera's continuous recording, cut on a keyframe.

    A row exists from the moment the file is opened (`status` "open"), so a crash leaves a row to reconcile
    rather than an orphan; `end_at` is advanced as fragments are flushed and fixed when the file is closed.
    """

    __tablename__ = "recording_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"))
    pool: Mapped[str] = mapped_column(String(64))
    # Relative to the pool's directory, with forward slashes.
    path: Mapped[str] = mapped_column(String(500))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    codec: Mapped[str] = mapped_column(String(16))  # h264 / h265
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    # open (being written), closed, repaired (torn tail trimmed after a crash), missing (file gone)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # live (GB live stream), rtsp, device (pulled from an NVR's own recording)
    source: Mapped[str] = mapped_column(String(16), default="live")

    __table_args__ = (
        Index("ix_recording_segments_camera_start", "camera_id", "start_at"),
        Index("ix_recording_segments_end", "end_at"),
        UniqueConstraint("pool", "path", name="uq_recording_segments_pool_path"),
    )


class RecordingGap(Base):
    """A stretch of time a camera that should have been recorded was not, and why when known."""

    __tablename__ = "recording_gaps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # stream_lost, device_offline, invite_failed, crash, file_missing, disk_full, deleted_for_space, unknown
    cause: Mapped[str] = mapped_column(String(32), default="unknown")
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_recording_gaps_camera_start", "camera_id", "start_at"),)


class RecordingDay(Base):
    """Per camera and local calendar day: seconds recorded, seconds missing, and completeness (0-1)."""

    __tablename__ = "recording_days"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    recorded_s: Mapped[float] = mapped_column(Float, default=0.0)
    gap_s: Mapped[float] = mapped_column(Float, default=0.0)
    # Seconds the plan wanted recorded that day (86,400 for a 24 h plan; less on the first day or a partial plan).
    planned_s: Mapped[float] = mapped_column(Float, default=0.0)
    completeness: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    # KPI sums read the figures from these alone: per camera over its window, per day over the cameras.
    __table_args__ = (
        Index("ix_recording_days_camera_figures", "camera_id", "day", "planned_s", "completeness"),
        Index("ix_recording_days_day_figures", "day", "camera_id", "planned_s", "completeness"),
    )


class RecordingPlan(Base):
    """A camera's own recording plan; cameras without a row follow the default (class 1 and 2: always)."""

    __tablename__ = "recording_plans"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # main or sub: which stream is recorded.
    stream: Mapped[str] = mapped_column(String(8), default="main")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class EvidenceLock(Base):
    """A time range of a camera's footage tied to a case: never deleted, whatever retention or space says."""

    __tablename__ = "evidence_locks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    case_ref: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_evidence_locks_camera", "camera_id", "start_at"),)


class ExportJob(Base):
    """An evidence export: a time range of one camera to one MP4 with a manifest, run in the background."""

    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="RESTRICT"))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # queued, running, done, failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str | None] = mapped_column(String(500))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MediaAlarm(Base):
    """A condition the media plane cannot fix by itself: a pool filling, retention at risk, a stream lost."""

    __tablename__ = "media_alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # pool_nearly_full, retention_at_risk, pool_unwritable, stream_lost
    kind: Mapped[str] = mapped_column(String(32))
    pool: Mapped[str | None] = mapped_column(String(64))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_media_alarms_open", "kind", "cleared_at"),)
