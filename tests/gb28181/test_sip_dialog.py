"""Dialogs for INVITE and SUBSCRIBE: creation on both sides, in-dialog requests, CSeq checks, subscriptions, store."""

from __future__ import annotations

import pytest

from tests.gb28181 import sip_samples as samples
from tianyan.gb28181.sip.dialog import (
    Dialog,
    DialogId,
    DialogLimitError,
    DialogState,
    DialogStore,
    RequestVerdict,
    Role,
    SubscriptionState,
    SubscriptionStateHeader,
    event_key,
)
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import SipUri, Via
from tianyan.gb28181.sip.message import SipRequest, SipResponse, parse, response_to, serialize
from tianyan.gb28181.sip.transaction import Action, DeliverRequest, DeliverResponse, Transmit
from tianyan.gb28181.sip.transaction_layer import TransactionLayer

PLATFORM_VIA = Via("UDP", "10.0.0.1", 5060, {"rport": None})
DEVICE_VIA = Via("UDP", "192.168.1.70", 5060, {"rport": None})


def _request(data: bytes) -> SipRequest:
    message = parse(data)
    assert isinstance(message, SipRequest)
    return message


def _response(data: bytes) -> SipResponse:
    message = parse(data)
    assert isinstance(message, SipResponse)
    return message


def _with_record_route(response: SipResponse, *routes: str) -> SipResponse:
    for route in routes:
        response.headers.add("Record-Route", route)
    return response


# ---- INVITE, UAC side ----------------------------------------------------------------------------------------


def test_uac_dialog_from_invite_and_200() -> None:
    invite = _request(samples.INVITE)
    ok = _with_record_route(_response(samples.INVITE_OK), "<sip:p1.example;lr>", "<sip:p2.example;lr>")
    dialog = Dialog.from_uac(invite, ok)
    assert dialog.id == DialogId("5b1a7c9e2f@10.0.0.1", "7f1e2d3c", "1220712313")
    assert dialog.role is Role.UAC and dialog.state is DialogState.CONFIRMED
    assert dialog.remote_target == SipUri("192.168.1.70", samples.DEVICE_ID, 5060)
    assert dialog.route_set == ("<sip:p2.example;lr>", "<sip:p1.example;lr>")  # Reversed on the UAC side.
    assert dialog.next_hop == SipUri("p2.example", params={"lr": None})
    assert (dialog.local_cseq, dialog.remote_cseq, dialog.invite_cseq) == (20, None, 20)

    ack = dialog.ack(PLATFORM_VIA)
    assert ack.method == "ACK" and str(ack.cseq) == "20 ACK"
    assert ack.uri == dialog.remote_target
    assert ack.headers.get_all("Route") == ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]
    assert ack.from_.tag == "7f1e2d3c" and ack.to.tag == "1220712313" and ack.call_id == invite.call_id
    assert ack.via.branch and ack.via.branch != invite.via.branch  # The ACK for a 2xx is a new transaction.
    assert ack.headers.get("Contact") is None

    bye = dialog.bye(PLATFORM_VIA)
    assert str(bye.cseq) == "21 BYE" and bye.uri == dialog.remote_target
    again = dialog.ack(PLATFORM_VIA)  # The ACK keeps the INVITE's number whatever was sent since.
    assert str(again.cseq) == "20 ACK" and again.via.branch != ack.via.branch
    assert parse(serialize(bye)) == bye


def test_info_carries_mansrtsp_for_playback_control() -> None:
    dialog = Dialog.from_uac(_request(samples.INVITE), _response(samples.INVITE_OK))
    body = b"PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: now\r\n"
    info = dialog.info(PLATFORM_VIA, body)
    assert info.method == "INFO" and info.body == body and info.content_type == "application/mansrtsp"
    assert str(info.cseq) == "21 INFO"


