"""Short, seeded atheris runs of the parsers that read hostile input (fixed budget in CI).

A crash makes the harness exit non-zero and print the input; turn it into a regression
test next to the parser's other hostile-input tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.require import missing

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"
MAX_SECONDS = 60  # libFuzzer's time cap for one harness


def _seed_bagit(folder: Path) -> None:
    prefixes = {"manifest": 0, "tagmanifest": 0, "fetch": 1, "bag-info": 2, "package-info": 2,
                "bagit": 3}
    n = 0
    for path in sorted((CORPORA / "bagit-conformance").rglob("*.txt"))[:400]:
        key = next((k for k in prefixes if path.name.startswith(k)), None)
        if key is None or path.stat().st_size > 4096:
            continue
        (folder / f"seed{n}").write_bytes(bytes([prefixes[key]]) + path.read_bytes())
        n += 1


def _run(harness: str, corpus: Path, runs: int) -> subprocess.CompletedProcess[str]:
    crashes = corpus.parent / "crashes"
    crashes.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz" / harness),
                           f"-runs={runs}", "-seed=1", f"-max_total_time={MAX_SECONDS}",
                           "-rss_limit_mb=2048", f"-artifact_prefix={crashes}/", str(corpus)],
                          capture_output=True, text=True, cwd=ROOT, timeout=240)


@pytest.fixture(scope="module")
def atheris_available() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        missing("atheris is not installed (pip install atheris)")


def test_bagit_tag_file_readers_survive_fuzzing(tmp_path: Path, atheris_available) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _seed_bagit(corpus)
    done = _run("fuzz_bagit.py", corpus, 30000)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _runs_done(done.stderr) >= 30000


def _seed_mets(folder: Path) -> None:
    seeds = sorted((CORPORA / "eark-ip").rglob("METS.xml"))[:60]
    seeds += sorted((ROOT / "tests").rglob("METS.xml"))[:10]
    for n, path in enumerate(p for p in seeds if 0 < p.stat().st_size <= 200_000):
        (folder / f"seed{n}").write_bytes(b"\x01" + path.read_bytes())


def test_mets_reader_survives_fuzzing(tmp_path: Path, atheris_available) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _seed_mets(corpus)
    done = _run("fuzz_mets.py", corpus, 4000)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _runs_done(done.stderr) >= 4000


def _runs_done(stderr: str) -> int:
    """How many inputs libFuzzer ran ("Done N runs in S second(s)"). It checks ``-runs``
    between batches, so N may pass the budget a little (30087 for 30000 was seen). A machine
    too slow to finish the budget within ``-max_total_time`` stops early without a crash:
    that run counts as the whole budget, as the time cap is the budget there."""
    found = re.search(r"^Done (\d+) runs in (\d+) second", stderr, re.MULTILINE)
    assert found, stderr[-3000:]
    runs, seconds = int(found.group(1)), int(found.group(2))
    assert runs > 0, stderr[-3000:]
    return runs if seconds < MAX_SECONDS else 10**9
