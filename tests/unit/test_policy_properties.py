"""Property tests of the policy engine's decisions (hypothesis, derandomised and bounded)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.engine import Actor, GrantFacts, Record, decide_access, decide_grant, protection_ends
from policies.loader import load_policies

POLICIES = load_policies()
LEVELS = [lvl.key for lvl in POLICIES.classification.levels]
ROLES = sorted(POLICIES.access.roles)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=400, derandomize=True, deadline=None)

levels = st.sampled_from(LEVELS)
authority = st.one_of(st.none(), levels)
modes = st.sampled_from(["01", "02", "03"])
actors = st.builds(Actor, name=st.sampled_from(["an", "binh", "chi"]),
                   role=st.sampled_from(ROLES), authority=authority)
grants = st.builds(GrantFacts, user=st.sampled_from(["an", "binh", "chi"]), approver=actors,
                   until=st.one_of(st.none(), st.integers(-400, 400).map(
                       lambda d: NOW + timedelta(days=d))),
                   revoked=st.booleans())


def rank(key: str | None) -> int:
    return POLICIES.level(key).rank if key else -1


@SETTINGS
@given(actors, levels, modes)
def test_grant_is_allowed_exactly_when_role_and_authority_cover_the_level(
        approver: Actor, level: str, mode: str) -> None:
    record = Record("urn:uuid:X", POLICIES.level(level), mode)
    decision = decide_grant(POLICIES, approver, record)
    may_grant = "grant" in POLICIES.access.roles[approver.role].may
    covered = rank(level) == 0 or rank(approver.authority) >= rank(level)
    assert decision.allowed == (may_grant and covered)
    assert decision.rule.startswith("grant.")
    assert decision.reason


@SETTINGS
@given(actors, levels, modes, st.lists(grants, max_size=4))
def test_access_decisions_are_explained_and_never_open_a_secret_without_a_live_grant(
        actor: Actor, level: str, mode: str, given_grants: list[GrantFacts]) -> None:
    record = Record("urn:uuid:X", POLICIES.level(level), mode)
    decision = decide_access(POLICIES, actor, record, given_grants, NOW)
    assert decision.rule.startswith("access.") and decision.reason
    if decision.allowed and (rank(level) > 0 or mode in POLICIES.access.grant_required_for_modes):
        live = [g for g in given_grants if g.user == actor.name and not g.revoked
                and (g.until is None or g.until > NOW)
                and decide_grant(POLICIES, g.approver, record).allowed]
        assert live, "a classified or conditional record was opened without a live grant"


@SETTINGS
@given(actors, levels, modes, st.lists(grants, max_size=3), grants)
def test_another_grant_never_takes_access_away(actor: Actor, level: str, mode: str,
                                               given_grants: list[GrantFacts],
                                               extra: GrantFacts) -> None:
    record = Record("urn:uuid:X", POLICIES.level(level), mode)
    before = decide_access(POLICIES, actor, record, given_grants, NOW)
    after = decide_access(POLICIES, actor, record, [*given_grants, extra], NOW)
    assert not before.allowed or after.allowed


@SETTINGS
@given(levels, st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)),
       st.integers(0, 30))
def test_protection_ends_after_the_base_period_plus_extensions(level: str, on: date,
                                                               extra: int) -> None:
    lvl = POLICIES.level(level)
    end = protection_ends(lvl, on, extra)
    if lvl.rank == 0:
        assert end is None
        return
    assert end is not None
    assert end.year - on.year == lvl.protection_years + extra
    assert (end.month, end.day) == (on.month, on.day) or (on.month, on.day) == (2, 29)
