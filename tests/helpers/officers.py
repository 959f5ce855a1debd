"""A user with an API token, for the officers' pages and the API."""

from __future__ import annotations


def token_for(khoso, name: str, role: str = "preservation-officer",  # type: ignore[no-untyped-def]
              authority: str | None = None) -> str:
    khoso.ok("user", "add", name, "--role", role,
             *(["--authority", authority] if authority else []))
    return khoso.json("token", "create", "--user", name)["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
