"""Resource-tree node ids and the node shapes the tree API returns.

A node id names a group of cameras the tree shows:

- ``r:<region code>``: a region and its whole subtree;
- ``u:<region code>:<unit id>``: the cameras an owning unit has placed in that very region;
- ``d:<region code>:<unit id or ->:<device GB ID>``: a multi-channel device's channels in that group;
- ``c:<camera GB ID>``: a channel (a leaf).

Units and devices are named together with their region because a unit (the traffic police, a district bureau)
owns cameras in many regions, and the tree places every camera where it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from tianyan.core.errors import InvalidInput
from tianyan.health.resources.state import CameraNode, Counts

NodeType = Literal["region", "unit", "device", "camera"]

_REGION = r"(\d{2,12})"
_PATTERNS = {
    "r": re.compile(rf"r:{_REGION}"),
    "u": re.compile(rf"u:{_REGION}:(\d{{1,12}})"),
    "d": re.compile(rf"d:{_REGION}:(\d{{1,12}}|-):(\d{{20}})"),
}
NODE_ID_HELP = "r:<region code>, u:<region code>:<unit id> or d:<region code>:<unit id or ->:<device GB ID>"


@dataclass(frozen=True)
class NodeRef:
    """A parsed expandable node id."""

    kind: Literal["r", "u", "d"]
    region: str
    unit_id: int | None = None
    device: str | None = None


def parse_node(node: str) -> NodeRef:
    text = node.strip()
    for kind, pattern in _PATTERNS.items():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if kind == "r":
            return NodeRef("r", match[1])
        if kind == "u":
            return NodeRef("u", match[1], unit_id=int(match[2]))
        return NodeRef("d", match[1], unit_id=None if match[2] == "-" else int(match[2]), device=match[3])
    if text.startswith("c:"):
        raise InvalidInput(f"node {node!r} is a camera, which has no children")
    raise InvalidInput(f"node {node!r} is not a tree node id; expected {NODE_ID_HELP}")


def region_id(code: str) -> str:
    return f"r:{code}"


def unit_id(region_code: str, unit: int) -> str:
    return f"u:{region_code}:{unit}"


def device_id(region_code: str, unit: int | None, device_gb_id: str) -> str:
    return f"d:{region_code}:{'-' if unit is None else unit}:{device_gb_id}"


def camera_id(gb_id: str) -> str:
    return f"c:{gb_id}"


class TreeNode(BaseModel):
    id: str
    type: NodeType
    name: str
    leaf: bool
    # Regions: the GB/T 2260 code; devices: the device's GB ID; cameras: their GB ID.
    code: str | None = None
    # Regions only: province, city, county, station.
    level: str | None = None
    counts: Counts | None = None
    camera: CameraNode | None = None


class TreePage(BaseModel):
    """One page of a node's children: groups (regions, units, devices) first, then channels."""

    node: str | None
    items: list[TreeNode]
    offset: int
    next_offset: int | None
    total: int


class PathStep(BaseModel):
    id: str
    type: NodeType
    name: str


class SearchHit(BaseModel):
    """A matching camera, and the nodes from a tree root down to it (what to expand to reveal it)."""

    camera: CameraNode
    path: list[PathStep]


class SearchResult(BaseModel):
    q: str
    items: list[SearchHit]
    more: bool
