"""Signaling tables: how and where each device is registered, its digest credential, positions and alarms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tianyan.db.base import Base, UtcDateTime, utcnow


class SipRegistration(Base):
    """The live registration of one device: the address to reach it at and when it was last heard from."""

    __tablename__ = "sip_registrations"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    transport: Mapped[str] = mapped_column(String(8))  # UDP or TCP
    # Where the device's packets really came from (received/rport), which behind NAT is not its Contact.
    host: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    contact: Mapped[str] = mapped_column(String(300), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_keepalive_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeviceCredential(Base):
    """A device's own digest password, kept only as HA1 digests for the platform's realm; absent = default."""

    __tablename__ = "device_credentials"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    realm: Mapped[str] = mapped_column(String(64))
    ha1_md5: Mapped[str] = mapped_column(String(32))
    ha1_sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MobilePosition(Base):
    """A position a (vehicle-mounted) device reported, as device time and the time it reached us."""

    __tablename__ = "mobile_positions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    channel_gb_id: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    direction_deg: Mapped[float | None] = mapped_column(Float)
    altitude_m: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_mobile_positions_device_at", "device_id", "at"),)


class DeviceAlarm(Base):
    """An Alarm notification exactly as a device sent it; the alarm centre routes and handles it."""

    __tablename__ = "device_alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    channel_gb_id: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    priority: Mapped[int | None] = mapped_column(Integer)  # 1 (highest) .. 4
    method: Mapped[int | None] = mapped_column(Integer)  # 1 phone .. 7 other, GB/T 28181 A.2.4
    alarm_type: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_device_alarms_device_at", "device_id", "at"),)
