"""The plans Tianyan knows: shipped with the package, plus any JSON files in a user plans folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from tianyan.core.errors import InvalidInput, NotFound

SHIPPED = "shipped"
USER = "user"

# The plan documents come in three shapes; progress.py measures each its own way.
UNIT_TARGETS = "unit_targets"  # per-unit targets and yearly milestones (Huizhou 2012-2014)
REGION_TARGETS = "region_targets"  # region-wide counts and a schedule (Ningxia 2014)
GOALS = "goals"  # rates to reach by a date (national 2020)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    shape: str
    origin: str  # "shipped" or "user"
    data: dict[str, Any]


def plan_shape(data: dict[str, Any]) -> str:
    targets = data.get("targets")
    if isinstance(targets, dict) and isinstance(targets.get("rows"), list) and data.get("milestones"):
        return UNIT_TARGETS
    if isinstance(targets, dict) and isinstance(data.get("region"), dict):
        return REGION_TARGETS
    if isinstance(data.get("goals"), dict) and data.get("by"):
        return GOALS
    return UNKNOWN


def _parse(text: str, origin: str, name: str) -> Plan:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"plan file {name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise InvalidInput(f'plan file {name} has no "id"')
    return Plan(id=data["id"], title=str(data.get("title", data["id"])), shape=plan_shape(data), origin=origin,
                data=data)  # fmt: skip


def _shipped_files() -> list[Traversable]:
    folder = resources.files("tianyan.planning") / "plans"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)


def list_plans(*, user_dir: Path | None = None) -> list[Plan]:
    """Every known plan, by id; a user plan with a shipped plan's id replaces it (it is the user's data)."""
    found: dict[str, Plan] = {}
    for file in _shipped_files():
        plan = _parse(file.read_text(encoding="utf-8"), SHIPPED, file.name)
        found[plan.id] = plan
    if user_dir is not None and user_dir.is_dir():
        for path in sorted(user_dir.glob("*.json")):
            plan = _parse(path.read_text(encoding="utf-8"), USER, str(path))
            found[plan.id] = plan
    return [found[key] for key in sorted(found)]


def load_plan(plan_id: str, *, user_dir: Path | None = None) -> Plan:
    plans = list_plans(user_dir=user_dir)
    for plan in plans:
        if plan.id == plan_id:
            return plan
    known = ", ".join(plan.id for plan in plans)
    raise NotFound(f"unknown plan {plan_id!r}; known plans: {known}")


def user_plans_dir(data_dir: Path) -> Path:
    """Where an installation keeps its own plan files: <server.data_dir>/plans/*.json."""
    return data_dir / "plans"
