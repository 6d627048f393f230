"""The running platform's shared objects: configuration, database, clock, event bus, and the parts this node runs."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    async def stop_media(self) -> None:
        if self.media is not None:
            await self.media.close()
            self.media = None

    async def close(self) -> None:
        await self.stop_media()
        if self.sip is not None:
            await self.sip.close()
            self.sip = None
        await self.bus.close()
        await self.engine.dispose()
