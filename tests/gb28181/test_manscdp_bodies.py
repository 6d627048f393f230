"""Every MANSCDP body type: golden samples written the way Hikvision, Dahua, Uniview and WVP write them,
both field forms, both charsets, round trips, and the required/optional field rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from tianyan.gb28181 import ptz
from tianyan.gb28181.manscdp import message
from tianyan.gb28181.manscdp.alarm import AlarmNotify, AlarmResponse
from tianyan.gb28181.manscdp.catalog import CatalogItem, CatalogNotify, CatalogQuery, CatalogResponse
from tianyan.gb28181.manscdp.config_download import BasicParam, ConfigDownloadQuery, ConfigDownloadResponse
from tianyan.gb28181.manscdp.device_control import DeviceControl, DeviceControlResponse
from tianyan.gb28181.manscdp.device_info import DeviceInfoQuery, DeviceInfoResponse
from tianyan.gb28181.manscdp.device_status import AlarmStatus, DeviceStatusQuery, DeviceStatusResponse
from tianyan.gb28181.manscdp.envelope import Body, parse_envelope
from tianyan.gb28181.manscdp.keepalive import KeepaliveNotify
from tianyan.gb28181.manscdp.media_status import MediaStatusNotify
from tianyan.gb28181.manscdp.mobile_position import MobilePositionNotify, MobilePositionQuery
from tianyan.gb28181.manscdp.preset import Preset, PresetQuery, PresetQueryResponse
from tianyan.gb28181.manscdp.record_info import RecordInfoQuery, RecordInfoResponse, RecordItem
from tianyan.gb28181.manscdp.xml import ManscdpError

NVR = "34020000001110000001"
CAM = "34020000001320000001"
CAM2 = "34020000001320000002"
ALARM_IN = "34020000001340000001"
PLATFORM = "34020000002000000001"
T0 = datetime(2026, 11, 21, 8, 30)


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


# --- golden samples, as devices put them on the wire -------------------------------------------------------

# Hikvision IPC heartbeat: GB2312 declared, empty Info.
HIK_KEEPALIVE = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Keepalive</CmdType>
<SN>101</SN>
<DeviceID>34020000001320000001</DeviceID>
<Status>OK</Status>
<Info>
</Info>
</Notify>
""").encode("gb18030")

# Dahua NVR heartbeat reporting two faulty channels, indented, standalone in the declaration.
DAHUA_KEEPALIVE = b"""<?xml version="1.0" encoding="GB2312" standalone="yes"?>
<Notify>
    <CmdType>Keepalive</CmdType>
    <SN>43</SN>
    <DeviceID>34020000001110000001</DeviceID>
    <Status>OK</Status>
    <Info>
        <DeviceID>34020000001320000001</DeviceID>
        <DeviceID>34020000001320000002</DeviceID>
    </Info>
</Notify>
"""

