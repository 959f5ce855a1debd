"""Bearer-token authentication for the API: the caller is the user their token acts for."""

from __future__ import annotations

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from repository.api.app import get_repo
from repository.context import Repository
from repository.tokens import authenticate

bearer = HTTPBearer(auto_error=False, description="khoso token create --user NAME")


def current_user(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                 repo: Repository = Depends(get_repo)) -> str:
    """The name of the authenticated user (401 otherwise, with the reason)."""
    token = credentials.credentials if credentials else None
    return authenticate(repo, token).name
