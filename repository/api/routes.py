"""The API under /api: records, grants, copies. Every route calls the same service the CLI
calls, so the HTTP and command-line decisions are the same decisions."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, status
from fastapi.responses import StreamingResponse

from repository.api.app import get_repo
from repository.api.auth import current_user
from repository.api.schemas import ERRORS, AipId, CopyIn, GrantIn, RevokeIn, RowId
from repository.context import Repository
from storage.backend import CHUNK

router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/aips", tags=["records"], summary="Records the caller may see")
def list_aips(user: str = Depends(current_user),
              repo: Repository = Depends(get_repo)) -> dict:
    from repository.visibility import visible_aips

    return visible_aips(repo, user)


@router.get("/aips/{aip_id}", tags=["records"], summary="One record: files, copies, events")
def show_aip(aip_id: AipId, user: str = Depends(current_user),
             repo: Repository = Depends(get_repo)) -> dict:
    from repository.visibility import visible_aip

    return visible_aip(repo, aip_id, user)


@router.post("/aips/{aip_id}/grants", tags=["access"], status_code=status.HTTP_201_CREATED,
             summary="Grant a user access to a record (the caller approves)")
def grant(aip_id: AipId, body: GrantIn, user: str = Depends(current_user),
          repo: Repository = Depends(get_repo)) -> dict:
    from repository.users import grant as run

    return run(repo, aip_id, body.user, user, body.until, body.purpose)


@router.post("/grants/{grant_id}/revoke", tags=["access"], summary="Revoke a grant")
def revoke(grant_id: RowId, body: RevokeIn, user: str = Depends(current_user),
           repo: Repository = Depends(get_repo)) -> dict:
    from repository.users import revoke as run

    return run(repo, grant_id, user, body.reason)


@router.post("/aips/{aip_id}/copies", tags=["access"], status_code=status.HTTP_201_CREATED,
             summary="Request a dissemination copy (an E-ARK DIP) for the caller")
def request_copy(aip_id: AipId, body: CopyIn, user: str = Depends(current_user),
                 repo: Repository = Depends(get_repo)) -> dict:
    from repository.access import CopyRequest, make_copy

    made = make_copy(repo, aip_id, user, repo.settings.home / "dips", request=CopyRequest(
        purpose=body.purpose, purpose_code=body.purpose_code, request_id=body.request_id,
        description=body.description, as_zip=True))
    made.pop("dip")  # a server path: the caller downloads through the API instead
    return {**made, "download": f"/api/copies/{made['copy_id']}/dip"}


@router.get("/copies/{copy_id}/dip", tags=["access"], response_class=StreamingResponse,
            summary="Download a copy made for the caller (zip)",
            responses={200: {"content": {"application/zip": {}}}})
def download(copy_id: RowId, user: str = Depends(current_user),
             repo: Repository = Depends(get_repo)) -> StreamingResponse:
    from repository.downloads import open_download

    got = open_download(repo, copy_id, user)

    def chunks() -> Iterator[bytes]:
        with open(got.path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{got.filename}"',
        "Content-Length": str(got.size), "X-Khoso-SHA256": got.sha256})
