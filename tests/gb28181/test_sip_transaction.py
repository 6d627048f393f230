"""Transactions with a fake `now`: retransmission schedules, timeouts, absorption, 2xx until ACK, matching, bounds."""

from __future__ import annotations

import pytest

from tests.gb28181 import sip_samples as samples
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import SipRequest, SipResponse, new_branch, new_request, parse, response_to
from tianyan.gb28181.sip.transaction import (
    Action,
    ClientInviteTransaction,
    DeliverRequest,
    DeliverResponse,
    Overloaded,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    State,
    Terminated,
    Timers,
    TransactionLimitError,
    TransactionTimedOut,
    Transmit,
    build_ack,
    build_cancel,
)
from tianyan.gb28181.sip.transaction_layer import TransactionLayer

T1, T2, T4 = 0.5, 4.0, 5.0
PEER = object()  # Opaque: the layer must hand it back untouched.


def request(method: str, *, branch: str | None = None, host: str = "10.0.0.1", port: int = 5060) -> SipRequest:
    return new_request(
        method,
        SipUri(samples.REALM, samples.DEVICE_ID),
        via=Via("UDP", host, port, {"branch": branch or new_branch(), "rport": None}),
        from_=NameAddr(SipUri(samples.REALM, samples.PLATFORM_ID), params={"tag": "ftag"}),
        to=NameAddr(SipUri(samples.REALM, samples.DEVICE_ID)),
        call_id="call-1",
        cseq=20,
        headers=[("Route", "<sip:proxy.example;lr>")],
    )


def answer(req: SipRequest, status: int) -> SipResponse:
    return response_to(req, status, to_tag=None if status == 100 else "ttag")


def run_until(layer: TransactionLayer, end: float) -> list[tuple[float, Action]]:
    """Fire every timer up to `end` at its exact deadline, as an event loop with a perfect clock would."""
    fired: list[tuple[float, Action]] = []
    while (deadline := layer.next_deadline()) is not None and deadline <= end:
        fired += [(deadline, action) for action in layer.expire(deadline)]
    return fired


def transmit_times(fired: list[tuple[float, Action]]) -> list[float]:
    return [at for at, action in fired if isinstance(action, Transmit)]


# ---- client non-INVITE -----------------------------------------------------------------------------------------


def test_non_invite_retransmits_t1_doubling_to_t2_and_times_out_at_64_t1() -> None:
    layer = TransactionLayer()
    req = request("MESSAGE")
    tx, actions = layer.send_request(req, PEER, False, 0.0)
    assert actions == [Transmit(req, PEER)] and actions[0].destination is PEER
    fired = run_until(layer, 100.0)
    times = transmit_times(fired)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[:4] == [T1, 2 * T1, 4 * T1, T2]
    assert all(gap == T2 for gap in gaps[3:])
    assert times[-1] < 64 * T1
    assert fired[-2:] == [(64 * T1, TransactionTimedOut(tx, "timer F: no final response")), (64 * T1, Terminated(tx))]
    assert layer.client_count == 0 and layer.next_deadline() is None


def test_non_invite_over_tcp_never_retransmits() -> None:
    layer = TransactionLayer()
    tx, _ = layer.send_request(request("MESSAGE"), PEER, True, 0.0)
    fired = run_until(layer, 100.0)
    assert fired == [(32.0, TransactionTimedOut(tx, "timer F: no final response")), (32.0, Terminated(tx))]


def test_non_invite_provisional_moves_retransmissions_to_t2() -> None:
    layer = TransactionLayer()
    req = request("MESSAGE")
    tx, _ = layer.send_request(req, PEER, False, 0.0)
    assert transmit_times(run_until(layer, 0.6)) == [0.5]
    assert layer.receive_response(answer(req, 100), 0.6) == [DeliverResponse(answer(req, 100), tx)]
    assert tx.state is State.PROCEEDING
    # The timer already set fires at 1.5, and from then on every T2.
    assert transmit_times(run_until(layer, 15.0)) == [1.5, 5.5, 9.5, 13.5]


