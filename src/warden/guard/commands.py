"""How commands spell their options, so argv is parsed the way the command does.

Generic rules (GNU style) cover most commands: ``--name``, ``--name=value``,
``-abc`` is ``-a -b -c``, ``--`` ends options, options may come after
operands. A :class:`CommandSpec` adds what the generic rules cannot know:
which options take a value (so ``kubectl -n prod delete`` does not read
``prod`` as the subcommand), aliases (``-r`` is ``--recursive``, and both names
are recorded so a rule may use either), single-dash long options
(``terraform destroy -auto-approve``, ``find / -delete``) and ``key=value``
operands (``dd of=/dev/sda``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CommandSpec:
    value_options: frozenset[str] = frozenset()
    """Options that take a value: ``-n VALUE``, ``-nVALUE``, ``--namespace VALUE``."""
    attached_only: frozenset[str] = frozenset()
    """Short options whose value can only be attached (``mysql -psecret``)."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Option name -> its other name; both are recorded."""
    single_dash_long: bool = False
    key_value_operands: bool = False
    posix: bool = False
    """Options end at the first operand (``sudo``, ``ssh``, ``xargs``)."""


@dataclass(frozen=True, slots=True)
class ParsedArgs:
    flags: frozenset[str]
    options: Mapping[str, tuple[str, ...]]
    operands: tuple[str, ...]
    first_operand: int | None = None
    """Index in the words of the first operand (for ``posix`` specs: where the options ended)."""


def _spec(
    values: str = "",
    *,
    attached: str = "",
    aliases: Mapping[str, str] | None = None,
    single_dash_long: bool = False,
    key_value: bool = False,
    posix: bool = False,
) -> CommandSpec:
    both: dict[str, str] = {}
    for name, alias in (aliases or {}).items():
        both[name] = alias
        both.setdefault(alias, name)
    return CommandSpec(
        value_options=frozenset(values.split()),
        attached_only=frozenset(attached.split()),
        aliases=both,
        single_dash_long=single_dash_long,
        key_value_operands=key_value,
        posix=posix,
    )


_KUBECTL = _spec(
    "n namespace context cluster user kubeconfig s server token l selector field-selector "
    "o output f filename c container grace-period timeout replicas p patch type image "
    "as as-group cascade k kustomize",
    aliases={"n": "namespace", "A": "all-namespaces", "l": "selector", "f": "filename"},
)

SPECS: Mapping[str, CommandSpec] = {
    "rm": _spec(aliases={"r": "recursive", "R": "recursive", "f": "force", "d": "dir"}),
    "chmod": _spec("reference", aliases={"R": "recursive"}),
    "chown": _spec("reference from", aliases={"R": "recursive"}),
    "chgrp": _spec("reference", aliases={"R": "recursive"}),
    "cp": _spec("t target-directory S suffix", aliases={"r": "recursive", "R": "recursive"}),
    "mv": _spec("t target-directory S suffix"),
    "install": _spec("m mode o owner g group t target-directory S suffix"),
    "tee": _spec(),
    "head": _spec("n c lines bytes"),
    "tail": _spec("n c lines bytes s sleep-interval pid"),
    "cockroach": _spec("e execute url host database d user u", aliases={"e": "execute"}),
    "snowsql": _spec(
        "q query a accountname u username d dbname f filename", aliases={"q": "query"}
    ),
    "bq": _spec("project_id location format"),
    "find": _spec(
        "name iname path ipath regex iregex type user group perm size mtime atime ctime "
        "newer maxdepth mindepth wholename iwholename samefile links inum fstype printf fprint",
        single_dash_long=True,
    ),
    "dd": _spec(key_value=True),
    "git": _spec(
        "C c git-dir work-tree namespace exec-path super-prefix config-env "
        "m message F file o push-option repo receive-pack exec "
        "set-upstream-to depth reference separate-git-dir origin template",
        aliases={
            "f": "force",
            "d": "delete",
            "D": "delete-force",
            "n": "dry-run",
            "q": "quiet",
        },
    ),
    "kubectl": _KUBECTL,
    "oc": _KUBECTL,
    "helm": _spec(
        "n namespace kube-context kubeconfig f values set set-string version timeout o output",
        aliases={"n": "namespace"},
    ),
    "terraform": _spec(
        "chdir var var-file target replace out state state-out backup lock-timeout parallelism",
        single_dash_long=True,
    ),
    "aws": _spec(
        "region profile output endpoint-url query cli-input-json color ca-bundle "
        "cli-read-timeout cli-connect-timeout include exclude acl storage-class "
        "instance-ids db-instance-identifier db-cluster-identifier table-name bucket key",
    ),
    "gcloud": _spec(
        "project zone region format account configuration impersonate-service-account "
        "verbosity filter",
    ),
    "gsutil": _spec("o h", aliases={"r": "recursive", "R": "recursive"}),
    "az": _spec(
        "n name g resource-group subscription o output query l location",
        aliases={"n": "name", "g": "resource-group", "y": "yes"},
    ),
    "psql": _spec(
        "c command f file d dbname h host p port U username v set variable o output "
        "P pset L log-file T table-attr F field-separator R record-separator",
        aliases={"c": "command", "f": "file", "d": "dbname"},
    ),
    "mysql": _spec(
        "e execute u user h host P port D database S socket",
        attached="p",
        aliases={"e": "execute", "D": "database"},
    ),
    "sqlite3": _spec("cmd separator nullvalue init"),
    "duckdb": _spec("c s init", aliases={"c": "command"}),
    "clickhouse-client": _spec(
        "q query h host port u user password d database", aliases={"q": "query"}
    ),
    "curl": _spec(
        "o output H header d data data-raw data-binary data-urlencode X request u user "
        "A user-agent e referer x proxy F form url T upload-file b cookie c cookie-jar "
        "m max-time connect-timeout retry w write-out K config E cert key cacert "
        "r range y speed-time Y speed-limit",
        aliases={"o": "output"},
    ),
    "wget": _spec(
        "O output-document o output-file P directory-prefix U user-agent header "
        "user password post-data post-file t tries T timeout",
        aliases={"O": "output-document"},
    ),
    "docker exec": _spec("u user w workdir e env env-file detach-keys", posix=True),
    "systemctl": _spec("H host M machine t type s signal p property"),
    "ssh": _spec("b c D E e F I i J L l m O o p Q R S W w B", posix=True),
    "xargs": _spec("I i n L l P d E e s a max-args max-procs delimiter", posix=True),
    "sudo": _spec("u g C D h p r t T U user group close-from chdir host prompt", posix=True),
    "doas": _spec("u C", posix=True),
    "env": _spec("u unset C chdir S split-string", posix=True),
    "timeout": _spec("s signal k kill-after", posix=True),
    "nice": _spec("n adjustment", posix=True),
    "ionice": _spec("c class n classdata p pid P pgid u uid", posix=True),
    "stdbuf": _spec("i input o output e error", posix=True),
    "chroot": _spec("userspec groups", posix=True),
    "flock": _spec("w timeout E conflict-exit-code c command", posix=True),
    "watch": _spec("n interval d differences", posix=True),
    "su": _spec("c command s shell g group G supp-group"),
    "nohup": _spec(posix=True),
    "setsid": _spec(posix=True),
    "command": _spec(posix=True),
    "builtin": _spec(posix=True),
    "exec": _spec("a", posix=True),
    "time": _spec("f format o output", posix=True),
    "unbuffer": _spec(posix=True),
    "busybox": _spec(posix=True),
}