# Hikvision NVR catalog answer, part 1 of 2, real GB2312 bytes with Chinese names; NVRs say ONLINE/OFFLINE.
HIK_CATALOG_1 = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>Catalog</CmdType>
<SN>17</SN>
<DeviceID>34020000001110000001</DeviceID>
<SumNum>3</SumNum>
<DeviceList Num="2">
<Item>
<DeviceID>34020000001320000001</DeviceID>
<Name>北京路与人民路交叉口</Name>
<Manufacturer>Hikvision</Manufacturer>
<Model>DS-2DE4425IW-DE</Model>
<Owner>Owner</Owner>
<CivilCode>441302</CivilCode>
<Block>惠城分局</Block>
<Address>北京路</Address>
<Parental>0</Parental>
<ParentID>34020000001110000001</ParentID>
<SafetyWay>0</SafetyWay>
<RegisterWay>1</RegisterWay>
<Secrecy>0</Secrecy>
<IPAddress>192.168.1.64</IPAddress>
<Port>8000</Port>
<Status>ONLINE</Status>
<Longitude>114.4126</Longitude>
<Latitude>23.0794</Latitude>
<Info>
<PTZType>1</PTZType>
</Info>
</Item>
<Item>
<DeviceID>34020000001320000002</DeviceID>
<Name>东门</Name>
<Manufacturer>Hikvision</Manufacturer>
<Model>DS-2CD3T46</Model>
<Owner>Owner</Owner>
<CivilCode>441302</CivilCode>
<Address>东门</Address>
<Parental>0</Parental>
<ParentID>34020000001110000001</ParentID>
<SafetyWay>0</SafetyWay>
<RegisterWay>1</RegisterWay>
<Secrecy>0</Secrecy>
<Status>OFFLINE</Status>
<Longitude>0.0</Longitude>
<Latitude>0.0</Latitude>
</Item>
</DeviceList>
</Response>
""").encode("gb18030")

# Part 2 of 2: an alarm input, sent UTF-8 behind the same GB2312 declaration (firmware that lies).
HIK_CATALOG_2 = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>Catalog</CmdType>
<SN>17</SN>
<DeviceID>34020000001110000001</DeviceID>
<SumNum>3</SumNum>
<DeviceList Num="1">
<Item>
<DeviceID>34020000001340000001</DeviceID>
<Name>周界报警输入1</Name>
<Manufacturer>Hikvision</Manufacturer>
<Model>AlarmIn</Model>
<Owner>Owner</Owner>
<CivilCode>441302</CivilCode>
<Address>围墙</Address>
<Parental>0</Parental>
<ParentID>34020000001110000001</ParentID>
<RegisterWay>1</RegisterWay>
<Secrecy>0</Secrecy>
<Status>ON</Status>
</Item>
</DeviceList>
</Response>
""").encode("utf-8")

# A platform (cascade) answering in the attribute form, with 2022 fields and a business group.
ATTRIBUTE_CATALOG = """<?xml version="1.0" encoding="UTF-8"?>
<Response><CmdType>Catalog</CmdType><SN>9</SN><DeviceID>34020000002000000001</DeviceID><SumNum>2</SumNum>
<DeviceList Num="2">
<Item DeviceID="34020000002150000001" Name="治安监控" ParentID="34020000002000000001" />
<Item DeviceID="34020000001320000009" Name="一类点 3号" Manufacturer="Uniview" Model="IPC" CivilCode="441302"
 Address="江北" Parental="0" ParentID="34020000002000000001/34020000002150000001" RegisterWay="1"
 SecurityLevelCode="B" Secrecy="0" Status="ON" Longitude="114.41" Latitude="23.11"
 BusinessGroupID="34020000002150000001"><Info><PTZType>3</PTZType><PointType>1</PointType>
 <StreamNumberList>0/1</StreamNumberList><RecordSaveDays>90</RecordSaveDays></Info></Item>
</DeviceList></Response>
""".encode()

DAHUA_CATALOG_NOTIFY = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Catalog</CmdType>
<SN>500</SN>
<DeviceID>34020000001110000001</DeviceID>
<SumNum>2</SumNum>
<DeviceList Num="2">
<Item>
<DeviceID>34020000001320000001</DeviceID>
<Event>OFF</Event>
</Item>
<Item>
<DeviceID>34020000001320000005</DeviceID>
<Event>ADD</Event>
<Name>新增通道</Name>
<Status>ON</Status>
</Item>
</DeviceList>
</Notify>
""").encode("gb18030")

WVP_CATALOG_QUERY = b"""<?xml version="1.0" encoding="GB2312"?>
<Query>
<CmdType>Catalog</CmdType>
<SN>783461</SN>
<DeviceID>34020000001110000001</DeviceID>
</Query>
"""

HIK_DEVICE_INFO = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>DeviceInfo</CmdType>
<SN>2</SN>
<DeviceID>34020000001320000001</DeviceID>
<Result>OK</Result>
<DeviceName>IP CAMERA</DeviceName>
<Manufacturer>Hikvision</Manufacturer>
<Model>DS-2CD2T47G2-L</Model>
<Firmware>V5.7.3 build 220112</Firmware>
<Channel>1</Channel>
</Response>
""").encode()

