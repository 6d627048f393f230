"""`tianyan demo`, what a new user sees first (`make demo`): started as a real process on a free port, used over
HTTP the way the README says, stopped with Ctrl+C, then started again on the same data."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_process import ACCOUNTS, CAMERAS, Demo, banner_passwords, free_port, start_demo, stop
from tianyan.app.demo import prepare
from tianyan.app.platform import Platform
from tianyan.config import Config, SecurityConfig, ServerConfig
from tianyan.security import login

HUIZHOU_UNITS = ["惠城区", "惠阳区", "博罗县", "惠东县", "龙门县", "大亚湾区", "仲恺区"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "tianyan-data"


@pytest.fixture
def demo(data_dir: Path, tmp_path: Path) -> Iterator[Demo]:
    running = start_demo(data_dir, free_port(), tmp_path / "demo-1.log")
    try:
        yield running
    finally:
        stop(running.process)


def logged_in(demo: Demo, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=demo.base_url, timeout=10)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, f"{username} cannot log in with the printed password: {response.text}"
    assert response.json()["username"] == username
    return client


def cameras(client: httpx.Client) -> tuple[int, list[dict[str, Any]]]:
    body = client.get("/api/v1/cameras", params={"limit": 1000}).json()
    return body["total"], body["items"]


def test_demo_first_start_then_restart_keeps_the_data(demo: Demo, data_dir: Path, tmp_path: Path) -> None:
    port = int(demo.base_url.rsplit(":", 1)[1])
    # The banner: where the docs are, and every account with a password.
    assert f"API docs: http://127.0.0.1:{port}/api/v1/docs" in demo.banner
    assert f"{CAMERAS} generated cameras" in demo.banner
    passwords = demo.passwords()
    assert sorted(passwords) == sorted(ACCOUNTS)
    assert all(len(p) >= 10 for p in passwords.values()) and len(set(passwords.values())) == len(ACCOUNTS)

    health = httpx.get(f"{demo.base_url}/api/v1/health")
    assert health.json()["status"] == "ok"
    docs = httpx.get(f"{demo.base_url}/api/v1/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "swagger" in docs.text.lower() and "/api/v1/openapi.json" in docs.text
    # The banner's first address is the web console: the root sends a browser there and the page loads.
    assert f"Web console: http://127.0.0.1:{port}/console/" in demo.banner
    console = httpx.get(f"{demo.base_url}/", follow_redirects=True)
    assert console.status_code == 200 and str(console.url).endswith("/console/")
    assert '<div id="app">' in console.text
    assert httpx.get(f"{demo.base_url}/api/v1/cameras").status_code == 401

    # The simulated devices register with the demo's own SIP server and report their cameras: the generated
    # registry plus the NVR's sixteen channels and the four patrol cars' cameras.
    admin = logged_in(demo, "admin", passwords["admin"])
    devices = re.search(r"(\d+) simulated devices \(.*?(\d+) patrol cars; (\d+) cameras\)", demo.banner)
    assert devices, demo.banner
    extra = 16 + int(devices.group(2))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Cameras first, devices after: a catalog landing between the two reads must not leave a stale device list.
        complete = cameras(admin)[0] == CAMERAS + extra
        online = admin.get("/api/v1/devices", params={"online": "true", "limit": 1000}).json()["items"]
        if complete and len(online) == int(devices.group(1)):
            break
        time.sleep(0.5)
    assert len(online) == int(devices.group(1)), f"{len(online)} of {devices.group(1)} devices online"
    assert {d["transport"] for d in online} == {"UDP"} and all(d["last_keepalive_at"] for d in online)
    nvr = next(d for d in online if d["type_code"] == "118")
    assert (nvr["channels"], nvr["channels_online"]) == (16, 16)

    # The administrator sees the whole registry.
    total, everything = cameras(admin)
    assert total == CAMERAS + extra == len(everything)

    # The Huiyang operator: 惠阳区 441303 and below, police + social networks, classes 1 and 2, no sensitive points.
    operator = logged_in(demo, "huiyang.operator", passwords["huiyang.operator"])
    total, seen = cameras(operator)
    assert 0 < total == len(seen) < CAMERAS
    assert all(c["region"].startswith("441303") for c in seen)
    assert {c["network"] for c in seen} <= {"police", "social"} and {c["class"] for c in seen} <= {1, 2}
    assert not any(c["sensitive"] for c in seen)
    expected = {
        c["gb_id"] for c in everything
        if c["region"].startswith("441303") and c["network"] != "local" and c["class"] != 3 and not c["sensitive"]
    }  # fmt: skip
    assert {c["gb_id"] for c in seen} == expected
    local_point = next(c["gb_id"] for c in everything if c["class"] == 3)
    assert operator.get(f"/api/v1/cameras/{local_point}").status_code == 404  # not even told it exists

    # The education-sector industry user: its sector's class 2 points on the social network, city-wide.
    sector = re.search(r"sector (\S+) 市教育局", demo.banner)
    assert sector, demo.banner
    industry = logged_in(demo, "edu.industry", passwords["edu.industry"])
    _, seen = cameras(industry)
    expected = {c["gb_id"] for c in everything
                if c["sector"] == sector.group(1) and c["class"] == 2 and c["network"] == "social"
                and not c["sensitive"]}  # fmt: skip
    assert expected and {c["gb_id"] for c in seen} == expected

    # Plan progress, as the README suggests trying.
    response = admin.get("/api/v1/plans/huizhou-2012-2014/progress", params={"at": "2013-12-31"})
    assert response.status_code == 200, response.text
    progress = response.json()
    assert (progress["plan"], progress["at"]) == ("huizhou-2012-2014", "2013-12-31")
    assert [u["unit"] for u in progress["units"]] == HUIZHOU_UNITS
    assert all(u["region_code"] for u in progress["units"])  # the demo registers every unit, the zones too
    built = [u["measures"]["class1"]["built"] for u in progress["units"]]
    assert sum(built) == progress["totals"]["measures"]["class1"]["built"] > 0
    statuses = [[m["status"] for m in x["milestones"]] for u in progress["units"] for x in u["measures"].values()]
    # On 2013-12-31 the 2012 milestone is decided; the 2013 one is still open on its own last day.
    assert {s[0] for s in statuses} <= {"met", "missed"}
    assert {status for s in statuses for status in s[1:]} == {"pending"}

    # Health: the NVR's spoiled channels are diagnosed as such, a clean one passes; KPIs and metrics answer.
    nvr_cameras = [c for c in everything if c["device"] == nvr["gb_id"]]
    clean, blurred = sorted(c["gb_id"] for c in nvr_cameras)[:2]
    diagnosed = admin.post(f"/api/v1/cameras/{blurred}/vqd/run", timeout=30)
    assert diagnosed.status_code == 200, diagnosed.text
    assert "blur" in diagnosed.json()["faults"]
    assert admin.post(f"/api/v1/cameras/{clean}/vqd/run", timeout=30).json()["ok"]
    kpi = admin.get("/api/v1/kpi", params={"class": 1}, timeout=60)
    assert kpi.status_code == 200, kpi.text
    assert kpi.json()["figures"]["online_now"] > 0
    assert any(v["kpi"] == "online_rate" for v in kpi.json()["verdicts"])
    metrics = httpx.get(f"{demo.base_url}/metrics")
    assert metrics.status_code == 200 and "tianyan_cameras_online" in metrics.text

    # The passwords are kept for the owner only.
    kept = data_dir / "demo-accounts.txt"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    text = kept.read_text(encoding="utf-8")
    assert all(password in text for password in passwords.values())

    # Ctrl+C stops it (130: the shell's code for "ended by SIGINT"; never the kill in stop()).
    assert stop(demo.process) == 0

    # A second start on the same data keeps it, says so, and creates or prints no passwords.
    again = start_demo(data_dir, port, tmp_path / "demo-2.log")
    try:
        assert f"existing data kept ({CAMERAS + extra} cameras); nothing was regenerated" in again.banner
        assert str(kept.resolve()) in again.banner
        assert not any(password in again.banner for password in passwords.values())
        admin = logged_in(again, "admin", passwords["admin"])
        assert cameras(admin)[0] == CAMERAS + extra
    finally:
        stop(again.process)
    assert kept.read_text(encoding="utf-8") == text


async def test_demo_passwords_meet_a_stricter_configured_policy(tmp_path: Path) -> None:
    """An installation that asks for 24-character passwords still gets working demo accounts."""
    config = Config(server=ServerConfig(data_dir=tmp_path / "data"), security=SecurityConfig(password_min_length=24))
    platform = await Platform.open(config)
    try:
        passwords = banner_passwords(await prepare(platform, seed=1, cameras=0))
        assert sorted(passwords) == sorted(ACCOUNTS)
        assert all(len(password) >= 24 for password in passwords.values())
        async with platform.sessions() as session:
            await login.login(session, username="admin", password=passwords["admin"], settings=platform.auth)
    finally:
        await platform.close()


def test_ctrl_c_stops_the_demo_without_a_traceback(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    running = start_demo(data_dir, free_port(), log, cameras=10)
    assert stop(running.process) == 0
    assert "Traceback" not in log.read_text() and "ERROR" not in log.read_text()


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if entry.name.isdigit() and int(fields[1]) == pid:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["ctrl-c", "killed"])
def test_the_simulated_devices_run_beside_the_demo_and_end_with_it(how: str, data_dir: Path, tmp_path: Path) -> None:
    """The cameras are simulated in a process of their own (as real ones are boxes of their own), which never
    outlives the demo: not after Ctrl+C, and not when the demo is killed without a chance to stop it."""
    running = start_demo(data_dir, free_port(), tmp_path / "demo.log", cameras=10)
    try:
        deadline = time.monotonic() + 10
        while not (fleet := [p for p, command in _children(running.process.pid) if "app.demo_fleet" in command]):
            assert time.monotonic() < deadline, f"no simulated devices: {_children(running.process.pid)}"
            time.sleep(0.1)
        assert len(fleet) == 1
        if how == "killed":
            running.process.kill()
            running.process.wait()
        else:
            assert stop(running.process) == 0
        assert _gone(fleet[0], 10), f"the simulated devices ({fleet[0]}) outlived the demo ({how})"
    finally:
        stop(running.process)
