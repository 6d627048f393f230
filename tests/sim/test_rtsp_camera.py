"""The simulated RTSP camera over loopback: the RTSP dialogue, RTP over TCP and UDP, auth, errors, ffprobe."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import av
import pytest

from tianyan.gb28181.sip.digest import authorization
from tianyan.media.rtp import parse_rtp
from tianyan.media.units import VideoCodec
from tianyan.sim.rtsp import CameraPath, RtspCamera, frame_number
from tianyan.sim.rtsp.rtp_video import VideoDepacketizer

PATHS = (CameraPath("main", "4cif"), CameraPath("sub", "cif"), CameraPath("hevc", "cif", "h265"))


async def eventually(condition: object, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Client:
    """A bare RTSP client: requests one at a time, interleaved packets collected by channel."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    uri: str
    cseq: int = 0
    packets: dict[int, list[bytes]] = field(default_factory=dict)
    closed: bool = False

    @classmethod
    async def connect(cls, camera: RtspCamera, path: str = "main") -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", camera.port)
        return cls(reader, writer, f"rtsp://127.0.0.1:{camera.port}/{path}")

    async def request(self, method: str, uri: str | None = None, **headers: str) -> Reply:
        self.cseq += 1
        lines = [f"{method} {uri or self.uri} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await asyncio.wait_for(self.reply(), 10)

    async def reply(self) -> Reply:
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                header = await self.reader.readexactly(3)
                data = await self.reader.readexactly(int.from_bytes(header[1:], "big"))
                self.packets.setdefault(header[0], []).append(data)
                continue
            head = first + await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            status = int(lines[0].split(" ")[1])
            fields = dict(line.split(": ", 1) for line in lines[1:] if line)
            headers = {k.lower(): v for k, v in fields.items()}
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
            return Reply(status, headers, body)

    async def read_packets(self, count: int, channel: int = 0) -> list[bytes]:
        async def fill() -> None:
            while len(self.packets.get(channel, [])) < count:
                first = await self.reader.readexactly(1)
                assert first == b"$", "only RTP expected while playing"
                header = await self.reader.readexactly(3)
                data = await self.reader.readexactly(int.from_bytes(header[1:], "big"))
                self.packets.setdefault(header[0], []).append(data)

        await asyncio.wait_for(fill(), 15)
        return self.packets[channel]

    async def play_tcp(self) -> tuple[str, Reply]:
        setup = await self.request("SETUP", f"{self.uri}/trackID=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
        assert setup.status == 200, setup
        session = setup.headers["session"].split(";")[0]
        play = await self.request("PLAY", session=session, Range="npt=0.000-")
        assert play.status == 200, play
        return session, play

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def camera() -> AsyncIterator[RtspCamera]:
    camera = await RtspCamera(PATHS).start()
    yield camera
    await camera.stop()


def decode(codec: VideoCodec, packets: list[bytes]) -> tuple[list[int | None], int]:
    """The frame numbers of the complete pictures in `packets` and how many PyAV decoded."""
    depacketizer = VideoDepacketizer(codec)
    pictures = [out[0] for out in (depacketizer.push(parse_rtp(p)) for p in packets) if out is not None]
    with av.open(io.BytesIO(b"".join(pictures)), format="h264" if codec is VideoCodec.H264 else "hevc") as c:
        decoded = len(list(c.decode(video=0)))
    return [frame_number(p) for p in pictures], decoded


def consecutive(numbers: list[int | None]) -> bool:
    return None not in numbers and numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # type: ignore


async def test_the_whole_dialogue_over_tcp(camera: RtspCamera) -> None:
    client = await Client.connect(camera)
    options = await client.request("OPTIONS", "*")
    assert options.status == 200 and "GET_PARAMETER" in options.headers["public"]
    describe = await client.request("DESCRIBE", Accept="application/sdp")
    assert describe.status == 200 and describe.headers["content-type"] == "application/sdp"
    assert describe.headers["content-base"] == f"rtsp://127.0.0.1:{camera.port}/main/"
    sdp = describe.body.decode()
    assert "m=video 0 RTP/AVP 96" in sdp and "a=rtpmap:96 H264/90000" in sdp and "sprop-parameter-sets=" in sdp
    session, play = await client.play_tcp()
    info = dict(item.split("=", 1) for item in play.headers["rtp-info"].split(";")[1:])
    packets = await client.read_packets(120)
    first = parse_rtp(packets[0])
    assert first.sequence == int(info["seq"]) and first.timestamp == int(info["rtptime"])
    numbers, decoded = decode(VideoCodec.H264, packets)
    assert decoded == len(numbers) >= 5 and consecutive(numbers)
    keepalive = await client.request("GET_PARAMETER", session=session)
    assert keepalive.status == 200 and keepalive.headers["session"].startswith(session)
    assert camera.live_encoders == 1 and camera.playing == 1
    pause = await client.request("PAUSE", session=session)
    assert pause.status == 200
    await eventually(lambda: camera.live_encoders == 0)
    teardown = await client.request("TEARDOWN", session=session)
    assert teardown.status == 200 and camera.sessions == {}
    client.close()


async def test_rtp_over_udp_goes_to_the_client_ports(camera: RtspCamera) -> None:
    loop = asyncio.get_running_loop()
    received: list[bytes] = []

    class Receiver(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            received.append(data)

    rtp, _ = await loop.create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
    rtcp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    ports = f"{rtp.get_extra_info('sockname')[1]}-{rtcp.get_extra_info('sockname')[1]}"
    client = await Client.connect(camera, "hevc")
    try:
        setup = await client.request(
            "SETUP", f"{client.uri}/trackID=0", Transport=f"RTP/AVP;unicast;client_port={ports}"
        )
        assert setup.status == 200
        transport = setup.headers["transport"]
        assert f"client_port={ports}" in transport and "server_port=" in transport
        session = setup.headers["session"].split(";")[0]
        assert (await client.request("PLAY", session=session)).status == 200
        await eventually(lambda: len(received) >= 40, 15)
        numbers, decoded = decode(VideoCodec.H265, list(received))
        assert decoded == len(numbers) >= 3 and consecutive(numbers)
        assert (await client.request("TEARDOWN", session=session)).status == 200
    finally:
        client.close()
        rtp.close()
        rtcp.close()


async def test_clients_of_one_path_share_its_encoder(camera: RtspCamera) -> None:
    clients = [await Client.connect(camera, path) for path in ("main", "main", "main", "sub")]
    for client in clients:
        await client.play_tcp()
    for client in clients:
        await client.read_packets(20)
    assert camera.playing == 4 and camera.live_encoders == 2
    for client in clients:
        client.close()
    await eventually(lambda: camera.live_encoders == 0 and not camera.sessions)


async def test_bad_requests_get_clear_answers_and_the_camera_carries_on(camera: RtspCamera) -> None:
    client = await Client.connect(camera)
    assert (await client.request("DESCRIBE", f"rtsp://127.0.0.1:{camera.port}/nope")).status == 404
    assert (await client.request("PLAY")).status == 454
    assert (await client.request("PLAY", Session="12345")).status == 454
    assert (await client.request("FLY")).status == 501
    assert (await client.request("RECORD")).status == 405
    assert (await client.request("SETUP", Transport="RTP/SAVP;unicast")).status == 461
    assert (await client.request("SETUP")).status == 400
    assert (await client.request("PLAY", Session="x", Range="smpte=0:10:00-")).status in (454, 457)
    client.writer.write(b"DESCRIBE rtsp://x/main RTSP/1.0\r\n\r\n")  # no CSeq
    assert (await asyncio.wait_for(client.reply(), 10)).status == 400
    client.writer.write(b"\x00\x01garbage that is not RTSP\r\n\r\n")
    assert (await asyncio.wait_for(client.reply(), 10)).status == 400
    assert await asyncio.wait_for(client.reader.read(), 10) == b""  # and the connection is closed
    other = await Client.connect(camera)
    assert (await other.request("OPTIONS", "*")).status == 200
    other.close()
    assert camera.stats.bad_requests >= 3


async def test_random_requests_never_break_the_camera(camera: RtspCamera) -> None:
    rng = random.Random(2326)
    methods = ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER", "X"]
    uris = ["*", "/main", "rtsp://127.0.0.1/main/trackID=0", "rtsp://[::1", "/main/trackID=9", "%%", "/" + "a" * 300]
    values = ["", ";", "RTP/AVP/TCP;interleaved=9-8", "RTP/AVP;client_port=0-70000", "npt=zz-", "Digest x", "\t"]
    client = await Client.connect(camera)
    for _ in range(60):
        headers = {name: rng.choice(values) for name in rng.sample(["Transport", "Session", "Range", "Authorization",
                                                                     "Accept", "Content_Type"], 3)}  # fmt: skip
        reply = await client.request(rng.choice(methods), rng.choice(uris), **headers)
        assert 200 <= reply.status < 600
    await client.play_tcp()
    await client.read_packets(10)
    client.close()


async def test_digest_auth() -> None:
    async with RtspCamera((CameraPath("main", "cif"),), password="s3cret") as camera:
        client = await Client.connect(camera)
        assert (await client.request("OPTIONS", "*")).status == 200
        challenge = await client.request("DESCRIBE")
        assert challenge.status == 401 and challenge.headers["www-authenticate"].startswith("Digest ")
        wrong = authorization(challenge.headers["www-authenticate"], "DESCRIBE", client.uri, "admin", "guess")
        assert (await client.request("DESCRIBE", Authorization=wrong)).status == 401
        right = authorization(challenge.headers["www-authenticate"], "DESCRIBE", client.uri, "admin", "s3cret", nc=2)
        assert (await client.request("DESCRIBE", Authorization=right)).status == 200
        client.close()


async def test_basic_auth() -> None:
    async with RtspCamera((CameraPath("main", "cif"),), password="s3cret", auth="basic") as camera:
        client = await Client.connect(camera)
        challenge = await client.request("DESCRIBE")
        assert challenge.status == 401 and challenge.headers["www-authenticate"].startswith("Basic ")
        for password, status in (("nope", 401), ("s3cret", 200)):
            token = base64.b64encode(f"admin:{password}".encode()).decode()
            assert (await client.request("DESCRIBE", Authorization=f"Basic {token}")).status == status
        client.close()


async def test_an_idle_udp_session_times_out() -> None:
    async with RtspCamera((CameraPath("main", "cif"),), session_timeout_s=1) as camera:
        client = await Client.connect(camera)
        setup = await client.request("SETUP", Transport="RTP/AVP;unicast;client_port=9-10")
        assert setup.status == 200 and setup.headers["session"].endswith(";timeout=1")
        await eventually(lambda: not camera.sessions, 10)
        client.close()


def _ffprobe() -> str:
    path = shutil.which("ffprobe")
    if path is None:
        pytest.fail("ffprobe is required (apt-get install ffmpeg); refusing to skip")
    return path


@pytest.mark.parametrize(("path", "transport", "codec"), [("main", "tcp", "h264"), ("hevc", "udp", "hevc")])
async def test_ffprobe_reads_the_stream(camera: RtspCamera, path: str, transport: str, codec: str) -> None:
    command = [_ffprobe(), "-v", "error", "-rtsp_transport", transport, "-show_streams", "-count_frames",
               "-read_intervals", "%+1", "-of", "json", camera.url(path)]  # fmt: skip
    result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (stream,) = json.loads(result.stdout)["streams"]
    size = (704, 576) if path == "main" else (352, 288)
    assert stream["codec_name"] == codec and (stream["width"], stream["height"]) == size
    assert int(stream["nb_read_frames"]) >= 10
