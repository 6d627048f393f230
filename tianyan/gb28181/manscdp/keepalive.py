"""Keepalive: the Notify a device sends every HeartBeatInterval seconds (60 by default) to stay online."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import required_choice
from tianyan.gb28181.manscdp.xml import Node

KeepaliveStatus = Literal["OK", "ERROR"]
# Some devices say ONLINE where the standard says OK.
_STATUS: Final[dict[str, KeepaliveStatus]] = {"OK": "OK", "ONLINE": "OK", "ERROR": "ERROR"}


@dataclass(frozen=True)
class KeepaliveNotify(Body):
    """Device → platform heartbeat; `faulty_channels` are the Info/DeviceID entries of channels in fault."""

    KIND: ClassVar[Kind] = "Notify"
    CMD_TYPE: ClassVar[str] = "Keepalive"

    sn: int | None
    device_id: str
    status: KeepaliveStatus = "OK"
    faulty_channels: tuple[str, ...] = ()

    @classmethod
    def read(cls, envelope: Envelope) -> KeepaliveNotify:
        root = envelope.root
        info = root.child("Info")
        faulty = () if info is None else tuple(n.text for n in info.children_named("DeviceID") if n.text)
        return cls(envelope.sn, envelope.device_id, required_choice(root, "Status", _STATUS), faulty)

    def body_nodes(self) -> tuple[Node | None, ...]:
        info = Node.of("Info", *(Node("DeviceID", d) for d in self.faulty_channels)) if self.faulty_channels else None
        return (Node("Status", self.status), info)
