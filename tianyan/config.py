"""Configuration: one TOML file plus TIANYAN_<SECTION>__<KEY> environment overrides, validated at start-up."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tianyan.core.errors import ConfigError

ENV_PREFIX = "TIANYAN_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerConfig(_Section):
    data_dir: Path = Path("./tianyan-data")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    # Sessions expire after this much idle time; the browser cookie carries only an opaque token.
    session_idle_minutes: int = Field(30, ge=1)
    session_max_hours: int = Field(12, ge=1)
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    cookie_secure: bool = False


class DatabaseConfig(_Section):
    # Empty means the embedded default: SQLite inside data_dir.
    url: str = ""
    echo: bool = False


class SipConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5060, ge=0, le=65535)
    id: str = "44130000002000000001"
    domain: str = "4413000000"
    password: str = "tianyan-demo"
    transports: list[Literal["udp", "tcp"]] = Field(default_factory=lambda: ["udp", "tcp"], min_length=1)
    # The address devices are told to reach us at (Contact, SDP) when `host` is a wildcard or behind NAT.
    advertised_host: str = ""
    # Unknown devices that register are kept as pending for an administrator instead of refused with 403.
    auto_enrol: bool = False
    keepalive_interval_s: int = Field(60, ge=5, le=3600)
    keepalive_missed: int = Field(3, ge=1, le=10)
    register_expires_min_s: int = Field(60, ge=10)
    register_expires_max_s: int = Field(86400, ge=60)
    digest_algorithms: list[Literal["MD5", "SHA-256"]] = Field(default_factory=lambda: ["MD5"], min_length=1)
    nonce_ttl_s: int = Field(300, ge=10, le=86400)
    # GB/T 28181 bodies carry local times without a zone; this is the zone they are read in.
    device_timezone: str = "Asia/Shanghai"
    rate_per_source_per_s: float = Field(50.0, gt=0)
    rate_burst: int = Field(200, ge=1)
    max_message_bytes: int = Field(1 << 20, ge=4096)
    max_tcp_connections: int = Field(20_000, ge=1)
    # Live SIP transactions at most; a UDP transaction lingers 32 s after its answer to absorb retransmissions,
    # so 50,000 devices keeping alive every minute hold about 27,000.
    max_transactions: int = Field(100_000, ge=100)
    # Devices a second asked their follow-up questions (DeviceInfo, settings, catalog) after coming online.
    follow_up_rate_per_s: float = Field(100.0, gt=0)
    query_timeout_s: float = Field(15.0, gt=0)
    t1_ms: int = Field(500, ge=10, le=5000)

    @model_validator(mode="after")
    def _consistent(self) -> SipConfig:
        if len(self.id) != 20 or not self.id.isdigit():
            raise ValueError(f"sip.id must be a 20-digit GB/T 28181 ID, got {self.id!r}")
        if len(self.domain) != 10 or not self.domain.isdigit():
            raise ValueError(f"sip.domain must be 10 digits (the realm), got {self.domain!r}")
        if self.register_expires_min_s > self.register_expires_max_s:
            raise ValueError("sip.register_expires_min_s is above sip.register_expires_max_s")
        try:
            ZoneInfo(self.device_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"sip.device_timezone {self.device_timezone!r} is not a known time zone") from exc
        return self


class StoragePool(_Section):
    """A directory (local or mounted) recordings may be written to, with the most it may hold."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    path: Path
    # 0 means "whatever the file system has".
    capacity_gb: float = Field(0.0, ge=0)


