"""The FastAPI application behind ``khoso serve``.

Routers register themselves in ``ROUTERS`` (API under ``/api``, officers' pages at ``/``) and
background services (the scheduler) in ``STARTUP``/``SHUTDOWN`` hooks, so each feature lives in
its own module and this file stays the one place that assembles them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import import_module

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from repository import __version__
from repository.config import Settings
from repository.context import Repository, open_repository
from repository.errors import KhosoError

# "module:attribute" of each APIRouter to include, imported lazily.
ROUTERS: list[str] = []
ROUTERS.append("repository.api.routes:router")  # /api: records, grants, copies, downloads
ROUTERS.append("repository.api.officers:router")  # /: preservation officers' pages
# Callables taking (app, repo) run at start and stop (e.g. the scheduler).
STARTUP: list[Callable[[FastAPI, Repository], None]] = []
SHUTDOWN: list[Callable[[FastAPI, Repository], None]] = []


def _start_scheduler(app: FastAPI, repo: Repository) -> None:
    from repository.scheduler import start_in_app

    start_in_app(app, repo)


def _stop_scheduler(app: FastAPI, repo: Repository) -> None:
    from repository.scheduler import stop_in_app

    stop_in_app(app, repo)


STARTUP.append(_start_scheduler)  # active only where it holds the leader lock
SHUTDOWN.append(_stop_scheduler)


def create_app(settings: Settings, *, background: bool = True) -> FastAPI:
    """The app for one home. ``background=False`` leaves schedulers off (tests)."""
    # A broken policy file stops the server here, before the catalog is touched, not its
    # requests one by one.
    repo = open_repository(settings=settings, policies=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:
            for hook in STARTUP:
                hook(app, repo)
        try:
            yield
        finally:
            if background:
                for hook in SHUTDOWN:
                    hook(app, repo)
            repo.close()

    app = FastAPI(title="khoso", version=__version__, lifespan=lifespan,
                  description="Kho số: preservation repository API")
    app.state.repo = repo

    @app.exception_handler(KhosoError)
    async def _khoso_error(_request: Request, exc: KhosoError) -> JSONResponse:
        status = {1: 422, 2: 400, 3: 403}.get(exc.exit_code, 500)
        if exc.code == "not-found":
            status = 404
        if exc.code == "unauthenticated":  # RFC 6750 §3: say which scheme to use
            return JSONResponse(exc.as_document(), status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse(exc.as_document(), status_code=status)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    for target in ROUTERS:
        module, _, attr = target.partition(":")
        app.include_router(getattr(import_module(module), attr))
    return app


def get_repo(request: Request) -> Repository:
    """FastAPI dependency: the open repository of this app."""
    return request.app.state.repo
