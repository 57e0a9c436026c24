"""Guardrails: decide what a tool call will do before the agent gets to run it.

The model asks the agent to run a tool; Warden sees the call in the response
stream first. The flow, one tool call at a time:

1. **Buffer** (:class:`GuardrailInspector`): the ``TOOL_INPUT`` channel's
   argument deltas are held until the call is complete, so nothing leaves
   before the verdict and chunking cannot change it.
2. **Extract** (:mod:`.extract`): a table maps the tool name (Claude Code
   ``Bash``/``Write``/``Edit``..., Codex ``shell``/``exec_command``/
   ``apply_patch``, MCP and generic tools) to the argument fields that hold a
   shell command, SQL, a file path and content, or a URL.
3. **Analyse** into facts (:mod:`.model`): shell scripts are parsed with
   bashlex behind a sanitising lexer (:mod:`.shell_lex`, :mod:`.shell`) into
   simple commands, with ``sudo``/``env``/``xargs`` peeled off and
   ``bash -c``/``eval``/``ssh`` code analysed recursively
   (:mod:`.shell_semantics`); argv is parsed the way each command parses it
   (:mod:`.commands`); SQL, also inside ``psql -c``, with sqlglot
   (:mod:`.sql`); redirections, ``tee``, ``cp`` and ``apply_patch`` bodies
   become file writes. What cannot be parsed becomes a problem, never an
   allow.
4. **Match** (:mod:`.rules`, :mod:`.match`): a pack of rules (YAML, validated)
   is matched against the facts; file-write content goes through the
   optional ``secret_scanner`` first.
5. **Decide** (:class:`GuardEngine`): deny over review over mask over allow;
   the verdict carries pipeline :class:`~warden.pipeline.types.Decision`
   values (deny -> ``DENY``, review -> ``HOLD``, mask -> ``REWRITE``, allow ->
   ``PASS``), a message naming the rule, and the (possibly masked) arguments.

``packs/default.yaml`` is the default pack; ``docs/guardrails.md`` documents
the rule language and every default rule.
"""

from warden.guard.engine import Finding, GuardEngine, GuardVerdict, Masker, SecretScanner
from warden.guard.extract import DEFAULT_TOOLS, TargetKind, ToolSpec
from warden.guard.inspector import GuardrailInspector, ToolInputGuard
from warden.guard.loader import DEFAULT_PACK, PackError, load_pack, pack_from_yaml
from warden.guard.model import Action, Analysis, FactKind, Problem, ProblemCode, Severity
from warden.guard.rules import Condition, Pack, Rule, Settings

__all__ = [
    "DEFAULT_PACK",
    "DEFAULT_TOOLS",
    "Action",
    "Analysis",
    "Condition",
    "FactKind",
    "Finding",
    "GuardEngine",
    "GuardVerdict",
    "GuardrailInspector",
    "Masker",
    "Pack",
    "PackError",
    "Problem",
    "ProblemCode",
    "Rule",
    "SecretScanner",
    "Settings",
    "Severity",
    "TargetKind",
    "ToolInputGuard",
    "ToolSpec",
    "load_pack",
    "pack_from_yaml",
]
