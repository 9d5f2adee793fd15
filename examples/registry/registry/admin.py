"""The admin API: start a sync, a re-enhancement or a beat entry; follow it at /runs/{id}.

    POST /admin/sync                        the whole pipeline (collections.yaml)
    POST /admin/collections/{slug}/sync     one stored collection
    POST /admin/enhance                     every failed or pending bundle again
    POST /admin/schedules/{name}/run        one beat_schedule entry, now

Each answers ``202 Accepted`` with the run's id and ``Location: /runs/{id}`` as soon as
the validated workflow is on the broker (:mod:`registry.operations`): nothing runs in
the request, so a request costs the same with no worker at all. A client may send an
``Idempotency-Key`` header: the same key again returns the same run and sends nothing.

Every admin route wants ``Authorization: Bearer <token>``, the token the server was
given in ``REGISTRY_ADMIN_TOKEN`` (surrounding whitespace stripped), compared in
constant time. With no token configured, or a blank one, the routes answer 403 saying
which and do nothing; a token holding a control character, which no header can carry,
stops the server from starting. The read-only API and the pages stay open.

A run whose send failed (503) frees its ``Idempotency-Key``: a retry with the same key
tries again instead of being told that a run which never started was started.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from registry.db import session_scope
from registry.redact import redact

__all__ = ["ADMIN_TOKEN_ENV", "add_admin_routes", "bearer_guard"]

#: Where the server reads the admin token from (``registry.config.Settings.admin_token``).
ADMIN_TOKEN_ENV = "REGISTRY_ADMIN_TOKEN"
_CHALLENGE = 'Bearer realm="registry admin"'
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces, at most 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def bearer_guard(token: str | None, *, blank: bool = False) -> Callable[[Request], None]:
    """A dependency refusing any request without ``Authorization: Bearer <token>``.

    Missing or malformed header: 401 with ``WWW-Authenticate``; a wrong token: 403; no
    token configured (``blank``: it was set but blank): 403, every time. The comparison
    takes the same time wherever the tokens differ (``hmac.compare_digest`` on the UTF-8
    bytes). ``ValueError`` for a token no request could ever match.
    """
    if token is not None and (token != token.strip() or _CONTROL.search(token)):
        raise ValueError(f"{ADMIN_TOKEN_ENV} holds surrounding whitespace or a control "
                         "character, which no Authorization header can carry: no request "
                         "could ever match it; refusing to start")
    expected = token.encode() if token else None
    why = (f"the server's {ADMIN_TOKEN_ENV} is blank (whitespace only)" if blank
           else "the server has no admin token")

    def check(request: Request) -> None:
        if expected is None:
            raise HTTPException(403, f"admin endpoints are disabled: {why} "
                                     f"(set {ADMIN_TOKEN_ENV} where it runs)")
        header = request.headers.get("authorization")
        if not header:
            raise HTTPException(401, "an admin token is required: "
                                     "Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": _CHALLENGE})
        scheme, _, given = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise HTTPException(401, "the Authorization header must be: Bearer <token>",
                                headers={"WWW-Authenticate":
                                         f'{_CHALLENGE}, error="invalid_request"'})
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(403, "wrong admin token")

    return check


def _idempotency_key(
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str | None:
    if key is not None and not _KEY.match(key):
        raise HTTPException(422, "Idempotency-Key: 1 to 200 printable ASCII characters, "
                                 "no spaces")
    return key


Key = Annotated[str | None, Depends(_idempotency_key)]


def add_admin_routes(
    app: FastAPI, token: str | None, runs_engine: Engine, *, blank: bool = False
) -> None:
    """Add the ``/admin`` routes to ``app``; ``runs_engine`` writes the run records."""
    guard = bearer_guard(token, blank=blank)
    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(guard)])
    read_engine: Engine = app.state.engine

    def start(build: Callable[[], Any], key: str | None) -> JSONResponse:
        from registry import operations

        try:
            action = build()
            sent = operations.send(action, runs_engine, request_key=key)
        except operations.ActionRefused as exc:
            return JSONResponse({"detail": redact(exc.message)}, status_code=exc.status)
        except operations.SendFailed as exc:  # the broker or result store is down
            return JSONResponse({"detail": redact(f"the broker did not take run {exc.run_id}: "
                                                  f"{exc.reason}")[:500],
                                 "run_id": exc.run_id}, status_code=503)
        url = f"/runs/{sent.run_id}"
        headers = {"Location": url}
        if sent.replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(
            {"run_id": sent.run_id, "action": action.label, "url": url,
             "replayed": sent.replayed},
            status_code=202, headers=headers)

    @router.post("/sync", status_code=202)
    def sync_all(request: Request, key: Key) -> JSONResponse:
        """Sync every collection of collections.yaml, enhance, summarise."""
        from registry import operations

        settings = request.app.state.settings
        return start(lambda: operations.sync_all(settings), key)

    @router.post("/collections/{slug}/sync", status_code=202)
    def sync_collection(slug: str, key: Key) -> JSONResponse:
        """Sync one stored collection (404 naming it when it is not stored)."""
        from registry import operations

        def build() -> Any:
            with session_scope(read_engine) as session:
                return operations.sync_collection(session, slug)

        return start(build, key)

    @router.post("/enhance", status_code=202)
    def enhance(key: Key) -> JSONResponse:
        """Enhance every failed or pending bundle again."""
        from registry import operations

        return start(operations.reenhance, key)

    @router.post("/schedules/{name}/run", status_code=202)
    def run_schedule(name: str, key: Key) -> JSONResponse:
        """Send beat's entry ``name`` now (404 with a did-you-mean when there is none)."""
        from registry import operations
        from registry.celery_app import app as celery_app

        return start(lambda: operations.run_schedule_entry(celery_app, name), key)

    app.include_router(router)
