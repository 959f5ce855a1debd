"""Which locations an AIP must be stored in: catalog locations → policies/replication.py.

Location attributes are data (``locations.attributes``), resolved once when a location is
added and shown by ``khoso storage list``. A location added before attributes existed gets
the same defaults here: ``network`` is ``lan`` for file:// and for S3 on a loopback or private
address, ``cloud`` for any other S3 endpoint; ``media`` is ``disk`` or ``object``;
``write_once`` and ``offline`` are false; ``site`` is the location itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from policies.loader import Policies
from policies.model import NETWORKS, Level
from policies.replication import Place, barred, plan
from policies.replication import copies_required as _required
from repository.catalog.models import Location
from repository.errors import PolicyRefused, UsageError

ATTRIBUTES = ("network", "media", "write_once", "offline", "site")
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def default_attributes(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "s3":
        return {"network": "lan", "media": "disk", "write_once": False, "offline": False}
    endpoint = (options or {}).get("endpoint_url") or dict(parse_qsl(parts.query)).get(
        "endpoint_url")
    network = "cloud"
    if endpoint:
        host = urlsplit(endpoint).hostname or ""
        try:
            addr = ipaddress.ip_address(host)
            network = "lan" if addr.is_loopback or addr.is_private else "cloud"
        except ValueError:
            network = "lan" if host == "localhost" else "cloud"
    return {"network": network, "media": "object", "write_once": False, "offline": False}


def parse_attributes(url: str, given: dict[str, str],
                     options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``--option network=cloud write_once=true …`` → typed attributes, defaults filled in."""
    attrs = default_attributes(url, options)
    for key, value in given.items():
        if key == "network":
            if value not in NETWORKS:
                raise UsageError(reason=f"--option network={value!r}: choose one of "
                                        f"{', '.join(NETWORKS)}")
            attrs[key] = value
        elif key in ("write_once", "offline"):
            if value.lower() not in _TRUE | _FALSE:
                raise UsageError(reason=f"--option {key}={value!r}: use true or false")
            attrs[key] = value.lower() in _TRUE
        elif key in ("media", "site"):
            if not value:
                raise UsageError(reason=f"--option {key}= needs a value")
            attrs[key] = value
    if attrs["write_once"] and urlsplit(url).scheme == "s3" \
            and not (options or {}).get("object_lock_days"):
        # A write-once copy that one API call could delete is not write-once (QCVN 12:2026).
        raise UsageError(reason="--option write_once=true on an S3 location needs "
                                "--option object_lock_days=N (S3 Object Lock retention)")
    return attrs


def place_of(loc: Location) -> Place:
    attrs = {**default_attributes(loc.url, loc.options), **(loc.attributes or {})}
    return Place(name=loc.name, max_classification=loc.max_classification,
                 network=str(attrs["network"]), media=str(attrs["media"]),
                 write_once=_flag(attrs["write_once"]), offline=_flag(attrs["offline"]),
                 site=str(attrs.get("site") or ""))


def _flag(value: Any) -> bool:
    return value.strip().lower() in _TRUE if isinstance(value, str) else bool(value)


def copies_required(policies: Policies, location_count: int) -> int:
    """Copies an unclassified AIP needs with this many locations (reports)."""
    return _required(policies, policies.level(None), location_count)


def may_hold(policies: Policies, location: Location, level: Level) -> bool:
    return barred(policies, level, place_of(location)) is None


def check_may_hold(policies: Policies, location: Location, level: Level) -> None:
    """Refuse (exit 3, the rule named) putting ``level`` content on ``location``."""
    refusal = barred(policies, level, place_of(location))
    if refusal is not None:
        source = f" ({refusal.source})" if refusal.source else ""
        raise PolicyRefused(rule=refusal.rule, reason=refusal.reason + source)


def choose_locations(policies: Policies, locations: Sequence[Location], level: Level,
                     have: Sequence[Location] | None = None) -> list[Location]:
    """Locations to add so that the AIP meets policy (PolicyRefused when it cannot)."""
    held = [loc.name for loc in have or []]
    result = plan(policies, level, [place_of(loc) for loc in locations], held)
    if not result.allowed:
        d = result.decision
        raise PolicyRefused(rule=d.rule, reason=d.reason + (f" ({d.source})" if d.source else ""))
    by_name = {loc.name: loc for loc in locations}
    return [by_name[name] for name in result.add]
