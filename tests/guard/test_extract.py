"""The tool table: which argument of which tool is analysed as what."""

from __future__ import annotations

from typing import Any

import pytest

from warden.guard import GuardEngine
from warden.guard.model import (
    FactKind,
    FileAccess,
    ProblemCode,
    ShellCommand,
    SqlStatement,
    UrlAccess,
)

ENGINE = GuardEngine.from_pack({"name": "empty"})


def facts(tool: str, arguments: Any) -> list[tuple[str, str, tuple[str | int, ...]]]:
    """(kind, what, argument path) for every fact except the tool call itself."""
    out = []
    for fact in ENGINE.analyze(tool, arguments).facts:
        if isinstance(fact, ShellCommand):
            out.append(("shell", " ".join(fact.argv), fact.origin.path))
        elif isinstance(fact, SqlStatement):
            out.append(("sql", fact.statement, fact.origin.path))
        elif isinstance(fact, FileAccess):
            out.append((fact.kind.value, f"{fact.path}:{fact.content}", fact.origin.path))
        elif isinstance(fact, UrlAccess):
            out.append(("url", fact.url, fact.origin.path))
    return out


TABLE: list[tuple[str, Any, list[tuple[str, str, tuple[str | int, ...]]]]] = [
    ("Bash", {"command": "ls -la", "description": "list"}, [("shell", "ls -la", ("command",))]),
    ("Write", {"file_path": "/a.py", "content": "x"}, [("file-write", "/a.py:x", ("file_path",))]),
    (
        "Edit",
        {"file_path": "a", "old_string": "o", "new_string": "n"},
        [("file-write", "a:n", ("file_path",))],
    ),
    (
        "MultiEdit",
        {
            "file_path": "a",
            "edits": [
                {"old_string": "1", "new_string": "2"},
                {"old_string": "3", "new_string": "4"},
            ],
        },
        [("file-write", "a:2\n4", ("file_path",))],
    ),
    (
        "NotebookEdit",
        {"notebook_path": "n.ipynb", "new_source": "s"},
        [("file-write", "n.ipynb:s", ("notebook_path",))],
    ),
    ("Read", {"file_path": "/etc/hosts"}, [("file-read", "/etc/hosts:None", ("file_path",))]),
    ("WebFetch", {"url": "https://x.io", "prompt": "p"}, [("url", "https://x.io", ("url",))]),
    (
        "shell",
        {"command": ["bash", "-lc", "ls"], "workdir": "/w"},
        [("shell", "ls", ("command",)), ("shell", "bash -lc ls", ("command",))],
    ),
    (
        "local_shell_call",
        {"action": {"type": "exec", "command": ["ls"]}},
        [("shell", "ls", ("action", "command"))],
    ),
    ("exec_command", {"cmd": "git status"}, [("shell", "git status", ("cmd",))]),
    (
        "apply_patch",
        {
            "input": "*** Begin Patch\n*** Update File: a.py\n@@\n-x\n+y\n"
            "*** Move to: b.py\n*** Delete File: c.py\n*** End Patch"
        },
        [
            ("file-write", "a.py:y", ("input",)),
            ("file-write", "b.py:y", ("input",)),
            ("file-write", "c.py:None", ("input",)),
        ],
    ),
    (
        "apply_patch",
        "*** Begin Patch\n*** Add File: a.py\n+z\n*** End Patch",
        [("file-write", "a.py:z", ())],
    ),
    (  # lines end at \n (and \r\n), as Codex reads them: U+2028 is content
        "apply_patch",
        "*** Begin Patch\r\n*** Add File: a.py\r\n+z\u2028k\x85j\r\n*** End Patch",
        [("file-write", "a.py:z\u2028k\x85j", ())],
    ),
    (
        "str_replace_based_edit_tool",
        {"command": "create", "path": "a", "file_text": "t"},
        [("file-write", "a:t", ("path",))],
    ),
    (
        "str_replace_based_edit_tool",
        {"command": "view", "path": "a"},
        [("file-read", "a:None", ("path",))],
    ),
    (
        "run_terminal_cmd",
        {"command": "make", "is_background": False},
        [("shell", "make", ("command",))],
    ),
    ("mcp__desktop__execute_command", {"command": "whoami"}, [("shell", "whoami", ("command",))]),
    ("mcp__postgres__query", {"sql": "SELECT 1"}, [("sql", "select", ("sql",))]),
    ("execute_sql", {"query": "DELETE FROM t"}, [("sql", "delete", ("query",))]),
    ("query", {"query": "how do I reset my password"}, []),
    ("query", {"query": "select 1"}, [("sql", "select", ("query",))]),
    ("write_file", {"path": "a", "content": "c"}, [("file-write", "a:c", ("path",))]),
    (
        "edit_file",
        {"target_file": "a", "code_edit": "c"},
        [("file-write", "a:c", ("target_file",))],
    ),
    (
        "move_file",
        {"source": "a", "destination": "b"},
        [("file-write", "a:None", ("source",)), ("file-write", "b:None", ("destination",))],
    ),
    ("read_file", {"target_file": "a"}, [("file-read", "a:None", ("target_file",))]),
    ("kubectl", {"args": ["get", "pods"]}, [("shell", "kubectl get pods", ("args",))]),
    ("some_tool", {"cmd": ["echo", "x"]}, [("shell", "echo x", ("cmd",))]),
    ("some_tool", {"sql": "TRUNCATE t"}, [("sql", "truncate", ("sql",))]),
    ("some_tool", {"command": {"name": "structured"}}, []),
    ("TodoWrite", {"todos": []}, []),
]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"), TABLE, ids=[f"{t[0]}-{i}" for i, t in enumerate(TABLE)]
)
def test_extraction(
    tool: str, arguments: Any, expected: list[tuple[str, str, tuple[str | int, ...]]]
) -> None:
    assert facts(tool, arguments) == expected


def test_every_call_has_a_tool_fact() -> None:
    [fact] = ENGINE.analyze("TodoWrite", {}).facts
    assert fact.kind is FactKind.TOOL


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("Bash", {"command": 42}),
        ("Bash", "rm -rf /"),
        ("Write", {"file_path": ["a"], "content": "x"}),
        ("shell", {"command": ["ls", 3]}),
    ],
)
def test_wrong_types_are_problems(tool: str, arguments: Any) -> None:
    problems = ENGINE.analyze(tool, arguments).problems
    assert [p.code for p in problems] == [ProblemCode.INVALID_ARGUMENTS]


def test_pack_tools_come_first() -> None:
    engine = GuardEngine.from_pack(
        {
            "name": "p",
            "tools": [
                {
                    "names": ["mcp__wh__run"],
                    "kind": "sql",
                    "fields": ["statement"],
                    "dialect": "snowflake",
                }
            ],
        }
    )
    [_, fact] = engine.analyze("mcp__wh__run", {"statement": "DROP TABLE t"}).facts
    assert isinstance(fact, SqlStatement) and fact.statement == "drop"
