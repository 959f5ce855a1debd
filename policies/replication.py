"""Pure placement decisions: which locations may hold an AIP and which must get a copy.

No I/O: the caller describes every location as a :class:`Place` (its attributes are data in
the catalog) and says which already hold a verified copy. Rules, in the order they apply:

* a location's ``max_classification`` bars content above it (rule ``location.max_classification``);
* a ``forbid`` rule of policies/replication.yaml bars content of its level and above from
  locations matching it (rule ``replication.forbid.<name>``), e.g. no state secret on a
  location connected to the Internet (Law 29/2018/QH14 Điều 5 k8);
* the copies required (``replication.min_copies``; TT 05/2025 Điều 27 k1: two, each on an
  independent medium) count distinct *sites*: two locations on one site are one copy;
* a level may require more copies and one of them on, say, write-once or offline media
  (``replication.levels.<level>``; QCVN 12:2026 asks so for higher levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.engine import Decision
from policies.loader import Policies
from policies.model import Level, LevelReplication, LocationMatch
from repository.errors import ConfigError, UsageError

POLICY_FILE = "policies/replication.yaml"


@dataclass(frozen=True)
class Place:
    """What placement needs to know about one location."""

    name: str
    max_classification: str
    network: str = "lan"
    media: str = "disk"
    write_once: bool = False
    offline: bool = False
    site: str = ""  # locations on one site are not independent; "" = the location alone

    @property
    def site_key(self) -> str:
        return self.site or f"location:{self.name}"


@dataclass(frozen=True)
class Plan:
    """Where to add copies: ``add`` in order, or a refusal naming its rule."""

    decision: Decision
    add: tuple[str, ...] = ()
    required: int = 0

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


def matches(match: LocationMatch, place: Place) -> bool:
    return ((match.network is None or place.network in match.network)
            and (match.media is None or place.media in match.media)
            and (match.write_once is None or place.write_once == match.write_once)
            and (match.offline is None or place.offline == match.offline))


def _level(policies: Policies, name: str, where: str) -> Level:
    try:
        return policies.level(name)
    except UsageError as exc:
        raise ConfigError(reason=f"{POLICY_FILE}: {where}: {exc}") from exc


def barred(policies: Policies, level: Level, place: Place) -> Decision | None:
    """Why ``place`` may not hold ``level`` content, or None when it may."""
    limit = _level(policies, place.max_classification, f"location {place.name}")
    if level.rank > limit.rank:
        return Decision(False, f"location {place.name} may hold content up to {limit.key} "
                        f"({limit.vi}), not {level.key} ({level.vi})",
                        "location.max_classification",
                        "khoso storage add --option max_classification=LEVEL")
    for rule in policies.replication.forbid:
        floor = _level(policies, rule.from_level, f"forbid.{rule.name}.from_level")
        if level.rank >= floor.rank and matches(rule.where, place):
            return Decision(False, f"{level.key} ({level.vi}) content may not be stored on "
                            f"location {place.name} ({_describe(place)})",
                            f"replication.forbid.{rule.name}", rule.source)
    return None


def level_rules(policies: Policies, level: Level) -> tuple[str, LevelReplication] | None:
    """The stricter rules of ``level``: its own entry or that of the nearest level below."""
    best: tuple[int, str, LevelReplication] | None = None
    for name, rules in policies.replication.levels.items():
        lvl = _level(policies, name, f"levels.{name}")
        if lvl.rank <= level.rank and (best is None or lvl.rank > best[0]):
            best = (lvl.rank, lvl.key, rules)
    return (best[1], best[2]) if best else None


def copies_required(policies: Policies, level: Level, sites: int) -> int:
    rule = policies.replication
    found = level_rules(policies, level)
    wanted = max(rule.min_copies, (found[1].min_copies or 0) if found else 0)
    if sites < wanted and rule.allow_fewer_when_locations_missing:
        return max(sites, 1)
    return wanted


def plan(policies: Policies, level: Level, places: Sequence[Place],
         have: Sequence[str] = ()) -> Plan:
    """Locations to add so that an AIP of ``level`` meets policy, given copies in ``have``."""
    held = [p for p in places if p.name in set(have)]
    free = [p for p in places if p.name not in set(have)]
    bars = {p.name: barred(policies, level, p) for p in free}
    eligible = [p for p in free if bars[p.name] is None]
    all_sites = {p.site_key for p in places}
    required = copies_required(policies, level, len(all_sites))
    sites = {p.site_key for p in held}
    add: list[Place] = []

    found = level_rules(policies, level)
    if found and found[1].at_least_one_on:
        key, rules = found
        if not any(matches(m, p) for m in rules.at_least_one_on for p in held):
            candidates = [p for p in eligible
                          if any(matches(m, p) for m in rules.at_least_one_on)]
            if not candidates:
                wanted = " or ".join(_match_text(m) for m in rules.at_least_one_on)
                return Plan(Decision(False, f"{level.key} ({level.vi}) content needs one copy "
                                     f"on a location that is {wanted}, and no location "
                                     f"cleared for it is", f"replication.levels.{key}",
                                     rules.source or policies.replication.source),
                            required=required)
            pick = next((p for p in candidates if p.site_key not in sites), candidates[0])
            add.append(pick)
            sites.add(pick.site_key)
    for p in eligible:
        if len(sites) >= required:
            break
        if p not in add and p.site_key not in sites:
            add.append(p)
            sites.add(p.site_key)
    if len(sites) < required:
        why = [f"{d.reason} (rule {d.rule})" for d in bars.values() if d is not None]
        if not why:
            why = ["not enough independent storage locations exist"]
        return Plan(Decision(False, f"{level.key} ({level.vi}) content needs {required} "
                             f"copies on independent locations cleared for it, but only "
                             f"{len(sites)} can be made: {'; '.join(why)}",
                             "replication.min_copies", policies.replication.source),
                    required=required)
    return Plan(Decision(True, f"{required} copies", "replication.min_copies",
                         policies.replication.source),
                tuple(p.name for p in add), required)


def _describe(place: Place) -> str:
    bits = [f"network {place.network}", f"media {place.media}"]
    if place.write_once:
        bits.append("write-once")
    if place.offline:
        bits.append("offline")
    return ", ".join(bits)


def _match_text(match: LocationMatch) -> str:
    bits = []
    if match.network:
        bits.append("network " + "/".join(match.network))
    if match.media:
        bits.append("media " + "/".join(match.media))
    if match.write_once is not None:
        bits.append("write-once" if match.write_once else "not write-once")
    if match.offline is not None:
        bits.append("offline" if match.offline else "online")
    return " and ".join(bits)
