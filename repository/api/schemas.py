"""Request and error bodies of the API, with the limits TT 05/2025 Annex V sets.

Text fields refuse control characters other than tab and newline (PostgreSQL cannot store NUL,
and no legitimate purpose contains them), so bad input is a 422, never a server error.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NAME = r"^[^\x00-\x1f\x7f]+$"

AipId = Annotated[str, Path(min_length=1, max_length=100, pattern=NAME,
                            description="AIP id, e.g. urn:uuid:…")]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrantIn(_In):
    user: str = Field(min_length=1, max_length=100, pattern=NAME,
                      description="Who receives access")
    until: date | None = Field(default=None, description="Last day of the grant")
    purpose: str = Field(default="", max_length=500, pattern=TEXT)


class RevokeIn(_In):
    reason: str = Field(default="", max_length=500, pattern=TEXT)


class CopyIn(_In):
    purpose: str = Field(default="", max_length=500, pattern=TEXT,
                         description="purposeContent (TT 05/2025 Annex V)")
    purpose_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$",
                                     description="01 personal, 02 official, 03 special")
    request_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=NAME)
    description: str = Field(default="", max_length=2000, pattern=TEXT)


class ErrorBody(BaseModel):
    code: int
    kind: str
    message: str
    details: list[dict] = []


class ErrorDoc(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict] = {
    401: {"model": ErrorDoc, "description": "no token, or an unknown, expired or revoked one"},
    403: {"model": ErrorDoc, "description": "refused by a policy rule (named in details)"},
    404: {"model": ErrorDoc, "description": "no such record, user, grant or copy"},
}
