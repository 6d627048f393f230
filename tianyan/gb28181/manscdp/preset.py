"""PresetQuery: the query for a PTZ camera's presets and its answer, the PresetList of numbers and names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import leaf, optional_text, required_int
from tianyan.gb28181.manscdp.xml import ManscdpError, Node

PRESET_MAX: Final = 255


@dataclass(frozen=True)
class Preset:
    """One stored position: number 1-255 (what PTZCmd calls) and the name given on the device."""

    preset_id: int
    name: str | None = None

    def to_node(self) -> Node:
        if not 1 <= self.preset_id <= PRESET_MAX:
            raise ManscdpError(f"PresetID must be in 1..{PRESET_MAX}, got {self.preset_id}")
        return Node.of("Item", Node("PresetID", str(self.preset_id)), leaf("PresetName", self.name))


@dataclass(frozen=True)
class PresetQuery(Body):
    """Platform → device: list the presets of this channel."""

    KIND: ClassVar[Kind] = "Query"
    CMD_TYPE: ClassVar[str] = "PresetQuery"

    sn: int
    device_id: str

    @classmethod
    def read(cls, envelope: Envelope) -> PresetQuery:
        return cls(envelope.request_sn, envelope.device_id)


@dataclass(frozen=True)
class PresetQueryResponse(Body):
    """Device → platform: the channel's presets."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "PresetQuery"

    sn: int | None
    device_id: str
    presets: tuple[Preset, ...] = ()

    @classmethod
    def read(cls, envelope: Envelope) -> PresetQueryResponse:
        preset_list = envelope.root.child("PresetList")
        nodes = () if preset_list is None else preset_list.children_named("Item")
        presets = tuple(
            Preset(
                required_int(n, "PresetID", low=1, high=PRESET_MAX, where=f"PresetList/Item[{i}]"),
                optional_text(n, "PresetName"),
            )
            for i, n in enumerate(nodes, 1)
        )
        return cls(envelope.sn, envelope.device_id, presets)

    def body_nodes(self) -> tuple[Node | None, ...]:
        items = (p.to_node() for p in self.presets)
        return (Node.of("PresetList", *items, attrs={"Num": str(len(self.presets))}),)
