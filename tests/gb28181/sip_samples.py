"""SIP messages shaped like what Hikvision, Dahua and Uniview GB/T 28181 devices and platforms put on the wire."""

from __future__ import annotations

PLATFORM_ID = "34020000002000000001"
DEVICE_ID = "34020000001320000001"
REALM = PLATFORM_ID[:10]


def wire(head: str, body: bytes = b"", *, eol: str = "\r\n", encoding: str = "utf-8", length: bool = True) -> bytes:
    """Join a head written one header a line, add Content-Length for the body unless told not to."""
    lines = [line for line in head.strip("\n").split("\n")]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return (eol.join(lines) + eol + eol).encode(encoding) + body


# Hikvision IPC, first REGISTER: no Authorization yet.
REGISTER = wire(f"""
REGISTER sip:{PLATFORM_ID}@{REALM} SIP/2.0
Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273
From: <sip:{DEVICE_ID}@{REALM}>;tag=2043466181
To: <sip:{DEVICE_ID}@{REALM}>
Call-ID: 1011047669
CSeq: 1 REGISTER
Contact: <sip:{DEVICE_ID}@192.168.1.64:5060>
Max-Forwards: 70
User-Agent: IP Camera
Expires: 3600
""")

AUTHORIZATION = (
    f'Digest username="{DEVICE_ID}",realm="{REALM}",nonce="9bd055eb0d5d1b5a4a8bd7a3c0c3f9d1",'
    f'uri="sip:{PLATFORM_ID}@{REALM}",response="4a1f0f1e4fb4a41e4d6a0e9c2a9d0c47",algorithm=MD5'
)
# Hikvision again, answering the 401 the way GB devices do: MD5, no qop, no spaces after the commas.
REGISTER_AUTH = wire(f"""
REGISTER sip:{PLATFORM_ID}@{REALM} SIP/2.0
Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK2144536611
From: <sip:{DEVICE_ID}@{REALM}>;tag=2043466181
To: <sip:{DEVICE_ID}@{REALM}>
Call-ID: 1011047669
CSeq: 2 REGISTER
Contact: <sip:{DEVICE_ID}@192.168.1.64:5060>
Authorization: {AUTHORIZATION}
Max-Forwards: 70
User-Agent: IP Camera
Expires: 3600
""")

UNAUTHORIZED = wire(f"""
SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 192.168.1.64:5060;rport=5060;received=10.20.30.40;branch=z9hG4bK1371463273
From: <sip:{DEVICE_ID}@{REALM}>;tag=2043466181
To: <sip:{DEVICE_ID}@{REALM}>;tag=1689823217
Call-ID: 1011047669
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm="{REALM}",nonce="9bd055eb0d5d1b5a4a8bd7a3c0c3f9d1",algorithm=MD5,qop="auth"
User-Agent: Tianyan
""")

# The platform's 200 carries Date in the GB/T 28181 form so the device can set its clock.
REGISTER_OK = wire(f"""
SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.168.1.64:5060;rport=5060;received=10.20.30.40;branch=z9hG4bK2144536611
From: <sip:{DEVICE_ID}@{REALM}>;tag=2043466181
To: <sip:{DEVICE_ID}@{REALM}>;tag=1689823217
Call-ID: 1011047669
CSeq: 2 REGISTER
Contact: <sip:{DEVICE_ID}@192.168.1.64:5060>
Date: 2024-05-20T10:15:30.123
Expires: 3600
""")

# Dahua NVR keepalive: MANSCDP in GB2312, the Content-Type in the case Dahua writes it.
KEEPALIVE_BODY = (
    '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>43</SN>\r\n'
    "<DeviceID>34020000001180000001</DeviceID>\r\n<Status>OK</Status>\r\n<Info>\r\n<DeviceID>"
    "34020000001310000002</DeviceID>\r\n</Info>\r\n<!-- 东门通道 -->\r\n</Notify>\r\n"
).encode("gb2312")
KEEPALIVE = wire(
    f"""
MESSAGE sip:{PLATFORM_ID}@{REALM} SIP/2.0
Via: SIP/2.0/UDP 192.168.1.108:5060;rport;branch=z9hG4bK1480713395
From: <sip:34020000001180000001@{REALM}>;tag=1914473620
To: <sip:{PLATFORM_ID}@{REALM}>
Call-ID: 1329318846
CSeq: 20 MESSAGE
Content-Type: Application/MANSCDP+xml
Max-Forwards: 70
User-Agent: DH-NVR
""",
    KEEPALIVE_BODY,
)

INVITE_SDP = (
    b"v=0\r\no=34020000001320000001 0 0 IN IP4 10.0.0.1\r\ns=Play\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    b"m=video 30000 RTP/AVP 96 97 98\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:97 MPEG4/90000\r\n"
    b"a=rtpmap:98 H264/90000\r\ny=0200000001\r\n"
)
INVITE = wire(
    f"""
INVITE sip:{DEVICE_ID}@{REALM} SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK6d2c8a1f0e3b
From: <sip:{PLATFORM_ID}@{REALM}>;tag=7f1e2d3c
To: <sip:{DEVICE_ID}@{REALM}>
Call-ID: 5b1a7c9e2f@10.0.0.1
CSeq: 20 INVITE
Contact: <sip:{PLATFORM_ID}@10.0.0.1:5060>
Content-Type: APPLICATION/SDP
Max-Forwards: 70
User-Agent: Tianyan
Subject: {DEVICE_ID}:0200000001,{PLATFORM_ID}:0
""",
    INVITE_SDP,
)

