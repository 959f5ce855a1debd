"""The file around the objects, which qpdf repairs silently: the header (ISO 32000-1 7.5.2),
the %%EOF marker and startxref (7.5.5), and a classic xref table with its trailer /Size
(7.5.4, 7.3.6). Cross-reference streams (PDF 1.5+) are left to qpdf.
"""

from __future__ import annotations

import mmap
import re

Data = bytes | mmap.mmap
PDF_VERSIONS = {f"%PDF-1.{minor}".encode() for minor in range(8)} | {b"%PDF-2.0"}


def file_structure(data: Data) -> list[str]:
    found: list[str] = []
    header = re.match(rb"%PDF-(\d)\.(\d)", data[:16])
    if header is None:
        where = data[:1024].find(b"%PDF-")
        found.append("header: file does not start with %PDF-" + (
            f" (found at byte {where})" if where > 0 else "") + " (ISO 32000-1 7.5.2)")
    elif header[0] not in PDF_VERSIONS:
        found.append(f"header: unknown PDF version {header[0].decode()} (ISO 32000-1 7.5.2)")
    if b"%%EOF" not in data[-1024:]:
        found.append("trailer: no %%EOF marker in the last 1024 bytes (ISO 32000-1 7.5.5)")
    return found + _xref_table(data)


def _startxref(data: Data) -> int | None:
    starts = list(re.finditer(rb"startxref\s+(\d+)", bytes(data[-1024:])))
    return int(starts[-1][1]) if starts else None


def _xref_table(data: Data) -> list[str]:
    offset = _startxref(data)
    if offset is None:
        return ["trailer: no startxref (ISO 32000-1 7.5.5)"]
    if re.match(rb"\s*\d+\s+\d+\s+obj", data[offset:offset + 32]):
        return []  # a cross-reference stream (PDF 1.5+): qpdf checks those
    found = []
    if data[offset:offset + 4] != b"xref":
        # Keep looking near the offset, so the table's own defects are still reported.
        low = max(0, offset - 1024)
        near = [low + m.start() for m in re.finditer(rb"(?<!start)xref\s",
                                                     bytes(data[low:offset + 1024]))]
        if not near:
            return [f"xref: no xref table at or near startxref {offset} (ISO 32000-1 7.5.4)"]
        table = min(near, key=lambda at: abs(at - offset))
        found.append(f"xref: startxref {offset} does not point at the xref table, which is "
                     f"at byte {table} (ISO 32000-1 7.5.5)")
        offset = table
    return found + _xref_entries(data, offset + 4)


def _xref_entries(data: Data, pos: int) -> list[str]:
    found: list[str] = []
    head = re.compile(rb"\s*(\d+) (\d+)[ \t]*(?:\r\n|\r|\n)")
    entry = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
    header = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj")
    listed, misplaced = 0, 0
    while (sub := head.match(data, pos)) is not None:
        first, count = int(sub[1]), int(sub[2])
        pos = sub.end()
        for number in range(first, first + count):
            row = entry.match(data, pos)
            if row is None:
                return [*found, f"xref: entry for object {number} is not a 20-byte entry "
                        "(ISO 32000-1 7.5.4)"]
            pos, listed = row.end(), max(listed, number + 1)
            at = int(row[1])
            obj = header.match(data, at, at + 40)
            if row[3] == b"n" and (obj is None or (int(obj[1]), int(obj[2])) != (
                    number, int(row[2]))):
                misplaced += 1
                if misplaced <= 5:  # a shifted file misplaces every entry: name a few
                    found.append(f"xref: entry {number} {int(row[2])} points at byte {at}, "
                                 "where that object does not start (ISO 32000-1 7.5.4)")
    if misplaced > 5:
        found.append(f"xref: {misplaced - 5} more entries point where their object does not "
                     "start (ISO 32000-1 7.5.4)")
    trailer = re.match(rb"\s*trailer\s*<<(.{0,1024}?)>>", data[pos:pos + 1100], re.S)
    if trailer is None:
        return [*found, "xref: table is not followed by a trailer dictionary "
                "(ISO 32000-1 7.5.5)"]
    size = re.search(rb"/Size\s+(\d+)", trailer[1])
    if size is None or int(size[1]) < listed:
        found.append(f"trailer: /Size {int(size[1]) if size else 'missing'} but the xref "
                     f"table lists objects up to {listed - 1} (ISO 32000-1 7.3.6, 7.5.5)")
    return found
