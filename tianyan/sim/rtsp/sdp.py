"""The session description a simulated camera answers DESCRIBE with (RFC 4566; fmtp per RFC 6184 / RFC 7798)."""

from __future__ import annotations

import base64

from tianyan.media.nal import H264_PPS, H264_SPS, H265_PPS, H265_SPS, H265_VPS
from tianyan.media.units import VideoCodec
from tianyan.sim.rtsp.rtp_video import VIDEO_PAYLOAD_TYPE

TRACK_CONTROL = "trackID=0"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def video_fmtp(codec: VideoCodec, parameter_sets: dict[int, bytes]) -> str:
    """The a=fmtp parameters: packetization mode, profile and the parameter sets, so a client can decode at once."""
    if codec is VideoCodec.H264:
        sps, pps = parameter_sets.get(H264_SPS), parameter_sets.get(H264_PPS)
        params = ["packetization-mode=1"]
        if sps is not None and len(sps) >= 4:
            params.append(f"profile-level-id={sps[1:4].hex().upper()}")
        if sps is not None and pps is not None:
            params.append(f"sprop-parameter-sets={_b64(sps)},{_b64(pps)}")
        return ";".join(params)
    names = ((H265_VPS, "sprop-vps"), (H265_SPS, "sprop-sps"), (H265_PPS, "sprop-pps"))
    return ";".join(f"{name}={_b64(parameter_sets[kind])}" for kind, name in names if kind in parameter_sets)


def build_sdp(
    codec: VideoCodec,
    parameter_sets: dict[int, bytes],
    *,
    host: str,
    session_id: int,
    fps: float,
    width: int,
    height: int,
    title: str = "Tianyan simulated camera",
) -> str:
    encoding = "H264" if codec is VideoCodec.H264 else "H265"
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {host}",
        f"s={title}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=now-",
        f"m=video 0 RTP/AVP {VIDEO_PAYLOAD_TYPE}",
        f"a=rtpmap:{VIDEO_PAYLOAD_TYPE} {encoding}/90000",
        f"a=fmtp:{VIDEO_PAYLOAD_TYPE} {video_fmtp(codec, parameter_sets)}",
        f"a=framerate:{fps:g}",
        f"a=x-dimensions:{width},{height}",
        f"a=control:{TRACK_CONTROL}",
    ]
    return "\r\n".join(lines) + "\r\n"
