from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from registry.sources import (
    CollectionSpec,
    load_collections,
    parse_collections,
    validate_git_ref,
    validate_git_url,
)

GOOD = {
    "name": "RunWhen CLI", "slug": "rw-cli", "git_url": "https://github.com/runwhen/rw-cli.git",
    "git_ref": "main", "owner": "runwhen", "owner_email": "ops@example.com",
    "description": "CLI bundles",
}


def test_valid_entries_become_specs() -> None:
    two = {**GOOD, "slug": "two", "git_ref": "1.10"}
    result = parse_collections({"codecollections": [GOOD, two]})
    assert result.errors == []
    assert result.collections[0] == CollectionSpec(**GOOD)
    assert result.collections[1].git_ref == "1.10"
    # An unquoted 1.10 is the YAML number 1.1: refused, never read back as a tag name.
    [error] = parse_collections({"codecollections": [{**GOOD, "git_ref": 1.1}]}).errors
    assert error.field == "git_ref" and "quote it" in error.message


def test_unknown_keys_are_ignored_and_errors_follow_field_order() -> None:
    result = parse_collections({"codecollections": [
        {**GOOD, "extra": object()},
        {**GOOD, "slug": "Bad", "git_url": "-x", "owner": 3},
    ]})
    assert [c.slug for c in result.collections] == [GOOD["slug"]]
    [error] = result.errors
    assert (error.field, error.entry) == ("slug", "#2 ('Bad')")


def test_defaults_for_optional_fields() -> None:
    spec = parse_collections(
        {"codecollections": [{"name": "N", "slug": "n", "git_url": "file:///srv/n"}]}
    ).collections[0]
    assert (spec.git_ref, spec.owner, spec.owner_email, spec.description) == ("main", "", "", "")


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({**GOOD, "git_url": None}, "git_url", "required"),
        ({k: v for k, v in GOOD.items() if k != "name"}, "name", "required"),
        ({**GOOD, "slug": "Not A Slug"}, "slug", "not a slug"),
        ({**GOOD, "slug": ""}, "slug", "empty"),
        ({**GOOD, "owner": ["x"]}, "owner", "must be a string"),
        ({**GOOD, "git_url": "--upload-pack=touch /tmp/x"}, "git_url", "option"),
        ({**GOOD, "git_url": "-u/bin/sh"}, "git_url", "option"),
        ({**GOOD, "git_url": "ext::sh -c touch% /tmp/x"}, "git_url", "helper transport"),
        ({**GOOD, "git_url": "fd::17"}, "git_url", "helper transport"),
        ({**GOOD, "git_url": "http://example.com/r.git"}, "git_url", "'http' is not allowed"),
        ({**GOOD, "git_url": "git://example.com/r.git"}, "git_url", "not allowed"),
        ({**GOOD, "git_url": "/srv/repo"}, "git_url", "not allowed"),
        ({**GOOD, "git_url": "file://host/srv/repo"}, "git_url", "absolute"),
        ({**GOOD, "git_url": "https://example.com/a b"}, "git_url", "whitespace"),
        ({**GOOD, "git_url": "ssh://-oProxyCommand=x/r"}, "git_url", "host"),
        ({**GOOD, "git_ref": "--orphan"}, "git_ref", "not a valid"),
        ({**GOOD, "git_ref": "a..b"}, "git_ref", "not a valid"),
    ],
)
def test_malformed_entry_names_entry_and_field(entry: dict, field: str, words: str) -> None:
    result = parse_collections({"codecollections": [GOOD | {"slug": "first"}, entry]})
    assert [c.slug for c in result.collections] == ["first"]  # the good entry still loads
    [error] = result.errors
    assert error.entry.startswith("#2")
    assert error.field == field
    assert words in error.message
    assert str(error).startswith("collection #2")


@pytest.mark.parametrize(
    "url",
    [
        "file:///tmp/repo", "file://localhost/tmp/repo", "https://github.com/o/r.git",
        "ssh://git@github.com/o/r.git", "git@github.com:o/r.git",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert validate_git_url(url) is None


@pytest.mark.parametrize("ref", ["main", "v1.0", "release/2024-01", "a" * 40])
def test_allowed_refs(ref: str) -> None:
    assert validate_git_ref(ref) is None


def test_duplicate_slug_is_reported_with_first_use() -> None:
    result = parse_collections({"codecollections": [GOOD, GOOD]})
    assert len(result.collections) == 1
    [error] = result.errors
    assert error.field == "slug" and "first used by entry #1" in error.message


def test_non_mapping_entry_and_bad_top_level() -> None:
    result = parse_collections({"codecollections": ["a string", GOOD]})
    assert [str(e) for e in result.errors] == ["collection #1: (entry): must be a mapping, got str"]
    assert parse_collections({"collections": []}).errors[0].field == "codecollections"
    assert "must be a list" in parse_collections({"codecollections": {}}).errors[0].message


def test_load_file_errors(tmp_path: Path) -> None:
    missing = load_collections(tmp_path / "nope.yaml")
    assert missing.collections == [] and "cannot be read" in missing.errors[0].message
    broken = tmp_path / "broken.yaml"
    broken.write_text("codecollections: [\n  - name: x\n")
    assert "not valid YAML" in load_collections(broken).errors[0].message
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"codecollections": [GOOD]}))
    assert load_collections(good).collections == [CollectionSpec(**GOOD)]


_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.sampled_from(["file:///x", "-x", "ext::x", "https://h/r", "main", "ok-slug"]),
)
_entries = st.one_of(
    st.dictionaries(st.sampled_from([*GOOD, "extra"]), _values, max_size=8),
    _values,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_entries, max_size=8))
def test_validator_never_crashes_and_accounts_for_every_entry(entries: list) -> None:
    result = parse_collections({"codecollections": entries})
    assert len(result.collections) + len(result.errors) == len(entries)
    for spec in result.collections:
        assert validate_git_url(spec.git_url) is None
        assert not spec.git_url.startswith("-") and "::" not in spec.git_url
    assert len({spec.slug for spec in result.collections}) == len(result.collections)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_accepted_urls_are_never_option_like(url: str) -> None:
    if validate_git_url(url) is None:
        assert not url.startswith("-")
        assert url.startswith(("file:///", "file://localhost/", "https://", "ssh://")) or "@" in url
        assert not any(ch.isspace() for ch in url)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_file_text_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "collections.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = load_collections(path)
    for error in result.errors:
        assert str(error).startswith("collection ")
    for spec in result.collections:
        assert validate_git_url(spec.git_url) is None
    if not result.errors and not result.collections:  # only an empty list is silent
        assert yaml.safe_load(text) == {"codecollections": []}
