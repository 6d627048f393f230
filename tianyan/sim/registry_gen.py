"""A plausible Huizhou camera registry generated from a seed, and its fast bulk load into the database.

Same seed, same registry: everything random comes from one `random.Random(seed)` and
is drawn in a fixed order. The shape follows the 2012-2014 plan:

- the new class 1 points (installed from 2012) come from the plan's own per-district targets
  (附录2, read from the plan catalogue) times a per-district achievement, built at a pace per
  district (plan_pacing): the 30 % / 70 % / 100 % milestones come out met in some districts and
  missed in others, for class 1 and HD checkpoints alike; a registry too small to hold the
  targets gets them scaled down in proportion;
- class 1 on the police network (GB network digit 0, industry 00 road / 01 community /
  03 police cars), owned by the district bureau; the HD checkpoints among them owned by the
  traffic police; the HD share of each district's new class 1 points passes the plan's 40 % in
  some districts and fails in others;
- the remaining cameras spread over districts in proportion to the plan's totals: 10 % older
  class 1 points (2009-2011), 62 % class 2, 28 % class 3; of class 2 and 3, 30 % installed
  2009-2011 (the baseline) and the rest from 2012 at the district's pace, so at demo sizes class 2
  stays far behind its 27,000 target, as industry integration did;
- class 2 on the social network (digit 8), each with an industry sector (weighted by
  the plan's minimum points) and an owning unit; the industry digits follow the sector
  (11 education, 09 health, 51 finance, ...);
- class 3 local (digit 7: a local point reaches us, if at all, over the Internet), owned by
  village committees, industry 01;
- the other points are HD by chance: more often when new (from 2012) and in a higher class, with
  a per-district bias, so the HD share of new class 2 points passes the plan's 30 % in most
  districts and may fall short where the bias is low;
- serial numbers per centre code in order of installation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.registry.models import Camera, Organisation, Region
from tianyan.registry.schemas import CameraIn
from tianyan.registry.service import owning_unit_code
from tianyan.security import audit
from tianyan.sim.huizhou import DISTRICTS, LANDMARK_UNITS, SECTORS, TRAFFIC_POLICE, District, Station
from tianyan.sim.plan_pacing import NEW_YEARS, PACE, apportion, new_class1, unit_targets

T = TypeVar("T")
Slot = tuple[District, int, str | None, date, bool | None]

# Shares of the cameras beyond the plan's new class 1 points: class 1 built before 2012, class 2, class 3.
REMAINDER_SHARES = (0.10, 0.62, 0.28)
BASELINE_SHARE = 0.30  # of class 2 and 3 points, installed 2009-2011
BASELINE_YEARS = {2009: 0.25, 2010: 0.35, 2011: 0.40}
# Probability that a point is HD, by class, for points installed before 2012 and from 2012 (new class 1
# points get an exact HD share per district and year from plan_pacing instead).
HD_CHANCE = {1: (0.28, 0.58), 2: (0.22, 0.47), 3: (0.12, 0.25)}
HD_STREAMS = (((1920, 1080, 25.0), 0.55), ((1280, 720, 25.0), 0.45))
OTHER_STREAMS = (
    ((704, 576, 25.0), 0.38), ((720, 576, 25.0), 0.42), ((352, 288, 15.0), 0.10),
    ((640, 480, 25.0), 0.05), ((1280, 720, 15.0), 0.05),
)  # fmt: skip
NETWORK_DIGIT = {"police": "0", "social": "8", "local": "7"}
NETWORKED_CHANCE = {1: 0.98, 3: 0.80}  # class 2: per sector, drawn once per seed
SENSITIVE_CHANCE = 0.008
DIRECTIONS = ("东", "南", "西", "北")
VILLAGES = ("东坑", "新村", "上围", "石岗", "白石", "塘尾", "长湖", "水围")


@dataclass(frozen=True)
class SectorLook:
    """What a sector's units and cameras look like: GB industry digits, unit names, camera spots, kinds."""

    industry: str
    templates: tuple[str, ...]  # "{town}" and "{district}" are filled in
    spots: tuple[str, ...]
    labels: tuple[str, ...]
    kinds: tuple[tuple[str, float], ...] = (("fixed", 0.83), ("ptz", 0.17))
    sensitive_chance: float = SENSITIVE_CHANCE


