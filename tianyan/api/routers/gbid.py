"""GB/T 28181 ID decoding and building, for integrators and the console."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tianyan.core import gbid

router = APIRouter(tags=["gbid"])


@router.get("/gbid/{value}")
async def decode(value: str) -> dict[str, Any]:
    return gbid.parse(value).describe()


class GbIdIn(BaseModel):
    centre: str = Field(description="8-digit centre code or 6-digit GB/T 2260 code")
    industry: str = "00"
    type: str = "132"
    network: str = "0"
    serial: int = Field(1, ge=0, le=999999)


@router.post("/gbid")
async def build(body: GbIdIn) -> dict[str, Any]:
    return gbid.build(
        centre=body.centre, industry=body.industry, type_code=body.type, network=body.network, serial=body.serial
    ).describe()