def test_early_dialog_from_183_is_confirmed_by_the_200() -> None:
    invite = _request(samples.INVITE)
    progress = response_to(invite, 183, to_tag="1220712313", headers=[("Contact", "<sip:dev@192.168.1.99:5060>")])
    dialog = Dialog.from_uac(invite, progress)
    assert dialog.state is DialogState.EARLY
    assert dialog.remote_target.host == "192.168.1.99"
    with pytest.raises(SipError):
        Dialog.from_uac(invite, response_to(invite, 180))  # No To tag, no dialog.
    dialog.receive_response(_response(samples.INVITE_OK), 1.0)
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.remote_target.host == "192.168.1.70"  # The 2xx refreshes the target.


def test_2xx_without_contact_falls_back_to_the_request_uri() -> None:
    invite = _request(samples.INVITE)
    ok = _response(samples.INVITE_OK)
    ok.headers.remove("Contact")
    assert Dialog.from_uac(invite, ok).remote_target == invite.uri


def test_strict_router_takes_the_request_uri() -> None:
    invite = _request(samples.INVITE)
    ok = _with_record_route(_response(samples.INVITE_OK), "<sip:strict.example;transport=udp>")
    dialog = Dialog.from_uac(invite, ok)
    bye = dialog.bye(PLATFORM_VIA)
    assert bye.uri == SipUri("strict.example")
    assert bye.headers.get_all("Route") == [f"<{dialog.remote_target}>"]


def test_what_does_not_make_a_dialog() -> None:
    invite = _request(samples.INVITE)
    with pytest.raises(SipError):
        Dialog.from_uac(invite, response_to(invite, 486, to_tag="x"))
    with pytest.raises(SipError):
        Dialog.from_uac(_request(samples.KEEPALIVE), response_to(_request(samples.KEEPALIVE), 200, to_tag="x"))
    other = _response(samples.INVITE_OK)
    other.headers.set("CSeq", "21 INVITE")
    with pytest.raises(SipError):
        Dialog.from_uac(invite, other)


# ---- INVITE, UAS side (the device simulator answering the platform) --------------------------------------------


def test_uas_dialog_and_its_requests() -> None:
    invite = _request(samples.INVITE)
    invite.headers.add("Record-Route", "<sip:p1.example;lr>")
    invite.headers.add("Record-Route", "<sip:p2.example;lr>")
    ok = response_to(
        invite, 200, to_tag="dev-tag", headers=[("Contact", f"<sip:{samples.DEVICE_ID}@192.168.1.70:5060>")]
    )
    dialog = Dialog.from_uas(invite, ok)
    assert dialog.id == DialogId(invite.call_id, "dev-tag", "7f1e2d3c")
    assert dialog.role is Role.UAS and dialog.remote_cseq == 20 and dialog.local_cseq == 0
    assert dialog.route_set == ("<sip:p1.example;lr>", "<sip:p2.example;lr>")  # In order on the UAS side.
    assert dialog.remote_target == SipUri("10.0.0.1", samples.PLATFORM_ID, 5060)
    bye = dialog.bye(DEVICE_VIA)
    assert str(bye.cseq) == "1 BYE"
    assert bye.from_.tag == "dev-tag" and bye.from_.uri.user == samples.DEVICE_ID
    assert bye.to.tag == "7f1e2d3c" and bye.to.uri.user == samples.PLATFORM_ID
    with pytest.raises(SipError):
        dialog.ack(DEVICE_VIA)  # Only the INVITE's sender ACKs.


def test_incoming_cseq_must_rise() -> None:
    invite = _request(samples.INVITE)
    dialog = Dialog.from_uas(invite, response_to(invite, 200, to_tag="dev-tag"))
    ack = SipRequest(method="ACK", uri=invite.uri, headers=invite.headers.copy())
    ack.headers.set("CSeq", "20 ACK")
    ack.headers.set("To", f"{invite.headers.get('To')};tag=dev-tag")
    assert dialog.receive_request(ack, 0.0).ok  # ACK repeats the INVITE's number.

    info = dialog_request(invite, "INFO", 21)
    assert dialog.receive_request(info, 0.0) == RequestVerdict(True)
    assert dialog.remote_cseq == 21
    same = dialog_request(invite, "INFO", 21)
    assert dialog.receive_request(same, 0.0) == RequestVerdict(False, 500, "CSeq 21 not above 21")
    lower = dialog_request(invite, "INFO", 3)
    assert dialog.receive_request(lower, 0.0).status == 500
    bye = dialog_request(invite, "BYE", 22)
    assert dialog.receive_request(bye, 0.0).ok and dialog.state is DialogState.TERMINATED
    with pytest.raises(SipError):
        dialog.bye(DEVICE_VIA)


