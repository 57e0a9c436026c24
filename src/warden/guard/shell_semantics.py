"""What one simple command does: unwrap it, recurse into the code it runs, record facts.

The walker (:mod:`warden.guard.shell`) hands over each simple command as
words plus redirections. Here:

* wrappers are peeled off (``sudo``, ``doas``, ``env VAR=x``, ``nohup``,
  ``time``, ``nice``, ``timeout 5``, ``xargs``, ``command``, ``exec``...), and
  remembered in ``via``;
* code handed to an interpreter is analysed as a script in its own right, one
  level deeper: ``bash -c "..."`` / ``sh -lc``, ``eval``, ``su -c``, ``ssh host
  cmd``, ``watch cmd``, ``find -exec``, and a script arriving on stdin from a
  here-document, a here-string or ``echo ... |``;
* an interpreter that runs code produced by other commands (``curl | sh``,
  ``bash <(curl)``, ``sh -c "$(wget -O- ...)"``, ``source <(...)``) records
  those commands in ``code_from``;
* SQL given to database clients (``psql -c``, ``mysql -e``, ``sqlite3 db
  SQL``, a here-document into ``psql``) is analysed as SQL;
* writes (redirections, ``tee``, ``cp``/``mv``/``install`` targets, ``dd of=``,
  ``curl -o``, ``wget -O``), reads and URLs become facts of their own kinds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import urlsplit

from warden.guard.commands import ParsedArgs, command_name, parse_args, spec_for
from warden.guard.model import (
    FactKind,
    FileAccess,
    Findings,
    Origin,
    ShellCommand,
    UrlAccess,
)
from warden.guard.patch import patched_files
from warden.guard.sql import analyze_sql

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish"})
_INTERPRETER = re.compile(r"(python|perl|ruby|node|nodejs|php|deno|bun)(\d+(\.\d+)*)?\Z")
_INLINE_CODE = {"python": "c", "perl": "eE", "ruby": "e", "node": "ep", "nodejs": "ep", "php": "r"}
_WRAPPERS = frozenset(
    {
        "sudo",
        "doas",
        "env",
        "nohup",
        "time",
        "nice",
        "ionice",
        "timeout",
        "stdbuf",
        "command",
        "builtin",
        "exec",
        "chroot",
        "setsid",
        "xargs",
        "unbuffer",
        "flock",
        "busybox",
    }
)
_EXTRA_OPERANDS = {"timeout": 1, "chroot": 1, "flock": 1}
_WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_READERS = frozenset(
    {"cat", "head", "tail", "less", "more", "base64", "xxd", "od", "strings", "nl", "tac"}
)
_FETCHERS = frozenset({"curl", "wget", "http", "https", "xh", "aria2c", "fetch"})
_SQL_CLIENTS = {
    "psql": ("postgres", ("command",)),
    "mysql": ("mysql", ("execute",)),
    "mariadb": ("mysql", ("execute",)),
    "sqlite3": ("sqlite", ("cmd",)),
    "duckdb": ("duckdb", ("command",)),
    "clickhouse-client": ("clickhouse", ("query",)),
    "cockroach": ("postgres", ("execute",)),
    "snowsql": ("snowflake", ("query",)),
    "bq": ("bigquery", ()),
}
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True, slots=True)
class Word:
    value: str
    produced_by: tuple[str, ...] = ()
    """Commands whose output is spliced into the word (``$(...)``, ``<(...)``)."""


@dataclass(frozen=True, slots=True)
class Redirect:
    op: str
    target: str | None = None
    """The file, or ``None`` for a descriptor duplication like ``2>&1``."""
    text: str | None = None
    """The body of a here-document or here-string."""


@dataclass(frozen=True, slots=True)
class Context:
    depth: int = 0
    via: tuple[str, ...] = ()
    stdin_from: tuple[str, ...] = ()
    stdin_text: str | None = None
    function: str | None = None
    forked: bool = False
    approximate: bool = False

    def nested(self, wrapper: str) -> Context:
        """The context for code this command runs as a script of its own."""
        return Context(depth=self.depth + 1, via=(*self.via, wrapper), approximate=self.approximate)


class Runner(Protocol):
    def script(self, text: str, ctx: Context) -> None: ...


class CommandSemantics:
    def __init__(self, runner: Runner, out: Findings, origin: Origin) -> None:
        self._runner = runner
        self._out = out
        self._origin = origin

    def simple(
        self, words: Sequence[Word], ctx: Context, redirects: Sequence[Redirect] = ()
    ) -> str | None:
        """Record one simple command; return its output when it is literal text."""
        writes: list[str] = []
        stdout_redirected = False
        for redirect in redirects:
            if redirect.op in ("<<", "<<-", "<<<"):
                ctx = replace(ctx, stdin_text=redirect.text, stdin_from=())
            elif redirect.op == "<" and redirect.target:
                self._file(FactKind.FILE_READ, redirect.target, ctx)
            elif redirect.op in _WRITE_REDIRECTS and redirect.target is not None:
                writes.append(redirect.target)
                stdout_redirected = True
        inner, peeled = self._unwrap(list(words), ctx)
        output = None
        if inner:
            ctx = replace(ctx, via=(*ctx.via, *peeled))
            output = self._command(inner, ctx)
        for target in writes:
            self._file(FactKind.FILE_WRITE, target, ctx, output)
        return None if stdout_redirected else output

    # -- wrappers -------------------------------------------------------------

    def _unwrap(self, words: list[Word], ctx: Context) -> tuple[list[Word], tuple[str, ...]]:
        """Peel wrappers off; an empty list when only wrappers (``sudo -v``) are left."""
        peeled: list[str] = []
        while words:
            name = command_name(words[0].value)
            if name not in _WRAPPERS:
                break
            inner = self._wrapped(name, words, ctx)
            if inner is None:
                break
            peeled.append(name)
            words = inner
        return words, tuple(peeled)

    def _wrapped(self, name: str, words: list[Word], ctx: Context) -> list[Word] | None:
        rest = words[1:]
        values = [w.value for w in rest]
        parsed = parse_args(values, spec_for(name))
        if name == "env":
            for script in parsed.options.get("split-string", ()) + parsed.options.get("S", ()):
                self._runner.script(script, ctx.nested("env"))
            start = parsed.first_operand
            while start is not None and start < len(rest) and _ASSIGNMENT.match(rest[start].value):
                start += 1
            return rest[start:] if start is not None and start < len(rest) else None
        if name == "command" and parsed.flags & {"v", "V"}:
            return None
        if name == "flock" and parsed.options.get("c"):
            for script in parsed.options["c"]:
                self._runner.script(script, ctx.nested("flock"))
            return None
        if parsed.first_operand is None:
            return None
        start = parsed.first_operand + _EXTRA_OPERANDS.get(name, 0)
        return rest[start:] if start < len(rest) else None

    # -- commands -------------------------------------------------------------

    def _command(self, words: list[Word], ctx: Context) -> str | None:
        name = command_name(words[0].value)
        if name == "find":
            words = self._find_exec(words, ctx)
        values = [w.value for w in words]
        parsed = parse_args(values[1:], spec_for(name))
        code_from: tuple[str, ...] = ()
        output: str | None = None
        if name in SHELLS:
            code_from = self._shell(name, words, ctx)
        elif name == "eval":
            self._runner.script(" ".join(values[1:]), ctx.nested("eval"))
            code_from = _produced_by(words[1:])
        elif name in ("source", "."):
            code_from = self._source(words, ctx)
        elif (interpreter := _INTERPRETER.match(name)) is not None:
            code_from = self._interpreter(interpreter.group(1), words, ctx)
        elif name == "ssh" and parsed.first_operand is not None:
            remote = values[1 + parsed.first_operand + 1 :]
            if remote:
                self._runner.script(" ".join(remote), ctx.nested("ssh"))
        elif name == "su":
            for script in parsed.options.get("c", ()) + parsed.options.get("command", ()):
                self._runner.script(script, ctx.nested("su"))
        elif name == "watch" and parsed.operands:
            self._runner.script(" ".join(parsed.operands), ctx.nested("watch"))
        elif name in ("kubectl", "oc", "docker", "podman") and parsed.operands[:1] == ("exec",):
            self._exec_in_container(name, words, ctx)
        elif name in ("apply_patch", "applypatch"):
            self._patch(parsed.operands[0] if parsed.operands else ctx.stdin_text, ctx)
        elif name in _SQL_CLIENTS:
            self._sql(name, parsed, ctx)
        elif name == "echo":
            output = " ".join(parsed.operands)
        elif name == "printf":
            output = " ".join(values[1:])
        elif name == "cat" and not parsed.operands:
            output = ctx.stdin_text
        self._effects(name, parsed, ctx)
        self._out.facts.append(
            ShellCommand(
                name=name,
                argv=tuple(values),
                flags=parsed.flags,
                options=parsed.options,
                operands=parsed.operands,
                code_from=code_from,
                forks_itself=ctx.forked and ctx.function == name,
                approximate=ctx.approximate,
                origin=self._at(ctx),
            )
        )
        return output

    def _find_exec(self, words: list[Word], ctx: Context) -> list[Word]:
        """Analyse each ``-exec cmd ... ;`` of a find; return find's words without them."""
        kept: list[Word] = []
        i = 0
        while i < len(words):
            if words[i].value in _FIND_EXEC:
                end = i + 1
                while end < len(words) and words[end].value not in (";", "+"):
                    end += 1
                if end > i + 1:
                    self.simple(words[i + 1 : end], replace(ctx, via=(*ctx.via, "find")))
                kept.append(Word(words[i].value))
                i = end + 1
            else:
                kept.append(words[i])
                i += 1
        return kept

    def _exec_in_container(self, name: str, words: list[Word], ctx: Context) -> None:
        """``kubectl exec pod -- cmd...`` / ``docker exec [opts] container cmd...``."""
        values = [w.value for w in words]
        if name in ("kubectl", "oc"):
            if "--" not in values:
                return
            inner = words[values.index("--") + 1 :]
        else:
            after = values.index("exec") + 1
            parsed = parse_args(values[after:], spec_for("docker exec"))
            if parsed.first_operand is None:
                return
            inner = words[after + parsed.first_operand + 1 :]
        if inner:
            self.simple(inner, ctx.nested(name))

    def _shell(self, name: str, words: list[Word], ctx: Context) -> tuple[str, ...]:
        has_c = reads_stdin = False
        i = 1
        while i < len(words):
            value = words[i].value
            if value in ("-", "--"):
                i += 1
                break
            if value.startswith("--"):
                i += 2 if value in ("--rcfile", "--init-file") else 1
                continue
            if len(value) > 1 and value[0] in "-+":
                letters = value[1:]
                has_c = has_c or (value[0] == "-" and "c" in letters)
                reads_stdin = reads_stdin or (value[0] == "-" and "s" in letters)
                i += 2 if letters[-1] in "oO" else 1
                continue
            break
        operand = words[i] if i < len(words) else None
        if has_c:
            if operand is None:
                return ()
            self._runner.script(operand.value, ctx.nested(name))
            return operand.produced_by
        if operand is not None and not reads_stdin:
            return operand.produced_by
        return self._stdin_code(name, ctx)

    def _stdin_code(self, name: str, ctx: Context) -> tuple[str, ...]:
        if ctx.stdin_text is not None:
            self._runner.script(ctx.stdin_text, ctx.nested(name))
        return ctx.stdin_from

    def _source(self, words: list[Word], ctx: Context) -> tuple[str, ...]:
        if len(words) < 2:
            return ()
        if words[1].value in ("/dev/stdin", "-"):
            return self._stdin_code(command_name(words[0].value), ctx)
        return words[1].produced_by

    def _interpreter(self, family: str, words: list[Word], ctx: Context) -> tuple[str, ...]:
        inline = _INLINE_CODE.get(family, "")
        for i, word in enumerate(words[1:], start=1):
            value = word.value
            if value == "-":
                return ctx.stdin_from
            if not value.startswith("-") or value == "--":
                return ()  # a script file
            if family == "python" and "m" in value[1:2]:
                return ()
            if any(letter in inline for letter in value[1:2]):
                code = words[i + 1] if len(value) == 2 and i + 1 < len(words) else word
                return code.produced_by
        return ctx.stdin_from

    def _sql(self, name: str, parsed: ParsedArgs, ctx: Context) -> None:
        dialect, option_names = _SQL_CLIENTS[name]
        texts: list[str] = []
        for option in option_names:
            texts.extend(parsed.options.get(option, ()))
        operands = parsed.operands
        if name == "sqlite3" and len(operands) > 1:
            texts.append(" ".join(operands[1:]))
        if name in ("duckdb",) and len(operands) > 1:
            texts.append(" ".join(operands[1:]))
        if name == "bq" and operands[:1] == ("query",) and len(operands) > 1:
            texts.append(" ".join(operands[1:]))
        if name == "cockroach" and operands[:1] != ("sql",):
            return
        if not texts and ctx.stdin_text is not None:
            texts.append(ctx.stdin_text)
        for text in texts:
            analyze_sql(text, self._out, self._at(ctx).nested(name), dialect=dialect)

    def _patch(self, text: str | None, ctx: Context) -> None:
        for patched in patched_files(text or ""):
            self._file(FactKind.FILE_WRITE, patched.path, ctx, patched.content or None)

    def _effects(self, name: str, parsed: ParsedArgs, ctx: Context) -> None:
        """Files a command writes or reads and URLs it fetches, from its arguments."""
        operands = parsed.operands
        targets: list[str] = []
        if name == "tee":
            for path in operands:
                self._file(FactKind.FILE_WRITE, path, ctx, ctx.stdin_text)
        elif name in ("cp", "mv", "install", "ln"):
            targets = list(parsed.options.get("target-directory", ()) + parsed.options.get("t", ()))
            if not targets and len(operands) >= 2:
                targets = [operands[-1]]
        elif name == "dd":
            targets = list(parsed.options.get("of", ()))
        elif name == "curl":
            targets = list(parsed.options.get("output", ()))
        elif name == "wget":
            targets = list(parsed.options.get("output-document", ()))
        for path in targets:
            if path != "-":
                self._file(FactKind.FILE_WRITE, path, ctx)
        if name in _READERS:
            for path in operands:
                if path != "-":
                    self._file(FactKind.FILE_READ, path, ctx)
        if name in _FETCHERS:
            for candidate in (*operands, *parsed.options.get("url", ())):
                if "://" in candidate:
                    self._url(candidate, ctx)

    # -- facts ----------------------------------------------------------------

    def _at(self, ctx: Context) -> Origin:
        return Origin(self._origin.path, (*self._origin.via, *ctx.via))

    def _file(self, kind: FactKind, path: str, ctx: Context, content: str | None = None) -> None:
        self._out.facts.append(FileAccess(kind, path, content, origin=self._at(ctx)))

    def _url(self, url: str, ctx: Context) -> None:
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        self._out.facts.append(UrlAccess(url, host, origin=self._at(ctx)))


def _produced_by(words: Sequence[Word]) -> tuple[str, ...]:
    names: list[str] = []
    for word in words:
        names.extend(n for n in word.produced_by if n not in names)
    return tuple(names)
