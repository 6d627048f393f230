"""Logging in to the console: the password form, one-time codes (enrolled from the console itself), the lockout
message, the menu cut to the account's role, and an expired session sending the user back to the form."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyotp
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import Console, new_context

STRONG_PASSWORD = "Tianyan-Console-2026!x"


def fill_login(page: Page, username: str, password: str) -> None:
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def create_user(console: Console, username: str, role: str = "operator") -> None:
    with console.api("admin") as admin:
        response = admin.post(
            "/api/v1/users",
            json={"username": username, "password": STRONG_PASSWORD, "role": role, "display_name": username,
                  "scope": {"all_regions": True}},
        )  # fmt: skip
        assert response.status_code == 201, response.text


def test_password_login_shows_only_what_the_role_allows(browser: Browser, console: Console, shot) -> None:
    context = new_context(browser, console)
    page = context.new_page()
    page.goto("/console/live")
    # Not logged in: the login form, which remembers where the user was going.
    expect(page).to_have_url("/console/login?next=/live")
    shot(page, "login")
    fill_login(page, "admin", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("用户名或密码错误")
    fill_login(page, "admin", console.passwords["admin"])
    expect(page).to_have_url("/console/live")
    menu = page.get_by_test_id("menu")
    expect(menu.get_by_test_id("menu-users")).to_be_visible()
    # Separation of duties: the administrator does not read the audit log.
    expect(menu.get_by_test_id("menu-audit")).to_have_count(0)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url("/console/login")
    # The session cookie is gone: the API refuses the old session.
    assert page.request.get("/api/v1/auth/me").status == 401

    fill_login(page, "huiyang.operator", console.passwords["huiyang.operator"])
    expect(page).to_have_url("/console/live")
    expect(menu.get_by_test_id("menu-live")).to_be_visible()
    for hidden in ("users", "devices", "import", "audit", "health"):
        expect(menu.get_by_test_id(f"menu-{hidden}")).to_have_count(0)
    # A page the role does not allow, typed into the address bar, is not shown; the API refuses it anyway.
    page.goto("/console/admin/users")
    expect(page).to_have_url("/console/live")
    assert page.request.get("/api/v1/users").status == 403
    # The scope: every camera the operator can list is in 惠阳区 (441303).
    listed = page.request.get("/api/v1/cameras?limit=1000").json()
    assert listed["items"] and all(c["region"].startswith("441303") for c in listed["items"])
    context.close()


def test_totp_enrolled_in_the_console_is_asked_for_at_login(browser: Browser, console: Console) -> None:
    create_user(console, "totp.operator")
    context = new_context(browser, console, language="en")
    page = context.new_page()
    page.goto("/console/")
    fill_login(page, "totp.operator", STRONG_PASSWORD)
    expect(page).to_have_url("/console/live")
    page.get_by_test_id("user-menu").click()
    page.get_by_text("Turn on TOTP").click()
    secret = page.get_by_test_id("totp-secret")
    expect(secret).not_to_be_empty()
    totp = pyotp.TOTP(secret.inner_text())
    # The previous step's code (one step of drift is allowed), so the login below can use the current step: a code
    # once used is never taken again. Not in a step's last seconds, or the platform would see it two steps old.
    left_in_step = 30 - time.time() % 30
    if left_in_step < 8:
        time.sleep(left_in_step + 0.2)
    page.get_by_test_id("totp-confirm-code").fill(totp.at(datetime.now(UTC) - timedelta(seconds=30)))
    page.get_by_test_id("totp-confirm").click()
    expect(page.get_by_text("TOTP is on; the next login asks for a code")).to_be_visible()
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()

    fill_login(page, "totp.operator", STRONG_PASSWORD)
    expect(page.get_by_test_id("login-error")).to_contain_text("enter the code")
    page.get_by_test_id("login-totp").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username, password or code")
    page.get_by_test_id("login-totp").fill(totp.now())
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url("/console/live")
    context.close()


def test_lockout_and_an_expired_session_are_explained(browser: Browser, console: Console) -> None:
    create_user(console, "lock.operator")
    context = new_context(browser, console)
    page = context.new_page()
    page.goto("/console/login")
    fill_login(page, "lock.operator", "wrong-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("用户名或密码错误")
    for _ in range(3):
        wrong = {"username": "lock.operator", "password": "wrong-password"}
        assert page.request.post("/api/v1/auth/login", data=wrong).status == 401
    # The fifth failure locks the account, and the form says until when.
    fill_login(page, "lock.operator", "wrong-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("账户已锁定至")
    # Even the right password is refused while locked.
    fill_login(page, "lock.operator", STRONG_PASSWORD)
    expect(page.get_by_test_id("login-error")).to_contain_text("账户已锁定至")

    fill_login(page, "huiyang.operator", console.passwords["huiyang.operator"])
    expect(page).to_have_url("/console/live")
    # The session ends under the page (as when it expires): coming back to the window brings the login form, saying
    # why, and logging in again returns to the page the user was on.
    page.get_by_test_id("menu").get_by_test_id("menu-map").click()
    expect(page).to_have_url("/console/map")
    context.clear_cookies()
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.get_by_test_id("login-expired")).to_be_visible()
    fill_login(page, "huiyang.operator", console.passwords["huiyang.operator"])
    expect(page).to_have_url("/console/map")
    context.close()
