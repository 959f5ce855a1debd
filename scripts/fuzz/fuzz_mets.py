"""atheris fuzzing of the METS reader (E-ARK packages): any bytes give problems, not a crash.

    .venv/bin/python scripts/fuzz/fuzz_mets.py -runs=5000 -seed=1 [CORPUS_DIR]
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ingest.mets import PACKAGE, REPRESENTATION, Findings, read_mets


def one_input(data: bytes) -> None:
    if not data:
        return
    role = PACKAGE if data[0] & 1 else REPRESENTATION
    found = Findings()
    read_mets(data[1:], "METS.xml", role=role, folder_name="uuid-fuzz", found=found)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