LIVEQING_DEVICE_STATUS = b"""<?xml version="1.0" encoding="UTF-8"?>
<Response>
<CmdType>DeviceStatus</CmdType>
<SN>800293061</SN>
<DeviceID>34020000001320000264</DeviceID>
<Result>OK</Result>
<Online>ONLINE</Online>
<Status>OK</Status>
<DeviceTime>2019-08-06T10:45:34</DeviceTime>
<Alarmstatus Num="1">
<Item>
<DeviceID>34020000001340000001</DeviceID>
<DutyStatus>ONDUTY</DutyStatus>
</Item>
</Alarmstatus>
<Encode>ON</Encode>
<Record>OFF</Record>
</Response>
"""

DAHUA_RECORD_INFO = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>RecordInfo</CmdType>
<SN>17430</SN>
<DeviceID>34020000001320000001</DeviceID>
<Name>北京路与人民路交叉口</Name>
<SumNum>2</SumNum>
<RecordList Num="2">
<Item>
<DeviceID>34020000001320000001</DeviceID>
<Name>北京路与人民路交叉口</Name>
<FilePath>/mnt/dvr/sda0/2026/11/21/08.00.00-08.30.00[R][0@0][0].dav</FilePath>
<Address>Address 1</Address>
<StartTime>2026-11-21T08:00:00</StartTime>
<EndTime>2026-11-21T08:30:00</EndTime>
<Secrecy>0</Secrecy>
<Type>time</Type>
<FileSize>536870912</FileSize>
</Item>
<Item>
<DeviceID>34020000001320000001</DeviceID>
<Name>北京路与人民路交叉口</Name>
<StartTime>2026-11-21 08:30:00</StartTime>
<EndTime>2026-11-21 08:41:07</EndTime>
<Secrecy>0</Secrecy>
<Type>alarm</Type>
<RecorderID>34020000001340000001</RecorderID>
</Item>
</RecordList>
</Response>
""").encode("gb18030")

WVP_RECORD_QUERY = b"""<?xml version="1.0" encoding="GB2312"?>
<Query>
<CmdType>RecordInfo</CmdType>
<SN>442019</SN>
<DeviceID>34020000001320000001</DeviceID>
<StartTime>2026-11-21T00:00:00</StartTime>
<EndTime>2026-11-21T23:59:59</EndTime>
<Secrecy>0</Secrecy>
<Type>all</Type>
</Query>
"""

HIK_PRESETS = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>PresetQuery</CmdType>
<SN>31</SN>
<DeviceID>34020000001320000001</DeviceID>
<PresetList Num="2">
<Item>
<PresetID>1</PresetID>
<PresetName>路口全景</PresetName>
</Item>
<Item>
<PresetID>2</PresetID>
<PresetName>看守位</PresetName>
</Item>
</PresetList>
</Response>
""").encode("gb18030")

HIK_CONFIG = b"""<?xml version="1.0" encoding="GB2312"?>
<Response>
<CmdType>ConfigDownload</CmdType>
<SN>12</SN>
<DeviceID>34020000001320000001</DeviceID>
<Result>OK</Result>
<BasicParam>
<Name>IPC</Name>
<Expiration>3600</Expiration>
<HeartBeatInterval>30</HeartBeatInterval>
<HeartBeatCount>3</HeartBeatCount>
<PositionCapability>0</PositionCapability>
</BasicParam>
</Response>
"""

WVP_PTZ_CONTROL = b"""<?xml version="1.0" encoding="GB2312"?>
<Control>
<CmdType>DeviceControl</CmdType>
<SN>396514</SN>
<DeviceID>34020000001320000001</DeviceID>
<PTZCmd>A50F01021E1E1003</PTZCmd>
<Info>
<ControlPriority>5</ControlPriority>
</Info>
</Control>
"""

HIK_ALARM = crlf("""<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>88</SN>
<DeviceID>34020000001340000001</DeviceID>
<AlarmPriority>4</AlarmPriority>
<AlarmTime>2026-11-21T08:30:15</AlarmTime>
<AlarmMethod>5</AlarmMethod>
<AlarmDescription>移动侦测</AlarmDescription>
<Info>
<AlarmType>2</AlarmType>
<AlarmTypeParam>
<EventType>1</EventType>
</AlarmTypeParam>
</Info>
</Notify>
""").encode("gb18030")