LOOKS: dict[str, SectorLook] = {
    "SEC01": SectorLook("53", ("{town}购物广场", "{town}工业园", "{town}农贸批发市场"),
                        ("正门", "收银区", "停车场", "卸货区", "中庭", "扶梯口"), ("商贸",)),
    "SEC02": SectorLook("11", ("{town}中心小学", "{town}中学", "{town}中心幼儿园", "{town}实验学校"),
                        ("校门口", "操场", "教学楼走廊", "食堂", "宿舍楼", "周界围墙"), ("校园", "护校安园")),
    "SEC03": SectorLook("49", ("{town}科技企业孵化器",), ("大厅", "机房", "出入口"), ("科技",)),
    "SEC04": SectorLook("42", ("{town}民用爆炸物品仓库", "{town}危险化学品仓库"), ("库区", "大门", "围墙", "装卸区"),
                        ("危爆物品", "重点部位"), sensitive_chance=0.05),
    "SEC05": SectorLook("03", ("{town}司法所",), ("监管区外围", "大门", "周界", "会见楼外"), ("监管场所",),
                        sensitive_chance=0.05),
    "SEC06": SectorLook("52", ("{town}花园小区", "{town}名苑", "{town}时代广场"),
                        ("小区正门", "地下车库入口", "周界", "电梯厅", "单元门"), ("住宅小区",)),
    "SEC07": SectorLook("47", ("{town}汽车客运站", "{town}公交总站"),
                        ("候车厅", "售票厅", "进站口", "出站口", "停车场"), ("交通枢纽",),
                        kinds=(("fixed", 0.60), ("ptz", 0.10), ("bus", 0.30))),
    "SEC08": SectorLook("54", ("{town}排涝站",), ("坝顶", "溢洪道", "闸门", "堤防"), ("水利设施",)),
    "SEC09": SectorLook("55", ("{town}文化广场", "{town}星光网吧", "{town}欢乐KTV"),
                        ("大厅", "出入口", "前台", "通道"), ("文化娱乐",)),
    "SEC10": SectorLook("09", ("{town}卫生院", "{town}社区卫生服务中心"),
                        ("门诊大厅", "急诊大厅", "挂号收费处", "住院部出入口", "药房", "停车场"), ("医院",)),
    "SEC11": SectorLook("44", ("{town}110kV变电站",), ("主控室", "围墙", "大门", "开关场"), ("电力设施",)),
    "SEC12": SectorLook("45", ("中石化{town}加油站", "中石油{town}加油站"),
                        ("加油区", "便利店收银台", "油罐区", "大门"), ("易燃易爆",)),
    "SEC13": SectorLook("49", ("{district}广播电视台",), ("播控中心", "大门", "发射机房"), ("广电",)),
    "SEC14": SectorLook("55", ("{district}体育馆",), ("看台", "检票口", "场馆出入口", "停车场"), ("体育场馆",)),
    "SEC15": SectorLook("50", ("{town}大酒店",), ("大堂", "前台", "游客中心", "景区入口", "停车场"), ("旅游",)),
    "SEC16": SectorLook("53", ("{district}档案馆",), ("库房", "查阅室", "大门"), ("档案",)),
    "SEC17": SectorLook("51", ("惠州农商银行{town}支行", "中国建设银行{town}支行"),
                        ("营业大厅", "自助银行", "金库通道", "柜台", "出入口"), ("金融",),
                        kinds=(("fixed", 0.80), ("ptz", 0.12), ("vehicle", 0.08))),
}  # fmt: skip


@dataclass(frozen=True)
class OwningUnit:
    """A generated owning unit (school, hospital, village committee...) and where it is."""

    name: str
    region: str
    sector: str | None
    latitude: float
    longitude: float
    address: str