def test_non_invite_final_is_delivered_once_then_timer_k() -> None:
    layer = TransactionLayer()
    req = request("MESSAGE")
    tx, _ = layer.send_request(req, PEER, False, 0.0)
    ok = answer(req, 200)
    assert layer.receive_response(ok, 0.2) == [DeliverResponse(ok, tx)]
    assert tx.state is State.COMPLETED
    assert layer.receive_response(ok, 0.3) == []  # A retransmitted final is absorbed.
    assert run_until(layer, 100.0) == [(0.2 + T4, Terminated(tx))]
    assert layer.receive_response(ok, 6.0) == []  # Unmatched now: dropped.


def test_non_invite_final_over_tcp_terminates_at_once() -> None:
    layer = TransactionLayer()
    req = request("MESSAGE")
    tx, _ = layer.send_request(req, PEER, True, 0.0)
    ok = answer(req, 200)
    assert layer.receive_response(ok, 0.1) == [DeliverResponse(ok, tx), Terminated(tx)]
    assert layer.client_count == 0 and layer.next_deadline() is None


# ---- client INVITE ---------------------------------------------------------------------------------------------


def test_invite_timer_a_doubles_without_cap_and_timer_b() -> None:
    layer = TransactionLayer()
    tx, _ = layer.send_request(request("INVITE"), PEER, False, 0.0)
    fired = run_until(layer, 100.0)
    assert transmit_times(fired) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert fired[-2:] == [(32.0, TransactionTimedOut(tx, "timer B: no response")), (32.0, Terminated(tx))]


def test_invite_non_2xx_gets_an_ack_built_per_17_1_1_3() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    tx, _ = layer.send_request(invite, PEER, False, 0.0)
    busy = answer(invite, 486)
    actions = layer.receive_response(busy, 0.1)
    assert isinstance(tx, ClientInviteTransaction) and tx.ack is not None
    assert actions == [Transmit(tx.ack, PEER), DeliverResponse(busy, tx)]
    ack = tx.ack
    assert ack.method == "ACK" and ack.uri == invite.uri
    assert ack.headers.get_all("Via") == invite.headers.get_all("Via")[:1]  # Same branch: same transaction.
    assert ack.to.tag == "ttag" and ack.from_ == invite.from_ and ack.call_id == invite.call_id
    assert str(ack.cseq) == "20 ACK"
    assert ack.headers.get_all("Route") == ["<sip:proxy.example;lr>"]
    assert ack == build_ack(invite, busy)
    # A retransmitted 486 gets the ACK again and is not delivered again.
    assert layer.receive_response(busy, 0.6) == [Transmit(ack, PEER)]
    assert run_until(layer, 100.0) == [(0.1 + 32.0, Terminated(tx))]  # Timer D.


def test_invite_non_2xx_over_tcp_acks_and_ends() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    layer.send_request(invite, PEER, True, 0.0)
    actions = layer.receive_response(answer(invite, 404), 0.1)
    assert [type(a) for a in actions] == [Transmit, DeliverResponse, Terminated]


def test_invite_2xx_retransmissions_reach_the_tu_until_timer_m() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    tx, _ = layer.send_request(invite, PEER, False, 0.0)
    trying = answer(invite, 100)
    assert layer.receive_response(trying, 0.1) == [DeliverResponse(trying, tx)]
    assert transmit_times(run_until(layer, 5.0)) == []  # Proceeding: no more retransmissions.
    ok = answer(invite, 200)
    assert layer.receive_response(ok, 5.0) == [DeliverResponse(ok, tx)]
    assert tx.state is State.ACCEPTED
    # Each 2xx retransmission goes to the TU, which ACKs it again (RFC 6026 §7.2).
    assert layer.receive_response(ok, 5.5) == [DeliverResponse(ok, tx)]
    assert layer.receive_response(answer(invite, 486), 5.6) == []
    assert run_until(layer, 100.0) == [(5.0 + 32.0, Terminated(tx))]  # Timer M.


def test_invite_stuck_in_proceeding_times_out_on_timer_c() -> None:
    layer = TransactionLayer(Timers(timer_c_s=60.0))
    invite = request("INVITE")
    tx, _ = layer.send_request(invite, PEER, False, 0.0)
    layer.receive_response(answer(invite, 100), 1.0)
    layer.receive_response(answer(invite, 180), 10.0)  # Each provisional restarts Timer C.
    fired = run_until(layer, 200.0)
    assert fired == [(70.0, TransactionTimedOut(tx, "timer C: provisional responses but no final one")),
                     (70.0, Terminated(tx))]  # fmt: skip


