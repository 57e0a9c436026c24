"""The shell analyser: which simple commands a script runs, and how."""

from __future__ import annotations

from warden.guard.model import (
    FactKind,
    FileAccess,
    Findings,
    Origin,
    ProblemCode,
    ShellCommand,
    SqlStatement,
    UrlAccess,
)
from warden.guard.shell import ShellAnalyzer, ShellLimits


def analyse(script: str, **limits: int) -> Findings:
    out = Findings()
    ShellAnalyzer(out, Origin(("command",)), ShellLimits(**limits)).script(script)
    return out


def commands(script: str) -> list[tuple[str, ...]]:
    return [f.argv for f in analyse(script).facts if isinstance(f, ShellCommand)]


def command(script: str, name: str) -> ShellCommand:
    found = [f for f in analyse(script).facts if isinstance(f, ShellCommand) and f.name == name]
    assert len(found) == 1, found
    return found[0]


def test_lists_pipelines_subshells_and_groups() -> None:
    assert commands("a && b || c; (d; e) | { f; } & g") == [
        ("a",),
        ("b",),
        ("c",),
        ("d",),
        ("e",),
        ("f",),
        ("g",),
    ]


def test_control_flow_and_functions() -> None:
    script = "for i in $(seq 3); do rm $i; done; if test -f x; then mv x y; fi; f() { cp a b; }"
    assert [argv[0] for argv in commands(script)] == ["seq", "rm", "test", "mv", "cp"]


def test_substitutions_everywhere() -> None:
    names = [argv[0] for argv in commands('X=$(a) b "$(c)" `d` <(e) > "$(f)" ${v:-$(g)}')]
    assert sorted(names) == ["a", "b", "c", "d", "e", "f", "g"]


def test_wrappers_are_peeled_and_remembered() -> None:
    rm = command("sudo -u root env A=1 B=2 nohup nice -n 5 timeout -s KILL 10 rm -rf x", "rm")
    assert rm.argv == ("rm", "-rf", "x")
    assert rm.origin.via == ("sudo", "env", "nohup", "nice", "timeout")


def test_wrapper_without_a_command_is_the_command() -> None:
    assert commands("sudo -v") == [("sudo", "-v")]
    assert commands("command -v rm") == [("command", "-v", "rm")]
    assert commands("exec 3>&1") == [("exec",)]


def test_shell_dash_c_is_analysed_recursively() -> None:
    rm = command("bash -lc 'sudo sh -c \"rm -rf /\"'", "rm")
    assert rm.operands == ("/",)
    assert rm.origin.via == ("bash", "sudo", "sh")


def test_eval_ssh_su_watch_find_exec_and_containers() -> None:
    for script, via in [
        ('eval "rm -rf x"', ("eval",)),
        ("ssh -p 22 host 'rm -rf x'", ("ssh",)),
        ("su - root -c 'rm -rf x'", ("su",)),
        ("watch -n 5 rm -rf x", ("watch",)),
        ("find . -name '*.o' -exec rm -rf x \\;", ("find",)),
        ("kubectl exec -it pod -- rm -rf x", ("kubectl",)),
        ("docker exec -u root web rm -rf x", ("docker",)),
        ("xargs -I{} rm -rf x", ("xargs",)),
    ]:
        assert command(script, "rm").origin.via == via, script


def test_find_start_paths_and_primaries() -> None:
    find = command("find / -name '*.tmp' -type f -delete", "find")
    assert find.operands == ("/",)
    assert {"delete", "name", "type"} <= find.flags


def test_pipe_to_shell_records_the_producers() -> None:
    assert command("curl -s x | sh", "sh").code_from == ("curl",)
    assert command("wget -O- x | tee f | sudo bash -s", "bash").code_from == ("wget", "tee")
    assert command("bash <(curl x)", "bash").code_from == ("curl",)
    assert command('sh -c "$(curl x)"', "sh").code_from == ("curl",)
    assert command("source <(kubectl completion bash)", "source").code_from == ("kubectl",)
    assert command("curl x | python3 -", "python3").code_from == ("curl",)
    assert command("curl x | python3 script.py", "python3").code_from == ()
    assert command("bash script.sh", "bash").code_from == ()


def test_literal_stdin_is_analysed_as_a_script() -> None:
    rm = command('echo "rm -rf /" | sh', "rm")
    assert rm.origin.via == ("sh",)
    assert command("sh <<EOF\nrm -rf /\nEOF", "rm").operands == ("/",)
    assert command("bash <<< 'rm -rf /'", "rm").operands == ("/",)


