from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry.robot import RobotProblem, RobotSyntaxError, parse_resource, parse_robot
from robot.api import TestSuite as RobotSuite
from robot.api import get_model
from robot.errors import DataError
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
    # Robot imports the resource; only keyword K fails, when it is used.
    assert parse_resource("*** Keywords ***\nK\n    [Bogus]    x\n    Log    y\n").problems == [
        RobotProblem(3, "Non-existing setting 'Bogus'.", "error", "keyword", "K")]


@pytest.mark.parametrize(("text", "words", "line"), [
    ("*** Tsks ***\nX\n*** Keywords ***\nK\n    Log    y\n", "Unrecognized section", 1),
    ("*** Keywords ***\nK\n    Log    y\n*** Tasks ***\nX\n    Log  x\n",
     "Resource file with 'Tasks' section is invalid.", 4),
])
def test_a_resource_robot_refuses_to_import_is_refused(text: str, words: str, line: int) -> None:
    with pytest.raises(RobotSyntaxError, match=words) as info:
        parse_resource(text)
    assert info.value.line == line


def test_a_task_robot_would_fail_at_run_time_is_still_catalogued() -> None:
    robot = parse_robot("*** Tasks ***\nEmpty\n    [Tags]    a\nLoop\n    FOR  ${x}  IN  a\n")
    assert [(t.name, t.tags) for t in robot.tasks] == [("Empty", ["a"]), ("Loop", [])]
    # Robot fails each of them with these messages when it runs them.
    assert [(p.line, p.name, p.message) for p in robot.problems] == [
        (2, "Empty", "Task cannot be empty."), (5, "Loop", "FOR loop cannot be empty."),
        (5, "Loop", "FOR loop must have closing END.")]


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


# What Robot refuses to run (``robot --dryrun`` here, Robot 7.5): "contains no tests or
# tasks", "One file cannot have both tests and tasks.", a RecursionError. NUL bytes are
# the registry's own refusal (binary data): Robot runs such a file.
@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("*** Settings ***\nDocumentation  x\n*** Tsks ***\nT\n    Log  x\n",
         "Unrecognized section header '*** Tsks ***'", 3),
        ("*** Settings ***\nDocumentation  x\n", "no *** Tasks *** section", 0),
        ("*** Tasks ***\n# nothing\n", "section is empty", 0),
        ("*** Tasks ***\nT\n    Log\x00", "NUL", 0),
        ("*** Test Cases ***\nT\n    Log    x\n*** Tasks ***\nU\n    Log    y\n",
         "both tests and tasks", 4),
        ("*** Tasks ***\nT\n" + "    FOR  ${x}  IN  a\n" * 5000, "nest too deeply", 0),
    ],
)
def test_files_robot_refuses_to_run_raise_with_line(text: str, words: str, line: int) -> None:
    with pytest.raises(RobotSyntaxError) as info:
        parse_robot(text)
    assert words in str(info.value)
    assert info.value.line == line


def test_an_unrecognised_header_that_hides_every_task_says_so() -> None:
    with pytest.raises(RobotSyntaxError) as info:
        parse_robot("*** Settings ***\nForse Tags    a\n*** Tsks ***\nT\n    Log  x\n")
    assert str(info.value).startswith("line 3: Unrecognized section header '*** Tsks ***'.")
    assert str(info.value).endswith(
        "Robot skips that section, and no tasks are defined: the file has no *** Tasks *** "
        "section")
    with pytest.raises(RobotSyntaxError) as info:  # another error is no cause: not named
        parse_robot("*** Settings ***\nForse Tags    a\n")
    assert str(info.value) == "no tasks defined: the file has no *** Tasks *** section"


# Errors inside one task: Robot runs the suite and fails that task alone, with this message.
@pytest.mark.parametrize(
    ("body", "message", "offset"),
    [
        ("    IF    True\n        RETURN\n    END\n",
         "RETURN can only be used inside a user keyword.", 2),
        ("    Log    x\n    RETURN    y\n", "RETURN is not allowed in this context.", 2),
        ("    BREAK\n", "BREAK is not allowed in this context.", 1),
        ("    WHILE    True\n    END\n", "WHILE loop cannot be empty.", 1),
        ("    [Tags]    a\n    [Tags]    b\n",
         "Setting 'Tags' is allowed only once. Only the first value is used.", 2),
        ("    [Bogus]    x\n    Log    y\n", "Non-existing setting 'Bogus'.", 1),
        ("    [Return]    x\n", "Setting 'Return' is not allowed with tests or tasks.", 1),
        ("    RW.Core.Import User Variable\n",
         "import of a user variable or secret without a name", 1),
    ],
)
def test_an_error_inside_a_task_is_that_tasks_problem(body: str, message: str,
                                                      offset: int) -> None:
    text = f"*** Tasks ***\nOk Before\n    Log    a\nBroken\n{body}Ok After\n    Log    b\n"
    robot = parse_robot(text)
    assert [t.name for t in robot.tasks] == ["Ok Before", "Broken", "Ok After"]
    expected = RobotProblem(4 + offset, message, "error", "task", "Broken")
    assert [t.problems for t in robot.tasks] == [[], [expected], []]
    assert robot.problems == [expected]
    robot_run = RobotSuite.from_model(get_model(io.StringIO(text)))  # Robot's own model
    assert [t.name for t in robot_run.tests] == [t.name for t in robot.tasks]


