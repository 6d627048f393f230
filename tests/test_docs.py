"""The documentation states what the code does: the permission table is the one in roles.py."""

import re
import tomllib
from pathlib import Path

from tianyan import config
from tianyan.config import Config
from tianyan.security.roles import permission_table_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_access_doc_lists_the_permissions_the_code_grants() -> None:
    text = (ROOT / "docs" / "access.md").read_text(encoding="utf-8")
    table = text.split("<!-- permissions:begin -->")[1].split("<!-- permissions:end -->")[0].strip()
    assert table == permission_table_markdown()


def test_readme_names_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def _config_keys() -> set[str]:
    return {
        f"{section}.{key}"
        for section, field in Config.model_fields.items()
        for key in field.annotation.model_fields  # type: ignore[union-attr]
    }


def test_every_configuration_key_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z0-9_]+\.[a-z0-9_]+)`", text))
    # Rows may name two keys of one section together: `sip.host`, `sip.port`.
    assert _config_keys() <= documented, sorted(_config_keys() - documented)


def test_the_example_configuration_is_valid_and_complete(tmp_path: Path) -> None:
    example = ROOT / "tianyan.example.toml"
    loaded = config.load(example, environ={})
    assert loaded.server.http_port == 8080
    written = {
        f"{section}.{key}" for section, keys in tomllib.loads(example.read_text("utf-8")).items() for key in keys
    }
    commented = set(re.findall(r"^# ?([a-z0-9_]+) =", example.read_text("utf-8"), flags=re.MULTILINE))
    missing = {key for key in _config_keys() - written if key.split(".")[1] not in commented}
    assert not missing, f"tianyan.example.toml does not mention {sorted(missing)}"
