"""The HTTP API on both catalogs (FastAPI TestClient): every refusal path, the same decisions
as the CLI, a copy requested and downloaded as a zip stream."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from repository.api.app import create_app
from repository.catalog.models import ApiToken, Copy
from repository.config import load_settings
from repository.context import open_repository
from tests.helpers.pdf import pdf_pages

UNKNOWN = "urn:uuid:00000000-0000-0000-0000-000000000000"


@pytest.fixture
def client(khoso, records) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(load_settings(str(khoso.home)), background=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(khoso, records) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One token per person (the service `khoso token create` calls, in one session)."""
    from repository.tokens import create

    repo = open_repository(str(khoso.home))
    try:
        return {name: create(repo, name, None, None)["token"]
                for name in ("an", "dung", "binh", "chi", "quan")}
    finally:
        repo.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rule(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["error"]["details"][0]["rule"]


def _edit_token(home: Path, token: str, **values: object) -> None:
    repo = open_repository(str(home))
    try:
        with repo.catalog.session() as session:
            row = session.scalar(select(ApiToken).where(
                ApiToken.token_sha256 == hashlib.sha256(token.encode()).hexdigest()))
            for key, value in values.items():
                setattr(row, key, value)
    finally:
        repo.close()


def test_requests_without_a_valid_token_are_401(khoso, client, tokens, records) -> None:
    path = f"/api/aips/{records['public']}"
    missing = client.get(path)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    bad = client.get(path, headers=_auth("khoso_not-a-token"))
    assert bad.status_code == 401 and "unknown token" in bad.json()["error"]["message"]
    assert client.get(path, headers={"Authorization": "Basic YW46eA=="}).status_code == 401

    _edit_token(khoso.home, tokens["dung"], revoked_at=datetime.now(UTC))
    revoked = client.get(path, headers=_auth(tokens["dung"]))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    _edit_token(khoso.home, tokens["chi"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expired = client.get(path, headers=_auth(tokens["chi"]))
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]
    assert client.get(path, headers=_auth(tokens["an"])).status_code == 200
    _unknown_records_copies_and_grants_are_404(client, tokens)
    _bad_input_is_422_not_a_server_error(client, tokens, records)
    _openapi_document_is_published(client)


def test_reader_sees_only_open_records_and_is_refused_a_classified_one(
        khoso, client, tokens, records) -> None:
    listed = client.get("/api/aips", headers=_auth(tokens["an"])).json()["aips"]
    assert [a["aip"] for a in listed] == [records["public"]]
    everything = client.get("/api/aips", headers=_auth(tokens["binh"])).json()["aips"]
    assert {a["aip"] for a in everything} == set(records.values())

    shown = client.get(f"/api/aips/{records['secret']}", headers=_auth(tokens["an"]))
    assert shown.status_code == 403 and _rule(shown) == "access.grant-required"
    copy = client.post(f"/api/aips/{records['secret']}/copies", json={"purpose": "xem"},
                       headers=_auth(tokens["an"]))
    assert copy.status_code == 403 and _rule(copy) == "access.grant-required"
    assert "Tối mật" in copy.json()["error"]["message"]
    refused = [e for e in khoso.json("aip", "show", records["secret"])["events"]
               if e["type"] == "access refused"]
    assert {e["detail"].get("action", "copy") for e in refused} == {"view", "copy"}
    _grants_need_authority_over_the_level(client, tokens, records)


def _grants_need_authority_over_the_level(client, tokens, records) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/aips/{records['secret']}/grants"
    by_reader = client.post(url, json={"user": "an"}, headers=_auth(tokens["dung"]))
    assert by_reader.status_code == 403 and _rule(by_reader) == "grant.approver-role"
    low = client.post(url, json={"user": "an"}, headers=_auth(tokens["chi"]))
    assert low.status_code == 403 and _rule(low) == "grant.authority"
    assert "Điều 11 k2" in low.json()["error"]["message"]
    nobody = client.post(url, json={"user": "ghost"}, headers=_auth(tokens["binh"]))
    assert nobody.status_code == 404
    past = client.post(url, json={"user": "an", "until": "2001-01-01"},
                       headers=_auth(tokens["binh"]))
    assert past.status_code == 400


def _unknown_records_copies_and_grants_are_404(client, tokens) -> None:  # type: ignore[no-untyped-def]
    headers = _auth(tokens["binh"])
    assert client.get(f"/api/aips/{UNKNOWN}", headers=headers).status_code == 404
    assert client.post(f"/api/aips/{UNKNOWN}/copies", json={},
                       headers=headers).status_code == 404
    assert client.post(f"/api/aips/{UNKNOWN}/grants", json={"user": "an"},
                       headers=headers).status_code == 404
    assert client.get("/api/copies/999/dip", headers=headers).status_code == 404
    assert client.post("/api/grants/999/revoke", json={}, headers=headers).status_code == 404


def test_granted_copy_downloads_as_a_marked_zip_only_for_its_recipient(
        khoso, client, tokens, records, tmp_path: Path) -> None:
    granted = client.post(f"/api/aips/{records['secret']}/grants",
                          json={"user": "an", "purpose": "nghiên cứu", "until": "2099-01-01"},
                          headers=_auth(tokens["binh"]))
    assert granted.status_code == 201
    made = client.post(f"/api/aips/{records['secret']}/copies",
                       json={"purpose": "nghiên cứu", "purpose_code": "02"},
                       headers=_auth(tokens["an"]))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["copy_number"] == 1 and "dip" not in body  # no server path leaks

    other = client.get(body["download"], headers=_auth(tokens["dung"]))
    assert other.status_code == 403 and _rule(other) == "download.recipient"
    got = client.get(body["download"], headers=_auth(tokens["an"]))
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert hashlib.sha256(got.content).hexdigest() == body["package_sha256"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as zf:
        pdf = next(n for n in zf.namelist() if n.endswith(".pdf"))
        (tmp_path / "c.pdf").write_bytes(zf.read(pdf))
    pages = pdf_pages(tmp_path / "c.pdf")
    assert all("TỐI MẬT" in p for p in pages) and "Bản sao số 1" in pages[0]

    revoked = client.post(f"/api/grants/{granted.json()['grant']}/revoke",
                          json={"reason": "xong"}, headers=_auth(tokens["binh"]))
    assert revoked.status_code == 200
    late = client.get(body["download"], headers=_auth(tokens["an"]))
    assert late.status_code == 403 and _rule(late) == "access.grant-lapsed"
    downloads = [e for e in khoso.json("aip", "show", records["secret"])["events"]
                 if e["type"] == "dissemination" and e["detail"].get("action") == "download"]
    assert len(downloads) == 1
    _download_window_closes(khoso, client, tokens, records)


def _download_window_closes(khoso, client, tokens, records) -> None:  # type: ignore[no-untyped-def]
    made = client.post(f"/api/aips/{records['public']}/copies", json={},
                       headers=_auth(tokens["an"])).json()
    repo = open_repository(str(khoso.home))
    try:
        with repo.catalog.session() as session:
            session.get(Copy, made["copy_id"]).made_at = datetime.now(UTC) - timedelta(days=16)
    finally:
        repo.close()
    late = client.get(made["download"], headers=_auth(tokens["an"]))
    assert late.status_code == 403 and _rule(late) == "download.window"


def _bad_input_is_422_not_a_server_error(client, tokens, records) -> None:  # type: ignore[no-untyped-def]
    headers = _auth(tokens["binh"])
    url = f"/api/aips/{records['public']}/grants"
    assert client.post(url, json={"user": "a\x00b"}, headers=headers).status_code == 422
    assert client.post(url, json={"user": "an", "x": 1}, headers=headers).status_code == 422
    assert client.post("/api/grants/99999999999/revoke", json={},
                       headers=headers).status_code == 422
    assert client.get("/api/aips/a%00b", headers=headers).status_code == 422


def _openapi_document_is_published(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/openapi.json").json()
    assert {"/api/aips", "/api/aips/{aip_id}", "/api/aips/{aip_id}/grants",
            "/api/aips/{aip_id}/copies", "/api/copies/{copy_id}/dip",
            "/api/grants/{grant_id}/revoke"} <= set(doc["paths"])
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