def test_a_task_without_a_name_is_kept_as_robot_keeps_it() -> None:
    robot = parse_robot("*** Tasks ***\n    [Tags]    a\n    Log    x\n")
    assert [(t.name, t.tags) for t in robot.tasks] == [("", ["a"])]
    assert robot.tasks[0].problems == [
        RobotProblem(2, "Task name cannot be empty.", "error", "task", "")]


def test_errors_in_keywords_and_settings_keep_the_file() -> None:
    text = ("*** Settings ***\nForse Tags    a\n*** Variables ***\n${OK}    1\n"
            "*** Tasks ***\nT\n    K\n*** Keywords ***\nK\n    [Bogus]    x\n"
            "    RETURN    1\n    RW.Core.Import Secret\nEmpty\n*** Tsks ***\nU\n")
    robot = parse_robot(text)
    assert [(t.name, t.tags, t.problems) for t in robot.tasks] == [("T", [], [])]
    assert [(p.line, p.severity, p.scope, p.name, p.message.split(".")[0])
            for p in robot.problems] == [
        (2, "error", "file", "", "Non-existing setting 'Forse Tags'"),
        (10, "error", "keyword", "K", "Non-existing setting 'Bogus'"),
        (12, "error", "keyword", "K", "import of a user variable or secret without a name"),
        (13, "error", "keyword", "Empty", "User keyword cannot be empty"),
        (14, "error", "file", "", "Unrecognized section header '*** Tsks ***'"),
    ]


def test_a_keyword_defined_twice_is_a_problem_of_that_keyword() -> None:
    """Robot keeps the first ``Check_Url`` and fails its calls; keyword names compare
    ignoring case, spaces and underscores; embedded-argument keywords are matched by
    pattern, never reported as duplicates."""
    text = ("*** Tasks ***\nT\n    Check Url\n*** Keywords ***\nCheck_Url\n    Log    a\n"
            "Other\n    Log    b\ncheck url\n    Log    c\nGet ${x}\n    Log    d\n"
            "Get ${x}\n    Log    e\n")
    assert [(p.line, p.name, p.message) for p in parse_robot(text).problems] == [
        (9, "check url", "Keyword with same name defined multiple times.")]


@pytest.mark.parametrize(
    ("text", "line", "scope", "message"),
    [
        ("*** Tasks ***\nT\n    K\n*** Keywords ***\nK\n    [Return]    x\n", 6, "keyword",
         "The '[Return]' setting is deprecated. Use the 'RETURN' statement instead."),
        ("*** Task ***\nT\n    Log    x\n", 1, "file",
         "Singular section headers like '*** Task ***' are deprecated. "
         "Use plural format like '*** Tasks ***' instead."),
    ],
)
def test_deprecations_are_warnings(text: str, line: int, scope: str, message: str) -> None:
    robot = parse_robot(text)
    assert [t.name for t in robot.tasks] == ["T"]
    assert robot.problems == [RobotProblem(line, message, "warning", scope, "K" if scope ==
                                           "keyword" else "")]


def test_look_alikes_are_not_problems() -> None:
    """RETURN in a keyword, BREAK in a loop, a task *named* like a statement, ``RETURN``
    as an argument, one ``[Tags]`` per task, the plural header: nothing to report."""
    text = ("*** Tasks ***\nRETURN can only be used inside a user keyword\n"
            "    FOR    ${x}    IN    a    b\n        IF    $x == 'b'\n            BREAK\n"
            "        END\n    END\n    Log    RETURN\n    K\n"
            "Other\n    [Tags]    a\n    Log    [Return]\n"
            "*** Keywords ***\nK\n    IF    True\n        RETURN    1\n    END\n")
    robot = parse_robot(text)
    assert len(robot.tasks) == 2 and robot.problems == []
    assert all(t.problems == [] for t in robot.tasks)


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
        if "\x00" not in text:  # NUL bytes aside (the registry's rule), Robot refuses too
            try:
                refused = not RobotSuite.from_model(get_model(io.StringIO(text))).tests
            except DataError:  # "One file cannot have both tests and tasks."
                refused = True
            assert refused, f"Robot runs what we refused: {exc}"
        return
    suite = RobotSuite.from_model(get_model(io.StringIO(text)))
    names = [t.name for t in robot.tasks]
    assert all(p.name in names for p in robot.problems if p.scope == "task")
    assert [p for t in robot.tasks for p in t.problems] == [
        p for p in robot.problems if p.scope == "task"]
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
    robot = parse_robot(text)  # a well-formed suite is never refused, nor has a problem
    assert robot.problems == []
    _parse_or_syntax_error(text)
    assert [variable["name"] for variable in robot.user_variables] == imported
