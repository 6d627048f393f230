"""GB SSRCs: the 10-digit layout, the 32-bit integer form, and the per-domain allocator's reuse, wrap and exhaustion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tianyan.gb28181.ssrc import (
    Ssrc,
    SsrcAllocator,
    SsrcError,
    SsrcExhausted,
    domain_tag,
    make_ssrc,
    parse_ssrc,
    ssrc_from_int,
)

DOMAIN = "3402000000"  # digits 4-8: "20000"
PLATFORM_ID = "34020000002000000001"


def test_fields_of_a_live_ssrc() -> None:
    ssrc = parse_ssrc("0200000001")
    assert not ssrc.history
    assert ssrc.domain_tag == "20000"
    assert ssrc.sequence == 1
    assert str(ssrc) == "0200000001"


def test_leading_zero_is_just_a_zero_in_the_rtp_integer() -> None:
    assert parse_ssrc("0200000001").value == 200000001
    assert ssrc_from_int(200000001) == Ssrc("0200000001")
    assert parse_ssrc("1200009999").value == 1200009999


def test_domain_tag_from_domain_or_platform_id() -> None:
    assert domain_tag(DOMAIN) == "20000"
    assert domain_tag(PLATFORM_ID) == "20000"
    # The standard's own example: domain 1301000000 gives "10000".
    assert domain_tag("13010000002000000001") == "10000"


def test_make_ssrc_for_live_and_history() -> None:
    assert make_ssrc(DOMAIN, 1).text == "0200000001"
    assert make_ssrc(DOMAIN, 9999, history=True).text == "1200009999"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("020000001", "10 digits"),
        ("02000000012", "10 digits"),
        ("02000a0001", "10 digits"),
        ("０200000001", "10 digits"),  # full-width digit
        ("2200000001", "0 \\(live\\) or 1 \\(history\\)"),
        ("", "10 digits"),
    ],
)
def test_bad_ssrc_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(SsrcError, match=reason):
        parse_ssrc(text)


def test_surrounding_spaces_are_forgiven() -> None:
    assert parse_ssrc(" 0200000001 ").text == "0200000001"


@pytest.mark.parametrize("value", [-1, 2**32, 2_000_000_000, True, 1.0])
def test_rtp_integers_that_are_not_gb_ssrcs(value: object) -> None:
    with pytest.raises(SsrcError):
        ssrc_from_int(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("domain", ["340200000", "34020000001", "34020a0000", ""])
def test_bad_domains(domain: str) -> None:
    with pytest.raises(SsrcError, match="SIP domain"):
        SsrcAllocator(domain)


@given(st.booleans(), st.integers(0, 9999), st.text("0123456789", min_size=10, max_size=10))
def test_text_and_integer_forms_round_trip(history: bool, sequence: int, domain: str) -> None:
    ssrc = make_ssrc(domain, sequence, history=history)
    assert ssrc_from_int(ssrc.value) == ssrc
    assert parse_ssrc(ssrc.text) == ssrc
    assert ssrc.value < 2**32


def test_allocator_hands_out_sequences_in_order_sharing_live_and_history() -> None:
    allocator = SsrcAllocator(DOMAIN)
    assert allocator.allocate().text == "0200000001"
    assert allocator.allocate(history=True).text == "1200000002"
    assert allocator.allocate().text == "0200000003"
    assert allocator.in_use == 3 and allocator.available == 9996


def test_released_sequence_comes_back_only_after_the_cursor_wraps() -> None:
    allocator = SsrcAllocator(DOMAIN, first_sequence=9998)
    first = allocator.allocate()
    assert first.sequence == 9998
    assert allocator.release(first) is True
    assert allocator.allocate().sequence == 9999
    # Wrap from 9999 to 0001, never 0000.
    assert allocator.allocate().sequence == 1
    assert not allocator.is_in_use(first)


def test_allocator_skips_sequences_in_use_after_wrapping() -> None:
    allocator = SsrcAllocator(DOMAIN, first_sequence=9999)
    allocator.reserve("0200000001")
    allocator.reserve("1200000002")
    assert allocator.allocate().sequence == 9999
    assert allocator.allocate().sequence == 3


def test_exhaustion_is_a_clear_error_and_release_recovers() -> None:
    allocator = SsrcAllocator(DOMAIN)
    handed = [allocator.allocate() for _ in range(9999)]
    assert len({s.sequence for s in handed}) == 9999
    with pytest.raises(SsrcExhausted, match="all 9999 SSRC sequences of domain 3402000000"):
        allocator.allocate()
    allocator.release(handed[4321])
    assert allocator.allocate(history=True).sequence == handed[4321].sequence


def test_release_is_idempotent_and_checks_the_domain() -> None:
    allocator = SsrcAllocator(DOMAIN)
    ssrc = allocator.allocate()
    assert allocator.release(ssrc.text) is True
    assert allocator.release(ssrc.text) is False
    with pytest.raises(SsrcError, match="domain tag 10000"):
        allocator.release("0100000001")


def test_reserve_refuses_a_sequence_in_use_or_zero() -> None:
    allocator = SsrcAllocator(DOMAIN)
    allocator.reserve("0200000042")
    with pytest.raises(SsrcError, match="already in use"):
        allocator.reserve("1200000042")
    with pytest.raises(SsrcError, match="0000"):
        allocator.reserve("0200000000")
