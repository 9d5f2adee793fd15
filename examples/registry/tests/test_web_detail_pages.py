"""The collection and bundle pages: owner, description, git URL and ref, last commit;
a sync's error in full for operators (the admin token), "out of date" for visitors;
a bundle's README rendered and sanitised, its IAM hints as a table, an access badge."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from api_support import serving
from hypothesis import given, settings
from hypothesis import strategies as st
from registry import query
from registry.api import create_app
from registry.config import load_settings
from registry.db import session_scope
from registry.samples import add_bad_inputs, generate_sample_collections
from registry.service import run_in_process

TOKEN = "collection-page-token"
HTML = {"accept": "text/html"}
OPERATOR = {**HTML, "authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    tmp = tmp_path_factory.mktemp("collections")
    samples = generate_sample_collections(tmp / "samples", collections=2)
    add_bad_inputs(samples)
    url = f"sqlite:///{tmp / 'r.db'}"
    run_in_process(url, samples, tmp / "work", enhancer="fail:azure-aks")
    settings = load_settings(environ={}, home=str(tmp / "home"), db_url=url, admin_token=TOKEN)
    with serving(create_app(settings)) as base:
        yield base, url, tmp


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_a_collection_page_shows_what_a_user_needs(served: tuple[str, str, Path]) -> None:
    base, url, _ = served
    with session_scope(url) as session:
        info = query.get_collection_info(session, "infra-cloud-collection")
    assert info is not None and info["last_commit"]
    html = httpx.get(f"{base}/collection/infra-cloud-collection", headers=HTML, timeout=30).text
    page = text_of(html)
    for wanted in (info["name"], info["owner"], info["description"], info["git_ref"],
                   info["last_commit"][:12], "Up to date"):
        assert wanted in page, wanted
    assert f'title="{info["last_commit"]}"' in html
    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">', html)
    linked = re.findall(r'class="bundle-link" href="/bundle/infra-cloud-collection/([^"]+)"', html)
    assert linked == [b["slug"] for b in info["bundles"]] and linked


def test_visitors_see_out_of_date_and_operators_the_error(
    served: tuple[str, str, Path]
) -> None:
    base, url, tmp = served
    with session_scope(url) as session:
        info = query.get_collection_info(session, "unreachable-repo")
    assert info is not None and info["status"] == "error" and info["last_error"]
    visitor = httpx.get(f"{base}/collection/unreachable-repo", headers=HTML, timeout=30).text
    assert "Out of date" in visitor
    assert str(tmp) not in visitor and info["last_error"][:40] not in unescape(visitor)
    wrong = {**HTML, "authorization": "Bearer not-the-token"}
    assert str(tmp) not in httpx.get(f"{base}/collection/unreachable-repo", headers=wrong,
                                     timeout=30).text
    operator = httpx.get(f"{base}/collection/unreachable-repo", headers=OPERATOR, timeout=30)
    error = re.search(r'<pre class="operator-error" id="collection-error">(.*?)</pre>',
                      operator.text, re.S)
    assert error and unescape(error.group(1)) == info["last_error"]  # in full, no "…"
    assert operator.headers["vary"] == "Authorization"
    home = httpx.get(f"{base}/", headers=HTML, timeout=30).text
    assert str(tmp) not in home and "Out of date" in home
    assert '<a class="collection-link" href="/collection/unreachable-repo">' in home
    assert "operator-error" in httpx.get(f"{base}/", headers=OPERATOR, timeout=30).text


def test_an_unknown_collection_is_a_404_page(served: tuple[str, str, Path]) -> None:
    base, _, _ = served
    response = httpx.get(f"{base}/collection/no-such", headers=HTML, timeout=30)
    assert response.status_code == 404 and "Collection not found" in response.text


def bundle_page(base: str, path: str, headers: dict[str, str] = HTML) -> str:
    response = httpx.get(f"{base}/bundle/{path}", headers=headers, timeout=30)
    assert response.status_code == 200
    return response.text


def test_a_bundle_page_renders_its_readme_and_iam_hints(served: tuple[str, str, Path]) -> None:
    base, _, tmp = served
    html = bundle_page(base, "rw-cli-codecollection/k8s-namespace-restart")
    readme = re.search(r'<div class="readme" id="readme-body">(.*?)</div>', html, re.S)
    assert readme, "the README is rendered"
    assert "<h3>Kubernetes Namespace Rollout Restart</h3>" in readme.group(1)
    assert ("<li>List Unhealthy Pods in Namespace <code>${NAMESPACE}</code></li>"
            in readme.group(1))
    iam = re.search(r'<table class="cards" aria-labelledby="iam">(.*?)</table>', html, re.S)
    assert iam and "Kubernetes RBAC Role" in iam.group(1)
    assert re.search(r"<code>[^<]*pods[^<]*\(apps|<code>[^<]*\(core\): get, list, watch, patch",
                     iam.group(1))
    assert "{" not in text_of(iam.group(1)), "no JSON left in the table"
    badge = re.search(r'<span id="access-badge" class="badge access access-read-write">'
                      r"([^<]+)</span>", html)
    assert badge and badge.group(1).startswith("Read-write")
    page = text_of(html)
    assert "Status" not in page and "completed" not in page
    assert "Written by the enhancer" in page
    # Its collection is partly out of date: said at the top, without the error itself.
    summary = html.index('id="problems-summary"')
    assert summary < html.index('id="tasks"') and "Partly out of date" in html[summary:]
    assert str(tmp) not in html  # no server path (the file: URL, a git message) for visitors
    assert str(tmp) in bundle_page(base, "rw-cli-codecollection/k8s-namespace-restart",
                                   OPERATOR)


def test_a_bundle_the_enhancer_could_not_describe_says_so(
    served: tuple[str, str, Path]
) -> None:
    base, _, _ = served
    page = text_of(bundle_page(base, "infra-cloud-collection/azure-aks-cluster-health"))
    assert "The enhancer could not describe this bundle" in page and "Status" not in page
    assert 'class="badge access access-read-only">Read-only' in bundle_page(
        base, "infra-cloud-collection/azure-aks-cluster-health")


def test_a_readme_is_sanitised() -> None:
    from registry.readme import render_readme

    html = str(render_readme(
        "# Title <script>x()</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[bad](javascript:alert(1)) [ok](https://example.com/a) [rel](../x) "
        "[data](data:text/html,hi)\n\n| a |\n|---|\n| 1 |\n"))
    assert "<script" not in html and "<img" not in html
    assert "[bad](javascript:alert(1))" in html  # left as text, never a link
    assert "&lt;script&gt;" in html and "<h3>Title" in html and "<table>" in html
    assert re.findall(r'href="([^"]+)"', html) == ["https://example.com/a"]
    assert 'rel="noopener noreferrer nofollow"' in html
    quoted = str(render_readme('<a href="javascript:x">docs</a> and "quotes"'))
    assert '"' not in re.sub(r"<[^>]*>", "", quoted) and "href" not in quoted.split(">", 1)[0]


MARKUP_BITS = ['<', '>', '"', "'", "`", "&", "[", "]", "(", ")", "#", "*", "-", "|", ":",
               "/", " ", "\n", "a", "x", "script", "img", "href=", "onerror=", "javascript:",
               "https://e.org", "data:", "<a ", "](", "\\", "=", "!"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(MARKUP_BITS), max_size=60).map("".join))
def test_no_readme_yields_active_markup(text: str) -> None:
    from registry.readme import ALLOWED_TAGS, render_readme

    html = str(render_readme(text))
    for tag in re.findall(r"<([^>]*)>", html):
        name, _, attributes = tag.lstrip("/").partition(" ")
        assert name in ALLOWED_TAGS, tag
        for attribute, value in re.findall(r'([^\s=]+)="([^"]*)"', attributes):
            assert attribute in ("href", "rel", "start", "align"), tag
            if attribute == "href":
                assert value.startswith(("http://", "https://", "mailto:")), tag


def test_a_run_page_keeps_a_collections_error_for_operators(
    served: tuple[str, str, Path]
) -> None:
    from registry import runs, tasks

    base, url, tmp = served
    signature = tasks.health_check.s()
    run_id = runs.record_run(url, signature, signature.freeze(),
                             ["unreachable-repo", "infra-cloud-collection"], action="test")
    runs.finish_run(url, run_id, seconds=1.0, summary={"database": "ok"})
    visitor = httpx.get(f"{base}/runs/{run_id}", headers=HTML, timeout=60).text
    assert str(tmp) not in visitor
    assert '<a href="/collection/unreachable-repo">out of date</a>' in visitor
    operator = httpx.get(f"{base}/runs/{run_id}", headers=OPERATOR, timeout=60).text
    assert "does-not-exist" in operator


def test_a_run_pages_errors_are_for_operators(served: tuple[str, str, Path]) -> None:
    """A sync's errors carry git's messages, with server paths: visitors get a count and
    where to look, operators (the admin token) the errors themselves."""
    from registry import runs, tasks

    base, url, tmp = served
    signature = tasks.health_check.s()
    run_id = runs.record_run(url, signature, signature.freeze(), ["unreachable-repo"],
                             action="test")
    error = f"collection unreachable-repo: git clone {tmp}/does-not-exist failed"
    runs.finish_run(url, run_id, seconds=1.0, summary={
        "collections_synced": 0, "collections_failed": 1, "enhanced": 0, "enhance_failed": 0,
        "bundles": {"created": 0, "updated": 0, "unchanged": 0, "removed": 0},
        "errors": [error]})
    visitor = httpx.get(f"{base}/runs/{run_id}", headers=HTML, timeout=60).text
    assert "Errors (1)" in visitor and 'id="errors-for-operators"' in visitor
    assert str(tmp) not in visitor and "does-not-exist" not in visitor
    operator = httpx.get(f"{base}/runs/{run_id}", headers=OPERATOR, timeout=60).text
    assert "does-not-exist" in operator
