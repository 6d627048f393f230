"""Health tables: each camera's latest picture diagnosis, the verdict changes integrity is computed from, the
per-camera VQD settings, and fault work orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tianyan.db.base import Base, UtcDateTime, utcnow


class VqdLatest(Base):
    """The most recent diagnosis of each camera, overwritten every run (one row per camera, never a history)."""

    __tablename__ = "vqd_latest"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # live (a frame pulled from the stream) or recording (the newest recorded segment)
    source: Mapped[str] = mapped_column(String(16))
    ok: Mapped[bool] = mapped_column(Boolean)
    # Names of the checks that failed, e.g. ["blur", "colour_cast"]; ["signal_loss"] when no picture came.
    faults: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # {check: score} for every check that ran; scores are comparable with the camera's thresholds.
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The diagnosed picture as a JPEG, relative to <data_dir>/health; kept for faulty pictures (evidence).
    frame_path: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)
    # Faulty diagnoses in a row up to this one (0 when it is fault-free): one bad picture is not yet a work order.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)

    # The few failing cameras, for counting faults without visiting every camera's diagnosis (the resource tree).
    # Each predicate is written as SQLAlchemy writes "not ok" for that database, so the planner matches it.
    __table_args__ = (
        Index("ix_vqd_latest_failing", "camera_id", sqlite_where=text("ok = 0"), postgresql_where=text("NOT ok")),
    )


class VqdEvent(Base):
    """A change of a camera's picture verdict (fault set differs from the previous diagnosis).

    Like availability_transitions for online rate, integrity rate is computed from these rows: a verdict holds
    from `at` until the camera's next event. Only changes are stored, so hourly diagnosis of 150,000 cameras
    does not become 100 million rows a month.
    """

    __tablename__ = "vqd_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    faults: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frame_path: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (Index("ix_vqd_events_camera_at", "camera_id", "at"),)


class VqdSetting(Base):
    """A camera's own diagnosis settings; cameras without a row use the configured defaults."""

    __tablename__ = "vqd_settings"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # {check: {"threshold": x}} or {check: {"enabled": false}}: a dark street at night, a lens facing the sky.
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Move the PTZ head and confirm the picture moved (off by default: it disturbs whoever is watching).
    ptz_check: Mapped[bool] = mapped_column(Boolean, default=False)
    # The approved picture of the scene, relative to <data_dir>/health: scene change and occlusion compare with it.
    reference_path: Mapped[str | None] = mapped_column(String(300))
    reference_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class WorkOrder(Base):
    """A fault sent to the unit that maintains the camera, closed by itself once the fault is gone and re-checked.

    At most one open order per camera and fault kind (a partial unique index), so a fault that persists across
    many checks is one order, not one per check.
    """

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    # offline, vqd, retention
    fault: Mapped[str] = mapped_column(String(32))
    # For vqd: the failed checks when opened ("blur,colour_cast"); for offline: since when.
    detail: Mapped[str] = mapped_column(Text, default="")
    # The maintaining unit (camera's maintainer, else its owning unit, else the region's police unit).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    # open -> resolved (fault gone, awaiting re-check) -> closed; or open -> closed by hand.
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When the fault itself started (an offline camera's transition), which MTTR is measured from.
    fault_since: Mapped[datetime] = mapped_column(UtcDateTime)
    # {"transitions": [...], "diagnosis": {...}, "frame_path": "...", "compliance": {...}}
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Who fixed it: a user's name, or "auto" when the platform saw the fault go away with nobody reporting.
    fixed_by: Mapped[str | None] = mapped_column(String(100))
    fix_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index(
            "uq_work_orders_open_fault",
            "camera_id",
            "fault",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_work_orders_status", "status", "opened_at"),
    )
