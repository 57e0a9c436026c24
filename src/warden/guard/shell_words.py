"""Words, quotes and expansions: the lower half of the bash lexer.

:class:`WordScanner` reads one word at a time the way bash does (single and
double quotes, ``$'...'``, backslashes, ``$(...)``, ``$((...))``, ``${...}``,
backquotes, process substitution) and produces two things: the word's value
with quotes removed, and a *sanitised* spelling for bashlex in which every
literal (single-quoted) string is a placeholder ``\\ue000<n>\\ue001`` that
:func:`restore` turns back into the text. The script level (operators,
redirections, here-documents) is :mod:`warden.guard.shell_lex`.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field

OPEN = "\ue000"
CLOSE = "\ue001"
_PLACEHOLDER = re.compile(OPEN + r"(\d+)" + CLOSE)
BREAK = frozenset(" \t\n;&|<>()")
_ANSI_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


class LexError(ValueError):
    """The script is not something this lexer (or bash) can tokenise."""


@dataclass(slots=True)
class Lexed:
    text: str
    """The sanitised script for bashlex."""
    literals: list[str]
    """Placeholder ``n`` stands for ``literals[n]``."""
    commands: list[list[str]] = field(default_factory=list)
    """Rough simple commands (quote-removed words), for the fallback."""
    writes: list[str] = field(default_factory=list)
    """Rough redirect targets that write, for the fallback."""
    heredoc_scripts: list[str] = field(default_factory=list)
    """Sanitised scripts of ``$(...)`` found in unquoted here-document bodies."""


def restore(text: str, literals: list[str]) -> str:
    """Put the literal text back in place of its placeholders."""
    if OPEN not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: _literal_at(literals, int(m.group(1))), text)


def _literal_at(literals: list[str], index: int) -> str:
    return literals[index] if index < len(literals) else ""


def decode_ansi_c(body: str) -> str:
    """The value of a ``$'...'`` string."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ANSI_ESCAPES:
            out.append(_ANSI_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = re.match(f"[0-9a-fA-F]{{1,{width}}}", body[i + 2 :])
            if digits:
                out.append(chr(min(int(digits.group(0), 16), 0x10FFFF)))
                i += 2 + len(digits.group(0))
            else:
                out.append(body[i : i + 2])
                i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert digits is not None
            out.append(chr(int(digits.group(0), 8)))
            i += 1 + len(digits.group(0))
        else:
            out.append(body[i : i + 2])
            i += 2
    return "".join(out)


@dataclass(slots=True)
class LexWord:
    sanitized: str
    value: str
    plain: bool
    """No quoting or expansion at all: a candidate reserved word."""


class WordScanner(abc.ABC):
    """Reads words and expansions from ``src`` at ``i``; a subclass reads scripts."""

    def __init__(self, src: str, lexed: Lexed, max_depth: int, depth: int = 0) -> None:
        self.src = src
        self.n = len(src)
        self.i = 0
        self.lexed = lexed
        self.max_depth = max_depth
        self.depth = depth
        self.collect: list[str] | None = None

    @abc.abstractmethod
    def script(self, stop: str | None) -> str:
        """The sanitised script from ``i`` up to ``stop`` (not consumed) or the end."""

    def _expansions_in(self, body: str) -> None:
        scanner = type(self)(body, self.lexed, self.max_depth, self.depth + 1)
        scanner.collect = []
        scanner.double_quoted(None)
        self.lexed.heredoc_scripts.extend(scanner.collect)

    # -- words ------------------------------------------------------------

    def _word(self) -> LexWord:
        src = self.src
        sanitized: list[str] = []
        value: list[str] = []
        plain = True
        while self.i < self.n:
            c = src[self.i]
            if c in BREAK:
                if c in "<>" and src.startswith("(", self.i + 1):
                    self.i += 2
                    inner = self._nested(")")
                    sanitized.append(f"{c}({inner})")
                    value.append(f"{c}({restore(inner, self.lexed.literals)})")
                    plain = False
                    continue
                break
            if c == "'":
                end = src.find("'", self.i + 1)
                if end == -1:
                    raise LexError(f"unterminated single quote at {self.i}")
                literal = src[self.i + 1 : end]
                sanitized.append(self._literal(literal))
                value.append(literal)
                self.i = end + 1
                plain = False
            elif src.startswith("$'", self.i):
                literal = decode_ansi_c(self._ansi_c_body())
                sanitized.append(self._literal(literal))
                value.append(literal)
                plain = False
            elif c == '"' or src.startswith('$"', self.i):
                self.i += 1 if c == '"' else 2
                inner_sanitized, inner_value = self.double_quoted('"')
                if self.i >= self.n:
                    raise LexError("unterminated double quote")
                self.i += 1
                sanitized.append(f'"{inner_sanitized}"')
                value.append(inner_value)
                plain = False
            elif c == "\\":
                if self.i + 1 >= self.n:
                    sanitized.append("\\\\")
                    value.append("\\")
                    self.i += 1
                elif src[self.i + 1] == "\n":
                    self.i += 2
                else:
                    sanitized.append(src[self.i : self.i + 2])
                    value.append(src[self.i + 1])
                    self.i += 2
                    plain = False
            elif c in "$`":
                self._expansion(sanitized, value)
                plain = False
            else:
                sanitized.append(c)
                value.append(c)
                self.i += 1
        return LexWord("".join(sanitized), "".join(value), plain)

    def _ansi_c_body(self) -> str:
        j = self.i + 2
        while j < self.n and self.src[j] != "'":
            j += 2 if self.src[j] == "\\" else 1
        if j >= self.n:
            raise LexError("unterminated $'...' string")
        body = self.src[self.i + 2 : j]
        self.i = j + 1
        return body

    def double_quoted(self, until: str | None) -> tuple[str, str]:
        src = self.src
        sanitized: list[str] = []
        value: list[str] = []
        while self.i < self.n:
            c = src[self.i]
            if c == until:
                break
            if c == "\\" and self.i + 1 < self.n and src[self.i + 1] in '$`"\\\n':
                if src[self.i + 1] != "\n":
                    sanitized.append(src[self.i : self.i + 2])
                    value.append(src[self.i + 1])
                self.i += 2
            elif c in "$`":
                self._expansion(sanitized, value)
            else:
                sanitized.append(c)
                value.append(c)
                self.i += 1
        return "".join(sanitized), "".join(value)

    def _expansion(self, sanitized: list[str], value: list[str]) -> None:
        """``$(...)``, ``$((...))``, ``${...}``, a backquote, or a plain ``$``."""
        src = self.src
        literals = self.lexed.literals
        if src[self.i] == "`":
            inner = self._backquoted()
            sanitized.append(f"`{inner}`")
            value.append(f"`{restore(inner, literals)}`")
        elif src.startswith("$((", self.i):
            start = self.i
            self.i += 3
            try:
                raw, subs = self._arithmetic()
            except LexError:
                self.i = start + 2
                inner = self._nested(")")
                sanitized.append(f"$({inner})")
                value.append(f"$({restore(inner, literals)})")
                return
            sanitized.append(self._literal(f"$(({raw}))") + "".join(f"$({s})" for s in subs))
            value.append(f"$(({raw}))")
        elif src.startswith("$(", self.i):
            self.i += 2
            inner = self._nested(")")
            sanitized.append(f"$({inner})")
            value.append(f"$({restore(inner, literals)})")
        elif src.startswith("${", self.i):
            self.i += 2
            inner = self._braced()
            sanitized.append("${" + inner + "}")
            value.append("${" + restore(inner, literals) + "}")
        else:
            sanitized.append("$")
            value.append("$")
            self.i += 1

    def _braced(self) -> str:
        src = self.src
        out: list[str] = []
        while self.i < self.n:
            c = src[self.i]
            if c == "}":
                self.i += 1
                return "".join(out)
            if c == "'":
                end = src.find("'", self.i + 1)
                if end == -1:
                    raise LexError("unterminated single quote in ${...}")
                out.append(self._literal(src[self.i + 1 : end]))
                self.i = end + 1
            elif c == '"':
                self.i += 1
                inner, _ = self.double_quoted('"')
                if self.i >= self.n:
                    raise LexError("unterminated double quote in ${...}")
                self.i += 1
                out.append(f'"{inner}"')
            elif c == "\\" and self.i + 1 < self.n:
                out.append(src[self.i : self.i + 2])
                self.i += 2
            elif c in "$`":
                value: list[str] = []
                self._expansion(out, value)
            else:
                out.append(c)
                self.i += 1
        raise LexError("unterminated ${...}")

    def _nested(self, stop: str) -> str:
        """A command substitution's script up to its closing ``)``."""
        if self.depth >= self.max_depth:
            raise LexError("nesting too deep")
        collect, self.collect = self.collect, None
        self.depth += 1
        text = self.script(stop)
        self.depth -= 1
        self.collect = collect
        if self.i >= self.n or self.src[self.i] != stop:
            raise LexError("unterminated command substitution")
        self.i += 1
        if collect is not None:
            collect.append(text)
        return text

    def _backquoted(self) -> str:
        src = self.src
        j = self.i + 1
        inner: list[str] = []
        while j < self.n and src[j] != "`":
            if src[j] == "\\" and j + 1 < self.n:
                inner.append(src[j + 1] if src[j + 1] in "`\\$" else src[j : j + 2])
                j += 2
            else:
                inner.append(src[j])
                j += 1
        if j >= self.n:
            raise LexError("unterminated backquote")
        self.i = j + 1
        if self.depth >= self.max_depth:
            raise LexError("nesting too deep")
        body = "".join(inner)
        scanner = type(self)(body, self.lexed, self.max_depth, self.depth + 1)
        text = scanner.script(None)
        if scanner.i < len(body) or "`" in text:
            raise LexError("unsupported nested backquotes")
        if self.collect is not None:
            self.collect.append(text)
        return text

    def _arithmetic(self) -> tuple[str, list[str]]:
        """From after ``((`` through the closing ``))``: the raw text and its substitutions."""
        src = self.src
        start = self.i
        depth = 0
        subs: list[str] = []
        collect, self.collect = self.collect, subs
        try:
            while self.i < self.n:
                c = src[self.i]
                if c == "(":
                    depth += 1
                    self.i += 1
                elif c == ")":
                    if depth == 0:
                        if not src.startswith("))", self.i):
                            raise LexError("unbalanced parenthesis in arithmetic")
                        raw = src[start : self.i]
                        self.i += 2
                        return raw, subs
                    depth -= 1
                    self.i += 1
                elif c in "$`" and (src.startswith("$(", self.i) or c == "`"):
                    sink: list[str] = []
                    self._expansion(sink, [])
                elif c == '"':
                    self.i += 1
                    self.double_quoted('"')
                    self.i += 1
                else:
                    self.i += 1
            raise LexError("unterminated arithmetic")
        finally:
            self.collect = collect
            if collect is not None:
                collect.extend(subs)

    def _literal(self, text: str) -> str:
        self.lexed.literals.append(text)
        return f"{OPEN}{len(self.lexed.literals) - 1}{CLOSE}"
