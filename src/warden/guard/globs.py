"""Globs for paths and words, and the path normalisation they match against.

Glob syntax (the same everywhere in a pack):

* ``*`` any run of characters except ``/``; ``**`` any run including ``/``;
  ``**/`` zero or more whole directories; ``?`` one character except ``/``;
* ``[abc]``, ``[a-z]``, ``[!abc]`` a character class;
* ``{a,b,c}`` alternatives (not nested);
* everything else is literal. Matching is case-sensitive and whole-string.

A path is matched in each of its *variants*: as written, normalised
(``//`` and ``/./`` collapsed, ``..`` resolved, a trailing ``/`` dropped,
``$HOME`` and ``${HOME}`` spelled ``~``), and, when it lies under a home
directory (``/home/<user>``, ``/Users/<user>``, ``/root``), relative to ``~``.
So ``~/.ssh/**`` matches ``/home/alice/.ssh/authorized_keys`` and
``rm -rf /tmp/../`` is matched as ``/``.
"""

from __future__ import annotations

import functools
import posixpath
import re

_HOME_PREFIX = re.compile(r"^(?:/home/[^/]+|/Users/[^/]+|/root|/var/root)(?=/|$)")
_HOME_VARS = ("${HOME}", "$HOME")
_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]([^}]*)\}")


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Translate one glob into an anchored regular expression."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_braces = False
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "{" and not in_braces and "}" in pattern[i:]:
            out.append("(?:")
            in_braces = True
        elif c == "," and in_braces:
            out.append("|")
        elif c == "}" and in_braces:
            out.append(")")
            in_braces = False
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    return compile_glob(pattern).match(text) is not None


def any_glob(patterns: tuple[str, ...] | list[str], values: tuple[str, ...] | list[str]) -> bool:
    return any(compile_glob(p).match(v) for p in patterns for v in values)


def looks_like_path(word: str) -> bool:
    return word.startswith(("/", "~", ".", "$HOME", "${HOME}"))


def normalize_path(path: str) -> str:
    """Collapse a path the way the kernel would resolve it, keeping ``~`` symbolic."""
    for var in _HOME_VARS:
        if path == var or path.startswith(var + "/"):
            path = "~" + path[len(var) :]
            break
    if path == "~" or path.startswith("~/"):
        # Resolve under a stand-in home two levels deep, as /home/<user> is.
        resolved = posixpath.normpath("/home/~" + path[1:])
        if resolved == "/home/~" or resolved.startswith("/home/~/"):
            return "~" + resolved[len("/home/~") :]
        return resolved
    if not path:
        return path
    normalized = posixpath.normpath(path)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    return normalized


def path_variants(path: str) -> tuple[str, ...]:
    """The spellings a path glob is tried against (see the module docstring)."""
    variants = [path]
    normalized = normalize_path(path)
    if normalized not in variants:
        variants.append(normalized)
    home = _HOME_PREFIX.match(normalized)
    if home:
        relative = "~" + normalized[home.end() :]
        if relative not in variants:
            variants.append(relative)
    return tuple(variants)


def word_variants(word: str) -> tuple[str, ...]:
    """Like :func:`path_variants` for words that look like paths, else the word itself.

    A ``${VAR:-default}`` (or ``-``, ``:=``, ``=``) also stands for its default:
    ``rm -rf ${DIR:-/}`` is tried as ``rm -rf /``.
    """
    variants = path_variants(word) if looks_like_path(word) else (word,)
    defaulted = _DEFAULTED.sub(lambda m: m.group(1), word)
    if defaulted != word:
        extra = path_variants(defaulted) if looks_like_path(defaulted) else (defaulted,)
        variants += tuple(v for v in extra if v not in variants)
    return variants


def escapes_workspace(path: str) -> bool:
    """A relative path that climbs out of the directory it is relative to."""
    if looks_like_path(path) and not path.startswith("."):
        return False
    normalized = posixpath.normpath(path) if path else path
    return normalized == ".." or normalized.startswith("../")
