"""The envelope: routing on (kind, CmdType) before the body is parsed, and the SN rule for requests."""

from __future__ import annotations

import pytest

from tianyan.gb28181.manscdp import message
from tianyan.gb28181.manscdp.catalog import CatalogResponse
from tianyan.gb28181.manscdp.envelope import SN_MAX, Envelope, parse_envelope
from tianyan.gb28181.manscdp.keepalive import KeepaliveNotify
from tianyan.gb28181.manscdp.xml import ManscdpError


def body(root: str, cmd: str = "Catalog", sn: str | None = "1", device: str | None = "34020000001110000001") -> bytes:
    parts = [f"<CmdType>{cmd}</CmdType>"]
    if sn is not None:
        parts.append(f"<SN>{sn}</SN>")
    if device is not None:
        parts.append(f"<DeviceID>{device}</DeviceID>")
    return f"<{root}>{''.join(parts)}<SumNum>0</SumNum></{root}>".encode()


def test_route_is_read_before_the_body() -> None:
    envelope = parse_envelope(body("Response"))
    assert envelope == Envelope("Response", "Catalog", 1, "34020000001110000001", "UTF-8")
    assert envelope.route == ("Response", "Catalog")
    assert message.BY_ROUTE[envelope.route] is CatalogResponse
    assert message.body_of(envelope) == CatalogResponse(1, "34020000001110000001", 0)


@pytest.mark.parametrize(("root", "kind"), [("query", "Query"), ("CONTROL", "Control"), ("Notify", "Notify")])
def test_kind_and_cmd_type_spellings_are_canonicalised(root: str, kind: str) -> None:
    envelope = parse_envelope(body(root, cmd="deviceINFO"))
    assert (envelope.kind, envelope.cmd_type) == (kind, "DeviceInfo")


def test_unknown_cmd_types_are_routed_as_written() -> None:
    envelope = parse_envelope(body("Query", cmd="VendorThing"))
    assert envelope.route == ("Query", "VendorThing")
    with pytest.raises(ManscdpError, match="no body type for Query VendorThing"):
        message.body_of(envelope)


@pytest.mark.parametrize("root", ["Query", "Control"])
@pytest.mark.parametrize(
    ("sn", "error"),
    [(None, "SN is required"), ("", "SN is required"), ("abc", "SN must be an integer"),
     ("-1", "SN must be an integer"), (str(SN_MAX + 1), "SN must be an integer"), ("1.5", "SN must be an integer")],
)  # fmt: skip
def test_requests_need_a_valid_sn(root: str, sn: str | None, error: str) -> None:
    with pytest.raises(ManscdpError, match=error):
        parse_envelope(body(root, sn=sn))


@pytest.mark.parametrize("root", ["Notify", "Response"])
@pytest.mark.parametrize("sn", [None, "", "abc", "-1", str(SN_MAX + 1)])
def test_notifications_and_answers_tolerate_a_bad_sn(root: str, sn: str | None) -> None:
    assert parse_envelope(body(root, sn=sn)).sn is None


def test_a_keepalive_without_sn_still_keeps_the_device_online() -> None:
    keepalive = (
        b"<Notify><CmdType>Keepalive</CmdType><DeviceID>34020000001320000001</DeviceID><Status>OK</Status></Notify>"
    )
    assert message.parse(keepalive) == KeepaliveNotify(None, "34020000001320000001")


def test_sn_edges() -> None:
    assert parse_envelope(body("Query", sn="0")).sn == 0
    assert parse_envelope(body("Query", sn=str(SN_MAX))).sn == SN_MAX
    assert parse_envelope(body("Query", sn=" 42 ")).sn == 42


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<Request><CmdType>Catalog</CmdType></Request>", "root element must be"),
        (b"<Query><SN>1</SN><DeviceID>1</DeviceID></Query>", "CmdType is required"),
        (b"<Query><CmdType>Cat alog</CmdType><SN>1</SN><DeviceID>1</DeviceID></Query>", "not a command name"),
        (b"<Query><CmdType>Catalog</CmdType><SN>1</SN></Query>", "DeviceID is required"),
        (b"<Query><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>a b</DeviceID></Query>", "is not an ID"),
    ],
)
def test_broken_envelopes(data: bytes, error: str) -> None:
    with pytest.raises(ManscdpError, match=error):
        parse_envelope(data)


def test_the_envelope_keeps_the_tree_for_the_typed_parser() -> None:
    envelope = parse_envelope(body("Response"))
    assert envelope.root.get("SumNum") == "0"
    assert envelope == Envelope("Response", "Catalog", 1, "34020000001110000001", "UTF-8")  # root not compared