def test_cancel_is_its_own_transaction_and_matches_by_method() -> None:
    layer = TransactionLayer()
    invite = request("INVITE")
    invite_tx, _ = layer.send_request(invite, PEER, False, 0.0)
    layer.receive_response(answer(invite, 100), 0.1)
    cancel = build_cancel(invite)
    assert cancel.via.branch == invite.via.branch and str(cancel.cseq) == "20 CANCEL"
    assert cancel.uri == invite.uri and cancel.to == invite.to
    cancel_tx, _ = layer.send_request(cancel, PEER, False, 0.2)
    cancel_ok = answer(cancel, 200)
    assert layer.receive_response(cancel_ok, 0.3) == [DeliverResponse(cancel_ok, cancel_tx)]
    terminated = answer(invite, 487)
    assert layer.receive_response(terminated, 0.4)[1] == DeliverResponse(terminated, invite_tx)


def test_send_request_refuses_what_it_cannot_track() -> None:
    layer = TransactionLayer(max_client_transactions=2)
    req = request("MESSAGE")
    layer.send_request(req, PEER, False, 0.0)
    with pytest.raises(SipError, match="already running"):
        layer.send_request(req, PEER, False, 0.0)
    layer.send_request(request("MESSAGE"), PEER, False, 0.0)
    with pytest.raises(TransactionLimitError):
        layer.send_request(request("MESSAGE"), PEER, False, 0.0)
    with pytest.raises(SipError, match="ACK"):
        layer.send_request(request("ACK"), PEER, False, 0.0)
    no_branch = request("OPTIONS")
    no_branch.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5060")
    with pytest.raises(SipError, match="branch"):
        TransactionLayer().send_request(no_branch, PEER, False, 0.0)


# ---- server non-INVITE ---------------------------------------------------------------------------------------


def test_server_non_invite_absorbs_retransmissions_and_repeats_the_last_response() -> None:
    layer = TransactionLayer()
    keepalive = parse(samples.KEEPALIVE)
    assert isinstance(keepalive, SipRequest)
    actions = layer.receive_request(keepalive, PEER, False, 0.0)
    assert len(actions) == 1 and isinstance(actions[0], DeliverRequest)
    tx = actions[0].server_tx
    assert isinstance(tx, ServerNonInviteTransaction) and actions[0].source is PEER
    assert layer.receive_request(keepalive, PEER, False, 0.1) == []  # Trying: absorbed, TU not bothered.
    trying = answer(keepalive, 100)
    assert layer.respond(tx, trying, 0.2) == [Transmit(trying, PEER)]
    assert layer.receive_request(keepalive, PEER, False, 0.3) == [Transmit(trying, PEER)]
    ok = answer(keepalive, 200)
    assert layer.respond(tx, ok, 0.4) == [Transmit(ok, PEER)]
    assert layer.receive_request(keepalive, PEER, False, 0.5) == [Transmit(ok, PEER)]
    assert layer.respond(tx, answer(keepalive, 500), 0.6) == []  # A second final is discarded.
    assert run_until(layer, 100.0) == [(0.4 + 32.0, Terminated(tx))]  # Timer J.
    assert layer.respond(tx, ok, 40.0) == []
    # After Timer J the same request is new again.
    assert isinstance(layer.receive_request(keepalive, PEER, False, 40.0)[0], DeliverRequest)


def test_server_non_invite_over_tcp_ends_with_its_final() -> None:
    layer = TransactionLayer()
    keepalive = parse(samples.KEEPALIVE)
    assert isinstance(keepalive, SipRequest)
    (deliver,) = layer.receive_request(keepalive, PEER, True, 0.0)
    assert isinstance(deliver, DeliverRequest) and deliver.server_tx is not None
    ok = answer(keepalive, 200)
    assert layer.respond(deliver.server_tx, ok, 0.1) == [Transmit(ok, PEER), Terminated(deliver.server_tx)]
    assert layer.server_count == 0


