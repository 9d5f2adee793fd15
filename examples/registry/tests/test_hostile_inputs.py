"""Hostile registry inputs (issue 16, items 1-6): each is refused alone, clearly, cheaply.

Every test here failed before the fix it names; the explosive inputs are sized so that
the unfixed code fails an assertion without exhausting the machine.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_support import RegistryHome
from registry import service, store
from registry.db import session_scope
from registry.gitsync import GitSyncError, sync_collection
from registry.models import CodeBundle, Collection
from registry.parsing import parse_collection
from registry.query import collection_dict, health
from registry.redact import redact, redact_url
from registry.safeyaml import (
    PureStrictLoader,
    Refused,
    StrictLoader,
    YamlInputError,
    YamlLimits,
    load_yaml,
)
from registry.samples import _git, commit_all, generate_sample_collections
from registry.sources import (
    MAX_COLLECTIONS,
    CollectionSpec,
    load_collections,
    parse_collections_text,
)
from sqlalchemy import select

ROBOT = (
    "*** Settings ***\nDocumentation    Doc.\nMetadata    Supports    AWS\n"
    "*** Tasks ***\nT\n    [Tags]    access:read-only\n"
)


def laughs(levels: int, fan_out: int = 9) -> str:
    """A "billion laughs" mapping: ``fan_out ** levels`` strings once expanded."""
    lines = ["l0: &l0 [" + ",".join(["lol"] * fan_out) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def make_repo(root: Path, bundles: dict[str, dict[str, str]]) -> Path:
    """A committed git collection: ``{bundle: {file name: text}}``."""
    root.mkdir(parents=True)
    _git(root, "init", "--quiet", "--initial-branch=main")
    for name, files in bundles.items():
        folder = root / "codebundles" / name
        folder.mkdir(parents=True)
        for filename, text in files.items():
            (folder / filename).write_text(text)
    commit_all(root, "bundles")
    return root


def ingest(db_url: str, workdir: Path, repo: Path, slug: str = "hostile") -> service.IngestReport:
    spec = CollectionSpec(name="Hostile", slug=slug, git_url=repo.as_uri())
    with session_scope(db_url) as session:
        return service.ingest_collection(session, spec, workdir)


def stored(db_url: str) -> dict[str, CodeBundle]:
    with session_scope(db_url) as session:
        return {b.slug: b for b in session.scalars(select(CodeBundle))}


def collection_row(db_url: str, slug: str = "hostile") -> Collection:
    with session_scope(db_url) as session:
        row = session.scalar(select(Collection).where(Collection.slug == slug))
        assert row is not None
        return row


# --- the loader itself --------------------------------------------------------------------

LIMITS = YamlLimits(max_bytes=64_000, max_depth=20, max_values=10_000, max_chars=100_000)


@pytest.mark.parametrize("loader", [StrictLoader, PureStrictLoader])
def test_alias_expansion_is_bounded_before_anything_expands(loader: type[Any]) -> None:
    text = laughs(9)  # 9 ** 10 strings once expanded, from 400 bytes
    assert len(text) < 500
    with pytest.raises(YamlInputError, match="more than 10000 values"):
        load_yaml(text, LIMITS, loader=loader)
    assert load_yaml(laughs(2), LIMITS, loader=loader)["l2"][0][0] == ["lol"] * 9


@pytest.mark.parametrize("loader", [StrictLoader, PureStrictLoader])
def test_depth_refuses_the_deep_subtree_only(loader: type[Any]) -> None:
    data = load_yaml("a: 1\nb: " + "[" * 5000 + "]" * 5000 + "\n", LIMITS, loader=loader)
    assert data["a"] == 1
    inner = data["b"]
    for _ in range(19):
        [inner] = inner
    assert isinstance(inner, Refused) and "nests deeper than 20 levels" in inner.reason


@pytest.mark.parametrize("loader", [StrictLoader, PureStrictLoader])
def test_duplicate_keys_are_refused_merge_keys_kept(loader: type[Any]) -> None:
    with pytest.raises(YamlInputError, match=r"duplicate key 'slug' \(first given on line 1"):
        load_yaml("slug: a\nname: n\nslug: b\n", LIMITS, loader=loader)
    merged = load_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n", LIMITS, loader=loader)
    assert merged["c"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("loader", [StrictLoader, PureStrictLoader])
def test_cycles_sizes_and_documents_are_refused(loader: type[Any]) -> None:
    for text, words in [
        ("a: &x [*x]\n", "cycle"),
        ("- a\n---\n- b\n", "more than one YAML document"),
        ("x" * 64_001, "over the 64000-byte limit"),
        ("a: &s " + "x" * 50_000 + "\nb: [*s, *s]\n", "characters of text"),
    ]:
        with pytest.raises(YamlInputError, match=words):
            load_yaml(text, LIMITS, loader=loader)


def test_the_c_loader_is_used_when_libyaml_is_installed() -> None:
    assert yaml.__with_libyaml__
    assert issubclass(StrictLoader, yaml.CSafeLoader)
    assert service.load_collections.__module__ == "registry.sources"


# --- item 1 and 2: meta.yaml --------------------------------------------------------------


def test_billion_laughs_meta_is_refused_in_parsing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {
        "laughs": {"runbook.robot": ROBOT, "meta.yaml": laughs(9)},
        "good": {"runbook.robot": ROBOT, "meta.yaml": "owner: ops\n"},
    })
    result = parse_collection(root)
    assert [b.slug for b in result.bundles] == ["good"]
    [error] = result.errors
    assert error.bundle == "laughs"
    assert error.message.startswith("meta.yaml: ")
    assert "values (aliases expanded)" in error.message


def test_laughs_and_bad_values_fail_alone_and_the_rest_is_stored(
    tmp_path: Path, db_url: str, workdir: Path
) -> None:
    # Small enough that the unfixed code survives (9 ** 5 strings), big enough to refuse.
    repo = make_repo(tmp_path / "repo", {
        "a-good": {"runbook.robot": ROBOT, "meta.yaml": "owner: ops\ntags: [x]\n"},
        "dated": {"runbook.robot": ROBOT, "meta.yaml": "owner: ops\nwhen: 2024-01-01\n"},
        "deep": {"runbook.robot": ROBOT,
                 "meta.yaml": "owner: ops\nspec: " + "[" * 5000 + "]" * 5000 + "\n"},
        "laughs": {"runbook.robot": ROBOT, "meta.yaml": laughs(5)},
        "z-good": {"runbook.robot": ROBOT},
    })
    report = ingest(db_url, workdir, repo)
    assert report.status == "partial"
    assert set(stored(db_url)) == {"a-good", "z-good"}
    errors = {e.split(": ")[1].removeprefix("bundle "): e for e in report.errors}
    assert set(errors) == {"dated", "deep", "laughs"}
    assert "meta.yaml: field 'when': a YAML date (2024-01-01)" in errors["dated"]
    assert "quote it" in errors["dated"]
    assert "meta.yaml: field 'spec" in errors["deep"] and "nests deeper" in errors["deep"]
    assert "meta.yaml:" in errors["laughs"]
    last_error = collection_row(db_url).last_error or ""
    assert len(last_error) < 1200 and "INSERT" not in last_error
    assert "RecursionError" not in last_error


def test_bad_meta_values_name_bundle_file_and_field(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {
        "binary": {"runbook.robot": ROBOT, "meta.yaml": "blob: !!binary aGVsbG8=\n"},
        "nan": {"runbook.robot": ROBOT, "meta.yaml": "x:\n  - {ratio: .nan}\n"},
        "keys": {"runbook.robot": ROBOT, "meta.yaml": "1: one\n"},
        "dup": {"runbook.robot": ROBOT, "meta.yaml": "a: 1\na: 2\n"},
    })
    (root / "codebundles" / "newline\n").mkdir()
    (root / "codebundles" / "newline\n" / "runbook.robot").write_text(ROBOT)
    errors = {e.bundle: e.message for e in parse_collection(root).errors}
    assert "is not a usable bundle slug" in errors["newline\n"]
    assert errors["binary"].startswith("meta.yaml: field 'blob': ")
    assert errors["nan"].startswith("meta.yaml: field 'x[0].ratio': ")
    assert errors["keys"].startswith("meta.yaml: field '1': ")
    assert "duplicate key 'a'" in errors["dup"]


def test_the_write_lock_is_never_held_while_parsing(
    tmp_path: Path, db_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing (and every check of its output) runs before the first write of the sync."""
    repo = make_repo(tmp_path / "repo", {"one": {"runbook.robot": ROBOT}})
    seen: list[bool] = []
    real = service.parse_collection

    def parse_and_look(path: Path) -> Any:
        with session_scope(db_url) as other:  # would wait 30 s if a write lock were held
            other.add(Collection(slug="probe", name="p", git_url="file:///p"))
            seen.append(True)
        return real(path)

    monkeypatch.setattr(service, "parse_collection", parse_and_look)
    assert ingest(db_url, workdir, repo).status == "synced"
    assert seen == [True]


