"""The API under hostile conditions, round two (issue 23 items 6-8): a key whose send
failed is free again, a crash still carries the security headers, the interactive docs
(which would load Swagger UI from a CDN) are off, and a blank admin token is no token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from admin_support import TOKEN, admin_server
from api_support import serving
from pipeline_support import RegistryHome
from registry import runs
from registry.api import create_app
from registry.config import load_settings
from registry.web import CONTENT_SECURITY_POLICY

# --- item 6: a send that failed leaves its key free ------------------------------------------


def test_a_key_whose_send_failed_is_never_replayed_as_started(tmp_path: Path) -> None:
    home = RegistryHome(tmp_path / "home", "redis://127.0.0.1:1/0",
                        REGISTRY_RESULT_BACKEND=f"db+sqlite:///{tmp_path / 'results.db'}")
    with admin_server(home) as client:
        answers = [client.post("/admin/enhance", key="K") for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 503], [a.text for a in answers]
    assert not any(a.json().get("replayed") for a in answers)
    ids = [a.json()["run_id"] for a in answers]
    assert len(set(ids)) == 3  # each retry really tried to send
    for run_id in ids:
        run = runs.get_run(home.db_url, run_id)
        assert run is not None and run["status"] == "failed" and run["request_key"] is None
    assert runs.run_for_request(home.db_url, "K") is None


# --- item 7: security headers on a crash, no CDN-loaded docs --------------------------------


def _headers_are_set(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.fixture
def crashing(tmp_path: Path) -> Iterator[str]:
    app = create_app(f"sqlite:///{tmp_path / 'r.db'}")

    def crash() -> None:
        raise ZeroDivisionError("a bug")

    app.add_api_route("/crash", crash)  # a route with a bug: the app's own crash handler runs
    with serving(app) as url:
        yield url


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_500_carries_the_security_headers(crashing: str, accept: str) -> None:
    response = httpx.get(f"{crashing}/crash", headers={"Accept": accept}, timeout=30)
    assert response.status_code == 500
    assert "a bug" not in response.text and "ZeroDivisionError" not in response.text
    _headers_are_set(response)


def test_the_interactive_docs_are_off_and_the_schema_is_served(crashing: str) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = httpx.get(crashing + path, timeout=30)
        assert response.status_code == 404, path
        assert "cdn" not in response.text.lower()
        _headers_are_set(response)
    schema = httpx.get(f"{crashing}/openapi.json", timeout=30)
    assert schema.status_code == 200 and "/bundles" in schema.json()["paths"]
    _headers_are_set(schema)


# --- item 8: the admin token is stripped; blank is no token, and says so ----------------------


@pytest.mark.parametrize("raw", [f"{TOKEN}\n", f"  {TOKEN}\t", f"\r\n{TOKEN}\r\n"])
def test_the_admin_token_is_stripped(tmp_path: Path, raw: str) -> None:
    settings = load_settings(environ={"REGISTRY_ADMIN_TOKEN": raw}, home=tmp_path)
    assert settings.admin_token == TOKEN
    with serving(create_app(settings)) as url:
        response = httpx.post(f"{url}/admin/collections/nope/sync",
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 404  # past the token: the collection is not stored


@pytest.mark.parametrize("raw", ["", "   ", "\n", "\t \r\n"])
def test_a_blank_admin_token_disables_the_routes_and_says_so(tmp_path: Path, raw: str) -> None:
    settings = load_settings(environ={"REGISTRY_ADMIN_TOKEN": raw}, home=tmp_path)
    assert settings.admin_token is None
    with serving(create_app(settings)) as url:
        for given in ("x", raw.strip() + "y"):
            response = httpx.post(f"{url}/admin/enhance",
                                  headers={"Authorization": f"Bearer {given}"}, timeout=30)
            assert response.status_code == 403
            assert "REGISTRY_ADMIN_TOKEN is blank" in response.json()["detail"]


@pytest.mark.parametrize("raw", ["to\nken", "tok\x00en", "tok\x7fen"])
def test_a_token_no_header_can_carry_stops_the_server(tmp_path: Path, raw: str) -> None:
    settings = load_settings(environ={"REGISTRY_ADMIN_TOKEN": raw}, home=tmp_path)
    with pytest.raises(ValueError, match=r"REGISTRY_ADMIN_TOKEN .*control character"):
        create_app(settings)


def test_serve_says_when_the_admin_routes_are_off(tmp_path: Path) -> None:
    home = RegistryHome(tmp_path / "home", "redis://127.0.0.1:1/0")
    with admin_server(home, token="  \n"):
        pass
    log = (Path(home.home) / "serve.log").read_text()
    assert "admin routes disabled: REGISTRY_ADMIN_TOKEN is blank" in log
