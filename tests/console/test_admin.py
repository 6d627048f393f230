"""Administration and audit in the console: a camera register imported with its bad rows listed by line, the
accounts with their roles, the devices with their channels, and the auditor searching the log and checking its
hash chain."""

from __future__ import annotations

import csv
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.console.conftest import Console

HEADER = ["国标编码", "点位名称", "点位类别", "所属网络", "行政区划代码", "安装地址"]
# Lines 2, 4 and 7 are good; line 3's GB ID has 19 digits, line 5's region does not exist, line 6 repeats line 2.
ROWS = [
    ["44130200001320700101", "江北导入测试一", "1", "police", "441302", "惠城区江北"],
    ["4413020000132070102", "编码少一位", "1", "police", "441302", ""],
    ["44130300001320700103", "淡水导入测试", "2", "social", "441303", "惠阳区淡水"],
    ["44130200001320700104", "区划不存在", "2", "social", "441399", ""],
    ["44130200001320700101", "编码重复", "1", "police", "441302", ""],
    ["44130200001320700106", "江北导入测试二", "3", "local", "441302", ""],
]
GOOD = ["44130200001320700101", "44130300001320700103", "44130200001320700106"]


def no_missing_translations(page: Page) -> None:
    assert page.evaluate("window.__tianyanMissingKeys") == []


def test_import_lists_every_bad_row_and_writes_the_good_ones(open_page, shot, console: Console, tmp_path: Path) -> None:
    register = tmp_path / "点位登记表.csv"
    with register.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([HEADER, *ROWS])
    page = open_page("admin", path="/console/admin/import")
    page.locator("input[type=file]").set_input_files(register)
    expect(page.get_by_test_id("import-file")).to_contain_text("点位登记表.csv")
    page.get_by_test_id("import-partial").click()
    page.get_by_test_id("import-start").click()

    outcome = page.get_by_test_id("import-outcome")
    expect(outcome).to_contain_text("跳过 3 个错误行")
    expect(page.get_by_test_id("import-created")).to_contain_text("3")
    expect(page.get_by_test_id("import-refused")).to_contain_text("3")
    rows = page.get_by_test_id("import-errors").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("3")
    expect(rows.nth(0)).to_contain_text("国标编码")
    expect(rows.nth(0)).to_contain_text("4413020000132070102")
    expect(rows.nth(0)).to_contain_text("20 digits")
    expect(rows.nth(1)).to_contain_text("行政区划代码")
    expect(rows.nth(1)).to_contain_text("unknown region code '441399'")
    expect(rows.nth(2)).to_contain_text("duplicate GB ID 44130200001320700101: already on line 2")
    assert rows.get_by_test_id("error-line").all_inner_texts() == ["3", "5", "6"]
    no_missing_translations(page)
    shot(page, "import")

    # The good rows are in the registry, as written.
    with console.api("admin") as api:
        for gb_id in GOOD:
            assert api.get(f"/api/v1/cameras/{gb_id}").status_code == 200, gb_id


def test_accounts_show_their_roles_and_devices_their_channels(open_page, shot) -> None:
    page = open_page("admin", path="/console/admin/users")
    table = page.get_by_test_id("users-table")
    for username, role in (("admin", "系统管理员"), ("huiyang.operator", "监看员"), ("auditor", "审计员"),
                           ("edu.industry", "行业用户")):  # fmt: skip
        row = table.locator("tr", has=page.get_by_test_id(f"user-{username}"))
        expect(row.get_by_test_id("user-role")).to_have_text(role)
    operator = table.locator("tr", has=page.get_by_test_id("user-huiyang.operator"))
    expect(operator).to_contain_text("惠阳区 441303")
    no_missing_translations(page)
    shot(page, "users")

    page.get_by_test_id("menu-devices").click()
    devices = page.get_by_test_id("devices-table")
    online = devices.locator("tr.el-table__row", has=page.get_by_test_id("device-state").filter(has_text="在线"))
    expect(online.first).to_be_visible(timeout=60_000)
    online.first.locator(".el-table__expand-icon").click()
    channels = page.get_by_test_id("channel-table").locator("tbody tr")
    expect(channels.first).to_contain_text("4413")
    no_missing_translations(page)
    shot(page, "devices")


def test_auditor_searches_the_log_and_verifies_the_chain(open_page, shot, console: Console) -> None:
    with console.api("admin"):
        pass  # the administrator's login, for the auditor to find
    page = open_page("auditor", path="/console/audit")
    page.get_by_test_id("audit-actor").fill("admin")
    page.get_by_test_id("audit-action").click()
    page.locator(".el-select-dropdown__item:visible", has_text="auth.login").click()
    page.get_by_test_id("audit-search").click()
    rows = page.get_by_test_id("audit-table").locator("tbody tr.el-table__row")
    expect(rows.first).to_contain_text("auth.login")
    for actor in rows.get_by_test_id("audit-row-actor").all_inner_texts():
        assert actor == "admin"
    expect(rows.first.get_by_test_id("audit-row-action")).to_have_text("登录")
    page.get_by_test_id("audit-verify").click()
    expect(page.get_by_test_id("audit-verdict")).to_contain_text("哈希链完整")
    no_missing_translations(page)
    shot(page, "audit")
