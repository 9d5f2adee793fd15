"""Server-rendered pages beside the JSON API: home, search, bundle, pipeline run, analytics.

Everything a collection provides (names, docs, tags, README text, errors) is untrusted:
templates autoescape it, it only reaches a URL through :func:`urlencode`/:func:`quote`
into a relative link or through :func:`source_url`'s allow-list, and every response
carries :data:`CONTENT_SECURITY_POLICY`, which allows no script at all, but the page
of a run still going, allowed one script by its hash (:data:`LIVE_RUN_POLICY`). The pages
read with the same :mod:`registry.query` functions, filters and limits as the API; a
refused filter is a 422 page, an unknown bundle or run a 404 page.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry import analytics, query, runs
from registry.admin import bearer_guard
from registry.charts import growth_svg
from registry.db import session_scope
from registry.links import ALLOWED_SOURCE_HOSTS, source_url
from registry.readme import render_readme
from registry.redact import redact

__all__ = [
    "ALLOWED_SOURCE_HOSTS",
    "CONTENT_SECURITY_POLICY",
    "LIVE_RUN_POLICY",
    "LIVE_SCRIPT",
    "PAGE_SIZE",
    "add_pages",
    "ago",
    "error_page",
    "iam_rows",
    "inline_svg",
    "secured",
    "source_url",
    "wants_html",
]

#: The one script a page may run (the page of a run still going): it fetches the page
#: again every 2 s and swaps its live part in place, so the reader keeps their place
#: (a reload jumped back to the top); it stops once the run is over. Without
#: scripts, the page reloads itself instead (``<noscript>`` refresh).
LIVE_SCRIPT = """(function () {
  var live = document.getElementById("run-live");
  if (!live || live.dataset.going !== "1") { return; }
  function tick() {
    fetch(location.pathname, {headers: {"Accept": "text/html"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (text) {
        var page = new DOMParser().parseFromString(text, "text/html");
        var next = page.getElementById("run-live");
        if (!next) { return; }
        live.replaceChildren.apply(live, Array.prototype.slice.call(next.childNodes));
        live.dataset.going = next.dataset.going;
        if (next.dataset.going === "1") { setTimeout(tick, 2000); }
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2000);
})();"""
LIVE_SCRIPT_HASH = "sha256-" + base64.b64encode(
    hashlib.sha256(LIVE_SCRIPT.encode()).digest()).decode("ascii")
#: No script anywhere; inline styles (the pages' own CSS) and images from here or
#: ``data:`` (the run's SVG); forms post only here; no framing, no <base>.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The page of a run still going: the same, plus :data:`LIVE_SCRIPT` (by its hash,
#: nothing else) and its fetches of this site.
LIVE_RUN_POLICY = CONTENT_SECURITY_POLICY.replace(
    "default-src 'none';", f"default-src 'none'; script-src '{LIVE_SCRIPT_HASH}'; "
    "connect-src 'self';")
PAGE_SIZE = 20
_RUN_ID = re.compile(r"^[A-Za-z0-9-]{1,155}$")
_PAGE_PARAMETERS = {"limit": "per_page", "offset": "page", "search": "q"}
#: Seconds between reloads of the page of a run still going.
REFRESH_SECONDS = 2


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("registry", "templates"), autoescape=True,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["q"] = lambda value: quote(str(value), safe="")
    env.filters["redact"] = lambda value: redact(str(value)) if value else value
    env.filters["ago"] = ago
    return env


_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
          ("day", 86400), ("hour", 3600), ("minute", 60))


def ago(value: str | dt.datetime | None, now: dt.datetime | None = None,
        never: str = "never") -> Markup:
    """A ``<time>`` saying how long ago ``value`` was ("3 minutes ago"), the exact UTC
    time on hover and in its ``datetime``; ``never`` for ``None``. Naive times are UTC."""
    if value is None or value == "":
        return Markup(escape(never))
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    when = when.astimezone(dt.timezone.utc)
    seconds = ((now or dt.datetime.now(dt.timezone.utc)) - when).total_seconds()
    words = "just now"
    for unit, size in _UNITS:
        if abs(seconds) >= size:
            count = int(abs(seconds) // size)
            amount = f"{count} {unit}{'' if count == 1 else 's'}"
            words = f"{amount} ago" if seconds > 0 else f"in {amount}"
            break
    exact = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        when.isoformat(timespec="seconds"), exact, words)


_ENV = _environment()


def _render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


def error_page(status_code: int, title: str, message: str) -> HTMLResponse:
    """A plain page that says what was wrong with the request, never how the server failed."""
    return _render("error.html", status_code, title=title, message=message, code=status_code)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _int_parameter(parameter: str, raw: str | None, default: int, lowest: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise query.QueryInputError(
            parameter, f"must be a whole number, got {raw[:20]!r}") from None
    if value < lowest:
        raise query.QueryInputError(parameter, f"must be at least {lowest}, got {value}")
    return value


def _search_context(request: Request, session: Session) -> dict[str, Any]:
    params = request.query_params
    search = params.get("q") or None
    tags = [t for t in params.getlist("tag") if t.strip()]
    platforms = [p for p in params.getlist("platform") if p.strip()]
    access_level = params.get("access_level") or None
    collection = params.get("collection") or None
    sort = params.get("sort") or None
    if access_level is not None and access_level not in query.ACCESS_LEVELS:
        raise query.QueryInputError(
            "access_level", f"must be one of {', '.join(query.ACCESS_LEVELS)}")
    page = _int_parameter("page", params.get("page"), 1, 1)
    # per_page is the API's limit: list_bundles checks it against query.MAX_LIMIT.
    per_page = _int_parameter("per_page", params.get("per_page"), PAGE_SIZE, 1)
    if (page - 1) * per_page > query.MAX_OFFSET:
        raise query.QueryInputError(
            "page", f"at most {query.MAX_OFFSET // per_page + 1}, got {page}")
    found = query.list_bundles(
        session, search=search, tag=tags, platform=platforms, access_level=access_level,
        collection=collection, limit=per_page, offset=(page - 1) * per_page, sort=sort,
        with_facets=True,
    )
    kept = [("q", search), *(("tag", t) for t in tags), *(("platform", p) for p in platforms),
            ("access_level", access_level), ("collection", collection),
            ("per_page", str(per_page) if per_page != PAGE_SIZE else None)]
    filters = [(k, v) for k, v in kept if v]
    kept_params = [*filters, *([("sort", sort)] if sort else [])]
    pages = max(1, math.ceil(found["total"] / per_page))

    def page_link(number: int) -> str:
        return "?" + urlencode([*kept_params, ("page", str(number))])

    past_end = found["total"] > 0 and page > pages
    return {
        "found": found, "search": search or "", "tags": tags, "platforms": platforms,
        "access_level": access_level or "", "collection": collection or "",
        "access_levels": query.ACCESS_LEVELS, "page": page, "pages": pages,
        # Past the end there is no previous page worth linking: the last one is offered.
        "past_end": page_link(pages) if past_end else None,
        "previous": page_link(page - 1) if 1 < page <= pages else None,
        "next": page_link(page + 1) if page < pages else None,
        "facets": _facet_links(found["facets"], kept_params),
        "suggestions": _suggestions(session, search, filters) if not found["total"] else [],
        **_sort_context(filters, sort),
    }


#: The facets shown beside the results, in order, with their headings.
FACETS = {"platform": "Platforms", "tag": "Tags", "access_level": "Access",
          "collection": "Collections"}
_MANY_VALUED = ("tag", "platform")


def _facet_links(
    counts: dict[str, list[tuple[str, int]]], kept: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Per facet: its values with counts, each linking to the results filtered by it too
    (or, for a value already chosen, without it); back to page 1, the sort kept."""
    chosen_now = {(k, _facet_value(k, v)) for k, v in kept}
    shown = []
    for key, heading in FACETS.items():
        values = []
        for value, count in counts.get(key, []):
            chosen = (key, value) in chosen_now
            if chosen:
                params = [(k, v) for k, v in kept if (k, _facet_value(k, v)) != (key, value)]
            elif key in _MANY_VALUED:
                params = [*kept, (key, value)]
            else:
                params = [*[(k, v) for k, v in kept if k != key], (key, value)]
            values.append({"value": value, "count": count, "chosen": chosen,
                           "link": "?" + urlencode(params)})
        if values:
            shown.append({"key": key, "heading": heading, "values": values})
    return shown


def _facet_value(key: str, value: str) -> str:
    """A filter's value as its facet counts it (tags and platforms are normalised)."""
    return value.strip().lower() if key in _MANY_VALUED else value


def _suggestions(
    session: Session, search: str | None, filters: list[tuple[str, str]]
) -> list[dict[str, str]]:
    """What to try when nothing was found: a spelling the registry knows, fewer filters."""
    tries = [{"label": f"Search for “{alternative}”",
              "link": "?" + urlencode([("q", alternative),
                                       *[(k, v) for k, v in filters if k != "q"]])}
             for alternative in (query.suggestions(session, search) if search else [])]
    for key, value in filters:
        others = [(k, v) for k, v in filters if (k, v) != (key, value)]
        name = {"q": "the words", "access_level": "access level"}.get(key, key)
        tries.append({"label": f"Without {name} “{value}”", "link": "?" + urlencode(others)})
    return tries


#: Each sortable column's first sort when clicked: names A-Z, newest and most tasks first.
_FIRST_SORT = {"name": "name", "date": "-date", "tasks": "-tasks"}


def _sort_context(filters: list[tuple[str, str]], sort: str | None) -> dict[str, Any]:
    """Per column: the link that sorts by it (a second click reverses; filters kept, back
    to page 1) and its ``aria-sort`` state."""
    links, states = {}, {}
    for key, first in _FIRST_SORT.items():
        if sort and sort.removeprefix("-") == key:
            descending = sort.startswith("-")
            target = key if descending else f"-{key}"
            states[key] = "descending" if descending else "ascending"
        else:
            target, states[key] = first, "none"
        links[key] = "?" + urlencode([*filters, ("sort", target)])
    return {"sort": sort or "", "sort_links": links, "sort_states": states}


def iam_rows(hints: Any) -> list[dict[str, Any]]:
    """The enhancer's IAM hints as table rows: platform, kind, and what to grant, one
    line each (a Kubernetes rule as "resources: verbs"). A shape this does not know is
    shown as its JSON text, never dropped."""
    if not isinstance(hints, dict):
        return []
    rows = []
    for platform, hint in sorted(hints.items()):
        hint = hint if isinstance(hint, dict) else {"grants": hint}
        grants: list[str] = []
        for rule in hint.get("rules") or []:
            if isinstance(rule, dict):
                groups = ", ".join(g or "core" for g in rule.get("apiGroups") or [""])
                grants.append(f"{', '.join(map(str, rule.get('resources') or []))} "
                              f"({groups}): {', '.join(map(str, rule.get('verbs') or []))}")
        for key in ("actions", "roles"):
            grants += [str(item) for item in hint.get(key) or []]
        rest = {k: v for k, v in hint.items() if k not in ("kind", "rules", "actions", "roles")}
        if rest:
            grants.append(json.dumps(rest, sort_keys=True))
        rows.append({"platform": str(platform), "kind": str(hint.get("kind") or ""),
                     "grants": grants})
    return rows


def _problem_counts(diagnostics: list[dict[str, Any]]) -> dict[str, int]:
    severities = [str(p.get("severity")) for p in diagnostics if isinstance(p, dict)]
    return {"errors": severities.count("error"),
            "warnings": len(severities) - severities.count("error")}


#: What a drawing may contain to be put in a page as markup: shapes, text and titles,
#: presentation attributes; no script, link, foreign content, event handler or URL.
SVG_ELEMENTS = frozenset({
    "svg", "g", "title", "desc", "defs", "marker", "path", "polygon", "polyline", "line",
    "rect", "circle", "ellipse", "text", "tspan",
})
SVG_ATTRIBUTES = frozenset({
    "class", "id", "d", "fill", "stroke", "stroke-width", "stroke-dasharray", "font-family",
    "font-size", "font-weight", "height", "width", "points", "text-anchor", "transform",
    "viewBox", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "refX", "refY",
    "markerWidth", "markerHeight", "orient", "marker-end", "opacity", "fill-opacity",
})
_SVG_NS = "{http://www.w3.org/2000/svg}"
_LOCAL_MARKER = re.compile(r"^url\(#[A-Za-z0-9_-]+\)$")


def inline_svg(svg: str) -> str | None:
    """``svg``, written out again, if every element and attribute is on the allow-lists,
    else ``None``.

    The trace's drawing goes into the page as markup (so it is part of the page, text
    and titles included); anything else in it (``<script>``, ``on*``, ``href``,
    ``<foreignObject>``, a ``url(...)`` that is not a local marker) refuses it, and the
    page shows it as an image instead, where nothing in an SVG runs.
    """
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(_SVG_NS):
            return None
        if element.tag.removeprefix(_SVG_NS) not in SVG_ELEMENTS:
            return None
        for name, value in element.attrib.items():
            if name not in SVG_ATTRIBUTES:
                return None
            if "url(" in value and not _LOCAL_MARKER.match(value):
                return None
    # Written out again from the checked tree, so the page gets exactly what was checked
    # (no comment, CDATA or entity that an HTML parser might read differently).
    for element in root.iter():
        element.tag = element.tag.removeprefix(_SVG_NS)
    root.set("xmlns", _SVG_NS.strip("{}"))
    return ElementTree.tostring(root, encoding="unicode")


def _svg_data_uri(svg: str) -> str:
    """An ``<img>`` source: an SVG shown as an image runs nothing, whatever its text."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _run_context(observed: runs.ObservedRun, session: Session) -> dict[str, Any]:
    from celery_safe.workflows import to_svg

    run = observed.run
    collections = [c for c in query.list_collections(session) if c["slug"] in run["collections"]]
    context: dict[str, Any] = {"run": run, "collections": collections, "trace": observed.trace,
                               "progress_of": observed.progress_of,
                               "svg": None, "inline_svg": None,
                               "trace_error": observed.trace_error,
                               "title": observed.title, "headline": observed.headline,
                               "reasons": observed.reasons,
                               "kind": str(run["action"]).partition(":")[0],
                               "live_script": LIVE_SCRIPT,
                               "refresh": REFRESH_SECONDS if run["status"] == "running" else None}
    if observed.trace is not None:
        try:
            drawing = to_svg(observed.trace)
            context["inline_svg"] = inline_svg(drawing)
            context["svg"] = _svg_data_uri(drawing)
        except Exception as exc:  # the page still shows the run and says why there is no drawing
            context["trace"] = None
            context["trace_error"] = redact(f"{type(exc).__name__}: {exc}")[:300]
    return context


def secured(response: Response) -> Response:
    """``response`` with the headers every answer carries (CSP, ``nosniff``, no referrer).

    The middleware adds them; the crash handler, which Starlette runs outside every
    middleware, calls this itself. There is no exception: the interactive API docs,
    whose Swagger UI would come from a CDN, are off (``create_app``).
    """
    # a live run page sets its own: the strict policy plus its one script's hash
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def add_pages(app: FastAPI) -> None:
    """Add the HTML pages, the 404/422 pages for browsers, and the security headers."""
    engine = app.state.engine

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        return secured(await call_next(request))

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
        # Browsers get a page; API clients keep FastAPI's JSON.
        if wants_html(request):
            title = "Not found" if exc.status_code == 404 else "Request refused"
            return error_page(exc.status_code, title, str(exc.detail))
        return await http_exception_handler(request, exc)

    settings = getattr(app.state, "settings", None)
    operator_guard = bearer_guard(settings.admin_token if settings is not None else None)

    def is_operator(request: Request) -> bool:
        """Does the request carry the admin token? Operators see errors in full."""
        try:
            operator_guard(request)
        except StarletteHTTPException:
            return False
        return True

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        with session_scope(engine) as session:
            collections = query.list_collections(session)
            stats = query.stats(session)
        from registry.celery_app import app as celery_app

        # A run the admin API sent has nobody waiting for it: reading it here records
        # its end, so the list does not say "running" for a finished run.
        latest = runs.recent_runs(app.state.runs_engine, celery_app)
        response = _render("home.html", collections=collections, stats=stats, runs=latest,
                           access_levels=query.ACCESS_LEVELS, operator=is_operator(request))
        response.headers["Vary"] = "Authorization"
        return response

    @app.get("/collection/{slug}", response_class=HTMLResponse, include_in_schema=False)
    def collection_page(slug: str, request: Request) -> HTMLResponse:
        with session_scope(engine) as session:
            info = query.get_collection_info(session, slug)
        if info is None:
            return error_page(404, "Collection not found", f"No collection {slug[:160]!r}.")
        response = _render("collection.html", collection=info, operator=is_operator(request))
        response.headers["Vary"] = "Authorization"
        return response

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search(request: Request) -> HTMLResponse:
        try:
            with session_scope(engine) as session:
                context = _search_context(request, session)
        except query.QueryInputError as exc:
            # The page's names for the API's limit and offset.
            parameter = _PAGE_PARAMETERS.get(exc.parameter, exc.parameter)
            return error_page(422, "Filter refused", f"{parameter}: {exc.message}")
        return _render("search.html", **context)

    @app.get("/bundle/{collection}/{slug}", response_class=HTMLResponse,
             include_in_schema=False)
    def bundle(collection: str, slug: str, request: Request) -> HTMLResponse:
        with session_scope(engine) as session:
            found = query.get_bundle(session, collection, slug)
            info = query.get_collection_info(session, collection) if found else None
        if found is None or info is None:
            return error_page(404, "Bundle not found",
                              f"No bundle {slug!r} in collection {collection!r}.")
        # Recorded at sync by registry.links.source_url's rule (None: no safe link).
        response = _render(
            "bundle.html", bundle=found, collection=info, source_link=found["source_url"],
            operator=is_operator(request), iam_rows=iam_rows(found["iam_hints"]),
            readme=render_readme(found["readme"]) if found["readme"] else None,
            problems=_problem_counts(found["diagnostics"]))
        response.headers["Vary"] = "Authorization"
        return response

    @app.get("/analytics", response_class=HTMLResponse, include_in_schema=False)
    def analytics_page() -> HTMLResponse:
        with session_scope(engine) as session:
            report = analytics.latest_report(session)
        drawing = growth_svg(report["months"]) if report else None
        return _render("analytics.html", report=report,
                       inline_svg=inline_svg(drawing) if drawing else None,
                       svg=_svg_data_uri(drawing) if drawing else None)

    @app.get("/runs/{run_id}", include_in_schema=False)
    def run_page(run_id: str, request: Request) -> Response:
        """The run's page, or its JSON for a client not asking for HTML (the admin API's
        ``GET /runs/{id}``: state, progress, errors, trace). Reading never sends."""
        run = runs.get_run(engine, run_id) if _RUN_ID.match(run_id) else None
        if run is None:
            if not wants_html(request):
                return JSONResponse({"detail": f"run {run_id[:160]!r} not found"},
                                    status_code=404)
            return error_page(404, "Run not found", f"No pipeline run {run_id[:160]!r}.")
        from registry.celery_app import app as celery_app

        observed = runs.observe_run(app.state.runs_engine, run, celery_app)
        if not wants_html(request):
            return JSONResponse(observed.as_json())
        with session_scope(engine) as session:
            context = _run_context(observed, session)
        page = _render("run.html", **context, operator=is_operator(request))
        page.headers["Vary"] = "Authorization"
        if context["refresh"]:
            page.headers["Content-Security-Policy"] = LIVE_RUN_POLICY
        return page
