"""The compiled PRONOM matcher gives exactly FIDO's own answers, on every corpus file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.formats import _get_engine

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpora"
FILES = sorted(p for sub in ("format-samples", "verapdf-corpus") for p in (SHARED / sub).rglob("*")
               if p.is_file() and p.stat().st_size > 0 and p.name != "expected.tsv")


def test_corpus_is_there() -> None:
    assert len(FILES) > 300


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SHARED)))
def test_same_matches_as_fido(path: Path) -> None:
    engine = _get_engine()
    fido = engine.fido
    with path.open("rb") as fh:
        bof, eof, _ = fido.get_buffers(fh, path.stat().st_size, seekable=True)
    ours = [(fido.get_puid(f), name) for f, name in engine.matcher.match(bof, eof)]
    theirs = [(fido.get_puid(f), name) for f, name in fido.match_formats(bof, eof)]
    assert ours == theirs


@pytest.mark.parametrize("name", sorted({p.name for p in FILES} | {
    ".bashrc", "a.tar.gz", "Quyết định.PDF", "noext", "x..docx", "..y.odt"}))
def test_same_extension_matches_as_fido(name: str) -> None:
    engine = _get_engine()
    fido = engine.fido
    ours = [fido.get_puid(f) for f, _ in engine.matcher.match_extension(name)]
    assert ours == [fido.get_puid(f) for f, _ in fido.match_extensions(name)]


@pytest.mark.parametrize("seed", range(12))
def test_same_matches_as_fido_on_generated_bytes(seed: int) -> None:
    """Random and half-structured buffers (what the benchmarks feed it) agree too."""
    import random

    rng = random.Random(seed)
    engine = _get_engine()
    fido = engine.fido
    heads = [b"", b"%PDF-1.7\n", b"PK\x03\x04", b"{\"asset\": {\"version\": \"2.0\"",
             b"<?xml version=\"1.0\"?>\n<html>", b"\xff\xd8\xff\xe0"]
    body = rng.randbytes(rng.choice([100, 5000, 140_000]))
    tails = [b"", b"%%EOF\n", b"}", b"\xff\xd9", b"</html>\n"]
    data = rng.choice(heads) + body + rng.choice(tails)
    import io

    bof, eof, _ = fido.get_buffers(io.BytesIO(data), len(data), seekable=True)
    ours = [(fido.get_puid(f), name) for f, name in engine.matcher.match(bof, eof)]
    theirs = [(fido.get_puid(f), name) for f, name in fido.match_formats(bof, eof)]
    assert ours == theirs


@pytest.mark.parametrize("offset", [0, 32768, 32769, 70468, 70469, 90000])
def test_same_matches_as_fido_for_signatures_behind_a_long_gap(offset: int) -> None:
    """ISO 9660 signatures sit 32,768+ bytes in ("\\A.{32768,70468}CD001…"): the gap is
    searched, not backtracked, and must still give FIDO's answer on both sides of it."""
    import io

    engine = _get_engine()
    fido = engine.fido
    data = bytes(offset) + b"\x01CD001\x01" + bytes(4000) + b"\xffCD001" + bytes(200)
    bof, eof, _ = fido.get_buffers(io.BytesIO(data), len(data), seekable=True)
    ours = [(fido.get_puid(f), name) for f, name in engine.matcher.match(bof, eof)]
    theirs = [(fido.get_puid(f), name) for f, name in fido.match_formats(bof, eof)]
    assert ours == theirs
