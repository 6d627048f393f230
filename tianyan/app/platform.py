"""The running platform's shared objects: configuration, database, clock, event bus, and the parts this node runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.bus.memory import MemoryBus
from tianyan.config import Config
from tianyan.core.clock import Clock, SystemClock
from tianyan.core.secrets import secret_file
from tianyan.db.engine import make_engine, make_sessionmaker
from tianyan.gb28181.server import SipServer
from tianyan.media.service import MediaService
from tianyan.schema.migrate import upgrade
from tianyan.security.login import AuthSettings
from tianyan.security.passwords import PasswordPolicy

if TYPE_CHECKING:
    from tianyan.health.service import HealthService


def auth_settings(config: Config) -> AuthSettings:
    return AuthSettings(
        lockout_failures=config.security.lockout_failures,
        lockout_minutes=config.security.lockout_minutes,
        session_idle_minutes=config.server.session_idle_minutes,
        session_max_hours=config.server.session_max_hours,
        policy=PasswordPolicy(min_length=config.security.password_min_length),
    )


@dataclass
class Platform:
    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = field(default_factory=SystemClock)
    bus: Bus = field(default_factory=MemoryBus)
    # The SIP server, when this node runs the "sip" role; the API answers 503 for signaling otherwise.
    sip: SipServer | None = None
    # The media plane (ingest, recording, live views), when this node runs the "media" role.
    media: MediaService | None = None
    # Picture diagnosis and work orders, when this node runs the "health" role.
    health: HealthService | None = None

    @property
    def auth(self) -> AuthSettings:
        return auth_settings(self.config)

    @classmethod
    async def open(
        cls, config: Config, *, engine: AsyncEngine | None = None, migrate: bool = True, clock: Clock | None = None
    ) -> Platform:
        config.server.data_dir.mkdir(parents=True, exist_ok=True)
        engine = engine or make_engine(config.database_url, echo=config.database.echo)
        if migrate:
            await upgrade(engine)
        return cls(config=config, engine=engine, sessions=make_sessionmaker(engine), clock=clock or SystemClock())

    async def start_sip(self) -> SipServer:
        key = secret_file(self.config.server.data_dir / "secrets" / "sip-nonce.key", size_bytes=32)
        self.sip = SipServer(self.config.sip, self.sessions, self.bus, clock=self.clock, nonce_key=key)
        await self.sip.start()
        return self.sip

    async def start_media(self) -> MediaService:
        """The media plane; with the SIP server in this process it asks devices for streams, else RTSP only."""
        self.media = MediaService(self.config, self.sessions, self.bus, clock=self.clock, sip=self.sip)
        await self.media.start()
        return self.media

    async def start_health(self) -> HealthService:
        """Diagnosis pulls pictures through this node's media plane when it has one, else from recordings."""
        # Imported here: OpenCV and the diagnosis code load only on nodes that run the health role.
        from tianyan.health.service import HealthService

        media = self.media

        def recorded_stream(camera_id: int) -> str | None:
            recording = media.recordings.get(camera_id) if media is not None else None
            return recording.planned.stream if recording is not None else None

        self.health = HealthService(
            self.config, self.sessions, self.bus, clock=self.clock,
            hub=lambda: media.hub if media is not None else None, recorded_stream=recorded_stream,
            ptz=self._send_ptz if self.sip is not None else None,
        )  # fmt: skip
        await self.health.start()
        return self.health

    async def _send_ptz(self, camera_id: int, action: str) -> str:
        """One PTZ pad action to a camera through this node's SIP server (the picture diagnosis's PTZ check)."""
        from tianyan.gb28181 import control
        from tianyan.registry.models import Camera, Device

        assert self.sip is not None
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Camera.gb_id, Device.id, Device.gb_id)
                    .join(Device, Device.id == Camera.device_id)
                    .where(Camera.id == camera_id)
                )
            ).one()
        camera_gb, device_id, device_gb = row
        binding = self.sip.binding_for(device_id, device_gb)
        return await control.send_ptz(self.sip.queries, binding, camera_gb, control.ptz_command(action))

    async def stop_health(self) -> None:
        if self.health is not None:
            await self.health.close()
            self.health = None

    async def stop_media(self) -> None:
        if self.media is not None:
            await self.media.close()
            self.media = None

    async def close(self) -> None:
        await self.stop_health()
        await self.stop_media()
        if self.sip is not None:
            await self.sip.close()
            self.sip = None
        await self.bus.close()
        await self.engine.dispose()