def test_fork_bomb() -> None:
    facts = [f for f in analyse(":(){ :|:& };:").facts if isinstance(f, ShellCommand)]
    assert any(f.forks_itself for f in facts)
    plain = [f for f in analyse("f() { g | h; }; f | cat").facts if isinstance(f, ShellCommand)]
    assert not any(f.forks_itself for f in plain)


def test_sql_in_database_clients() -> None:
    for script in [
        'psql -h db -c "DROP TABLE t"',
        "psql --command='DROP TABLE t'",
        "mysql -uroot -psecret -e 'DROP TABLE t'",
        "sqlite3 app.db 'DROP TABLE t'",
        "echo 'DROP TABLE t' | psql",
        "psql <<SQL\nDROP TABLE t;\nSQL",
        "psql <<< 'DROP TABLE t'",
    ]:
        sql = [f for f in analyse(script).facts if isinstance(f, SqlStatement)]
        assert [(s.statement, s.object_kind) for s in sql] == [("drop", "table")], script
        assert sql[0].origin.via[-1] in ("psql", "mysql", "sqlite3")


def test_writes_reads_and_urls() -> None:
    facts = analyse(
        "echo hi > a.txt; printf x >> b; cat <<EOF > c\nbody\nEOF\n"
        "cmd | tee -a d e; cp x f; dd if=x of=g; curl -o h https://x.io/y; cat i < j"
    ).facts
    writes = {
        f.path: f.content
        for f in facts
        if isinstance(f, FileAccess) and f.kind is FactKind.FILE_WRITE
    }
    assert writes == {
        "a.txt": "hi",
        "b": "x",
        "c": "body",
        "d": None,
        "e": None,
        "f": None,
        "g": None,
        "h": None,
    }
    reads = [f.path for f in facts if isinstance(f, FileAccess) and f.kind is FactKind.FILE_READ]
    assert sorted(reads) == ["i", "j"]
    urls = [f.host for f in facts if isinstance(f, UrlAccess)]
    assert urls == ["x.io"]


def test_descriptor_duplication_is_not_a_write() -> None:
    facts = analyse("make 2>&1 >&2").facts
    assert not [f for f in facts if isinstance(f, FileAccess)]


def test_apply_patch_in_a_shell_command() -> None:
    script = (
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: a.py\n+key = 1\n*** End Patch\nEOF"
    )
    writes = [f for f in analyse(script).facts if isinstance(f, FileAccess)]
    assert [(w.path, w.content) for w in writes] == [("a.py", "key = 1")]


def test_unparsable_script_falls_back_and_reports_a_problem() -> None:
    out = analyse("case $x in a) rm -rf /;; esac")
    assert [p.code for p in out.problems] == [ProblemCode.UNPARSABLE]
    rm = [f for f in out.facts if isinstance(f, ShellCommand) and f.name == "rm"]
    assert rm and rm[0].approximate


def test_unlexable_script_is_split_crudely() -> None:
    out = analyse("rm -rf / 'unterminated")
    assert [p.code for p in out.problems] == [ProblemCode.UNPARSABLE]
    assert any(isinstance(f, ShellCommand) and f.name == "rm" for f in out.facts)


def test_nesting_is_bounded() -> None:
    script = "rm x"
    for _ in range(4):
        script = f"bash -c {_quote(script)}"
    assert analyse(script, max_nesting=5).problems == []
    out = analyse(script, max_nesting=2)
    assert [p.code for p in out.problems] == [ProblemCode.TOO_DEEP]


def test_script_size_is_bounded() -> None:
    out = analyse("echo hi; " * 20 + "rm -rf /", max_script_chars=100)
    assert [p.code for p in out.problems] == [ProblemCode.TOO_LARGE]


def test_everyday_scripts_parse_cleanly() -> None:
    for script in [
        "git commit -m \"$(cat <<'EOF'\nfeat: x\n\nCo-Authored-By: Claude\nEOF\n)\"",
        "[[ -d node_modules ]] || npm ci",
        "time pytest -q",
        "echo $((2 * 3))",
        'while read -r line; do echo "$line"; done < file.txt',
        'export PATH="$HOME/bin:$PATH" && which tool',
        "",
        "   ",
    ]:
        assert analyse(script).problems == [], script


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
