"""Shell analysis: a script in, the simple commands it will run out.

Parsing goes in three steps, each safer than the last:

1. :func:`warden.guard.shell_lex.lex` sanitises the script (see there why) and
   checks that every quote and substitution is closed;
2. bashlex parses the sanitised text, and :class:`_Walker` visits the tree:
   lists (``;``, ``&&``, ``||``, ``&``), pipelines, subshells, ``{ }`` groups,
   ``if``/``for``/``while``, function bodies, and every command and process
   substitution inside words, assignments, redirections and ``${x:-$(...)}``;
3. when bashlex cannot parse the text, the lexer's rough commands are analysed
   instead and marked approximate; when even the lexer fails, a crude split
   on separators is. Either way a ``unparsable`` :class:`Problem` is recorded,
   so the decision is the pack's fail-safe action or a stricter rule's.

Each simple command goes to :class:`~warden.guard.shell_semantics.CommandSemantics`,
which unwraps it and records the facts. Nesting (``bash -c``, ``eval``...) is
bounded by ``max_nesting``; the script size by ``max_script_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import bashlex

from warden.guard.model import FactKind, FileAccess, Findings, Origin, ProblemCode, ShellCommand
from warden.guard.shell_lex import LexError, crude_split, expansions, lex, restore
from warden.guard.shell_semantics import CommandSemantics, Context, Redirect, Word

_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac"}
)
_SUBSTITUTIONS = ("commandsubstitution", "processsubstitution")


@dataclass(frozen=True, slots=True)
class ShellLimits:
    max_nesting: int = 5
    max_script_chars: int = 100_000


class ShellAnalyzer:
    """Analyses the scripts of one argument field into ``out``."""

    def __init__(self, out: Findings, origin: Origin, limits: ShellLimits) -> None:
        self.out = out
        self.origin = origin
        self.limits = limits
        self.semantics = CommandSemantics(self, out, origin)

    def argv(self, argv: list[str], ctx: Context | None = None) -> None:
        """A command given as an argv list (Codex ``shell``): no shell parsing at the top."""
        if argv:
            self.semantics.simple([Word(a) for a in argv], ctx or Context())

    def script(self, text: str, ctx: Context | None = None) -> None:
        ctx = ctx or Context()
        if ctx.depth > self.limits.max_nesting:
            self._problem(ProblemCode.TOO_DEEP, "shell nesting deeper than max_nesting", ctx)
            return
        if len(text) > self.limits.max_script_chars:
            self._problem(ProblemCode.TOO_LARGE, "shell script longer than max_script_chars", ctx)
            self._crude(text[: self.limits.max_script_chars], ctx)
            return
        if not text.strip():
            return
        try:
            lexed = lex(text)
        except LexError as error:
            self._problem(ProblemCode.UNPARSABLE, f"shell script: {error}", ctx)
            self._crude(text, ctx)
            return
        mark = len(self.out.facts)
        if not self._parse(lexed.text, lexed.literals, ctx):
            del self.out.facts[mark:]
            self._rough(lexed.commands, lexed.writes, lexed.literals, ctx)
            return
        for sub in lexed.heredoc_scripts:
            self._sanitized(sub, lexed.literals, ctx)

    def _sanitized(self, text: str, literals: list[str], ctx: Context) -> None:
        """Already-sanitised text (a substitution bashlex kept opaque)."""
        mark = len(self.out.facts)
        if not self._parse(text, literals, ctx):
            del self.out.facts[mark:]
            self._crude(restore(text, literals), ctx)

    def _parse(self, text: str, literals: list[str], ctx: Context) -> bool:
        try:
            nodes = bashlex.parse(text)
        except Exception as error:
            detail = f"shell script bashlex cannot parse ({type(error).__name__})"
            self._problem(ProblemCode.UNPARSABLE, detail, ctx)
            return False
        walker = _Walker(self, literals)
        try:
            for node in nodes:
                walker.visit(node, ctx)
        except RecursionError:
            self._problem(ProblemCode.TOO_DEEP, "shell syntax tree too deep", ctx)
            return False
        return True

    def _rough(
        self, commands: list[list[str]], writes: list[str], literals: list[str], ctx: Context
    ) -> None:
        ctx = replace(ctx, approximate=True)
        for words in commands:
            while words and words[0] in _RESERVED:
                words = words[1:]
            if words:
                self.semantics.simple([Word(w) for w in words], ctx)
        for target in writes:
            self.out.facts.append(FileAccess(FactKind.FILE_WRITE, target, origin=self._origin(ctx)))

    def _crude(self, text: str, ctx: Context) -> None:
        self._rough(crude_split(text), [], [], ctx)

    def _origin(self, ctx: Context) -> Origin:
        return Origin(self.origin.path, (*self.origin.via, *ctx.via))

    def _problem(self, code: ProblemCode, detail: str, ctx: Context) -> None:
        self.out.problem(code, detail, self._origin(ctx))


class _Walker:
    def __init__(self, analyzer: ShellAnalyzer, literals: list[str]) -> None:
        self.analyzer = analyzer
        self.literals = literals

    def visit(self, node: Any, ctx: Context) -> str | None:
        """Visit a node; return the literal text a simple command prints, if known."""
        kind = node.kind
        if kind == "command":
            return self._command(node, ctx)
        if kind == "list":
            self._list(node, ctx)
        elif kind == "pipeline":
            self._pipeline(node, ctx)
        elif kind == "compound":
            for part in node.list:
                self.visit(part, ctx)
            for redirect in getattr(node, "redirects", ()):
                self._write_only(self._redirect(redirect, ctx), ctx)
        elif kind == "function":
            self.visit(node.body, replace(ctx, function=restore(node.name.word, self.literals)))
        elif kind in _SUBSTITUTIONS:
            self.visit(node.command, self._fresh(ctx))
        elif kind == "word":
            self._word(node, ctx)
        elif kind == "redirect":
            self._write_only(self._redirect(node, ctx), ctx)
        elif kind not in ("reservedword", "operator", "pipe", "parameter", "tilde", "heredoc"):
            for part in getattr(node, "parts", ()):
                self.visit(part, ctx)
        return None

    def _list(self, node: Any, ctx: Context) -> None:
        parts = node.parts
        for i, part in enumerate(parts):
            if part.kind == "operator":
                continue
            backgrounded = (
                i + 1 < len(parts) and parts[i + 1].kind == "operator" and parts[i + 1].op == "&"
            )
            self.visit(part, replace(ctx, forked=ctx.forked or backgrounded))

    def _pipeline(self, node: Any, ctx: Context) -> None:
        stages = [p for p in node.parts if p.kind not in ("pipe", "reservedword")]
        upstream: list[str] = []
        literal: str | None = None
        for index, stage in enumerate(stages):
            stage_ctx = ctx
            if index > 0:
                stage_ctx = replace(
                    ctx, stdin_from=tuple(upstream), stdin_text=literal, forked=True
                )
            elif len(stages) > 1:
                stage_ctx = replace(ctx, forked=True)
            mark = len(self.analyzer.out.facts)
            literal = self.visit(stage, stage_ctx)
            upstream.extend(self._names_since(mark))

    def _command(self, node: Any, ctx: Context) -> str | None:
        words: list[Word] = []
        redirects: list[Redirect] = []
        for part in node.parts:
            if part.kind == "word":
                words.append(self._word(part, ctx))
            elif part.kind == "assignment":
                self._word(part, ctx)
            elif part.kind == "redirect":
                redirects.append(self._redirect(part, ctx))
        return self.analyzer.semantics.simple(words, ctx, redirects)

    def _word(self, node: Any, ctx: Context) -> Word:
        """A word's value, after running the commands substituted into it."""
        produced: list[str] = []
        for part in getattr(node, "parts", ()):
            mark = len(self.analyzer.out.facts)
            if part.kind in _SUBSTITUTIONS:
                self.visit(part.command, self._fresh(ctx))
            elif part.kind == "parameter" and ("$(" in part.value or "`" in part.value):
                for sub in expansions(part.value, self.literals):
                    self.analyzer._sanitized(sub, self.literals, self._fresh(ctx))
            produced.extend(self._names_since(mark))
        return Word(restore(node.word, self.literals), tuple(produced))

    def _redirect(self, node: Any, ctx: Context) -> Redirect:
        op = node.type
        heredoc = getattr(node, "heredoc", None)
        if heredoc is not None:
            body, _, _ = heredoc.value.rpartition("\n")
            return Redirect(op, text=restore(body, self.literals))
        output = getattr(node, "output", None)
        if output is None or isinstance(output, int):
            return Redirect(op)
        target = self._word(output, ctx).value
        if op == "<<<":
            return Redirect(op, text=target)
        if op in (">&", "<&") and (target.isdigit() or target == "-"):
            return Redirect(op)
        return Redirect(op, target=target)

    def _write_only(self, redirect: Redirect, ctx: Context) -> None:
        """A redirection on a compound command: only the file it writes matters."""
        self.analyzer.semantics.simple([], ctx, [redirect])

    def _names_since(self, mark: int) -> list[str]:
        return [f.name for f in self.analyzer.out.facts[mark:] if isinstance(f, ShellCommand)]

    @staticmethod
    def _fresh(ctx: Context) -> Context:
        """The context of a substitution: same nesting, its own stdin, not forked."""
        return Context(depth=ctx.depth, via=ctx.via, function=ctx.function)
