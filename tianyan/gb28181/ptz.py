"""PTZCmd: the 8-byte front-end control command of GB/T 28181-2016 Annex A.3, to and from its 16-hex-digit form.

Layout: A5 | version<<4 + check nibble | address low 8 bits | instruction | data 1 | data 2 |
data 3 (high nibble) + address high 4 bits (low nibble) | sum of bytes 1-7 mod 256.
The check nibble is (0xA + 0x5 + version) mod 16, so version 0 gives the familiar "A50F".
Instruction families: 0x00-0x3F pan/tilt/zoom, 0x40-0x4F focus/iris, 0x81-0x83 presets; cruise (0x84-0x88),
scan (0x89-0x8A) and auxiliary switches (0x8C-0x8D) are carried as Raw frames with named codes.
The standard addresses the camera by <DeviceID>, not by the 12-bit address, which devices ignore; we send 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from tianyan.gb28181.manscdp.xml import ManscdpError

HEADER: Final = 0xA5
DEFAULT_ADDRESS: Final = 0x001

# Instruction codes of the families this module only frames (A.3.5-A.3.7).
CRUISE_ADD_POINT: Final = 0x84
CRUISE_DELETE_POINT: Final = 0x85
CRUISE_SET_SPEED: Final = 0x86
CRUISE_SET_DWELL: Final = 0x87
CRUISE_START: Final = 0x88
SCAN_START: Final = 0x89  # data 2: 0 start, 1 set left edge, 2 set right edge
SCAN_SET_SPEED: Final = 0x8A
AUX_ON: Final = 0x8C
AUX_OFF: Final = 0x8D

_HEX16 = re.compile(r"[0-9A-Fa-f]{16}")

Pan = Literal["left", "right"]
Tilt = Literal["up", "down"]
Zoom = Literal["in", "out"]
Direction = Literal["up", "down", "left", "right", "up_left", "up_right", "down_left", "down_right"]
Focus = Literal["near", "far"]
Iris = Literal["open", "close"]
PresetOp = Literal["set", "call", "delete"]
K = TypeVar("K", bound=str)

_PAN_BITS: Final[dict[Pan, int]] = {"right": 0x01, "left": 0x02}
_TILT_BITS: Final[dict[Tilt, int]] = {"down": 0x04, "up": 0x08}
_ZOOM_BITS: Final[dict[Zoom, int]] = {"in": 0x10, "out": 0x20}
_FOCUS_BITS: Final[dict[Focus, int]] = {"far": 0x01, "near": 0x02}
_IRIS_BITS: Final[dict[Iris, int]] = {"open": 0x04, "close": 0x08}
_PRESET_CODES: Final[dict[PresetOp, int]] = {"set": 0x81, "call": 0x82, "delete": 0x83}
_DIRECTIONS: Final[dict[Direction, tuple[Tilt | None, Pan | None]]] = {
    "up": ("up", None),
    "down": ("down", None),
    "left": (None, "left"),
    "right": (None, "right"),
    "up_left": ("up", "left"),
    "up_right": ("up", "right"),
    "down_left": ("down", "left"),
    "down_right": ("down", "right"),
}


class PtzError(ManscdpError):
    """A PTZCmd that is not 16 hex digits, fails a checksum, or sets contradictory bits."""


def _check(name: str, value: int, high: int, low: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise PtzError(f"{name} must be an integer in {low}..{high}, got {value!r}")


def _version_nibble(version: int) -> int:
    return ((HEADER >> 4) + (HEADER & 0x0F) + version) & 0x0F


@dataclass(frozen=True)
class PtzFrame:
    """The raw command: instruction, three data fields and the 12-bit address; checksums are derived."""

    code: int
    data1: int = 0
    data2: int = 0
    data3: int = 0
    address: int = DEFAULT_ADDRESS
    version: int = 0

    def __post_init__(self) -> None:
        _check("instruction", self.code, 0xFF)
        _check("data 1", self.data1, 0xFF)
        _check("data 2", self.data2, 0xFF)
        _check("data 3", self.data3, 0x0F)
        _check("address", self.address, 0xFFF)
        _check("version", self.version, 0x0F)

    def to_bytes(self) -> bytes:
        head = [
            HEADER,
            (self.version << 4) | _version_nibble(self.version),
            self.address & 0xFF,
            self.code,
            self.data1,
            self.data2,
            (self.data3 << 4) | (self.address >> 8),
        ]
        return bytes([*head, sum(head) & 0xFF])

    def encode(self) -> str:
        """The 16 upper-case hex digits that go into <PTZCmd>."""
        return self.to_bytes().hex().upper()


def decode_frame(text: str) -> PtzFrame:
    """Read and verify a PTZCmd string; PtzError says which check failed."""
    if not isinstance(text, str):
        raise PtzError(f"PTZCmd must be a string, not {type(text).__name__}")
    value = text.strip()
    if not _HEX16.fullmatch(value):
        raise PtzError(f"PTZCmd must be 16 hex digits, got {value[:40]!r}")
    raw = bytes.fromhex(value)
    if raw[0] != HEADER:
        raise PtzError(f"PTZCmd byte 1 must be A5, got {raw[0]:02X}")
    version = raw[1] >> 4
    if raw[1] & 0x0F != _version_nibble(version):
        raise PtzError(
            f"PTZCmd byte 2 check nibble is {raw[1] & 0x0F:X}, expected {_version_nibble(version):X} "
            f"for version {version}"
        )
    expected = sum(raw[:7]) & 0xFF
    if raw[7] != expected:
        raise PtzError(f"PTZCmd checksum (byte 8) is {raw[7]:02X}, expected {expected:02X}")
    return PtzFrame(
        code=raw[3],
        data1=raw[4],
        data2=raw[5],
        data3=raw[6] >> 4,
        address=((raw[6] & 0x0F) << 8) | raw[2],
        version=version,
    )


@dataclass(frozen=True)
class Stop:
    """Stop pan/tilt/zoom (instruction 00) or, with lens=True, focus and iris (instruction 40)."""

    lens: bool = False

    def to_frame(self, address: int = DEFAULT_ADDRESS) -> PtzFrame:
        return PtzFrame(0x40 if self.lens else 0x00, address=address)


@dataclass(frozen=True)
class Move:
    """Pan, tilt and zoom together (A.3.2): speeds 0-255 for pan and tilt, 0-15 for zoom."""

    pan: Pan | None = None
    tilt: Tilt | None = None
    zoom: Zoom | None = None
    pan_speed: int = 0
    tilt_speed: int = 0
    zoom_speed: int = 0

    def __post_init__(self) -> None:
        if self.pan is None and self.tilt is None and self.zoom is None:
            raise PtzError("a Move needs a pan, tilt or zoom direction; use Stop() to stop")
        for name, value, options in (("pan", self.pan, _PAN_BITS), ("tilt", self.tilt, _TILT_BITS)):
            if value is not None and value not in options:
                raise PtzError(f"{name} must be one of {sorted(options)}, got {value!r}")
        if self.zoom is not None and self.zoom not in _ZOOM_BITS:
            raise PtzError(f"zoom must be 'in' or 'out', got {self.zoom!r}")
        _check("pan speed", self.pan_speed, 0xFF)
        _check("tilt speed", self.tilt_speed, 0xFF)
        _check("zoom speed", self.zoom_speed, 0x0F)

    @classmethod
    def towards(cls, direction: Direction, speed: int = 0x80) -> Move:
        """One of the eight directions at one speed for both axes, as a console's arrow keys send it."""
        if direction not in _DIRECTIONS:
            raise PtzError(f"direction must be one of {sorted(_DIRECTIONS)}, got {direction!r}")
        tilt, pan = _DIRECTIONS[direction]
        return cls(pan=pan, tilt=tilt, pan_speed=speed if pan else 0, tilt_speed=speed if tilt else 0)

    @property
    def direction(self) -> Direction | None:
        """The pan/tilt direction as one of the eight, or None when only zooming."""
        return next((d for d, (t, p) in _DIRECTIONS.items() if (t, p) == (self.tilt, self.pan)), None)

    def to_frame(self, address: int = DEFAULT_ADDRESS) -> PtzFrame:
        code = (
            (_PAN_BITS[self.pan] if self.pan else 0)
            | (_TILT_BITS[self.tilt] if self.tilt else 0)
            | (_ZOOM_BITS[self.zoom] if self.zoom else 0)
        )
        return PtzFrame(code, self.pan_speed, self.tilt_speed, self.zoom_speed, address=address)