# Uniview answers the INVITE; its SDP names the device as the source.
INVITE_OK_SDP = (
    b"v=0\r\no=34020000001320000001 0 0 IN IP4 192.168.1.70\r\ns=Play\r\nc=IN IP4 192.168.1.70\r\nt=0 0\r\n"
    b"m=video 15060 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\ny=0200000001\r\nf=\r\n"
)
INVITE_OK = wire(
    f"""
SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.1:5060;rport=5060;branch=z9hG4bK6d2c8a1f0e3b
From: <sip:{PLATFORM_ID}@{REALM}>;tag=7f1e2d3c
To: <sip:{DEVICE_ID}@{REALM}>;tag=1220712313
Call-ID: 5b1a7c9e2f@10.0.0.1
CSeq: 20 INVITE
Contact: <sip:{DEVICE_ID}@192.168.1.70:5060>
Content-Type: application/sdp
User-Agent: IPC-UNV
""",
    INVITE_OK_SDP,
)

BYE = wire(f"""
BYE sip:{DEVICE_ID}@192.168.1.70:5060 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK5e8f7a6b
From: <sip:{PLATFORM_ID}@{REALM}>;tag=7f1e2d3c
To: <sip:{DEVICE_ID}@{REALM}>;tag=1220712313
Call-ID: 5b1a7c9e2f@10.0.0.1
CSeq: 21 BYE
Max-Forwards: 70
""")

CATALOG_QUERY = (
    '<?xml version="1.0" encoding="GB2312"?>\r\n<Query>\r\n<CmdType>Catalog</CmdType>\r\n<SN>17430</SN>\r\n'
    "<DeviceID>34020000001320000001</DeviceID>\r\n</Query>\r\n"
).encode("gb2312")
SUBSCRIBE = wire(
    f"""
SUBSCRIBE sip:{DEVICE_ID}@{REALM} SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK3c4d5e6f
From: <sip:{PLATFORM_ID}@{REALM}>;tag=99a1b2c3
To: <sip:{DEVICE_ID}@{REALM}>
Call-ID: 77e1f0a2@10.0.0.1
CSeq: 1 SUBSCRIBE
Contact: <sip:{PLATFORM_ID}@10.0.0.1:5060>
Event: Catalog;id=17430
Expires: 3600
Content-Type: Application/MANSCDP+xml
Max-Forwards: 70
""",
    CATALOG_QUERY,
)

CATALOG_NOTIFY_BODY = (
    '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Catalog</CmdType>\r\n<SN>17430</SN>\r\n'
    '<DeviceID>34020000001320000001</DeviceID>\r\n<SumNum>1</SumNum>\r\n<DeviceList Num="1">\r\n<Item>\r\n'
    "<DeviceID>34020000001320000001</DeviceID>\r\n<Name>大门口</Name>\r\n<Event>ADD</Event>\r\n</Item>\r\n"
    "</DeviceList>\r\n</Notify>\r\n"
).encode("gb2312")
NOTIFY = wire(
    f"""
NOTIFY sip:{PLATFORM_ID}@10.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1956320012
From: <sip:{DEVICE_ID}@{REALM}>;tag=482093156
To: <sip:{PLATFORM_ID}@{REALM}>;tag=99a1b2c3
Call-ID: 77e1f0a2@10.0.0.1
CSeq: 1 NOTIFY
Contact: <sip:{DEVICE_ID}@192.168.1.64:5060>
Event: Catalog;id=17430
Subscription-State: active;expires=3600;retry-after=0
Content-Type: Application/MANSCDP+xml
Max-Forwards: 70
""",
    CATALOG_NOTIFY_BODY,
)

# An old encoder: LF-only line ends, compact header names, a folded Via, and no Content-Length (UDP).
COMPACT_LF = wire(
    f"""
MESSAGE sip:{PLATFORM_ID}@{REALM} SIP/2.0
v: SIP/2.0/UDP 192.168.1.90:5060
 ;branch=z9hG4bK77aa;rport
f: <sip:34020000001320000009@{REALM}>;tag=55
t: <sip:{PLATFORM_ID}@{REALM}>
i: 9f8e7d
CSeq: 3 MESSAGE
c: Application/MANSCDP+xml
""",
    b"<Notify><CmdType>Keepalive</CmdType></Notify>",
    eol="\n",
    length=False,
)

# A display name in GB18030 (a DVR's channel name), and an IPv6 Via with received.
GB18030_IPV6 = wire(
    f"""
MESSAGE sip:{PLATFORM_ID}@{REALM} SIP/2.0
Via: SIP/2.0/UDP [2001:db8::64]:5060;received=2001:db8::1;rport=5062;branch=z9hG4bK9001
From: "海康威视 前门" <sip:{DEVICE_ID}@{REALM}>;tag=abc
To: <sip:{PLATFORM_ID}@[2001:db8::1]:5060>
Call-ID: 424242
CSeq: 5 MESSAGE
l: 0
""",
    encoding="gb18030",
    length=False,
)

ALL = {
    "register": REGISTER,
    "register_auth": REGISTER_AUTH,
    "unauthorized": UNAUTHORIZED,
    "register_ok": REGISTER_OK,
    "keepalive": KEEPALIVE,
    "invite": INVITE,
    "invite_ok": INVITE_OK,
    "bye": BYE,
    "subscribe": SUBSCRIBE,
    "notify": NOTIFY,
    "compact_lf": COMPACT_LF,
    "gb18030_ipv6": GB18030_IPV6,
}
