"""The HTTP JSON API (FastAPI): collections, bundles with filters, detail, stats, health.

The same app serves the HTML pages of :mod:`registry.web` (home, search, bundle, run;
``/runs/{id}`` answers JSON to a client that does not ask for HTML) and the admin
routes of :mod:`registry.admin` (token-protected; everything else stays open).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry import admin, analytics, query, web
from registry.config import Settings, load_settings
from registry.db import create_schema, is_statement_timeout, make_engine, session_scope

__all__ = ["DEFAULT_QUERY_TIMEOUT", "create_app", "serve"]


def _session(request: Request) -> Iterator[Session]:
    """One session (one transaction) per request, on the app's engine."""
    with session_scope(request.app.state.engine) as session:
        yield session


DB = Annotated[Session, Depends(_session)]


#: Seconds one SQL statement of a request may run before it is stopped (503).
DEFAULT_QUERY_TIMEOUT = 2.0


def create_app(
    settings_or_db_url: Settings | str, *, query_timeout: float = DEFAULT_QUERY_TIMEOUT
) -> FastAPI:
    """Build the app for one database; the schema is created if missing.

    What a request may cost is bounded twice: its parameters (``query.MAX_*``; beyond
    them, 422) and each statement's time (``query_timeout``; beyond it, 503), so a
    costly request cannot starve the others (``/health`` included).
    """
    # A bare URL serves that database with the admin routes disabled (no token).
    settings = (settings_or_db_url if isinstance(settings_or_db_url, Settings)
                else dataclasses.replace(load_settings(db_url=settings_or_db_url),
                                         admin_token=None, admin_token_blank=False))
    db_url = settings.db_url
    # The run records are written (a sent run, a run seen finished): their own engine.
    runs_engine = make_engine(db_url)
    create_schema(runs_engine)
    # Read-only: never queue behind writers.
    engine = make_engine(db_url, immediate=False, statement_timeout=query_timeout)
    # No interactive docs: FastAPI's Swagger UI and ReDoc load their scripts from a CDN
    # (nothing here is loaded from the network); the schema is at /openapi.json.
    app = FastAPI(title="CodeBundle registry", version="0.1.0", docs_url=None, redoc_url=None)
    app.state.engine = engine
    app.state.runs_engine = runs_engine
    app.state.settings = settings

    @app.exception_handler(DBAPIError)
    def database_unavailable(_request: Request, exc: DBAPIError) -> JSONResponse:
        # A database outage is the server's state, not a bug: say so, in JSON.
        if is_statement_timeout(exc):
            return JSONResponse({"detail": f"query stopped: it ran longer than the server's "
                                           f"{query_timeout:g} s budget per statement"},
                                status_code=503)
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        return JSONResponse({"detail": f"database unavailable: {reason}"}, status_code=503)

    @app.exception_handler(query.QueryInputError)
    def refused(_request: Request, exc: query.QueryInputError) -> JSONResponse:
        detail = [{"type": "value_error", "loc": ["query", exc.parameter], "msg": exc.message}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception) -> Response:
        # Still a bug, logged by the server; the client gets JSON (a browser, a page)
        # and no internals. Starlette runs this outside the middleware: headers by hand.
        if web.wants_html(request):
            return web.secured(web.error_page(500, "Server error", "The server could not "
                                              "answer; the error is in its log."))
        return web.secured(JSONResponse({"detail": "internal server error"}, status_code=500))

    @app.get("/health")
    def get_health(session: DB) -> dict[str, Any]:
        return query.health(session)

    @app.get("/stats")
    def get_stats(session: DB) -> dict[str, int]:
        return query.stats(session)

    @app.get("/analytics/task-growth")
    def get_task_growth(session: DB) -> dict[str, Any]:
        # The latest analytics run's stored result: computing it is a workflow's job
        # (``python -m registry analytics``), never this request's.
        found = analytics.latest_report(session)
        if found is None:
            raise HTTPException(404, "no task-growth report yet: run "
                                     "`python -m registry analytics`")
        return found

    @app.get("/collections")
    def get_collections(session: DB) -> list[dict[str, Any]]:
        return query.list_collections(session)

    @app.get("/collections/{slug}")
    def get_collection(slug: str, session: DB) -> dict[str, Any]:
        found = query.get_collection_info(session, slug)
        if found is None:
            raise HTTPException(404, f"collection {slug!r} not found")
        return found

    @app.get("/bundles")
    def get_bundles(
        session: DB,
        search: str | None = None,
        # Repeat to require several (``?tag=a&tag=b``): a bundle must have them all.
        tag: Annotated[list[str] | None, Query()] = None,
        platform: Annotated[list[str] | None, Query()] = None,
        access_level: Annotated[
            str | None, Query(pattern="^(read-only|read-write|unknown)$")
        ] = None,
        collection: str | None = None,
        limit: Annotated[int, Query(ge=1, le=query.MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=query.MAX_OFFSET)] = 0,
        # Checked by query.list_bundles: anything else is a 422 that names the values.
        sort: Annotated[str | None, Query(
            description="name, date (last commit) or tasks; a leading - reverses")] = None,
    ) -> dict[str, Any]:
        return query.list_bundles(
            session, search=search, tag=tag, platform=platform, access_level=access_level,
            collection=collection, limit=limit, offset=offset, sort=sort,
        )

    @app.get("/bundles/{collection}/{slug}")
    def get_bundle(collection: str, slug: str, session: DB) -> dict[str, Any]:
        found = query.get_bundle(session, collection, slug)
        if found is None:
            if not query.collection_exists(session, collection):
                raise HTTPException(404, f"collection {collection!r} not found")
            raise HTTPException(404, f"bundle {slug!r} not found in collection {collection!r}")
        return found

    admin.add_admin_routes(app, settings.admin_token, runs_engine,
                           blank=settings.admin_token_blank)
    web.add_pages(app)
    return app


def serve(
    host: str = "127.0.0.1", port: int = 8000, settings: Settings | str | None = None
) -> None:
    """Serve the pages and the API with uvicorn until interrupted."""
    import uvicorn

    settings = settings or load_settings()
    app = create_app(settings)
    print(f"registry pages at http://{host}:{port}/ and its JSON API described at "
          f"http://{host}:{port}/openapi.json", flush=True)
    if isinstance(settings, Settings) and settings.admin_token is None:
        why = "is blank" if settings.admin_token_blank else "is not set"
        print(f"admin routes disabled: {admin.ADMIN_TOKEN_ENV} {why}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
