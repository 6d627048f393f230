"""Configuration: one TOML file plus TIANYAN_<SECTION>__<KEY> overrides, refused at start-up naming the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tianyan import config
from tianyan.core.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tianyan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    loaded = config.load(None, environ={})
    assert loaded.server.http_port == 8080
    assert loaded.server.session_idle_minutes == 30
    assert loaded.server.session_max_hours == 12
    assert (loaded.security.lockout_failures, loaded.security.lockout_minutes) == (5, 15)
    assert loaded.database_url == "sqlite+aiosqlite:///tianyan-data/tianyan.db"
    assert loaded.recordings_dir == Path("tianyan-data/recordings")


def test_file_values_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"""
        [server]
        data_dir = "{tmp_path.as_posix()}/data"
        http_port = 9090
        cookie_secure = true

        [database]
        url = "postgresql://db.local/tianyan"

        [security]
        lockout_failures = 3
        """,
    )
    loaded = config.load(path, environ={})
    assert loaded.server.http_port == 9090
    assert loaded.server.cookie_secure is True
    assert loaded.security.lockout_failures == 3
    assert loaded.database_url == "postgresql+asyncpg://db.local/tianyan"
    assert loaded.recordings_dir == tmp_path / "data" / "recordings"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[server]\nhttp_port = 9090\nhttp_host = '0.0.0.0'\n")
    loaded = config.load(
        path,
        environ={
            "TIANYAN_SERVER__HTTP_PORT": "7070",
            "TIANYAN_SECURITY__LOCKOUT_MINUTES": "30",
            "TIANYAN_SERVER__DATA_DIR": str(tmp_path / "env-data"),
            "TIANYAN_CONFIG": "/ignored/because/it/has/no/section",
            "OTHER_SERVER__HTTP_PORT": "1",
        },
    )
    assert loaded.server.http_port == 7070  # the environment wins
    assert loaded.server.http_host == "0.0.0.0"  # what the environment does not name stays from the file
    assert loaded.security.lockout_minutes == 30
    assert loaded.server.data_dir == tmp_path / "env-data"
    assert loaded.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'env-data' / 'tianyan.db').as_posix()}"


def test_environment_names_are_case_insensitive() -> None:
    loaded = config.load(None, environ={"TIANYAN_server__Http_Port": "6060"})
    assert loaded.server.http_port == 6060


def test_process_environment_is_used_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIANYAN_SIP__PORT", "15060")
    assert config.load().sip.port == 15060


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://h/db", "postgresql+asyncpg://h/db"),
        ("postgres://h/db", "postgresql+asyncpg://h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
    ],
)
def test_database_urls_get_async_drivers(url: str, expected: str) -> None:
    assert config.async_url(url) == expected


def _error(path: Path | None = None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ=environ or {})
    return caught.value.detail


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[server]\nhttp_prot = 9090\n"))
    assert "[server.http_prot] is not a known key" in message
    assert str(tmp_path / "tianyan.toml") in message


def test_unknown_section_in_file_is_named(tmp_path: Path) -> None:
    assert "[serveur] is not a known key" in _error(_write(tmp_path, "[serveur]\nhttp_port = 1\n"))


def test_bad_value_in_file_names_key_and_value(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[server]\nhttp_port = 70000\n"))
    assert "[server.http_port]" in message
    assert "less than or equal to 65535" in message
    assert "70000" in message


def test_bad_environment_value_names_the_variable() -> None:
    message = _error(environ={"TIANYAN_SERVER__HTTP_PORT": "eighty"})
    assert "[server.http_port] (from TIANYAN_SERVER__HTTP_PORT)" in message
    assert "'eighty'" in message
    assert "environment" in message


def test_unknown_environment_key_names_the_variable() -> None:
    message = _error(environ={"TIANYAN_SECURITY__LOCKOUT_FAILS": "3"})
    assert "[security.lockout_fails] (from TIANYAN_SECURITY__LOCKOUT_FAILS) is not a known key" in message


def test_unknown_environment_section_names_the_variable() -> None:
    message = _error(environ={"TIANYAN_SEVRER__HTTP_PORT": "1"})
    assert "[sevrer] (from TIANYAN_SEVRER__HTTP_PORT) is not a known key" in message


def test_every_bad_key_is_listed_at_once(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[security]\nlockout_failures = 0\npassword_min_length = 4\n"))
    assert "[security.lockout_failures]" in message
    assert "[security.password_min_length]" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "absent.toml")


def test_file_that_is_not_toml(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, "[server\nhttp_port = 1\n"))
    assert "is not valid TOML" in message


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, 'server = "yes"\n'), environ={"TIANYAN_SERVER__HTTP_PORT": "1"})
    assert "[server] must be a table" in message


def test_minimum_request_limit_is_enforced() -> None:
    assert "[server.max_request_bytes]" in _error(environ={"TIANYAN_SERVER__MAX_REQUEST_BYTES": "10"})
