"""The plain counters /metrics reads: SIP retransmissions in the transaction layer, methods a peer cannot use to
add series, and RTP totals that do not go down while their ingest lives."""

from __future__ import annotations

from tests.gb28181.test_sip_transaction import PEER, answer, request, run_until
from tianyan.gb28181.sip.transaction import DeliverRequest, Timers, Transmit
from tianyan.gb28181.sip.transaction_layer import TransactionLayer
from tianyan.health.metrics.runtime import RisingTotals, by_known_method
from tianyan.media.ingest import RtpIngest


def test_the_transaction_layer_counts_retransmissions_both_ways() -> None:
    layer = TransactionLayer(Timers(t1_s=0.5))
    ours = request("MESSAGE")
    layer.send_request(ours, PEER, False, 0.0)
    run_until(layer, 1.6)  # Timer E resends at 0.5 and 1.5 while no answer comes
    assert (layer.retransmissions_sent, layer.retransmissions_received) == (2, 0)
    layer.receive_response(answer(ours, 200), 1.7)
    layer.receive_response(answer(ours, 200), 1.8)  # the device did not hear that we got it
    assert layer.retransmissions_received == 1

    theirs = request("MESSAGE")
    [deliver] = layer.receive_request(theirs, PEER, False, 2.0)
    assert isinstance(deliver, DeliverRequest) and deliver.server_tx is not None
    layer.respond(deliver.server_tx, answer(theirs, 200), 2.1)
    again = layer.receive_request(theirs, PEER, False, 2.2)  # our 200 was lost: answered again from the cache
    assert [type(action) for action in again] == [Transmit]
    assert (layer.retransmissions_sent, layer.retransmissions_received) == (3, 2)


def test_a_peer_cannot_invent_sip_methods_as_labels() -> None:
    assert by_known_method({"REGISTER": 3, "FOO": 1, "BAR": 2, "MESSAGE": 5}) == {
        "REGISTER": 3,
        "MESSAGE": 5,
        "other": 3,
    }


def test_rtp_totals_never_go_down_for_one_ingest_and_restart_with_a_new_one() -> None:
    rising = RisingTotals()
    first, second = RtpIngest("127.0.0.1", 40000, 40001), RtpIngest("127.0.0.1", 40000, 40001)
    assert rising.of(first, {"lost": 5, "packets": 100}) == {"lost": 5, "packets": 100}
    # A stream re-keyed to another SSRC restarted its loss count: the total holds until it is passed.
    assert rising.of(first, {"lost": 2, "packets": 120}) == {"lost": 5, "packets": 120}
    assert rising.of(first, {"lost": 7, "packets": 130}) == {"lost": 7, "packets": 130}
    assert rising.of(second, {"lost": 0, "packets": 3}) == {"lost": 0, "packets": 3}
