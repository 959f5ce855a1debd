"""Grants, revocation, conditional records, extensions and declassification through the CLI on
both catalogs: each decision is a chained event; refusals exit 3 naming the rule."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, text

from repository.catalog.models import Aip, ApiToken, Extension
from repository.context import open_repository
from repository.declassify import declassify_expired
from repository.demo import make_sample_transfer


def _events(khoso, aip: str, type_: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in khoso.json("aip", "show", aip)["events"] if e["type"] == type_]


def test_revoked_grant_refuses_later_copies_and_both_spellings_revoke(
        khoso, records, tmp_path: Path) -> None:
    first = khoso.json("grant", records["secret"], "--user", "an", "--by", "binh")["grant"]
    second = khoso.json("grant", records["secret"], "--user", "dung", "--by", "binh")["grant"]
    khoso.json("access", records["secret"], "--user", "an", "--out", tmp_path)

    refused = khoso.json("revoke", str(first), "--by", "dung", code=3)
    assert refused["error"]["details"][0]["rule"] == "revoke.role"
    khoso.json("revoke", str(first), "--by", "binh", "--reason", "hết nhu cầu")
    khoso.json("grant", "--revoke", str(second), "--by", "quan")  # an administrator

    for user in ("an", "dung"):
        error = khoso.json("access", records["secret"], "--user", user, "--out", tmp_path,
                           code=3)
        assert "access.grant-lapsed" in error["error"]["message"]
        assert "revoked" in error["error"]["message"]
    states = {g["user"]: g["state"] for g in khoso.json("grants")["grants"]}
    assert states == {"an": "revoked", "dung": "revoked"}
    again = khoso.json("revoke", str(first), "--by", "binh", code=3)
    assert again["error"]["details"][0]["rule"] == "revoke.already-revoked"
    revoked = [e for e in _events(khoso, records["secret"], "policy assignment")
               if e["detail"].get("action") == "grant revoked"]
    assert [(e["detail"]["grant"], e["detail"]["by"]) for e in revoked] == [
        (first, "binh"), (second, "quan")]
    refusals = [e["detail"]["rule"] for e in _events(khoso, records["secret"],
                                                     "access refused")]
    assert refusals.count("access.grant-lapsed") == 2 and "revoke.role" in refusals
    assert khoso("log", "verify").code == 0  # the chain holds every decision


def test_conditional_record_needs_a_grant_even_when_unclassified(
        khoso, records, tmp_path: Path) -> None:
    # Mode 02 comes from the dossier's EAD (TT 05/2025 'mode'); set here as ingest records it.
    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            session.get(Aip, records["public"]).access_mode = "02"
    finally:
        repo.close()
    error = khoso.json("access", records["public"], "--user", "an", "--out", tmp_path, code=3)
    assert "access.grant-required" in error["error"]["message"]
    assert "conditional" in error["error"]["message"]
    khoso.json("grant", records["public"], "--user", "an", "--by", "quan")
    assert khoso.json("access", records["public"], "--user", "an",
                      "--out", tmp_path)["copy_number"] == 1


def test_extension_moves_protection_and_declassification_respects_it(
        khoso, people, tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Mật", "Hồ sơ mật")
    classified_on = date.today() - timedelta(days=365 * 9)  # ends in about a year
    aip = khoso.json("ingest", folder, "--classification", "mat",
                     "--classified-on", classified_on.isoformat())["aip"]
    until = date.fromisoformat(khoso.json("aip", "show", aip)["protect_until"])

    too_long = khoso.json("extend", aip, "--years", "11", "--by", "binh", code=3)
    assert too_long["error"]["details"][0]["rule"] == "extension.max-years"
    no_authority = khoso.json("extend", aip, "--years", "5", "--by", "an", code=3)
    assert no_authority["error"]["details"][0]["rule"] == "extension.role"
    done = khoso.json("extend", aip, "--years", "10", "--by", "chi", "--reason", "lợi ích")
    new_until = date.fromisoformat(done["protect_until"])
    assert done["previous_until"] == until.isoformat()
    assert new_until == until.replace(year=until.year + 10)
    assert khoso.json("aip", "show", aip)["protect_until"] == new_until.isoformat()

    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            rows = list(session.scalars(select(Extension).where(Extension.aip_id == aip)))
        assert [(r.years, r.previous_until, r.new_until) for r in rows] == [
            (10, until, new_until)]
        assert declassify_expired(repo, today=until + timedelta(days=1))["declassified"] == []
        done_later = declassify_expired(repo, today=new_until)["declassified"]
        assert [d["aip"] for d in done_later] == [aip] and done_later[0]["extensions"] == 1
    finally:
        repo.close()
    events = [e["outcome"] for e in _events(khoso, aip, "protection extension")]
    assert events == ["failure", "failure", "success"]
    assert _events(khoso, aip, "declassification")[-1]["detail"]["rule"] == "declassify.expired"


def test_extension_later_than_60_days_before_expiry_is_refused(khoso, people,
                                                               tmp_path: Path) -> None:
    folder, _ = make_sample_transfer(tmp_path / "in", "Sắp hết hạn", "Hồ sơ mật")
    near = date.today() - timedelta(days=365 * 10 - 30)  # about 30 days left
    aip = khoso.json("ingest", folder, "--classification", "mat",
                     "--classified-on", near.isoformat())["aip"]
    error = khoso.json("extend", aip, "--years", "1", "--by", "binh", code=3)
    assert error["error"]["details"][0]["rule"] == "extension.deadline"
    assert "60 days" in error["error"]["message"]
    assert khoso("extend", aip, "--years", "1", "--by", "binh").code == 3


def test_token_is_printed_once_and_only_its_digest_is_stored(khoso, people) -> None:
    made = khoso.json("token", "create", "--user", "an", "--label", "máy đọc",
                      "--expires", "2099-12-31")
    token = made["token"]
    assert token.startswith("khoso_") and len(token) > 40
    listed = khoso.json("token", "list")["tokens"]
    assert listed == [{"token_id": made["token_id"], "user": "an", "label": "máy đọc",
                       "created": listed[0]["created"], "expires": made["expires"],
                       "state": "active"}]
    assert token not in khoso("token", "list", "--json").out
    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            row = session.scalar(select(ApiToken))
            assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
            dump = " ".join(str(v) for r in session.execute(text("SELECT * FROM api_tokens"))
                            for v in r)
            assert token not in dump
    finally:
        repo.close()
    khoso.json("token", "revoke", str(made["token_id"]))
    assert khoso.json("token", "list")["tokens"][0]["state"] == "revoked"
    assert khoso.json("token", "revoke", str(made["token_id"]), code=2)
