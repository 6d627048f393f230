"""Every string the console shows goes through the translation tables, and both languages have all of them: each key
the source uses (t("a.b"), $t('a.b'), and the fixed prefix of a key built at run time, t(`a.${x}`)) is in zh-CN
and in English, the two tables have the same keys, and no Chinese text is written into the pages themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "console" / "src"
LANGUAGES = ("zh-CN", "en")
# t("key"), t('key'), $t("key"), also with arguments; the key is a literal.
LITERAL = re.compile(r"""(?<![\w.])\$?t\(\s*(["'])([A-Za-z0-9_.-]+)\1""")
# t(`prefix.${...}`): the part before the first ${ must be a real branch of the table.
TEMPLATE = re.compile(r"""(?<![\w.])\$?t\(\s*`([A-Za-z0-9_.-]*)\$\{""")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# The brand mark is the product's name in both languages; a language picker names each language in itself.
ALLOWED_CJK = ("天眼", "简体中文")


def flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def tables() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    for path in sorted((SOURCE / "locales").glob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        assert set(content) == set(LANGUAGES), f"{path.name}: languages {sorted(content)}"
        for language in LANGUAGES:
            flat = flatten(content[language])
            clash = set(flat) & set(merged[language])
            assert not clash, f"{path.name} redefines {sorted(clash)[:5]} in {language}"
            merged[language].update(flat)
    return merged


def sources() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*") if p.suffix in (".vue", ".js") and "locales" not in p.parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(^|\s)//.*$", "", text, flags=re.M)


def test_the_scan_finds_the_console_and_its_keys() -> None:
    used = {key for path in sources() for _, key in LITERAL.findall(path.read_text(encoding="utf-8"))}
    assert len(sources()) > 10 and "login.submit" in used and "shell.logout" in used


def test_both_languages_have_the_same_keys_and_no_empty_strings() -> None:
    found = tables()
    zh, en = found["zh-CN"], found["en"]
    assert sorted(set(zh) - set(en)) == [], "keys only in zh-CN"
    assert sorted(set(en) - set(zh)) == [], "keys only in English"
    assert [k for k, v in {**zh, **en}.items() if not str(v).strip()] == []
    # The Chinese table is Chinese: a value left in English there is an untranslated string.
    untranslated = [k for k, v in zh.items() if re.search(r"[A-Za-z]{4,}", v) and not CJK.search(v)]
    assert untranslated == [] or all(v.isupper() or "{" in v for v in (zh[k] for k in untranslated)), untranslated


def test_every_key_the_console_uses_is_in_both_tables() -> None:
    found = tables()
    missing: list[str] = []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(SOURCE)
        for _, key in LITERAL.findall(text):
            missing += [f"{name}: {language} lacks {key}" for language in LANGUAGES if key not in found[language]]
        for prefix in TEMPLATE.findall(text):
            for language in LANGUAGES:
                if not prefix or not any(k.startswith(prefix) for k in found[language]):
                    missing.append(f"{name}: {language} has nothing under {prefix!r}")
    assert missing == []


def test_no_chinese_is_written_into_the_pages() -> None:
    offenders = []
    for path in sources():
        for number, line in enumerate(strip_comments(path.read_text(encoding="utf-8")).splitlines(), 1):
            text = line
            for allowed in ALLOWED_CJK:
                text = text.replace(allowed, "")
            if CJK.search(text):
                offenders.append(f"{path.relative_to(SOURCE)}:{number}: {line.strip()}")
    assert offenders == [], "strings belong in console/src/locales"
