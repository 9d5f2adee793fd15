"""A bundle Robot runs with problems is stored, and its problems reach the API and page.

The shapes are the real ones of runwhen-contrib/rw-cli-codecollection under Robot 7.5:
``RETURN`` inside a task's IF (Robot fails that task only) and the deprecated
``[Return]`` in a keyword (a warning); the names carry markup, shown as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from api_support import serving
from markupsafe import escape
from registry.api import create_app
from registry.config import load_settings
from registry.samples import commit_all, generate_sample_collections
from registry.service import run_in_process

TASK = "Check <script>alert(1)</script> Costs"
RUNBOOK = f"""\
*** Settings ***
Documentation    Reports costs.
*** Tasks ***
{TASK}
    [Tags]    access:read-only
    IF    True
        RETURN
    END
Fine
    Log    ok
"""
SLI = """\
*** Tasks ***
Probe
    ${ok}=    Check <b>Url</b>    x
*** Keywords ***
Check <b>Url</b>
    [Arguments]    ${url}
    [Return]    ${url}
"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("diagnostics")
    collections_yaml = generate_sample_collections(tmp / "samples", collections=1,
                                                   bundles_per_collection=1)
    entry = yaml.safe_load(collections_yaml.read_text())["codecollections"][0]
    repo = Path(entry["git_url"].removeprefix("file://"))
    bundle = repo / "codebundles" / "runs-with-problems"
    bundle.mkdir()
    (bundle / "runbook.robot").write_text(RUNBOOK)
    (bundle / "sli.robot").write_text(SLI)
    commit_all(repo, "A bundle Robot runs with problems")
    settings = load_settings(environ={}, home=str(tmp / "home"))
    summary = run_in_process(settings.db_url, collections_yaml, settings.workdir)
    [report] = summary["collection_reports"]
    assert (report["created"], report["errors"]) == (2, []), summary
    with serving(create_app(settings)) as url:
        yield f"{url}/%s/{entry['slug']}/runs-with-problems"


def test_the_api_gives_the_bundle_its_tasks_and_diagnostics(base_url: str) -> None:
    detail = httpx.get(base_url % "bundles", timeout=30).json()
    assert [t["name"] for t in detail["tasks"]] == [TASK, "Fine", "Probe"]
    assert detail["access_level"] == "read-only"
    assert detail["diagnostics"] == [
        {"file": "runbook.robot", "line": 7, "severity": "error", "scope": "task",
         "name": TASK, "message": "RETURN can only be used inside a user keyword."},
        {"file": "sli.robot", "line": 7, "severity": "warning", "scope": "keyword",
         "name": "Check <b>Url</b>",
         "message": "The '[Return]' setting is deprecated. Use the 'RETURN' statement instead."},
    ]


def test_the_page_shows_each_problem_as_text_and_under_its_task(base_url: str) -> None:
    html = httpx.get(base_url % "bundle", headers={"accept": "text/html"}, timeout=30).text
    assert "<script" not in html and "<b>Url" not in html
    assert 'id="problems">What Robot reports (2)' in html
    assert (f'<td class="lead">runbook.robot:7</td><td data-label="In">task {escape(TASK)}</td>'
            in html)
    assert (f'<td class="lead">sli.robot:7</td><td data-label="In">keyword '
            f"{escape('Check <b>Url</b>')}</td>" in html)
    # Said at the top, before the tasks, with a link down to the details.
    summary = html.index('id="problems-summary"')
    assert summary < html.index('id="tasks"')
    assert ("Robot Framework reports 1 error and 1 warning in this bundle: "
            '<a href="#problems">') in html[summary:]
    assert html.count("task-problem") == 1  # under the failing task only
    assert "error, line 7: RETURN can only be used inside a user keyword." in html
