"""Virus scanning against a real, private clamd (see conftest.py)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ingest.virus import ScannerUnavailable, VirusScanner

if TYPE_CHECKING:
    from ingest.clamd_local import PrivateClamd

pytestmark = pytest.mark.clamav

# Built from two halves so this source file is not itself an EICAR test file.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def stream_max(daemon: PrivateClamd) -> int:
    """The StreamMaxLength the daemon was really started with, read from its config."""
    conf = (daemon.folder / "clamd.conf").read_text(encoding="ascii")
    found = re.search(r"^StreamMaxLength (\d+)$", conf, re.M)
    assert found is not None, "the private clamd config sets no StreamMaxLength"
    return int(found[1])


def test_eicar_bytes_are_the_standard_test_file() -> None:
    assert (len(EICAR), hashlib.md5(EICAR).hexdigest()) == (
        68, "44d88612fea8a8f36de82e1278abb02f")


def test_eicar_is_detected_with_its_signature_name(small_clamd: PrivateClamd,
                                                   tmp_path: Path) -> None:
    infected = tmp_path / "eicar.com"
    infected.write_bytes(EICAR)
    result = VirusScanner(small_clamd.socket_path).scan_file(infected, "objects/eicar.com")
    assert (result.path, result.clean, result.error) == ("objects/eicar.com", False, None)
    # clamd appends .UNOFFICIAL to names from databases it did not sign itself
    assert result.signature is not None and result.signature.startswith("Test.EICAR.")
    problem = result.problem()
    assert problem is not None and problem.code == "virus-found"
    assert result.signature in problem.message and problem.path == "objects/eicar.com"


def test_clean_file_is_clean(small_clamd: PrivateClamd, tmp_path: Path) -> None:
    doc = tmp_path / "letter.txt"
    doc.write_bytes("Công văn số 12/UBND: nothing to see here.\n".encode() * 1000)
    result = VirusScanner(small_clamd.socket_path).scan_file(doc, "objects/letter.txt")
    assert (result.clean, result.signature, result.error) == (True, None, None)
    assert result.problem() is None


def test_eicar_split_across_chunks_is_still_found(small_clamd: PrivateClamd) -> None:
    # The one-pass copy loop feeds whatever chunk sizes it reads; clamd sees one stream.
    session = VirusScanner(small_clamd.socket_path).open_stream("objects/split.bin")
    for i in range(0, len(EICAR), 7):
        session.feed(EICAR[i:i + 7])
    assert session.finish().signature is not None


def test_file_over_stream_max_length_is_an_error_not_clean(small_clamd: PrivateClamd,
                                                          tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(stream_max(small_clamd) * 3))
    result = VirusScanner(small_clamd.socket_path).scan_file(big, "objects/big.bin")
    assert result.clean is False and result.signature is None
    assert result.error is not None and result.error.startswith("too large to scan")
    problem = result.problem()
    assert problem is not None and problem.code == "virus-scan-failed"


def test_file_of_exactly_stream_max_length_is_scanned(small_clamd: PrivateClamd,
                                                      tmp_path: Path) -> None:
    edge = tmp_path / "edge.bin"
    edge.write_bytes(b"\0" * stream_max(small_clamd))
    assert VirusScanner(small_clamd.socket_path).scan_file(edge, "edge.bin").clean is True


def test_absent_socket_raises_scanner_unavailable(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-clamd.sock")
    scanner = VirusScanner(missing, timeout=2)
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable) as caught:
        scanner.scan_stream([b"data"], "objects/a.txt")
    assert caught.value.exit_code == 2 and missing in str(caught.value)


def test_stale_socket_of_a_crashed_clamd_raises_scanner_unavailable(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(stale))  # bound, never listening: connect is refused
    with pytest.raises(ScannerUnavailable, match=r"stale\.sock"):
        VirusScanner(str(stale), timeout=2).scan_stream([b"x"], "x")


def test_stopped_clamd_raises_scanner_unavailable(
        tmp_path: Path, start_private_clamd: Callable[[Path], PrivateClamd]) -> None:
    own = start_private_clamd(tmp_path / "own")
    scanner = VirusScanner(own.socket_path, timeout=5)
    assert scanner.scan_stream([b"before"], "a").clean is True
    own.stop()
    assert scanner.ping() is False
    with pytest.raises(ScannerUnavailable, match=re.escape(own.socket_path)):
        scanner.scan_stream([b"after"], "a")


# FILDES: clamd reads the staged file through a descriptor we pass it (what ingest uses).

def test_eicar_is_detected_through_a_descriptor(small_clamd: PrivateClamd,
                                                tmp_path: Path) -> None:
    infected = tmp_path / "eicar.com"
    infected.write_bytes(b"header " + EICAR)
    result = VirusScanner(small_clamd.socket_path).scan_descriptor(infected, "objects/e.com")
    assert (result.path, result.clean, result.error) == ("objects/e.com", False, None)
    assert result.signature is not None and result.signature.startswith("Test.EICAR.")


def test_clean_file_is_clean_through_a_descriptor(small_clamd: PrivateClamd,
                                                  tmp_path: Path) -> None:
    doc = tmp_path / "Công văn.txt"
    doc.write_bytes("Công văn số 12/UBND.\n".encode() * 1000)
    result = VirusScanner(small_clamd.socket_path).scan_descriptor(doc, "objects/cv.txt")
    assert (result.clean, result.signature, result.error) == (True, None, None)


def test_file_over_the_scan_limit_is_an_error_through_a_descriptor(
        small_clamd: PrivateClamd, tmp_path: Path) -> None:
    # Past MaxFileSize clamd would answer OK without scanning; khoso's clamd alerts instead
    # (AlertExceedsMax), and that alert is "too large to scan", not a virus, not clean.
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(stream_max(small_clamd) * 3) + EICAR)
    result = VirusScanner(small_clamd.socket_path).scan_descriptor(big, "objects/big.bin")
    assert result.clean is False and result.signature is None
    assert result.error is not None and result.error.startswith("too large to scan")
    assert "Limits.Exceeded" in result.error


def test_descriptor_scan_of_a_stopped_clamd_raises_scanner_unavailable(
        tmp_path: Path, start_private_clamd: Callable[[Path], PrivateClamd]) -> None:
    own = start_private_clamd(tmp_path / "own")
    doc = tmp_path / "a.txt"
    doc.write_bytes(b"plain text\n")
    scanner = VirusScanner(own.socket_path, timeout=5)
    assert scanner.scan_descriptor(doc, "a.txt").clean is True
    own.stop()
    with pytest.raises(ScannerUnavailable, match=re.escape(own.socket_path)):
        scanner.scan_descriptor(doc, "a.txt")
