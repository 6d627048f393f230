"""Every page renders in both languages with no key missing from the language shown: the administrator's pages,
then the auditor's, each in Chinese and in English, switching language on the page as a user does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

# Menu entries per account, in the order the console lists them (the role decides which appear).
ADMIN_PAGES = ("live", "playback", "map", "health", "workOrders", "plans", "users", "devices", "import")
AUDITOR_PAGES = ("audit",)
MENU_TEST_IDS = {"workOrders": "menu-workOrders"}
HEADINGS = {
    "zh-CN": {"live": "实时视频", "health": "运维质量", "users": "账户与权限", "audit": "审计日志"},
    "en": {"live": "Live view", "health": "Health & KPIs", "users": "Accounts & roles", "audit": "Audit log"},
}
LOCALES = Path(__file__).resolve().parents[2] / "console" / "src" / "locales"
# A key shown raw is one of the tables' own namespaces followed by dotted words ("live.tile.stalled"); other dotted
# words on a page are data (audit action codes such as auth.login, user names such as huiyang.operator).
NAMESPACES = sorted({key for path in LOCALES.glob("*.json") for key in json.loads(path.read_text("utf-8"))["en"]})
AUDIT_ACTIONS = set(json.loads((LOCALES / "audit.json").read_text("utf-8"))["en"]["audit"]["action_names"])
RAW_KEY = re.compile(rf"(?<![\w.])(?:{'|'.join(NAMESPACES)})(?:\.[a-zA-Z0-9_]+)+\b")


def visit_all(page: Page, pages: tuple[str, ...], language: str) -> None:
    menu = page.get_by_test_id("menu")
    for name in pages:
        menu.get_by_test_id(MENU_TEST_IDS.get(name, f"menu-{name}")).click()
        expect(page.locator(".el-main")).not_to_be_empty()
        if name in HEADINGS[language]:
            expect(page.locator(".el-header")).to_contain_text(HEADINGS[language][name])
        # Let the page's first requests answer, so strings that appear with data are rendered too.
        page.wait_for_load_state("networkidle")
        text = page.locator(".el-main").inner_text()
        raw = [word for word in RAW_KEY.findall(text) if word.replace(".", "_") not in AUDIT_ACTIONS]
        assert raw == [], f"{name} ({language}) shows raw keys"
    missing = page.evaluate("window.__tianyanMissingKeys")
    assert missing == [], f"keys missing in {language}"


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_page_renders_in_both_languages(open_page: Callable[..., Page], language: str) -> None:
    admin = open_page("admin", language=language)
    visit_all(admin, ADMIN_PAGES, language)
    auditor = open_page("auditor", language=language)
    visit_all(auditor, AUDITOR_PAGES, language)


def test_switching_language_on_a_page_changes_it_at_once(open_page: Callable[..., Page]) -> None:
    page = open_page("admin", language="zh-CN", path="/console/health")
    expect(page.get_by_test_id("kpi-tile").first).to_be_visible()
    expect(page.locator(".el-header")).to_contain_text("运维质量")
    page.get_by_test_id("language").click()
    english = page.get_by_role("option", name="English")
    expect(english).to_be_visible()
    english.click()
    expect(page.locator(".el-header")).to_contain_text("Health & KPIs")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # The choice is remembered: the next visit opens in English.
    page.reload()
    expect(page.locator(".el-header")).to_contain_text("Health & KPIs")
    assert page.evaluate("window.__tianyanMissingKeys") == []
