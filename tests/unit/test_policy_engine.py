"""Pure policy decisions: every rule has a test, every refusal names its rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from policies.engine import (
    Actor,
    GrantFacts,
    Record,
    decide_access,
    decide_grant,
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
