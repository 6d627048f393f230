"""Digest authentication: RFC vectors, the GB/T 28181 no-qop form, nonce expiry, replay refusal, bounded memory."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gb28181 import sip_samples as samples
from tianyan.gb28181.sip.digest import (
    DigestAuthority,
    DigestVerdict,
    Outcome,
    authorization,
    choose_challenge,
    digest_response,
    username_of,
)
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import Challenge
from tianyan.gb28181.sip.message import SipRequest, parse, response_to, serialize

KEY = b"0123456789abcdef0123456789abcdef"
URI = f"sip:{samples.PLATFORM_ID}@{samples.REALM}"
USER = samples.DEVICE_ID
PASSWORD = "12345678"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# ---- RFC vectors ---------------------------------------------------------------------------------------------


def test_rfc_2617_mufasa_example() -> None:
    challenge = (
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    value = authorization(challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", cnonce="0a4f113b", nc=1)
    params = Challenge.parse(value).params
    assert params["response"] == "6629fae49393a05397450978507c4ef1"
    assert params["qop"] == "auth" and params["nc"] == "00000001" and params["cnonce"] == "0a4f113b"
    assert params["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"
    assert "qop=auth, nc=00000001" in value  # Bare tokens in the answer, as RFC 2617 writes them.


RFC_7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",  # Lower-case "of": RFC 7616 erratum 4495.
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "qop": "auth",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


def test_rfc_7616_sha256_and_md5_examples() -> None:
    assert (
        digest_response(algorithm="SHA-256", **RFC_7616)
        == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )
    assert digest_response(algorithm="MD5", **RFC_7616) == "8ca523f5e9506fed4657c9700eebdbec"
    challenge = (
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    value = authorization(challenge, "GET", "/dir/index.html", "Mufasa", "Circle of Life", cnonce=RFC_7616["cnonce"])
    assert Challenge.parse(value).params["response"] == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


def test_without_qop_it_is_the_rfc_2069_form_gb_devices_use() -> None:
    challenge = f'Digest realm="{samples.REALM}",nonce="abc123",algorithm=MD5,qop="auth"'
    value = authorization(challenge, "REGISTER", URI, USER, PASSWORD, use_qop=False)
    params = Challenge.parse(value).params
    ha1 = _md5(f"{USER}:{samples.REALM}:{PASSWORD}")
    ha2 = _md5(f"REGISTER:{URI}")
    assert params["response"] == _md5(f"{ha1}:abc123:{ha2}")
    assert "qop" not in params and "nc" not in params and "cnonce" not in params
    # A challenge without qop gets an answer without it whatever use_qop says.
    plain = authorization(f'Digest realm="{samples.REALM}", nonce="abc123"', "REGISTER", URI, USER, PASSWORD)
    assert Challenge.parse(plain).params["response"] == params["response"]


def test_sess_algorithms_hash_the_nonces_into_ha1() -> None:
    value = digest_response(algorithm="MD5-sess", **RFC_7616)
    ha1 = _md5(f"{_md5('Mufasa:http-auth@example.org:Circle of Life')}:{RFC_7616['nonce']}:{RFC_7616['cnonce']}")
    ha2 = _md5("GET:/dir/index.html")
    assert value == _md5(f"{ha1}:{RFC_7616['nonce']}:00000001:{RFC_7616['cnonce']}:auth:{ha2}")
    with pytest.raises(SipError):
        digest_response(algorithm="SHA-1", **RFC_7616)


def test_client_side_refuses_what_it_cannot_answer() -> None:
    for challenge in ('Basic realm="x"', 'Digest nonce="n"', 'Digest realm="r", nonce="n", algorithm=SHA-1'):
        with pytest.raises(SipError):
            authorization(challenge, "REGISTER", URI, USER, PASSWORD)


# ---- the authority -------------------------------------------------------------------------------------------


def _authority(**kwargs: object) -> DigestAuthority:
    return DigestAuthority(samples.REALM, KEY, **kwargs)  # type: ignore[arg-type]


def _answer(authority: DigestAuthority, now: float, **kwargs: object) -> str:
    challenge = authority.challenge(now)[-1]  # MD5, the last when several are offered.
    return authorization(challenge, "REGISTER", URI, USER, PASSWORD, **kwargs)  # type: ignore[arg-type]


def test_challenge_values() -> None:
    (md5,) = _authority().challenge(1000.0)
    params = Challenge.parse(md5).params
    assert params["realm"] == samples.REALM and params["algorithm"] == "MD5" and params["qop"] == "auth"
    assert len(params["nonce"]) == 48 and all(c in "0123456789abcdef" for c in params["nonce"])
    assert md5.startswith(f'Digest realm="{samples.REALM}", nonce="')
    both = _authority(algorithms=("MD5", "SHA-256"), qop=False).challenge(1000.0, stale=True)
    assert [Challenge.parse(v).params["algorithm"] for v in both] == ["SHA-256", "MD5"]  # RFC 8760: strongest first.
    assert all("qop" not in Challenge.parse(v).params and "stale=true" in v for v in both)
    assert choose_challenge(reversed(both)) == both[0]
    assert choose_challenge(['Basic realm="x"', 'Digest realm="r", nonce="n", algorithm=SHA-1', both[1]]) == both[1]
    with pytest.raises(SipError):
        choose_challenge(['Basic realm="x"'])


def test_gb_device_answer_without_qop_is_accepted_once() -> None:
    authority = _authority()
    value = _answer(authority, 1000.0, use_qop=False)
    verdict = authority.verify("REGISTER", value, PASSWORD, 1001.0)
    assert verdict == DigestVerdict(Outcome.OK, "ok", USER, True) and verdict.ok
    replayed = authority.verify("REGISTER", value, PASSWORD, 1002.0)
    assert replayed.outcome is Outcome.STALE and replayed.reason == "nonce already used" and not replayed.ok


def test_qop_auth_needs_a_rising_nonce_count() -> None:
    authority = _authority()
    challenge = authority.challenge(1000.0)[0]
    first = authorization(challenge, "REGISTER", URI, USER, PASSWORD, cnonce="c1", nc=1)
    assert authority.verify("REGISTER", first, PASSWORD, 1001.0).ok
    assert authority.verify("REGISTER", first, PASSWORD, 1001.0).stale  # Same nc again.
    third = authorization(challenge, "REGISTER", URI, USER, PASSWORD, cnonce="c2", nc=3)
    assert authority.verify("REGISTER", third, PASSWORD, 1002.0).ok
    second = authorization(challenge, "REGISTER", URI, USER, PASSWORD, cnonce="c3", nc=2)
    verdict = authority.verify("REGISTER", second, PASSWORD, 1003.0)
    assert verdict.stale and verdict.reason == "nonce count 2 not above 3"


def test_expired_nonce_is_stale_only_with_the_right_password() -> None:
    authority = _authority(nonce_ttl_s=60.0)
    value = _answer(authority, 1000.0, use_qop=False)
    assert authority.verify("REGISTER", value, PASSWORD, 1061.0) == DigestVerdict(
        Outcome.STALE, "nonce expired", USER, True
    )
    assert authority.verify("REGISTER", value, "wrong", 1061.0).outcome is Outcome.BAD


def test_wrong_password_is_bad() -> None:
    authority = _authority()
    value = _answer(authority, 1000.0, use_qop=False)
    verdict = authority.verify("REGISTER", value, "87654321", 1001.0)
    assert verdict.outcome is Outcome.BAD and verdict.reason == "wrong response (password)"
    assert verdict.username == USER
    # A wrong try does not use the nonce up.
    assert authority.verify("REGISTER", value, PASSWORD, 1002.0).ok


def test_the_method_is_part_of_the_answer() -> None:
    authority = _authority()
    value = _answer(authority, 1000.0, use_qop=False)
    assert authority.verify("MESSAGE", value, PASSWORD, 1001.0).outcome is Outcome.BAD


def test_tampered_forged_and_future_nonces_are_bad() -> None:
    authority = _authority()
    nonce = Challenge.parse(authority.challenge(1000.0)[0]).params["nonce"]
    tampered = nonce[:20] + ("0" if nonce[20] != "0" else "1") + nonce[21:]
    forged_by_other_key = Challenge.parse(DigestAuthority(samples.REALM, b"k" * 32).challenge(1000.0)[0]).params[
        "nonce"
    ]
    future = Challenge.parse(authority.challenge(2000.0)[0]).params["nonce"]
    for bad_nonce in (tampered, forged_by_other_key, future, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "zz" * 24):
        challenge = f'Digest realm="{samples.REALM}", nonce="{bad_nonce}", algorithm=MD5'
        value = authorization(challenge, "REGISTER", URI, USER, PASSWORD)
        verdict = authority.verify("REGISTER", value, PASSWORD, 1001.0)
        assert verdict.outcome is Outcome.BAD and verdict.reason == "nonce not issued by us", bad_nonce


def test_realm_is_checked_unless_told_otherwise() -> None:
    nonce = Challenge.parse(_authority().challenge(1000.0)[0]).params["nonce"]
    other_realm = authorization(f'Digest realm="3402000001", nonce="{nonce}"', "REGISTER", URI, USER, PASSWORD)
    strict = _authority().verify("REGISTER", other_realm, PASSWORD, 1001.0)
    assert strict.outcome is Outcome.BAD and not strict.realm_matched and "realm" in strict.reason
    lenient = _authority(strict_realm=False).verify("REGISTER", other_realm, PASSWORD, 1001.0)
    assert lenient.ok and not lenient.realm_matched


def test_algorithms_must_be_offered() -> None:
    md5_only = _authority()
    nonce = Challenge.parse(md5_only.challenge(1000.0)[0]).params["nonce"]
    sha = authorization(
        f'Digest realm="{samples.REALM}", nonce="{nonce}", algorithm=SHA-256', "REGISTER", URI, USER, PASSWORD
    )
    assert md5_only.verify("REGISTER", sha, PASSWORD, 1001.0).reason == "algorithm SHA-256 not offered"
    both = _authority(algorithms=("MD5", "SHA-256"))
    challenge = choose_challenge(both.challenge(1000.0))
    assert both.verify("REGISTER", authorization(challenge, "REGISTER", URI, USER, PASSWORD), PASSWORD, 1001.0).ok


@pytest.mark.parametrize(
    ("drop", "reason"),
    [("uri", "no uri parameter"), ("username", "no username parameter"), ("response", "no response parameter"),
     ("nonce", "no nonce parameter"), ("realm", "no realm parameter")],
)  # fmt: skip
def test_required_parameters(drop: str, reason: str) -> None:
    authority = _authority()
    params = dict(Challenge.parse(_answer(authority, 1000.0)).params)
    del params[drop]
    verdict = authority.verify("REGISTER", str(Challenge("Digest", params)), PASSWORD, 1001.0)
    assert verdict.outcome is Outcome.BAD and verdict.reason == reason


def test_other_bad_headers() -> None:
    authority = _authority()
    good = Challenge.parse(_answer(authority, 1000.0, cnonce="c", nc=1)).params

    def verdict_with(**changes: str) -> DigestVerdict:
        params = {**good, **changes}
        return authority.verify("REGISTER", str(Challenge("Digest", params)), PASSWORD, 1001.0)

    assert verdict_with(qop="auth-int").reason == "qop 'auth-int' not supported"
    assert verdict_with(nc="1").reason == "qop=auth without a valid nc and cnonce"
    assert verdict_with(nc="0000000g").reason == "qop=auth without a valid nc and cnonce"
    assert verdict_with(algorithm="SHA-1").reason == "algorithm 'SHA-1' not supported"
    assert authority.verify("REGISTER", "Basic dXNlcjpwYXNz", PASSWORD, 1001.0).outcome is Outcome.BAD
    assert authority.verify("REGISTER", "", PASSWORD, 1001.0).outcome is Outcome.BAD
    unknown = authority.verify("REGISTER", str(Challenge("Digest", good)), None, 1001.0)
    assert unknown.reason == "unknown user" and unknown.username == USER
    assert authority.verify("REGISTER", str(Challenge("Digest", good)), PASSWORD, 1001.0).ok


def test_username_of() -> None:
    assert username_of(samples.AUTHORIZATION) == USER
    assert username_of('Digest realm="x"') is None
    assert username_of("") is None


def test_memory_is_bounded_and_eviction_never_reopens_a_nonce() -> None:
    authority = _authority(max_tracked_nonces=10, nonce_ttl_s=300.0)
    answers = []
    for i in range(50):
        value = _answer(authority, 1000.0 + i, use_qop=False)
        assert authority.verify("REGISTER", value, PASSWORD, 1000.0 + i).ok
        answers.append(value)
        assert authority.tracked_nonces <= 10
    # The first answers were forgotten to stay within bounds, yet replaying them is still refused.
    for value in answers:
        assert authority.verify("REGISTER", value, PASSWORD, 1060.0).stale
    # A fresh nonce still works.
    assert authority.verify("REGISTER", _answer(authority, 1061.0, use_qop=False), PASSWORD, 1061.0).ok


def test_expired_entries_are_forgotten_first() -> None:
    authority = _authority(nonce_ttl_s=10.0)
    for i in range(20):
        assert authority.verify("REGISTER", _answer(authority, 1000.0 + i, use_qop=False), PASSWORD, 1000.0 + i).ok
    assert authority.tracked_nonces <= 12
    assert authority.verify("REGISTER", _answer(authority, 2000.0, use_qop=False), PASSWORD, 2000.0).ok
    assert authority.tracked_nonces == 1


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        DigestAuthority("r", b"short")
    with pytest.raises(ValueError):
        DigestAuthority("r", KEY, algorithms=("SHA-1",))
    with pytest.raises(ValueError):
        DigestAuthority("r", KEY, algorithms=())
    with pytest.raises(ValueError):
        DigestAuthority("r", KEY).challenge(-1.0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_verify_never_raises(value: str) -> None:
    verdict = _authority().verify("REGISTER", value, PASSWORD, 1000.0)
    assert verdict.outcome is Outcome.BAD


@settings(max_examples=100, deadline=None)
@given(
    password=st.text(min_size=1, max_size=20),
    use_qop=st.booleans(),
    algorithm=st.sampled_from(["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"]),
)
def test_what_the_client_side_builds_the_server_side_accepts(password: str, use_qop: bool, algorithm: str) -> None:
    authority = _authority(algorithms=(algorithm,))
    value = authorization(authority.challenge(1000.0)[0], "REGISTER", URI, USER, password, use_qop=use_qop)
    assert authority.verify("REGISTER", value, password, 1000.5).ok


def test_register_flow_through_messages() -> None:
    """401 with the challenge, the device's second REGISTER with its answer, both through bytes."""
    authority = _authority(algorithms=("MD5", "SHA-256"))
    register = parse(samples.REGISTER)
    assert isinstance(register, SipRequest)
    challenge_401 = response_to(
        register, 401, to_tag="p1", headers=[("WWW-Authenticate", v) for v in authority.challenge(1000.0)]
    )
    received = parse(serialize(challenge_401))
    offered = received.headers.get_all("WWW-Authenticate")
    assert len(offered) == 2
    # A GB device takes the MD5 one and answers without qop.
    md5 = next(value for value in offered if "algorithm=MD5" in value)
    answer = authorization(md5, "REGISTER", str(register.uri), USER, PASSWORD, use_qop=False)
    second = parse(samples.REGISTER_AUTH.replace(samples.AUTHORIZATION.encode(), answer.encode()))
    assert isinstance(second, SipRequest)
    value = second.headers.get("Authorization")
    assert value is not None and username_of(value) == USER
    assert authority.verify(second.method, value, PASSWORD, 1001.0).ok


