"""A small bash lexer: the safety net around bashlex.

bashlex is the parser, but it has gaps and one trap. It raises on ``[[ ]]``,
``$(( ))``, ``time``, ``case`` and quoted here-document delimiters
(``cat <<'EOF'``, which Claude Code writes for every commit message), and an
unclosed ``${`` inside single quotes (``echo '${a'b``) sends it into an
endless loop that eats memory. So before bashlex sees a script, this lexer:

* replaces every single-quoted and ``$'...'`` string, and every here-document
  body, with a placeholder (``\\ue000<n>\\ue001``) that :func:`restore` turns
  back into the literal text; bashlex never looks inside literal text;
* unquotes here-document delimiters;
* drops a leading ``time`` / ``time -p``;
* turns ``[[ ... ]]`` into ``test <literal>`` and ``$(( ... ))`` / ``(( ... ))``
  into a literal, keeping any command substitution inside them as
  ``"$(...)"`` so the commands in it are still analysed;
* checks that every ``$(``, ``${``, backquote and quote is closed.

The same pass splits the script into rough simple commands (words with quotes
removed, nested substitutions flattened in). When bashlex still cannot parse
the text, the analyser falls back to those rough commands, marks what it
finds as approximate, and the pack's fail-safe action applies. The lexer is
linear in the length of the script and bounded in nesting depth; anything it
does not understand is a :class:`LexError`, never a guess.
"""

from __future__ import annotations

import re

from warden.guard.shell_words import (
    BREAK,
    CLOSE,
    OPEN,
    Lexed,
    LexError,
    WordScanner,
    decode_ansi_c,
    restore,
)

__all__ = [
    "CLOSE",
    "OPEN",
    "LexError",
    "Lexed",
    "crude_split",
    "decode_ansi_c",
    "expansions",
    "lex",
    "restore",
]

_CONTROL_OPS = (";;&", ";;", ";&", "&&", "||", "|&", "&", ";", "|", "(", ")")
_REDIRECT_OPS = ("&>>", "&>", "<<<", "<<-", "<<", ">>", ">|", "<>", "<&", ">&", "<", ">")
_WRITE_OPS = frozenset({"&>>", "&>", ">>", ">|", "<>", ">"})
_STARTERS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
_DELIMITER = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_FD_PREFIX = re.compile(r"\d+(?=[<>])")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")


def lex(script: str, *, max_depth: int = 32) -> Lexed:
    if OPEN in script or CLOSE in script:
        raise LexError("the script contains reserved private-use characters")
    lexed = Lexed(text="", literals=[])
    scanner = _Scanner(script, lexed, max_depth)
    text = scanner.script(None)
    if scanner.i < len(script):
        raise LexError(f"unexpected {script[scanner.i]!r} at {scanner.i}")
    lexed.text = text
    return lexed


def crude_split(script: str) -> list[list[str]]:
    """Last resort when even the lexer fails: split on anything that may separate commands."""
    commands = []
    for chunk in re.split(r"\$\(|[;&|\n()`{}]", script):
        words = [w.strip("'\"\\") for w in chunk.split()]
        words = [w for w in words if w]
        if words:
            commands.append(words)
    return commands


