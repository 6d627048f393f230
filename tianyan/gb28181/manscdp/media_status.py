"""MediaStatus: the Notify a device sends on a playback or download session; NotifyType 121 = end of file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import required_int
from tianyan.gb28181.manscdp.xml import Node

END_OF_FILE: Final = 121


@dataclass(frozen=True)
class MediaStatusNotify(Body):
    """Device → platform, inside the media session's dialog: the history stream has ended."""

    KIND: ClassVar[Kind] = "Notify"
    CMD_TYPE: ClassVar[str] = "MediaStatus"

    sn: int | None
    device_id: str
    notify_type: int = END_OF_FILE

    @property
    def is_end_of_file(self) -> bool:
        return self.notify_type == END_OF_FILE

    @classmethod
    def read(cls, envelope: Envelope) -> MediaStatusNotify:
        return cls(envelope.sn, envelope.device_id, required_int(envelope.root, "NotifyType", low=0, high=999))

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (Node("NotifyType", str(self.notify_type)),)
