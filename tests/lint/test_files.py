"""The file walk's matching of skip patterns (``celery_safe.lint.files.Rules``)."""

from __future__ import annotations

from pathlib import Path

import pathspec
from hypothesis import given
from hypothesis import strategies as st

from celery_safe.lint.files import DEFAULT_EXCLUDES, Rules

NAME = st.from_regex(r"\.?[A-Za-z0-9_][A-Za-z0-9_.-]{0,6}", fullmatch=True)
NAMES = st.sampled_from([*DEFAULT_EXCLUDES, "migrations", "Build", "x.py"]) | NAME
PART = NAMES | st.sampled_from(["src", "pkg", "a.py", "xbuild", "build.py", ".git2", "x.egg-info"])
#: the shapes of a typical .gitignore: ``name``, ``name/``, ``*.suffix``, ``*.suffix/``, ``/name/``
SHAPED = st.tuples(st.sampled_from(["", "/"]), st.sampled_from(["", "*"]),
                   NAMES | st.sampled_from([".py", ".egg-info", "ld", "a"]),
                   st.sampled_from(["", "/"])).filter(lambda t: not (t[0] and t[1])).map("".join)


def _matches_as_git_does(patterns: list[str], parts: list[str], is_dir: bool) -> None:
    """The rules are matched without pathspec, and give git's verdict on the path."""
    base = Path("/project")
    rules = Rules.of(base, patterns)
    assert rules.plain is not None
    relative = "/".join(parts) + ("/" if is_dir else "")
    expected = pathspec.GitIgnoreSpec.from_lines(patterns).check_file(relative).include
    assert rules.verdict(base.joinpath(*parts), is_dir) == expected


@given(st.lists(NAMES, min_size=1, max_size=4), st.lists(PART, min_size=1, max_size=5),
       st.booleans())  # fmt: skip
def test_plain_names_match_as_gitignore_does(
    patterns: list[str], parts: list[str], is_dir: bool
) -> None:
    """A list of plain names (the default skip list) is matched without pathspec: a path
    with a part of one of those names, at any depth; the same verdict as git's rules."""
    _matches_as_git_does(patterns, parts, is_dir)


@given(st.lists(SHAPED, min_size=1, max_size=6), st.lists(PART, min_size=1, max_size=5),
       st.booleans())  # fmt: skip
def test_plain_shapes_match_as_gitignore_does(
    patterns: list[str], parts: list[str], is_dir: bool
) -> None:
    """The shapes most ``.gitignore`` files are made of (``build/``, ``*.egg-info/``,
    ``/var/``, ``*.db``) are matched without pathspec, with git's verdict."""
    _matches_as_git_does(patterns, parts, is_dir)


def test_other_patterns_are_pathspecs() -> None:
    base = Path("/project")
    for patterns in (["tests/*/fixtures"], ["build", "!build/keep"], ["a*b"], ["/*.py"],
                     ["build "], ["\\#x"], ["**/build"]):  # fmt: skip
        assert Rules.of(base, patterns).plain is None, patterns
    assert Rules.of(base, ["build/"]).verdict(base / "build", False) is None  # a file
    assert Rules.of(base, ["build/"]).verdict(base / "build", True) is True
    assert Rules.of(base, ["/var/"]).verdict(base / "src" / "var" / "x.py", False) is None
    assert Rules.of(base, ["/var/"]).verdict(base / "var" / "x.py", False) is True