def dialog_request(invite: SipRequest, method: str, cseq: int) -> SipRequest:
    """A request from the platform inside the dialog the device accepted with tag dev-tag."""
    request = SipRequest(method=method, uri=invite.uri, headers=invite.headers.copy())
    request.headers.set("CSeq", f"{cseq} {method}")
    request.headers.set("To", f"{invite.headers.get('To')};tag=dev-tag")
    request.headers.remove("Contact")
    return request


def test_target_refresh_and_408_481_end_the_dialog() -> None:
    dialog = Dialog.from_uac(_request(samples.INVITE), _response(samples.INVITE_OK))
    reinvite = _request(samples.INVITE)
    reinvite.headers.set("CSeq", "5 INVITE")
    reinvite.headers.set("Contact", "<sip:moved@192.168.1.200:5070>")
    assert dialog.receive_request(reinvite, 0.0).ok
    assert dialog.remote_target == SipUri("192.168.1.200", "moved", 5070)
    bye = dialog.bye(PLATFORM_VIA)
    dialog.receive_response(response_to(bye, 481, to_tag="x"), 1.0)
    assert dialog.state is DialogState.TERMINATED


# ---- subscriptions --------------------------------------------------------------------------------------------


def _subscribe_ok(expires: str | None = "1800") -> SipResponse:
    subscribe = _request(samples.SUBSCRIBE)
    headers = [("Contact", f"<sip:{samples.DEVICE_ID}@192.168.1.64:5060>")]
    if expires is not None:
        headers.append(("Expires", expires))
    return response_to(subscribe, 200, to_tag="482093156", headers=headers)


def test_subscriber_dialog_refresh_and_notify() -> None:
    subscribe = _request(samples.SUBSCRIBE)
    dialog = Dialog.from_uac(subscribe, _subscribe_ok(), now=100.0)
    sub = dialog.subscription
    assert sub is not None and sub.event == "Catalog;id=17430" and sub.state is SubscriptionState.ACTIVE
    assert sub.expires_s == 1800 and sub.expires_at == 1900.0  # The 2xx's Expires wins over the request's.
    assert sub.refresh_at == 1840.0 and not sub.refresh_due(1839.0) and sub.refresh_due(1840.0)

    notify = _request(samples.NOTIFY)
    assert dialog.receive_request(notify, 200.0).ok
    assert sub.expires_s == 3600 and sub.expires_at == 3800.0 and dialog.remote_cseq == 1

    refresh = dialog.subscribe(PLATFORM_VIA, 3600, body=samples.CATALOG_QUERY, content_type="Application/MANSCDP+xml")
    assert refresh.method == "SUBSCRIBE" and str(refresh.cseq) == "2 SUBSCRIBE"
    assert refresh.headers.get("Event") == "Catalog;id=17430" and refresh.expires == 3600
    assert refresh.headers.get("Contact") is not None and refresh.uri == dialog.remote_target
    dialog.receive_response(response_to(refresh, 200, to_tag="482093156", headers=[("Expires", "600")]), 300.0)
    assert sub.expires_at == 900.0


def test_subscribe_2xx_without_expires_keeps_the_requested_value() -> None:
    dialog = Dialog.from_uac(_request(samples.SUBSCRIBE), _subscribe_ok(expires=None), now=0.0)
    assert dialog.subscription is not None and dialog.subscription.expires_s == 3600


def test_notify_terminated_ends_the_subscription_and_the_dialog() -> None:
    dialog = Dialog.from_uac(_request(samples.SUBSCRIBE), _subscribe_ok(), now=0.0)
    notify = _request(samples.NOTIFY)
    notify.headers.set("Subscription-State", "terminated;reason=timeout")
    assert dialog.receive_request(notify, 10.0).ok
    assert dialog.subscription is not None and dialog.subscription.state is SubscriptionState.TERMINATED
    assert dialog.subscription.reason == "timeout" and dialog.state is DialogState.TERMINATED


