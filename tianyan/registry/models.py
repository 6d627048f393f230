"""Registry tables: regions (a tree by materialised path), organisations, devices, cameras."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tianyan.db.base import Base, UtcDateTime, utcnow


class Region(Base):
    """An administrative region: province, city, county/district or police-station area.

    `path` is the chain of codes from the root ("/440000/441300/441302/"), so a
    subtree is one indexed prefix match in SQL.
    """

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(200), index=True)
    # True where no GB/T 2260 code exists (functional zones) and the bureau assigned one.
    locally_assigned: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (CheckConstraint("level IN ('province','city','county','station')", name="level"),)


class Organisation(Base):
    """A police unit, an industry sector (lead department), an owning unit (a school, a hospital) or a maintainer."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # Owning units belong to the industry sector whose lead department oversees them.
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)

    __table_args__ = (CheckConstraint("kind IN ('police_unit','sector','owning_unit','maintainer')", name="kind"),)


class Device(Base):
    """A GB/T 28181 device: IPC, DVR/NVR, platform, alarm panel; cameras are its channels."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gb_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type_code: Mapped[str] = mapped_column(String(3))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    owning_unit_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    firmware: Mapped[str | None] = mapped_column(String(100))
    approval: Mapped[str] = mapped_column(String(16), default="approved")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Kept by the signaling layer from what the device sends (REGISTER, keepalives); never set by hand.
    online: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    online_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Default class and network for the channels this device reports in its catalog.
    channel_class: Mapped[int] = mapped_column(Integer, default=1)
    channel_network: Mapped[str] = mapped_column(String(8), default="police")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("approval IN ('approved','pending','rejected')", name="approval"),
        CheckConstraint("channel_class IN (1, 2, 3)", name="channel_class"),
        CheckConstraint("channel_network IN ('police','social','local')", name="channel_network"),
    )


# The resource tree counts cameras in scope per region, unit and device from this index alone (its scope columns
# first, then what it groups by).
TREE_INDEX_COLUMNS = ("region_id", "network", "class", "sensitive", "online", "sector_id", "owning_unit_id",
                      "device_id")  # fmt: skip


class Camera(Base):
    """One video source (a GB/T 28181 channel) with everything the plans and the law judge it by."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gb_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    cls: Mapped[int] = mapped_column("class", Integer)
    network: Mapped[str] = mapped_column(String(8))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    owning_unit_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The company or unit contracted to repair it; fault work orders go there (else to the owning unit).
    maintainer_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16), default="fixed")
    main_width: Mapped[int | None] = mapped_column(Integer)
    main_height: Mapped[int | None] = mapped_column(Integer)
    main_fps: Mapped[float | None] = mapped_column(Float)
    sub_width: Mapped[int | None] = mapped_column(Integer)
    sub_height: Mapped[int | None] = mapped_column(Integer)
    sub_fps: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    install_date: Mapped[date | None] = mapped_column(Date, index=True)
    # NULL means "the default for the class" (30 / 15 / 7 days); a number overrides it.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    # Reachable from the police platform (联网); drives networking rate and sector integration.
    networked: Mapped[bool] = mapped_column(Boolean, default=True)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The channel's own state in its device's catalog (ON/OFF); online = device online and channel ON.
    channel_status: Mapped[str | None] = mapped_column(String(8))
    online: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    ptz_type: Mapped[int | None] = mapped_column(Integer)
    # For cameras that only speak RTSP/ONVIF: the stream to pull instead of a GB/T 28181 INVITE.
    stream_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint('"class" IN (1, 2, 3)', name="class"),
        CheckConstraint("network IN ('police','social','local')", name="network"),
        CheckConstraint("kind IN ('fixed','ptz','checkpoint','vehicle','bus','other')", name="kind"),
        CheckConstraint("retention_days IS NULL OR retention_days > 0", name="retention_days"),
        Index("ix_cameras_scope", "region_id", "network", "class"),
        Index("ix_cameras_tree", *TREE_INDEX_COLUMNS),
    )


class AvailabilityTransition(Base):
    """One online/offline change of a device (camera_id NULL) or of one of its cameras, with why.

    Online rate is computed from these rows, so they are only ever appended, each stating the moment the
    platform decided (or, after a restart, would have decided) the change.
    """

    __tablename__ = "availability_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    online: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_availability_transitions_camera_at", "camera_id", "at"),
        Index("ix_availability_transitions_device_at", "device_id", "at"),
    )