MOBILE_POSITION = b"""<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>MobilePosition</CmdType>
<SN>7</SN>
<DeviceID>34020000001380000001</DeviceID>
<Time>2026-11-21T08:30:00.250</Time>
<Longitude>114.4163</Longitude>
<Latitude>23.1125</Latitude>
<Speed>36.5</Speed>
<Direction>271.0</Direction>
<Altitude>12</Altitude>
</Notify>
"""

MEDIA_STATUS = b"""<?xml version="1.0" encoding="GB2312"?>
<Notify>
<CmdType>MediaStatus</CmdType>
<SN>2</SN>
<DeviceID>34020000001320000001</DeviceID>
<NotifyType>121</NotifyType>
</Notify>
"""

GOLDEN: dict[str, bytes] = {
    "hik_keepalive": HIK_KEEPALIVE,
    "dahua_keepalive": DAHUA_KEEPALIVE,
    "hik_catalog_1": HIK_CATALOG_1,
    "hik_catalog_2": HIK_CATALOG_2,
    "attribute_catalog": ATTRIBUTE_CATALOG,
    "dahua_catalog_notify": DAHUA_CATALOG_NOTIFY,
    "wvp_catalog_query": WVP_CATALOG_QUERY,
    "hik_device_info": HIK_DEVICE_INFO,
    "liveqing_device_status": LIVEQING_DEVICE_STATUS,
    "dahua_record_info": DAHUA_RECORD_INFO,
    "wvp_record_query": WVP_RECORD_QUERY,
    "hik_presets": HIK_PRESETS,
    "hik_config": HIK_CONFIG,
    "wvp_ptz_control": WVP_PTZ_CONTROL,
    "hik_alarm": HIK_ALARM,
    "mobile_position": MOBILE_POSITION,
    "media_status": MEDIA_STATUS,
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_every_golden_sample_parses_and_round_trips(name: str) -> None:
    parsed = message.parse(GOLDEN[name])
    if isinstance(parsed, MobilePositionNotify):
        # Built times are in the standard form, whole seconds; the device's milliseconds do not go back out.
        parsed = replace(parsed, time=parsed.time.replace(microsecond=0))
    for charset in ("GB2312", "UTF-8"):
        assert message.parse(parsed.build(charset=charset)) == parsed


def test_hikvision_keepalive() -> None:
    assert message.parse(HIK_KEEPALIVE) == KeepaliveNotify(101, CAM, "OK", ())
    assert KeepaliveNotify.parse(DAHUA_KEEPALIVE).faulty_channels == (CAM, CAM2)


def test_hikvision_catalog_in_two_messages_and_two_charsets() -> None:
    first, second = CatalogResponse.parse(HIK_CATALOG_1), CatalogResponse.parse(HIK_CATALOG_2)
    assert (first.sn, first.sum_num, len(first.items)) == (17, 3, 2)
    ptz_dome, gate = first.items
    assert ptz_dome.name == "北京路与人民路交叉口" and ptz_dome.block == "惠城分局"
    assert (ptz_dome.status, ptz_dome.ptz_type, ptz_dome.port) == ("ON", 1, 8000)
    assert (ptz_dome.longitude, ptz_dome.latitude) == (114.4126, 23.0794)
    assert (gate.name, gate.status, gate.ptz_type) == ("东门", "OFF", None)
    assert second.items[0].name == "周界报警输入1"
    assert parse_envelope(HIK_CATALOG_2).charset == "UTF-8"
    assert parse_envelope(HIK_CATALOG_1).charset == "GB2312"


def test_attribute_form_catalog_with_2022_fields() -> None:
    group, camera = CatalogResponse.parse(ATTRIBUTE_CATALOG).items
    assert (group.device_id, group.name, group.status) == ("34020000002150000001", "治安监控", None)
    assert camera.name == "一类点 3号" and camera.manufacturer == "Uniview"
    assert camera.parent_ids == (PLATFORM, "34020000002150000001")
    assert camera.security_level_code == "B" and camera.business_group_id == "34020000002150000001"
    assert (camera.ptz_type, camera.point_type, camera.stream_number_list, camera.record_save_days) == (3, 1, "0/1", 90)


def test_element_and_attribute_forms_give_equal_items() -> None:
    item = CatalogItem(CAM, name="东门", status="ON", parental=0, longitude=114.5, latitude=23.0, ptz_type=1)
    element_form = CatalogResponse(1, NVR, 1, (item,)).build()
    attribute_form = (
        '<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>1</SN>'
        f'<DeviceID>{NVR}</DeviceID><SumNum>1</SumNum><DeviceList Num="1"><Item DeviceID="{CAM}" Name="东门" '
        'Status="ON" Parental="0" Longitude="114.5" Latitude="23.0"><Info PTZType="1"/></Item></DeviceList></Response>'
    ).encode("gb18030")
    assert CatalogResponse.parse(element_form) == CatalogResponse.parse(attribute_form)


def test_catalog_notify_events() -> None:
    notify = CatalogNotify.parse(DAHUA_CATALOG_NOTIFY)
    assert [(i.device_id[-1], i.event) for i in notify.items] == [("1", "OFF"), ("5", "ADD")]
    assert notify.items[1].name == "新增通道"
    assert message.parse(DAHUA_CATALOG_NOTIFY) == notify


def test_catalog_query_and_subscription_range() -> None:
    assert message.parse(WVP_CATALOG_QUERY) == CatalogQuery(783461, NVR)
    query = CatalogQuery(5, NVR, start_time=T0, end_time=datetime(2026, 11, 22))
    assert CatalogQuery.parse(query.build()) == query


def test_bad_optional_item_fields_do_not_lose_the_message() -> None:
    body = (
        b'<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>X</DeviceID><SumNum>1</SumNum><DeviceList Num="1">'
        b"<Item><DeviceID>C</DeviceID><Port>eighty</Port><Longitude>999</Longitude><Latitude>abc</Latitude>"
        b"<Status>maybe</Status><Parental>5</Parental><EndTime>soon</EndTime></Item></DeviceList></Response>"
    )
    (item,) = CatalogResponse.parse(body).items
    assert item == CatalogItem("C")


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (
            '<DeviceList Num="2"><Item><Name>a</Name></Item></DeviceList><SumNum>1</SumNum>',
            "DeviceList/Item\\[1\\]/DeviceID",
        ),
        ("<SumNum>many</SumNum>", "SumNum must be an integer"),
        ("<SumNum>-1</SumNum>", "SumNum must be in"),
        ("", "SumNum is required"),
    ],
)
def test_bad_required_catalog_fields(xml: str, field: str) -> None:
    body = f"<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>X</DeviceID>{xml}</Response>".encode()
    with pytest.raises(ManscdpError, match=field):
        CatalogResponse.parse(body)