def test_notify_for_another_event_or_garbled_state() -> None:
    dialog = Dialog.from_uac(_request(samples.SUBSCRIBE), _subscribe_ok(), now=0.0)
    wrong = _request(samples.NOTIFY)
    wrong.headers.set("Event", "Alarm")
    assert dialog.receive_request(wrong, 1.0).status == 489
    garbled = _request(samples.NOTIFY)
    garbled.headers.set("Subscription-State", "sleepy;expires=1")
    assert dialog.receive_request(garbled, 1.0).status == 400
    # A device that leaves Subscription-State out is tolerated.
    bare = _request(samples.NOTIFY)
    bare.headers.remove("Subscription-State")
    assert dialog.receive_request(bare, 1.0).ok


def test_unsubscribe_ends_on_its_2xx() -> None:
    dialog = Dialog.from_uac(_request(samples.SUBSCRIBE), _subscribe_ok(), now=0.0)
    unsubscribe = dialog.subscribe(PLATFORM_VIA, 0)
    assert unsubscribe.expires == 0
    dialog.receive_response(response_to(unsubscribe, 200, to_tag="482093156", headers=[("Expires", "0")]), 5.0)
    assert dialog.state is DialogState.TERMINATED
    assert dialog.subscription is not None and dialog.subscription.expired(5.0)


def test_notify_that_arrives_before_the_2xx_creates_the_dialog() -> None:
    subscribe = _request(samples.SUBSCRIBE)
    notify = _request(samples.NOTIFY)
    notify.headers.set("Subscription-State", "pending;expires=120")
    dialog = Dialog.from_notify(subscribe, notify, now=10.0)
    assert dialog.id == DialogId(subscribe.call_id, "99a1b2c3", "482093156")
    assert dialog.remote_cseq == 1 and dialog.remote_target.host == "192.168.1.64"
    assert dialog.subscription is not None and dialog.subscription.state is SubscriptionState.PENDING
    assert dialog.subscription.expires_at == 130.0
    dialog.receive_response(_subscribe_ok(), 11.0)
    assert dialog.subscription.expires_at == 1811.0
    stranger = _request(samples.NOTIFY)
    stranger.headers.set("To", f"<sip:{samples.PLATFORM_ID}@{samples.REALM}>;tag=other")
    with pytest.raises(SipError):
        Dialog.from_notify(subscribe, stranger)


def test_notifier_side_builds_notify_and_honours_refresh_and_unsubscribe() -> None:
    subscribe = _request(samples.SUBSCRIBE)
    ok = response_to(subscribe, 200, to_tag="dev", headers=[("Expires", "3600")])
    dialog = Dialog.from_uas(subscribe, ok, now=0.0)
    notify = dialog.notify(DEVICE_VIA, 100.0, body=samples.CATALOG_NOTIFY_BODY, content_type="Application/MANSCDP+xml")
    assert notify.method == "NOTIFY" and str(notify.cseq) == "1 NOTIFY"
    assert notify.headers.get("Event") == "Catalog;id=17430"
    assert notify.headers.get("Subscription-State") == "active;expires=3500"
    assert notify.uri == SipUri("10.0.0.1", samples.PLATFORM_ID, 5060)

    refresh = dialog_subscribe(subscribe, 2, "600")
    assert dialog.receive_request(refresh, 200.0).ok
    assert dialog.subscription is not None and dialog.subscription.expires_at == 800.0
    stale = dialog_subscribe(subscribe, 2, "600")
    assert dialog.receive_request(stale, 201.0).status == 500
    alarm = dialog_subscribe(subscribe, 3, "600", event="Alarm")
    assert dialog.receive_request(alarm, 202.0).status == 489

    unsubscribe = dialog_subscribe(subscribe, 4, "0")
    assert dialog.receive_request(unsubscribe, 300.0).ok
    assert dialog.subscription.state is SubscriptionState.TERMINATED
    final = dialog.notify(DEVICE_VIA, 300.0)
    assert final.headers.get("Subscription-State") == "terminated;reason=timeout"
    assert dialog.state is DialogState.TERMINATED


