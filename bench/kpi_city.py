"""A generated city for bench/kpi.py: regions, organisations, devices and cameras, a month of availability
transitions and picture-diagnosis changes, and recording days, as columns ready for bulk loading.

Deterministic for a seed. Timestamps are the text SQLAlchemy stores UTC times in on SQLite; PostgreSQL gets the
same text with "+00".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

# January 2026 in Asia/Shanghai.
START = datetime(2025, 12, 31, 16, tzinfo=UTC)
END = datetime(2026, 1, 31, 16, tzinfo=UTC)
START_S, END_S = START.timestamp(), END.timestamp()
DAY_S = 86_400
DISTRICTS = {
    "441302": "惠城区",
    "441303": "惠阳区",
    "441322": "博罗县",
    "441323": "惠东县",
    "441324": "龙门县",
    "441391": "大亚湾区",
    "441392": "仲恺区",
}
STATIONS_PER_DISTRICT = 10
SECTORS = ("教育", "卫生", "金融", "交通", "商贸", "住建", "能源", "文化")
UNITS = 3000
CAMERAS_PER_DEVICE = 4
# width, height, fps, share
FORMATS = [
    (1920, 1080, 25.0, 0.35),
    (1280, 720, 25.0, 0.25),
    (1280, 720, 15.0, 0.05),
    (720, 576, 25.0, 0.15),
    (704, 576, 25.0, 0.10),
    (640, 480, 25.0, 0.05),
    (None, None, None, 0.05),
]

Table = dict[str, list[Any]]


def stamps(seconds: np.ndarray) -> list[str]:
    """Unix seconds as the text SQLAlchemy stores UTC timestamps in on SQLite."""
    text = np.datetime_as_string((seconds * 1e6).astype("datetime64[us]"), unit="us")
    return [s.replace("T", " ") for s in text.tolist()]


def rows_of(table: Table) -> int:
    return len(next(iter(table.values())))


@dataclass(frozen=True)
class Places:
    districts: list[int]
    stations: list[int]


def regions(tables: dict[str, Table]) -> Places:
    """Province, city, its districts (two with locally assigned codes) and ten police stations each."""
    codes, names, levels, parents = ["440000", "441300"], ["广东省", "惠州市"], ["province", "city"], [None, 1]
    paths = ["/440000/", "/440000/441300/"]
    places = Places([], [])

    def add(code: str, name: str, level: str, parent: int, path: str) -> int:
        codes.append(code), names.append(name), levels.append(level), parents.append(parent), paths.append(path)
        return len(codes)

    for code, name in DISTRICTS.items():
        district = add(code, name, "county", 2, f"/440000/441300/{code}/")
        places.districts.append(district)
        for s in range(1, STATIONS_PER_DISTRICT + 1):
            station = f"{code}{s:02d}"
            places.stations.append(add(station, f"{name}第{s}派出所", "station", district, f"{paths[-1]}{station}/"))
    tables["regions"] = {
        "id": list(range(1, len(codes) + 1)),
        "code": codes,
        "name": names,
        "level": levels,
        "parent_id": parents,
        "path": paths,
        "locally_assigned": [c in ("441391", "441392") for c in codes],
    }
    return places


def organisations(tables: dict[str, Table], rng: np.random.Generator) -> None:
    """The sectors, then the owning units (each in a sector)."""
    ids = list(range(1, len(SECTORS) + UNITS + 1))
    tables["organisations"] = {
        "id": ids,
        "kind": ["sector"] * len(SECTORS) + ["owning_unit"] * UNITS,
        "code": [f"S-{i}" for i in range(len(SECTORS))] + [f"U-{i}" for i in range(UNITS)],
        "name": list(SECTORS) + [f"单位{i}" for i in range(UNITS)],
        "region_id": [2] * len(ids),
        "sector_id": [None] * len(SECTORS) + rng.integers(1, len(SECTORS) + 1, UNITS).tolist(),
    }


def devices(tables: dict[str, Table], n: int) -> None:
    count = -(-n // CAMERAS_PER_DEVICE)
    tables["devices"] = {
        "id": list(range(1, count + 1)),
        "gb_id": [f"4413000011800{i:07d}" for i in range(1, count + 1)],
        "name": [f"NVR {i}" for i in range(1, count + 1)],
        "type_code": ["118"] * count,
        "approval": ["approved"] * count,
        "enabled": [True] * count,
        "online": [True] * count,
        "channel_class": [1] * count,
        "channel_network": ["police"] * count,
        "created_at": stamps(np.full(count, START_S - 500 * DAY_S)),
        "updated_at": stamps(np.full(count, START_S)),
    }


@dataclass(frozen=True)
class Cameras:
    ids: np.ndarray
    cls: np.ndarray
    created: np.ndarray  # Unix seconds


def cameras(tables: dict[str, Table], n: int, places: Places, rng: np.random.Generator) -> Cameras:
    """Classes 1/2/3 with their networks, sectors and units, 10 % placed on a district itself, stream formats
    from VGA to 1080p and unknown; 2 % created during the month."""
    ids = np.arange(1, n + 1)
    cls = rng.choice([1, 2, 3], n, p=[0.2, 0.45, 0.35])
    class3_network = np.where(rng.random(n) < 0.9, "local", "social")
    network = np.where(cls == 1, "police", np.where(cls == 2, "social", class3_network))
    has_sector = (cls == 2) & (rng.random(n) < 0.9) | (cls == 3) & (rng.random(n) < 0.3)
    sector = np.where(has_sector, rng.integers(1, len(SECTORS) + 1, n), 0)
    unit = np.where(cls > 1, rng.integers(len(SECTORS) + 1, len(SECTORS) + UNITS + 1, n), 0)
    region = np.where(rng.random(n) < 0.1, rng.choice(places.districts, n), rng.choice(places.stations, n))
    fmt = rng.choice(len(FORMATS), n, p=[f[3] for f in FORMATS])
    networked = rng.random(n) < np.where(cls == 1, 0.98, np.where(cls == 2, 0.85, 0.2))
    created = np.where(
        rng.random(n) < 0.02, START_S + rng.uniform(0, 30, n) * DAY_S, START_S - rng.uniform(30, 400, n) * DAY_S
    )
    tables["cameras"] = {
        "id": ids.tolist(),
        "gb_id": [f"441300{c}{i:013d}" for c, i in zip(cls.tolist(), ids.tolist(), strict=True)],
        "name": [f"camera {i}" for i in ids.tolist()],
        "device_id": ((ids - 1) // CAMERAS_PER_DEVICE + 1).tolist(),
        "class": cls.tolist(),
        "network": network.tolist(),
        "region_id": region.tolist(),
        "owning_unit_id": [u or None for u in unit.tolist()],
        "sector_id": [s or None for s in sector.tolist()],
        "kind": ["fixed"] * n,
        "main_width": [FORMATS[f][0] for f in fmt.tolist()],
        "main_height": [FORMATS[f][1] for f in fmt.tolist()],
        "main_fps": [FORMATS[f][2] for f in fmt.tolist()],
        "install_date": [date(2010, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 5800, n)],
        "sensitive": [False] * n,
        "networked": networked.tolist(),
        "labels": ["[]"] * n,
        "online": [False] * n,  # set by transitions()
        "created_at": stamps(created),
        "updated_at": stamps(np.full(n, END_S)),
    }
    return Cameras(ids, cls, created)


def _month_times(owners: np.ndarray, counts: np.ndarray, earliest: np.ndarray, rng: np.random.Generator) -> tuple:
    """`counts[i]` random times in [earliest, END) for each owner, sorted per owner, with each one's rank."""
    who = np.repeat(owners, counts)
    lo = earliest[who - 1]
    times = lo + rng.random(len(who)) * (END_S - lo)
    order = np.lexsort((times, who))
    who, times = who[order], times[order]
    rank = np.arange(len(who)) - np.repeat(np.cumsum(counts) - counts, counts)
    return who, times, rank


