"""Placement rules (policies/replication.py): pure decisions over location attributes."""

from __future__ import annotations

import dataclasses

import pytest

from policies.loader import Policies, load_policies
from policies.model import ReplicationPolicy
from policies.replication import Place, barred, plan
from repository.errors import ConfigError

FORBID = "replication.forbid.classified-not-on-internet"


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


def with_rules(policies: Policies, **rules: object) -> Policies:
    current = policies.replication.model_dump()
    return dataclasses.replace(policies, replication=ReplicationPolicy.model_validate(
        {**current, **rules}))


def places(*specs: tuple[str, dict]) -> list[Place]:
    return [Place(name=name, **{"max_classification": "top-secret", **attrs})
            for name, attrs in specs]


def test_unclassified_gets_two_copies_anywhere(policies: Policies) -> None:
    locs = places(("a", {}), ("b", {"network": "cloud"}), ("c", {}))
    result = plan(policies, policies.level(None), locs)
    assert result.allowed and result.add == ("a", "b") and result.required == 2


def test_classified_content_never_goes_to_the_internet(policies: Policies) -> None:
    locs = places(("a", {}), ("cloud", {"network": "cloud"}), ("b", {"network": "isolated"}))
    secret = policies.level("toi-mat")
    assert plan(policies, secret, locs).add == ("a", "b")
    refusal = barred(policies, secret, locs[1])
    assert refusal is not None and refusal.rule == FORBID
    assert "Điều 5" in refusal.source


def test_refusal_names_the_rules_that_barred_each_location(policies: Policies) -> None:
    locs = places(("a", {}), ("cloud", {"network": "cloud"}),
                  ("small", {"max_classification": "confidential"}))
    result = plan(policies, policies.level("secret"), locs)
    assert not result.allowed
    assert result.decision.rule == "replication.min_copies"
    assert FORBID in result.decision.reason
    assert "location.max_classification" in result.decision.reason


def test_locations_on_one_site_count_as_one_copy(policies: Policies) -> None:
    locs = places(("a", {"site": "hanoi"}), ("b", {"site": "hanoi"}), ("c", {"site": "hue"}))
    assert plan(policies, policies.level(None), locs).add == ("a", "c")
    assert plan(policies, policies.level(None), locs, have=["a"]).add == ("c",)
    assert plan(policies, policies.level(None), locs, have=["a", "c"]).add == ()


def test_fresh_home_with_one_location_stores_one_copy(policies: Policies) -> None:
    result = plan(policies, policies.level("secret"), places(("local", {})))
    assert result.allowed and result.add == ("local",) and result.required == 1
    strict = with_rules(policies, allow_fewer_when_locations_missing=False)
    assert not plan(strict, strict.level(None), places(("local", {}))).allowed


def test_qcvn_three_copies_one_on_write_once_media(policies: Policies) -> None:
    qcvn = with_rules(policies, levels={"secret": {
        "min_copies": 3, "at_least_one_on": [{"write_once": True}, {"offline": True}],
        "source": "QCVN 12:2026"}})
    plain = places(("a", {}), ("b", {}), ("c", {}))
    refused = plan(qcvn, qcvn.level("secret"), plain)
    assert refused.decision.rule == "replication.levels.secret"
    assert "write-once or offline" in refused.decision.reason
    locs = [*plain, *places(("worm", {"write_once": True, "media": "optical"}))]
    result = plan(qcvn, qcvn.level("top-secret"), locs)  # the rule binds the level above too
    assert result.allowed and result.add == ("worm", "a", "b") and result.required == 3
    assert plan(qcvn, qcvn.level("confidential"), locs).add == ("a", "b")


def test_a_policy_naming_an_unknown_level_is_a_config_error(policies: Policies) -> None:
    bad = with_rules(policies, forbid=[{"name": "x", "from_level": "sercet",
                                        "where": {"network": ["cloud"]}}])
    with pytest.raises(ConfigError, match=r"forbid\.x\.from_level"):
        plan(bad, bad.level("secret"), places(("a", {})))


def test_empty_match_and_duplicate_rule_names_are_refused(policies: Policies) -> None:
    with pytest.raises(ValueError, match="at least one of"):
        with_rules(policies, forbid=[{"name": "x", "from_level": "secret", "where": {}}])
    rule = {"name": "x", "from_level": "secret", "where": {"offline": True}}
    with pytest.raises(ValueError, match="unique"):
        with_rules(policies, forbid=[rule, rule])
