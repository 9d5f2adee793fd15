"""The admin API's door: a bearer token from configuration, compared in constant time.

These requests never reach a broker: refused ones stop at the token, and the accepted
ones here name a collection or a schedule entry that does not exist (404 before
anything is built or sent). Sending is tested on real workers in test_admin_runs.py.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from admin_support import TOKEN
from api_support import serving
from registry.api import create_app
from registry.config import load_settings

ROUTES = ["/admin/sync", "/admin/collections/k8s/sync", "/admin/enhance",
          "/admin/schedules/health-check-every-5min/run"]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[str]:
    settings = load_settings(environ={}, home=tmp_path, admin_token=TOKEN)
    with serving(create_app(settings)) as url:
        yield url


def post(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, headers=headers or {}, timeout=30)


@pytest.mark.parametrize("route", ROUTES)
def test_no_token_configured_disables_the_admin_routes(tmp_path: Path, route: str) -> None:
    settings = load_settings(environ={}, home=tmp_path)
    assert settings.admin_token is None
    with serving(create_app(settings)) as url:
        for headers in ({}, {"Authorization": "Bearer anything"}, {"Authorization": "Bearer"}):
            response = post(url + route, headers)
            assert response.status_code == 403
            assert "admin endpoints are disabled" in response.json()["detail"]
            assert "REGISTRY_ADMIN_TOKEN" in response.json()["detail"]


def test_a_bare_database_url_never_enables_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_ADMIN_TOKEN", TOKEN)  # the environment is not the config
    with serving(create_app(f"sqlite:///{tmp_path / 'r.db'}")) as url:
        response = post(url + "/admin/enhance", {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403


@pytest.mark.parametrize("route", ROUTES)
def test_a_missing_token_is_401_with_a_challenge(guarded: str, route: str) -> None:
    response = post(guarded + route)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token " + TOKEN, TOKEN])
def test_a_malformed_header_is_401(guarded: str, header: str) -> None:
    response = post(guarded + "/admin/enhance", {"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("given", [TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "é" * 8, "x"])
def test_a_wrong_token_is_403(guarded: str, given: str) -> None:
    for route in ROUTES:
        response = httpx.post(guarded + route, timeout=30,
                              headers={"Authorization": b"Bearer " + given.encode()})
        assert response.status_code == 403, route
        assert response.json() == {"detail": "wrong admin token"}


def test_the_token_is_compared_with_compare_digest(
    guarded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert post(guarded + "/admin/enhance", {"Authorization": "Bearer nope"}).status_code == 403
    assert compared == [(b"nope", TOKEN.encode())]


def test_the_right_token_reaches_the_route(guarded: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = post(guarded + "/admin/collections/no-such-collection/sync", auth)
    assert response.status_code == 404
    assert response.json() == {"detail": "collection 'no-such-collection' not found"}
    response = post(guarded + "/admin/schedules/health-check-every-5mn/run", auth)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "no beat schedule entry 'health-check-every-5mn'" in detail
    assert "did you mean 'health-check-every-5min'?" in detail
    response = post(guarded + "/admin/sync", auth)
    assert response.status_code == 409 and "no collections file" in response.json()["detail"]
    bad_key = {**auth, "Idempotency-Key": "has spaces"}
    assert post(guarded + "/admin/enhance", bad_key).status_code == 422


def test_the_read_only_api_and_pages_stay_open(guarded: str) -> None:
    for path in ("/health", "/stats", "/collections", "/bundles", "/"):
        assert httpx.get(guarded + path, timeout=30).status_code == 200, path
    missing = httpx.get(guarded + "/runs/no-such-run", timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "run 'no-such-run' not found"}
    page = httpx.get(guarded + "/runs/no-such-run", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 404 and "No pipeline run" in page.text


def test_the_token_is_not_shown_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(environ={"REGISTRY_ADMIN_TOKEN": TOKEN}, home=tmp_path)
    assert settings.admin_token == TOKEN and TOKEN not in repr(settings)