# --- item 3 and 5: collections.yaml --------------------------------------------------------

GOOD = {"name": "Good", "slug": "good", "git_url": "https://example.com/good.git"}


def entries_yaml(*raw: str) -> str:
    return "codecollections:\n" + "".join(raw)


def test_a_bad_entry_never_stops_the_load() -> None:
    text = entries_yaml(
        "- {name: Good, slug: good, git_url: 'https://example.com/good.git'}\n",
        "- {name: Deep, slug: deep, git_url: 'https://example.com/d.git', description: "
        + "[" * 3000 + "]" * 3000 + "}\n",
        "- {name: Br, slug: bracket, git_url: 'ssh://[-oProxyCommand=x]/y'}\n",
        "- {name: Open, slug: open, git_url: 'https://[/x'}\n",
        "- {name: Last, slug: last, git_url: 'https://example.com/last.git'}\n",
    )
    loaded = parse_collections_text(text)
    assert [spec.slug for spec in loaded.collections] == ["good", "last"]
    errors = {error.entry: error for error in loaded.errors}
    assert set(errors) == {"#2 ('deep')", "#3 ('bracket')", "#4 ('open')"}
    assert errors["#2 ('deep')"].field == "description"
    assert "nests deeper" in errors["#2 ('deep')"].message
    assert errors["#3 ('bracket')"].field == "git_url"
    assert errors["#4 ('open')"].field == "git_url"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ("git_ref: 1.10", "git_ref", "got float 1.1"),
        ("git_ref: 0x1F", "git_ref", "got int 31"),
        ("git_ref: 2024-01-01", "git_ref", "got date"),
        ("owner: yes", "owner", "got bool"),
        ("slug: \"good\\n\"", "slug", "not a slug"),
        ("slug: \"good\\u2028\"", "slug", "not a slug"),
        ("slug: \"\\u00a0good\"", "slug", "not a slug"),
        ("name: \" Good\"", "name", "surrounding whitespace"),
        ("name: \"Go\\x00od\"", "name", "control character"),
        ("git_ref: \"main\\n\"", "git_ref", "not a valid"),
    ],
)
def test_ambiguous_values_are_refused_not_reinterpreted(raw: str, field: str, words: str) -> None:
    key = raw.split(":", 1)[0]
    rest = {k: v for k, v in GOOD.items() if k != key}
    body = "".join(f"  {k}: '{v}'\n" for k, v in rest.items())
    loaded = parse_collections_text(entries_yaml(f"- {raw}\n{body}"))
    assert loaded.collections == []
    [error] = loaded.errors
    assert (error.field, words in error.message) == (field, True), str(error)
    assert "quote" in error.message or field in ("slug", "name", "git_ref")


