"""RFC 6381 `codecs` values of MP4 sample entries (avc1.PPCCLL, hvc1.…, mp4a.40.N) from their configuration boxes."""

from __future__ import annotations


def avc_codec_string(entry: str, config: bytes) -> str:
    """avc1.PPCCLL from an avcC record (profile, constraint flags, level); the bare entry type if it is too short."""
    if len(config) < 4:
        return entry
    return f"{entry}.{config[1]:02x}{config[2]:02x}{config[3]:02x}"


def hevc_codec_string(entry: str, config: bytes) -> str:
    """hvc1.P.C.TL.B… (ISO/IEC 14496-15 annex E) from an hvcC record; the bare entry type if it is too short."""
    if len(config) < 13:
        return entry
    space = ("", "A", "B", "C")[config[1] >> 6]
    tier = "H" if config[1] & 0x20 else "L"
    profile = config[1] & 0x1F
    compat = int.from_bytes(config[2:6], "big")
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = list(config[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    tail = "".join(f".{b:02X}" for b in constraints)
    return f"{entry}.{space}{profile}.{reversed_compat:X}.{tier}{config[12]}{tail}"


def _descriptor(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """(tag, body offset, body length) of an MPEG-4 descriptor, whose length takes 1-4 bytes of 7 bits."""
    if offset >= len(data):
        return None
    tag = data[offset]
    length = 0
    offset += 1
    for _ in range(4):
        if offset >= len(data):
            return None
        byte = data[offset]
        offset += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, offset, length


def aac_codec_string(esds: bytes) -> str:
    """mp4a.OTI.AOT from an esds body (after version/flags)."""
    es = _descriptor(esds, 0)
    if es is None or es[0] != 0x03:
        return "mp4a"
    offset = es[1]
    flags = esds[offset + 2] if offset + 2 < len(esds) else 0
    offset += 3
    if flags & 0x80:
        offset += 2
    if flags & 0x40 and offset < len(esds):
        offset += 1 + esds[offset]
    if flags & 0x20:
        offset += 2
    config = _descriptor(esds, offset)
    if config is None or config[0] != 0x04 or config[1] >= len(esds):
        return "mp4a"
    oti = esds[config[1]]
    specific = _descriptor(esds, config[1] + 13)
    if oti == 0x40 and specific is not None and specific[0] == 0x05 and specific[1] < len(esds):
        return f"mp4a.40.{esds[specific[1]] >> 3}"
    return f"mp4a.{oti:02x}"
