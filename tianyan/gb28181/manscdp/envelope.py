"""The envelope every MANSCDP body shares — kind (root tag), CmdType, SN, DeviceID — and the base of typed bodies.

A dispatcher reads the envelope first and routes on (kind, cmd_type); the typed body is parsed from the same
decoded tree afterwards, so nothing is decoded twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, Self

from tianyan.gb28181.manscdp.fields import to_text
from tianyan.gb28181.manscdp.xml import (
    DEFAULT_LIMITS,
    Charset,
    Limits,
    ManscdpError,
    Node,
    decode_document,
    encode,
)

Kind = Literal["Query", "Control", "Notify", "Response"]
KINDS: Final[dict[str, Kind]] = {"query": "Query", "control": "Control", "notify": "Notify", "response": "Response"}
# Query and Control expect an answer matched by SN, so their SN must be right; Notify and Response
# tolerate a missing or bad SN (it becomes None) — refusing a keepalive over its SN would take a device offline.
REQUEST_KINDS: Final = frozenset({"Query", "Control"})
SN_MAX: Final = 0xFFFFFFFF
DEVICE_ID_MAX: Final = 64

# CmdType spellings as the standard writes them; a device's "catalog" or "DEVICEINFO" is mapped back to these.
CMD_TYPES: Final = (
    "Keepalive", "Catalog", "DeviceInfo", "DeviceStatus", "RecordInfo", "PresetQuery", "ConfigDownload",
    "DeviceControl", "DeviceConfig", "Alarm", "MobilePosition", "MediaStatus", "Broadcast", "HomePositionQuery",
    "CruiseTrackListQuery", "CruiseTrackQuery", "PTZPosition", "SDCardStatus",
)  # fmt: skip
_CANONICAL: Final = {name.lower(): name for name in CMD_TYPES}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_ID = re.compile(r"[^\s<>&\"']{1,64}")
_SN = re.compile(r"[+]?[0-9]{1,12}")


@dataclass(frozen=True)
class Envelope:
    """The routing part of a body; `root` keeps the decoded tree for the typed parser."""

    kind: Kind
    cmd_type: str
    sn: int | None
    device_id: str
    charset: Charset = "GB2312"
    # The decoded tree the typed parser continues from; an Envelope made by hand has an empty one.
    root: Node = field(default=Node(""), compare=False, repr=False)

    @property
    def route(self) -> tuple[Kind, str]:
        return (self.kind, self.cmd_type)

    @property
    def request_sn(self) -> int:
        """The SN of a Query or Control, which parsing has already made sure is present."""
        if self.sn is None:
            raise ManscdpError(f"{self.kind} {self.cmd_type}: SN is required")
        return self.sn


def _sn(root: Node, kind: Kind) -> int | None:
    text = root.get("SN")
    if text is not None and _SN.fullmatch(text) and int(text) <= SN_MAX:
        return int(text)
    if kind not in REQUEST_KINDS:
        return None
    if text is None:
        raise ManscdpError(f"{kind}: SN is required but missing")
    raise ManscdpError(f"{kind}: SN must be an integer in 0..{SN_MAX}, got {text[:40]!r}")


def envelope_of(root: Node, *, charset: Charset = "GB2312") -> Envelope:
    """The envelope of an already decoded tree."""
    kind = KINDS.get(root.tag.lower())
    if kind is None:
        raise ManscdpError(f"root element must be Query, Control, Notify or Response, got <{root.tag[:40]}>")
    cmd_type = root.get("CmdType")
    if cmd_type is None:
        raise ManscdpError(f"{kind}: CmdType is required but missing")
    if not _TOKEN.fullmatch(cmd_type):
        raise ManscdpError(f"{kind}: CmdType {cmd_type[:40]!r} is not a command name")
    device_id = root.get("DeviceID")
    if device_id is None:
        raise ManscdpError(f"{kind} {cmd_type}: DeviceID is required but missing")
    if not _ID.fullmatch(device_id):
        raise ManscdpError(f"{kind} {cmd_type}: DeviceID {device_id[:40]!r} is not an ID")
    cmd_type = _CANONICAL.get(cmd_type.lower(), cmd_type)
    return Envelope(kind, cmd_type, _sn(root, kind), device_id, charset, root)


def parse_envelope(body: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """Decode a body and read its envelope; ManscdpError for anything unacceptable."""
    document = decode_document(body, limits=limits)
    return envelope_of(document.root, charset=document.charset)


def check_header(sn: int | None, device_id: str, *, kind: Kind) -> None:
    """For builders: the SN and DeviceID a body is about to carry must parse back."""
    if sn is None and kind in REQUEST_KINDS:
        raise ManscdpError(f"a {kind} needs an SN")
    if sn is not None and not 0 <= sn <= SN_MAX:
        raise ManscdpError(f"SN must be in 0..{SN_MAX}, got {sn}")
    if not _ID.fullmatch(device_id):
        raise ManscdpError(f"DeviceID {device_id[:40]!r} is not an ID")


class Body:
    """Base of the typed bodies: one (KIND, CMD_TYPE) per class, with `sn` and `device_id` fields.

    Subclasses implement `read` (envelope → instance) and `body_nodes` (the elements after DeviceID, in the
    order the standard lists them); `parse` and `build` are the two directions everyone calls.
    """

    KIND: ClassVar[Kind]
    CMD_TYPE: ClassVar[str]
    sn: int | None
    device_id: str

    @classmethod
    def parse(cls, body: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Self:
        return cls.from_envelope(parse_envelope(body, limits=limits))

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> Self:
        if envelope.route != (cls.KIND, cls.CMD_TYPE):
            raise ManscdpError(f"expected {cls.KIND} {cls.CMD_TYPE}, got {envelope.kind} {envelope.cmd_type}")
        return cls.read(envelope)

    @classmethod
    def read(cls, envelope: Envelope) -> Self:
        raise NotImplementedError

    def body_nodes(self) -> tuple[Node | None, ...]:
        return ()

    def to_node(self) -> Node:
        check_header(self.sn, self.device_id, kind=self.KIND)
        header = (Node("CmdType", self.CMD_TYPE), Node("SN", to_text(self.sn)), Node("DeviceID", self.device_id))
        return Node.of(self.KIND, *(h for h in header if h.text is not None), *self.body_nodes())

    def build(self, *, charset: str = "GB2312") -> bytes:
        """The body as bytes: GB2312-declared (GB18030-encoded) by default, or UTF-8."""
        return encode(self.to_node(), charset=charset)