def test_server_non_invite_with_a_silent_tu_times_out() -> None:
    layer = TransactionLayer()
    keepalive = parse(samples.KEEPALIVE)
    assert isinstance(keepalive, SipRequest)
    (deliver,) = layer.receive_request(keepalive, PEER, False, 0.0)
    assert isinstance(deliver, DeliverRequest) and deliver.server_tx is not None
    tx = deliver.server_tx
    assert run_until(layer, 100.0) == [(32.0, TransactionTimedOut(tx, "the TU gave no final response")),
                                       (32.0, Terminated(tx))]  # fmt: skip


# ---- server INVITE ---------------------------------------------------------------------------------------------


def _incoming_invite(layer: TransactionLayer, reliable: bool = False) -> tuple[SipRequest, ServerInviteTransaction]:
    invite = parse(samples.INVITE)
    assert isinstance(invite, SipRequest)
    actions = layer.receive_request(invite, PEER, reliable, 0.0)
    deliver = actions[-1]
    assert isinstance(deliver, DeliverRequest) and isinstance(deliver.server_tx, ServerInviteTransaction)
    return invite, deliver.server_tx


def _ack_for_2xx(invite: SipRequest, ok: SipResponse) -> SipRequest:
    """The UAC's ACK for a 2xx: a new branch (its own transaction), the 2xx's To, the INVITE's CSeq number."""
    ack = build_ack(invite, ok)
    ack.headers.set("Via", str(invite.via.with_params(branch=new_branch())))
    return ack


def test_server_invite_retransmits_its_2xx_until_the_ack() -> None:
    layer = TransactionLayer()
    invite, tx = _incoming_invite(layer)
    ok = response_to(invite, 200, to_tag="dev1", body=samples.INVITE_OK_SDP, content_type="application/sdp")
    assert layer.respond(tx, ok, 0.0) == [Transmit(ok, PEER)]
    assert tx.state is State.ACCEPTED
    fired = run_until(layer, 12.0)
    assert transmit_times(fired) == [0.5, 1.5, 3.5, 7.5, 11.5]
    assert all(action == Transmit(ok, PEER) for _, action in fired)
    assert layer.receive_request(invite, PEER, False, 12.0) == []  # Accepted absorbs INVITE retransmissions.
    ack = _ack_for_2xx(invite, ok)
    assert layer.receive_request(ack, PEER, False, 12.5) == [DeliverRequest(ack, None, PEER)]
    assert tx.acked
    assert layer.receive_request(ack, PEER, False, 12.6) == []  # The TU hears of the ACK once.
    assert run_until(layer, 100.0) == [(32.0, Terminated(tx))]  # Timer L, quietly.


def test_server_invite_2xx_never_acked_times_out_on_timer_l() -> None:
    layer = TransactionLayer()
    invite, tx = _incoming_invite(layer)
    ok = response_to(invite, 200, to_tag="dev1")
    layer.respond(tx, ok, 0.0)
    fired = run_until(layer, 100.0)
    times = transmit_times(fired)
    assert times[:5] == [0.5, 1.5, 3.5, 7.5, 11.5] and times[-1] == 31.5
    assert fired[-2:] == [(32.0, TransactionTimedOut(tx, "timer L: no ACK for the 2xx")), (32.0, Terminated(tx))]


def test_server_invite_2xx_over_tcp_is_sent_once_but_still_waits_for_the_ack() -> None:
    layer = TransactionLayer()
    invite, tx = _incoming_invite(layer, reliable=True)
    ok = response_to(invite, 200, to_tag="dev1")
    layer.respond(tx, ok, 0.0)
    assert transmit_times(run_until(layer, 31.0)) == []
    ack = _ack_for_2xx(invite, ok)
    assert layer.receive_request(ack, PEER, True, 31.0) == [DeliverRequest(ack, None, PEER)]
    assert run_until(layer, 100.0) == [(32.0, Terminated(tx))]
    # With the option set, a 2xx is retransmitted over TCP as §13.3.1.4 has it.
    layer = TransactionLayer(Timers(retransmit_2xx_reliable=True))
    invite, tx = _incoming_invite(layer, reliable=True)
    layer.respond(tx, response_to(invite, 200, to_tag="dev1"), 0.0)
    assert transmit_times(run_until(layer, 2.0)) == [0.5, 1.5]


