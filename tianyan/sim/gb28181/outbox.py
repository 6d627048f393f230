"""What a device sends its platform outside any dialog: the MESSAGE request around a MANSCDP body, and alarms."""

from __future__ import annotations

import random

from tianyan.gb28181.manscdp.alarm import AlarmNotify
from tianyan.gb28181.sip.headers import NameAddr, SipUri
from tianyan.gb28181.sip.message import SipRequest, new_call_id, new_request, new_tag
from tianyan.sim.gb28181.profile import DeviceSpec, PlatformAddress, beijing_now
from tianyan.sim.gb28181.registration import USER_AGENT
from tianyan.sim.gb28181.routes import Fix
from tianyan.sim.gb28181.switchboard import Switchboard

MANSCDP = "Application/MANSCDP+xml"
# GB/T 28181 AlarmMethod 2 is a device alarm (an alarm input), 5 video analysis; type 2 of method 5 is motion.
DEVICE_ALARM, VIDEO_ALARM, MOTION = 2, 5, 2


def platform_message(
    device_id: str, platform: PlatformAddress, board: Switchboard, cseq: int, body: bytes
) -> SipRequest:
    """A MESSAGE from the device to the SIP server: a new Call-ID each, as devices send them."""
    domain, server_id = platform.domain, platform.server_id
    return new_request(
        "MESSAGE",
        SipUri(host=domain, user=server_id),
        via=board.via(),
        from_=NameAddr(SipUri(host=domain, user=device_id), params={"tag": new_tag()}),
        to=NameAddr(SipUri(host=domain, user=server_id)),
        call_id=new_call_id(board.host),
        cseq=cseq,
        headers=[("User-Agent", USER_AGENT)],
        body=body,
        content_type=MANSCDP,
    )


def alarm_notify(
    spec: DeviceSpec,
    sn: int,
    item_id: str,
    fix: Fix | None,
    *,
    priority: int,
    method: int,
    alarm_type: int | None,
    description: str | None,
) -> AlarmNotify:
    """An alarm of one camera or alarm input, placed where the device is (a vehicle: where it is now)."""
    longitude = fix.longitude if fix else spec.longitude
    latitude = fix.latitude if fix else spec.latitude
    return AlarmNotify(sn, item_id, priority, method, beijing_now(), description, longitude, latitude, alarm_type)


def random_alarm(spec: DeviceSpec, rng: random.Random) -> dict[str, object]:
    """The arguments of SimDevice.send_alarm for a random alarm: an alarm input firing, or motion on a camera."""
    if spec.alarm_input_ids and rng.random() < 0.5:
        return {"item_id": rng.choice(spec.alarm_input_ids), "method": DEVICE_ALARM, "alarm_type": None,
                "description": "报警输入触发", "priority": 1}  # fmt: skip
    return {"item_id": rng.choice(spec.channel_ids), "priority": rng.choice((2, 3, 4))}
