"""What a device does with the MESSAGEs its platform sends: a 200 first, then the answer; controls; acknowledgements.

Queries are answered the way devices do it: the MESSAGE gets its 200 at once and the Response bodies follow as
MESSAGEs of their own (several for a long list). A control is applied to the channel it names, or refused
whole (400) when its PTZCmd fails a checksum. Anything else is acknowledged and noted.
"""

from __future__ import annotations

from typing import Protocol

from tianyan.gb28181.endpoint import SipEndpoint
from tianyan.gb28181.manscdp.alarm import AlarmResponse
from tianyan.gb28181.manscdp.device_control import DeviceControl
from tianyan.gb28181.manscdp.envelope import Body, parse_envelope
from tianyan.gb28181.manscdp.message import body_of
from tianyan.gb28181.manscdp.xml import ManscdpError
from tianyan.gb28181.sip.message import SipRequest, SipResponse, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.sim.gb28181.answers import DeviceView, answer_query
from tianyan.sim.gb28181.controls import ChannelState, apply_control
from tianyan.sim.gb28181.events import DeviceStats
from tianyan.sim.gb28181.profile import DeviceSpec


class InboxHost(Protocol):
    """What handling a MESSAGE needs from the device."""

    spec: DeviceSpec
    stats: DeviceStats

    @property
    def endpoint(self) -> SipEndpoint: ...
    def view(self) -> DeviceView: ...
    def channel_state(self, item_id: str) -> ChannelState: ...
    async def send_body(self, body: Body) -> SipResponse | None: ...
    async def send_all(self, bodies: list[Body]) -> None: ...
    def reboot(self) -> None: ...
    def alarm_acknowledged(self, sn: int | None) -> None: ...


async def on_message(host: InboxHost, request: SipRequest, tx: ServerTransaction) -> None:
    endpoint = host.endpoint
    try:
        envelope = parse_envelope(request.body)
    except ManscdpError as exc:
        endpoint.respond(tx, response_to(request, 400, short(str(exc))))
        return
    try:
        body = body_of(envelope)
    except ManscdpError:
        # A command we do not implement (DeviceConfig, Broadcast...): accepted, and nothing follows.
        endpoint.respond(tx, response_to(request, 200))
        return
    if envelope.kind == "Query":
        answers = answer_query(body, host.view())
        endpoint.respond(tx, response_to(request, 200))
        if answers:
            host.stats.queries_answered += 1
            await host.send_all(answers)
    elif isinstance(body, DeviceControl):
        await _on_control(host, request, tx, body)
    else:
        endpoint.respond(tx, response_to(request, 200))
        if isinstance(body, AlarmResponse):
            host.alarm_acknowledged(body.sn)


async def _on_control(host: InboxHost, request: SipRequest, tx: ServerTransaction, control: DeviceControl) -> None:
    endpoint = host.endpoint
    spec = host.spec
    if control.device_id not in (spec.device_id, *spec.channel_ids, *spec.alarm_input_ids):
        endpoint.respond(tx, response_to(request, 404))
        return
    try:
        outcome = apply_control(control, host.channel_state(control.device_id))
    except ManscdpError as exc:
        endpoint.respond(tx, response_to(request, 400, short(str(exc))))
        return
    endpoint.respond(tx, response_to(request, 200))
    host.stats.controls_applied += 1
    if outcome.response is not None:
        await host.send_body(outcome.response)
    if outcome.reboot:
        host.reboot()


def short(text: str) -> str:
    """A reason phrase: one line, not too long."""
    return " ".join(text.split())[:100]
