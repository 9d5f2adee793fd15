"""The collection page: owner, description, git URL and ref, last commit, its bundles;
a sync's error in full for operators (the admin token), "out of date" for visitors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from api_support import serving
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
    run_in_process(url, samples, tmp / "work", enhancer="fail:vacuum")
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
