"""Which locations an AIP must be stored in (policies/replication.yaml + location limits)."""

from __future__ import annotations

from policies.loader import Policies
from policies.model import Level
from repository.catalog.models import Location
from repository.errors import PolicyRefused


def copies_required(policies: Policies, location_count: int) -> int:
    rule = policies.replication
    if location_count < rule.min_copies and rule.allow_fewer_when_locations_missing:
        return max(location_count, 1)
    return rule.min_copies


def may_hold(policies: Policies, location: Location, level: Level) -> bool:
    return policies.level(location.max_classification).rank >= level.rank


def choose_locations(policies: Policies, locations: list[Location], level: Level,
                     have: list[Location] | None = None) -> list[Location]:
    """Locations to add so that the AIP reaches the required copies (refuses when it can't)."""
    have = have or []
    needed = copies_required(policies, len(locations)) - len(have)
    held = {loc.id for loc in have}
    eligible = [loc for loc in locations if loc.id not in held and may_hold(policies, loc, level)]
    if needed > len(eligible):
        barred = [loc.name for loc in locations
                  if loc.id not in held and not may_hold(policies, loc, level)]
        why = (f"locations {', '.join(barred)} may not hold {level.key} content"
               if barred else "not enough storage locations exist")
        raise PolicyRefused(rule="replication.min_copies", reason=(
            f"{level.vi}/{level.key} content needs {needed + len(have)} copies on locations "
            f"cleared for it, but only {len(eligible) + len(have)} qualify: {why} "
            f"({policies.replication.source})"))
    return eligible[:max(needed, 0)]
