"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

Nothing is downloaded: Selenium is pointed at the system binaries (``REGISTRY_CHROMIUM``
and ``REGISTRY_CHROMEDRIVER`` override the paths). When they are missing the browser
tests skip on a developer's machine and *fail* under ``CI=true``, where ``.ci/run``
installs them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

__all__ = ["chromium"]

CHROMIUM = os.environ.get("REGISTRY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("REGISTRY_CHROMEDRIVER", "/usr/bin/chromedriver")
#: A quiet, private, offline-minded browser: no sandbox (root in containers), no GPU,
#: no background traffic, a fresh profile per session.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage", "--window-size=1200,900",
)


def _missing() -> list[str]:
    return [path for path in (CHROMIUM, CHROMEDRIVER)
            if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path)]


@contextmanager
def chromium(profile: Path) -> Iterator[WebDriver]:
    """A Selenium WebDriver on headless Chromium with a fresh ``--user-data-dir``."""
    missing = _missing()
    if missing:
        message = (f"headless Chromium is needed for the browser tests: {', '.join(missing)} "
                   "missing (apt-get install chromium chromium-driver)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