@dataclass(frozen=True)
class Lens:
    """Focus and iris (the FI instruction, A.3.3): speeds 0-255."""

    focus: Focus | None = None
    iris: Iris | None = None
    focus_speed: int = 0
    iris_speed: int = 0

    def __post_init__(self) -> None:
        if self.focus is None and self.iris is None:
            raise PtzError("a Lens command needs focus or iris; use Stop(lens=True) to stop")
        if self.focus is not None and self.focus not in _FOCUS_BITS:
            raise PtzError(f"focus must be 'near' or 'far', got {self.focus!r}")
        if self.iris is not None and self.iris not in _IRIS_BITS:
            raise PtzError(f"iris must be 'open' or 'close', got {self.iris!r}")
        _check("focus speed", self.focus_speed, 0xFF)
        _check("iris speed", self.iris_speed, 0xFF)

    def to_frame(self, address: int = DEFAULT_ADDRESS) -> PtzFrame:
        code = 0x40 | (_FOCUS_BITS[self.focus] if self.focus else 0) | (_IRIS_BITS[self.iris] if self.iris else 0)
        return PtzFrame(code, self.focus_speed, self.iris_speed, address=address)


@dataclass(frozen=True)
class Preset:
    """Set, call or delete preset 1-255 (A.3.4: instruction 81/82/83, data 2 the preset number)."""

    op: PresetOp
    number: int

    def __post_init__(self) -> None:
        if self.op not in _PRESET_CODES:
            raise PtzError(f"preset op must be set, call or delete, got {self.op!r}")
        _check("preset number", self.number, 255, low=1)

    def to_frame(self, address: int = DEFAULT_ADDRESS) -> PtzFrame:
        return PtzFrame(_PRESET_CODES[self.op], 0, self.number, address=address)