def test_device_info() -> None:
    info = DeviceInfoResponse.parse(HIK_DEVICE_INFO)
    assert info == DeviceInfoResponse(
        2, CAM, "OK", "IP CAMERA", "Hikvision", "DS-2CD2T47G2-L", "V5.7.3 build 220112", 1
    )
    assert DeviceInfoQuery.parse(DeviceInfoQuery(3, CAM).build(charset="UTF-8")) == DeviceInfoQuery(3, CAM)


def test_device_status() -> None:
    status = DeviceStatusResponse.parse(LIVEQING_DEVICE_STATUS)
    assert (status.sn, status.online, status.status, status.encode, status.record) == (
        800293061, "ONLINE", "OK", "ON", "OFF",
    )  # fmt: skip
    assert status.device_time == datetime(2019, 8, 6, 10, 45, 34)
    assert status.alarm_status == (AlarmStatus(ALARM_IN, "ONDUTY"),)
    assert message.parse(DeviceStatusQuery(4, CAM).build()) == DeviceStatusQuery(4, CAM)


def test_record_info() -> None:
    response = RecordInfoResponse.parse(DAHUA_RECORD_INFO)
    assert (response.sum_num, response.name) == (2, "北京路与人民路交叉口")
    timed, alarmed = response.items
    assert (timed.start_time, timed.end_time, timed.type, timed.file_size) == (
        datetime(2026, 11, 21, 8), T0, "time", 536870912,
    )  # fmt: skip
    assert alarmed.end_time == datetime(2026, 11, 21, 8, 41, 7) and alarmed.recorder_id == ALARM_IN
    query = RecordInfoQuery.parse(WVP_RECORD_QUERY)
    assert (query.start_time, query.end_time, query.type, query.secrecy) == (
        datetime(2026, 11, 21), datetime(2026, 11, 21, 23, 59, 59), "all", 0,
    )  # fmt: skip
    full = RecordInfoQuery(1, CAM, T0, T0, "/a", "addr", 1, "alarm", ALARM_IN, 1)
    assert RecordInfoQuery.parse(full.build()) == full