def transitions(tables: dict[str, Table], cams: Cameras, rng: np.random.Generator) -> None:
    """An online transition when created (3 % never came online); then 60 % none in the month, 30 % one to four,
    10 % flapping with 20 to 100; alternating, 3 % repeating the state before (as after a restart)."""
    n = len(cams.ids)
    came_online = rng.random(n) >= 0.03
    kind = rng.random(n)
    in_month = np.where(kind < 0.6, 0, np.where(kind < 0.9, rng.integers(1, 5, n), rng.integers(20, 101, n)))
    in_month = np.where(came_online, in_month, 0)
    who, times, rank = _month_times(cams.ids, in_month, np.maximum(START_S, cams.created + 120), rng)
    online = (rank % 2 == 1) ^ ((rng.random(len(rank)) < 0.03) & (rank > 0))
    first = cams.ids[came_online]
    camera = np.concatenate([first, who])
    states = np.concatenate([np.ones(len(first), bool), online])
    final = np.zeros(n, bool)
    final[first - 1] = True
    if len(who):
        last = np.cumsum(in_month)[in_month > 0] - 1
        final[who[last] - 1] = online[last]
    tables["cameras"]["online"] = final.tolist()
    tables["availability_transitions"] = {
        "id": list(range(1, len(camera) + 1)),
        "at": stamps(np.concatenate([cams.created[came_online] + 60, times])),
        "device_id": ((camera - 1) // CAMERAS_PER_DEVICE + 1).tolist(),
        "camera_id": camera.tolist(),
        "online": states.tolist(),
        "reason": np.where(states, "registered", "keepalives missed").tolist(),
    }


def diagnoses(tables: dict[str, Table], cams: Cameras, rng: np.random.Generator) -> None:
    """90 % diagnosed an hour after creation (95 % fine); 10 % of those change verdict one to six times."""
    diagnosed = cams.ids[rng.random(len(cams.ids)) < 0.9]
    first_ok = rng.random(len(diagnosed)) < 0.95
    changes = np.where(rng.random(len(diagnosed)) < 0.1, rng.integers(1, 7, len(diagnosed)), 0)
    who, times, rank = _month_times(diagnosed, changes, np.maximum(START_S, cams.created + 3600), rng)
    ok = np.repeat(first_ok, changes) ^ (rank % 2 == 0)
    camera, verdicts = np.concatenate([diagnosed, who]), np.concatenate([first_ok, ok])
    tables["vqd_events"] = {
        "id": list(range(1, len(camera) + 1)),
        "camera_id": camera.tolist(),
        "at": stamps(np.concatenate([cams.created[diagnosed - 1] + 3600, times])),
        "ok": verdicts.tolist(),
        "faults": ["[]" if v else '["blur"]' for v in verdicts.tolist()],
        "scores": ["{}"] * len(camera),
    }
    latest = first_ok.copy()
    if len(who):
        last = np.cumsum(changes)[changes > 0] - 1
        latest[np.searchsorted(diagnosed, who[last])] = ok[last]
    tables["vqd_latest"] = {
        "camera_id": diagnosed.tolist(),
        "at": stamps(np.full(len(diagnosed), END_S - 3600)),
        "source": ["live"] * len(diagnosed),
        "ok": latest.tolist(),
        "faults": ["[]" if v else '["blur"]' for v in latest.tolist()],
        "scores": ["{}"] * len(diagnosed),
        "consecutive_failures": (~latest).astype(int).tolist(),
    }


def recordings(tables: dict[str, Table], cams: Cameras, rng: np.random.Generator) -> None:
    """Class 1 and 2 cameras: 31 recording days before the end (8 % with some incomplete days) and their oldest
    segment (5 % only ten days old)."""
    recorded = cams.ids[cams.cls < 3]
    last_day = (END + timedelta(hours=8)).date() - timedelta(days=1)
    days = [last_day - timedelta(days=k) for k in range(31)]
    camera = np.repeat(recorded, len(days))
    completeness = np.ones(len(camera))
    flaky = np.repeat(rng.random(len(recorded)) < 0.08, len(days)) & (rng.random(len(camera)) < 0.2)
    completeness[flaky] = rng.uniform(0.5, 0.98, int(flaky.sum()))
    tables["recording_days"] = {
        "camera_id": camera.tolist(),
        "day": days * len(recorded),
        "recorded_s": (completeness * DAY_S).tolist(),
        "gap_s": ((1 - completeness) * DAY_S).tolist(),
        "planned_s": [float(DAY_S)] * len(camera),
        "completeness": completeness.tolist(),
        "updated_at": stamps(np.full(len(camera), END_S)),
    }
    oldest = END_S - np.where(rng.random(len(recorded)) < 0.95, 32, 10) * DAY_S
    count = len(recorded)
    tables["recording_segments"] = {
        "id": list(range(1, count + 1)),
        "camera_id": recorded.tolist(),
        "pool": ["main"] * count,
        "path": [f"{c}/oldest.mp4" for c in recorded.tolist()],
        "start_at": stamps(oldest),
        "end_at": stamps(oldest + 300),
        "bytes": [75_000_000] * count,
        "codec": ["h264"] * count,
        "frames": [7500] * count,
        "has_audio": [False] * count,
        "status": ["closed"] * count,
        "source": ["live"] * count,
    }


def generate(n: int, seed: int) -> dict[str, Table]:
    """Every table's columns, in an order that satisfies the foreign keys."""
    rng = np.random.default_rng(seed)
    tables: dict[str, Table] = {}
    places = regions(tables)
    organisations(tables, rng)
    devices(tables, n)
    cams = cameras(tables, n, places, rng)
    transitions(tables, cams, rng)
    diagnoses(tables, cams, rng)
    recordings(tables, cams, rng)
    return tables
