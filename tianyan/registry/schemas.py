"""The camera record as users write it (API bodies and import rows share these) and as they read it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from tianyan.core import gbid
from tianyan.core.errors import InvalidInput
from tianyan.registry.rules import DEFAULT_RETENTION_DAYS

_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"0", "false", "no", "n", "否", "f", ""}


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected true/false (or 是/否), got {value!r}")
    return value


def _labels(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace("；", ";").split(";") if part.strip()]
    return value


Optional = Annotated[Any, BeforeValidator(_blank_to_none)]
Flag = Annotated[bool, BeforeValidator(_boolean)]
Text = Annotated[str | None, BeforeValidator(_blank_to_none)]
Labels = Annotated[list[str], BeforeValidator(_labels)]
Network = Literal["police", "social", "local"]
Kind = Literal["fixed", "ptz", "checkpoint", "vehicle", "bus", "other"]
# Constraints sit on the inner type: on `int | None` pydantic would apply them to None and raise TypeError.
Width = Annotated[Annotated[int, Field(ge=16, le=16384)] | None, BeforeValidator(_blank_to_none)]
Height = Annotated[Annotated[int, Field(ge=16, le=16384)] | None, BeforeValidator(_blank_to_none)]
Fps = Annotated[Annotated[float, Field(gt=0, le=240)] | None, BeforeValidator(_blank_to_none)]


def _gb_id(value: str) -> str:
    try:
        return gbid.parse(value).value
    except InvalidInput as exc:
        raise ValueError(exc.detail) from exc


def validation_message(error: ValidationError) -> str:
    """A pydantic error as one line a user can act on: "field: reason; field: reason"."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        reason = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {reason}" if where else reason)
    return "; ".join(parts)


class _Checks(BaseModel):
    """Cross-field rules shared by create and patch."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("gb_id", "device", check_fields=False)
    @classmethod
    def _valid_gb_id(cls, value: str | None) -> str | None:
        return None if value is None else _gb_id(value)


class CameraIn(_Checks):
    """A camera as an import row or a POST body. Region, unit and sector are referenced by code or name."""

    gb_id: str
    name: str = Field(min_length=1, max_length=200)
    cls: Annotated[int, BeforeValidator(_blank_to_none), Field(ge=1, le=3)] = Field(alias="class")
    network: Network
    region: str = Field(min_length=2, max_length=12, description="GB/T 2260 (or locally assigned) region code")
    owning_unit: Text = Field(None, max_length=200, description="owning unit name (created if new)")
    sector: Text = Field(None, max_length=40, description="industry sector code")
    kind: Annotated[Kind, BeforeValidator(lambda v: _blank_to_none(v) or "fixed")] = "fixed"
    main_width: Width = None
    main_height: Height = None
    main_fps: Fps = None
    sub_width: Width = None
    sub_height: Height = None
    sub_fps: Fps = None
    latitude: Annotated[Annotated[float, Field(ge=-90, le=90)] | None, BeforeValidator(_blank_to_none)] = None
    longitude: Annotated[Annotated[float, Field(ge=-180, le=180)] | None, BeforeValidator(_blank_to_none)] = None
    address: Text = Field(None, max_length=300)
    install_date: Annotated[date | None, BeforeValidator(_blank_to_none)] = None
    retention_days: Annotated[Annotated[int, Field(ge=1, le=3650)] | None, BeforeValidator(_blank_to_none)] = None
    sensitive: Flag = False
    networked: Flag = True
    labels: Labels = Field(default_factory=list)
    device: Text = Field(None, description="GB ID of the parent device (NVR/DVR), if any")

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> CameraIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must be given together")
        for prefix in ("main", "sub"):
            size = (getattr(self, f"{prefix}_width"), getattr(self, f"{prefix}_height"))
            if (size[0] is None) != (size[1] is None):
                raise ValueError(f"{prefix}_width and {prefix}_height must be given together")
        minimum = DEFAULT_RETENTION_DAYS[self.cls] if self.cls in (1, 2) else 1
        if self.retention_days is not None and self.retention_days < minimum:
            raise ValueError(
                f"retention_days {self.retention_days} is below the legal minimum "
                f"of {minimum} days for class {self.cls}"
            )
        return self


class CameraPatch(BaseModel):
    """A partial change; only the fields present change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    cls: int | None = Field(None, ge=1, le=3, alias="class")
    network: Network | None = None
    region: str | None = None
    owning_unit: str | None = None
    sector: str | None = None
    kind: Kind | None = None
    main_width: int | None = Field(None, ge=16, le=16384)
    main_height: int | None = Field(None, ge=16, le=16384)
    main_fps: float | None = Field(None, gt=0, le=240)
    sub_width: int | None = Field(None, ge=16, le=16384)
    sub_height: int | None = Field(None, ge=16, le=16384)
    sub_fps: float | None = Field(None, gt=0, le=240)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=300)
    install_date: date | None = None
    retention_days: int | None = Field(None, ge=1, le=3650)
    sensitive: bool | None = None
    networked: bool | None = None
    labels: list[str] | None = None
    device: str | None = None


class CameraOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: int
    gb_id: str
    name: str
    cls: int = Field(alias="class")
    network: str
    region: str
    region_name: str
    owning_unit: str | None
    sector: str | None
    kind: str
    main_width: int | None
    main_height: int | None
    main_fps: float | None
    sub_width: int | None
    sub_height: int | None
    sub_fps: float | None
    hd: bool
    meets_format_minimum: bool
    latitude: float | None
    longitude: float | None
    address: str | None
    install_date: date | None
    retention_days: int
    retention_overridden: bool
    sensitive: bool
    networked: bool
    labels: list[str]
    device: str | None