_GENERIC = CommandSpec()
_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]([^}]*)\}\Z")


def command_name(word: str) -> str:
    """``/usr/bin/rm`` -> ``rm``; ``\\rm`` (alias bypass) -> ``rm``; ``mkfs.ext4`` stays.

    ``${VAR:-rm}`` is read as its default, ``rm``. Any other name computed at
    run time (``$(...)``, ``$CMD``) is kept whole.
    """
    default = _DEFAULTED.match(word)
    if default:
        word = default.group(1)
    if word.startswith("$") or "`" in word:
        return word
    return posixpath.basename(word.lstrip("\\")) or word


def spec_for(name: str) -> CommandSpec:
    if name in ("tofu", "terragrunt"):
        return SPECS["terraform"]
    if name in ("mariadb",):
        return SPECS["mysql"]
    return SPECS.get(name, _GENERIC)


def parse_args(words: tuple[str, ...] | list[str], spec: CommandSpec) -> ParsedArgs:
    """Split words (argv without argv[0]) into flags, option values and operands."""
    flags: set[str] = set()
    options: dict[str, list[str]] = {}
    operands: list[str] = []
    first_operand: int | None = None

    def record(name: str, value: str | None) -> None:
        names = (name, spec.aliases[name]) if name in spec.aliases else (name,)
        for each in names:
            flags.add(each)
            if value is not None:
                options.setdefault(each, []).append(value)

    i, n = 0, len(words)
    options_done = False
    while i < n:
        word = words[i]
        if options_done or word == "-" or not word.startswith("-") or len(word) == 1:
            if first_operand is None:
                first_operand = i
            if spec.posix:
                operands.extend(words[i:])
                break
            if spec.key_value_operands and "=" in word:
                key, _, value = word.partition("=")
                record(key, value)
            operands.append(word)
        elif word == "--":
            options_done = True
            if spec.posix:
                first_operand = i + 1 if i + 1 < n else None
                operands.extend(words[i + 1 :])
                break
        elif word.startswith("--") or spec.single_dash_long:
            name, eq, value = word.lstrip("-").partition("=")
            if eq:
                record(name, value)
            elif name in spec.value_options and i + 1 < n:
                record(name, words[i + 1])
                i += 1
            else:
                record(name, None)
        else:
            cluster = word[1:]
            for j, letter in enumerate(cluster):
                rest = cluster[j + 1 :]
                if letter in spec.attached_only:
                    record(letter, rest or None)
                    break
                if letter in spec.value_options:
                    if rest:
                        record(letter, rest.removeprefix("="))
                    elif i + 1 < n:
                        record(letter, words[i + 1])
                        i += 1
                    else:
                        record(letter, None)
                    break
                record(letter, None)
        i += 1
    return ParsedArgs(
        flags=frozenset(flags),
        options={k: tuple(v) for k, v in options.items()},
        operands=tuple(operands),
        first_operand=first_operand,
    )
