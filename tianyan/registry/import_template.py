"""An empty camera register to fill in: the import's columns under the headers the bureau's registers use
(required ones marked `*`), and for Excel a second sheet that says what each column takes."""

from __future__ import annotations

from typing import BinaryIO, Literal

from tianyan.registry import tabular
from tianyan.registry.importer import COLUMNS, REQUIRED

Language = Literal["zh-CN", "en"]

# The header each column gets in a Chinese template (all of them are aliases the import reads), and what it takes
# (in Chinese, in English).
GUIDE: dict[str, tuple[str, str, str]] = {
    "gb_id": ("国标编码", "20 位 GB/T 28181 编码，文件内不得重复", "20-digit GB/T 28181 ID, unique in the file"),
    "name": ("点位名称", "1–200 字", "1-200 characters"),
    "class": ("点位类别", "1、2 或 3（一类/二类/三类点）", "1, 2 or 3"),
    "network": ("所属网络", "police（公安网）、social（视频专网）或 local（局域网）", "police, social or local"),
    "region": ("行政区划代码", "系统中已有的行政区划代码，如 441302", "a region code already in Tianyan, e.g. 441302"),
    "owning_unit": (
        "建设单位",
        "单位名称；系统中没有的名称会新建为建设单位",
        "a name; an unknown name becomes a new owning unit",
    ),
    "sector": ("行业代码", "系统中已有的行业代码", "an industry sector code already in Tianyan"),
    "kind": (
        "摄像机类型",
        "fixed、ptz、checkpoint、vehicle、bus 或 other，空则为 fixed",
        "fixed, ptz, checkpoint, vehicle, bus or other (empty: fixed)",
    ),
    "main_width": ("主码流宽度", "像素，16–16384，与高度同填或同空", "pixels, 16-16384, with the height or not at all"),
    "main_height": ("主码流高度", "像素，16–16384", "pixels, 16-16384"),
    "main_fps": ("主码流帧率", "大于 0、不超过 240，如 25", "above 0, at most 240, e.g. 25"),
    "sub_width": ("子码流宽度", "同主码流", "as for the main stream"),
    "sub_height": ("子码流高度", "同主码流", "as for the main stream"),
    "sub_fps": ("子码流帧率", "同主码流", "as for the main stream"),
    "latitude": ("纬度", "WGS-84，−90…90，与经度同填或同空", "WGS-84, -90..90, with the longitude or not at all"),
    "longitude": ("经度", "WGS-84，−180…180", "WGS-84, -180..180"),
    "address": ("安装地址", "不超过 300 字", "up to 300 characters"),
    "install_date": ("安装日期", "YYYY-MM-DD", "YYYY-MM-DD"),
    "retention_days": (
        "录像保存天数",
        "1–3650；一类点不少于 30，二类点不少于 15",
        "1-3650; at least 30 for class 1, 15 for class 2",
    ),
    "sensitive": ("涉密", "是/否", "yes/no"),
    "networked": ("是否联网", "是/否，空则为是", "yes/no (empty: yes)"),
    "labels": ("标签", "多个标签用 ; 分隔", "labels separated by ;"),
    "device": ("所属设备", "系统中已登记的 NVR/DVR 国标编码", "GB ID of an NVR/DVR already registered"),
}


def headers(language: Language = "zh-CN") -> list[str]:
    """The template's header row; required columns end in `*`, which the import ignores."""
    names = [GUIDE[column][0] if language == "zh-CN" else column for column in COLUMNS]
    return [f"{name}*" if column in REQUIRED else name for name, column in zip(names, COLUMNS, strict=True)]


def write_template(out: BinaryIO, file_format: tabular.FileFormat, language: Language = "zh-CN") -> None:
    if file_format == "csv":
        writer = tabular.writer_for(out, "csv")
        writer.write(headers(language))
        writer.close()
        return
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "点位" if language == "zh-CN" else "cameras"
    sheet.append(headers(language))
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
    # Long GB IDs typed into a General cell turn into 4.41302E+19; a text column keeps every digit.
    sheet.column_dimensions["A"].number_format = "@"
    sheet.column_dimensions["A"].width = 24
    sheet.freeze_panes = "A2"
    # The import reads the first sheet only, so the guide can sit beside it.
    guide = workbook.create_sheet("填写说明" if language == "zh-CN" else "guide")
    guide.append(["列名", "必填", "填写要求"] if language == "zh-CN" else ["column", "required", "accepted values"])
    for cell in guide[1]:
        cell.font = bold
    yes = "是" if language == "zh-CN" else "yes"
    for header, column in zip(headers(language), COLUMNS, strict=True):
        text = GUIDE[column][1] if language == "zh-CN" else GUIDE[column][2]
        guide.append([header, yes if column in REQUIRED else "", text])
    guide.column_dimensions["A"].width = 16
    guide.column_dimensions["C"].width = 60
    workbook.save(out)
