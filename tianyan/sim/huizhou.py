"""The Huizhou region tree, police units and industry sectors of the 2012-2014 plan, as data, and their loader.

Codes: districts and counties carry their GB/T 2260 codes; the two functional zones
(大亚湾区, 仲恺区) have none, so, as the plan says the deploying bureau must, we assign
441371 and 441372 and mark them locally assigned. Police stations are county code + 2
digits (the grassroots part of a GB/T 28181 centre code). Police units carry 12-digit
codes shaped like 公安机关机构代码 (region code + unit number + 0000); they are
illustrative, not the official ones. Coordinates are approximate town centres and a
box around each district, good enough to put cameras on a map in the right place.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.registry import service

PLAN_ID = "huizhou-2012-2014"
PROVINCE = ("440000", "广东省")
CITY = ("441300", "惠州市")
CITY_BUREAU = ("441300000000", "惠州市公安局")


@dataclass(frozen=True)
class Station:
    """A police station (派出所) area: the grassroots level of the region tree."""

    code: str
    town: str
    latitude: float
    longitude: float

    @property
    def name(self) -> str:
        return f"{self.town}派出所"


@dataclass(frozen=True)
class District:
    """A county-level unit of the plan and its geography (its targets come from the plan file itself)."""

    code: str
    name: str
    bureau: str
    locally_assigned: bool
    # south, west, north, east in degrees (WGS-84, approximate)
    box: tuple[float, float, float, float]
    stations: tuple[Station, ...]
    roads: tuple[str, ...]

    @property
    def short(self) -> str:
        return self.name[:-1]

    @property
    def bureau_code(self) -> str:
        return f"{self.code}000000"

    def contains(self, latitude: float, longitude: float) -> bool:
        south, west, north, east = self.box
        return south <= latitude <= north and west <= longitude <= east


DISTRICTS: tuple[District, ...] = (
    District(
        "441302", "惠城区", "惠州市公安局惠城区分局", False, (22.98, 114.28, 23.25, 114.62),
        (Station("44130201", "江北", 23.113, 114.412), Station("44130202", "桥东", 23.093, 114.425),
         Station("44130203", "桥西", 23.083, 114.398), Station("44130204", "河南岸", 23.058, 114.430)),
        ("江北大道", "文昌一路", "云山西路", "麦地路", "下埔路", "演达大道", "河南岸大道", "惠州大道", "三环南路"),
    ),
    District(
        "441303", "惠阳区", "惠州市公安局惠阳区分局", False, (22.65, 114.30, 22.95, 114.62),
        (Station("44130301", "淡水", 22.790, 114.470), Station("44130302", "秋长", 22.815, 114.395),
         Station("44130303", "新圩", 22.870, 114.405)),
        ("开城大道", "人民一路", "白云路", "叶挺大道", "秋长大道", "新圩大道", "惠南大道"),
    ),
    District(
        "441322", "博罗县", "博罗县公安局", False, (23.05, 113.85, 23.60, 114.55),
        (Station("44132201", "罗阳", 23.173, 114.290), Station("44132202", "石湾", 23.145, 113.995),
         Station("44132203", "园洲", 23.100, 113.975)),
        ("博罗大道", "罗阳商业街", "北门路", "石湾大道", "园洲大道", "罗浮大道", "广汕公路"),
    ),
    District(
        "441323", "惠东县", "惠东县公安局", False, (22.60, 114.60, 23.35, 115.40),
        (Station("44132301", "平山", 22.985, 114.720), Station("44132302", "吉隆", 22.955, 114.980),
         Station("44132303", "稔山", 22.800, 114.765)),
        ("华侨城大道", "惠东大道", "平山大道", "吉隆大道", "稔山大道", "东华路", "广汕公路"),
    ),
    District(
        "441324", "龙门县", "龙门县公安局", False, (23.45, 113.85, 23.95, 114.45),
        (Station("44132401", "龙城", 23.727, 114.255), Station("44132402", "永汉", 23.530, 114.020)),
        ("龙城大道", "迎宾大道", "西林路", "永汉大道", "南昆山大道", "城东路"),
    ),
    District(
        "441371", "大亚湾区", "惠州市公安局大亚湾经济技术开发区分局", True, (22.55, 114.40, 22.85, 114.68),
        (Station("44137101", "澳头", 22.715, 114.545), Station("44137102", "西区", 22.765, 114.460),
         Station("44137103", "霞涌", 22.750, 114.625)),
        ("石化大道", "龙山六路", "澳头大道", "中兴五路", "西区大道", "霞涌大道"),
    ),
    District(
        "441372", "仲恺区", "惠州市公安局仲恺高新区分局", True, (22.95, 114.18, 23.15, 114.42),
        (Station("44137201", "陈江", 23.045, 114.330), Station("44137202", "惠环", 23.065, 114.355),
         Station("44137203", "沥林", 23.010, 114.240)),
        ("仲恺大道", "陈江大道", "惠风东路", "和畅路", "惠环大道", "沥林大道", "潼湖大道"),
    ),
)  # fmt: skip

# City-level police units beside the district bureaus (the plan's baseline counts 交警, 治安卡口, 监管场所 apart).
CITY_POLICE_UNITS: tuple[tuple[str, str], ...] = (
    ("441300010000", "惠州市公安局治安管理支队"),
    ("441300020000", "惠州市公安局交通警察支队"),
    ("441300030000", "惠州市公安局监管支队"),
)
TRAFFIC_POLICE = CITY_POLICE_UNITS[1]


@dataclass(frozen=True)
class Sector:
    """An industry sector of the plan's 社会资源整合 table; `lead` is the lead department, verbatim."""

    code: str
    lead: str
    scope: str
    min_share: float
    min_points: int


