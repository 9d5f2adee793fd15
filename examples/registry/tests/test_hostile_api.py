"""Hostile requests to the HTTP API (issue 16, items 7-8), through a real server on loopback.

Bad input gets a 422 JSON answer naming the parameter; what is accepted is bounded
(words, tags, lengths) and every statement runs under a time budget, so one client
cannot starve the others. Every loop here is bounded; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import serving
from registry import query
from registry.api import create_app
from registry.config import load_settings
from registry.db import session_scope
from registry.models import CodeBundle, Collection
from registry.service import run_in_process
from sqlalchemy import select


@pytest.fixture(scope="module")
def settings_home(tmp_path_factory: pytest.TempPathFactory, shared_samples: Path) -> str:
    home = str(tmp_path_factory.mktemp("hostile-api"))
    settings = load_settings(environ={}, home=home)
    run_in_process(settings.db_url, shared_samples, settings.workdir)
    return home


@pytest.fixture(scope="module")
def base_url(settings_home: str) -> Iterator[str]:
    with serving(create_app(load_settings(environ={}, home=settings_home))) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def _refused(response: httpx.Response, parameter: str, words: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", parameter], error
    assert words in error["msg"], error


def test_huge_offset_is_422_json(client: httpx.Client) -> None:
    _refused(client.get("/bundles", params={"offset": 10**26}), "offset", "less than or equal")
    ok = client.get("/bundles", params={"offset": query.MAX_OFFSET})
    assert ok.status_code == 200 and ok.json()["items"] == []


def test_too_many_search_words_is_422(client: httpx.Client) -> None:
    words = " ".join(f"w{i}" for i in range(1000))
    _refused(client.get("/bundles", params={"search": words}), "search",
             f"at most {query.MAX_SEARCH_WORDS} words")
    _refused(client.get("/bundles", params={"search": "x" * (query.MAX_SEARCH_CHARS + 1)}),
             "search", f"at most {query.MAX_SEARCH_CHARS} characters")
    accepted = " ".join(["replication"] * query.MAX_SEARCH_WORDS)
    one_word = client.get("/bundles", params={"search": "replication"}).json()["total"]
    assert client.get("/bundles", params={"search": accepted}).json()["total"] == one_word > 0


def test_too_many_tags_is_422(client: httpx.Client) -> None:
    _refused(client.get("/bundles", params=[("tag", f"t{i}") for i in range(999)]), "tag",
             f"at most {query.MAX_TAG_FILTERS} values")
    _refused(client.get("/bundles", params=[("platform", "aws")] * 999), "platform",
             f"at most {query.MAX_TAG_FILTERS} values")
    _refused(client.get("/bundles", params={"tag": "t" * 500}), "tag", "characters")


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("search", "\x00"), ("search", "lag\x00"), ("search", "a\x1bb"), ("tag", "s3\x00"),
     ("platform", "\x07aws"), ("collection", "rw\x00")],
)
def test_nul_and_control_characters_are_422(
    client: httpx.Client, parameter: str, value: str
) -> None:
    _refused(client.get("/bundles", params={parameter: value}), parameter, "control character")


def test_query_limits_are_enforced_in_the_domain_too(settings_home: str) -> None:
    """The CLI calls the same function: bad input is a QueryInputError, never a SQL error."""
    settings = load_settings(environ={}, home=settings_home)
    with session_scope(settings.db_url) as session, pytest.raises(query.QueryInputError) as err:
        query.list_bundles(session, search="\x00")
    assert err.value.parameter == "search"


def test_a_statement_over_its_time_budget_is_stopped_with_503(
    tmp_path: Path, shared_samples: Path
) -> None:
    # A budget no statement can meet, and 1,000 bundles to search: SQLite runs millions
    # of instructions for it (the progress handler looks at the clock every 1,000).
    settings = load_settings(environ={}, home=str(tmp_path))
    run_in_process(settings.db_url, shared_samples, settings.workdir)
    with session_scope(settings.db_url) as session:
        collection = session.scalars(select(Collection)).first()
        assert collection is not None
        session.add_all(CodeBundle(collection_id=collection.id, slug=f"copy-{i}",
                                   doc="a e i o u s t " * 20) for i in range(1000))
    app = create_app(settings, query_timeout=1e-9)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        everywhere = " ".join("aeioust"[:query.MAX_SEARCH_WORDS])  # every row, every word
        response = http.get("/bundles", params={"search": everywhere})
        assert response.status_code == 503
        assert response.json() == {"detail": "query stopped: it ran longer than the "
                                              "server's 1e-09 s budget per statement"}
        assert http.get("/health").status_code == 200  # answers: never hangs or crashes


def test_health_answers_while_four_clients_send_the_costliest_search(
    base_url: str, client: httpx.Client
) -> None:
    """Four clients loop on the most expensive accepted request; /health keeps answering.

    Times are printed, not asserted (a shared machine); the check is that every request
    got its answer and none was refused or failed.
    """
    costly = {"search": " ".join(f"zz{i}" for i in range(query.MAX_SEARCH_WORDS)),
              "tag": [f"t{i}" for i in range(query.MAX_TAG_FILTERS)]}
    statuses: list[int] = []

    def hammer() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            statuses.extend(http.get("/bundles", params=costly).status_code for _ in range(20))

    idle = [_timed(client, "/health") for _ in range(10)]
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    loaded = [_timed(client, "/health") for _ in range(10)]
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [200] * 80
    print(f"/health p50 idle {statistics.median(idle) * 1000:.1f} ms, "
          f"under 4 costly clients {statistics.median(loaded) * 1000:.1f} ms")


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


def test_the_cli_refuses_the_same_input_with_exit_2(
    settings_home: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry.cli import main

    monkeypatch.setenv("REGISTRY_HOME", settings_home)  # main() exports it: restored after
    assert main(["list", "--home", settings_home, "--search", "a\x00b"]) == 2
    assert "error: --search: contains the control character U+0000" in capsys.readouterr().err
