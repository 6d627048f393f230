"""The KPI renderers on a hand-built month of Huizhou: the numbers a reader checks appear, right, in the terminal
table, the JSON, the workbook read back with openpyxl and the PDF's text (pdftotext)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import shutil
import subprocess

import pytest
from matplotlib import font_manager
from openpyxl import load_workbook

from tests.health.report_samples import DISTRICTS, sample_document
from tianyan.health.kpi.model import BY_DISTRICT
from tianyan.health.reports import pdf, pdf_layout, table, xlsx
from tianyan.health.reports.json_out import as_dict
from tianyan.health.reports.order_stats import OrderStats, OrderSummary


def pdf_text(body: bytes) -> str:
    """The PDF's text laid out as printed (one table row per line)."""
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.fail("pdftotext is required to read the PDF reports back (Debian: apt-get install poppler-utils)")
    assert body.startswith(b"%PDF-")
    done = subprocess.run([tool, "-layout", "-enc", "UTF-8", "-", "-"], input=body, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def line_with(text: str, *words: str) -> str:
    """The one line holding every word, in order."""
    pattern = re.compile(r".*".join(re.escape(w) for w in words))
    found = [line for line in text.splitlines() if pattern.search(line)]
    assert found, f"no line holds {words}"
    return found[0]


def test_terminal_table_prints_figures_verdicts_groups_and_orders() -> None:
    text = table.as_table(sample_document())
    assert text.startswith("视频监控系统运行月报 2024年5月")
    assert "期间 period: 2024-05-01 – 2024-05-31 Asia/Shanghai" in text
    assert re.search(r"在线率 online rate\s+93\.1%\s+931 of 1000 online now", text)
    assert re.search(r"在线率 online rate\s+class 1\s+95\.0%\s+93\.1%\s+600\s+fail 未达标\s+12", text)
    assert re.search(r"龙门县\s+80\s+77\.5%\s+72\.5%\s+90\.2%", text)
    assert re.search(r"仲恺区\s+16\s+100\.0%\s+93\.8%\s+-\s", text)  # no recordings planned: no rate
    assert re.search(r"龙门县电信分公司\s+M-LM\s+offline 离线\s+30\s+18\s+14\s+36\.0", text)
    assert re.search(r"合计 total\s+51\s+34\s+20\s+24\.2", text)


def test_json_keeps_fractions_and_every_section() -> None:
    data = json.loads(json.dumps(as_dict(sample_document()), ensure_ascii=False))
    assert data["figures"]["online_rate"] == 0.9312 and data["figures"]["cameras"] == 1000
    assert data["period"] == {"from": "2024-04-30T16:00:00+00:00", "to": "2024-05-31T16:00:00+00:00",
                              "label": "2024-05-01 – 2024-05-31 Asia/Shanghai"}  # fmt: skip
    assert data["plan"]["id"] == "huizhou-2012-2014"
    assert [v["status"] for v in data["verdicts"]] == ["fail", "pass", "n/a"]
    districts = data["breakdowns"][BY_DISTRICT]
    assert [d["label"] for d in districts] == [name for name, *_ in DISTRICTS]
    assert districts[4]["figures"]["online_rate"] == 0.775
    assert districts[6]["figures"]["recording_completeness"] is None
    assert len(data["trend"]) == 31 and data["trend"][14] == {
        "day": "2024-05-15",
        "figures": data["trend"][14]["figures"],
    }
    assert data["trend"][14]["figures"]["online_rate"] == 0.8012
    assert len(data["worst"]) == 20 and data["worst"][0]["gb_id"] == "44130200001320000001"
    orders = data["work_orders"]
    assert orders["total"] == {"unit_code": None, "unit": None, "fault": None, "opened": 51, "closed": 34,
                               "open_now": 20, "mttr_s": round((55 + 120 + 648) * 3600 / 34, 1)}  # fmt: skip
    assert [f["fault"] for f in orders["by_fault"]] == ["offline", "vqd", "retention"]
    assert orders["by_fault"][2]["mttr_s"] is None


def test_workbook_sheets_numbers_and_native_charts() -> None:
    book = load_workbook(io.BytesIO(xlsx.as_xlsx(sample_document())))
    assert book.sheetnames == ["概要 Summary", "按辖区 · By district", "按行业 · By sector", "每日趋势 · Daily trend",
                               "问题点位 · Worst cameras", "工单 Work orders"]  # fmt: skip
    summary = book["概要 Summary"]
    cells = {c.value: c for row in summary.iter_rows() for c in row if c.value is not None}
    fail = cells["fail 未达标"]
    assert fail.fill.fgColor.rgb.endswith("FFC7CE") and cells["pass 达标"].fill.fgColor.rgb.endswith("C6EFCE")
    online = next(row for row in summary.iter_rows(values_only=True) if row[0] == "在线率 online rate")
    assert online[1] == 0.9312

    districts = book["按辖区 · By district"]
    rows = list(districts.iter_rows(values_only=True))
    assert rows[0][:3] == ("group", "cameras", "在线率 online rate")
    assert rows[5][:5] == ("龙门县", 80, 0.775, 0.725, 0.9025)
    assert rows[8][0] == "合计 total" and rows[8][2] == 0.9312
    assert districts["C6"].number_format == "0.0%"
    (chart,) = districts._charts
    assert type(chart).__name__ == "BarChart"
    refs = [s.val.numRef.f for s in chart.series]
    # online, integrity and completeness of the seven districts; the total row is not a bar
    assert refs == [f"'按辖区 · By district'!${c}$2:${c}$8" for c in "CDE"]

    trend = book["每日趋势 · Daily trend"]
    assert trend["A16"].value == "2024-05-15" and trend["C16"].value == 0.8012
    (line,) = trend._charts
    assert type(line).__name__ == "LineChart" and line.series[0].val.numRef.f.endswith("$C$2:$C$32")

    worst = list(book["问题点位 · Worst cameras"].iter_rows(values_only=True))
    assert len(worst) == 21 and worst[1][0] == "44130200001320000001" and worst[1][5] == 0.05

    orders = list(book["工单 Work orders"].iter_rows(values_only=True))
    assert ("offline 离线", 42, 28, 17, 25.1) in [row[:5] for row in orders]
    assert ("龙门县电信分公司", "M-LM", "offline 离线", 30, 18, 14, 36.0) in [row[:7] for row in orders]
    assert len(book["工单 Work orders"]._charts) == 1 and len(summary._charts) == 1


def test_pdf_has_cover_verdicts_charts_and_tables_in_chinese() -> None:
    body = pdf.as_pdf(sample_document())
    text = pdf_text(body)
    pages = text.count("\f")
    assert pages >= 5
    assert "视频监控系统运行月报 2024年5月" in text and "Monthly report 2024-05" in text
    assert "惠州市 (441300) (1000 cameras)" in text and "2024-05-01 – 2024-05-31 Asia/Shanghai" in text
    assert "huizhou-2012-2014" in text
    line_with(text, "在线率 online", "class 1", "95.0%", "93.1%", "600", "fail 未达标", "12")
    line_with(text, "Online rate by district: lowest 龙门县 77.5% (80 cameras)")
    # every district in the table under its chart, with its figures
    for name, cameras, online, integrity, _ in DISTRICTS:
        line_with(text, name, str(cameras), f"{online:.1%}", f"{integrity:.1%}")
    line_with(text, "交通", "250", "86.4%", "82.4%", "95.0%")
    assert "每日趋势 · Daily trend" in text
    line_with(text, "在线率 online: lowest 80.1% on 2024-05-15, highest 97.1% on 2024-05-10")
    line_with(text, "龙门县电信分公司", "M-LM", "offline 离线", "30", "18", "14", "36.0")
    line_with(text, "44130200001320000020", "龙门县龙城街道路口 20", "81.0%", "72.9%")


def test_pdf_without_plan_trend_or_orders_and_a_table_across_pages() -> None:
    doc = sample_document(plan=False, with_trend=False, worst_count=120)
    empty = OrderStats("", "", "", 0, 0, 0, 0.0)
    doc = dataclasses.replace(doc, orders=OrderSummary(rows=[], by_fault=[], by_unit=[], total=empty))
    text = pdf_text(pdf.as_pdf(doc))
    assert "No plan is configured" in text and "Daily trend" not in text
    assert "In the period 0 orders were opened and 0 closed" in text
    assert "Worst cameras (continued)" in text
    for n in (1, 60, 120):
        line_with(text, f"44130200001320{n:06d}", f"路口 {n}")


def test_pdf_renders_without_a_cjk_font_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    latin_only = [f for f in font_manager.fontManager.ttflist if f.name not in pdf_layout.CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", latin_only)
    monkeypatch.setattr(pdf_layout, "CJK_FILES", ())
    pdf_layout.cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=pdf_layout.__name__):
            body = pdf.as_pdf(sample_document(with_trend=False, worst_count=3))
    finally:
        pdf_layout.cjk_font.cache_clear()
    assert any("no CJK font found" in r.getMessage() for r in caplog.records)
    assert "Monthly report 2024-05" in pdf_text(body)