def test_server_invite_non_2xx_timer_g_until_ack_then_timer_i() -> None:
    layer = TransactionLayer()
    invite, tx = _incoming_invite(layer)
    busy = response_to(invite, 486, to_tag="dev1")
    layer.respond(tx, busy, 0.0)
    assert tx.state is State.COMPLETED
    assert transmit_times(run_until(layer, 16.0)) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert layer.receive_request(invite, PEER, False, 16.0) == [Transmit(busy, PEER)]
    ack = build_ack(invite, busy)  # Same branch: it matches the INVITE transaction itself.
    assert layer.receive_request(ack, PEER, False, 16.2) == []  # Absorbed: the TU never sees it.
    assert tx.state is State.CONFIRMED
    assert layer.receive_request(ack, PEER, False, 16.3) == []
    assert run_until(layer, 100.0) == [(16.2 + T4, Terminated(tx))]  # Timer I.


def test_server_invite_non_2xx_without_ack_times_out_on_timer_h() -> None:
    layer = TransactionLayer()
    invite, tx = _incoming_invite(layer)
    layer.respond(tx, response_to(invite, 603, to_tag="dev1"), 0.0)
    fired = run_until(layer, 100.0)
    assert fired[-2:] == [(32.0, TransactionTimedOut(tx, "timer H: no ACK for the final response")),
                          (32.0, Terminated(tx))]  # fmt: skip
    assert all(b - a <= T2 for a, b in zip(transmit_times(fired), transmit_times(fired)[1:], strict=False))


def test_server_invite_non_2xx_over_tcp() -> None:
    layer = TransactionLayer()
    invite, tx = _incoming_invite(layer, reliable=True)
    busy = response_to(invite, 486, to_tag="dev1")
    layer.respond(tx, busy, 0.0)
    assert transmit_times(run_until(layer, 10.0)) == []
    assert layer.receive_request(build_ack(invite, busy), PEER, True, 10.0) == [Terminated(tx)]


def test_server_invite_sends_100_trying_when_the_tu_is_slow() -> None:
    layer = TransactionLayer(auto_trying=True)
    invite, tx = _incoming_invite(layer)
    fired = run_until(layer, 0.3)
    assert len(fired) == 1 and fired[0][0] == 0.2
    trying = fired[0][1]
    assert isinstance(trying, Transmit) and isinstance(trying.message, SipResponse)
    assert trying.message.status == 100 and trying.message.to.tag is None
    assert layer.receive_request(invite, PEER, False, 0.4) == [trying]  # A retransmission gets the 100 again.
    # A TU that answers in time sends its own provisional and no 100 goes out.
    quick = TransactionLayer(auto_trying=True)
    invite, tx = _incoming_invite(quick)
    ringing = response_to(invite, 180, to_tag="dev1")
    quick.respond(tx, ringing, 0.1)
    assert transmit_times(run_until(quick, 0.5)) == []
    # trying_after_s=0 answers at once.
    eager = TransactionLayer(Timers(trying_after_s=0), auto_trying=True)
    actions = eager.receive_request(invite, PEER, False, 0.0)
    assert isinstance(actions[0], Transmit) and isinstance(actions[1], DeliverRequest)


def test_cancel_finds_its_invite_and_gets_its_own_transaction() -> None:
    layer = TransactionLayer()
    invite, invite_tx = _incoming_invite(layer)
    cancel = build_cancel(invite)
    assert layer.cancel_target(cancel) is invite_tx
    (deliver,) = layer.receive_request(cancel, PEER, False, 0.1)
    assert isinstance(deliver, DeliverRequest) and deliver.server_tx is not invite_tx
    assert deliver.server_tx is not None and deliver.server_tx.method == "CANCEL"
    assert layer.server_count == 2


# ---- matching ----------------------------------------------------------------------------------------------------


def test_same_branch_from_another_sent_by_is_another_transaction() -> None:
    layer = TransactionLayer()
    first = request("MESSAGE", branch="z9hG4bKsame", host="10.0.0.1")
    second = request("MESSAGE", branch="z9hG4bKsame", host="10.0.0.2")
    assert isinstance(layer.receive_request(first, PEER, False, 0.0)[0], DeliverRequest)
    assert isinstance(layer.receive_request(second, PEER, False, 0.0)[0], DeliverRequest)
    # sent-by compares with the default port filled in.
    third = request("MESSAGE", branch="z9hG4bKsame", host="10.0.0.1")
    third.headers.set("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKsame")
    assert layer.receive_request(third, PEER, False, 0.1) == []
    assert layer.server_count == 2


