"""atheris fuzzing of the BagIt tag-file readers: any bytes must give problems, never a crash.

    .venv/bin/python scripts/fuzz/fuzz_bagit.py -runs=20000 -seed=1 [CORPUS_DIR]

tests/fuzz/test_fuzzers.py runs it with a fixed budget in CI; a crash found here becomes a
regression test in tests/ingest/test_bag_hostile.py.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ingest.bagit_parsers import read_bag_info, read_bagit_txt, read_fetch, read_manifest

READERS = (read_manifest, read_fetch, read_bag_info)


def one_input(data: bytes) -> None:
    if not data:
        return
    choice, body = data[0] % 4, data[1:]
    parsed = read_bagit_txt(body) if choice == 3 else READERS[choice](body)
    assert isinstance(parsed.errors, list) and isinstance(parsed.warnings, list)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
