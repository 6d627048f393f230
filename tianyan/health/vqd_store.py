"""Keeping diagnoses: the latest per camera, verdict changes for integrity, evidence pictures on disk, references.

Pictures live under <data_dir>/health: `frames/<camera id>/<UTC time>.jpg` for faulty diagnoses (the evidence a
work order shows) and `reference/<camera id>.jpg` for each camera's approved scene. Only faulty pictures are
kept, so the folder grows with faults, not with cameras × hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.events import Event
from tianyan.health import workorders
from tianyan.health.models import VqdEvent, VqdLatest, VqdSetting
from tianyan.health.vqd.diagnose import Diagnosis
from tianyan.health.vqd.thresholds import Thresholds

JPEG_QUALITY = 85


@dataclass(frozen=True)
class CameraVqd:
    """What the runner needs to diagnose one camera."""

    enabled: bool
    thresholds: Thresholds
    reference: np.ndarray | None
    ptz_check: bool


def frame_name(camera_id: int, at: datetime) -> str:
    return f"frames/{camera_id}/{at:%Y%m%dT%H%M%S%fZ}.jpg"


def reference_name(camera_id: int) -> str:
    return f"reference/{camera_id}.jpg"


def write_jpeg(root: Path, name: str, picture: np.ndarray) -> str:
    """Blocking; returns `name`. Written to a temporary file first so a reader never sees half a picture."""
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("the picture could not be encoded as JPEG")
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data.tobytes())
    partial.replace(path)
    return name


def read_jpeg(root: Path, name: str | None) -> np.ndarray | None:
    if not name:
        return None
    path = root / name
    if not path.is_file():
        return None
    picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return picture if picture is not None and picture.size else None


async def camera_settings(session: AsyncSession, camera_id: int, root: Path) -> CameraVqd:
    setting = await session.get(VqdSetting, camera_id)
    if setting is None:
        return CameraVqd(enabled=True, thresholds=Thresholds.from_overrides({}), reference=None, ptz_check=False)
    return CameraVqd(
        enabled=setting.enabled,
        thresholds=Thresholds.from_overrides(setting.thresholds or {}),
        reference=read_jpeg(root, setting.reference_path),
        ptz_check=setting.ptz_check,
    )


async def set_reference(session: AsyncSession, camera_id: int, name: str, at: datetime) -> None:
    setting = await session.get(VqdSetting, camera_id)
    if setting is None:
        setting = VqdSetting(camera_id=camera_id, enabled=True, thresholds={}, ptz_check=False)
        session.add(setting)
    setting.reference_path = name
    setting.reference_at = at


async def record(
    session: AsyncSession, *, camera_id: int, at: datetime, source: str, diagnosis: Diagnosis,
    frame_path: str | None, needed_failures: int, recheck_after_s: float, orders: bool = True,
) -> tuple[VqdLatest, list[Event]]:  # fmt: skip
    """Store one diagnosis: overwrite the latest, append a verdict change if the verdict changed, and let the work
    order rules see it."""
    faults = list(diagnosis.faults)
    scores = {name: round(float(value), 4) for name, value in diagnosis.scores.items()}
    latest = await session.get(VqdLatest, camera_id)
    changed = latest is None or latest.ok != diagnosis.ok or sorted(latest.faults or []) != sorted(faults)
    previous_failures = latest.consecutive_failures if latest is not None and not latest.ok else 0
    consecutive = previous_failures + 1 if faults else 0
    detail = _detail(diagnosis)
    if latest is None:
        latest = VqdLatest(camera_id=camera_id)
        session.add(latest)
    latest.at, latest.source, latest.ok, latest.faults, latest.scores = at, source, diagnosis.ok, faults, scores
    latest.frame_path, latest.detail, latest.consecutive_failures = frame_path, detail, consecutive
    if changed:
        session.add(VqdEvent(camera_id=camera_id, at=at, ok=diagnosis.ok, faults=faults, scores=scores,
                             frame_path=frame_path))  # fmt: skip
    events: list[Event] = []
    if orders:
        since = at if previous_failures == 0 else await _fault_began(session, camera_id, at)
        diagnosed = {"at": at.isoformat(), "source": source, "faults": faults, "scores": scores, "detail": detail}
        evidence: dict[str, Any] = {"diagnosis": diagnosed, "frame_path": frame_path}
        events = await workorders.on_diagnosis(
            session, camera_id=camera_id, faults=faults, consecutive_failures=consecutive,
            needed_failures=needed_failures, at=at, fault_since=since, evidence=evidence,
            recheck_after_s=recheck_after_s,
        )  # fmt: skip
    return latest, events


async def _fault_began(session: AsyncSession, camera_id: int, at: datetime) -> datetime:
    """When the current run of faulty verdicts began: the first faulty change after the last fault-free one."""
    last_ok = (
        select(func.max(VqdEvent.at)).where(VqdEvent.camera_id == camera_id, VqdEvent.ok.is_(True)).scalar_subquery()
    )
    began = (
        await session.execute(
            select(func.min(VqdEvent.at)).where(
                VqdEvent.camera_id == camera_id,
                VqdEvent.ok.is_(False),
                or_(last_ok.is_(None), VqdEvent.at > last_ok),
            )
        )
    ).scalar_one_or_none()
    return began or at


def _detail(diagnosis: Diagnosis) -> str:
    notes = [f"{r.name}: {r.note}" for r in diagnosis.results if r.failed and r.note]
    return "; ".join(notes)