def dialog_subscribe(subscribe: SipRequest, cseq: int, expires: str, event: str = "Catalog;id=17430") -> SipRequest:
    request = SipRequest(method="SUBSCRIBE", uri=subscribe.uri, headers=subscribe.headers.copy())
    request.headers.set("CSeq", f"{cseq} SUBSCRIBE")
    request.headers.set("To", f"{subscribe.headers.get('To')};tag=dev")
    request.headers.set("Expires", expires)
    request.headers.set("Event", event)
    return request


def test_notifier_can_end_with_a_reason() -> None:
    subscribe = _request(samples.SUBSCRIBE)
    dialog = Dialog.from_uas(subscribe, response_to(subscribe, 200, to_tag="dev"), now=0.0)
    final = dialog.notify(DEVICE_VIA, 1.0, state=SubscriptionState.TERMINATED, reason="noresource")
    assert final.headers.get("Subscription-State") == "terminated;reason=noresource"
    assert dialog.state is DialogState.TERMINATED


def test_fetch_with_expires_zero() -> None:
    subscribe = _request(samples.SUBSCRIBE)
    subscribe.headers.set("Expires", "0")
    dialog = Dialog.from_uas(subscribe, response_to(subscribe, 200, to_tag="dev", headers=[("Expires", "0")]))
    notify = dialog.notify(DEVICE_VIA, 0.0, body=samples.CATALOG_NOTIFY_BODY)
    assert notify.headers.get("Subscription-State") == "terminated;reason=timeout"
    assert dialog.state is DialogState.TERMINATED


def test_subscription_state_header_and_event_key() -> None:
    header = SubscriptionStateHeader.parse("Active;expires=3600;retry-after=0")
    assert header == SubscriptionStateHeader(SubscriptionState.ACTIVE, 3600, None, 0)
    assert str(header) == "active;expires=3600;retry-after=0"
    assert SubscriptionStateHeader.parse(str(header)) == header
    assert str(SubscriptionStateHeader(SubscriptionState.TERMINATED, reason="rejected")) == "terminated;reason=rejected"
    for bad in ("", "weird", "active;expires=soon", "active;expires=-1"):
        with pytest.raises(SipError):
            SubscriptionStateHeader.parse(bad)
    assert event_key("Catalog;id=1") == event_key("catalog ; id=1") == ("catalog", "1")
    assert event_key("Catalog;id=1") != event_key("Catalog;id=2")


def test_subscription_needs_an_event() -> None:
    subscribe = _request(samples.SUBSCRIBE)
    subscribe.headers.remove("Event")
    with pytest.raises(SipError, match="Event"):
        Dialog.from_uac(subscribe, response_to(subscribe, 200, to_tag="x"))
    plain = Dialog.from_uac(_request(samples.INVITE), _response(samples.INVITE_OK))
    with pytest.raises(SipError, match="subscription"):
        plain.subscribe(PLATFORM_VIA, 60)


# ---- the store ---------------------------------------------------------------------------------------------------


def test_store_finds_dialogs_by_message() -> None:
    store = DialogStore()
    invite = _request(samples.INVITE)
    dialog = store.add(Dialog.from_uac(invite, _response(samples.INVITE_OK)))
    assert store.add(Dialog.from_uac(invite, _response(samples.INVITE_OK))) is dialog  # Same id: the first stays.
    assert len(store) == 1 and list(store) == [dialog]
    assert store.find(_response(samples.INVITE_OK)) is dialog
    device_bye = dialog_request(invite, "BYE", 1)  # From the device: its tag in From, ours in To.
    device_bye.headers.set("From", f"<sip:{samples.DEVICE_ID}@{samples.REALM}>;tag=1220712313")
    device_bye.headers.set("To", f"<sip:{samples.PLATFORM_ID}@{samples.REALM}>;tag=7f1e2d3c")
    assert store.find(device_bye) is dialog
    assert store.find(invite) is None  # No To tag: not in a dialog.
    assert store.get(dialog.id) is dialog
    store.remove(dialog)
    assert store.find(device_bye) is None and len(store) == 0


