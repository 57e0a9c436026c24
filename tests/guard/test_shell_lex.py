from __future__ import annotations

import resource
import subprocess
import sys

import bashlex
import pytest

from warden.guard.shell_lex import (
    CLOSE,
    OPEN,
    LexError,
    crude_split,
    decode_ansi_c,
    expansions,
    lex,
    restore,
)

SANITISED = [
    # (script, what bashlex must be able to parse afterwards)
    ("cat <<'EOF'\nit's $(not) run\nEOF\n", "quoted here-document delimiter"),
    ("git commit -m \"$(cat <<'EOF'\nfix\nEOF\n)\"", "Claude Code commit message"),
    ("[[ -f x && $(id -u) == 0 ]] && echo y", "[[ ]] with a substitution"),
    ("time -p make -j4", "time keyword"),
    ("echo $((1 + $(wc -l < f)))", "arithmetic with a substitution"),
    ("(( i++ ))", "arithmetic command"),
    ("echo '${a'x", "the bashlex endless-loop input"),
    ("echo $'a\\nb'", "ANSI-C string"),
    ("diff <(ls a) <(ls b)", "process substitution"),
    ("ls &>/dev/null; echo a 2>&1 | tee x", "redirections"),
    ("echo a # comment with 'quote", "comment with a stray quote"),
]


@pytest.mark.parametrize(("script", "why"), SANITISED, ids=[w for _, w in SANITISED])
def test_sanitised_text_parses(script: str, why: str) -> None:
    lexed = lex(script)
    bashlex.parse(lexed.text)


def test_single_quotes_become_placeholders_and_restore() -> None:
    lexed = lex("echo 'a b' x'${y'z")
    assert "'" not in lexed.text and OPEN in lexed.text and CLOSE in lexed.text
    assert restore(lexed.text, lexed.literals) == "echo a b x${yz"
    assert lexed.commands == [["echo", "a b", "x${yz"]]


def test_rough_commands_include_substitutions_and_writes() -> None:
    lexed = lex("echo $(rm -rf /) > out.txt && `whoami`")
    assert ["rm", "-rf", "/"] in lexed.commands
    assert ["whoami"] in lexed.commands
    assert lexed.writes == ["out.txt"]


def test_unquoted_heredoc_substitutions_are_collected() -> None:
    lexed = lex("cat > f <<EOF\nkey=$(cat ~/.ssh/id_rsa)\nEOF\n")
    assert [restore(s, lexed.literals) for s in lexed.heredoc_scripts] == ["cat ~/.ssh/id_rsa"]
    quoted = lex("cat > f <<'EOF'\nkey=$(cat ~/.ssh/id_rsa)\nEOF\n")
    assert quoted.heredoc_scripts == []


def test_heredoc_body_is_a_literal() -> None:
    lexed = lex("psql <<SQL\nDROP TABLE t;\nSQL\necho done")
    assert "DROP" not in lexed.text
    assert "DROP TABLE t;" in lexed.literals
    assert ["echo", "done"] in lexed.commands


@pytest.mark.parametrize(
    "script",
    [
        "echo 'unterminated",
        'echo "unterminated',
        "echo $(unterminated",
        "echo ${unterminated",
        "echo `unterminated",
        "cat >",
        "[[ -f x",
        "echo \ue000",
    ],
)
def test_lex_errors(script: str) -> None:
    with pytest.raises(LexError):
        lex(script)


def test_nesting_is_bounded() -> None:
    with pytest.raises(LexError):
        lex("$(" * 40 + "x" + ")" * 40, max_depth=32)


def test_crude_split() -> None:
    assert crude_split("rm -rf / 'x; ls | sh") == [["rm", "-rf", "/", "x"], ["ls"], ["sh"]]


def test_decode_ansi_c() -> None:
    assert decode_ansi_c(r"a\nb\x41\101\u00e9\'") == "a\nbAAé'"


def test_expansions_in_parameter_text() -> None:
    literals: list[str] = []
    assert expansions("x:-$(rm -rf /)", literals) == ["rm -rf /"]


def test_bashlex_never_sees_the_endless_loop_input() -> None:
    """Regression: bashlex loops forever (and eats memory) on '${' inside single quotes.

    Run in a child with a memory cap, so a regression fails instead of
    exhausting the machine.
    """
    code = (
        "from warden.guard.shell import ShellAnalyzer, ShellLimits\n"
        "from warden.guard.model import Findings, Origin\n"
        "for s in [\"echo '${a'x\", \"'${'#\", \"x'${'[\", \"a=$'${'b\"]:\n"
        "    ShellAnalyzer(Findings(), Origin(), ShellLimits()).script(s)\n"
    )

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run(
        [sys.executable, "-c", code], preexec_fn=cap_memory, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
