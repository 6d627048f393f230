"""GB/T 28181 20-digit IDs: parse, validate and build (centre code, industry, type, network, serial).

Layout (GB/T 28181-2016 appendix D): digits 1-8 centre code (province 2, city 2,
county 2, grassroots unit 2), 9-10 industry, 11-13 type, 14 network, 15-20 serial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tianyan.core.errors import InvalidInput

# GB/T 2260 province-level codes; a centre code must start with one of them.
PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}

INDUSTRIES: dict[str, str] = {
    "00": "社会治安路面接入",
    "01": "社会治安社区接入",
    "02": "社会治安内部接入",
    "03": "社会治安其他接入",
    "04": "交通路面接入",
    "05": "交通卡口接入",
    "06": "交通内部接入",
    "07": "交通其他接入",
    "08": "城市管理接入",
    "09": "卫生环保接入",
    "10": "商检海关接入",
    "11": "教育部门接入",
    "40": "农林牧渔业接入",
    "41": "采矿企业接入",
    "42": "制造企业接入",
    "43": "冶金企业接入",
    "44": "电力企业接入",
    "45": "燃气企业接入",
    "46": "建筑企业接入",
    "47": "物流企业接入",
    "48": "邮政企业接入",
    "49": "信息企业接入",
    "50": "住宿和餐饮业接入",
    "51": "金融企业接入",
    "52": "房地产业接入",
    "53": "商务服务业接入",
    "54": "水利企业接入",
    "55": "娱乐企业接入",
}

TYPES: dict[str, str] = {
    "111": "DVR",
    "112": "视频服务器",
    "113": "编码器",
    "114": "解码器",
    "115": "视频切换矩阵",
    "116": "音频切换矩阵",
    "117": "报警控制器",
    "118": "NVR",
    "119": "HVR",
    "131": "摄像机",
    "132": "网络摄像机 (IPC)",
    "133": "显示器",
    "134": "报警输入设备",
    "135": "报警输出设备",
    "136": "语音输入设备",
    "137": "语音输出设备",
    "138": "移动传输设备",
    "139": "其他外围设备",
    "200": "中心信令控制服务器 (SIP 服务器/平台)",
    "201": "Web 应用服务器",
    "202": "媒体分发服务器",
    "203": "代理服务器",
    "204": "安全服务器",
    "205": "报警服务器",
    "206": "数据库服务器",
    "207": "GIS 服务器",
    "208": "管理服务器",
    "209": "接入网关",
    "210": "媒体存储服务器",
    "211": "信令安全路由网关",
    "215": "业务分组",
    "216": "虚拟组织",
    "300": "中心用户",
    "400": "终端用户",
}

NETWORKS: dict[str, str] = {
    **{d: "监控报警专网" for d in "01234"},
    "5": "公安信息网",
    "6": "政务网",
    "7": "Internet",
    "8": "社会资源接入网",
    "9": "预留",
}

# Which of our three networks a network digit implies, where it implies one.
NETWORK_KIND: dict[str, str] = {**{d: "police" for d in "012345"}, "8": "social"}

# [0-9], not \d: \d also matches full-width and other Unicode digits, which no device sends.
_DIGITS = re.compile(r"[0-9]{20}")


def _industry_name(code: str) -> str:
    if code in INDUSTRIES:
        return INDUSTRIES[code]
    value = int(code)
    if 12 <= value <= 39:
        return "公安行业预留"
    if 56 <= value <= 79:
        return "非公安行业预留"
    return "预留"


def _type_category(code: int) -> str:
    if 111 <= code <= 130:
        return "front-end main device"
    if 131 <= code <= 199:
        return "front-end peripheral"
    if 200 <= code <= 299:
        return "platform device"
    if 300 <= code <= 399:
        return "centre user"
    if 400 <= code <= 499:
        return "terminal user"
    return "extension"


@dataclass(frozen=True)
class GbId:
    """A validated 20-digit GB/T 28181 ID."""

    value: str

    @property
    def centre(self) -> str:
        return self.value[0:8]

    @property
    def province(self) -> str:
        return self.value[0:2]

    @property
    def city(self) -> str:
        return self.value[2:4]

    @property
    def county(self) -> str:
        return self.value[4:6]

    @property
    def grassroots(self) -> str:
        return self.value[6:8]

    @property
    def industry(self) -> str:
        return self.value[8:10]

    @property
    def type_code(self) -> str:
        return self.value[10:13]

    @property
    def network(self) -> str:
        return self.value[13]

    @property
    def serial(self) -> str:
        return self.value[14:20]

    @property
    def region_code(self) -> str:
        """The GB/T 2260 code the centre code names: county, else city, else province."""
        if self.county != "00":
            return self.centre[:6]
        if self.city != "00":
            return self.centre[:4] + "00"
        return self.province + "0000"

    @property
    def realm(self) -> str:
        """SIP digest realm: the first 10 digits of a platform ID."""
        return self.value[:10]

    @property
    def is_camera(self) -> bool:
        return self.type_code in {"131", "132"}

    def describe(self) -> dict[str, Any]:
        type_int = int(self.type_code)
        return {
            "id": self.value,
            "centre": {
                "code": self.centre,
                "province": self.province,
                "province_name": PROVINCES[self.province],
                "city": self.city,
                "county": self.county,
                "grassroots": self.grassroots,
                "region_code": self.region_code,
            },
            "industry": {"code": self.industry, "name": _industry_name(self.industry)},
            "type": {
                "code": self.type_code,
                "name": TYPES.get(self.type_code, "扩展类型"),
                "category": _type_category(type_int),
            },
            "network": {
                "code": self.network,
                "name": NETWORKS[self.network],
                "kind": NETWORK_KIND.get(self.network),
            },
            "serial": self.serial,
        }

    def __str__(self) -> str:
        return self.value


def parse(text: str) -> GbId:
    """Validate a GB/T 28181 ID, naming the field that is wrong."""
    if not isinstance(text, str):
        raise InvalidInput("GB ID must be a string of 20 digits")
    value = text.strip()
    if len(value) != 20:
        raise InvalidInput(f"GB ID must have 20 digits, got {len(value)}: {value!r}")
    if not _DIGITS.fullmatch(value):
        bad = next(i for i, ch in enumerate(value) if not ch.isdigit() or not ch.isascii())
        raise InvalidInput(f"GB ID must be digits only; position {bad + 1} is {value[bad]!r}")
    province = value[0:2]
    if province not in PROVINCES:
        raise InvalidInput(f"centre code: {province!r} (digits 1-2) is not a GB/T 2260 province code")
    city, county = value[2:4], value[4:6]
    if city == "00" and county != "00":
        raise InvalidInput(f"centre code: county {county!r} (digits 5-6) given without a city (digits 3-4)")
    if (city == "00" or county == "00") and value[6:8] != "00":
        raise InvalidInput("centre code: grassroots unit (digits 7-8) given without a city and county")
    type_code = int(value[10:13])
    if type_code < 111:
        raise InvalidInput(f"type: {value[10:13]!r} (digits 11-13) is below 111, the first type code")
    return GbId(value)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except InvalidInput:
        return False
    return True


def build(
    *,
    centre: str,
    industry: str = "00",
    type_code: str = "132",
    network: str = "0",
    serial: int | str = 1,
) -> GbId:
    """Assemble an ID from its fields; a 6-digit GB/T 2260 region code is padded to a centre code."""
    centre = str(centre)
    if len(centre) == 6 and centre.isdigit():
        centre += "00"
    if len(centre) != 8 or not centre.isdigit():
        raise InvalidInput(f"centre code must be 8 digits (or a 6-digit GB/T 2260 code), got {centre!r}")
    if len(industry) != 2 or not industry.isdigit():
        raise InvalidInput(f"industry must be 2 digits, got {industry!r}")
    if len(type_code) != 3 or not type_code.isdigit():
        raise InvalidInput(f"type must be 3 digits, got {type_code!r}")
    if len(network) != 1 or not network.isdigit():
        raise InvalidInput(f"network must be 1 digit, got {network!r}")
    serial_text = str(serial)
    if not serial_text.isdigit() or len(serial_text) > 6:
        raise InvalidInput(f"serial must be 0-999999, got {serial!r}")
    return parse(f"{centre}{industry}{type_code}{network}{serial_text.zfill(6)}")
