"""Validate a :class:`Description` against the TT 05/2025 profiles in ``policies/metadata.yaml``.

Pure: no I/O beyond what the caller passes. Every problem is collected; each names the file,
the row / pointer / XML line, the field and the rule (``TT 05/2025 Annex III fileCode max
100``). Problem codes (tests/data/metadata/ has one example file per code):

    metadata-required              a required field is absent or empty
    metadata-length                longer than the field's maximum (characters after NFC)
    metadata-code                  not one of the field's codes
    metadata-boolean               not 0 or 1
    metadata-integer               not a whole number, or more digits than allowed
    metadata-date                  not a real date written DD/MM/YYYY
    metadata-date-order            startDate after endDate
    metadata-date-range            an item's issuedDate outside the dossier's dates (warning)
    metadata-identifier            fileCode, docCode, docId … does not match its pattern
    metadata-identifier-mismatch   docCode/docId not built from the dossier's fileCode
    metadata-duplicate-identifier  two items with the same docId/docCode
    metadata-total-doc             totalDoc differs from the number of items described
    metadata-classification        unknown level, or classifiedOn without a level
    metadata-classification-mode   a classified record whose mode is not 03
    metadata-unknown-field         a key no profile knows (warning by default)
    metadata-duplicate-field, metadata-syntax, metadata-invalid   found while reading
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from ingest.metadata import FOREIGN, Description, Origin, parse_date, with_warnings
from ingest.metadata_classification import check_classification
from policies.loader import Policies, load_policies
from policies.metadata_profile import FieldRule, MetadataPolicy, Profile
from repository.errors import InvalidInput, KhosoError, Problem

DIGITS = re.compile(r"^[0-9]+$", re.ASCII)
# Identifier fields compared across items: two items may not share one.
UNIQUE_KEYS = ("docId", "docCode", "arcDocCode")


@dataclass
class Findings:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def add(self, severity: str, problem: Problem) -> None:
        if severity == "ignore":
            return
        target = self.errors if severity == "error" else self.warnings
        target.append(Problem(problem.code, problem.message, problem.path, problem.field,
                              problem.rule, {**problem.extra, "severity": severity}))


def validated(desc: Description, policy: MetadataPolicy, policies: Policies | None = None, *,
              transfer_classification: str | None = None,
              today: date | None = None) -> Description:
    """``desc`` with its warnings, or :class:`InvalidInput` listing every error."""
    found = check_description(desc, policy, policies,
                              transfer_classification=transfer_classification, today=today)
    if found.errors:
        first = found.errors[0].message
        raise InvalidInput(
            reason=f"{desc.source}: {len(found.errors)} metadata problem(s), all listed; the "
                   f"first: {first}. Correct the metadata and run the command again",
            details=found.errors + found.warnings)
    return with_warnings(desc, found.warnings)


def check_description(desc: Description, policy: MetadataPolicy,
                      policies: Policies | None = None, *,
                      transfer_classification: str | None = None,
                      today: date | None = None) -> Findings:
    found = Findings()
    for problem in desc.problems:
        found.add("error", problem)
    if not desc.fields and not desc.items and desc.source is None:
        return found  # no metadata given: nothing is required
    policies = policies or load_policies()
    for index, record in enumerate([desc.fields, *desc.items]):
        origin = desc.origin(index)
        if origin.profile == FOREIGN:
            found.add("warning", origin.problem(
                "metadata-not-tt05", None, "an EAD 2002 description, not a TT 05/2025 "
                "<simpledc>: only its title is used and no TT 05/2025 field is checked",
                "TT 05/2025 Annex III EAD.xml"))
            continue
        profile = policy.profiles.get(origin.profile)  # type: ignore[call-overload]
        if profile is None:
            found.add("error", origin.problem("metadata-invalid", None, f"no profile "
                      f"{origin.profile!r} in policies/metadata.yaml", None))
            continue
        effective = record if index == 0 else _with_defaults(record, profile, desc.fields)
        _check_record(found, policy, policies, profile, origin, record, effective)
    _check_dossier_dates(found, policy, desc)
    _check_counts(found, policy, desc)
    _check_identifiers(found, policy, desc)
    _check_item_dates(found, policy, desc)
    if policy.historical_archive:
        _check_historical(found, desc)
    for severity, problem in check_classification(desc, policy, policies,
                                                  transfer_classification):
        found.add(severity, problem)
    return found


def rule_text(profile: Profile, rule: FieldRule, what: str) -> str:
    return f"{rule.rule or profile.rule} {rule.key} {what}"


def _with_defaults(item: dict[str, str], profile: Profile,
                   dossier: dict[str, str]) -> dict[str, str]:
    # TT 05/2025 Annex III 5.1: an item's maintenance defaults to its dossier's.
    defaults = {f.key: dossier[f.key] for f in profile.fields
                if f.default_from_dossier and dossier.get(f.key)}
    return {**defaults, **item}


def _check_record(found: Findings, policy: MetadataPolicy, policies: Policies, profile: Profile,
                  origin: Origin, given: dict[str, str], effective: dict[str, str]) -> None:
    for rule in profile.fields:
        value = given.get(rule.key, "")
        if value:
            _check_value(found, policy, policies, profile, origin, rule, value)
        elif _required(rule, effective, policies) and not any(
                effective.get(k) for k in (rule.key, *rule.satisfied_by)):
            also = f" (or {', '.join(rule.satisfied_by)})" if rule.satisfied_by else ""
            found.add(policy.strictness.missing_required, origin.problem(
                "metadata-required", rule.key, f"{rule.vi} is required{also} but missing"
                f"{_why(rule)}; add it", rule_text(profile, rule, "required")))
    for key in given:
        if key not in profile.by_key:
            found.add(policy.strictness.unknown_field, origin.problem(
                "metadata-unknown-field", key, f"not a field of {profile.vi}; check the "
                "spelling (keys are case-sensitive names such as fileCode, or their "
                "Vietnamese names)", f"{profile.rule} fields"))


def _required(rule: FieldRule, record: dict[str, str], policies: Policies) -> bool:
    if rule.required:
        return True
    cond = rule.required_when
    if cond is None:
        return False
    value = record.get(cond.field, "")
    if cond.classified:
        try:
            return bool(value) and policies.level(value).rank > 0
        except KhosoError:  # an unknown level is reported by its own field's check
            return False
    return value in cond.in_


def _why(rule: FieldRule) -> str:
    cond = rule.required_when
    if cond is None:
        return ""
    if cond.classified:
        return f" ({cond.field} is a classified level)"
    return f" ({cond.field} is {' or '.join(cond.in_)})"


def _check_value(found: Findings, policy: MetadataPolicy, policies: Policies, profile: Profile,
                 origin: Origin, rule: FieldRule, value: str) -> None:
    def bad(code: str, what: str, rule_what: str) -> None:
        found.add("error", origin.problem(code, rule.key, what, rule_text(profile, rule,
                                                                          rule_what)))

    length = len(unicodedata.normalize("NFC", value))
    if rule.max and length > rule.max:
        bad("metadata-length", f"{length} characters, at most {rule.max}", f"max {rule.max}")
    if rule.type in ("code", "codes"):
        _check_codes(bad, policy, rule, value)
    elif rule.type == "date" and parse_date(value) is None:
        hint = " (written as year-month-day?)" if re.match(r"^\d{4}-", value) else ""
        bad("metadata-date", f"{value!r} is not a date DD/MM/YYYY{hint}", "DD/MM/YYYY")
    elif rule.type == "int" and not (DIGITS.match(value)
                                     and len(value) <= (rule.max_digits or len(value))):
        limit = f" of at most {rule.max_digits} digits" if rule.max_digits else ""
        bad("metadata-integer", f"{value!r} is not a whole number{limit}",
            f"integer{' max ' + str(rule.max_digits) + ' digits' if rule.max_digits else ''}")
    elif rule.type == "bool" and value not in ("0", "1"):
        bad("metadata-boolean", f"{value!r} is not 1 (có) or 0 (không)", "0/1")
    elif rule.type == "level":
        try:
            policies.level(value)
        except KhosoError:
            known = ", ".join(lvl.key for lvl in policies.classification.levels)
            bad("metadata-classification", f"{value!r} is not a classification level "
                f"(known: {known}; Vietnamese aliases mat, toi-mat, tuyet-mat)", "levels")
    if rule.identifier:
        ident = policy.identifiers[rule.identifier]
        if not ident.pattern.fullmatch(value):
            bad("metadata-identifier", f"{value!r} is not a {ident.vi}, e.g. "
                f"{ident.example}", f"pattern {rule.identifier}")


def _check_codes(bad, policy: MetadataPolicy, rule: FieldRule,  # type: ignore[no-untyped-def]
                 value: str) -> None:
    codes = policy.code_list(rule).codes
    parts = [value]
    if rule.type == "codes":
        parts = [p.strip() for p in re.split(f"[{re.escape(policy.list_separators)}]", value)]
    wrong = [p for p in parts if p not in codes]
    if not wrong:
        return
    shown = ", ".join(f"{c} {label}" for c, label in list(codes.items())[:12])
    more = " …" if len(codes) > 12 else ""
    hint = ""
    if any(p.isdigit() and "0" + p in codes for p in wrong):
        hint = " (a spreadsheet dropped the leading zero? write 01, not 1)"
    bad("metadata-code", f"{', '.join(repr(p) for p in wrong)} not in {rule.codes} codes: "
        f"{shown}{more}{hint}", f"codes {min(codes)}–{max(codes)}")


def _check_dossier_dates(found: Findings, policy: MetadataPolicy, desc: Description) -> None:
    origin = desc.origin(0)
    profile = policy.profiles.get(origin.profile)  # type: ignore[call-overload]
    if not profile or not profile.date_order:
        return
    first, last = profile.date_order
    start, end = (parse_date(desc.fields.get(k, "")) for k in (first, last))
    if start and end and start > end:
        found.add("error", origin.problem(
            "metadata-date-order", last, f"{desc.fields[last]} is before {first} "
            f"{desc.fields[first]}", f"{profile.rule} {first} <= {last}"))


def _check_counts(found: Findings, policy: MetadataPolicy, desc: Description) -> None:
    origin = desc.origin(0)
    profile = policy.profiles.get(origin.profile)  # type: ignore[call-overload]
    key = profile.counts_items if profile else None
    value = desc.fields.get(key or "", "")
    if not desc.items or not key or not DIGITS.match(value) or int(value) == len(desc.items):
        return
    found.add(policy.strictness.total_doc_mismatch, origin.problem(
        "metadata-total-doc", key, f"{value} but {len(desc.items)} item(s) are described",
        f"{profile.rule} {key} = number of items"))  # type: ignore[union-attr]


def _dossier_code_valid(policy: MetadataPolicy, desc: Description, key: str) -> bool:
    """The dossier's ``key`` (fileCode) is present and well-formed, so items may be held to
    it (a malformed fileCode is reported once, not again for every item)."""
    rule = policy.profiles["dossier"].by_key.get(key)
    ident = policy.identifiers.get(rule.identifier or "") if rule else None
    value = desc.fields.get(key, "")
    return bool(value) and (ident is None or bool(ident.pattern.fullmatch(value)))


def _check_identifiers(found: Findings, policy: MetadataPolicy, desc: Description) -> None:
    seen: dict[tuple[str, str], str] = {}
    # SIP_tailieu items do not extend the batch code (U): only a dossier's items are linked.
    linked = desc.origin(0).profile == "dossier"
    for index, item in enumerate(desc.items, start=1):
        origin = desc.origin(index)
        profile = policy.profiles.get(origin.profile)  # type: ignore[call-overload]
        if profile is None:
            continue
        for key in UNIQUE_KEYS:
            value = item.get(key)
            if value and (key, value) in seen:
                found.add("error", origin.problem(
                    "metadata-duplicate-identifier", key, f"{value!r} is also the {key} of "
                    f"{seen[key, value]}", f"{profile.rule} {key} unique"))
            elif value:
                seen[key, value] = origin.record
        if linked:
            _check_links(found, policy, desc, profile, origin, item)


def _check_links(found: Findings, policy: MetadataPolicy, desc: Description, profile: Profile,
                 origin: Origin, item: dict[str, str]) -> None:
    for rule in profile.fields:
        ident = policy.identifiers.get(rule.identifier or "")
        if not ident or not ident.links_to or not item.get(rule.key):
            continue
        match = ident.pattern.fullmatch(item[rule.key])
        expected = desc.fields.get(ident.links_to, "")
        if (match and _dossier_code_valid(policy, desc, ident.links_to)
                and match.group("file_code") != expected):
            found.add(policy.strictness.identifier_mismatch, origin.problem(
                "metadata-identifier-mismatch", rule.key, f"{item[rule.key]!r} does not start "
                f"with the dossier's {ident.links_to} {expected!r}",
                rule_text(profile, rule, f"= {ident.links_to} + ordinal")))


def _check_item_dates(found: Findings, policy: MetadataPolicy, desc: Description) -> None:
    start, end = (parse_date(desc.fields.get(k, "")) for k in ("startDate", "endDate"))
    if not (start and end) or start > end:
        return
    for index, item in enumerate(desc.items, start=1):
        issued = parse_date(item.get("issuedDate", ""))
        if issued and not start <= issued <= end:
            origin = desc.origin(index)
            found.add(policy.strictness.issued_date_outside_dossier, origin.problem(
                "metadata-date-range", "issuedDate", f"{item['issuedDate']} is outside the "
                f"dossier's {desc.fields['startDate']}–{desc.fields['endDate']}",
                "khoso issuedDate within startDate..endDate"))


def _check_historical(found: Findings, desc: Description) -> None:
    # TT 05/2025 Annex III 4.1: a historical archive takes only permanent records (01).
    for index, record in enumerate([desc.fields, *desc.items]):
        value = record.get("maintenance")
        if value and value != "01":
            found.add("error", desc.origin(index).problem(
                "metadata-code", "maintenance", f"{value!r}: a historical archive accepts only "
                "01 (Vĩnh viễn); records kept for a term stay in the current archive",
                "TT 05/2025 Annex III maintenance historical archive 01"))
