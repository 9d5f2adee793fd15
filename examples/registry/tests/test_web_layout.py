"""Every page at a desktop (1366 px) and a phone (390 px) width in headless Chromium.

No page may scroll sideways (``document.documentElement.scrollWidth <= innerWidth``;
a wide table or drawing scrolls inside its own box), what a user needs on each page is
visible, a drawing's text stays legible, and a chip never breaks inside a word. Each
page's screenshot is kept under ``var/screenshots/`` (``REGISTRY_SCREENSHOTS`` moves it)
for people to look at: CI keeps ``var/`` as an artifact.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import chromium
from registry import runs
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from web_support import ServedRegistry, served_registry

SCREENSHOTS = Path(os.environ.get("REGISTRY_SCREENSHOTS")
                   or Path(__file__).resolve().parents[3] / "var" / "screenshots")
WIDTHS = {"desktop": 1366, "phone": 390}
#: The smallest height, in CSS pixels, of a drawing's text as laid out on the page.
LEGIBLE_TEXT_PX = 9


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRegistry]:
    with served_registry(tmp_path_factory.mktemp("web-layout"), bundles=4) as served:
        yield served


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def pages(site: ServedRegistry) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Name -> (path, CSS selectors of what must be visible there)."""
    run_id = runs.latest_runs(site.db_url)[0]["id"]
    hostile = f"/bundle/{site.hostile.collection}/{site.hostile.bundle}"
    return {
        "home": ("/", ("h1", "input[name=q]", "a.collection-link")),
        "search": ("/search?q=restart", ("#result-count", "a.bundle-link", "ul.facet",
                                        "#sort-name")),
        "search-nothing": ("/search?q=zzzqqq", ("#no-results",)),
        "search-past-end": ("/search?page=99", ("#past-end",)),
        "bundle": ("/bundle/rw-cli-codecollection/k8s-deployment-healthcheck",
                   ("h1", "#access-badge", "table[aria-labelledby=iam]",
                    "table[aria-labelledby=tasks]", "table[aria-labelledby=variables]",
                    "#readme-body")),
        "bundle-hostile": (hostile, ("h1", "table[aria-labelledby=tasks]")),
        "collection": ("/collection/rw-cli-codecollection",
                       ("h1", "#collection-status", "a.bundle-link")),
        "run": (f"/runs/{run_id}", ("#run-status", "#trace-figure svg",
                                   "table[aria-labelledby=steps]")),
        "analytics": ("/analytics", ("#growth-chart svg", "table[aria-labelledby=months]")),
        "not-found": ("/bundle/none/none", ("h1",)),
    }


def set_width(browser: WebDriver, width: int) -> None:
    """The viewport exactly ``width`` CSS pixels wide. Not emulated as ``mobile``: a
    phone's browser widens its layout viewport to fit content that overflows, which
    would hide the very overflow measured here."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 844 if width < 600 else 900, "deviceScaleFactor": 1,
        "mobile": False})


OVERFLOWING = """
const limit = window.innerWidth;
return [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > limit + 1)
  .filter(e => !e.closest('.scroll, .drawing'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40));
"""
BROKEN_CHIPS = """
return [...document.querySelectorAll('.chips a, .chips span')]
  .filter(e => e.getClientRects().length > 1 || e.getBoundingClientRect().height > 40)
  .map(e => e.textContent);
"""
SVG_TEXT_HEIGHTS = """
return [...document.querySelectorAll('main svg text')]
  .filter(t => t.textContent.trim()).map(t => t.getBoundingClientRect().height);
"""


@pytest.mark.parametrize("device", list(WIDTHS))
def test_every_page_fits_and_shows_what_is_needed(
    site: ServedRegistry, browser: WebDriver, device: str
) -> None:
    set_width(browser, WIDTHS[device])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, object] = {}
    try:
        for name, (path, needed) in pages(site).items():
            browser.get(site.url + path)
            assert browser.execute_script("return window.innerWidth") == WIDTHS[device]
            browser.save_screenshot(str(SCREENSHOTS / f"{name}-{device}.png"))
            wide = browser.execute_script(
                "return document.documentElement.scrollWidth")
            if wide > WIDTHS[device]:
                problems[f"{name}: scrollWidth {wide}"] = browser.execute_script(OVERFLOWING)
            hidden = [css for css in needed
                      if not any(e.is_displayed() for e in browser.find_elements(
                          By.CSS_SELECTOR, css))]
            if hidden:
                problems[f"{name}: not visible"] = hidden
            if broken := browser.execute_script(BROKEN_CHIPS):
                problems[f"{name}: chips broken"] = broken
            heights = browser.execute_script(SVG_TEXT_HEIGHTS)
            if heights and min(heights) < LEGIBLE_TEXT_PX:
                problems[f"{name}: svg text {min(heights):.1f} px"] = len(heights)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert problems == {}


def test_the_search_form_is_compact_on_a_phone(site: ServedRegistry, browser: WebDriver) -> None:
    set_width(browser, WIDTHS["phone"])
    try:
        browser.get(site.url + "/search?q=restart")
        form = browser.find_element(By.CSS_SELECTOR, "form.search").rect
        first = browser.find_element(By.CSS_SELECTOR, "a.bundle-link").rect
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert form["height"] <= 220, form
    assert first["y"] < 844, "the first result is on the first screen"
