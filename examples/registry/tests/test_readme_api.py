"""The registry README's example answers (``$ curl -s localhost:8000/...``) are what the
API answers on the same data: the 3 x 4 sample collections, one enhancement failing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import serving
from registry.api import create_app
from registry.config import load_settings
from registry.service import run_in_process

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = re.compile(
    r"^\$ curl -s '?localhost:8000(\S+?)'?(?:[ \t]+#[^\n]*)?\n(.*?)(?=^\$|^```|^$)",
    re.MULTILINE | re.DOTALL,
)
#: answers holding times of the run that made them: their keys are compared
TIMED = {"/health"}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, shared_samples: Path
) -> Iterator[httpx.Client]:
    settings = load_settings(environ={}, home=str(tmp_path_factory.mktemp("readme")))
    run_in_process(settings.db_url, shared_samples, settings.workdir, enhancer="fail:vacuum")
    with serving(create_app(settings)) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def test_every_whole_example_answer_is_the_apis(client: httpx.Client) -> None:
    compared = 0
    for path, shown in EXAMPLE.findall(README.read_text()):
        if "..." in shown:
            continue  # an abridged answer: nothing to compare whole
        expected = json.loads(shown)
        answer = client.get(path).json()
        if path in TIMED:
            assert sorted(answer) == sorted(expected), path
        else:
            assert answer == expected, path
        compared += 1
    assert compared >= 6