def test_record_query_refuses_a_backwards_range() -> None:
    backwards = WVP_RECORD_QUERY.replace(b"T23:59:59", b"T00:00:00").replace(b"T00:00:00</Start", b"T01:00:00</Start")
    with pytest.raises(ManscdpError, match="before StartTime"):
        RecordInfoQuery.parse(backwards)
    with pytest.raises(ManscdpError, match=r"RecordList/Item\[2\]/StartTime is required"):
        RecordInfoResponse.parse(DAHUA_RECORD_INFO.replace(b"<StartTime>2026-11-21 08:30:00</StartTime>", b""))


def test_presets() -> None:
    response = PresetQueryResponse.parse(HIK_PRESETS)
    assert response.presets == (Preset(1, "路口全景"), Preset(2, "看守位"))
    assert PresetQuery.parse(PresetQuery(8, CAM).build()) == PresetQuery(8, CAM)
    with pytest.raises(ManscdpError, match=r"PresetList/Item\[1\]/PresetID must be in 1\.\.255"):
        PresetQueryResponse.parse(HIK_PRESETS.replace(b"<PresetID>1</PresetID>", b"<PresetID>256</PresetID>"))


def test_config_download() -> None:
    response = ConfigDownloadResponse.parse(HIK_CONFIG)
    assert response.basic_param == BasicParam(
        name="IPC", expiration=3600, heart_beat_interval=30, heart_beat_count=3, position_capability=0
    )
    query = ConfigDownloadQuery.parse(
        b"<Query><CmdType>ConfigDownload</CmdType><SN>3</SN><DeviceID>C</DeviceID>"
        b"<ConfigType>basicparam/VideoParamOpt/OSDConfig</ConfigType></Query>"
    )
    assert query.config_types == ("BasicParam", "VideoParamOpt", "OSDConfig")
    assert ConfigDownloadQuery.parse(query.build()) == query


def test_device_control_ptz_and_others() -> None:
    control = DeviceControl.parse(WVP_PTZ_CONTROL)
    assert control.control_priority == 5
    assert control.ptz_command == ptz.Move("left", None, None, 30, 30, 1)
    built = DeviceControl.of_ptz(9, CAM, ptz.Preset("call", 3))
    assert DeviceControl.parse(built.build()).ptz_command == ptz.Preset("call", 3)
    everything = DeviceControl(
        10, CAM, tele_boot=True, record_cmd="StopRecord", guard_cmd="SetGuard", alarm_cmd="ResetAlarm",
        iframe_cmd=True, alarm_method="2", alarm_type="1",
    )  # fmt: skip
    assert DeviceControl.parse(everything.build()) == everything
    assert DeviceControlResponse.parse(DeviceControlResponse(10, CAM, "ERROR").build()).result == "ERROR"


