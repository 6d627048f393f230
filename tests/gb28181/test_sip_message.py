"""SIP message parsing and building: device-shaped golden samples, round trips, every malformed kind, fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gb28181 import sip_samples as samples
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import (
    REASONS,
    Headers,
    Limits,
    SipRequest,
    SipResponse,
    new_branch,
    new_call_id,
    new_request,
    new_tag,
    parse,
    response_to,
    serialize,
)

# ---- golden samples ----------------------------------------------------------------------------------------


def test_register_without_authorization() -> None:
    message = parse(samples.REGISTER)
    assert isinstance(message, SipRequest)
    assert message.method == "REGISTER"
    assert message.uri == SipUri(host=samples.REALM, user=samples.PLATFORM_ID)
    assert message.via.host == "192.168.1.64" and message.via.port == 5060
    assert message.via.params == {"rport": None, "branch": "z9hG4bK1371463273"}
    assert message.branch == "z9hG4bK1371463273"
    assert message.from_.uri.user == samples.DEVICE_ID and message.from_.tag == "2043466181"
    assert message.to.tag is None
    assert message.call_id == "1011047669"
    assert (message.cseq.number, message.cseq.method) == (1, "REGISTER")
    assert message.contact is not None and message.contact.uri.host == "192.168.1.64"
    assert message.expires == 3600
    assert message.headers.get("Authorization") is None
    assert message.body == b""


def test_register_with_authorization_keeps_the_header_text() -> None:
    message = parse(samples.REGISTER_AUTH)
    value = message.headers.get("authorization")
    assert value is not None and value.startswith(f'Digest username="{samples.DEVICE_ID}",realm=')
    assert message.cseq.number == 2


def test_401_and_200_responses() -> None:
    challenge = parse(samples.UNAUTHORIZED)
    assert isinstance(challenge, SipResponse)
    assert (challenge.status, challenge.reason) == (401, "Unauthorized")
    assert challenge.via.params["received"] == "10.20.30.40" and challenge.via.params["rport"] == "5060"
    assert challenge.headers.get("WWW-Authenticate", "").startswith("Digest realm=")
    ok = parse(samples.REGISTER_OK)
    assert isinstance(ok, SipResponse) and ok.status == 200
    assert ok.headers.get("Date") == "2024-05-20T10:15:30.123"
    assert ok.to.tag == "1689823217"


def test_keepalive_with_a_gb2312_body_is_left_as_bytes() -> None:
    message = parse(samples.KEEPALIVE)
    assert message.content_type == "application/manscdp+xml"
    assert message.body == samples.KEEPALIVE_BODY
    assert "东门通道" in message.body.decode("gb2312")


def test_invite_with_sdp_and_its_200() -> None:
    invite = parse(samples.INVITE)
    assert isinstance(invite, SipRequest) and invite.method == "INVITE"
    assert invite.content_type == "application/sdp"
    assert invite.body == samples.INVITE_SDP
    assert invite.headers.get("Subject") == f"{samples.DEVICE_ID}:0200000001,{samples.PLATFORM_ID}:0"
    ok = parse(samples.INVITE_OK)
    assert ok.to.tag == "1220712313" and ok.body.startswith(b"v=0")
    assert ok.contact is not None and ok.contact.uri.port == 5060


def test_bye_subscribe_notify() -> None:
    bye = parse(samples.BYE)
    assert bye.cseq.method == "BYE" and bye.to.tag == "1220712313"
    subscribe = parse(samples.SUBSCRIBE)
    assert subscribe.headers.get("Event") == "Catalog;id=17430" and subscribe.expires == 3600
    notify = parse(samples.NOTIFY)
    assert notify.headers.get("Subscription-State") == "active;expires=3600;retry-after=0"
    assert "大门口" in notify.body.decode("gb2312")


def test_lf_only_compact_and_folded_headers_without_content_length() -> None:
    message = parse(samples.COMPACT_LF)
    assert message.call_id == "9f8e7d"
    assert message.via.params == {"branch": "z9hG4bK77aa", "rport": None}
    assert message.from_.tag == "55"
    assert message.content_type == "application/manscdp+xml"
    assert message.body == b"<Notify><CmdType>Keepalive</CmdType></Notify>"
    # Compact names come out in their full form.
    assert [name for name, _ in message.headers][:4] == ["Via", "From", "To", "Call-ID"]


def test_gb18030_display_name_and_ipv6() -> None:
    message = parse(samples.GB18030_IPV6)
    assert message.from_.display == "海康威视 前门"
    assert message.via.host == "2001:db8::64" and message.via.port == 5060
    assert message.via.params["received"] == "2001:db8::1" and message.via.params["rport"] == "5062"
    assert message.to.uri.host == "2001:db8::1" and message.to.uri.port == 5060
    assert str(message.via).startswith("SIP/2.0/UDP [2001:db8::64]:5060;received=2001:db8::1;")


def test_leading_crlf_and_trailing_bytes_after_the_body_are_ignored() -> None:
    message = parse(b"\r\n\r\n" + samples.KEEPALIVE + b"garbage after the body")
    assert message.body == samples.KEEPALIVE_BODY


def test_several_vias_on_one_line_and_on_several() -> None:
    data = samples.REGISTER.replace(
        b"Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n",
        b"Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKa, SIP/2.0/TCP 10.1.1.2:5070;branch=z9hG4bKb\r\n"
        b"v: SIP/2.0/UDP 10.1.1.3;branch=z9hG4bKc\r\n",
    )
    message = parse(data)
    assert [via.host for via in message.vias] == ["10.1.1.1", "10.1.1.2", "10.1.1.3"]
    assert message.vias[1].transport == "TCP"
    assert message.via.branch == "z9hG4bKa"


# ---- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_samples_round_trip(name: str) -> None:
    message = parse(samples.ALL[name])
    assert parse(serialize(message)) == message


def test_content_length_is_framing_not_a_header() -> None:
    message = parse(samples.KEEPALIVE)
    assert "Content-Length" not in message.headers
    wire = serialize(message)
    assert wire.count(b"Content-Length:") == 1
    assert f"Content-Length: {len(samples.KEEPALIVE_BODY)}\r\n\r\n".encode() in wire


def test_built_request_round_trips() -> None:
    request = new_request(
        "message",
        SipUri(host=samples.REALM, user=samples.PLATFORM_ID),
        via=Via("UDP", "10.0.0.2", 5060, {"branch": new_branch(), "rport": None}),
        from_=NameAddr(SipUri(host=samples.REALM, user=samples.DEVICE_ID), "前门", {"tag": new_tag()}),
        to=NameAddr(SipUri(host=samples.REALM, user=samples.PLATFORM_ID)),
        call_id=new_call_id("10.0.0.2"),
        cseq=7,
        contact=NameAddr(SipUri(host="10.0.0.2", user=samples.DEVICE_ID, port=5060)),
        headers=[("User-Agent", "Tianyan-Sim")],
        body=samples.KEEPALIVE_BODY,
        content_type="Application/MANSCDP+xml",
    )
    assert request.method == "MESSAGE" and request.cseq.method == "MESSAGE"
    names = [name for name, _ in request.headers]
    assert names == ["Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Contact", "User-Agent", "Content-Type"]
    assert parse(serialize(request)) == request


def test_response_to_copies_what_rfc_3261_says() -> None:
    request = parse(samples.REGISTER)
    response = response_to(request, 200, to_tag="t1", headers=[("Expires", "3600")])
    assert response.reason == "OK"
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.to.tag == "t1" and response.from_ == request.from_
    assert response.call_id == request.call_id and response.cseq == request.cseq
    assert parse(serialize(response)) == response
    trying = response_to(request, 100, to_tag="t1")
    assert trying.to.tag is None  # 100 Trying never carries a tag.
    already_tagged = response_to(parse(samples.BYE), 200, to_tag="other")
    assert already_tagged.to.tag == "1220712313"


def test_headers_are_case_insensitive_and_ordered() -> None:
    headers = Headers([("via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("X-Gb-Ver", "2.0"), ("V", "SIP/2.0/UDP b")])
    assert headers.get("VIA") == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert headers.get_all("v") == ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b"]
    assert "x-gb-ver" in headers and "Nope" not in headers
    headers.set("x-gb-ver", "3.0")
    assert [name for name, _ in headers] == ["Via", "X-Gb-Ver", "Via"]
    headers.remove("Via")
    assert len(headers) == 1 and headers.get("X-GB-Ver") == "3.0"
    copied = headers.copy()
    copied.add("Subject", "x")
    assert copied != headers


def test_unknown_status_code_without_reason() -> None:
    response = SipResponse(status=299, headers=parse(samples.REGISTER_OK).headers)
    assert response.start_line == "SIP/2.0 299"
    assert parse(serialize(response)).status == 299


# ---- malformed -------------------------------------------------------------------------------------------------


def _replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


MALFORMED = {
    "empty": b"",
    "only line ends": b"\r\n\r\n",
    "no version": _replace(samples.REGISTER, b" SIP/2.0\r\n", b"\r\n"),
    "wrong version": _replace(samples.REGISTER, b" SIP/2.0\r\n", b" SIP/3.0\r\n"),
    "extra word in request line": _replace(samples.REGISTER, b"REGISTER sip:", b"REGISTER now sip:"),
    "bad method": _replace(samples.REGISTER, b"REGISTER sip:", b"REG@STER sip:"),
    "bad request uri": _replace(samples.REGISTER, b"REGISTER sip:", b"REGISTER http:"),
    "status code too short": _replace(samples.REGISTER_OK, b"200 OK", b"20 OK"),
    "status code out of range": _replace(samples.REGISTER_OK, b"200 OK", b"700 OK"),
    "status code in other digits": _replace(samples.REGISTER_OK, b"200 OK", "２00 OK".encode()),
    "status code superscript": _replace(samples.REGISTER_OK, b"200 OK", "²00 OK".encode()),
    "bad cseq number": _replace(samples.REGISTER, b"CSeq: 1 REGISTER", b"CSeq: one REGISTER"),
    "cseq unicode digit": _replace(samples.REGISTER, b"CSeq: 1 REGISTER", "CSeq: ¹ REGISTER".encode()),
    "cseq too large": _replace(samples.REGISTER, b"CSeq: 1 REGISTER", b"CSeq: 2147483648 REGISTER"),
    "cseq without method": _replace(samples.REGISTER, b"CSeq: 1 REGISTER", b"CSeq: 1"),
    "cseq method mismatch": _replace(samples.REGISTER, b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE"),
    "missing via": _replace(
        samples.REGISTER, b"Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n", b""
    ),
    "missing from": _replace(samples.REGISTER, b"From: <sip:34020000001320000001@3402000000>;tag=2043466181\r\n", b""),
    "missing to": _replace(samples.REGISTER, b"To: <sip:34020000001320000001@3402000000>\r\n", b""),
    "missing call-id": _replace(samples.REGISTER, b"Call-ID: 1011047669\r\n", b""),
    "missing cseq": _replace(samples.REGISTER, b"CSeq: 1 REGISTER\r\n", b""),
    "bad via": _replace(samples.REGISTER, b"Via: SIP/2.0/UDP", b"Via: HTTP/1.1/UDP"),
    "via port": _replace(samples.REGISTER, b"192.168.1.64:5060;rport", b"192.168.1.64:99999;rport"),
    "via port empty": _replace(samples.REGISTER, b"192.168.1.64:5060;rport", b"192.168.1.64:;rport"),
    "ipv6 without brackets": _replace(samples.REGISTER, b"192.168.1.64:5060;rport", b"2001:db8::1;rport"),
    "ipv6 junk after bracket": _replace(samples.GB18030_IPV6, b"[2001:db8::64]:5060", b"[2001:db8::64]x5060"),
    "from unclosed bracket": _replace(samples.REGISTER, b"<sip:34020000001320000001@3402000000>;tag", b"<sip:x@y;tag"),
    "from text after bracket": _replace(samples.REGISTER, b"3402000000>;tag=2043466181", b"3402000000> x;tag=1"),
    "host with spaces": _replace(samples.REGISTER, b"To: <sip:34020000001320000001@3402000000>", b"To: <sip:a@b c>"),
    "header without colon": _replace(samples.REGISTER, b"Max-Forwards: 70", b"Max-Forwards 70"),
    "header name not a token": _replace(samples.REGISTER, b"Max-Forwards: 70", b"Max Forwards: 70"),
    "continuation first": _replace(samples.REGISTER, b"Via:", b" Via:"),
    "nul in a value": _replace(samples.REGISTER, b"User-Agent: IP Camera", b"User-Agent: IP\x00Camera"),
    "bare cr in a value": _replace(samples.REGISTER, b"User-Agent: IP Camera", b"User-Agent: IP\rCamera"),
    "truncated body": samples.KEEPALIVE[:-10],
    "bad content-length": _replace(samples.REGISTER, b"Content-Length: 0", b"Content-Length: -1"),
    "content-length in other digits": _replace(samples.REGISTER, b"Content-Length: 0", "Content-Length: ٠".encode()),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_is_refused(name: str) -> None:
    with pytest.raises(SipError):
        parse(MALFORMED[name])


@pytest.mark.parametrize(
    "data",
    [
        _replace(samples.REGISTER, b"Expires: 3600", b"Expires: soon"),
        _replace(samples.REGISTER, b"Expires: 3600", "Expires: ３６００".encode()),
        _replace(samples.REGISTER, b"Expires: 3600", b"Expires: 12345678901"),
    ],
)
def test_bad_expires_is_refused_when_read(data: bytes) -> None:
    message = parse(data)
    with pytest.raises(SipError):
        message.expires  # noqa: B018


def test_size_limits() -> None:
    limits = Limits(max_message_bytes=600, max_head_bytes=300, max_headers=8, max_body_bytes=100)
    with pytest.raises(SipError, match="exceeds"):
        parse(samples.KEEPALIVE + b" " * 600, limits=limits)
    with pytest.raises(SipError, match="header section"):
        parse(samples.REGISTER, limits=limits)
    with pytest.raises(SipError, match="more than 8 headers"):
        parse(samples.REGISTER, limits=Limits(max_headers=8))
    with pytest.raises(SipError, match="body"):
        parse(samples.KEEPALIVE, limits=Limits(max_body_bytes=100))


# ---- building can never put a line break on the wire ------------------------------------------------------------


@pytest.mark.parametrize("value", ["a\r\nVia: evil", "a\nb", "a\rb", "a\x00b"])
def test_header_values_with_line_breaks_are_refused(value: str) -> None:
    headers = Headers()
    with pytest.raises(SipError):
        headers.add("Subject", value)
    with pytest.raises(SipError):
        headers.set("Subject", value)


@pytest.mark.parametrize("name", ["X-Evil\r\nVia", "Bad Name", "Colon:", ""])
def test_header_names_that_are_not_tokens_are_refused(name: str) -> None:
    with pytest.raises(SipError):
        Headers().add(name, "v")


def test_injection_through_a_display_name_is_refused() -> None:
    base = parse(samples.REGISTER)
    with pytest.raises(SipError):
        new_request(
            "MESSAGE",
            base.uri,
            via=base.via,
            from_=NameAddr(base.from_.uri, "x\r\nVia: SIP/2.0/UDP evil"),
            to=base.to,
            call_id="1",
            cseq=1,
        )


def test_injection_through_the_start_line_is_refused() -> None:
    base = parse(samples.REGISTER)
    request = SipRequest(method="MESSAGE", uri=SipUri(host="h", user="a\r\nVia: x"), headers=base.headers)
    with pytest.raises(SipError):
        serialize(request)
    with pytest.raises(SipError):
        serialize(SipRequest(method="MESSAGE X", uri=base.uri, headers=base.headers))
    response = response_to(base, 200, reason="OK\r\nX-Evil: 1")
    with pytest.raises(SipError):
        serialize(response)
    with pytest.raises(SipError):
        serialize(SipResponse(status=99, headers=base.headers))


# ---- fuzzing -----------------------------------------------------------------------------------------------------

SAMPLE_LIST = list(samples.ALL.values())


def _exercise(data: bytes) -> None:
    """Parse, read every accessor, and round-trip whatever parses; only SipError may escape."""
    try:
        message = parse(data)
    except SipError:
        return
    for accessor in ("vias", "contact", "content_type", "expires"):
        with contextlib.suppress(SipError):
            getattr(message, accessor)
    again = parse(serialize(message))
    if isinstance(message, SipResponse) and not message.reason:
        message.reason = REASONS.get(message.status, "")
    assert again == message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_raise_sip_error(data: bytes) -> None:
    _exercise(data)


INSERTIONS = [b"\r\n", b"\n", b" ", b":", b";", b"<", b">", b'"', b",", b"\x00", b"\xff", b"\r\n\r\n"]
INSERTIONS += ["²".encode(), "海".encode("gb18030")]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE_LIST)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "delete", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            end = draw(st.integers(at, min(len(data), at + 80)))
            data[at:at] = data[at:end]
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        else:
            data[at:at] = draw(st.sampled_from(INSERTIONS))
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_mutated_messages_only_raise_sip_error(data: bytes) -> None:
    _exercise(data)


_HEADER_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True),
    value=_HEADER_TEXT,
    body=st.binary(max_size=200),
)
def test_built_messages_round_trip(name: str, value: str, body: bytes) -> None:
    base = parse(samples.KEEPALIVE)
    if name.lower() in ("content-length", "l"):
        name = "X-" + name
    headers = base.headers.copy()
    headers.add(name, value)
    message = SipRequest(method="MESSAGE", uri=base.uri, headers=headers, body=body)
    assert parse(serialize(message)) == message