def test_a_password_kept_only_as_ha1_verifies_like_the_password() -> None:
    from tianyan.gb28181.sip.digest import DigestAuthority, StoredHa1, authorization

    authority = DigestAuthority("4413000000", b"k" * 32, algorithms=("SHA-256", "MD5"), qop=False)
    stored = StoredHa1.of(username="44130200001320000001", realm="4413000000", password="12345678")
    for index in range(2):  # SHA-256 and MD5; the values of one challenge share a single-use nonce
        challenge = authority.challenge(100.0)[index]
        answer = authorization(challenge, "REGISTER", "sip:44130000002000000001@4413000000",
                               "44130200001320000001", "12345678", use_qop=False)  # fmt: skip
        assert authority.verify("REGISTER", answer, stored, 101.0).ok
    wrong = StoredHa1.of(username="44130200001320000001", realm="4413000000", password="87654321")
    answer = authorization(authority.challenge(102.0)[1], "REGISTER", "sip:x@4413000000", "44130200001320000001",
                           "12345678", use_qop=False)  # fmt: skip
    assert not authority.verify("REGISTER", answer, wrong, 103.0).ok
    elsewhere = StoredHa1.of(username="44130200001320000001", realm="3402000000", password="12345678")
    assert "another realm" in authority.verify("REGISTER", answer, elsewhere, 103.0).reason
