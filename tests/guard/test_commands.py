from __future__ import annotations

import pytest

from warden.guard.commands import command_name, parse_args, spec_for

CASES = [
    # (argv, flags that must be present, options, operands)
    (["rm", "-rf", "/"], {"r", "f", "recursive", "force"}, {}, ("/",)),
    (["rm", "-r", "-f", "a", "b"], {"r", "f"}, {}, ("a", "b")),
    (["rm", "--recursive", "--force", "--", "-x"], {"recursive", "force"}, {}, ("-x",)),
    (["rm", "a", "-R"], {"R", "recursive"}, {}, ("a",)),
    (
        ["kubectl", "-n", "prod", "delete", "ns", "x"],
        {"n", "namespace"},
        {"namespace": ("prod",)},
        ("delete", "ns", "x"),
    ),
    (["kubectl", "-nprod", "get", "po"], {"n"}, {"n": ("prod",)}, ("get", "po")),
    (
        ["kubectl", "--context=prod", "scale", "--replicas", "0"],
        {"context", "replicas"},
        {"replicas": ("0",)},
        ("scale",),
    ),
    (
        ["git", "-C", "repo", "push", "-uf", "origin", "main"],
        {"C", "u", "f", "force"},
        {"C": ("repo",)},
        ("push", "origin", "main"),
    ),
    (
        ["terraform", "-chdir=infra", "apply", "-auto-approve", "-var", "a=b"],
        {"chdir", "auto-approve", "var"},
        {"var": ("a=b",)},
        ("apply",),
    ),
    (["find", "/", "-name", "*.py", "-delete"], {"name", "delete"}, {"name": ("*.py",)}, ("/",)),
    (
        ["dd", "if=/dev/zero", "of=/dev/sda", "bs=1M"],
        {"of", "if", "bs"},
        {"of": ("/dev/sda",)},
        ("if=/dev/zero", "of=/dev/sda", "bs=1M"),
    ),
    (
        ["mysql", "-uroot", "-psecret", "-e", "select 1"],
        {"u", "p", "e", "execute"},
        {"p": ("secret",), "execute": ("select 1",)},
        (),
    ),
    (["sudo", "-u", "root", "rm", "-rf", "x"], {"u"}, {"u": ("root",)}, ("rm", "-rf", "x")),
]


@pytest.mark.parametrize(
    ("argv", "flags", "options", "operands"), CASES, ids=[" ".join(c[0]) for c in CASES]
)
def test_parse_args(
    argv: list[str], flags: set[str], options: dict[str, tuple[str, ...]], operands: tuple[str, ...]
) -> None:
    parsed = parse_args(argv[1:], spec_for(argv[0]))
    assert flags <= parsed.flags
    for name, values in options.items():
        assert parsed.options[name] == values
    assert parsed.operands == operands


def test_posix_first_operand() -> None:
    parsed = parse_args(["-u", "root", "--", "rm", "-rf"], spec_for("sudo"))
    assert parsed.first_operand == 3
    assert parsed.operands == ("rm", "-rf")


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("rm", "rm"),
        ("/usr/bin/rm", "rm"),
        ("\\rm", "rm"),
        ("mkfs.ext4", "mkfs.ext4"),
        ("$CMD", "$CMD"),
    ],
)
def test_command_name(word: str, name: str) -> None:
    assert command_name(word) == name
