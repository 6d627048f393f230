"""What DeviceControl does to a simulated device: PTZ moves and presets, recording, guard, alarm reset, reboot.

Kept apart from the SIP side and pure, so what a control changes can be tested without sockets, and so tests
can read back every command that arrived (`ptz_log`) and the preset table it left behind.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from tianyan.gb28181 import ptz
from tianyan.gb28181.manscdp.device_control import DeviceControl, DeviceControlResponse
from tianyan.gb28181.manscdp.preset import Preset

PTZ_LOG_LENGTH = 32
DEFAULT_PRESETS = {1: "全景", 2: "出入口"}


@dataclass(frozen=True)
class PtzArrival:
    """One PTZ command as it arrived: the 16 hex digits and what they decode to (checksums verified)."""

    raw: str
    command: ptz.Command


@dataclass
class ChannelState:
    """What a channel remembers between controls; created the first time a control or query touches it."""

    presets: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_PRESETS))
    ptz_log: deque[PtzArrival] = field(default_factory=lambda: deque(maxlen=PTZ_LOG_LENGTH))
    at_preset: int | None = None
    moving: bool = False
    recording: bool = False
    guarded: bool = False  # alarm inputs: armed (ONDUTY)
    alarming: bool = False

    def preset_list(self) -> tuple[Preset, ...]:
        return tuple(Preset(number, name) for number, name in sorted(self.presets.items()))


@dataclass(frozen=True)
class ControlOutcome:
    """What the device sends back (a Response MESSAGE or nothing) and whether it must reboot."""

    response: DeviceControlResponse | None = None
    reboot: bool = False


def apply_control(control: DeviceControl, state: ChannelState) -> ControlOutcome:
    """Apply one DeviceControl to the state of the channel (or device) it names.

    A bad PTZCmd raises PtzError (a ManscdpError) before anything changes, so the caller can refuse it whole.
    PTZ, TeleBoot and IFameCmd are not answered; RecordCmd, GuardCmd and AlarmCmd get a Response.
    """
    command = control.ptz_command  # decoded and checksum-verified, or PtzError
    if command is not None and control.ptz_cmd is not None:
        _apply_ptz(state, PtzArrival(control.ptz_cmd, command))
    answered = False
    if control.record_cmd is not None:
        state.recording = control.record_cmd == "Record"
        answered = True
    if control.guard_cmd is not None:
        state.guarded = control.guard_cmd == "SetGuard"
        state.alarming = state.alarming and state.guarded
        answered = True
    if control.alarm_cmd is not None:
        state.alarming = False
        answered = True
    response = DeviceControlResponse(control.sn, control.device_id, "OK") if answered else None
    return ControlOutcome(response, reboot=control.tele_boot)


def _apply_ptz(state: ChannelState, arrival: PtzArrival) -> None:
    state.ptz_log.append(arrival)
    command = arrival.command
    if isinstance(command, ptz.Preset):
        if command.op == "set":
            state.presets[command.number] = state.presets.get(command.number, f"预置位{command.number}")
            state.at_preset = command.number
        elif command.op == "call" and command.number in state.presets:
            state.at_preset = command.number
        elif command.op == "delete":
            state.presets.pop(command.number, None)
            if state.at_preset == command.number:
                state.at_preset = None
    elif isinstance(command, ptz.Move | ptz.Lens):
        # Leaving the preset position: the picture no longer shows what the preset named.
        state.moving = isinstance(command, ptz.Move)
        state.at_preset = None
    elif isinstance(command, ptz.Stop):
        state.moving = False
