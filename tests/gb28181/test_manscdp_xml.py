"""MANSCDP XML decoding: charsets devices lie about, both field forms, and hostile input refused with ManscdpError."""

from __future__ import annotations

import pytest

from tianyan.gb28181.manscdp.xml import (
    Limits,
    ManscdpError,
    Node,
    declared_charset,
    decode,
    decode_document,
    encode,
    encode_fragment,
)

NAMES = ("北京路与人民路交叉口球机", "南山区科技园1号门", "惠州市公安局指挥中心", "东门", "大")


def body(name: str, *, declared: str, send: str) -> bytes:
    text = f'<?xml version="1.0" encoding="{declared}"?>\r\n<Response>\r\n<Name>{name}</Name>\r\n</Response>\r\n'
    return text.encode(send)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("declared", "sent", "charset"),
    [
        ("GB2312", "gb18030", "GB2312"),
        ("GBK", "gbk", "GB2312"),
        ("GB18030", "gb18030", "GB2312"),
        ("UTF-8", "utf-8", "UTF-8"),
        ("GB2312", "utf-8", "UTF-8"),  # the common lie: GB2312 declared, UTF-8 sent
        ("UTF-8", "gb18030", "GB2312"),  # and the reverse
        ("gb2312", "utf-8", "UTF-8"),
    ],
)
def test_chinese_names_are_never_mojibake(name: str, declared: str, sent: str, charset: str) -> None:
    document = decode_document(body(name, declared=declared, send=sent))
    assert document.root.get("Name") == name
    assert document.charset == charset
    assert document.declared_charset == declared.lower()


def test_ascii_bodies_report_the_declared_charset_so_answers_go_out_in_kind() -> None:
    assert decode_document(b'<?xml version="1.0" encoding="GB2312"?><Notify/>').charset == "GB2312"
    assert decode_document(b'<?xml version="1.0" encoding="UTF-8"?><Notify/>').charset == "UTF-8"
    assert decode_document(b"<Notify/>").charset == "UTF-8"


def test_no_declaration_reads_utf8_then_gb() -> None:
    assert decode("<Notify><Name>东门</Name></Notify>".encode()).get("Name") == "东门"
    assert decode("<Notify><Name>东门</Name></Notify>".encode("gb18030")).get("Name") == "东门"


def test_declared_charset_is_read_from_the_declaration_only() -> None:
    assert declared_charset(b'<?xml version="1.0" encoding="GB2312" standalone="yes"?><a/>') == "gb2312"
    assert declared_charset(b"<?xml version='1.0' encoding = 'utf-8' ?><a/>") == "utf-8"
    assert declared_charset(b"<a/>") is None


def test_element_and_attribute_forms_read_the_same() -> None:
    elements = decode(b"<Item><DeviceID>34020000001320000001</DeviceID><Name>A</Name><Status></Status></Item>")
    attributes = decode(b'<Item DeviceID="34020000001320000001" Name="A" Status=""/>')
    for node in (elements, attributes):
        assert node.get("DeviceID") == "34020000001320000001"
        assert node.get("Name") == "A"
        assert node.get("Status") is None  # empty is absent
        assert node.get("Model") is None


def test_tag_case_variations_and_whitespace() -> None:
    root = decode(
        b"<Notify>\n  <cmdtype> Keepalive </cmdtype>\n  <Sn>\t7 </Sn><DeviceId>\r\n 1 \r\n</DeviceId></Notify>"
    )
    assert (root.get("CmdType"), root.get("SN"), root.get("DeviceID")) == ("Keepalive", "7", "1")


def test_paths_reach_into_nested_elements() -> None:
    root = decode(b"<Item><Info><PTZType>1</PTZType></Info></Item>")
    assert root.get("Info/PTZType") == "1"
    assert root.get("Info/Missing/Deeper") is None
    assert root.find("Info") is not None and root.find("Nope/Info") is None