class _Scanner(WordScanner):
    def script(self, stop: str | None) -> str:
        out: list[str] = []
        words: list[str] = []
        pending: list[tuple[str, bool, bool]] = []
        parens = 0
        command_start = True
        src = self.src

        def finish() -> None:
            if words:
                self.lexed.commands.append(list(words))
                words.clear()

        while self.i < self.n:
            c = src[self.i]
            if c == stop and (stop != ")" or parens == 0):
                break
            if c in " \t":
                out.append(c)
                self.i += 1
            elif src.startswith("\\\n", self.i):
                self.i += 2
            elif c == "\n":
                out.append("\n")
                self.i += 1
                finish()
                command_start = True
                if pending:
                    out.append(self._heredocs(pending))
                    pending.clear()
            elif c == "#":
                end = src.find("\n", self.i)
                self.i = self.n if end == -1 else end
            elif command_start and (arithmetic := self._arithmetic_command()) is not None:
                out.append(arithmetic)
                words.append("((")
                command_start = False
            elif (redirect := self._redirect(pending)) is not None:
                out.append(redirect)
            elif (op := _match(src, self.i, _CONTROL_OPS)) is not None:
                parens += op == "("
                parens -= op == ")" and parens > 0
                out.append(op)
                self.i += len(op)
                finish()
                command_start = True
            else:
                start = self.i
                word = self._word()
                if self.i == start:
                    raise LexError(f"unexpected {c!r} at {start}")
                if command_start and word.plain and word.value == "time":
                    self._skip_time_option()
                    out.append(" ")
                    continue
                if command_start and word.plain and word.value == "[[":
                    out.append(self._conditional())
                    words.append("[[")
                    command_start = False
                    continue
                out.append(word.sanitized)
                words.append(word.value)
                command_start = (word.plain and word.value in _STARTERS) or (
                    command_start and _ASSIGNMENT.match(word.value) is not None
                )
        finish()
        if pending:
            out.append("\n" + self._heredocs(pending))
        return "".join(out)

    def _arithmetic_command(self) -> str | None:
        """``(( ... ))`` as a command: ``true`` plus the substitutions inside it."""
        if not self.src.startswith("((", self.i):
            return None
        start = self.i
        self.i += 2
        try:
            _, subs = self._arithmetic()
        except LexError:
            self.i = start  # a subshell inside a subshell: ( (a) )
            return None
        return "true" + "".join(f' "$({s})"' for s in subs)

    def _skip_time_option(self) -> None:
        match = re.compile(r"[ \t]+-p(?=[ \t\n;&|])").match(self.src, self.i)
        if match:
            self.i = match.end()

    def _redirect(self, pending: list[tuple[str, bool, bool]]) -> str | None:
        src = self.src
        start = self.i
        fd = _FD_PREFIX.match(src, start)
        at = fd.end() if fd else start
        op = _match(src, at, _REDIRECT_OPS)
        if op is None or (src.startswith("(", at + 1) and op in ("<", ">")):
            return None  # not a redirect, or a process substitution word
        self.i = at + len(op)
        blanks = re.compile(r"[ \t]*").match(src, self.i)
        assert blanks is not None
        self.i = blanks.end()
        if self.i >= self.n or src[self.i] in BREAK:
            raise LexError(f"redirection {op!r} without a target at {start}")
        target = self._word()
        head = src[start : at + len(op)] + blanks.group(0)
        if op in ("<<", "<<-"):
            delimiter = target.value
            if not _DELIMITER.match(delimiter):
                raise LexError("unsupported here-document delimiter")
            pending.append((delimiter, op == "<<-", not target.plain))
            return head + delimiter
        if op in _WRITE_OPS:
            self.lexed.writes.append(target.value)
        return head + target.sanitized

    def _heredocs(self, pending: list[tuple[str, bool, bool]]) -> str:
        parts = []
        for delimiter, strip_tabs, quoted in pending:
            body_start = self.i
            lines: list[str] = []
            while self.i < self.n:
                end = self.src.find("\n", self.i)
                end = self.n if end == -1 else end
                line = self.src[self.i : end]
                self.i = min(end + 1, self.n)
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                lines.append(line.lstrip("\t") if strip_tabs else line)
            body = "\n".join(lines)
            if not quoted:
                self._expansions_in(self.src[body_start : self.i])
            parts.append(f"{self._literal(body)}\n{delimiter}\n")
        return "".join(parts)

    def _conditional(self) -> str:
        """After ``[[``: through the closing ``]]``, as ``test <literal> "$(...)"...``."""
        src = self.src
        start = self.i
        subs: list[str] = []
        collect, self.collect = self.collect, subs
        try:
            while True:
                while self.i < self.n and src[self.i] in " \t\n":
                    self.i += 1
                if self.i >= self.n:
                    raise LexError("unterminated [[ ... ]]")
                if src.startswith("]]", self.i) and (
                    self.i + 2 >= self.n or src[self.i + 2] in " \t\n;&|)"
                ):
                    raw = src[start : self.i]
                    self.i += 2
                    break
                if src[self.i] in "&|<>()!;":
                    self.i += 1
                    continue
                self._word()
        finally:
            self.collect = collect
            if collect is not None:
                collect.extend(subs)
        return "test " + self._literal("[[" + raw + "]]") + "".join(f' "$({s})"' for s in subs)


def _match(src: str, at: int, options: tuple[str, ...]) -> str | None:
    for option in options:
        if src.startswith(option, at):
            return option
    return None


def expansions(text: str, literals: list[str], *, max_depth: int = 32) -> list[str]:
    """The command substitutions in ``text`` read as double-quoted content.

    For already sanitised text that bashlex keeps opaque: a ``${x:-$(cmd)}``
    parameter, an unquoted here-document body. Placeholders in ``text`` keep
    referring to ``literals``.
    """
    lexed = Lexed(text="", literals=literals)
    scanner = _Scanner(text, lexed, max_depth)
    scanner.collect = []
    scanner.double_quoted(None)
    return scanner.collect