SECTORS: tuple[Sector, ...] = tuple(
    Sector(f"SEC{i:02d}", lead, scope, share, points)
    for i, (lead, scope, share, points) in enumerate(
        (
            ("市经济和信息化局", "大中型商贸中心、商贸服务业、商贸流通业、相关工业", 0.90, 2100),
            ("市教育局", "高校、中小学、幼儿园", 0.80, 3200),
            ("市科技局", "直属单位", 0.60, 640),
            ("市公安局", "武器弹药、易燃易爆、剧毒、放射性、易制毒、菌种毒种单位重要部位", 0.60, 640),
            ("市司法局", "劳教场所、监狱（监管区外）", 0.30, 640),
            ("市房产管理局、市住房和城乡建设局", "住宅小区、公共建筑", 0.40, 3200),
            ("市交通运输局", "港口、车站、码头、高速公路、隧道、桥梁、公共交通工具", 0.90, 3200),
            ("市水务局", "江河堤防、水库、人工湖、防洪排涝区、水利设施", 0.80, 960),
            ("市文广新局", "娱乐场所、网吧、博物馆、纪念馆、展览馆、文物保护单位", 0.60, 2560),
            ("市卫生局", "医院、卫生院", 0.90, 3200),
            ("电力部门", "电力传输、变电站", 0.60, 1200),
            ("市国资委和石化部门", "炼油厂、油库、加油站、输油气管线", 0.90, 1280),
            ("惠州广播电视传媒集团", "广播电台、电视台", 0.60, 640),
            ("市体育局", "体育比赛场馆", 0.80, 1280),
            ("市旅游局", "星级饭店、重点旅游区域", 0.90, 1600),
            ("市档案局", "档案馆、库", 0.40, 320),
            ("市银监局、金融工作局、人民银行惠州市中心支行", "金库、货币票据存放、押运车辆、金融营业场所", 0.40, 1600),
        ),
        start=1,
    )
)

SECTOR_BY_LEAD = {sector.lead: sector for sector in SECTORS}
DISTRICT_BY_CODE = {district.code: district for district in DISTRICTS}


def district_of(region_code: str) -> District:
    """The district a county (6-digit) or station (8-digit) code belongs to."""
    return DISTRICT_BY_CODE[region_code[:6]]