def test_device_control_with_a_broken_ptz_checksum() -> None:
    control = DeviceControl.parse(WVP_PTZ_CONTROL.replace(b"1003<", b"1004<"))
    with pytest.raises(ptz.PtzError, match="checksum"):
        _ = control.ptz_command
    with pytest.raises(ManscdpError, match="PTZCmd must be 16 hex digits"):
        DeviceControl.parse(WVP_PTZ_CONTROL.replace(b"A50F01021E1E1003", b"A50F01"))


def test_device_control_tolerates_spellings() -> None:
    control = DeviceControl.parse(
        b"<Control><CmdType>devicecontrol</CmdType><SN>1</SN><DeviceID>C</DeviceID><PTZCmd>a50f0100000000b5</PTZCmd>"
        b"<IFrameCmd>Send</IFrameCmd><RecordCmd>record</RecordCmd></Control>"
    )
    assert (control.ptz_cmd, control.iframe_cmd, control.record_cmd) == ("A50F0100000000B5", True, "Record")
    assert control.ptz_command == ptz.Stop()


def test_alarm() -> None:
    alarm = AlarmNotify.parse(HIK_ALARM)
    assert alarm == AlarmNotify(88, ALARM_IN, 4, 5, datetime(2026, 11, 21, 8, 30, 15), "移动侦测", None, None, 2, 1)
    answer = AlarmResponse(alarm.sn, alarm.device_id)
    assert message.parse(answer.build()) == answer
    with pytest.raises(ManscdpError, match=r"AlarmPriority must be in 1\.\.4"):
        AlarmNotify.parse(HIK_ALARM.replace(b"<AlarmPriority>4", b"<AlarmPriority>9"))
    with pytest.raises(ManscdpError, match="AlarmTime"):
        AlarmNotify.parse(HIK_ALARM.replace(b"2026-11-21T08:30:15", b"yesterday"))
    with pytest.raises(ManscdpError, match="AlarmMethod is required"):
        AlarmNotify.parse(HIK_ALARM.replace(b"<AlarmMethod>5</AlarmMethod>", b""))
    with pytest.raises(ManscdpError, match=r"AlarmMethod must be in 1\.\.7"):
        AlarmNotify(1, ALARM_IN, 1, 8, T0).build()


def test_mobile_position() -> None:
    fix = MobilePositionNotify.parse(MOBILE_POSITION)
    assert fix.time == datetime(2026, 11, 21, 8, 30, 0, 250000)
    assert (fix.longitude, fix.latitude, fix.speed_kmh, fix.direction_deg, fix.altitude_m) == (
        114.4163, 23.1125, 36.5, 271.0, 12.0,
    )  # fmt: skip
    bad_optional = MobilePositionNotify.parse(MOBILE_POSITION.replace(b"271.0", b"north"))
    assert bad_optional.direction_deg is None
    with pytest.raises(ManscdpError, match=r"Latitude must be in -90\.0\.\.90\.0"):
        MobilePositionNotify.parse(MOBILE_POSITION.replace(b"23.1125", b"123.1"))
    capture_time = MOBILE_POSITION.replace(b"<Time>", b"<CaptureTime>").replace(b"</Time>", b"</CaptureTime>")
    assert MobilePositionNotify.parse(capture_time).time == fix.time
    subscription = MobilePositionQuery(5, CAM, interval_s=10)
    assert message.parse(subscription.build()) == subscription


def test_media_status() -> None:
    status = MediaStatusNotify.parse(MEDIA_STATUS)
    assert status.is_end_of_file and status == MediaStatusNotify(2, CAM)


# Every field of a catalog item set, so a round trip proves each one is written and read back.
FULL_ITEM = CatalogItem(
    device_id=CAM, name="北京路 1 号", manufacturer="Hikvision", model="DS", owner="公安", civil_code="441302",
    block="惠城", address="北京路", parental=0, parent_id=NVR, safety_way=0, register_way=1, cert_num="C-1",
    certifiable=1, err_code=0, end_time=T0, security_level_code="A", secrecy=0, ip_address="10.0.0.2", port=5060,
    password="pw", status="ON", longitude=114.41, latitude=23.08, business_group_id="34020000002150000001",
    ptz_type=1, position_type=2, room_type=1, use_type=1, supply_light_type=2, direction_type=3, resolution="6/4",
    stream_number_list="0/1", download_speed="1/2/4", svc_space_support_mode=0, svc_time_support_mode=0,
    point_type=1, grassroots_code="441302001", mac="AA-BB-CC-DD-EE-FF", record_save_days=90,
)  # fmt: skip

