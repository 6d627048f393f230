"""Safe decoding and building of MANSCDP XML: charset detection, hostile-input limits, a small tolerant tree.

Devices declare GB2312 and send UTF-8, or the reverse, so the declaration is only a tie-breaker: the body is
decoded both ways and the reading whose non-ASCII text looks like Chinese wins (see `_pick_reading`).
Everything refused — too large, DTDs and entities, too deep, too many elements, not XML, truncated — raises
ManscdpError and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Final, Literal
from xml.parsers import expat

Charset = Literal["GB2312", "UTF-8"]

MAX_BODY_BYTES: Final = 1 << 20
MAX_DEPTH: Final = 16
MAX_ELEMENTS: Final = 50_000

# Every label a device might put in the declaration for the GB family; all are read as GB18030, the superset.
_GB_LABELS: Final = frozenset(
    {"gb2312", "gbk", "gb18030", "cp936", "ms936", "windows-936", "euc-cn", "euccn", "x-gbk", "csgb2312", "gb_2312-80"}
)
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]{1,40})\s*["']""")
_DECLARATION = re.compile(r"^<\?xml\b[^>]*\?>")
# A bare "&" (as in a channel named "A&B") is the most common way devices break well-formedness.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)")
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SCORE_SAMPLE = 4096


class ManscdpError(ValueError):
    """A MANSCDP body that cannot be accepted: hostile, malformed, or missing or breaking a required field."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what the decoder accepts; anything beyond them is refused before it costs more."""

    max_bytes: int = MAX_BODY_BYTES
    max_depth: int = MAX_DEPTH
    max_elements: int = MAX_ELEMENTS


DEFAULT_LIMITS: Final = Limits()


def _fold(name: str) -> str:
    # Field devices write <DeviceId>, <Sn>, <CmdType> and <cmdtype>; names are matched without case.
    return name.lower()