async def load_huizhou(session: AsyncSession) -> None:
    """Add the region tree, the police units and the 17 sectors (flushes; the caller commits)."""
    await service.add_region(session, code=PROVINCE[0], name=PROVINCE[1], level="province")
    await service.add_region(session, code=CITY[0], name=CITY[1], level="city", parent_code=PROVINCE[0])
    await service.add_organisation(
        session, kind="police_unit", code=CITY_BUREAU[0], name=CITY_BUREAU[1], region_code=CITY[0]
    )
    for code, name in CITY_POLICE_UNITS:
        await service.add_organisation(
            session, kind="police_unit", code=code, name=name, region_code=CITY[0], parent_code=CITY_BUREAU[0]
        )
    for district in DISTRICTS:
        await service.add_region(
            session, code=district.code, name=district.name, level="county", parent_code=CITY[0],
            locally_assigned=district.locally_assigned,
        )  # fmt: skip
        await service.add_organisation(
            session, kind="police_unit", code=district.bureau_code, name=district.bureau, region_code=district.code,
            parent_code=CITY_BUREAU[0],
        )  # fmt: skip
        for station in district.stations:
            await service.add_region(
                session, code=station.code, name=station.name, level="station", parent_code=district.code,
                locally_assigned=district.locally_assigned,
            )  # fmt: skip
    for sector in SECTORS:
        await service.add_organisation(session, kind="sector", code=sector.code, name=sector.lead, region_code=CITY[0])


# Well-known owning units per sector and the station area they sit in (the generator adds town-level ones).
LANDMARK_UNITS: dict[str, tuple[tuple[str, str], ...]] = {
    "SEC01": (("惠州华贸中心", "44130201"), ("TCL工业园", "44137202"), ("惠州港惠物流园", "44137102")),
    "SEC02": (
        ("惠州市第一中学", "44130201"), ("惠州市第三中学", "44130203"), ("惠州市第八中学", "44130202"),
        ("惠州学院", "44130204"), ("惠阳高级中学", "44130301"), ("博罗中学", "44132201"),
        ("惠东高级中学", "44132301"), ("龙门县高级中学", "44132401"), ("大亚湾第一中学", "44137101"),
        ("仲恺中学", "44137201"),
    ),
    "SEC03": (("惠州市科技馆", "44130201"), ("仲恺高新区科技创新中心", "44137202")),
    "SEC04": (("惠州市疾病预防控制中心菌毒种保藏室", "44130203"),),
    "SEC05": (("广东省惠州监狱", "44130204"), ("惠州市强制隔离戒毒所", "44130302")),
    "SEC06": (("惠州市民服务中心", "44130201"),),
    "SEC07": (
        ("惠州火车站", "44130204"), ("惠州南站", "44130301"), ("惠州汽车总站", "44130201"),
        ("惠州港荃湾港区", "44137101"), ("惠州公交集团", "44130202"),
    ),
    "SEC08": (
        ("白盆珠水库", "44132301"), ("显岗水库", "44132201"), ("天堂山水库", "44132401"),
        ("东江惠州段堤防", "44130201"), ("红花湖水库", "44130203"),
    ),
    "SEC09": (("惠州市博物馆", "44130201"), ("惠州市图书馆", "44130201"), ("叶挺纪念馆", "44130302"),
              ("东坡祠", "44130203")),
    "SEC10": (
        ("惠州市中心人民医院", "44130202"), ("惠州市第一人民医院", "44130203"), ("惠州市第三人民医院", "44130204"),
        ("惠阳区人民医院", "44130301"), ("博罗县人民医院", "44132201"), ("惠东县人民医院", "44132301"),
        ("龙门县人民医院", "44132401"), ("大亚湾区人民医院", "44137101"), ("仲恺高新区人民医院", "44137201"),
    ),
    "SEC11": (("惠州供电局调度大楼", "44130201"), ("博罗500kV变电站", "44132201")),
    "SEC12": (("中海油惠州石化", "44137101"), ("中海壳牌石油化工", "44137103"), ("惠州港油库", "44137102")),
    "SEC13": (("惠州广播电视台", "44130201"), ("高榜山电视发射塔", "44130203")),
    "SEC14": (("惠州奥林匹克体育场", "44130204"), ("惠州市体育馆", "44130203"), ("惠州游泳跳水馆", "44130201")),
    "SEC15": (
        ("惠州西湖风景名胜区", "44130203"), ("罗浮山风景名胜区", "44132201"), ("巽寮湾旅游度假区", "44132303"),
        ("南昆山生态旅游区", "44132402"), ("惠州宾馆", "44130203"),
    ),
    "SEC16": (("惠州市档案馆", "44130201"),),
    "SEC17": (("人民银行惠州市中心支行", "44130201"), ("中国银行惠州分行", "44130202"),
              ("中国工商银行惠州分行", "44130203")),
}  # fmt: skip
