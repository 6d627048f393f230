"""The export manifest as a reviewer checks it: the hash matches the file, the signature verifies, and any change
to the file or the manifest is named for what it is."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.media.test_export import SegmentFiles, at, segment_files, segments_of  # noqa: F401 (fixture)
from tianyan.media import manifest
from tianyan.media.export import Gap, export_mp4

SEED = bytes(range(32))


@pytest.fixture
def exported(segment_files: SegmentFiles, tmp_path: Path) -> tuple[Path, Path]:  # noqa: F811
    out = tmp_path / "evidence.mp4"
    result = export_mp4(segments_of(segment_files.video), at(2.5), at(12.5), out)
    facts = manifest.ExportFacts(
        platform_id="44130000002000000001",
        camera_gb_id="44130200001320000007",
        camera_name="江北派出所门口",
        requested_from=at(2.5),
        requested_to=at(12.5),
        user="analyst.li",
        reason="案件 2026-0042 取证",
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
        segments=[{"id": 1}, {"id": 2}, {"id": 3}, {"id": 9}],
        gaps=[Gap(at(8), at(10), "stream_lost")],
        job_id=7,
    )
    body = manifest.build_manifest(facts, result, sha256=manifest.file_sha256(out), key=manifest.signing_key(SEED))
    path = manifest.manifest_path_for(out)
    manifest.write_manifest(path, body)
    return out, path


def test_manifest_says_what_the_file_holds(exported: tuple[Path, Path]) -> None:
    out, path = exported
    assert path.name == "evidence.manifest.json" and path.parent == out.parent
    body = json.loads(path.read_text(encoding="utf-8"))
    assert body["camera"] == {"gb_id": "44130200001320000007", "name": "江北派出所门口"}
    assert body["requested"] == {"from": at(2.5).isoformat(), "to": at(12.5).isoformat()}
    assert body["actual"]["from"] == at(2).isoformat()
    assert [s["id"] for s in body["segments"]] == [1, 2, 3]  # only those used
    assert body["gaps"] == [
        {"from": at(8).isoformat(), "to": at(10).isoformat(), "seconds": 2.0, "cause": "stream_lost"}
    ]
    assert (body["user"], body["reason"], body["platform_id"]) == (
        "analyst.li",
        "案件 2026-0042 取证",
        "44130000002000000001",
    )
    assert body["file"]["name"] == "evidence.mp4" and body["file"]["bytes"] == out.stat().st_size
    assert body["file"]["sha256"] == manifest.file_sha256(out)
    public = manifest.public_key_text(manifest.signing_key(SEED).public_key())
    assert body["signer"]["public_key"] == public

    report = manifest.verify(path, out, trusted_public_key=public)
    assert report.ok and report.signed and report.problems == [], report
    assert report.key_id == manifest.key_id(public)


def test_a_tampered_file_fails(exported: tuple[Path, Path]) -> None:
    out, path = exported
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    report = manifest.verify(path, out)
    assert not report.ok
    assert any(p.startswith("hash mismatch") for p in report.problems), report.problems
    assert not any("signature" in p for p in report.problems)

    out.write_bytes(bytes(data[:-10]))
    assert any(p.startswith("size mismatch") for p in manifest.verify(path, out).problems)
    out.unlink()
    assert any("missing" in p for p in manifest.verify(path, out).problems)


def test_a_tampered_manifest_fails(exported: tuple[Path, Path]) -> None:
    out, path = exported
    body = json.loads(path.read_text(encoding="utf-8"))
    body["reason"] = "改过的理由"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    report = manifest.verify(path, out)
    assert not report.ok and any(p.startswith("bad signature") for p in report.problems), report.problems


def test_a_manifest_re_signed_with_another_key_is_not_trusted(exported: tuple[Path, Path]) -> None:
    out, path = exported
    body = json.loads(path.read_text(encoding="utf-8"))
    body["reason"] = "forged"
    forger = manifest.signing_key(b"\x07" * 32)
    public = manifest.public_key_text(forger.public_key())
    body["signer"] = {"algorithm": "Ed25519", "public_key": public, "key_id": manifest.key_id(public)}
    body["signature"] = base64.b64encode(forger.sign(manifest.canonical_bytes(body))).decode()
    path.write_text(json.dumps(body), encoding="utf-8")
    assert manifest.verify(path, out).ok  # self-consistent ...
    trusted = manifest.public_key_text(manifest.signing_key(SEED).public_key())
    report = manifest.verify(path, out, trusted_public_key=trusted)
    assert not report.ok and "not by the trusted key" in report.problems[0]  # ... but not ours


def test_unsigned_manifest_and_bad_input(tmp_path: Path, exported: tuple[Path, Path]) -> None:
    out, path = exported
    body = json.loads(path.read_text(encoding="utf-8"))
    del body["signer"], body["signature"]
    path.write_text(json.dumps(body), encoding="utf-8")
    report = manifest.verify(path, out)
    assert report.ok and not report.signed
    assert not manifest.verify(path, out, trusted_public_key="AAAA").ok
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", encoding="utf-8")
    assert "cannot be read as JSON" in manifest.verify(garbage, out).problems[0]
    with pytest.raises(ValueError, match="32 bytes"):
        manifest.signing_key(b"short")


def test_canonical_bytes_ignore_the_signature_and_key_order() -> None:
    assert manifest.canonical_bytes({"b": 1, "a": "天眼", "signature": "x"}) == '{"a":"天眼","b":1}'.encode()
