"""Streaming rows in and out of CSV (UTF-8 with or without BOM, GB18030 fallback) and Excel .xlsx files."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Generator, Sequence
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any, BinaryIO, Literal

from tianyan.core.errors import InvalidInput
from tianyan.core.sheet_text import csv_cell, from_csv_cell, keep_as_text

FileFormat = Literal["csv", "xlsx"]
FORMATS: tuple[FileFormat, ...] = ("csv", "xlsx")
MEDIA_TYPES: dict[FileFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_CHUNK_BYTES = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"


def format_for(name: str | None, head: bytes = b"") -> FileFormat:
    """The format a file name's suffix names; without a known suffix, sniff the first bytes."""
    suffix = PurePath(name or "").suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix  # type: ignore[return-value]
    if suffix in ("xls", "xlsm", "ods"):
        raise InvalidInput(f"cannot read .{suffix} files; save the sheet as .xlsx or .csv")
    if suffix and suffix not in ("txt", "tsv"):
        raise InvalidInput(f"unknown file type .{suffix}; expected .csv or .xlsx")
    return "xlsx" if head.startswith(_ZIP_MAGIC) else "csv"


def parse_format(text: str) -> FileFormat:
    value = text.strip().lower().lstrip(".")
    if value not in FORMATS:
        raise InvalidInput(f"unknown format {text!r}; expected csv or xlsx")
    return value  # type: ignore[return-value]


# --- reading ---------------------------------------------------------------------------------


Rows = Generator[tuple[int, list[str]], None, None]


def read_rows(stream: BinaryIO, file_format: FileFormat) -> Rows:
    """Yield (1-based line number, cells as text) for every row, header included; blank rows are skipped.

    The stream must be seekable: CSV encodings are detected in a first pass, and .xlsx is a zip.
    """
    if file_format == "csv":
        return _csv_rows(stream)
    return _xlsx_rows(stream)


def _is_utf8(stream: BinaryIO) -> bool:
    """Decode the whole stream incrementally: a GB18030 byte may first appear anywhere in the file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)
    return True


def _csv_rows(stream: BinaryIO) -> Rows:
    # utf-8-sig drops a BOM when there is one and reads plain UTF-8 when there is not.
    encoding = "utf-8-sig" if _is_utf8(stream) else "gb18030"
    text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text, strict=True)
    line = 1
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidInput(f"line {reader.line_num}: the file is not valid CSV ({exc})") from exc
            except UnicodeDecodeError as exc:
                raise InvalidInput(f"line {reader.line_num + 1}: text is neither UTF-8 nor GB18030") from exc
            # A quoted cell may span lines; the row starts where the previous one ended.
            start, line = line, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                yield start, [from_csv_cell(cell) for cell in cells]
    finally:
        # Hand the caller's stream back open.
        text.detach()


def _xlsx_text(value: Any) -> str:
    """Spreadsheet cells come typed; imports read text, as from CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _xlsx_rows(stream: BinaryIO) -> Rows:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInput(f"the file is not a readable .xlsx workbook ({exc})") from exc
    try:
        sheet = workbook.worksheets[0]
        # Writers often record wrong sheet dimensions; read what is really there.
        sheet.reset_dimensions()
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_xlsx_text(value) for value in values]
            if any(cell.strip() for cell in cells):
                yield line, cells
    finally:
        workbook.close()


# --- writing ---------------------------------------------------------------------------------


class TableWriter:
    """Rows out to a binary stream, one at a time; `close()` finishes the file but leaves the stream open."""

    def write(self, cells: Sequence[Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return csv_cell(value) if isinstance(value, str) else str(value)


class CsvWriter(TableWriter):
    def __init__(self, stream: BinaryIO) -> None:
        # The BOM makes Excel open Chinese text as UTF-8; our reader accepts it either way.
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", write_through=False)
        self._writer = csv.writer(self._text, lineterminator="\r\n")

    def write(self, cells: Sequence[Any]) -> None:
        self._writer.writerow([_csv_text(value) for value in cells])

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


class XlsxWriter(TableWriter):
    """A write-only workbook: openpyxl spools rows to a temporary file, so memory stays flat."""

    def __init__(self, stream: BinaryIO, *, sheet_title: str = "cameras") -> None:
        from openpyxl import Workbook

        self._stream = stream
        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(sheet_title)

    def write(self, cells: Sequence[Any]) -> None:
        self._sheet.append([self._cell(value) for value in cells])

    def _cell(self, value: Any) -> Any:
        if value == "":
            return None
        if isinstance(value, str) and value.startswith("="):
            from openpyxl.cell import WriteOnlyCell

            return keep_as_text(WriteOnlyCell(self._sheet, value=value))
        return value

    def close(self) -> None:
        self._workbook.save(self._stream)


def writer_for(stream: BinaryIO, file_format: FileFormat) -> TableWriter:
    return CsvWriter(stream) if file_format == "csv" else XlsxWriter(stream)
