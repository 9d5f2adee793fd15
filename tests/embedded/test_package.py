"""``celery_safe.embedded`` is a package; its public names and what recognises it hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from celery import Celery
from kombu.utils.imports import symbol_by_name

import celery_safe.embedded
from celery_safe.workflows.validate import _backend_kind, chord_backend


def test_the_stable_names_are_the_classes_celery_is_told_to_load(tmp_path: Path) -> None:
    config = celery_safe.embedded.embedded_config(tmp_path)
    assert config["broker_transport"] == "celery_safe.embedded:SQLiteTransport"
    assert config["result_backend"] == "celery_safe.embedded:SQLiteBackend"
    assert symbol_by_name(config["broker_transport"]) is celery_safe.embedded.SQLiteTransport
    assert symbol_by_name(config["result_backend"]) is celery_safe.embedded.SQLiteBackend
    for name in celery_safe.embedded.__all__:
        assert getattr(celery_safe.embedded, name) is not None


def test_workflows_recognise_the_embedded_backend_and_its_subclasses(tmp_path: Path) -> None:
    """The chord verdicts (CSF204, CSF212) depend on it: a moved or renamed class must
    fail here instead of silently becoming "other"."""
    app = celery_safe.embedded.configure(Celery("kind"), tmp_path)
    try:
        assert _backend_kind(app.backend) == "embedded"

        class Mine(celery_safe.embedded.SQLiteBackend):  # type: ignore[misc]
            pass

        assert _backend_kind(Mine(app=app, url=app.conf.database_url)) == "embedded"
        backend = chord_backend(app)
        assert backend.orders_replaced_groups is True
    finally:
        app.close()


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)


def test_workflows_import_no_sqlalchemy() -> None:
    done = _run("import sys, celery_safe.workflows\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_missing_sqlalchemy_names_the_extra_to_install() -> None:
    done = _run("import sys\nsys.modules['sqlalchemy'] = None\nimport celery_safe.embedded")
    assert done.returncode != 0
    assert "ModuleNotFoundError" in done.stderr
    assert "pip install 'celery-safe[embedded]'" in done.stderr