def test_repeated_key_in_one_entry_is_refused() -> None:
    loaded = parse_collections_text(entries_yaml(
        "- name: Good\n  slug: good\n  git_url: https://example.com/a.git\n"
        "  git_url: https://example.com/b.git\n"
    ))
    assert loaded.collections == []
    assert "duplicate key 'git_url'" in str(loaded.errors[0])


def test_entry_and_size_caps_are_clear_file_errors(tmp_path: Path) -> None:
    many = entries_yaml(*(
        f"- {{name: n{i}, slug: s{i}, git_url: 'https://example.com/{i}.git'}}\n"
        for i in range(MAX_COLLECTIONS + 1)
    ))
    path = tmp_path / "collections.yaml"
    path.write_text(many)
    loaded = load_collections(path)
    assert loaded.collections == []
    [error] = loaded.errors
    assert error.entry == "(file)" and f"over the {MAX_COLLECTIONS}-entry limit" in error.message
    path.write_text("# " + "x" * (9 << 20))
    [error] = load_collections(path).errors
    assert "byte limit" in error.message


# --- item 4: secrets ----------------------------------------------------------------------

SECRET_URL = "https://robot:s3cr3t-token@git.example.com/org/repo.git"


def test_redaction() -> None:
    assert redact_url(SECRET_URL) == "https://***@git.example.com/org/repo.git"
    assert redact_url("ssh://git:pw@host/r.git") == "ssh://git:***@host/r.git"
    assert redact_url("ssh://git@host/r.git") == "ssh://git@host/r.git"
    assert redact_url("git@host:org/r.git") == "git@host:org/r.git"
    text = f"fatal: unable to access '{SECRET_URL}/': Could not resolve host"
    assert "s3cr3t" not in redact(text) and "robot" not in redact(text)


