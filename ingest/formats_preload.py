"""Imported by the identification pool's fork server (ingest/formats.py): builds the PRONOM
engine once there, so every worker forked from it starts with the engine built.

Building it (FIDO's signature files, the pattern analysis, the Hyperscan databases) takes
~0.9 s of CPU; each worker used to pay it itself, on the cores the copy and the virus scan
need at the start of an ingest.
"""

from __future__ import annotations

from ingest.formats import _get_engine

_get_engine()
