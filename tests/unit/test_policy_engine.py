"""Pure policy decisions: every rule has a test, every refusal names its rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from policies.engine import (
    Actor,
    GrantFacts,
    Record,
    add_years,
    decide_access,
    decide_action,
    decide_declassification,
    decide_download,
    decide_extension,
    decide_grant,
    decide_revoke,
    decide_view,
    max_extension_years,
    protection_ends,
)
from policies.loader import load_policies
from repository.errors import UsageError

POLICIES = load_policies()
NOW = datetime(2026, 11, 24, tzinfo=UTC)
READER = Actor("an", "reader")


def record(level: str, mode: str = "01") -> Record:
    return Record("urn:uuid:X", POLICIES.level(level), mode)


def approver(authority: str | None, role: str = "approver") -> Actor:
    return Actor("binh", role, authority)


@pytest.mark.parametrize(("authority", "level", "allowed"), [
    ("tuyet-mat", "top-secret", True), ("tuyet-mat", "secret", True),
    ("toi-mat", "top-secret", False), ("toi-mat", "secret", True),
    ("toi-mat", "confidential", True), ("mat", "secret", False), ("mat", "mat", True),
    (None, "confidential", False), (None, "unclassified", True),
])
def test_approver_authority_covers_levels_up_to_its_own(authority: str | None, level: str,
                                                        allowed: bool) -> None:
    decision = decide_grant(POLICIES, approver(authority), record(level))
    assert decision.allowed is allowed
    assert decision.rule.startswith("grant.")


def test_only_roles_that_may_grant_can_grant() -> None:
    decision = decide_grant(POLICIES, approver("tuyet-mat", role="reader"), record("secret"))
    assert not decision.allowed and decision.rule == "grant.approver-role"


def test_public_unclassified_record_is_open_to_readers() -> None:
    decision = decide_access(POLICIES, READER, record("unclassified"), [], NOW)
    assert decision.allowed and decision.rule == "access.open"


@pytest.mark.parametrize("level,mode", [("confidential", "03"), ("unclassified", "02")])
def test_classified_or_conditional_record_needs_a_grant(level: str, mode: str) -> None:
    decision = decide_access(POLICIES, READER, record(level, mode), [], NOW)
    assert not decision.allowed and decision.rule == "access.grant-required"


def _grant(until: datetime | None = None, revoked: bool = False,
           authority: str = "tuyet-mat", user: str = "an") -> GrantFacts:
    return GrantFacts(user, approver(authority), until, revoked)


def test_valid_grant_allows() -> None:
    decision = decide_access(POLICIES, READER, record("secret", "03"),
                             [_grant(NOW + timedelta(days=1))], NOW)
    assert decision.allowed and decision.rule == "access.grant"


@pytest.mark.parametrize("grant,why", [
    (_grant(NOW - timedelta(seconds=1)), "expired"),
    (_grant(revoked=True), "revoked"),
    (_grant(authority="mat"), "approver no longer qualified"),
])
def test_lapsed_grants_refuse_with_the_reason(grant: GrantFacts, why: str) -> None:
    decision = decide_access(POLICIES, READER, record("secret", "03"), [grant], NOW)
    assert not decision.allowed and decision.rule == "access.grant-lapsed"
    assert why in decision.reason


def test_someone_elses_grant_does_not_count() -> None:
    decision = decide_access(POLICIES, READER, record("secret", "03"), [_grant(user="chi")], NOW)
    assert not decision.allowed and decision.rule == "access.grant-required"


def test_protection_periods_follow_the_level() -> None:
    on = date(2020, 2, 29)
    assert protection_ends(POLICIES.level("mat"), on) == date(2030, 2, 28)
    assert protection_ends(POLICIES.level("toi-mat"), date(2020, 5, 1)) == date(2040, 5, 1)
    assert protection_ends(POLICIES.level("tuyet-mat"), date(2020, 5, 1)) == date(2050, 5, 1)
    assert protection_ends(POLICIES.level("unclassified"), on) is None


def test_levels_accept_keys_and_vietnamese_aliases() -> None:
    assert POLICIES.level("TOI-MAT").key == "secret"
    assert POLICIES.level("tuyet_mat").key == "top-secret"
    assert POLICIES.level("Mật".replace("Mật", "mat")).key == "confidential"
    assert POLICIES.highest(["mat", "toi-mat", "unclassified"]).key == "secret"
    with pytest.raises(UsageError, match="unknown classification level"):
        POLICIES.level("ultra")
    assert POLICIES.level("secret").label == "TỐI MẬT"


# --- roles (policies/access.yaml) -------------------------------------------------------------

@pytest.mark.parametrize(("role", "action", "allowed"), [
    ("reader", "access", True), ("reader", "grant", False), ("reader", "catalog", False),
    ("approver", "grant", True), ("approver", "extend", True), ("approver", "ingest", False),
    ("archivist", "copy-register", True), ("preservation-officer", "repair", True),
    ("preservation-officer", "grant", False), ("administrator", "tokens", True),
    ("nobody", "access", False),
])
def test_roles_may_only_what_the_policy_lists(role: str, action: str, allowed: bool) -> None:
    decision = decide_action(POLICIES, Actor("x", role), action)
    assert decision.allowed is allowed and decision.rule == f"role.{action}"


def test_grant_refusal_names_the_article_11_tier() -> None:
    decision = decide_grant(POLICIES, approver("toi-mat"), record("top-secret"))
    assert not decision.allowed and "Điều 11 k1" in decision.reason
    assert "29/2018" in decision.source


def test_administrator_without_authority_grants_only_unclassified_records() -> None:
    admin = Actor("quan", "administrator")
    assert decide_grant(POLICIES, admin, record("unclassified", "02")).allowed
    refused = decide_grant(POLICIES, admin, record("confidential", "03"))
    assert not refused.allowed and refused.rule == "grant.authority"


# --- revoke -------------------------------------------------------------------------------------

def test_the_approver_who_granted_may_revoke() -> None:
    decision = decide_revoke(POLICIES, approver("mat"), _grant())
    assert decision.allowed and decision.rule == "revoke.own-grant"


def test_a_reader_may_not_revoke_someone_elses_grant() -> None:
    decision = decide_revoke(POLICIES, READER, _grant())
    assert not decision.allowed and decision.rule == "revoke.role"


def test_an_administrator_may_revoke_any_grant() -> None:
    assert decide_revoke(POLICIES, Actor("quan", "administrator"), _grant()).allowed


def test_a_revoked_grant_cannot_be_revoked_again() -> None:
    decision = decide_revoke(POLICIES, approver("mat"), _grant(revoked=True))
    assert not decision.allowed and decision.rule == "revoke.already-revoked"


# --- catalog visibility -------------------------------------------------------------------------

def test_catalog_roles_see_every_entry_readers_only_theirs() -> None:
    secret = record("secret", "03")
    assert decide_view(POLICIES, Actor("l", "archivist"), secret, [], NOW).rule == "view.catalog"
    hidden = decide_view(POLICIES, READER, secret, [], NOW)
    assert not hidden.allowed and hidden.rule == "access.grant-required"
    assert decide_view(POLICIES, READER, secret, [_grant()], NOW).allowed
    assert decide_view(POLICIES, READER, record("unclassified"), [], NOW).allowed


# --- extension (Law 29/2018 Điều 20) ------------------------------------------------------------

UNTIL = date(2036, 3, 1)


def _extend(years: int, today: date, who: Actor | None = None,
            level: str = "confidential") -> tuple[bool, str]:
    d = decide_extension(POLICIES, who or approver("toi-mat"), record(level, "03"),
                         UNTIL, years, today)
    return d.allowed, d.rule


def test_extension_up_to_the_base_period_60_days_before_expiry_is_allowed() -> None:
    assert _extend(10, UNTIL - timedelta(days=60)) == (True, "extension.allowed")
    assert _extend(1, date(2030, 1, 1)) == (True, "extension.allowed")


def test_extension_decided_later_than_60_days_before_expiry_is_refused() -> None:
    assert _extend(5, UNTIL - timedelta(days=59)) == (False, "extension.deadline")
    assert _extend(5, UNTIL + timedelta(days=1)) == (False, "extension.deadline")


@pytest.mark.parametrize(("level", "years"), [("confidential", 11), ("secret", 21),
                                                ("top-secret", 31), ("confidential", 0)])
def test_extension_longer_than_the_base_period_is_refused(level: str, years: int) -> None:
    who = approver("tuyet-mat")
    assert _extend(years, date(2030, 1, 1), who, level) == (False, "extension.max-years")


def test_max_extension_follows_the_level() -> None:
    assert [max_extension_years(POLICIES, POLICIES.level(k))
            for k in ("mat", "toi-mat", "tuyet-mat")] == [10, 20, 30]


def test_extension_needs_authority_over_the_level_and_a_role_that_may_extend() -> None:
    assert _extend(5, date(2030, 1, 1), approver("mat"), "secret") == (
        False, "extension.authority")
    assert _extend(5, date(2030, 1, 1), READER) == (False, "extension.role")


def test_unclassified_records_have_nothing_to_extend() -> None:
    d = decide_extension(POLICIES, approver("tuyet-mat"), record("unclassified"), None, 1,
                         date(2030, 1, 1))
    assert not d.allowed and d.rule == "extension.unclassified"


def test_add_years_keeps_29_february_inside_the_year() -> None:
    assert add_years(date(2024, 2, 29), 10) == date(2034, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


# --- declassification (Điều 22 k1a) and download window (TT 05/2025 Điều 40) -----------------

def test_declassification_happens_on_and_after_the_end_date_only() -> None:
    rec = record("confidential", "03")
    assert decide_declassification(rec, UNTIL, UNTIL).rule == "declassify.expired"
    assert decide_declassification(rec, UNTIL, UNTIL + timedelta(days=3)).allowed
    before = decide_declassification(rec, UNTIL, UNTIL - timedelta(days=1))
    assert not before.allowed and before.rule == "declassify.protected"
    assert not decide_declassification(record("unclassified"), None, UNTIL).allowed


def test_download_only_within_the_window() -> None:
    made = NOW - timedelta(days=15)
    assert decide_download(POLICIES, made, NOW).allowed
    late = decide_download(POLICIES, made - timedelta(seconds=1), NOW)
    assert not late.allowed and late.rule == "download.window" and "15 days" in late.reason


def test_only_the_recipient_may_download_a_copy() -> None:
    made = NOW - timedelta(days=1)
    assert decide_download(POLICIES, made, NOW, "an", READER).allowed
    other = decide_download(POLICIES, made, NOW, "chi", READER)
    assert not other.allowed and other.rule == "download.recipient"