def test_credentials_never_leave_the_database(
    tmp_path: Path, db_url: str, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = CollectionSpec(name="Private", slug="private", git_url=SECRET_URL.replace(
        "git.example.com", "127.0.0.1:9"))  # refused connection: a quick, local failure
    with pytest.raises(GitSyncError) as raised:
        sync_collection(spec, workdir, timeout=20)
    assert "s3cr3t" not in str(raised.value)
    with caplog.at_level(logging.DEBUG), session_scope(db_url) as session:
        report = service.ingest_collection(session, spec, workdir, timeout=20)
    assert report.status == "error" and "s3cr3t" not in str(report.as_dict())
    with session_scope(db_url) as session:
        row = store.get_collection(session, "private")
        assert row.git_url == spec.git_url  # kept: the next sync needs it
        shown = f"{collection_dict(row, bundle_count=0)} {health(session)}"
    assert "s3cr3t" not in shown and "***@127.0.0.1:9" in shown
    assert "s3cr3t" not in caplog.text
    loaded = parse_collections_text(entries_yaml(
        f"- {{name: P, slug: p, git_url: '{SECRET_URL}', git_ref: '-x'}}\n",
        f"- {{name: Q, slug: q, git_url: '{SECRET_URL} '}}\n",
    ))
    assert loaded.errors and "s3cr3t" not in " ".join(str(e) for e in loaded.errors)


def test_links_into_git_or_out_of_the_bundle_are_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {
        "leaky": {"runbook.robot": ROBOT},
        "sibling": {"runbook.robot": ROBOT},
        "shared": {"runbook.robot": ROBOT, "notes.md": "shared notes\n"},
        "fine": {"runbook.robot": ROBOT, "docs.md": "docs\n"},
    })
    (root / "codebundles" / "leaky" / "README.md").symlink_to("../../.git/config")
    (root / "codebundles" / "sibling" / "README.md").symlink_to("../shared/notes.md")
    (root / "codebundles" / "fine" / "README.md").symlink_to("docs.md")
    result = parse_collection(root)
    errors = {e.bundle: e.message for e in result.errors}
    assert "README.md is a symlink into .git" in errors["leaky"]
    assert "README.md is a symlink leaving the bundle" in errors["sibling"]
    fine = {b.slug: b for b in result.bundles}["fine"]
    assert fine.readme == "docs\n"


