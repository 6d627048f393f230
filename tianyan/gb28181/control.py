"""Device control as operators ask for it (a PTZ pad, presets, guard, record, reboot) turned into DeviceControl.

PTZ and TeleBoot get no answer beyond the MESSAGE's 200; RecordCmd, GuardCmd and AlarmCmd are answered with a
DeviceControl Response whose Result is reported back.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from tianyan.core.errors import InvalidInput, UpstreamError
from tianyan.gb28181 import ptz
from tianyan.gb28181.bindings import Binding
from tianyan.gb28181.manscdp.device_control import DeviceControl, DeviceControlResponse
from tianyan.gb28181.queries import QueryManager

PtzAction = Literal[
    "up",
    "down",
    "left",
    "right",
    "up-left",
    "up-right",
    "down-left",
    "down-right",
    "zoom-in",
    "zoom-out",
    "focus-near",
    "focus-far",
    "iris-open",
    "iris-close",
    "stop",
    "preset-set",
    "preset-call",
    "preset-delete",
]
PTZ_ACTIONS: Final = get_args(PtzAction)
DeviceAction = Literal["teleboot", "guard", "unguard", "record", "stop-record", "reset-alarm"]
DEVICE_ACTIONS: Final = get_args(DeviceAction)


def ptz_command(action: str, *, speed: int = 128, preset: int | None = None) -> ptz.Command:
    """The PTZCmd for one press of a console's PTZ pad; speed 1-255 (zoom uses it scaled to 1-15)."""
    if action not in PTZ_ACTIONS:
        raise InvalidInput(f"unknown PTZ action {action!r}; expected one of {', '.join(PTZ_ACTIONS)}")
    if not 1 <= speed <= 255:
        raise InvalidInput(f"speed must be 1-255, got {speed}")
    if action.startswith("preset-"):
        if preset is None or not 1 <= preset <= 255:
            raise InvalidInput(f"{action} needs a preset number 1-255")
        return ptz.Preset(action.removeprefix("preset-"), preset)  # type: ignore[arg-type]
    if action == "stop":
        return ptz.Stop()
    if action in ("zoom-in", "zoom-out"):
        return ptz.Move(zoom=action.removeprefix("zoom-"), zoom_speed=max(1, speed * 15 // 255))  # type: ignore[arg-type]
    if action.startswith("focus-"):
        return ptz.Lens(focus=action.removeprefix("focus-"), focus_speed=speed)  # type: ignore[arg-type]
    if action.startswith("iris-"):
        return ptz.Lens(iris=action.removeprefix("iris-"), iris_speed=speed)  # type: ignore[arg-type]
    return ptz.Move.towards(action.replace("-", "_"), speed)  # type: ignore[arg-type]


async def send_ptz(queries: QueryManager, binding: Binding, channel_id: str, command: ptz.Command) -> str:
    """Send the command to the channel; returns the PTZCmd hex string that went out."""
    body = DeviceControl.of_ptz(queries.next_sn(), channel_id, command)
    await queries.send(binding, body, target_id=channel_id)
    assert body.ptz_cmd is not None
    return body.ptz_cmd


async def send_device_action(queries: QueryManager, binding: Binding, target_id: str, action: str) -> str:
    """Guard/record/alarm-reset wait for the device's Result; teleboot is acknowledged by the MESSAGE alone."""
    if action not in DEVICE_ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; expected one of {', '.join(DEVICE_ACTIONS)}")
    sn = queries.next_sn()
    if action == "teleboot":
        await queries.send(binding, DeviceControl(sn, target_id, tele_boot=True), target_id=target_id)
        return "OK"
    fields = {
        "guard": {"guard_cmd": "SetGuard"},
        "unguard": {"guard_cmd": "ResetGuard"},
        "record": {"record_cmd": "Record"},
        "stop-record": {"record_cmd": "StopRecord"},
        "reset-alarm": {"alarm_cmd": "ResetAlarm"},
    }[action]
    body = DeviceControl(sn, target_id, **fields)  # type: ignore[arg-type]
    answer = await queries.single(binding, body, DeviceControlResponse, answer_id=target_id)
    if answer.result != "OK":
        raise UpstreamError(f"device {binding.gb_id} answered {answer.result} to {action}")
    return answer.result