def test_field_tolerance_nul_padding_blank_lines_bom_bare_ampersand_namespace() -> None:
    padded = b"\r\n\r\n" + '\ufeff<?xml version="1.0"?>\n<Notify><Name>A&B</Name></Notify>'.encode() + b"\x00\x00\x00"
    assert decode(padded).get("Name") == "A&B"
    namespaced = decode(b'<m:Notify xmlns:m="urn:x"><m:Name>x</m:Name></m:Notify>')
    assert namespaced.tag == "Notify" and namespaced.get("Name") == "x"
    assert decode(b"<a>&amp;&lt;&#x4E1C;&#38376;</a>").text == "&<东门"


def test_building_round_trips_in_both_charsets() -> None:
    root = Node.of(
        "Response",
        Node("CmdType", "Catalog"),
        Node("Name", '北京路 <1> & "2"\r\nline'),
        Node.of("DeviceList", Node.of("Item", Node("DeviceID", "1")), attrs={"Num": "1"}),
    )
    gb = encode(root)
    assert gb.startswith(b'<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n')
    assert "北京路".encode("gb2312") in gb
    utf8 = encode(root, charset="UTF-8")
    assert utf8.startswith(b'<?xml version="1.0" encoding="UTF-8"?>') and "北京路".encode() in utf8
    for data in (gb, utf8):
        assert decode(data) == root


def test_characters_outside_gb2312_still_survive_a_gb_build() -> None:
    rare = "𠀀𪚥😀"  # GB18030 four-byte sequences
    assert decode(encode(Node("a", rare))).text == rare


def test_illegal_xml_characters_are_dropped_when_building() -> None:
    assert decode(encode(Node("a", "x\x01y\x1fz"))).text == "xyz"


def test_fragments_add_up_to_the_body() -> None:
    root = Node.of("R", Node("A", "东"), Node.of("L", Node("B", "1"), Node("B", "2")))
    declaration = len('<?xml version="1.0" encoding="GB2312"?>\r\n')
    assert len(encode(root)) == declaration + len(encode_fragment(root))


def test_unknown_output_charset_is_refused() -> None:
    with pytest.raises(ManscdpError, match="Big5"):
        encode(Node("a"), charset="Big5")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Notify><CmdType>Keepalive</CmdType><Name>&lol4;</Name></Notify>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Notify><Name>&xxe;</Name></Notify>"""

EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.com/evil.dtd"><Notify/>'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (EXTERNAL_DTD, "DTD"),
        (b"<a>" * 17 + b"</a>" * 17, "deeper than 16"),
        (b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN>", "truncated"),
        (b"<Notify><CmdType>Keep", "truncated"),
        (bytes(range(256)) * 4, "neither UTF-8 nor GB18030|not well-formed"),
        (b"\x00\x01\x02garbage\xff\xfe", "neither UTF-8 nor GB18030|not well-formed"),
        (b"", "empty"),
        (b"   \r\n\x00", "empty"),
        (b"just text, no markup", "not well-formed"),
        (b"<a></b>", "not well-formed"),
        (b"<a/><b/>", "not well-formed"),
    ],
)
def test_hostile_and_broken_input_raises_manscdp_error(data: bytes, message: str) -> None:
    with pytest.raises(ManscdpError, match=message):
        decode(data)


def test_ten_megabyte_body_is_refused_before_parsing() -> None:
    huge = b"<Notify><Name>" + b"A" * (10 * 1024 * 1024) + b"</Name></Notify>"
    with pytest.raises(ManscdpError, match="over the 1048576-byte limit"):
        decode(huge)


def test_element_count_limit() -> None:
    many = b"<R>" + b"<I/>" * 50_000 + b"</R>"
    with pytest.raises(ManscdpError, match="more than 50000 elements"):
        decode(many, limits=Limits(max_bytes=1 << 21))
    assert len(decode(many, limits=Limits(max_bytes=1 << 21, max_elements=50_001)).children) == 50_000


def test_limits_are_configurable() -> None:
    with pytest.raises(ManscdpError, match="over the 10-byte limit"):
        decode(b"<Notify></Notify>", limits=Limits(max_bytes=10))
    assert decode(b"<a>" * 20 + b"</a>" * 20, limits=Limits(max_depth=20)).tag == "a"


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(ManscdpError, match="must be bytes"):
        decode("<Notify/>")  # type: ignore[arg-type]