@dataclass(frozen=True)
class Raw:
    """Any other instruction (cruise, scan, auxiliary switches, vendor codes) as its frame, address included."""

    frame: PtzFrame

    def to_frame(self, address: int | None = None) -> PtzFrame:
        if address is None or address == self.frame.address:
            return self.frame
        f = self.frame
        return PtzFrame(f.code, f.data1, f.data2, f.data3, address=address, version=f.version)


Command = Stop | Move | Lens | Preset | Raw


def _pick(bits: int, table: Mapping[K, int], what: str) -> K | None:
    hits = [name for name, bit in table.items() if bits & bit]
    if len(hits) > 1:
        raise PtzError(f"PTZCmd sets both {what} directions ({' and '.join(sorted(map(str, hits)))})")
    return hits[0] if hits else None


def command_of(frame: PtzFrame) -> Command:
    """The typed command a frame carries; contradictory bits (left and right at once) are a PtzError."""
    code = frame.code
    if code == 0x00:
        return Stop()
    if code == 0x40:
        return Stop(lens=True)
    if code <= 0x3F:
        pan = _pick(code, _PAN_BITS, "pan")
        tilt = _pick(code, _TILT_BITS, "tilt")
        zoom = _pick(code, _ZOOM_BITS, "zoom")
        return Move(pan, tilt, zoom, frame.data1, frame.data2, frame.data3)
    if 0x41 <= code <= 0x4F:
        focus = _pick(code, _FOCUS_BITS, "focus")
        iris = _pick(code, _IRIS_BITS, "iris")
        return Lens(focus, iris, frame.data1, frame.data2)
    for op, preset_code in _PRESET_CODES.items():
        # Data 1 is 00 in the standard; some platforms send 01 there, and the number is in data 2 either way.
        if code == preset_code and frame.data2 >= 1:
            return Preset(op, frame.data2)
    return Raw(frame)


def decode(text: str) -> Command:
    """A PTZCmd string as a typed command, after both checksums are verified."""
    return command_of(decode_frame(text))


def encode(command: Command, *, address: int | None = None) -> str:
    """A typed command as the 16 hex digits of <PTZCmd>; address 1 unless given (a Raw keeps its own)."""
    return (command.to_frame() if address is None else command.to_frame(address)).encode()
