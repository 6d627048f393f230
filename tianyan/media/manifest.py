"""The evidence manifest: a JSON record beside an exported MP4 of what it holds, who made it and why, its SHA-256,
and optionally an Ed25519 signature, so a court or a colleague can check later that neither was altered.

The signature covers the canonical bytes of the manifest without its `signature` member: UTF-8 JSON, keys
sorted, no insignificant whitespace. The signer's public key is inside the signed part; `verify` checks it
against a trusted key when one is given (anyone can sign a forged manifest with a key of their own).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tianyan.media.export import ExportResult, Gap

FORMAT = "tianyan-export-manifest/1"
KEY_BYTES = 32
_CHUNK = 4 << 20


def key_path(data_dir: Path) -> Path:
    """Where the platform keeps its export signing key (a 32-byte Ed25519 seed made on first use)."""
    return data_dir / "secrets" / "export-signing.key"


def signing_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) < KEY_BYTES:
        raise ValueError(f"an Ed25519 seed needs {KEY_BYTES} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed[:KEY_BYTES])


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def key_id(public_key: str) -> str:
    """A short fingerprint to compare keys by eye: the first 16 hex digits of SHA-256 over the raw key."""
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path_for(file_path: Path) -> Path:
    return file_path.with_name(file_path.stem + ".manifest.json")


def canonical_bytes(manifest: dict[str, Any]) -> bytes:
    body = {key: value for key, value in manifest.items() if key != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class ExportFacts:
    """Who asked for an export and why: what the manifest records besides the file itself."""

    platform_id: str
    camera_gb_id: str
    camera_name: str
    requested_from: datetime
    requested_to: datetime
    user: str
    reason: str
    created_at: datetime
    segments: Sequence[dict[str, Any]] = ()
    gaps: Sequence[Gap] = ()
    job_id: int | None = None


def build_manifest(
    facts: ExportFacts, result: ExportResult, *, sha256: str, key: Ed25519PrivateKey | None = None
) -> dict[str, Any]:
    size = result.path.stat().st_size
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "platform_id": facts.platform_id,
        "job_id": facts.job_id,
        "camera": {"gb_id": facts.camera_gb_id, "name": facts.camera_name},
        "requested": {"from": facts.requested_from.isoformat(), "to": facts.requested_to.isoformat()},
        # The file's media time t is the wall time actual.from + t (gaps keep their real length).
        "actual": {
            "from": result.actual_from.isoformat(),
            "to": result.actual_to.isoformat(),
            "seconds": round(result.duration_s, 3),
        },
        "segments": [dict(s) for s in facts.segments if s.get("id") in set(result.segments_used)],
        "gaps": [gap.as_dict() for gap in facts.gaps],
        "user": facts.user,
        "reason": facts.reason,
        "created_at": facts.created_at.isoformat(),
        "file": {"name": result.path.name, "bytes": size, "sha256": sha256},
        "video": {
            "codec": result.video_codec,
            "width": result.width,
            "height": result.height,
            "frames": result.video_frames,
        },
        "audio": result.audio_packets > 0,
    }
    if key is not None:
        public = public_key_text(key.public_key())
        manifest["signer"] = {"algorithm": "Ed25519", "public_key": public, "key_id": key_id(public)}
        signature = key.sign(canonical_bytes(manifest))
        manifest["signature"] = base64.b64encode(signature).decode("ascii")
    return manifest


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)


@dataclass
class Verification:
    ok: bool
    signed: bool
    key_id: str | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "signed": self.signed, "key_id": self.key_id, "problems": self.problems}


def _check_signature(manifest: dict[str, Any], trusted_public_key: str | None, report: Verification) -> None:
    signer = manifest.get("signer")
    signature = manifest.get("signature")
    if signer is None and signature is None:
        if trusted_public_key is not None:
            report.problems.append("the manifest is not signed, but a signature was required")
        return
    report.signed = True
    if not isinstance(signer, dict) or not isinstance(signature, str) or signer.get("algorithm") != "Ed25519":
        report.problems.append("the manifest's signature block is malformed (expected an Ed25519 signer)")
        return
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(str(signer.get("public_key")), validate=True))
        raw_signature = base64.b64decode(signature, validate=True)
    except ValueError:
        report.problems.append("the manifest's public key or signature is not valid base64 Ed25519 data")
        return
    report.key_id = key_id(public_key_text(public))
    try:
        public.verify(raw_signature, canonical_bytes(manifest))
    except InvalidSignature:
        report.problems.append("bad signature: the manifest was altered after it was signed")
    if trusted_public_key is not None and public_key_text(public) != trusted_public_key:
        report.problems.append(f"signed by key {report.key_id}, not by the trusted key {key_id(trusted_public_key)}")


def verify(
    manifest_path: Path, file_path: Path | None = None, *, trusted_public_key: str | None = None
) -> Verification:
    """Check an export: the manifest's signature (if any) and the file's size and SHA-256; every problem is named."""
    report = Verification(ok=False, signed=False)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problems.append(f"the manifest cannot be read as JSON: {exc}")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.problems.append(f"not a {FORMAT} manifest")
        return report
    _check_signature(manifest, trusted_public_key, report)
    described = manifest.get("file") if isinstance(manifest.get("file"), dict) else {}
    file_path = file_path or manifest_path.with_name(str(described.get("name", "")))
    if not file_path.is_file():
        report.problems.append(f"the exported file {file_path} is missing")
    else:
        size = file_path.stat().st_size
        if size != described.get("bytes"):
            report.problems.append(
                f"size mismatch: the file has {size} bytes, the manifest says {described.get('bytes')}"
            )
        digest = file_sha256(file_path)
        if digest != described.get("sha256"):
            report.problems.append(
                f"hash mismatch: the file's SHA-256 is {digest}, the manifest says {described.get('sha256')}"
            )
    report.ok = not report.problems
    return report
