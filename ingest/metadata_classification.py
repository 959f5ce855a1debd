"""Classification (độ mật) given in descriptive metadata, per dossier or per item.

Law 29/2018/QH14 Điều 10 k2: when parts of a document carry different levels, the highest
applies to the whole, so the dossier (and its AIP) takes the highest level found in the
transfer (``--classification``), the dossier's ``classification`` field or any item's. A
classified record must have the access mode ``03`` (mật; TT 05/2025 'mode',
``classified_mode`` in policies/metadata.yaml).

Keys: ``classification`` (level key or Vietnamese alias: ``mat``, ``toi-mat``, ``tuyet-mat``)
and ``classifiedOn`` (DD/MM/YYYY), both khoso extensions of the TT 05/2025 profiles.
"""

from __future__ import annotations

from datetime import date

from ingest.metadata import Description, parse_date
from policies.loader import Policies
from policies.metadata_profile import MetadataPolicy
from policies.model import Level
from repository.errors import KhosoError, Problem

CLASSIFICATION = "classification"
CLASSIFIED_ON = "classifiedOn"
MODE = "mode"
RULE = "Law 29/2018 Điều 10 k2"


def record_levels(desc: Description, policies: Policies) -> list[tuple[int, Level, date | None]]:
    """(record index, level, classification date) of every record naming a known level;
    index 0 is the dossier, n the n-th item."""
    found = []
    for index, record in enumerate([desc.fields, *desc.items]):
        name = record.get(CLASSIFICATION)
        if not name:
            continue
        try:
            level = policies.level(name)
        except KhosoError:
            continue  # reported by the field check
        found.append((index, level, parse_date(record.get(CLASSIFIED_ON, ""))))
    return found


def highest_classification(description: Description,
                           policies: Policies) -> tuple[str, date | None]:
    """The highest level named in the metadata and its classification date.

    When several records carry that level with different dates, the latest date is taken:
    the protection period (Law 29/2018 Điều 19) then ends no earlier than any part's.
    """
    levels = record_levels(description, policies)
    if not levels:
        return policies.level(None).key, None
    top = max(level.rank for _, level, _ in levels)
    key = next(level.key for _, level, _ in levels if level.rank == top)
    dates = [on for _, level, on in levels if level.rank == top and on]
    return key, (max(dates) if dates and top else None)


def dossier_classification(description: Description, policies: Policies,
                           given_level: str | None, given_on: date | None,
                           today: date) -> tuple[Level, date | None]:
    """The level and classification date of the whole transfer: ``--classification`` /
    ``--classified-on`` and the metadata together, the highest level winning. A classified
    transfer with no date anywhere is dated ``today`` (the date it was classified here)."""
    cli = policies.level(given_level)
    key, md_on = highest_classification(description, policies)
    md = policies.level(key)
    level = cli if cli.rank >= md.rank else md
    if level.rank == 0:
        return level, None
    dates = [on for lvl, on in ((cli, given_on), (md, md_on)) if lvl.rank == level.rank and on]
    return level, (max(dates) if dates else today)


def check_classification(desc: Description, policy: MetadataPolicy, policies: Policies,
                         transfer_classification: str | None
                         ) -> list[tuple[str, Problem]]:
    """(severity, problem) pairs: dates without a level, classified records not in mode 03."""
    found: list[tuple[str, Problem]] = []
    levels = {index: level for index, level, _ in record_levels(desc, policies)}
    for index, record in enumerate([desc.fields, *desc.items]):
        if not record.get(CLASSIFIED_ON):
            continue
        if CLASSIFICATION not in record or (index in levels and levels[index].rank == 0):
            found.append(("error", desc.origin(index).problem(
                "metadata-classification", CLASSIFIED_ON, "a classification date needs a "
                "classification above unclassified in the same record", "Law 29/2018 Điều 19")))
    try:
        transfer = policies.level(transfer_classification) if transfer_classification else None
    except KhosoError:
        transfer = None
    want = policy.classified_mode
    for index, level in levels.items():
        mode = (desc.fields if index == 0 else desc.items[index - 1]).get(MODE)
        if index and level.rank and mode and mode != want:
            found.append(("error", desc.origin(index).problem(
                "metadata-classification-mode", MODE, f"{mode!r} but this item is "
                f"{level.vi} ({level.key}); a classified record has mode {want}",
                f"{RULE}; TT 05/2025 mode {want}")))
    top, source = _top(levels, transfer, desc)
    mode = desc.fields.get(MODE)
    if top and top.rank and mode and mode != want:
        found.append(("error", desc.origin(0).problem(
            "metadata-classification-mode", MODE, f"{mode!r} but the dossier holds {top.vi} "
            f"({top.key}) material ({source}); the highest level applies to the whole "
            f"dossier, so its mode must be {want}", f"{RULE}; TT 05/2025 mode {want}")))
    return found


def _top(levels: dict[int, Level], transfer: Level | None,
         desc: Description) -> tuple[Level | None, str]:
    best: Level | None = transfer
    source = "--classification"
    for index, level in sorted(levels.items()):
        if best is None or level.rank > best.rank:
            best, source = level, desc.origin(index).record
    return best, source
