"""`tianyan demo`, what a new user sees first (`make demo`): started as a real process on a free port, used over
HTTP the way the README says, stopped with Ctrl+C, then started again on the same data."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tianyan.app.demo import prepare
from tianyan.app.platform import Platform
from tianyan.config import Config, SecurityConfig, ServerConfig
from tianyan.security import login

CAMERAS = 300
START_SECONDS = 20
RULE = "=" * 100
# The six demo accounts the README promises, one per role.
ACCOUNTS = ("admin", "huiyang.operator", "city.analyst", "maintainer", "edu.industry", "auditor")
HUIZHOU_UNITS = ["惠城区", "惠阳区", "博罗县", "惠东县", "龙门县", "大亚湾区", "仲恺区"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Demo:
    process: subprocess.Popen[str]
    banner: str
    base_url: str
    log: Path

    def passwords(self) -> dict[str, str]:
        return banner_passwords(self.banner)


def banner_passwords(banner: str) -> dict[str, str]:
    """username -> password, from the banner's account table (the password is the last cell)."""
    found = {}
    for line in banner.splitlines():
        cells = line.split()
        if cells and cells[0] in ACCOUNTS:
            found[cells[0]] = cells[-1]
    return found


def _read_lines(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def start_demo(data_dir: Path, port: int, log: Path, cameras: int = CAMERAS) -> Demo:
    """Start `python -m tianyan demo`, read its banner (three rules of '='), wait until /health answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIANYAN_")}
    env.update(
        TIANYAN_SERVER__DATA_DIR=str(data_dir), TIANYAN_SERVER__HTTP_PORT=str(port),
        TIANYAN_SIP__PORT=str(free_port()), PYTHONUNBUFFERED="1",
    )  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "tianyan", "demo", "--cameras", str(cameras)],
        cwd=data_dir.parent, env=env, stdout=subprocess.PIPE, stderr=log.open("w"), text=True, encoding="utf-8",
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + START_SECONDS
    seen: list[str] = []
    try:
        while sum(line == RULE for line in seen) < 3:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                pytest.fail(f"the demo exited ({process.wait()}) before its banner:\n{log.read_text()}")
            seen.append(line)
        base_url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo never answered /api/v1/health:\n{log.read_text()}")
            time.sleep(0.1)
    except queue.Empty:
        stop(process)
        pytest.fail(f"no banner within {START_SECONDS} s; got {seen}\n{log.read_text()}")
    except BaseException:
        stop(process)
        raise
    return Demo(process=process, banner="\n".join(seen), base_url=base_url, log=log)


def stop(process: subprocess.Popen[str]) -> int:
    """Ctrl+C, as a user stops it; killed if it does not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -signal.SIGKILL
    return process.wait()


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
