"""The search page over HTTP: ranked full text, facets, paging past the end, suggestions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from web_support import ServedRegistry, served_registry

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRegistry]:
    with served_registry(tmp_path_factory.mktemp("web-search"), bundles=4) as served:
        yield served


def page(site: ServedRegistry, **params: object) -> str:
    response = httpx.get(site.url + "/search", params=params, headers=HTML, timeout=30)  # type: ignore[arg-type]
    assert response.status_code == 200
    return response.text


def shown(html: str) -> list[str]:
    return re.findall(r'class="bundle-link" href="/bundle/[^/]+/([^"]+)"', html)


def links(html: str, css_class: str) -> dict[str, str]:
    """Link text -> href of the facet links in one facet list."""
    block = re.search(rf'<ul class="facet" aria-labelledby="facet-{css_class}">(.*?)</ul>',
                      html, re.S)
    assert block, css_class
    return {re.sub(r"<[^>]+>|✓|remove ", "", text).strip(): unescape(href)
            for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', block.group(1))}


def test_a_question_finds_the_bundle_first(site: ServedRegistry) -> None:
    html = page(site, q="how do I restart a crashing pod")
    assert shown(html)[0] == "k8s-namespace-restart"
    assert 'id="match-note"' in html


def test_a_platform_word_finds_its_bundles(site: ServedRegistry) -> None:
    html = page(site, q="EKS")
    assert set(shown(html)) == {"k8s-deployment-healthcheck", "k8s-namespace-restart"}
    assert "4 bundles for “EKS”" in html


def test_facets_count_and_link_to_filtered_results(site: ServedRegistry) -> None:
    html = page(site, q="EKS")
    platforms = links(html, "platform")
    assert set(platforms) >= {"eks", "gke", "kubernetes"}
    assert re.search(r">eks</a> <span class=\"count\">4</span>", html)
    target = platforms["aks"]
    assert dict(parse_qsl(urlsplit(target).query)) == {"q": "EKS", "platform": "aks"}
    narrowed = page(site, **dict(parse_qsl(urlsplit(target).query)))
    assert set(shown(narrowed)) == {"k8s-deployment-healthcheck"}
    # The chosen value is marked and its link removes it again.
    chosen = links(narrowed, "platform")["aks"]
    assert dict(parse_qsl(urlsplit(chosen).query)) == {"q": "EKS"}
    assert 'aria-current="true"' in narrowed
    access = links(page(site), "access_level")
    assert set(access) <= {"read-only", "read-write", "unknown"} and "read-write" in access
    assert "collection" in urlsplit(links(page(site), "collection")[
        "infra-cloud-collection"]).query


def test_a_page_past_the_end_says_so_and_links_the_last_page(site: ServedRegistry) -> None:
    html = page(site, page=99, per_page=5)
    assert shown(html) == []
    assert 'id="past-end"' in html and 'rel="prev"' not in html
    last = re.search(r'id="past-end".*?<a href="([^"]+)">', html, re.S)
    assert last and dict(parse_qsl(urlsplit(unescape(last.group(1))).query)) == {
        "per_page": "5", "page": "3"}
    assert shown(page(site, page=3, per_page=5))


def test_nothing_found_suggests_a_spelling_and_fewer_filters(site: ServedRegistry) -> None:
    html = page(site, q="vacum", platform="aws")
    assert shown(html) == [] and 'id="no-results"' in html
    tries = dict((unescape(text), unescape(href)) for href, text in
                 re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', html))
    assert dict(parse_qsl(urlsplit(tries["Search for “vacuum”"]).query)) == {
        "q": "vacuum", "platform": "aws"}
    assert dict(parse_qsl(urlsplit(tries["Without platform “aws”"]).query)) == {"q": "vacum"}
    assert "<table" not in html.split('id="no-results"')[0].split("<main")[1]
