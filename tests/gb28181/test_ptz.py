"""PTZCmd (GB/T 28181-2016 A.3): strings platforms and devices really exchange, hand-computed frames, both
checksums, typed commands both ways, and malformed commands refused with PtzError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.gb28181 import ptz
from tianyan.gb28181.manscdp.xml import ManscdpError
from tianyan.gb28181.ptz import Lens, Move, Preset, PtzError, PtzFrame, Raw, Stop


@pytest.mark.parametrize(
    ("text", "command"),
    [
        # Strings seen in the field (WVP-GB28181-pro, eXosip device SDKs, Go/Java platforms):
        ("A50F0100000000B5", Stop()),  # A5+0F+01 = B5
        ("A50F0110000010D5", Move(zoom="in", zoom_speed=1)),
        ("A50F0120000010E5", Move(zoom="out", zoom_speed=1)),
        ("A50F01021E1E1003", Move(pan="left", pan_speed=30, tilt_speed=30, zoom_speed=1)),  # 0x103 mod 256 = 03
        ("A50F01081E1E1009", Move(tilt="up", pan_speed=30, tilt_speed=30, zoom_speed=1)),
        ("A50F018804000041", Raw(PtzFrame(ptz.CRUISE_START, 4))),  # start cruise group 4
        ("A50F01850000003A", Raw(PtzFrame(ptz.CRUISE_DELETE_POINT))),  # delete the whole cruise 0
        ("A50F018C01000042", Raw(PtzFrame(ptz.AUX_ON, 1))),  # wiper on
        # Hand-computed from the A.3 layout:
        ("A50F0102320000E9", Move(pan="left", pan_speed=0x32)),  # B5+02+32 = E9
        ("A50F01026464007F", Move(pan="left", pan_speed=0x64, tilt_speed=0x64)),  # WVP sends the speed twice
        ("A50F010A101000DF", Move(pan="left", tilt="up", pan_speed=0x10, tilt_speed=0x10)),  # B5+0A+10+10 = DF
        ("A50F01820005003C", Preset("call", 5)),  # B5+82+05 = 13C
        ("A50F018100010037", Preset("set", 1)),
        ("A50F018300FF0037", Preset("delete", 255)),  # B5+83+FF = 237
        ("A50F014120000016", Lens(focus="far", focus_speed=0x20)),
        ("A50F014220000017", Lens(focus="near", focus_speed=0x20)),  # focus speed is data 1
        ("A50F014400200019", Lens(iris="open", iris_speed=0x20)),  # iris speed is data 2
        ("A50F01480020001D", Lens(iris="close", iris_speed=0x20)),
        ("A50F0140000000F5", Stop(lens=True)),
    ],
)
def test_known_commands(text: str, command: ptz.Command) -> None:
    assert ptz.decode(text) == command
    assert ptz.encode(command) == text
    assert ptz.decode(text.lower()) == command


def test_hand_computed_bytes() -> None:
    frame = Move(pan="right", tilt="down", zoom="in", pan_speed=0xFF, tilt_speed=0x80, zoom_speed=0xF).to_frame()
    # A5 0F 01 15 FF 80 F0; sum = A5+0F+01+15+FF+80+F0 = 0x339 -> 39
    assert frame.to_bytes() == bytes.fromhex("A50F0115FF80F039")
    assert Move.towards("down_right", 0x40).to_frame().encode() == "A50F01054040003A"


def test_twelve_bit_address_and_version_nibble() -> None:
    frame = PtzFrame(0x00, address=0xABC)
    raw = frame.to_bytes()
    assert raw[2] == 0xBC and raw[6] & 0x0F == 0xA  # low 8 bits in byte 3, high 4 in byte 7's low nibble
    assert ptz.decode_frame(frame.encode()) == frame
    assert ptz.encode(Stop(), address=0xABC) == frame.encode()
    v1 = PtzFrame(0x00, version=1)
    assert v1.to_bytes()[1] == 0x10 and ptz.decode_frame(v1.encode()).version == 1  # A+5+1 = 0x10 -> nibble 0


def test_raw_keeps_its_address_unless_told() -> None:
    raw = Raw(PtzFrame(ptz.SCAN_START, 2, 1, address=7))
    assert ptz.decode_frame(ptz.encode(raw)).address == 7
    assert ptz.decode_frame(ptz.encode(raw, address=9)).address == 9


def test_eight_directions() -> None:
    codes = {d: Move.towards(d).to_frame().code for d in ("up", "down", "left", "right", "up_left", "up_right",
                                                         "down_left", "down_right")}  # fmt: skip
    assert codes == {"up": 0x08, "down": 0x04, "left": 0x02, "right": 0x01, "up_left": 0x0A, "up_right": 0x09,
                     "down_left": 0x06, "down_right": 0x05}  # fmt: skip
    assert Move.towards("up_left", 5).direction == "up_left"
    assert Move(zoom="in").direction is None


def test_preset_tolerates_platforms_that_put_1_in_data_1() -> None:
    assert ptz.decode("A50F01820105003D") == Preset("call", 5)  # WVP's form


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("A50F0100000000B", "16 hex digits"),
        ("A50F0100000000B5FF", "16 hex digits"),
        ("A50F01000000ZZB5", "16 hex digits"),
        ("", "16 hex digits"),
        ("B50F0100000000C5", "byte 1 must be A5"),
        ("A50E0100000000B4", "byte 2 check nibble is E, expected F"),
        ("A50F0100000000B6", "checksum \\(byte 8\\) is B6, expected B5"),
        ("A50F0103000000B8", "both pan directions"),
        ("A50F010C000000C1", "both tilt directions"),
        ("A50F0130000000E5", "both zoom directions"),
        ("A50F0143000000F8", "both focus directions"),
        ("A50F014C00000001", "both iris directions"),
    ],
)
def test_broken_commands(text: str, error: str) -> None:
    with pytest.raises(PtzError, match=error):
        ptz.decode(text)


def test_ptz_errors_are_manscdp_errors() -> None:
    assert issubclass(PtzError, ManscdpError) and issubclass(PtzError, ValueError)


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Move(), "use Stop"),
        (lambda: Move(pan="left", pan_speed=256), "pan speed"),
        (lambda: Move(zoom="in", zoom_speed=16), "zoom speed"),
        (lambda: Move(pan="up"), "pan must be"),  # type: ignore[arg-type]
        (lambda: Lens(), "Stop\\(lens=True\\)"),
        (lambda: Lens(focus="near", focus_speed=-1), "focus speed"),
        (lambda: Preset("call", 0), "preset number"),
        (lambda: Preset("call", 256), "preset number"),
        (lambda: Preset("jump", 1), "preset op"),  # type: ignore[arg-type]
        (lambda: PtzFrame(0x100), "instruction"),
        (lambda: PtzFrame(0, data3=16), "data 3"),
        (lambda: PtzFrame(0, address=0x1000), "address"),
        (lambda: Move.towards("sideways"), "direction"),  # type: ignore[arg-type]
    ],
)
def test_typed_commands_refuse_out_of_range_values(make: object, error: str) -> None:
    with pytest.raises(PtzError, match=error):
        make()  # type: ignore[operator]


frames = st.builds(
    PtzFrame,
    code=st.integers(0, 255),
    data1=st.integers(0, 255),
    data2=st.integers(0, 255),
    data3=st.integers(0, 15),
    address=st.integers(0, 0xFFF),
    version=st.integers(0, 15),
)


@settings(max_examples=300, deadline=None)
@given(frames)
def test_every_frame_round_trips_and_decodes_or_is_refused_cleanly(frame: PtzFrame) -> None:
    text = frame.encode()
    assert ptz.decode_frame(text) == frame
    try:
        command = ptz.command_of(frame)
    except PtzError:
        return
    again = ptz.command_of(ptz.decode_frame(ptz.encode(command, address=frame.address)))
    assert again == command


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24))
def test_arbitrary_strings_only_raise_ptz_error(text: str) -> None:
    with contextlib.suppress(PtzError):
        ptz.decode(text)


moves = st.builds(
    Move,
    pan=st.sampled_from([None, "left", "right"]),
    tilt=st.sampled_from([None, "up", "down"]),
    zoom=st.sampled_from(["in", "out"]),
    pan_speed=st.integers(0, 255),
    tilt_speed=st.integers(0, 255),
    zoom_speed=st.integers(0, 15),
)
lenses = st.builds(
    Lens,
    focus=st.sampled_from(["near", "far"]),
    iris=st.sampled_from([None, "open", "close"]),
    focus_speed=st.integers(0, 255),
    iris_speed=st.integers(0, 255),
)
presets = st.builds(Preset, op=st.sampled_from(["set", "call", "delete"]), number=st.integers(1, 255))


@settings(max_examples=300, deadline=None)
@given(st.one_of(moves, lenses, presets, st.builds(Stop, st.booleans())))
def test_typed_commands_round_trip(command: ptz.Command) -> None:
    assert ptz.decode(ptz.encode(command)) == command