# --- the whole run, on real workers ---------------------------------------------------------


@pytest.mark.worker
def test_populate_on_workers_refuses_each_hostile_item_and_completes(tmp_path: Path) -> None:
    """Items 1-4 end to end: `populate` on the embedded broker with two worker processes.

    Before: the laughs bundle held the sync's write lock for minutes and the other
    collection failed with "database is locked"; the deep entry and the bracketed URL
    ended `populate` with a traceback; the token was printed back.
    """
    home = RegistryHome(tmp_path / "home")
    samples = generate_sample_collections(home.home / "samples", collections=2,
                                          bundles_per_collection=2)
    hostile = make_repo(tmp_path / "hostile-repo", {
        "good": {"runbook.robot": ROBOT},
        "laughs": {"runbook.robot": ROBOT, "meta.yaml": laughs(9)},
        "dated": {"runbook.robot": ROBOT, "meta.yaml": "when: 2024-01-01\n"},
    })
    refused_port = SECRET_URL.replace("git.example.com", "127.0.0.1:9")
    text = samples.read_text() + (
        f"- {{name: Hostile, slug: hostile, git_url: '{hostile.as_uri()}'}}\n"
        "- {name: Deep, slug: deep, git_url: 'https://example.com/d.git', description: "
        + "[" * 3000 + "]" * 3000 + "}\n"
        "- {name: Br, slug: bracket, git_url: 'ssh://[-oProxyCommand=x]/y'}\n"
        f"- {{name: Secret, slug: secret, git_url: '{refused_port}'}}\n"
    )
    collections = home.home / "collections.yaml"
    collections.write_text(text)
    worker = home.worker()
    try:
        summary = home.populate(collections, timeout=120)
    finally:
        worker.stop()
    assert summary["collections_synced"] == 3, summary["errors"]
    errors = "\n".join(summary["errors"])
    assert "s3cr3t" not in json.dumps(summary) and "database is locked" not in errors
    assert "collection #4 ('deep'): description: " in errors
    assert "collection #5 ('bracket'): git_url: " in errors
    assert "hostile: bundle laughs: meta.yaml: " in errors
    assert "hostile: bundle dated: meta.yaml: field 'when'" in errors
    with home.session() as session:
        assert {c.slug: c.status for c in session.scalars(select(Collection))} == {
            "hostile": "partial", "secret": "error",
            **{spec["slug"]: "synced" for spec in yaml.safe_load(samples.read_text())[
                "codecollections"]},
        }
        stored_hostile = session.scalars(
            select(CodeBundle.slug).join(Collection).where(Collection.slug == "hostile"))
        assert list(stored_hostile) == ["good"]


def test_an_unexpected_database_error_is_one_short_redacted_line(
    db_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not the SQL and its parameters (a whole row, 6 KB): the driver's reason."""
    from registry import tasks
    from sqlalchemy.exc import StatementError

    spec = CollectionSpec(name="Private", slug="private", git_url=SECRET_URL)
    with session_scope(db_url) as session:
        store.upsert_collection(session, spec)

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        statement = "INSERT INTO codebundles (meta) VALUES (?)" + " " * 6000
        raise StatementError("(builtins.TypeError) Object of type date is not JSON "
                             "serializable", statement, [SECRET_URL],
                             TypeError("Object of type date is not JSON serializable"))

    monkeypatch.setattr(service, "ingest_collection", explode)
    with caplog.at_level(logging.ERROR), session_scope(db_url) as session:
        report = tasks.sync_collection.logic("private", db=session, workdir=str(workdir))
    assert report["status"] == "error"
    last_error = collection_row(db_url, "private").last_error or ""
    assert last_error == ("collection 'private': TypeError: Object of type date is not "
                          "JSON serializable")
    assert "s3cr3t" not in caplog.text and "sync of collection 'private' failed" in caplog.text
