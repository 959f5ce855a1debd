"""BagIt Profile checks of a bag that ``ingest.bag`` has already walked and parsed.

    profile = load_profile(source)  # a Parsed: the profile, or why it cannot be used
    check_profile(check, source)    # every problem added to check.found

A profile is read from a local path, a file: URL or an http(s) URL, at most 1 MiB.
``bagit_profile`` checks profiles, except for Bag-Info, which is checked here (the library
stops at the first missing tag and insists that ``BagIt-Profile-Identifier`` equals the URL the
profile was loaded from; as in bagit-java, a bag need not name the profile the caller chose).
The profile's own consistency and the Profiles 1.4 keys ``Require-Fetch.txt`` and
``Data-Empty`` are checked here too.

Problem codes: profile-unavailable, profile-invalid, profile-nonconforming,
profile-identifier-mismatch, profile-serialization-unchecked.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

import bagit_profile

from ingest.bag_tree import BagTree
from ingest.bagit_parsers import BagDeclaration, FetchEntry, Findings, Manifest, Parsed

MAX_PROFILE = 1024 * 1024

_PROFILE_CHECKS: tuple[tuple[str, str, tuple[int, ...] | None], ...] = (
    ("Manifests-Required", "validate_manifests_required", None),
    ("Tag-Manifests-Required", "validate_tag_manifests_required", None),
    ("Manifests-Allowed", "validate_payload_manifests_allowed", (1, 3, 0)),
    ("Tag-Manifests-Allowed", "validate_tag_manifests_allowed", (1, 3, 0)),
    ("Tag-Files-Required", "validate_tag_files_required", None),
    ("Tag-Files-Allowed", "validate_tag_files_allowed", (1, 2, 0)),
    ("Allow-Fetch.txt", "validate_allow_fetch", None),
    ("Accept-BagIt-Version", "validate_accept_bagit_version", None),
)


class CheckedBag(Protocol):
    """What the profile checks read of a bag ``ingest.bag`` has walked and parsed."""

    root: Path
    found: Findings
    tree: BagTree
    declaration: BagDeclaration | None
    manifests: list[Manifest]
    tag_manifests: list[Manifest]
    info_name: str
    info: tuple[tuple[str, str], ...]
    fetch: tuple[FetchEntry, ...]


def load_profile(source: str | Path) -> Parsed[bagit_profile.Profile | None]:
    """A BagIt Profile from a local path, a file: URL or an http(s) URL."""
    found = Findings()
    text = _profile_text(str(source), found)
    if text is None:
        return found.result(None)
    try:
        document = json.loads(text)
        info = document.get("BagIt-Profile-Info") or {}
        identifier = info.get("BagIt-Profile-Identifier") or str(source)
        profile = bagit_profile.Profile(identifier, profile=document)
        contradictions = _profile_contradictions(document)
    except (bagit_profile.ProfileValidationError, ValueError, KeyError, TypeError,
            AttributeError) as exc:
        found.error("profile-invalid", f"{source} is not a usable BagIt Profile: {exc}",
                    path=str(source))
        return found.result(None)
    for reason in contradictions:
        found.error("profile-invalid", f"{source} is not a usable BagIt Profile: {reason}",
                    path=str(source))
    return found.result(None if found.errors else profile)


_BAG_INFO_OPTIONS = frozenset({"required", "values", "repeatable", "description", "recommended"})


def _profile_contradictions(document: dict[str, Any]) -> list[str]:
    """Rules of the BagIt Profiles specification that bagit_profile 1.3.1 does not check."""
    reasons = []
    for tag, options in (document.get("Bag-Info") or {}).items():
        unknown = sorted(set(options) - _BAG_INFO_OPTIONS) if isinstance(options, dict) else []
        if not isinstance(options, dict) or unknown:
            reasons.append(f"Bag-Info {tag} has options {unknown or options!r}; allowed are "
                           f"{', '.join(sorted(_BAG_INFO_OPTIONS))}")
    for required, allowed in (("Manifests-Required", "Manifests-Allowed"),
                              ("Tag-Manifests-Required", "Tag-Manifests-Allowed")):
        extra = set(document.get(required) or []) - set(document.get(allowed) or [])
        if allowed in document and extra:
            reasons.append(f"{required} lists {sorted(extra)}, which {allowed} does not allow")
    if document.get("Require-Fetch.txt") is True and document.get("Allow-Fetch.txt") is False:
        reasons.append("Require-Fetch.txt is true while Allow-Fetch.txt is false")
    return reasons


def _profile_text(source: str, found: Findings) -> str | None:
    parts = urlsplit(source)
    try:
        if parts.scheme in ("http", "https"):
            with urllib.request.urlopen(source, timeout=30) as response:
                data = response.read(MAX_PROFILE + 1)
        else:
            path = Path(url2pathname(parts.path)) if parts.scheme == "file" else Path(source)
            with path.open("rb") as handle:
                data = handle.read(MAX_PROFILE + 1)
    except (OSError, ValueError) as exc:
        found.error("profile-unavailable", f"cannot read the BagIt Profile {source}: {exc}",
                    path=source)
        return None
    if len(data) > MAX_PROFILE:
        found.error("profile-invalid", f"{source} is larger than {MAX_PROFILE} bytes",
                    path=source)
        return None
    return data.decode("utf-8-sig", errors="replace")


class _ProfileView:
    """The parts of a ``bagit.Bag`` that ``bagit_profile`` reads, filled from our own parse."""

    def __init__(self, check: CheckedBag, declaration: BagDeclaration) -> None:
        self.path = str(check.root)
        self.tags = {"BagIt-Version": declaration.version,
                     "Tag-File-Character-Encoding": declaration.encoding}
        self._manifests = [str(check.root / m.name) for m in check.manifests]
        self._tag_manifests = [str(check.root / m.name) for m in check.tag_manifests]

    def manifest_files(self) -> list[str]:
        return self._manifests

    def tagmanifest_files(self) -> list[str]:
        return self._tag_manifests

    def __str__(self) -> str:
        return Path(self.path).name


def check_profile(check: CheckedBag, source: str | Path) -> None:
    profile = check.found.take(load_profile(source))
    if profile is None or check.declaration is None:
        return
    ident = profile.url
    view = _ProfileView(check, check.declaration)
    for key, method, since in _PROFILE_CHECKS:
        if key not in profile.profile or (since and profile.profile_version_info < since):
            continue
        try:
            getattr(profile, method)(view)
        except bagit_profile.ProfileValidationError as exc:
            _nonconforming(check.found, ident, key, str(exc.value).split(": ", 1)[-1])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            check.found.error("profile-invalid", f"profile {ident}: {key} cannot be applied: "
                              f"{exc}", rule=f"BagIt Profile {key}")
    _check_profile_bag_info(check, profile.profile, ident)
    _check_profile_extras(check, profile.profile, ident)


def _nonconforming(found: Findings, ident: str, key: str, detail: str, **where: str) -> None:
    found.error("profile-nonconforming", f"the bag does not conform to profile {ident} "
                f"({key}): {detail}", rule=f"BagIt Profile {key}", **where)


def _check_profile_bag_info(check: CheckedBag, profile: dict[str, Any], ident: str) -> None:
    """Bag-Info rules, every one reported; tag names compared without regard to case."""
    values: dict[str, list[str]] = {}
    for label, value in check.info:
        values.setdefault(label.casefold(), []).append(value)
    for tag, config in (profile.get("Bag-Info") or {}).items():
        present = values.get(tag.casefold(), [])
        config = config if isinstance(config, dict) else {}
        allowed = config.get("values")
        if config.get("required") is True and not present:
            _nonconforming(check.found, ident, "Bag-Info", f"{check.info_name} has no {tag}",
                           field=tag)
        if allowed and any(v not in allowed for v in present):
            _nonconforming(check.found, ident, "Bag-Info", f"{tag} is {present}, not one of "
                           f"{allowed}", field=tag)
        if config.get("repeatable") is False and len(present) > 1:
            _nonconforming(check.found, ident, "Bag-Info", f"{tag} appears {len(present)} "
                           "times but may appear once", field=tag)
    declared = values.get("bagit-profile-identifier", [])
    if declared and ident not in declared:
        check.found.warn("profile-identifier-mismatch", f"{check.info_name} names profile "
                         f"{declared[0]}; validated against {ident}",
                         field="BagIt-Profile-Identifier")


def _check_profile_extras(check: CheckedBag, profile: dict[str, Any], ident: str) -> None:
    """Profile keys bagit_profile 1.3.1 does not know (BagIt Profiles 1.4)."""
    if profile.get("Require-Fetch.txt") is True and not check.fetch:
        _nonconforming(check.found, ident, "Require-Fetch.txt", "the bag has no fetch.txt")
    payload = check.tree.payload()
    if profile.get("Data-Empty") is True and (
            len(payload) > 1 or any(check.tree.files[p] for p in payload)):
        _nonconforming(check.found, ident, "Data-Empty", "data/ must hold nothing but one "
                       "zero-byte file")
    if profile.get("Serialization") == "required":
        check.found.warn("profile-serialization-unchecked", f"profile {ident} requires a "
                         "serialized bag; khoso checked the unpacked directory only",
                         rule="BagIt Profile Serialization")
