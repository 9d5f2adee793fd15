"""The web pages over HTTP: status codes, headers, escaping, filters shared with the API.

The browser tests (``test_web_browser.py``) check what a user sees; these check what
the server sends, byte for byte, against the same served registry.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from markupsafe import escape
from registry import query, runs, web
from registry.db import make_engine
from registry.samples import HOSTILE_SCRIPT
from web_support import ServedRegistry, served_registry

pytestmark = pytest.mark.worker  # served_registry populates the site on a real worker

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRegistry]:
    with served_registry(tmp_path_factory.mktemp("web-pages")) as served:
        yield served


def get(site: ServedRegistry, path: str, **params: object) -> httpx.Response:
    # No ``params=`` when there are none: httpx would drop the query already in ``path``.
    if not params:
        return httpx.get(site.url + path, headers=HTML, timeout=30)
    return httpx.get(site.url + path, params=params, headers=HTML, timeout=30)  # type: ignore[arg-type]


def hrefs(html: str) -> list[str]:
    return re.findall(r'(?:href|src|action)="([^"]*)"', html)


def latest_run(site: ServedRegistry) -> dict[str, object]:
    recorded = runs.latest_runs(site.db_url)
    assert recorded, "populate recorded no run"
    return recorded[0]


def test_every_page_sends_a_csp_that_allows_no_script(site: ServedRegistry) -> None:
    run = latest_run(site)
    for path in ("/", "/search", f"/bundle/{site.hostile.collection}/{site.hostile.bundle}",
                 f"/runs/{run['id']}", "/bundle/none/none", "/search?page=x", "/bundles"):
        response = get(site, path)
        policy = response.headers["content-security-policy"]
        assert policy == web.CONTENT_SECURITY_POLICY, path
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert "script-src" not in directives
        assert response.headers["x-content-type-options"] == "nosniff"


def test_no_interactive_docs_load_a_script_from_a_cdn(site: ServedRegistry) -> None:
    # FastAPI's Swagger UI would load its script from a CDN: off, so no page lacks the CSP.
    response = get(site, "/docs")
    assert response.status_code == 404 and "swagger" not in response.text.lower()
    assert "content-security-policy" in response.headers


def test_home_lists_collections_and_links_the_run(site: ServedRegistry) -> None:
    html = get(site, "/").text
    for slug in ("rw-cli-codecollection", "infra-cloud-collection", "hostile-collection"):
        assert f"/search?collection={slug}" in html
    assert f'href="/runs/{latest_run(site)["id"]}"' in html


def test_hostile_text_is_escaped_everywhere(site: ServedRegistry) -> None:
    bundle = f"/bundle/{site.hostile.collection}/{site.hostile.bundle}"
    for path in ("/", "/search?collection=hostile-collection", bundle):
        html = get(site, path).text
        assert "<script" not in html.lower(), path
        assert "<img src=x" not in html, path
        assert str(escape(HOSTILE_SCRIPT)) in html, path  # shown, as text
        assert not [h for h in hrefs(html) if not h.startswith(("/", "?", "#", "data:image/"))]
    # The tag that looks like a URL is only ever a query value of a relative link.
    assert "/search?tag=javascript%3Aalert%281%29" in get(site, bundle).text


def test_a_file_collection_gets_no_source_link(site: ServedRegistry) -> None:
    html = get(site, f"/bundle/{site.hostile.collection}/{site.hostile.bundle}").text
    assert 'id="source-link"' not in html
    assert 'id="source-text"' in html


@pytest.mark.parametrize(("url", "ref", "expected"), [
    ("https://github.com/runwhen/rw-cli-codecollection.git", "main",
     "https://github.com/runwhen/rw-cli-codecollection/tree/main/codebundles/b"),
    ("https://gitlab.com/group/repo", "release/1.0",
     "https://gitlab.com/group/repo/-/tree/release/1.0/codebundles/b"),
    ("https://***@github.com/o/r.git", "main", None),  # redacted credentials
    ("https://user:token@github.com/o/r.git", "main", None),
    ("http://github.com/o/r.git", "main", None),
    ("javascript://github.com/o/r", "main", None),
    ("https://evil.example/o/r.git", "main", None),
    ("https://github.com.evil.example/o/r.git", "main", None),
    ("https://github.com/o/r/extra", "main", None),
    ("https://github.com/o/r.git?x=1", "main", None),
    ("https://github.com:8443/o/r.git", "main", None),
    ("https://github.com/o/r.git", "../../x", None),
    ("https://github.com/o/r.git", "-bad ref", None),
    ("file:///srv/repos/r", "main", None),
])
def test_source_links_only_for_allowed_https_hosts(
    url: str, ref: str, expected: str | None
) -> None:
    assert web.source_url(url, ref, "b") == expected


def test_source_link_quotes_the_bundle_slug() -> None:
    link = web.source_url("https://github.com/o/r.git", "main", "a b/../<x>")
    assert link == "https://github.com/o/r/tree/main/codebundles/a%20b%2F..%2F%3Cx%3E"


def test_search_uses_the_api_filters(site: ServedRegistry) -> None:
    filters = {"tag": "access:read-write", "platform": "kubernetes"}
    api = httpx.get(f"{site.url}/bundles", params={**filters, "limit": 200}, timeout=30).json()
    assert api["total"] > 0
    html = get(site, "/search", **filters).text
    shown = re.findall(r'class="bundle-link" href="/bundle/([^"]+)"', html)
    assert shown == [f"{b['collection']}/{b['slug']}" for b in api["items"]][:web.PAGE_SIZE]
    assert f"{api['total']} bundle" in html


def test_search_pages_cover_every_bundle_once(site: ServedRegistry) -> None:
    total = httpx.get(f"{site.url}/bundles", params={"limit": 1}, timeout=30).json()["total"]
    assert total > web.PAGE_SIZE, "the fixture must need more than one page"
    seen: list[str] = []
    path: str | None = "/search"
    for _ in range(total):  # bounded: a page that links to itself fails, never hangs
        if path is None:
            break
        html = get(site, path).text
        seen += re.findall(r'class="bundle-link" href="/bundle/([^"]+)"', html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        path = "/search" + found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == total == len(set(seen))


def test_pagination_links_keep_the_filters(site: ServedRegistry) -> None:
    filters = {"access_level": "read-only", "q": "the", "per_page": "2"}
    api = httpx.get(f"{site.url}/bundles", params={**filters, "limit": 2}, timeout=30).json()
    assert api["total"] > 4, "the filter must need more than two pages"
    html = get(site, "/search", page=2, **filters).text
    links = dict(re.findall(r'rel="(next|prev)" href="([^"]+)"', html))
    for rel, page in (("prev", "1"), ("next", "3")):
        params = dict(parse_qsl(urlsplit(links[rel].replace("&amp;", "&")).query))
        assert params == {**filters, "page": page}


@pytest.mark.parametrize("params", [
    {"page": "0"},
    {"per_page": str(query.MAX_LIMIT + 1)},
    {"page": "two"},
    {"page": str(query.MAX_OFFSET)},
    {"access_level": "root"},
    {"tag": [f"t{i}" for i in range(query.MAX_TAG_FILTERS + 1)]},
    {"platform": "x" * (query.MAX_FILTER_CHARS + 1)},
    {"q": " ".join(["w"] * (query.MAX_SEARCH_WORDS + 1))},
    {"q": "bad\x00byte"},
])
def test_bad_filters_get_a_422_page(site: ServedRegistry, params: dict[str, object]) -> None:
    response = get(site, "/search", **params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Filter refused" in response.text and "Traceback" not in response.text
    # The message names the parameter as the page's form and links call it.
    message = re.search(r'id="error-message">([^<]*)<', response.text)
    assert message is not None and message.group(1).split(":")[0] == next(iter(params))


def test_the_api_refuses_what_the_pages_refuse(site: ServedRegistry) -> None:
    too_many = [("tag", f"t{i}") for i in range(query.MAX_TAG_FILTERS + 1)]
    assert httpx.get(f"{site.url}/bundles", params=too_many, timeout=30).status_code == 422
    assert get(site, "/search?" + "&".join(f"{k}={v}" for k, v in too_many)).status_code == 422


@pytest.mark.parametrize("path", [
    "/bundle/no-such-collection/no-such-bundle", "/bundle/rw-cli-codecollection/nope",
    "/runs/00000000-0000-0000-0000-000000000000", "/runs/%3Cscript%3E", "/no/such/page",
])
def test_unknown_things_get_a_404_page(site: ServedRegistry, path: str) -> None:
    response = get(site, path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>" in response.text and "<script" not in response.text.lower()


def test_api_clients_keep_json_errors(site: ServedRegistry) -> None:
    response = httpx.get(f"{site.url}/no/such/page", timeout=30)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    response = httpx.get(f"{site.url}/bundles/nope/nope", timeout=30)
    assert response.status_code == 404 and "detail" in response.json()


def test_run_page_lists_collections_counts_and_trace(site: ServedRegistry) -> None:
    run = latest_run(site)
    assert run["status"] == "finished"
    html = get(site, f"/runs/{run['id']}").text
    assert 'http-equiv="refresh"' not in html
    drawing = re.search(r'<figure class="trace" id="trace-figure">(.*?)</figure>', html, re.S)
    assert drawing is not None and "<svg" in drawing.group(1)
    assert "registry.sync_collection" in html or "sync_collection" in drawing.group(1)
    for slug in run["collections"]:  # type: ignore[attr-defined]
        assert f"/search?collection={slug}" in html
    assert "registry.sync_collection" in html and "registry.summarize" in html
    assert "steps done." in html and "SUCCESS" not in html
    summary = run["summary"]
    assert isinstance(summary, dict)
    assert f"{summary['bundles']['created']} new" in html


def test_a_run_in_progress_refreshes_itself(site: ServedRegistry) -> None:
    # A run whose one task no worker has reported yet: PENDING, so still going. Its
    # message waits in the broker (an id no queue carries is "unknown", not queued).
    subprocess.run([sys.executable, "-c",
                    "from registry.celery_app import app\n"
                    "app.send_task('registry.store_yaml', args=['codecollections: []'], "
                    "task_id='pending-task')"],
                   cwd=site.home, env=site.env, check=True, timeout=120)
    started = latest_run(site)["started_at"]
    with make_engine(site.db_url).begin() as conn:
        conn.execute(runs.runs_table.insert().values(
            id="pending-run", started_at=started, status="running",
            collections=[], result_graph=[["pending-task", None], None],
            task_names={"pending-task": "registry.store_yaml"},
        ))
    response = get(site, "/runs/pending-run")
    html = response.text
    # Without scripts the page reloads; with them, its one script (allowed by its
    # hash, and nothing else) updates it in place.
    assert f'<noscript><meta http-equiv="refresh" content="{web.REFRESH_SECONDS}">' in html
    assert f"<script>{web.LIVE_SCRIPT}</script>" in html
    policy = response.headers["content-security-policy"]
    assert policy == web.LIVE_RUN_POLICY
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == f"'{web.LIVE_SCRIPT_HASH}'"
    assert directives["connect-src"] == "'self'" and directives["default-src"] == "'none'"
    assert "queued — no worker is running; start one with" in html
    assert "waiting" in html and "PENDING" not in html and "0 of 1" in html


def test_every_bundle_page_renders(site: ServedRegistry) -> None:
    bundles = httpx.get(f"{site.url}/bundles", params={"limit": 200}, timeout=30).json()
    assert bundles["total"] == len(bundles["items"]) > web.PAGE_SIZE
    for bundle in bundles["items"]:
        response = get(site, f"/bundle/{bundle['collection']}/{bundle['slug']}")
        assert response.status_code == 200, (bundle["slug"], response.text[-500:])
        assert 'id="variables"' in response.text


@pytest.mark.parametrize("hostile", [
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
    '<a x:href="javascript:alert(1)"><text>t</text></a></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(http://evil/x)"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg"><g style="background:url(x)"/></svg>',
    '<html><script>alert(1)</script></html>',
    '<svg xmlns="http://www.w3.org/2000/svg"><text>unclosed</svg>',
])
def test_an_svg_with_anything_active_is_not_inlined(hostile: str) -> None:
    assert web.inline_svg(hostile) is None


def test_an_inlined_svg_keeps_its_text_escaped() -> None:
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><!-- c -->'
           '<g><title>&lt;script&gt;x</title><text x="1" y="2"><![CDATA[</text><b>]]></text>'
           '<path d="M0,0" marker-end="url(#arrow)"/></g></svg>')
    inlined = web.inline_svg(svg)
    assert inlined is not None
    assert "<script" not in inlined and "<b>" not in inlined and "<!--" not in inlined
    assert "&lt;/text&gt;&lt;b&gt;" in inlined and 'marker-end="url(#arrow)"' in inlined


def test_the_analytics_page_draws_the_stored_report_inline(site: ServedRegistry) -> None:
    report = httpx.get(f"{site.url}/analytics/task-growth", timeout=30).json()
    months = report["months"]
    assert len(months) > 1 and report["total"] == months[-1]["total"] > 0
    response = get(site, "/analytics")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == web.CONTENT_SECURITY_POLICY
    html = response.text
    drawing = html[html.index('<div class="drawing"'):html.index("</figure>")]
    assert "<svg" in drawing and "<script" not in html.lower()
    assert drawing.count("<rect ") == len(months)
    for row in months:
        assert f"<td>{row['month']}</td><td>{row['added']}</td>" in html
        assert f"<title>{row['month']}: {row['total']} tasks (+{row['added']}, " in drawing
    for collection in report["collections"]:
        assert f"/search?collection={collection['collection']}" in html
    assert '<a href="/analytics">Analytics</a>' in get(site, "/").text


def test_search_sorts_like_the_api_and_its_links_keep_the_filters(site: ServedRegistry) -> None:
    html = get(site, "/search", collection="rw-cli-codecollection").text
    sort_links = [dict(parse_qsl(urlsplit(unescape(h)).query))
                  for h in hrefs(html) if "sort=" in h]
    assert {q["sort"] for q in sort_links} == {"name", "-date", "-tasks"}
    assert all(q["collection"] == "rw-cli-codecollection" for q in sort_links)
    for sort in ("-date", "name", "-tasks"):
        page = get(site, "/search", sort=sort, per_page=200).text
        shown = [h for h in hrefs(page) if h.startswith("/bundle/")
                 and f'class="bundle-link" href="{h}"' in page]
        api = httpx.get(f"{site.url}/bundles", params={"sort": sort, "limit": 200},
                        timeout=30).json()
        assert shown == [f"/bundle/{b['collection']}/{b['slug']}" for b in api["items"]]
    by_name = get(site, "/search", sort="name").text
    assert 'aria-sort="ascending"><a class="sort" id="sort-name" href="?sort=-name"' in by_name
    paged = get(site, "/search", sort="-tasks", per_page=5).text
    assert any(dict(parse_qsl(urlsplit(unescape(h)).query)) == {
        "sort": "-tasks", "per_page": "5", "page": "2"} for h in hrefs(paged))


def test_a_bad_sort_is_a_422_page_naming_the_allowed_ones(site: ServedRegistry) -> None:
    response = get(site, "/search", sort="<b>newest</b>")
    assert response.status_code == 422
    assert "name, -name, date, -date, tasks, -tasks" in response.text
    assert "<b>newest" not in response.text and "&lt;b&gt;newest" in response.text


def test_a_bundle_page_shows_its_last_commit(site: ServedRegistry) -> None:
    [bundle] = httpx.get(f"{site.url}/bundles", params={"sort": "-date", "limit": 1},
                         timeout=30).json()["items"]
    html = get(site, f"/bundle/{bundle['collection']}/{bundle['slug']}").text
    when = dt.datetime.fromisoformat(bundle["last_commit_at"]).isoformat(timespec="seconds")
    assert re.search(rf'<dd id="last-commit"><time datetime="{re.escape(when)}" '
                     r'title="[^"]+ UTC">[^<]+ ago</time></dd>', html)
