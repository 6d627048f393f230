"""RecordInfo: the search for recordings in a time range, and its multi-message answer (the RecordList)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Final, Literal

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import (
    leaf,
    optional_choice,
    optional_int,
    optional_text,
    required_int,
    required_text,
    required_time,
)
from tianyan.gb28181.manscdp.multi_response import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_PENDING,
    DEFAULT_WINDOW_S,
    ResponseCollector,
    split,
)
from tianyan.gb28181.manscdp.xml import ManscdpError, Node

RecordType = Literal["all", "time", "alarm", "manual"]
_TYPES: Final[dict[str, RecordType]] = {t.upper(): t for t in ("all", "time", "alarm", "manual")}
SUM_NUM_MAX: Final = 10_000_000
FILE_SIZE_MAX: Final = 1 << 62


@dataclass(frozen=True)
class RecordItem:
    """One recording: which channel, when, why (`type`), and where it is stored."""

    device_id: str
    start_time: datetime
    end_time: datetime
    name: str | None = None
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = None
    type: RecordType | None = None
    recorder_id: str | None = None
    file_size: int | None = None

    @classmethod
    def read(cls, node: Node, *, where: str = "Item") -> RecordItem:
        return cls(
            device_id=required_text(node, "DeviceID", where=where),
            start_time=required_time(node, "StartTime", where=where),
            end_time=required_time(node, "EndTime", where=where),
            name=optional_text(node, "Name"),
            file_path=optional_text(node, "FilePath"),
            address=optional_text(node, "Address"),
            secrecy=optional_int(node, "Secrecy", low=0, high=1),
            type=optional_choice(node, "Type", _TYPES),
            recorder_id=optional_text(node, "RecorderID"),
            file_size=optional_int(node, "FileSize", low=0, high=FILE_SIZE_MAX),
        )

    def to_node(self) -> Node:
        return Node.of(
            "Item",
            Node("DeviceID", self.device_id),
            leaf("Name", self.name),
            leaf("FilePath", self.file_path),
            leaf("Address", self.address),
            leaf("StartTime", self.start_time),
            leaf("EndTime", self.end_time),
            leaf("Secrecy", self.secrecy),
            leaf("Type", self.type),
            leaf("RecorderID", self.recorder_id),
            leaf("FileSize", self.file_size),
        )


@dataclass(frozen=True)
class RecordInfoQuery(Body):
    """Platform → device: list the recordings of a channel between two times, optionally filtered."""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "RecordInfo"

    sn: int
    device_id: str
    start_time: datetime
    end_time: datetime
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = 0
    type: RecordType | None = "all"
    recorder_id: str | None = None
    indistinct_query: int | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> RecordInfoQuery:
        root = envelope.root
        start, end = required_time(root, "StartTime"), required_time(root, "EndTime")
        if end < start:
            raise ManscdpError(f"EndTime {end.isoformat()} is before StartTime {start.isoformat()}")
        return cls(
            envelope.request_sn,
            envelope.device_id,
            start,
            end,
            optional_text(root, "FilePath"),
            optional_text(root, "Address"),
            optional_int(root, "Secrecy", low=0, high=1),
            optional_choice(root, "Type", _TYPES),
            optional_text(root, "RecorderID"),
            optional_int(root, "IndistinctQuery", low=0, high=1),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        if self.end_time < self.start_time:
            raise ManscdpError("RecordInfo query: end_time is before start_time")
        return (
            leaf("StartTime", self.start_time),
            leaf("EndTime", self.end_time),
            leaf("FilePath", self.file_path),
            leaf("Address", self.address),
            leaf("Secrecy", self.secrecy),
            leaf("Type", self.type),
            leaf("RecorderID", self.recorder_id),
            leaf("IndistinctQuery", self.indistinct_query),
        )


@dataclass(frozen=True)
class RecordInfoResponse(Body):
    """Device → platform: one message of the answer; `sum_num` counts all recordings found."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "RecordInfo"

    sn: int | None
    device_id: str
    sum_num: int
    items: tuple[RecordItem, ...] = ()
    name: str | None = None

    @classmethod
    def read(cls, envelope: Envelope) -> RecordInfoResponse:
        root = envelope.root
        record_list = root.child("RecordList")
        nodes = () if record_list is None else record_list.children_named("Item")
        items = tuple(RecordItem.read(n, where=f"RecordList/Item[{i}]") for i, n in enumerate(nodes, 1))
        sum_num = required_int(root, "SumNum", low=0, high=SUM_NUM_MAX)
        return cls(envelope.sn, envelope.device_id, sum_num, items, optional_text(root, "Name"))

    def body_nodes(self) -> tuple[Node | None, ...]:
        records = Node.of("RecordList", *(i.to_node() for i in self.items), attrs={"Num": str(len(self.items))})
        return (leaf("Name", self.name), Node("SumNum", str(self.sum_num)), records)


def split_records(
    device_id: str,
    sn: int,
    items: Sequence[RecordItem],
    *,
    name: str | None = None,
    items_per_message: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    charset: str = "GB2312",
) -> list[RecordInfoResponse]:
    """The Response messages a device sends for `items`: same SN and SumNum, each within the size limits."""
    total = len(items)
    return split(
        list(items),
        lambda chunk: RecordInfoResponse(sn, device_id, total, chunk, name),
        items_per_message=items_per_message,
        max_body_bytes=max_body_bytes,
        charset=charset,
    )


class RecordInfoCollector(ResponseCollector[RecordItem]):
    """Collects RecordInfoResponse messages into complete recording lists; identical records are merged."""

    def __init__(
        self,
        *,
        max_items: int = DEFAULT_MAX_ITEMS,
        window_s: float = DEFAULT_WINDOW_S,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(_record_key, max_items=max_items, window_s=window_s, max_pending=max_pending)


def _record_key(item: RecordItem) -> RecordItem:
    return item
