"""`khoso report` and the officers' pages of `khoso serve` (both catalogs): coverage within
the policy window per location, problems, repairs, unrecoverable files, trend."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from repository.api.app import create_app
from repository.catalog.models import WebSession
from repository.config import load_settings
from tests.helpers.holdings import set_checked
from tests.helpers.officers import bearer, token_for
from tests.helpers.storage import flip_byte, location_root, stored_files


@pytest.fixture
def damaged(khoso, holding) -> dict:  # type: ignore[no-untyped-def]
    """AIP 0: one file damaged in both copies (unrecoverable); AIP 1: one copy damaged
    (repaired); AIP 1's local copy then looks last verified 100 days ago."""
    lost, fixed = holding
    files = {a: khoso.json("aip", "show", a)["files"] for a in holding}
    for loc in ("local", "offsite"):
        flip_byte(location_root(khoso.home, loc) / lost.replace(":", "_") / files[lost][0]["path"])
    flip_byte(location_root(khoso.home, "offsite") / fixed.replace(":", "_")
              / files[fixed][2]["path"])
    khoso.json("audit", code=1)
    khoso.json("repair", code=1)
    return {"lost": lost, "fixed": fixed, "lost_path": files[lost][0]["path"],
            "fixed_path": files[fixed][2]["path"]}


