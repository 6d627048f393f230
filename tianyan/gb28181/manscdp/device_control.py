"""DeviceControl: remote control of a device or channel (PTZ, reboot, recording, guard, alarm reset, I-frame).

PTZ, TeleBoot and IFameCmd get no answer; RecordCmd, GuardCmd and AlarmCmd are answered with a Response
carrying Result. PTZCmd is kept as its 16 hex digits; `ptz_command` decodes it (with both checksums) via gb28181.ptz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from tianyan.gb28181 import ptz
from tianyan.gb28181.manscdp.device_info import RESULTS, Result
from tianyan.gb28181.manscdp.envelope import Body, Envelope, Kind
from tianyan.gb28181.manscdp.fields import leaf, optional_choice, optional_int, optional_text, required_choice
from tianyan.gb28181.manscdp.xml import ManscdpError, Node

RecordCmd = Literal["Record", "StopRecord"]
GuardCmd = Literal["SetGuard", "ResetGuard"]
AlarmCmd = Literal["ResetAlarm"]
_RECORD: Final[dict[str, RecordCmd]] = {"RECORD": "Record", "STOPRECORD": "StopRecord"}
_GUARD: Final[dict[str, GuardCmd]] = {"SETGUARD": "SetGuard", "RESETGUARD": "ResetGuard"}
_ALARM: Final[dict[str, AlarmCmd]] = {"RESETALARM": "ResetAlarm"}
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")


@dataclass(frozen=True)
class DeviceControl(Body):
    """Platform → device: one or more control subcommands for `device_id` (a device or one of its channels)."""

    KIND: ClassVar[Kind] = "Control"
    CMD_TYPE: ClassVar[str] = "DeviceControl"

    sn: int
    device_id: str
    ptz_cmd: str | None = None
    tele_boot: bool = False
    record_cmd: RecordCmd | None = None
    guard_cmd: GuardCmd | None = None
    alarm_cmd: AlarmCmd | None = None
    iframe_cmd: bool = False
    control_priority: int | None = None
    alarm_method: str | None = None
    alarm_type: str | None = None

    @property
    def ptz_command(self) -> ptz.Command | None:
        """The PTZ command decoded and checksum-verified; PtzError (a ManscdpError) when it is bad."""
        return None if self.ptz_cmd is None else ptz.decode(self.ptz_cmd)

    @classmethod
    def read(cls, envelope: Envelope) -> DeviceControl:
        root = envelope.root
        ptz_cmd = optional_text(root, "PTZCmd")
        if ptz_cmd is not None and not _HEX16.fullmatch(ptz_cmd):
            raise ManscdpError(f"PTZCmd must be 16 hex digits, got {ptz_cmd[:40]!r}")
        boot = optional_text(root, "TeleBoot")
        # The standard spells it IFameCmd; some devices and platforms correct the spelling.
        iframe = optional_text(root, "IFameCmd") or optional_text(root, "IFrameCmd")
        return cls(
            sn=envelope.request_sn,
            device_id=envelope.device_id,
            ptz_cmd=None if ptz_cmd is None else ptz_cmd.upper(),
            tele_boot=boot is not None and boot.upper() == "BOOT",
            record_cmd=optional_choice(root, "RecordCmd", _RECORD),
            guard_cmd=optional_choice(root, "GuardCmd", _GUARD),
            alarm_cmd=optional_choice(root, "AlarmCmd", _ALARM),
            iframe_cmd=iframe is not None and iframe.upper() == "SEND",
            control_priority=optional_int(root, "Info/ControlPriority", low=0, high=99),
            alarm_method=optional_text(root, "Info/AlarmMethod"),
            alarm_type=optional_text(root, "Info/AlarmType"),
        )

    def body_nodes(self) -> tuple[Node | None, ...]:
        if self.ptz_cmd is not None and not _HEX16.fullmatch(self.ptz_cmd):
            raise ManscdpError(f"PTZCmd must be 16 hex digits, got {self.ptz_cmd[:40]!r}")
        info = Node.of(
            "Info",
            leaf("ControlPriority", self.control_priority),
            leaf("AlarmMethod", self.alarm_method),
            leaf("AlarmType", self.alarm_type),
        )
        return (
            leaf("PTZCmd", self.ptz_cmd),
            leaf("TeleBoot", "Boot" if self.tele_boot else None),
            leaf("RecordCmd", self.record_cmd),
            leaf("GuardCmd", self.guard_cmd),
            leaf("AlarmCmd", self.alarm_cmd),
            leaf("IFameCmd", "Send" if self.iframe_cmd else None),
            info if info.children else None,
        )

    @classmethod
    def of_ptz(
        cls, sn: int, device_id: str, command: ptz.Command, *, control_priority: int | None = 5
    ) -> DeviceControl:
        """A PTZ control for one channel, priority 5 as platforms commonly send it."""
        return cls(sn, device_id, ptz_cmd=ptz.encode(command), control_priority=control_priority)


@dataclass(frozen=True)
class DeviceControlResponse(Body):
    """Device → platform: the outcome of a RecordCmd, GuardCmd or AlarmCmd."""

    KIND: ClassVar[Kind] = "Response"
    CMD_TYPE: ClassVar[str] = "DeviceControl"

    sn: int | None
    device_id: str
    result: Result = "OK"

    @classmethod
    def read(cls, envelope: Envelope) -> DeviceControlResponse:
        return cls(envelope.sn, envelope.device_id, required_choice(envelope.root, "Result", RESULTS))

    def body_nodes(self) -> tuple[Node | None, ...]:
        return (Node("Result", self.result),)