def test_rfc_2543_requests_without_the_magic_cookie() -> None:
    layer = TransactionLayer()
    old = request("MESSAGE")
    old.headers.set("Via", "SIP/2.0/UDP 10.0.0.9:5060;branch=1234")
    assert isinstance(layer.receive_request(old, PEER, False, 0.0)[0], DeliverRequest)
    assert layer.receive_request(old, PEER, False, 0.1) == []
    no_branch = request("INFO")
    no_branch.headers.set("Via", "SIP/2.0/UDP 10.0.0.9:5060")
    assert isinstance(layer.receive_request(no_branch, PEER, False, 0.0)[0], DeliverRequest)
    assert layer.receive_request(no_branch, PEER, False, 0.1) == []


def test_responses_that_match_nothing_are_dropped() -> None:
    layer = TransactionLayer()
    req = request("MESSAGE")
    layer.send_request(req, PEER, False, 0.0)
    stray = answer(request("MESSAGE"), 200)
    assert layer.receive_response(stray, 0.1) == []
    other_method = answer(req, 200)
    other_method.headers.set("CSeq", "20 OPTIONS")
    assert layer.receive_response(other_method, 0.1) == []
    no_branch = answer(req, 200)
    no_branch.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5060")
    assert layer.receive_response(no_branch, 0.1) == []


def test_stray_ack_goes_to_the_tu() -> None:
    ack = request("ACK")
    assert TransactionLayer().receive_request(ack, PEER, False, 0.0) == [DeliverRequest(ack, None, PEER)]


# ---- bounds and bookkeeping ------------------------------------------------------------------------------------


def test_overload_answers_503_statelessly() -> None:
    layer = TransactionLayer(max_server_transactions=2, retry_after_s=7)
    first, second, third = request("MESSAGE"), request("MESSAGE"), request("MESSAGE")
    layer.receive_request(first, PEER, False, 0.0)
    layer.receive_request(second, PEER, False, 0.0)
    actions = layer.receive_request(third, PEER, False, 0.0)
    assert actions[0] == Overloaded(third, PEER)
    busy = actions[1]
    assert isinstance(busy, Transmit) and isinstance(busy.message, SipResponse) and busy.destination is PEER
    assert busy.message.status == 503 and busy.message.headers.get("Retry-After") == "7"
    assert layer.server_count == 2
    assert layer.receive_request(first, PEER, False, 0.1) == []  # Existing ones still absorb retransmissions.


def test_timer_heap_stays_bounded_under_load() -> None:
    layer = TransactionLayer()
    now = 0.0
    for _ in range(5000):
        now += 0.01
        req = request("MESSAGE")
        layer.send_request(req, PEER, False, now)
        layer.receive_response(answer(req, 200), now)  # Stops E and F, which stay in the heap as stale.
        layer.expire(now)
    assert layer.client_count <= 600  # Only those inside Timer K (T4) are alive.
    assert len(layer._heap) <= 1024 + 8 * layer.client_count + 8
    run_until(layer, now + 100)
    assert layer.client_count == 0 and layer.next_deadline() is None


def test_late_expire_does_not_burst() -> None:
    layer = TransactionLayer()
    tx, _ = layer.send_request(request("MESSAGE"), PEER, False, 0.0)
    actions = layer.expire(10.0)  # The loop slept: one retransmission, not a catch-up burst.
    assert [type(a) for a in actions] == [Transmit]
    assert tx.deadline("E") == 10.0 + 2 * T1


def test_transport_failure_ends_the_transaction() -> None:
    layer = TransactionLayer()
    tx, _ = layer.send_request(request("MESSAGE"), PEER, True, 0.0)
    assert layer.transport_failed(tx, 1.0) == [TransactionTimedOut(tx, "transport error"), Terminated(tx)]
    assert layer.transport_failed(tx, 1.0) == []
    assert layer.client_count == 0 and layer.next_deadline() is None


def test_timers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Timers(t1_s=0)
    assert Timers().timeout_s == 32.0