def test_report_shows_coverage_problems_repairs_and_trend(khoso, damaged, repo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    set_checked(repo, damaged["fixed"], "local", ago=timedelta(days=100))
    report = khoso.ok("report", "--format", "json").json

    coverage = {loc["location"]: loc["coverage"] for loc in report["locations"]}
    assert coverage == {"local": 0.0, "offsite": 0.5}
    assert report["coverage"]["coverage"] == 0.25
    assert report["open_problem_count"] == 2
    assert {(u["location"], u["path"]) for u in report["unrecoverable"]} == {
        ("local", damaged["lost_path"]), ("offsite", damaged["lost_path"])}
    assert report["repairs"] == 1
    assert [(r["location"], r["source"], r["path"]) for r in report["recent_repairs"]] == [
        ("offsite", "local", damaged["fixed_path"])]
    [today] = report["audit_trend"]
    assert (today["success"], today["failure"], today["problems"]) == (1, 3, 3)
    assert len(report["last_audits"]) == 1 and report["event_log"]["intact"] is True

    csv_text = khoso.ok("report", "--format", "csv").out
    assert f"unrecoverable,local,{damaged['lost']},{damaged['lost_path']}" in csv_text
    assert f"repair,offsite,{damaged['fixed']},{damaged['fixed_path']},local" in csv_text

    out = tmp_path / "report.html"
    khoso.ok("report", "--format", "html", "--out", out)
    html = out.read_text(encoding="utf-8")
    assert damaged["lost_path"] in html and html.count("<svg") >= 3
    # Works on an isolated network: nothing to fetch, nothing to run.
    assert "http" not in html and "<script" not in html and "src=" not in html


def test_officers_pages_show_the_collection_and_each_aip(khoso, damaged) -> None:  # type: ignore[no-untyped-def]
    officer = token_for(khoso, "bao-quan", "preservation-officer")
    reader = token_for(khoso, "doc-gia", "reader")
    app = create_app(load_settings(str(khoso.home)))
    with TestClient(app) as client:
        assert app.state.scheduler.active is True  # `khoso serve` runs the schedules
        # Nobody signed in: every page and download sends the browser to /login.
        for path in ("/", f"/aips/{damaged['lost']}", "/aips", "/report.csv"):
            moved = client.get(path, follow_redirects=False)
            assert moved.status_code == 303 and moved.headers["location"].startswith("/login")
        assert "offsite" not in client.get("/").text
        # A reader's token is refused, a wrong one too; an officer's token signs in.
        refused = client.post("/login", data={"token": reader, "next": "/"})
        assert refused.status_code == 403 and "may not audit" in refused.text
        assert client.post("/login", data={"token": "khoso_nope"}).status_code == 401
        signed = client.post("/login", data={"token": officer, "next": "/aips"},
                             follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/aips"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = client.get("/")
        assert page.status_code == 200
        assert "offsite" in page.text and damaged["lost_path"] in page.text
        assert f'href="/aips/{damaged["lost"]}"' in page.text
        aip = client.get(f"/aips/{damaged['lost']}")
        assert aip.status_code == 200
        assert damaged["lost_path"] in aip.text and "corrupt" in aip.text
        found = client.get("/aips", params={"q": damaged["fixed"][-12:]})
        assert damaged["fixed"] in found.text and damaged["lost"] not in found.text
        csv_doc = client.get("/report.csv")
        assert csv_doc.headers["content-type"].startswith("text/csv")
        assert client.get("/aips/urn:uuid:NOPE").status_code == 404
        # Signed out: back to the sign-in page. An open redirect is not followed.
        client.post("/logout")
        assert client.get("/", follow_redirects=False).status_code == 303
        away = client.post("/login", data={"token": officer, "next": "//evil.example/"},
                           follow_redirects=False)
        assert away.headers["location"] == "/"
    with TestClient(create_app(load_settings(str(khoso.home)), background=False)) as client:
        as_client = client.get("/report.json", headers=bearer(officer))
        assert as_client.status_code == 200 and damaged["lost"] in as_client.text
    assert app.state.scheduler.active is False


def test_names_of_classified_files_show_only_within_the_officers_authority(  # type: ignore[no-untyped-def]
        khoso, tmp_path) -> None:
    from repository.demo import make_sample_transfer

    folder, _ = make_sample_transfer(tmp_path / "in", "Hồ sơ mật", "x")
    aip = khoso.json("ingest", folder, "--classification", "mat")["aip"]
    path = khoso.json("aip", "show", aip)["files"][0]["path"]
    payload = [f["path"] for f in khoso.json("aip", "show", aip)["files"]
               if f["path"].startswith("data/representations/")]
    # Damage every stored object of the AIP in "local": its problems reach the dashboard.
    for stored in stored_files(location_root(khoso.home, "local") / aip.replace(":", "_")):
        stored.chmod(0o600)
        flip_byte(stored)
    khoso.json("audit", code=1)
    without = token_for(khoso, "bao-quan", "preservation-officer")
    within = token_for(khoso, "truong-kho", "administrator", authority="mat")
    with TestClient(create_app(load_settings(str(khoso.home)), background=False)) as client:
        seen = {}
        for name, token in (("without", without), ("within", within)):
            auth = bearer(token)
            page = client.get(f"/aips/{aip}", headers=auth)
            dashboard = client.get("/", headers=auth)
            assert page.status_code == dashboard.status_code == 200
            seen[name] = page.text + dashboard.text
    assert not any(p in seen["without"] for p in payload)
    assert "classified name" in seen["without"]
    assert all(p in seen["within"] for p in payload)
    assert path in seen["within"] and "classified name" not in seen["within"]


def test_a_signed_in_browser_holds_a_server_session_never_the_token(khoso, holding, repo) -> None:  # type: ignore[no-untyped-def]
    officer = token_for(khoso, "bao-quan")
    token_id = khoso.json("token", "list")["tokens"][0]["token_id"]
    app = create_app(load_settings(str(khoso.home)), background=False)

    def rows() -> list[WebSession]:
        with repo.catalog.session() as session:
            found = list(session.scalars(select(WebSession).order_by(WebSession.id)))
            session.expunge_all()
            return found

    def shift(**ago: timedelta) -> None:  # move the newest session's times into the past
        with repo.catalog.session() as session:
            row = session.scalars(select(WebSession).order_by(WebSession.id.desc())).first()
            for column, by in ago.items():
                setattr(row, column, getattr(row, column) - by)

    def sees(client: TestClient) -> int:
        return client.get("/", follow_redirects=False).status_code

    with TestClient(app) as client, TestClient(app) as thief:
        client.post("/login", data={"token": officer, "next": "/"})
        cookie = client.cookies.get("khoso_session")
        # A random secret (32 bytes), not the token nor any field of it (an id, an expiry).
        assert officer not in cookie and re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
        # The catalog keeps the secret's SHA-256 only: a copy of the catalog opens nothing.
        (row,) = rows()
        assert row.secret_sha256 == hashlib.sha256(cookie.encode()).hexdigest()
        assert row.token_id == token_id and row.ended_at is None
        assert cookie not in repr(vars(row))
        assert sees(client) == 200
        # Cookies this server never handed out are refused.
        for forged in ("garbage", cookie[:-1] + ("A" if cookie[-1] != "A" else "B")):
            thief.cookies.set("khoso_session", forged)
            assert sees(thief) == 303
        # A copy of the cookie works until the officer signs out, then never again.
        thief.cookies.set("khoso_session", cookie)
        assert sees(thief) == 200
        signed_out = client.post("/logout")
        assert "You signed out" in signed_out.text
        assert client.cookies.get("khoso_session") is None
        assert sees(thief) == 303 and rows()[0].ended_at is not None

        # Activity is noted at most once a minute; 30 idle minutes end the session for good.
        client.post("/login", data={"token": officer, "next": "/"})
        shift(last_seen_at=timedelta(minutes=2))
        assert sees(client) == 200
        assert datetime.now(UTC) - rows()[-1].last_seen_at < timedelta(minutes=1)
        shift(last_seen_at=timedelta(minutes=31))
        moved = client.get("/aips", follow_redirects=False)
        assert moved.status_code == 303 and rows()[-1].ended_at is not None
        # The sign-in page says why, from a fixed text picked by key, never from the request.
        assert moved.headers["location"] == "/login?next=/aips&ended=idle"
        assert "30 idle minutes" in client.get(moved.headers["location"]).text
        odd = client.get("/login", params={"ended": "<b>x</b>"})
        assert odd.status_code == 200 and "<b>x" not in odd.text and "session-ended" not in odd.text
        shift(last_seen_at=-timedelta(minutes=31))  # seen again "now": still ended, as idle
        assert "ended=idle" in client.get("/", follow_redirects=False).headers["location"]

        # However active, a session ends 12 hours after sign-in.
        client.post("/login", data={"token": officer, "next": "/"})
        assert sees(client) == 200
        shift(expires_at=timedelta(hours=12, seconds=1))
        moved = client.get("/", follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"].endswith("&ended=expired")

        # Signing in again from a browser ends the session it held before.
        client.post("/login", data={"token": officer, "next": "/"})
        earlier = client.cookies.get("khoso_session")
        client.post("/login", data={"token": officer, "next": "/"})
        assert client.cookies.get("khoso_session") != earlier
        thief.cookies.set("khoso_session", earlier)
        assert sees(thief) == 303 and sees(client) == 200
        assert [r.ended_why for r in rows()[-2:]] == ["replaced", None]
        assert rows()[0].ended_why == "signed-out"

        # Revoking the token ends the sessions it opened, in the catalog, and says so.
        assert rows()[-1].ended_at is None
        revoked = khoso.json("token", "revoke", str(token_id))
        assert revoked["sessions_ended"] == 1
        assert [r.ended_why for r in rows()[-2:]] == ["replaced", "revoked"]
        moved = client.get("/", follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"].endswith("&ended=revoked")
        assert "thu hồi" in client.get(moved.headers["location"]).text
        thief.cookies.set("khoso_session", client.cookies.get("khoso_session"))
        assert sees(thief) == 303
        assert len(rows()) == 5 and all(r.token_id == token_id for r in rows())