@dataclass(frozen=True)
class GeneratedRegistry:
    seed: int
    cameras: list[CameraIn]
    units: list[OwningUnit]


def _pick(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        # Drawn first, so they do not depend on the number of cameras.
        self.hd_bias = {d.code: self.rng.uniform(-0.14, 0.08) for d in DISTRICTS}
        self.networked_share = {s.code: self.rng.uniform(0.82, 0.99) for s in SECTORS}
        self.units: dict[str, OwningUnit] = {}
        self.serials: dict[str, int] = {}
        self.names: dict[str, int] = {}
        self.stations = {s.code: (d, s) for d in DISTRICTS for s in d.stations}

    # --- where and when ---------------------------------------------------------------------

    def day(self, year: int) -> date:
        return date(year, 1, 1) + timedelta(days=self.rng.randrange(365))

    def install_dates(self, district: District, count: int, *, baseline_only: bool) -> list[date]:
        """Baseline years only, or 30 % baseline and the rest from 2012 at the district's pace."""
        weights = [BASELINE_SHARE * w for w in BASELINE_YEARS.values()]
        if not baseline_only:
            weights += [(1 - BASELINE_SHARE) * w for w in PACE[district.code]]
        counts = apportion(count, weights)
        years = [year for year, n in zip([*BASELINE_YEARS, *NEW_YEARS], counts, strict=False) for _ in range(n)]
        self.rng.shuffle(years)
        return [self.day(year) for year in years]

    def near(self, district: District, latitude: float, longitude: float, sigma: float) -> tuple[float, float]:
        south, west, north, east = district.box
        lat = min(max(self.rng.gauss(latitude, sigma), south), north)
        lon = min(max(self.rng.gauss(longitude, sigma), west), east)
        return round(lat, 6), round(lon, 6)

    def anywhere(self, district: District) -> tuple[float, float]:
        south, west, north, east = district.box
        return round(self.rng.uniform(south, north), 6), round(self.rng.uniform(west, east), 6)

    def street_address(self, district: District, station: Station, road: str | None = None) -> str:
        road = road or self.rng.choice(district.roads)
        return f"广东省惠州市{district.name}{station.town}{road}{self.rng.randrange(1, 300)}号"

    def unique_name(self, name: str) -> str:
        seen = self.names.get(name, 0) + 1
        self.names[name] = seen
        return name if seen == 1 else f"{name}{seen}"

    # --- owners ----------------------------------------------------------------------------

    def unit(self, name: str, station_code: str, sector: str | None) -> OwningUnit:
        if name not in self.units:
            district, station = self.stations[station_code]
            lat, lon = self.near(district, station.latitude, station.longitude, 0.012)
            self.units[name] = OwningUnit(name, station_code, sector, lat, lon, self.street_address(district, station))
        return self.units[name]

    def sector_unit(self, district: District, sector: str) -> OwningUnit:
        look = LOOKS[sector]
        candidates = [(n, code) for n, code in LANDMARK_UNITS.get(sector, ()) if code.startswith(district.code)]
        for station in district.stations:
            candidates += [(t.format(town=station.town, district=district.short), station.code) for t in look.templates]
        name, station_code = self.rng.choice(candidates)
        return self.unit(name, station_code, sector)

    # --- streams and IDs -------------------------------------------------------------------

    def streams(self, cls: int, kind: str, district: District, installed: date, hd: bool | None) -> dict[str, object]:
        if kind == "checkpoint":
            main, sub = (1920, 1080, 25.0), (704, 576, 25.0)
        else:
            if hd is None:
                hd = self.rng.random() < HD_CHANCE[cls][installed.year >= 2012] + self.hd_bias[district.code]
            if hd:
                main = _pick(self.rng, HD_STREAMS)
                sub = self.rng.choice(((704, 576, 25.0), (640, 360, 25.0)))
            else:
                main = _pick(self.rng, OTHER_STREAMS)
                # Old analogue points (CIF and the like) have a single stream.
                sub = (352, 288, main[2]) if main[1] >= 576 else None
        fields: dict[str, object] = dict(zip(("main_width", "main_height", "main_fps"), main, strict=True))
        if sub is not None:
            fields |= dict(zip(("sub_width", "sub_height", "sub_fps"), sub, strict=True))
        return fields

    def gb_id(self, centre: str, industry: str, network: str, main_width: object, installed: date) -> str:
        analogue = main_width in (352, 704, 720) and installed.year < 2012 and self.rng.random() < 0.6
        self.serials[centre] = serial = self.serials.get(centre, 0) + 1
        type_code = "131" if analogue else "132"
        return gbid.build(
            centre=centre, industry=industry, type_code=type_code, network=NETWORK_DIGIT[network], serial=serial
        ).value

    # --- cameras ---------------------------------------------------------------------------

    def slots(self, cameras: int) -> list[Slot]:
        """(district, class, forced kind, install date, HD or None to draw) for every camera, in installation order."""
        targets = unit_targets()
        plan = new_class1(cameras, targets)
        rest = apportion(
            cameras - sum(sum(n.points) for n in plan.values()), [targets[d.code].total for d in DISTRICTS]
        )
        slots: list[Slot] = []
        for district, count in zip(DISTRICTS, rest, strict=True):
            new = plan[district.code]
            for year, points, checkpoints, hd in zip(NEW_YEARS, new.points, new.checkpoints, new.hd, strict=True):
                slots += [(district, 1, "checkpoint", self.day(year), True) for _ in range(checkpoints)]
                flags = [True] * hd + [False] * (points - checkpoints - hd)
                self.rng.shuffle(flags)
                slots += [(district, 1, None, self.day(year), flag) for flag in flags]
            counts = apportion(count, REMAINDER_SHARES)
            for cls, n in zip((1, 2, 3), counts, strict=True):
                slots += [
                    (district, cls, None, d, None) for d in self.install_dates(district, n, baseline_only=cls == 1)
                ]
        slots.sort(key=lambda slot: slot[3])
        return slots

    def camera(self, district: District, cls: int, kind: str | None, installed: date, hd: bool | None) -> CameraIn:
        rng = self.rng
        station = rng.choice(district.stations)
        road, cross = rng.sample(district.roads, 2)
        sector = owner = None
        sensitive_chance = SENSITIVE_CHANCE
        if cls == 1:
            network, networked_chance = "police", NETWORKED_CHANCE[1]
            kind = kind or _pick(rng, (("fixed", 0.62), ("ptz", 0.30), ("vehicle", 0.08)))
            owner, industry, labels = district.bureau, rng.choice(("00", "00", "00", "01")), ["治安监控"]
            at_county = kind == "checkpoint" or rng.random() < 0.15
            region = district.code if at_county else station.code
            if kind == "checkpoint":
                owner, labels = TRAFFIC_POLICE[1], ["治安卡口", "高清卡口"]
                name = f"{road}{district.short}{rng.choice(('出口', '入口'))}治安卡口"
                lat, lon = self.anywhere(district)
                address = f"广东省惠州市{district.name}{road}"
            elif kind == "vehicle":
                industry, labels = "03", ["移动视频", "警车"]
                name = f"巡逻警车粤L{rng.randrange(10000):04d}警"
                lat, lon = self.near(district, station.latitude, station.longitude, 0.02)
                address = None
            else:
                labels.append("路口" if industry == "00" else "社区")
                name = f"{road}与{cross}交叉口{rng.choice(DIRECTIONS)}向"
                lat, lon = self.near(district, station.latitude, station.longitude, 0.018)
                address = f"广东省惠州市{district.name}{station.town}{road}与{cross}交叉口"
        elif cls == 2:
            sector = _pick(rng, [(s.code, float(s.min_points)) for s in SECTORS])
            look, network = LOOKS[sector], "social"
            networked_chance, sensitive_chance = self.networked_share[sector], look.sensitive_chance
            unit = self.sector_unit(district, sector)
            owner, region, industry, labels = unit.name, unit.region, look.industry, list(look.labels)
            kind = _pick(rng, look.kinds)
            if kind == "bus":
                name = f"{rng.randrange(1, 90)}路公交车粤L{rng.randrange(10000, 99999)}"
            elif kind == "vehicle":
                name = f"{unit.name}押运车粤L{rng.randrange(10000, 99999)}"
            else:
                name = f"{unit.name}{rng.choice(look.spots)}"
            lat, lon = self.near(district, unit.latitude, unit.longitude, 0.0015)
            address = unit.address
        else:
            network, networked_chance, industry, labels = "local", NETWORKED_CHANCE[3], "01", ["三类点", "村居"]
            village = rng.choice(VILLAGES)
            unit = self.unit(f"{station.town}{village}村委会", station.code, None)
            owner, region = unit.name, unit.region
            kind = _pick(rng, (("fixed", 0.9), ("ptz", 0.1)))
            name = f"{station.town}{village}{rng.choice(('村口', '祠堂前', '商铺门口', '巷口', '停车场'))}"
            lat, lon = self.near(district, unit.latitude, unit.longitude, 0.004)
            address = unit.address
        streams = self.streams(cls, kind, district, installed, hd)
        centre = region if len(region) == 8 else region + "00"
        return CameraIn(
            gb_id=self.gb_id(centre, industry, network, streams["main_width"], installed),
            name=self.unique_name(name),
            cls=cls,
            network=network,
            region=region,
            owning_unit=owner,
            sector=sector,
            kind=kind,
            latitude=lat,
            longitude=lon,
            address=address,
            install_date=installed,
            retention_days=90 if kind == "checkpoint" else None,
            sensitive=rng.random() < sensitive_chance,
            networked=rng.random() < networked_chance,
            labels=labels,
            **streams,
        )


def generate(*, seed: int, cameras: int = 8000) -> GeneratedRegistry:
    """The registry for `seed`: pure, no database; every camera is a validated CameraIn."""
    generator = _Generator(seed)
    made = [generator.camera(*slot) for slot in generator.slots(cameras)]
    return GeneratedRegistry(seed=seed, cameras=made, units=list(generator.units.values()))


BATCH = 1000


async def load_registry(session: AsyncSession, registry: GeneratedRegistry, *, actor: str = "demo") -> None:
    """Insert the owning units and cameras with Core executemany inserts (the ORM path is ~15x slower).

    The regions, police units and sectors must be there already (`huizhou.load_huizhou`).
    """
    regions = dict((await session.execute(select(Region.code, Region.id))).tuples().all())
    sectors = dict(
        (await session.execute(select(Organisation.code, Organisation.id).where(Organisation.kind == "sector")))
        .tuples()
        .all()
    )
    unit_rows = [
        {"kind": "owning_unit", "code": owning_unit_code(unit.name), "name": unit.name,
         "region_id": regions[unit.region], "sector_id": sectors[unit.sector] if unit.sector else None}
        for unit in registry.units
    ]  # fmt: skip
    for start in range(0, len(unit_rows), BATCH):
        await session.execute(insert(Organisation.__table__), unit_rows[start : start + BATCH])
    owners = dict(
        (await session.execute(select(Organisation.name, Organisation.id).where(Organisation.kind != "sector")))
        .tuples()
        .all()
    )
    rows = []
    for camera in registry.cameras:
        row = camera.model_dump(exclude={"cls", "region", "owning_unit", "sector", "device"})
        row.update(
            {
                "class": camera.cls,
                "region_id": regions[camera.region],
                "owning_unit_id": owners[camera.owning_unit] if camera.owning_unit else None,
                "sector_id": sectors[camera.sector] if camera.sector else None,
            }
        )
        rows.append(row)
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(Camera.__table__), rows[start : start + BATCH])
    await audit.record(
        session, actor=actor, action="registry.generate", target="registry",
        detail={"seed": registry.seed, "cameras": len(rows), "owning_units": len(unit_rows)},
    )  # fmt: skip
