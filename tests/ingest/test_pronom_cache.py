"""The on-disk cache of the compiled PRONOM signatures (ingest/pronom_cache.py): the same
answers warm or cold, and a damaged or unwritable cache changes nothing but the time."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ingest import formats

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "format-samples"
SAMPLE = [CORPUS / row["path"] for row in csv.DictReader(
    (CORPUS / "expected.tsv").open(encoding="utf-8"), delimiter="\t")][::3]


def _answers(engine: formats._Engine) -> list[tuple]:
    return [(f.puid, f.mime, f.basis, f.candidates) for f in map(engine.identify, SAMPLE)]


def _cache_files(folder: Path) -> list[Path]:
    return sorted((folder / "khoso").glob("pronom-*"))


def test_a_warm_cache_gives_what_working_everything_out_gives(tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              monkeypatch) -> None:
    monkeypatch.setenv("KHOSO_PRONOM_CACHE", "off")
    uncached = _answers(formats._Engine())
    monkeypatch.delenv("KHOSO_PRONOM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cold = formats._Engine()  # works it out and writes the cache
    assert [p.suffix for p in _cache_files(tmp_path)] == [".hsdb", ".json"]
    warm = formats._Engine()  # reads it
    assert _answers(cold) == _answers(warm) == uncached
    assert len(SAMPLE) > 20 and any(answer[0] for answer in uncached)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "database"])
def test_a_damaged_cache_is_ignored_and_written_again(tmp_path: Path, monkeypatch,  # type: ignore[no-untyped-def]
                                                       damage: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    expected = _answers(formats._Engine())
    db, doc = _cache_files(tmp_path)
    if damage == "truncated":
        doc.write_bytes(doc.read_bytes()[:1000])
    elif damage == "garbage":
        doc.write_bytes(b"\x00not json")
    else:
        data = bytearray(db.read_bytes())
        data[len(data) // 2] ^= 0xFF  # the JSON's SHA-256 of it no longer matches
        db.write_bytes(bytes(data))
    assert _answers(formats._Engine()) == expected
    assert doc.read_bytes().startswith(b"{")  # written anew


def test_an_unwritable_cache_folder_changes_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert _answers(formats._Engine())  # identifies, nothing written, no error


def test_without_a_home_nothing_is_cached_and_identification_works(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ingest import pronom_cache

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert pronom_cache.cache_dir() is None
    assert _answers(formats._Engine())
