from __future__ import annotations

import pytest

from warden.guard.globs import escapes_workspace, glob_match, normalize_path, path_variants

GLOBS = [
    ("*.py", "a.py", True),
    ("*.py", "src/a.py", False),
    ("**/*.py", "src/a.py", True),
    ("**/*.py", "a.py", True),
    ("**/.env", "/app/.env", True),
    ("~/.ssh/**", "~/.ssh/authorized_keys", True),
    ("/[*]", "/*", True),
    ("/[*]", "/tmp", False),
    ("{main,master}", "master", True),
    ("{main,master}", "mainline", False),
    ("{,**:}refs/heads/main", "refs/heads/main", True),
    ("{,**:}refs/heads/main", "x:refs/heads/main", True),
    ("[!a]b", "cb", True),
    ("[!a]b", "ab", False),
    ("?", "/", False),
    ("a.b", "axb", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), GLOBS)
def test_glob_match(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


@pytest.mark.parametrize(
    ("path", "normalized"),
    [
        ("/", "/"),
        ("//", "/"),
        ("/tmp/../", "/"),
        ("/./etc/", "/etc"),
        ("$HOME", "~"),
        ("${HOME}/x/", "~/x"),
        ("~/", "~"),
        ("~/a/../b", "~/b"),
        ("~/../../etc/passwd", "/etc/passwd"),
        ("./a", "a"),
        ("a/../../b", "../b"),
    ],
)
def test_normalize_path(path: str, normalized: str) -> None:
    assert normalize_path(path) == normalized


def test_home_variants() -> None:
    assert "~/.ssh/config" in path_variants("/home/alice/.ssh/config")
    assert "~/.ssh/config" in path_variants("/Users/bob/.ssh/config")
    assert "~" in path_variants("/root/")
    assert path_variants("/homes/x") == ("/homes/x",)


@pytest.mark.parametrize(
    ("path", "escapes"),
    [
        ("../x", True),
        ("a/../../x", True),
        ("..", True),
        ("./a", False),
        ("a/../b", False),
        ("/etc/x", False),
        ("~/x", False),
    ],
)
def test_escapes_workspace(path: str, escapes: bool) -> None:
    assert escapes_workspace(path) is escapes
