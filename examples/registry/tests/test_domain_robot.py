from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry.robot import RobotSyntaxError, parse_resource, parse_robot
from robot.api import TestSuite as RobotSuite
from robot.api import get_model
from robot.model import Tags

RUNBOOK = """\
# a comment before any section is ignored
*** Settings ***
Documentation       Triage a deployment:
...                 replicas and events.
Metadata            Author    jon-funk
Metadata            Display Name    Kubernetes Deployment Triage
Metadata            Supports    Kubernetes,AKS,EKS
Library             RW.Core
Force Tags          k8s
Suite Setup         Suite Initialization

*** Tasks ***
Check Replicas for `${DEPLOYMENT_NAME}`
    [Documentation]    Compares desired and ready replicas.
    [Tags]    access:read-only    data:config
    ...    replicas
    ${result}=    RW.CLI.Run Cli    cmd=kubectl get deploy    # trailing comment
Restart Deployment
\t[Tags]\taccess:read-write
\tLog    restarting

*** Keywords ***
Suite Initialization
    ${NAMESPACE}=    RW.Core.Import User Variable    NAMESPACE
    ...    type=string
    ...    description=The namespace to act in.
    ...    pattern=\\w*
    ...    example=otel-demo
    ...    default=default
    ${kubeconfig}=    RW.Core.Import Secret    kubeconfig
    ...    type=string
    ${CONTEXT}    RW.Core.Import User Variable    name=CONTEXT    type=string
"""


def test_parses_settings_tasks_and_variables() -> None:
    robot = parse_robot(RUNBOOK)
    assert robot.doc == "Triage a deployment:\nreplicas and events."
    assert robot.metadata == {
        "Author": "jon-funk", "Display Name": "Kubernetes Deployment Triage",
        "Supports": "Kubernetes,AKS,EKS",
    }
    assert robot.suite_tags == ["k8s"]
    assert [(t.name, t.doc, t.tags) for t in robot.tasks] == [
        ("Check Replicas for `${DEPLOYMENT_NAME}`", "Compares desired and ready replicas.",
         ["k8s", "access:read-only", "data:config", "replicas"]),
        ("Restart Deployment", "", ["k8s", "access:read-write"]),
    ]
    assert robot.user_variables == [
        {"name": "NAMESPACE", "type": "string", "description": "The namespace to act in.",
         "pattern": "\\w*", "example": "otel-demo", "default": "default"},
        {"name": "CONTEXT", "type": "string"},
    ]
    assert robot.secrets == [{"name": "kubeconfig", "type": "string"}]
    assert robot.libraries == ["RW.Core"]


def test_default_tags_apply_to_tasks_without_their_own_and_minus_removes() -> None:
    robot = parse_robot(
        "*** Settings ***\nTest Tags    team    shared\nDefault Tags    default\n"
        "*** Variables ***\n${HOST}    example.org\n"
        "*** Tasks ***\nPlain\n    No Operation\nOwn\n    [Tags]    own    -shared\n"
        "    No Operation\n")
    assert [(t.name, t.tags) for t in robot.tasks] == [
        ("Plain", ["team", "shared", "default"]), ("Own", ["team", "own"])]
    assert robot.variables == {"${HOST}": ["example.org"]}


def test_a_resource_file_gives_its_variable_imports() -> None:
    resource = parse_resource(
        "*** Settings ***\nLibrary    RW.Core\n*** Keywords ***\nSetup\n"
        "    RW.Core.Import User Variable    REGION    type=string\n")
    assert resource.user_variables == [{"name": "REGION", "type": "string"}]
    with pytest.raises(RobotSyntaxError, match="line 3"):
        parse_resource("*** Keywords ***\nK\n    [Bogus]    x\n    Log    y\n")


def test_a_task_robot_would_fail_at_run_time_is_still_catalogued() -> None:
    robot = parse_robot("*** Tasks ***\nEmpty\n    [Tags]    a\nLoop\n    FOR  ${x}  IN  a\n")
    assert [(t.name, t.tags) for t in robot.tasks] == [("Empty", ["a"]), ("Loop", [])]


def test_one_line_text_is_never_opened_as_a_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.robot"
    target.write_text("*** Tasks ***\nStolen\n    No Operation\n")
    with pytest.raises(RobotSyntaxError, match="no tasks"):
        parse_robot(str(target))


def test_pipe_separated_format() -> None:
    text = (
        "| *** Settings *** |\n| Documentation | Pipe doc |\n"
        "| Metadata | Author | someone |\n"
        "| *** Tasks *** |\n| Pipe Task | [Tags] | access:read-only |\n"
        "| | [Documentation] | piped |\n| | No Operation |\n"
    )
    robot = parse_robot(text)
    assert robot.doc == "Pipe doc" and robot.metadata == {"Author": "someone"}
    assert robot.tasks[0].name == "Pipe Task"
    assert robot.tasks[0].tags == ["access:read-only"]
    assert robot.tasks[0].doc == "piped"


