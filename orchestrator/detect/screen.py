"""Screen rules: what the bottom of a pane says about its agent's state.

Rules are data, one TOML file per agent profile in ``rules/``. A screen is read from the bottom up:
the latest line that matches any rule decides; on the same line the state order
awaiting_input > error > working > idle breaks the tie. Old spinner lines above a newer prompt
therefore never count, and a menu under a spinner does.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from orchestrator.detect.model import State

PRIORITY = {State.AWAITING_INPUT: 0, State.ERROR: 1, State.WORKING: 2, State.IDLE: 3}


@dataclass(frozen=True)
class Rule:
    """One screen rule: a line pattern that stands for a state."""

    name: str
    state: State
    pattern: re.Pattern[str]
    reason: str
    context: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None
    """The rule does not count when this pattern is found on a line above the matched one
    (an agent whose idle footer stays on screen under its working marker)."""
    scope: re.Pattern[str] | None = None
    """With ``context``: the context must be on the nearest line above that matches this (e.g.
    the nearest spinner line), not just anywhere above."""
    outcome: bool = False
    """An outcome of the last turn (an error, an interrupt): read only above an idle match, up to
    the line that starts the turn; when found, it decides instead of the idle match."""
    settled: bool = False
    """Counts at once: an idle screen that says so needs no stillness."""
    specific: bool = False
    """Its reason says more than the hooks' (a retry, compaction, a subagent's task): it wins
    over a hook's reason for the same state."""
    last_line: bool = False
    """Counts only on the screen's last non-blank line: a prompt with text typed at it, not the
    same prompt echoed above the reply it was sent for."""


@dataclass(frozen=True)
class RuleSet:
    """The rules of one agent profile."""

    profile: str
    region: int
    rules: tuple[Rule, ...]
    turn_start: re.Pattern[str] | None = None
    """The line that starts a turn (the user's prompt, echoed): outcomes above it are older."""


@dataclass(frozen=True)
class ScreenMatch:
    """The rule that decided a screen, and the line it matched."""

    state: State
    rule: str
    reason: str
    line: str
    """The evidence: the screen line that matched."""
    row: int
    """Its row counted from the bottom of the region (0 = last non-blank line)."""
    settled: bool = False
    """Whether it counts at once (see :attr:`Rule.settled`)."""
    specific: bool = False
    """Whether its reason beats a hook's (see :attr:`Rule.specific`)."""


def parse_rules(profile: str, text: str) -> RuleSet:
    """Build a rule set from the TOML text of a rules file."""
    data = tomllib.loads(text)
    rules = []
    for entry in data.get("rules", []):
        state = State(entry["state"])
        if state not in PRIORITY:
            raise ValueError(f"rule {entry['name']!r}: screens can say only {list(PRIORITY)}")
        context, scope, unless = entry.get("context"), entry.get("scope"), entry.get("unless")
        rules.append(
            Rule(
                name=entry["name"],
                state=state,
                pattern=re.compile(entry["pattern"]),
                reason=entry.get("reason", "{0}"),
                context=re.compile(context) if context else None,
                unless=re.compile(unless) if unless else None,
                scope=re.compile(scope) if scope else None,
                outcome=bool(entry.get("outcome", False)),
                settled=bool(entry.get("settled", False)),
                specific=bool(entry.get("specific", False)),
                last_line=bool(entry.get("last_line", False)),
            )
        )
    rules.sort(key=lambda rule: PRIORITY[rule.state])
    start = data.get("turn_start")
    return RuleSet(
        profile=profile,
        region=int(data.get("region", 30)),
        rules=tuple(rules),
        turn_start=re.compile(start) if start else None,
    )


def bottom(screen: str, region: int) -> list[str]:
    """The last ``region`` lines of a screen, trailing blank lines and right padding removed."""
    lines = [line.rstrip() for line in screen.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines[-region:]


def classify(screen: str, rules: RuleSet) -> ScreenMatch | None:
    """The state the screen shows, or None when no rule matches."""
    lines = bottom(screen, rules.region)
    for row, index in enumerate(range(len(lines) - 1, -1, -1)):
        found = _match_line(rules, lines, index, row, outcomes=False)
        if found is None:
            continue
        if found.state == State.IDLE:
            return _outcome(rules, lines, index, row) or found
        return found
    return None


def _match_line(
    rules: RuleSet, lines: list[str], index: int, row: int, *, outcomes: bool
) -> ScreenMatch | None:
    line = lines[index]
    for rule in rules.rules:
        if rule.outcome != outcomes or (rule.last_line and row != 0):
            continue
        match = rule.pattern.search(line)
        if match is None:
            continue
        fields = _context(rule, lines, index)
        if fields is None:
            continue
        if rule.unless is not None and any(rule.unless.search(x) for x in lines[:index]):
            continue
        return ScreenMatch(
            state=rule.state,
            rule=rule.name,
            reason=_reason(rule, match, fields),
            line=line.strip(),
            row=row,
            settled=rule.settled,
            specific=rule.specific,
        )
    return None


def _outcome(rules: RuleSet, lines: list[str], index: int, row: int) -> ScreenMatch | None:
    """How the last turn ended, when an outcome rule says so above the idle line at ``index``."""
    for above in range(index, -1, -1):
        if above < index and rules.turn_start and rules.turn_start.search(lines[above]):
            return None
        found = _match_line(rules, lines, above, row + index - above, outcomes=True)
        if found is not None:
            return found
    return None


def _context(rule: Rule, lines: list[str], index: int) -> dict[str, str] | None:
    """The context fields of a rule at a line; None when the rule needs a context not there."""
    if rule.context is None:
        return {"context": "", "next": ""}
    for above in range(index - 1, -1, -1):
        found = rule.context.search(lines[above])
        if found:
            groups = [group or "" for group in found.groups()]
            context = (groups[0] if groups else found.group(0)).strip()
            following = [line.strip() for line in lines[above + 1 : index] if line.strip()]
            fields = {f"c{n}": group.strip() for n, group in enumerate(groups, 1)}
            return {"context": context, "next": following[0] if following else "", **fields}
        if rule.scope is not None and rule.scope.search(lines[above]):
            return None  # the nearest line in scope is not this rule's context
    return None


def _reason(rule: Rule, match: re.Match[str], fields: dict[str, str]) -> str:
    groups = [match.group(0).strip(), *(group or "" for group in match.groups())]
    try:
        text = rule.reason.format(*groups, **fields)
    except (IndexError, KeyError):
        text = rule.reason
    text = " ".join(text.split()).strip(" :")
    return text[:100] or rule.name
