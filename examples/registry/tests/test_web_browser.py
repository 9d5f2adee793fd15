"""The web UI in a real browser: headless Chromium, driven by Selenium.

One served registry (sample collections, a hostile one, one real pipeline run) and one
browser for the module. The tests click through it as a user would: search, filter,
page, open a bundle, open the run and see its SVG, hit the error pages, and check that
the hostile collection's markup is shown as text and never runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browser_support import chromium
from registry import runs
from registry.samples import HOSTILE_SCRIPT
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from web_support import ServedRegistry, served_registry

pytestmark = pytest.mark.worker  # served_registry populates the site on a real worker

DOCS = Path(__file__).parent.parent / "docs"
SCREENSHOT = DOCS / "run-page.png"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRegistry]:
    with served_registry(tmp_path_factory.mktemp("web-browser")) as served:
        yield served


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def assert_nothing_ran(browser: WebDriver) -> None:
    """The planted scripts set ``document.title`` to 'pwned' and a global flag; the
    pages' own title ends with the site's name (and may show the payload, as text)."""
    assert browser.title != "pwned" and browser.title.endswith("· CodeBundle registry")
    assert browser.execute_script("return typeof window.registryPwned") == "undefined"
    linked = browser.find_elements(By.CSS_SELECTOR, "[href]")
    hrefs = [a.get_attribute("href") or "" for a in linked]
    assert hrefs and not [h for h in hrefs if h.strip().lower().startswith("javascript:")]


def result_links(browser: WebDriver) -> list[str]:
    return [urlsplit(a.get_attribute("href") or "").path
            for a in browser.find_elements(By.CSS_SELECTOR, "a.bundle-link")]


def test_home_lists_collections_and_the_run(site: ServedRegistry, browser: WebDriver) -> None:
    browser.get(site.url + "/")
    assert browser.title == "Home · CodeBundle registry"
    table = browser.find_element(By.CSS_SELECTOR, "table[aria-labelledby=collections]").text
    for name in ("RunWhen CLI CodeCollection", "Cloud Infrastructure Collection",
                 "Data Platform Collection", HOSTILE_SCRIPT):
        assert name in table
    run_id = runs.latest_runs(site.db_url)[0]["id"]
    assert browser.find_element(By.CSS_SELECTOR, f'a[href="/runs/{run_id}"]').is_displayed()
    assert_nothing_ran(browser)


def test_search_from_the_home_page(site: ServedRegistry, browser: WebDriver) -> None:
    browser.get(site.url + "/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("namespace")
    box.submit()  # a script submitting the form: it does not wait for the next page
    WebDriverWait(browser, 30).until(lambda page: urlsplit(page.current_url).path == "/search")
    shown = result_links(browser)
    api = httpx.get(f"{site.url}/bundles", params={"search": "namespace"}, timeout=30).json()
    assert shown == [f"/bundle/{b['collection']}/{b['slug']}" for b in api["items"]]
    assert shown and f"{api['total']} bundle" in browser.find_element(By.ID, "result-count").text


def test_filter_by_tag_platform_and_access(site: ServedRegistry, browser: WebDriver) -> None:
    browser.get(site.url + "/search")
    browser.find_element(By.NAME, "tag").send_keys("access:read-write")
    browser.find_element(By.NAME, "platform").send_keys("KUBERNETES")  # exact, any case
    Select(browser.find_element(By.NAME, "access_level")).select_by_value("read-write")
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    api = httpx.get(f"{site.url}/bundles", timeout=30, params={
        "tag": "access:read-write", "platform": "KUBERNETES", "access_level": "read-write"}).json()
    assert 0 < api["total"] < 25
    assert result_links(browser) == [f"/bundle/{b['collection']}/{b['slug']}"
                                      for b in api["items"]]
    # The form shows the filters it applied.
    assert browser.find_element(By.NAME, "tag").get_attribute("value") == "access:read-write"


def test_pages_through_the_results(site: ServedRegistry, browser: WebDriver) -> None:
    browser.get(site.url + "/search?per_page=10")
    seen = result_links(browser)
    while browser.find_elements(By.CSS_SELECTOR, 'a[rel="next"]'):
        browser.find_element(By.CSS_SELECTOR, 'a[rel="next"]').click()
        seen += result_links(browser)
        assert len(seen) <= 100
    total = httpx.get(f"{site.url}/bundles", params={"limit": 1}, timeout=30).json()["total"]
    assert len(seen) == len(set(seen)) == total > 10


def test_open_a_bundle(site: ServedRegistry, browser: WebDriver) -> None:
    browser.get(site.url + "/search?q=deployment")
    first = browser.find_element(By.CSS_SELECTOR, "a.bundle-link")
    path = urlsplit(first.get_attribute("href") or "").path
    first.click()
    _, _, collection, slug = path.split("/")
    detail = httpx.get(f"{site.url}/bundles/{collection}/{slug}", timeout=30).json()
    assert browser.find_element(By.TAG_NAME, "h1").text == detail["display_name"]
    tasks = browser.find_element(By.CSS_SELECTOR, "table[aria-labelledby=tasks]").text
    for task in detail["tasks"]:
        assert task["name"] in tasks
        for tag in task["tags"]:
            assert tag in tasks
    variables = browser.find_element(By.CSS_SELECTOR, "table[aria-labelledby=variables]").text
    assert all(v["name"] in variables for v in detail["user_variables"])
    page = browser.find_element(By.TAG_NAME, "main").text
    assert detail["ai_description"] and detail["ai_description"] in page
    assert "IAM hints" in page and "Access level" in page
    # A task tag is a link to the exact-tag search.
    tag = detail["tasks"][0]["tags"][0]
    browser.find_element(By.LINK_TEXT, tag).click()
    assert browser.find_element(By.NAME, "tag").get_attribute("value") == tag
    assert path in result_links(browser)


def test_hostile_bundle_shows_its_markup_as_text(
    site: ServedRegistry, browser: WebDriver
) -> None:
    browser.get(f"{site.url}/search?collection={site.hostile.collection}")
    assert_nothing_ran(browser)
    browser.find_element(By.CSS_SELECTOR, "a.bundle-link").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == site.hostile.display_name
    assert_nothing_ran(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "main script, main img, main iframe")
    browser.find_element(By.LINK_TEXT, site.hostile.tag).click()  # a tag like a URL
    assert urlsplit(browser.current_url).path == "/search"
    assert browser.find_element(By.NAME, "tag").get_attribute("value") == site.hostile.tag
    assert_nothing_ran(browser)


def test_run_page_draws_the_trace(site: ServedRegistry, browser: WebDriver) -> None:
    browser.get(site.url + "/")
    run_id = runs.latest_runs(site.db_url)[0]["id"]
    browser.find_element(By.CSS_SELECTOR, f'a[href="/runs/{run_id}"]').click()
    assert "finished" in browser.find_element(By.ID, "run-status").text
    drawing = browser.find_element(By.CSS_SELECTOR, "#trace-figure svg")
    assert drawing.size["width"] > 100 and drawing.size["height"] > 50  # laid out, drawn
    labels = drawing.find_elements(By.TAG_NAME, "text")
    assert "store_yaml" in " ".join(label.text for label in labels)
    collections = browser.find_element(By.CSS_SELECTOR, "table[aria-labelledby=collections]")
    assert "RunWhen CLI CodeCollection" in collections.text
    assert "registry.sync_collection" in browser.find_element(By.TAG_NAME, "main").text
    assert_nothing_ran(browser)
    # The README's picture: the top of the page, trace included, in a small window.
    browser.set_window_size(900, 760)
    try:
        shot = browser.get_screenshot_as_png()
    finally:
        browser.set_window_size(1200, 900)
    assert shot.startswith(b"\x89PNG")
    if os.environ.get("REGISTRY_UPDATE_SCREENSHOT"):  # refresh the README's picture
        SCREENSHOT.write_bytes(shot)


@pytest.mark.parametrize(("path", "title", "code"), [
    ("/bundle/no-such-collection/no-such-bundle", "Bundle not found", 404),
    ("/runs/not-a-run", "Run not found", 404),
    ("/nothing/here", "Not found", 404),
    ("/search?page=zero", "Filter refused", 422),
    ("/search?tag=" + "x" * 101, "Filter refused", 422),
])
def test_error_pages(
    site: ServedRegistry, browser: WebDriver, path: str, title: str, code: int
) -> None:
    browser.get(site.url + path)
    assert browser.find_element(By.TAG_NAME, "h1").text == title
    assert browser.title.startswith(f"{code} ")
    assert "Traceback" not in browser.page_source
    assert browser.find_element(By.LINK_TEXT, "Back to the registry").is_displayed()


def test_the_analytics_chart_renders_and_sorting_is_a_click(
    site: ServedRegistry, browser: WebDriver
) -> None:
    def arrived(query: str) -> None:  # a click returns before the next page is there
        WebDriverWait(browser, 30).until(
            lambda page: urlsplit(page.current_url).query == query
            and page.execute_script("return document.readyState") == "complete")

    report = httpx.get(f"{site.url}/analytics/task-growth", timeout=30).json()
    browser.get(site.url + "/")
    browser.find_element(By.LINK_TEXT, "Analytics").click()
    WebDriverWait(browser, 30).until(
        lambda page: page.find_elements(By.CSS_SELECTOR, "#growth-chart svg"))
    chart = browser.find_element(By.CSS_SELECTOR, "#growth-chart svg")
    assert chart.is_displayed() and chart.size["width"] > 200 and chart.size["height"] > 50
    bars = chart.find_elements(By.CSS_SELECTOR, "g.bars rect")
    assert len(bars) == len(report["months"]) > 1
    heights = [float(bar.get_attribute("height") or 0) for bar in bars]
    assert heights[-1] == max(heights) > 0  # the samples only ever gain tasks
    rows = browser.find_elements(By.CSS_SELECTOR, "table[aria-labelledby=months] tbody tr")
    assert len(rows) == len(report["months"])
    assert_nothing_ran(browser)
    browser.get(site.url + "/search")
    browser.find_element(By.ID, "sort-date").click()  # newest first
    arrived("sort=-date")
    api = httpx.get(f"{site.url}/bundles", params={"sort": "-date", "limit": 20},
                    timeout=30).json()
    assert result_links(browser) == [f"/bundle/{b['collection']}/{b['slug']}"
                                     for b in api["items"]]
    browser.find_element(By.ID, "sort-date").click()  # again: oldest first
    arrived("sort=date")
    header = browser.find_element(By.ID, "sort-date").find_element(By.XPATH, "..")
    assert header.get_attribute("aria-sort") == "ascending"


def test_a_run_going_updates_in_place(site: ServedRegistry, browser: WebDriver) -> None:
    """A health check sent with no worker running: its page says why it waits and how
    to start one; a worker then runs it, and the page shows the end without reloading
    (the reader keeps their place; the CSP runs no other script)."""
    import subprocess
    import sys

    from celery_safe.testing.worker_process import WorkerProcess

    sent = subprocess.run(
        [sys.executable, "-m", "registry", "run", "schedule", "health-check-every-5min"],
        env=site.env, cwd=site.home, capture_output=True, text=True, timeout=120, check=False)
    assert sent.returncode == 0, sent.stderr
    run_id = sent.stdout.strip().rsplit(" ", 1)[-1]
    browser.set_window_size(900, 500)
    try:
        browser.get(f"{site.url}/runs/{run_id}")
        status = browser.find_element(By.ID, "run-status")
        assert "queued — no worker is running; start one with" in status.text
        assert browser.find_element(By.TAG_NAME, "h1").text == f"Health check {run_id[:8]}"
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight);"
                               "window.registryStillHere = true;")
        assert browser.execute_script("return window.scrollY") > 0
        with WorkerProcess("registry.celery_app", pool="solo", concurrency=1,
                           env=site.env, cwd=site.home):
            WebDriverWait(browser, 120).until(
                lambda page: "finished" in page.find_element(By.ID, "run-status").text)
        assert browser.execute_script("return window.registryStillHere") is True  # no reload
        assert browser.execute_script("return window.scrollY") > 0
        main = browser.find_element(By.TAG_NAME, "main").text
        assert "REPLACED" not in main and "STARTED" not in main and "SUCCESS" not in main
        assert "Result" in main and "\\u0027" not in browser.page_source
    finally:
        browser.set_window_size(1200, 900)
    assert_nothing_ran(browser)