def test_test_cases_header_and_header_variants() -> None:
    robot = parse_robot("*** Test Cases ***\nT1\n    Log    x\n* Keywords\nK\n    Log    y\n")
    assert [t.name for t in robot.tasks] == ["T1"]


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("*** Settings ***\nDocumentation  x\n*** Tsks ***\nT\n", "Unrecognized section header", 3),
        ("*** Settings ***\nDocumentation  x\n", "no *** Tasks *** section", 0),
        ("*** Tasks ***\n# nothing\n", "section is empty", 0),
        ("*** Tasks ***\n    [Tags]    a\n", "Task name cannot be empty", 2),
        ("*** Settings ***\nForse Tags    a\n*** Tasks ***\nT\n    Log    x\n",
         "Non-existing setting 'Forse Tags'", 2),
        ("*** Tasks ***\nT\n    [Tags]    a\n    [Tags]    b\n", "allowed only once", 4),
        ("*** Tasks ***\nT\n    Log\x00", "NUL", 0),
        ("*** Test Cases ***\nT\n    Log    x\n*** Tasks ***\nU\n    Log    y\n",
         "both tests and tasks", 4),
        ("*** Tasks ***\nT\n" + "    FOR  ${x}  IN  a\n" * 5000, "nest too deeply", 0),
        ("*** Keywords ***\nK\n    RW.Core.Import User Variable\n*** Tasks ***\nT\n",
         "without a name", 3),
    ],
)
def test_malformed_files_raise_with_line(text: str, words: str, line: int) -> None:
    with pytest.raises(RobotSyntaxError) as info:
        parse_robot(text)
    assert words in str(info.value)
    assert info.value.line == line


_robot_lines = st.one_of(
    st.text(max_size=60),
    st.sampled_from([
        "*** Settings ***", "*** Tasks ***", "*** Keywords ***", "*** Variables ***",
        "*** Test Cases ***", "*** Comments ***", "...", "...    more", "    [Tags]    a    b",
        "    [Documentation]    d", "Documentation    doc", "Metadata    Supports    AWS",
        "Metadata", "    ${X}=    RW.Core.Import User Variable    X    type=string",
        "    RW.Core.Import Secret", "| Task | [Tags] | x |", "| | |", "Task Name", "\t", "",
        "    ${a}=    ${b}=", "Force Tags", "    Import User Variable    name=",
        "    No Operation", "Test Tags    t    T_2", "Default Tags    d", "    [Tags]    -t    x",
        "Metadata    Author    me", "Documentation    one    two", "Library    Collections",
    ]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_robot_lines, max_size=25))
def test_parser_never_crashes_on_robot_like_text(lines: list[str]) -> None:
    _parse_or_syntax_error("\n".join(lines))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parser_never_crashes_on_arbitrary_text(text: str) -> None:
    _parse_or_syntax_error(text)


def _parse_or_syntax_error(text: str) -> None:
    """Our reading equals Robot's own running model built from the same text."""
    try:
        robot = parse_robot(text)
    except RobotSyntaxError as exc:
        assert exc.reason
        return
    suite = RobotSuite.from_model(get_model(io.StringIO(text)))
    assert robot.tasks, "a successful parse always has a task"
    assert [(t.name, t.doc, list(Tags(t.tags))) for t in robot.tasks] == [
        (t.name, t.doc, list(t.tags)) for t in suite.tests]  # Robot sorts its Tags
    assert all(len(Tags(t.tags)) == len(t.tags) for t in robot.tasks)  # no duplicates
    assert robot.doc == suite.doc
    assert robot.metadata == dict(suite.metadata)
    assert robot.libraries == [i.name for i in suite.resource.imports if i.type == "LIBRARY"]
    assert all(variable["name"] for variable in robot.user_variables)


# --- generated suites: our reading equals Robot's, and the imports are all found ------

_word = st.text("abcXYZ019:._-", min_size=1, max_size=8).filter(
    lambda w: not w.startswith(("-", ".")) and w.upper() != "NONE")
_cell = st.lists(_word, min_size=1, max_size=3).map(" ".join)
_tags = st.lists(_word, max_size=3)


@st.composite
def _suites(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A suite in the space, tab or pipe format; the user variables it imports."""
    separator = draw(st.sampled_from(["    ", "\t", "  "]))
    pipes = draw(st.booleans())

    def row(*cells: str, indent: bool = False) -> str:
        if pipes:
            return "| " + " | ".join(["", *cells] if indent else cells) + " |\n"
        return (separator if indent else "") + separator.join(cells) + "\n"

    def with_values(*head: str, values: list[str], indent: bool = False) -> str:
        """``head`` then ``values``, some of them on ``...`` continuation rows."""
        split = draw(st.integers(0, len(values)))
        text = row(*head, *values[:split], indent=indent)
        for value in values[split:]:
            text += row("...", value, indent=indent)
        return text

    text = row("*** Settings ***")
    text += with_values("Documentation", values=draw(st.lists(_cell, min_size=1, max_size=3)))
    for name in draw(st.lists(_word, max_size=2, unique=True)):
        text += row("Metadata", name, draw(_cell))
    if test_tags := draw(_tags):
        text += with_values(draw(st.sampled_from(["Test Tags", "Force Tags"])), values=test_tags)
    if default_tags := draw(_tags):
        text += with_values("Default Tags", values=default_tags)
    text += row("*** Tasks ***")
    imported: list[str] = []
    for number, name in enumerate(draw(st.lists(_cell, min_size=1, max_size=4, unique=True))):
        text += row(name)
        if draw(st.booleans()):
            text += with_values("[Documentation]", values=draw(st.lists(_cell, min_size=1,
                                                                        max_size=2)), indent=True)
        if draw(st.booleans()):
            removed = [f"-{tag}" for tag in draw(st.lists(st.sampled_from(test_tags or ["x"]),
                                                          max_size=1))]
            text += with_values("[Tags]", values=[*draw(_tags), *removed], indent=True)
        variable = f"VAR_{number}"
        imported.append(variable)
        text += with_values("RW.Core.Import User Variable", variable,
                            values=[f"description={draw(_word)}"], indent=True)
    return text, imported


@settings(max_examples=200, deadline=None)
@given(_suites())
def test_generated_suites_read_as_robot_reads_them(suite: tuple[str, list[str]]) -> None:
    text, imported = suite
    robot = parse_robot(text)  # a well-formed suite is never refused
    _parse_or_syntax_error(text)
    assert [variable["name"] for variable in robot.user_variables] == imported
