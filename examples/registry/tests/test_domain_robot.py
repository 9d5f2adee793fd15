from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry.robot import RobotSyntaxError, parse_robot, split_cells

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
         ["access:read-only", "data:config", "replicas"]),
        ("Restart Deployment", "", ["access:read-write"]),
    ]
    assert robot.user_variables == [
        {"name": "NAMESPACE", "type": "string", "description": "The namespace to act in.",
         "pattern": "\\w*", "example": "otel-demo", "default": "default"},
        {"name": "CONTEXT", "type": "string"},
    ]
    assert robot.secrets == [{"name": "kubeconfig", "type": "string"}]
    assert robot.libraries == ["RW.Core"]


def test_pipe_separated_format() -> None:
    text = (
        "| *** Settings *** |\n| Documentation | Pipe doc |\n"
        "| Metadata | Author | someone |\n"
        "| *** Tasks *** |\n| Pipe Task | [Tags] | access:read-only |\n"
        "| | [Documentation] | piped |\n"
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
        ("*** Settings ***\nDocumentation  x\n*** Tsks ***\nT\n", "unrecognised section", 3),
        ("*** Settings ***\nDocumentation  x\n", "no *** Tasks *** section", 0),
        ("*** Tasks ***\n# nothing\n", "section is empty", 0),
        ("*** Tasks ***\n    [Tags]    a\n", "before any task name", 2),
        ("*** Tasks ***\nT\n    Log\x00", "NUL", 0),
        ("*** Keywords ***\nK\n    RW.Core.Import User Variable\n*** Tasks ***\nT\n",
         "without a name", 3),
    ],
)
def test_malformed_files_raise_with_line(text: str, words: str, line: int) -> None:
    with pytest.raises(RobotSyntaxError) as info:
        parse_robot(text)
    assert words in str(info.value)
    assert info.value.line == line


def test_split_cells() -> None:
    cells = (["Metadata", "Display Name", "X Y"], False)
    assert split_cells("Metadata    Display Name    X Y") == cells
    assert split_cells("    Log\tmsg") == (["Log", "msg"], True)
    assert split_cells("| | Log | x |") == (["Log", "x"], True)


_robot_lines = st.one_of(
    st.text(max_size=60),
    st.sampled_from([
        "*** Settings ***", "*** Tasks ***", "*** Keywords ***", "*** Variables ***",
        "*** Test Cases ***", "*** Comments ***", "...", "...    more", "    [Tags]    a    b",
        "    [Documentation]    d", "Documentation    doc", "Metadata    Supports    AWS",
        "Metadata", "    ${X}=    RW.Core.Import User Variable    X    type=string",
        "    RW.Core.Import Secret", "| Task | [Tags] | x |", "| | |", "Task Name", "\t", "",
        "    ${a}=    ${b}=", "Force Tags", "    Import User Variable    name=",
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
    try:
        robot = parse_robot(text)
    except RobotSyntaxError as exc:
        assert exc.reason
        return
    assert robot.tasks, "a successful parse always has a task"
    assert all(task.name for task in robot.tasks)
    assert all(variable["name"] for variable in robot.user_variables)
