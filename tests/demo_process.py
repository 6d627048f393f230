"""A `tianyan demo` started as a real process on free ports, the way a user starts it: its banner read, its
/health awaited, stopped with Ctrl+C. Shared by the demo tests and the console's browser tests."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CAMERAS = 300
START_SECONDS = 60  # a limit for a busy machine, not a figure anyone promises
RULE = "=" * 100
# The six demo accounts the README promises, one per role.
ACCOUNTS = ("admin", "huiyang.operator", "city.analyst", "maintainer", "edu.industry", "auditor")


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
