"""The analysers never raise on hostile input: they fail safe instead."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from warden.guard import GuardEngine
from warden.guard.model import Findings, Origin
from warden.guard.shell import ShellAnalyzer, ShellLimits
from warden.guard.sql import analyze_sql

SHELL_PIECES = [
    "a",
    "b",
    " ",
    "\t",
    "\n",
    "$",
    "(",
    ")",
    "'",
    '"',
    "`",
    "|",
    "&",
    ";",
    "<",
    ">",
    "{",
    "}",
    "[",
    "]",
    "!",
    "#",
    "=",
    "*",
    "~",
    "\\",
    "-c",
    "${",
    "$(",
    "$((",
    "))",
    "<<",
    "<<-",
    "<<<",
    "EOF",
    "[[",
    "]]",
    "time",
    "case",
    "in",
    "esac",
    "bash",
    "sh -c",
    "eval",
    "rm -rf /",
    "sudo",
    "\ue000",
    "\ue001",
    "0",
    "2>&1",
    "<(",
    "$'",
]
ENGINE = GuardEngine.default(secret_scanner=lambda text: [], masker=lambda text: text)


def _shell(text: str) -> Findings:
    out = Findings()
    ShellAnalyzer(out, Origin(("command",)), ShellLimits()).script(text)
    return out


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(SHELL_PIECES), max_size=30).map("".join))
def test_shell_analyser_never_raises_on_shell_like_text(text: str) -> None:
    _shell(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_shell_analyser_never_raises_on_any_text(text: str) -> None:
    _shell(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SHELL_PIECES), max_size=30).map("".join))
def test_unparsable_shell_is_never_allowed_silently(text: str) -> None:
    verdict = ENGINE.evaluate("Bash", {"command": text})
    problems = verdict.analysis.problems if verdict.analysis else ()
    if problems:
        assert verdict.action.rank >= 2  # review or deny


SQL_PIECES = [
    "SELECT",
    "DROP",
    "TABLE",
    "DELETE",
    "FROM",
    "WHERE",
    "t",
    "1",
    "=",
    "'",
    ";",
    "(",
    ")",
    "$$",
    "--",
    "/*",
    "*/",
    " ",
    "UPDATE",
    "SET",
    "WITH",
    "AS",
    "DO",
]


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80), st.lists(st.sampled_from(SQL_PIECES), max_size=25).map(" ".join)
    )
)
def test_sql_analyser_never_raises(text: str) -> None:
    analyze_sql(text, Findings(), Origin())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "command",
                    "cmd",
                    "sql",
                    "file_path",
                    "content",
                    "path",
                    "url",
                    "edits",
                    "new_string",
                    "input",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
TOOLS = [
    "Bash",
    "Write",
    "Edit",
    "MultiEdit",
    "Read",
    "WebFetch",
    "shell",
    "exec_command",
    "apply_patch",
    "mcp__db__query",
    "run_sql",
    "kubectl",
    "unknown",
]


@settings(max_examples=500, deadline=None)
@given(tool=st.sampled_from(TOOLS), arguments=JSON)
def test_engine_never_raises_on_any_arguments(tool: str, arguments: Any) -> None:
    ENGINE.evaluate(tool, arguments)