EVERY_BODY: list[Body] = [
    KeepaliveNotify(1, CAM, "ERROR", (CAM2,)),
    CatalogQuery(2, NVR),
    CatalogResponse(3, NVR, 2, (FULL_ITEM,)),
    CatalogNotify(4, NVR, 1, (CatalogItem(CAM, event="VLOST"),)),
    DeviceInfoQuery(5, CAM),
    DeviceInfoResponse(6, CAM, "OK", "大门", "Dahua", "IPC-HFW", "2.8", 4),
    DeviceStatusQuery(7, CAM),
    DeviceStatusResponse(8, CAM, "OK", "OFFLINE", "ERROR", "断电", "OFF", "ON", T0, (AlarmStatus(ALARM_IN, "ALARM"),)),
    RecordInfoQuery(9, CAM, T0, T0),
    RecordInfoResponse(10, CAM, 1, (RecordItem(CAM, T0, T0, "录像", type="manual", file_size=0),), "北京路"),
    PresetQuery(11, CAM),
    PresetQueryResponse(12, CAM, (Preset(255, "最后"),)),
    ConfigDownloadQuery(13, CAM, ("BasicParam", "SVACEncodeConfig")),
    ConfigDownloadResponse(
        14,
        CAM,
        "OK",
        BasicParam("IPC", CAM, PLATFORM, "10.0.0.1", 5060, "3402000000", 3600, "12345678", 60, 3, 1, 114.0, 23.0),
    ),
    DeviceControl(15, CAM, ptz_cmd="A50F0100000000B5", control_priority=5),
    DeviceControlResponse(16, CAM, "OK"),
    AlarmNotify(17, ALARM_IN, 1, 2, T0, "防区 1", 114.0, 23.0, 1),
    AlarmResponse(18, ALARM_IN, "OK"),
    MobilePositionQuery(19, CAM, 5),
    MobilePositionNotify(20, CAM, T0, -73.9855, 40.758, 0.0, 359.5, -10.0),
    MediaStatusNotify(21, CAM, 121),
    KeepaliveNotify(None, CAM),  # a Notify may go without an SN
]


@pytest.mark.parametrize("body", EVERY_BODY, ids=lambda b: type(b).__name__)
@pytest.mark.parametrize("charset", ["GB2312", "UTF-8"])
def test_build_then_parse_gives_the_same_body(body: Body, charset: str) -> None:
    data = body.build(charset=charset)
    assert data.startswith(f'<?xml version="1.0" encoding="{charset}"?>\r\n'.encode())
    assert type(body).parse(data) == body
    assert message.parse(data) == body


def test_every_route_has_a_round_trip_case() -> None:
    assert {type(b) for b in EVERY_BODY} == set(message.BODY_TYPES)


def test_builders_refuse_what_would_not_parse_back() -> None:
    with pytest.raises(ManscdpError, match="needs an SN"):
        DeviceInfoQuery(None, CAM).build()  # type: ignore[arg-type]
    with pytest.raises(ManscdpError, match="SN must be in"):
        DeviceInfoQuery(-1, CAM).build()
    with pytest.raises(ManscdpError, match="DeviceID"):
        DeviceInfoQuery(1, "has space").build()
    with pytest.raises(ManscdpError, match="Longitude"):
        CatalogResponse(1, NVR, 1, (CatalogItem(CAM, longitude=181.0),)).build()
    with pytest.raises(ManscdpError, match="PresetID"):
        PresetQueryResponse(1, CAM, (Preset(0),)).build()


def test_a_body_parsed_as_the_wrong_type_is_refused() -> None:
    with pytest.raises(ManscdpError, match="expected Response Catalog, got Query Catalog"):
        CatalogResponse.parse(WVP_CATALOG_QUERY)