class MediaConfig(_Section):
    # Empty means <data_dir>/recordings; it is the only pool when `pools` is empty.
    recordings_dir: Path | None = None
    pools: list[StoragePool] = Field(default_factory=list)
    # Where RTP is received: the address bound, the one put in SDP offers (empty: the bound one), and the ports.
    rtp_host: str = "127.0.0.1"
    rtp_advertised_host: str = ""
    rtp_port_min: int = Field(30000, ge=1024, le=65535)
    rtp_port_max: int = Field(30999, ge=1024, le=65535)
    # GB/T 28181 stream transport asked of devices: udp, tcp-passive (we listen), tcp-active (we connect).
    rtp_transport: Literal["udp", "tcp-passive", "tcp-active"] = "udp"
    reorder_window_ms: int = Field(120, ge=0, le=2000)
    # A stream silent this long is lost: reported, and re-requested with back-off.
    stream_timeout_s: float = Field(5.0, gt=0)
    retry_min_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    # Recording: files cut on the first keyframe after segment_s, flushed to disk every fragment_ms.
    segment_s: int = Field(300, ge=10, le=3600)
    fragment_ms: int = Field(1000, ge=100, le=2000)
    record_classes: list[int] = Field(default_factory=lambda: [1, 2])
    # The stream recorded when a camera's own plan does not say (the demo records the sub stream).
    record_stream: Literal["main", "sub"] = "main"
    # Retention: how often expired footage is swept, and the fill levels that start and stop space recovery.
    retention_sweep_s: int = Field(300, ge=5)
    pool_high_water: float = Field(0.90, gt=0, le=1)
    pool_low_water: float = Field(0.85, gt=0, le=1)
    # Live view: how long a stream nobody watches keeps running, and how long a signed stream URL is valid.
    live_grace_s: float = Field(30.0, ge=0)
    token_ttl_s: int = Field(120, ge=10, le=3600)
    # Empty means <data_dir>/exports.
    exports_dir: Path | None = None
    sign_exports: bool = True

    @model_validator(mode="after")
    def _check(self) -> MediaConfig:
        if self.rtp_port_min > self.rtp_port_max:
            raise ValueError("media.rtp_port_min must not be above media.rtp_port_max")
        if self.pool_low_water >= self.pool_high_water:
            raise ValueError("media.pool_low_water must be below media.pool_high_water")
        if self.retry_min_s > self.retry_max_s:
            raise ValueError("media.retry_min_s must not be above media.retry_max_s")
        names = [pool.name for pool in self.pools]
        if len(names) != len(set(names)):
            raise ValueError("media.pools names must be unique")
        if any(cls not in (1, 2, 3) for cls in self.record_classes):
            raise ValueError("media.record_classes may only hold 1, 2 and 3")
        return self


class HealthConfig(_Section):
    """Picture diagnosis, KPIs against the active plan, and fault work orders."""

    # The plan whose thresholds KPIs are judged by (`tianyan report plans` lists them); empty: none.
    plan: str = "huizhou-2012-2014"
    vqd_enabled: bool = True
    # Every camera is diagnosed once per interval, spread evenly over it.
    vqd_interval_s: int = Field(3600, ge=10)
    vqd_concurrency: int = Field(4, ge=1, le=64)
    # Frames decoded per diagnosis (the freeze and noise checks compare them) and how long to wait for a picture.
    vqd_burst_frames: int = Field(8, ge=2, le=50)
    # The stream diagnosed when the camera is not being recorded (a recorded camera's own feed is shared).
    vqd_stream: Literal["main", "sub"] = "sub"
    vqd_timeout_s: float = Field(10.0, gt=0)
    work_orders_enabled: bool = True
    # A camera offline this long gets a work order.
    offline_order_after_s: int = Field(1800, ge=0)
    # Consecutive faulty diagnoses before a picture fault becomes a work order (one bad frame is not a fault).
    vqd_order_after_failures: int = Field(2, ge=1, le=10)
    # After a fault is gone, how long until it is re-checked and the order closed (a flapping camera reopens it).
    recheck_after_s: int = Field(300, ge=0)
    # Bearer token Prometheus must send to /metrics; empty: /metrics answers anyone who can reach the port.
    metrics_token: str = ""


class SecurityConfig(_Section):
    lockout_failures: int = Field(5, ge=1)
    lockout_minutes: int = Field(15, ge=1)
    password_min_length: int = Field(10, ge=8)


