"""Fuzzing: arbitrary bytes, mutated real bodies and random well-formed trees; only ManscdpError may come out,
and whatever parses builds back to a body that parses to the same thing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianyan.gb28181.manscdp import message
from tianyan.gb28181.manscdp.envelope import CMD_TYPES, Body, parse_envelope
from tianyan.gb28181.manscdp.xml import ManscdpError, Node, encode

from .test_manscdp_bodies import EVERY_BODY, GOLDEN

PARSERS: list[Callable[[bytes], object]] = [parse_envelope, message.parse, *(t.parse for t in message.BODY_TYPES)]
SEEDS: list[bytes] = [*GOLDEN.values(), *(b.build(charset=c) for b in EVERY_BODY for c in ("GB2312", "UTF-8"))]
TOKENS: list[bytes] = [
    b"<", b">", b"/>", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&lol;", b"\x00", b"\xff\xfe", b"\x80",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>", b'<!ENTITY e SYSTEM "file:///etc/passwd">', b"<![CDATA[", b"]]>",
    b"<?xml version='1.0' encoding='GB2312'?>", b"<Item>", b"</Item>", b"<Info>", b"</Info>", b"<a>" * 20,
    "东门".encode("gb18030"), "东门".encode(), b"-1", b"99999999999999999999999", b"NaN", b"1e999", b"0x10",
    b"2026-02-30T25:61:61", b"A50F0100000000B5", b"A50F01000000000", b" ", b"\r\n", b'"', b"'",
]  # fmt: skip


def only_manscdp_errors(data: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(ManscdpError):
            parse(data)


def rebuilds_stably(data: bytes) -> None:
    """A parsed body builds (in both charsets) to bytes that parse, and stays the same from then on.

    Random text can be valid, plausible Chinese in both charsets (mojibake of one is real text in the other);
    then the charset guess may flip, and only then may the text differ.
    """
    try:
        parsed = message.parse(data)
    except ManscdpError:
        return
    for charset in ("GB2312", "UTF-8"):
        once: Body = message.parse(parsed.build(charset=charset))
        again = once.build(charset=charset)
        if parse_envelope(again).charset == charset:
            assert message.parse(again) == once


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    only_manscdp_errors(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 5))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["byte", "insert", "delete", "truncate", "duplicate", "token"]))
        if op == "byte":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 400)))
            data[end:end] = data[at:end]
        else:
            data[at:at] = draw(st.sampled_from(TOKENS))
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_real_bodies(data: bytes) -> None:
    only_manscdp_errors(data)
    rebuilds_stably(data)


FIELD_TAGS = [
    "Status", "Info", "SumNum", "Name", "Manufacturer", "Model", "Owner", "CivilCode", "Block", "Address", "Parental",
    "ParentID", "SafetyWay", "RegisterWay", "Secrecy", "IPAddress", "Port", "Longitude", "Latitude", "PTZType",
    "Event", "Result", "DeviceName", "Firmware", "Channel", "Online", "Encode", "Record", "DeviceTime", "DutyStatus",
    "StartTime", "EndTime", "FilePath", "Type", "RecorderID", "FileSize", "PresetID", "PresetName", "ConfigType",
    "BasicParam", "Expiration", "HeartBeatInterval", "HeartBeatCount", "PTZCmd", "TeleBoot", "RecordCmd",
    "GuardCmd", "AlarmCmd", "IFameCmd", "ControlPriority", "AlarmPriority", "AlarmMethod", "AlarmTime",
    "AlarmDescription", "AlarmType", "AlarmTypeParam", "EventType", "Interval", "Time", "Speed", "Direction",
    "Altitude", "NotifyType", "DeviceID", "BusinessGroupID", "EndTime", "CaptureTime",
]  # fmt: skip
LISTS = ["DeviceList", "RecordList", "PresetList", "Alarmstatus", "Info", "BasicParam", "AlarmTypeParam", "Item"]
VALUES = st.one_of(
    st.sampled_from(
        ["OK", "ERROR", "ON", "OFF", "ONLINE", "ADD", "time", "all", "Boot", "Send", "Record", "SetGuard",
         "ResetAlarm", "0", "1", "5", "121", "255", "256", "-1", "114.05", "-200.5", "1e3", "2026-11-21T08:30:00",
         "2026-11-21 08:30:00.5", "2026-13-01T00:00:00", "A50F0100000000B5", "A50F0100000000B6", "GGGG",
         "BasicParam/VideoParamOpt", "34020000001320000001", "东门", ""]
    ),
    st.text(max_size=12),
)  # fmt: skip


def leaf_nodes() -> st.SearchStrategy[Node]:
    return st.builds(lambda tag, text: Node(tag, text or None), st.sampled_from(FIELD_TAGS), VALUES)


def attr_nodes() -> st.SearchStrategy[Node]:
    attrs = st.dictionaries(st.sampled_from([*FIELD_TAGS, "Num"]), VALUES.filter(bool), max_size=4)
    return st.builds(lambda a: Node("Item", None, a), attrs)


trees = st.recursive(
    st.one_of(leaf_nodes(), attr_nodes()),
    lambda inner: st.builds(
        lambda tag, children, num: Node(tag, None, {"Num": num} if num else {}, tuple(children)),
        st.sampled_from(LISTS),
        st.lists(inner, max_size=5),
        st.one_of(st.none(), st.sampled_from(["0", "1", "2", "x"])),
    ),
    max_leaves=12,
)


ROUTES = sorted(message.BY_ROUTE)


@st.composite
def well_formed_bodies(draw: st.DrawFn) -> bytes:
    # Mostly real routes with a sound header, so the typed parsers (not just the envelope) see the garbage.
    if draw(st.integers(0, 9)):
        kind, cmd_type = draw(st.sampled_from(ROUTES))
    else:
        kind = draw(st.sampled_from(["Query", "Control", "Notify", "Response", "query", "Other"]))
        cmd_type = draw(st.sampled_from([*CMD_TYPES, "catalog", "Bogus"]))
    header = [Node("CmdType", cmd_type)]
    sound = draw(st.integers(0, 9)) < 8
    sn = draw(st.sampled_from(["1", "17", "0", "4294967295"] if sound else ["4294967296", "-3", "x", ""]))
    header.append(Node("SN", sn or None))
    device_id = draw(st.sampled_from(["34020000001320000001", "C"] if sound else ["x y", ""]))
    header.append(Node("DeviceID", device_id or None))
    children = draw(st.lists(trees, max_size=10))
    root = Node(kind, None, {}, tuple(header + children))
    return encode(root, charset=draw(st.sampled_from(["GB2312", "UTF-8"])))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed_bodies())
def test_random_well_formed_bodies_reach_the_typed_parsers(data: bytes) -> None:
    only_manscdp_errors(data)
    rebuilds_stably(data)


def _mutate_tree(node: Node, draw: st.DrawFn, depth: int = 0) -> Node:
    children: list[Node] = []
    for child in node.children:
        op = draw(st.integers(0, 15))
        if op == 0:
            continue  # drop the field
        if op == 1:
            children.append(Node(child.tag, draw(VALUES) or None))  # a leaf where anything was
        elif op == 2:
            children.extend([child, child])  # repeated field
        elif op == 3 and child.children:
            children.append(Node(child.tag, None, {c.tag: c.text or "" for c in child.children}))  # attribute form
        else:
            children.append(_mutate_tree(child, draw, depth + 1))
    mutate_text = node.text is not None and node.tag != "CmdType" and not draw(st.integers(0, 7))
    text = (draw(VALUES) or None) if mutate_text else node.text
    return Node(node.tag, text, node.attrs, tuple(children))


@st.composite
def mutated_trees(draw: st.DrawFn) -> bytes:
    body = draw(st.sampled_from(EVERY_BODY))
    return encode(_mutate_tree(body.to_node(), draw), charset=draw(st.sampled_from(["GB2312", "UTF-8"])))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_trees())
def test_valid_bodies_with_mutated_fields(data: bytes) -> None:
    only_manscdp_errors(data)
    rebuilds_stably(data)
