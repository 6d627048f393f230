"""Typed header values: URIs, name-addrs, Via, CSeq, authentication parameters and the helpers under them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import (
    Challenge,
    CSeq,
    NameAddr,
    SipUri,
    Via,
    canonical_name,
    format_params,
    is_digits,
    is_token,
    parse_params,
    quote,
    split_commas,
    unquote,
)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("via", "Via"), ("V", "Via"), ("call-id", "Call-ID"), ("i", "Call-ID"), ("CSEQ", "CSeq"),
     ("www-authenticate", "WWW-Authenticate"), ("l", "Content-Length"), ("content-type", "Content-Type"),
     ("x-gb-ver", "X-Gb-Ver"), ("o", "Event"), ("subscription-state", "Subscription-State")],
)  # fmt: skip
def test_canonical_names(name: str, canonical: str) -> None:
    assert canonical_name(name) == canonical


def test_token_and_digits() -> None:
    assert is_token("INVITE") and is_token("z9hG4bK-1.x")
    assert not is_token("INVITE\n") and not is_token("") and not is_token("a b") and not is_token("海")
    assert is_digits("3600") and not is_digits("²") and not is_digits("٣") and not is_digits("") and not is_digits("-1")


def test_split_commas_respects_quotes_and_brackets() -> None:
    assert split_commas('a, "b, c", <sip:x@y;p=1,2>, d') == ["a", '"b, c"', "<sip:x@y;p=1,2>", "d"]
    assert split_commas(r'"a\", b", c') == [r'"a\", b"', "c"]
    assert split_commas(" , ,") == []


def test_params_quote_and_unquote() -> None:
    assert parse_params(";tag=ab;lr;Transport=UDP") == {"tag": "ab", "lr": None, "transport": "UDP"}
    assert parse_params('x="a;b";y=1') == {"x": "a;b", "y": "1"}
    assert format_params({"lr": None, "x": "a b", "received": "2001:db8::1"}) == ';lr;x="a b";received=2001:db8::1'
    assert unquote(quote('say "hi" \\ bye')) == 'say "hi" \\ bye'
    with pytest.raises(SipError):
        parse_params(";=x")


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("sip:34020000001320000001@3402000000", SipUri("3402000000", "34020000001320000001")),
        ("sip:34020000002000000001@10.0.0.1:5060", SipUri("10.0.0.1", "34020000002000000001", 5060)),
        ("sip:3402000000", SipUri("3402000000")),
        ("SIP:a@b;transport=tcp;lr", SipUri("b", "a", None, {"transport": "tcp", "lr": None})),
        ("sip:a@[2001:db8::1]:5070", SipUri("2001:db8::1", "a", 5070)),
        ("sip:[fe80::1%eth0]", SipUri("fe80::1%eth0")),
        ("sips:a@h", SipUri("h", "a", scheme="sips")),
        ("sip:user:secret@h", SipUri("h", "user:secret")),
    ],
)
def test_uri_parse(text: str, uri: SipUri) -> None:
    assert SipUri.parse(text) == uri
    assert SipUri.parse(str(uri)) == uri


def test_uri_str_and_with_params() -> None:
    uri = SipUri("2001:db8::1", "a", 5060).with_params(transport="udp")
    assert str(uri) == "sip:a@[2001:db8::1]:5060;transport=udp"
    assert str(SipUri.parse("sip:a@b?subject=x")) == "sip:a@b"  # URI headers are dropped.


@pytest.mark.parametrize(
    "text",
    ["", "a@b", "tel:+861234", "http://x", "sip:", "sip:a@", "sip:a@b:0", "sip:a@b:65536", "sip:a@b:x",
     "sip:a@b:", "sip:a@[::1", "sip:a@[::1]x", "sip:a@[zz::1]", "sip:a b@c", "sip:a@b c", "sip:a<@b",
     "sip:a@b:²", "sip:a@b:123456"],
)  # fmt: skip
def test_bad_uris(text: str) -> None:
    with pytest.raises(SipError):
        SipUri.parse(text)


def test_name_addr_forms() -> None:
    plain = NameAddr.parse("<sip:34020000001320000001@3402000000>;tag=2043466181")
    assert plain.display is None and plain.tag == "2043466181"
    quoted = NameAddr.parse('"大门 <东>" <sip:a@b>;tag=1;expires=60')
    assert quoted.display == "大门 <东>" and quoted.params == {"tag": "1", "expires": "60"}
    token_display = NameAddr.parse("Hik Camera <sip:a@b>")
    assert token_display.display == "Hik Camera"
    # Without angle brackets every parameter is the header's, not the URI's (RFC 3261 §20).
    bare = NameAddr.parse("sip:a@b;tag=9")
    assert bare.tag == "9" and bare.uri.params == {}
    escaped = NameAddr.parse(r'"a \"b\"" <sip:a@b>')
    assert escaped.display == 'a "b"'
    assert NameAddr.parse(str(escaped)) == escaped
    tagged = plain.with_tag("x")
    assert tagged.tag == "x" and plain.tag == "2043466181"
    assert str(NameAddr(SipUri("h", "u"), "名字")) == '"名字" <sip:u@h>'


@pytest.mark.parametrize(
    "text",
    ["", "<sip:a@b", '"unclosed <sip:a@b>', '"a" junk <sip:a@b>', "<sip:a@b> junk", '"only display"',
     "<http://a>"],
)  # fmt: skip
def test_bad_name_addrs(text: str) -> None:
    with pytest.raises(SipError):
        NameAddr.parse(text)


def test_via_forms() -> None:
    via = Via.parse("SIP/2.0/UDP 192.168.1.64:5060;rport=5060;received=10.20.30.40;branch=z9hG4bK1")
    assert (via.transport, via.host, via.port) == ("UDP", "192.168.1.64", 5060)
    assert via.params == {"rport": "5060", "received": "10.20.30.40", "branch": "z9hG4bK1"}
    spaced = Via.parse("SIP / 2.0 / tcp\th.example ; branch=z9hG4bK2")
    assert (spaced.transport, spaced.host, spaced.port, spaced.branch) == ("TCP", "h.example", None, "z9hG4bK2")
    ipv6 = Via.parse("SIP/2.0/UDP [2001:db8::9]:5062;rport;branch=z9hG4bK3")
    assert ipv6.host == "2001:db8::9" and ipv6.port == 5062 and ipv6.params["rport"] is None
    answered = ipv6.with_params(received="2001:db8::1", rport="40000")
    assert str(answered) == "SIP/2.0/UDP [2001:db8::9]:5062;rport=40000;branch=z9hG4bK3;received=2001:db8::1"
    assert Via.parse(str(answered)) == answered


@pytest.mark.parametrize(
    "text", ["", "SIP/2.0/UDP", "SIP/2.0 h", "HTTP/2.0/UDP h", "SIP/1.0/UDP h", "SIP/2.0/UDP h:x", "SIP/2.0/UDP :5"]
)
def test_bad_vias(text: str) -> None:
    with pytest.raises(SipError):
        Via.parse(text)


def test_cseq() -> None:
    assert CSeq.parse("20 invite") == CSeq(20, "INVITE")
    assert CSeq.parse(" 1\tREGISTER ") == CSeq(1, "REGISTER")
    assert str(CSeq(7, "MESSAGE")) == "7 MESSAGE"
    for bad in ("", "1", "INVITE", "x INVITE", "-1 INVITE", "1 INVITE extra", "2147483648 BYE", "¹ BYE", "1 B@D"):
        with pytest.raises(SipError):
            CSeq.parse(bad)


def test_challenge_and_authorization_values() -> None:
    challenge = Challenge.parse('Digest realm="3402000000",nonce="abc",algorithm=MD5,qop="auth,auth-int"')
    assert challenge.scheme == "Digest"
    assert challenge.params == {"realm": "3402000000", "nonce": "abc", "algorithm": "MD5", "qop": "auth,auth-int"}
    assert str(challenge) == 'Digest realm="3402000000", nonce="abc", algorithm=MD5, qop="auth,auth-int"'
    answer = Challenge("Digest", {"username": "u", "response": "r", "qop": "auth", "nc": "00000001"})
    assert str(answer) == 'Digest username="u", response="r", qop=auth, nc=00000001'
    assert Challenge.parse(str(answer)) == answer
    assert Challenge.parse("digest\trealm=x").scheme == "Digest"
    for bad in ("", "Digest realm", "Di gest", "Digest =x", "@ realm=x"):
        with pytest.raises(SipError):
            Challenge.parse(bad)


_TEXT = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_header_parsers_only_raise_sip_error(text: str) -> None:
    for parser in (SipUri.parse, NameAddr.parse, Via.parse, CSeq.parse, Challenge.parse, parse_params):
        with contextlib.suppress(SipError):
            parser(text)


@settings(max_examples=200, deadline=None)
@given(
    user=st.from_regex(r"[0-9]{20}", fullmatch=True) | st.none(),
    host=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True) | st.just("2001:db8::1"),
    port=st.integers(1, 65535) | st.none(),
    tag=st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True),
    display=st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=20) | st.none(),
)
def test_name_addrs_round_trip(user: str | None, host: str, port: int | None, tag: str, display: str | None) -> None:
    address = NameAddr(SipUri(host, user, port), display or None, {"tag": tag})
    parsed = NameAddr.parse(str(address))
    assert parsed.uri == address.uri and parsed.tag == tag
    assert parsed.display == (display or None)