class WebConfig(_Section):
    """The browser console."""

    # Map tiles: an XYZ template (https://tiles.example/{z}/{x}/{y}.png, {s} for subdomains) or a WMTS KVP GetTile
    # URL with {z}, {x} and {y} in TileMatrix, TileCol and TileRow; empty: no tiles (a plain grid behind the cameras).
    map_tiles_url: str = ""
    map_attribution: str = ""
    # [latitude, longitude] the map opens on; empty: the extent of the cameras the user may see.
    map_center: list[float] = Field(default_factory=list)
    map_zoom: int = Field(11, ge=1, le=20)

    @model_validator(mode="after")
    def _check(self) -> WebConfig:
        url = self.map_tiles_url.strip()
        if url:
            if not url.startswith(("http://", "https://", "/")):
                raise ValueError("web.map_tiles_url must be an http(s) URL or a path on this server")
            missing = [part for part in ("{z}", "{x}", "{y}") if part not in url]
            if missing:
                raise ValueError(f"web.map_tiles_url lacks the placeholders {' '.join(missing)}")
        if self.map_center:
            if len(self.map_center) != 2:
                raise ValueError("web.map_center must be [latitude, longitude] or empty")
            lat, lon = self.map_center
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("web.map_center must be [latitude, longitude]: latitude first, in degrees")
        return self


class Config(_Section):
    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    sip: SipConfig = SipConfig()
    media: MediaConfig = MediaConfig()
    health: HealthConfig = HealthConfig()
    security: SecurityConfig = SecurityConfig()
    web: WebConfig = WebConfig()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL; plain postgresql:// and sqlite:// URLs get their async drivers."""
        url = self.database.url or f"sqlite:///{(self.server.data_dir / 'tianyan.db').as_posix()}"
        return async_url(url)

    @property
    def recordings_dir(self) -> Path:
        return self.media.recordings_dir or self.server.data_dir / "recordings"

    @property
    def storage_pools(self) -> list[StoragePool]:
        """The configured pools, or one pool "default" at recordings_dir."""
        return self.media.pools or [StoragePool(name="default", path=self.recordings_dir)]

    @property
    def exports_dir(self) -> Path:
        return self.media.exports_dir or self.server.data_dir / "exports"


def async_url(url: str) -> str:
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _is_list_key(section: str, key: str) -> bool:
    section_field = Config.model_fields.get(section)
    model = section_field.annotation if section_field else None
    field = model.model_fields.get(key) if isinstance(model, type) and issubclass(model, BaseModel) else None
    return field is not None and get_origin(field.annotation) is list


def _env_value(section: str, key: str, value: str) -> Any:
    """Environment values are text; list keys take `a,b` or a JSON list."""
    if not _is_list_key(section, key):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value  # validation names the variable and shows the text
    return [part.strip() for part in text.split(",") if part.strip()]


def _env_overrides(environ: dict[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The overrides by section, and for each "section.key" the variable it came from."""
    sections: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        if "__" not in rest:
            continue
        section, key = rest.split("__", 1)
        sections.setdefault(section.lower(), {})[key.lower()] = _env_value(section.lower(), key.lower(), value)
        names[f"{section.lower()}.{key.lower()}"] = name
        names.setdefault(section.lower(), name)
    return sections, names


def _describe(error: ValidationError, origin: str, env_names: dict[str, str]) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        # A bad value from the environment is found by its variable name, not by the TOML key.
        via = f" (from {env_names[where]})" if where in env_names else ""
        if item["type"] == "extra_forbidden":
            lines.append(f"  [{where}]{via} is not a known key")
        else:
            lines.append(f"  [{where}]{via} {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def load(path: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read the file (if any), apply environment overrides, validate; errors name the bad key."""
    data: dict[str, Any] = {}
    origin = "embedded defaults"
    if path is not None:
        origin = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from exc
    overrides, env_names = _env_overrides(dict(os.environ if environ is None else environ))
    for section, keys in overrides.items():
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"invalid configuration: [{section}] must be a table")
        target.update(keys)
    if overrides:
        origin += " + environment"
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin, env_names)) from exc