@dataclass(frozen=True)
class Node:
    """One element: local tag, stripped text (None when empty), attributes, children in document order."""

    tag: str
    text: str | None = None
    attrs: Mapping[str, str] = field(default_factory=dict)
    children: tuple[Node, ...] = ()

    @cached_property
    def _first_child(self) -> dict[str, Node]:
        # Items are read field by field, a few dozen lookups each; an index keeps that linear in the body size.
        index: dict[str, Node] = {}
        for c in self.children:
            index.setdefault(_fold(c.tag), c)
        return index

    @cached_property
    def _folded_attrs(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for k, v in self.attrs.items():
            index.setdefault(_fold(k), v)
        return index

    def child(self, name: str) -> Node | None:
        """The first child element with this tag, compared without case."""
        return self._first_child.get(_fold(name))

    def children_named(self, name: str) -> tuple[Node, ...]:
        wanted = _fold(name)
        return tuple(c for c in self.children if _fold(c.tag) == wanted)

    def attr(self, name: str) -> str | None:
        return self._folded_attrs.get(_fold(name)) or None

    def find(self, path: str) -> Node | None:
        """The element at a '/'-separated path of tags below this one, e.g. "Info/PTZType"."""
        node: Node | None = self
        for part in path.split("/"):
            node = node.child(part) if node is not None else None
        return node

    def get(self, path: str) -> str | None:
        """A value in either form devices use: the text of the element at `path`, else the attribute of that name.

        `<Item><Name>x</Name></Item>` and `<Item Name="x"/>` both give "x"; empty values give None.
        """
        parent_path, _, name = path.rpartition("/")
        parent = self.find(parent_path) if parent_path else self
        if parent is None:
            return None
        element = parent.child(name)
        if element is not None and (element.text is not None or not element.children):
            return element.text
        return parent.attr(name)

    @classmethod
    def of(cls, tag: str, *children: Node | None, attrs: Mapping[str, str] | None = None) -> Node:
        """An element with the given children; None children (absent optional fields) are left out."""
        return cls(tag, None, dict(attrs or {}), tuple(c for c in children if c is not None))


@dataclass(frozen=True)
class Document:
    """A decoded body: its root and the charset it really was in, which may differ from the declared one."""

    root: Node
    charset: Charset
    declared_charset: str | None


def declared_charset(body: bytes) -> str | None:
    """The encoding named in the XML declaration, lower-cased, or None."""
    match = _DECLARED.match(body[:512])
    return match.group(1).decode("ascii").lower() if match else None


@lru_cache(maxsize=16384)
def _plausibility(char: str) -> float:
    # How likely a non-ASCII character is in a device or place name: common hanzi (GB2312 level 1) most,
    # rarer hanzi less, GB2312 symbols less still, anything outside GB2312 not at all.
    try:
        code = char.encode("gb2312")
    except UnicodeEncodeError:
        return 0.0
    if 0xB0 <= code[0] <= 0xD7:
        return 1.0
    if 0xD8 <= code[0] <= 0xF7:
        return 0.6
    return 0.3


def _score(text: str) -> float:
    sample = [c for c in text if c > "\x7f"][:_SCORE_SAMPLE]
    return sum(map(_plausibility, sample)) / len(sample) if sample else 1.0


def _pick_reading(body: bytes, declared: str | None) -> tuple[str, Charset]:
    # GB18030 accepts about half of all UTF-8 Chinese byte runs without error (as mojibake), and a few GB
    # runs are valid UTF-8, so "does it decode" cannot decide; the reading that looks more like Chinese does,
    # and the declaration only breaks ties.
    if body.isascii():
        # Keepalives and most queries: one reading, nothing to weigh; the declaration names the family.
        return body.decode("ascii"), "GB2312" if declared in _GB_LABELS else "UTF-8"
    readings: dict[Charset, str] = {}
    for charset, codec in (("UTF-8", "utf-8"), ("GB2312", "gb18030")):
        try:
            readings[charset] = body.decode(codec)
        except UnicodeDecodeError:
            continue
    if not readings:
        raise ManscdpError("body is neither UTF-8 nor GB18030 text")
    if len(readings) == 1:
        charset = next(iter(readings))
        return readings[charset], charset
    # Identical readings (ASCII only) still report the declared family, so an answer can be sent in kind.
    tie: Charset = "GB2312" if declared in _GB_LABELS else "UTF-8"
    utf8, gb = _score(readings["UTF-8"]), _score(readings["GB2312"])
    chosen: Charset = tie if utf8 == gb else "UTF-8" if utf8 > gb else "GB2312"
    return readings[chosen], chosen


def _local(name: str) -> str:
    # A namespaced tag arrives as "{uri}Local"; MANSCDP has no namespaces, so only the local part matters.
    return name.rpartition("}")[2]


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


class _TreeTarget:
    """Builds Nodes while expat parses, refusing too-deep or too-large trees before they are built."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._stack: list[_Open] = []
        self._count = 0
        self._root: Node | None = None

    def start(self, tag: str, attrs: Mapping[str, str]) -> None:
        self._count += 1
        if self._count > self._limits.max_elements:
            raise ManscdpError(f"more than {self._limits.max_elements} elements")
        if len(self._stack) >= self._limits.max_depth:
            raise ManscdpError(f"elements nested deeper than {self._limits.max_depth} levels")
        self._stack.append(_Open(_local(tag), {_local(k): v.strip() for k, v in attrs.items()}))

    def data(self, text: str) -> None:
        if self._stack:
            self._stack[-1].text.append(text)

    def end(self, tag: str) -> None:
        done = self._stack.pop()
        node = Node(done.tag, "".join(done.text).strip() or None, done.attrs, tuple(done.children))
        if self._stack:
            self._stack[-1].children.append(node)
        else:
            self._root = node

    def close(self) -> Node | None:
        return self._root


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_: object) -> None:
        raise ManscdpError(what)

    return handler


def _parse(text: str, limits: Limits) -> Node:
    """expat with the guard rails defusedxml would add (no DTD, no entity declarations, no external entities),
    driven directly: ElementTree's parser on top costs more than the rest of a keepalive together."""
    target = _TreeTarget(limits)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse("DTDs are refused (entity-expansion protection)")
    parser.EntityDeclHandler = _refuse("entity declarations are refused")
    parser.UnparsedEntityDeclHandler = _refuse("entity declarations are refused")
    parser.ExternalEntityRefHandler = _refuse("external entity references are refused")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = target.start
    parser.EndElementHandler = target.end
    parser.CharacterDataHandler = target.data
    try:
        parser.Parse(text, True)
        root = target.close()
    except ManscdpError:
        raise
    except expat.ExpatError as exc:
        raise ManscdpError(
            f"not well-formed or truncated XML: {expat.ErrorString(exc.code)} at line {exc.lineno}"
        ) from exc
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise ManscdpError(f"unreadable XML: {exc}") from exc
    if root is None:
        raise ManscdpError("no root element")
    return root


def decode_document(body: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Decode a MANSCDP body into a Document, refusing hostile or broken input with ManscdpError."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ManscdpError(f"body must be bytes, not {type(body).__name__}")
    data = bytes(body)
    if len(data) > limits.max_bytes:
        raise ManscdpError(f"body is {len(data)} bytes, over the {limits.max_bytes}-byte limit")
    declared = declared_charset(data)
    text, charset = _pick_reading(data, declared)
    # Devices pad with NULs from fixed C buffers and put blank lines before the declaration; the declaration
    # itself goes, because the text is already decoded and expat must not re-decode by its label.
    text = _DECLARATION.sub("", text.lstrip("\ufeff \t\r\n").rstrip("\x00 \t\r\n"), count=1).lstrip()
    if not text:
        raise ManscdpError("empty body")
    return Document(_parse(_BARE_AMPERSAND.sub("&amp;", text), limits), charset, declared)


def decode(body: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Node:
    """Decode a MANSCDP body into its root Node (see decode_document for the charset it was in)."""
    return decode_document(body, limits=limits).root


def _codec(charset: str) -> tuple[str, str]:
    label = charset.upper()
    if label in ("UTF-8", "UTF8"):
        return "utf-8", "UTF-8"
    if label.lower() in _GB_LABELS:
        # GB18030 writes every GB2312 character exactly as GB2312 does and still covers the rest of Unicode.
        return "gb18030", label
    raise ManscdpError(f"cannot build a body in {charset!r}; use GB2312, GBK, GB18030 or UTF-8")


def _escape(text: str, *, attribute: bool = False) -> str:
    text = _XML_ILLEGAL.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A raw CR would come back as LF after parsing; the character reference survives.
    text = text.replace("\r", "&#13;")
    return text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;") if attribute else text


def _write(node: Node, out: list[str]) -> None:
    attrs = "".join(f' {k}="{_escape(v, attribute=True)}"' for k, v in node.attrs.items())
    if node.children:
        out.append(f"<{node.tag}{attrs}>\r\n")
        for child in node.children:
            _write(child, out)
        out.append(f"</{node.tag}>\r\n")
    else:
        out.append(f"<{node.tag}{attrs}>{_escape(node.text or '')}</{node.tag}>\r\n")


def encode_fragment(node: Node, *, charset: str = "GB2312") -> bytes:
    """One element as it appears inside a body; the body's size is the sum of its parts."""
    codec, _ = _codec(charset)
    out: list[str] = []
    _write(node, out)
    return "".join(out).encode(codec)


def encode(root: Node, *, charset: str = "GB2312") -> bytes:
    """A whole body: the declaration, then the elements one per line, as devices write them."""
    codec, label = _codec(charset)
    out = [f'<?xml version="1.0" encoding="{label}"?>\r\n']
    _write(root, out)
    return "".join(out).encode(codec)