def test_store_is_bounded_and_prunes() -> None:
    store = DialogStore(max_dialogs=2)
    subscribe = _request(samples.SUBSCRIBE)
    subscription = store.add(Dialog.from_uac(subscribe, _subscribe_ok(), now=0.0))
    session = store.add(Dialog.from_uac(_request(samples.INVITE), _response(samples.INVITE_OK)))
    third = Dialog.from_uac(subscribe, response_to(subscribe, 200, to_tag="another"), now=0.0)
    with pytest.raises(DialogLimitError):
        store.add(third)
    assert store.refresh_due(1739.0) == [] and store.refresh_due(1740.0) == [subscription]
    assert store.prune(1000.0) == []
    assert store.prune(1800.0) == [subscription]  # Expired subscription.
    session.state = DialogState.TERMINATED
    assert store.prune(1800.0) == [session] and len(store) == 0
    assert store.add(third) is third


# ---- transactions and dialogs together over a lossy link --------------------------------------------------------


def test_invite_over_udp_survives_a_lost_200() -> None:
    """The platform invites, the device's first 200 is lost; its retransmission is ACKed and the resends stop."""
    platform, device = TransactionLayer(), TransactionLayer()
    platform_addr, device_addr = ("10.0.0.1", 5060), ("192.168.1.70", 5060)
    invite = _request(samples.INVITE)
    _, outgoing = platform.send_request(invite, device_addr, False, 0.0)
    lost_once = {"200": True}
    on_the_wire: list[tuple[float, str, int | str]] = []
    dialogs: dict[str, Dialog] = {}

    def deliver(actions: list[Action], sender: str, now: float) -> None:
        for action in actions:
            if isinstance(action, Transmit):
                message = parse(serialize(action.message))  # Through bytes, as on a socket.
                label = message.status if isinstance(message, SipResponse) else message.method
                on_the_wire.append((now, sender, label))
                if label == 200 and lost_once["200"]:
                    lost_once["200"] = False
                    continue
                if isinstance(message, SipRequest):
                    receiver, source = (device, platform_addr) if sender == "platform" else (platform, device_addr)
                    deliver(receiver.receive_request(message, source, False, now), _other(sender), now)
                else:
                    layer = platform if sender == "device" else device
                    deliver(layer.receive_response(message, now), _other(sender), now)
            elif isinstance(action, DeliverRequest) and action.request.method == "INVITE":
                assert action.server_tx is not None
                ok = response_to(
                    action.request, 200, to_tag="dev", headers=[("Contact", "<sip:dev@192.168.1.70:5060>")]
                )
                dialogs["device"] = Dialog.from_uas(action.request, ok)
                deliver(device.respond(action.server_tx, ok, now), "device", now)
            elif isinstance(action, DeliverResponse) and action.response.status == 200:
                dialog = dialogs.setdefault("platform", Dialog.from_uac(invite, action.response))
                ack = dialog.ack(PLATFORM_VIA)  # For every 2xx, retransmissions included.
                deliver([Transmit(ack, device_addr)], "platform", now)
            elif isinstance(action, DeliverRequest) and action.request.method == "ACK":
                assert action.server_tx is None
                assert dialogs["device"].receive_request(action.request, now).ok

    deliver(outgoing, "platform", 0.0)
    now = 0.0
    while now < 40.0:
        deadlines = [d for d in (platform.next_deadline(), device.next_deadline()) if d is not None]
        if not deadlines:
            break
        now = min(deadlines)
        deliver(platform.expire(now), "platform", now)
        deliver(device.expire(now), "device", now)
    assert on_the_wire[:2] == [(0.0, "platform", "INVITE"), (0.0, "device", 200)]
    # At T1 both sides retransmit; the device's 200 gets through and is ACKed; the INVITE is absorbed.
    assert (0.5, "device", 200) in on_the_wire and (0.5, "platform", "ACK") in on_the_wire
    assert [entry for entry in on_the_wire if entry[2] == 200] == [(0.0, "device", 200), (0.5, "device", 200)]
    assert platform.client_count == 0 and device.server_count == 0
    assert dialogs["platform"].id.remote_tag == "dev" and dialogs["device"].state is DialogState.CONFIRMED


def _other(side: str) -> str:
    return "device" if side == "platform" else "platform"
