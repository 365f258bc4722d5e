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


@dataclass(frozen=True)
class RuleSet:
    """The rules of one agent profile."""

    profile: str
    region: int
    rules: tuple[Rule, ...]


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


def parse_rules(profile: str, text: str) -> RuleSet:
    """Build a rule set from the TOML text of a rules file."""
    data = tomllib.loads(text)
    rules = []
    for entry in data.get("rules", []):
        state = State(entry["state"])
        if state not in PRIORITY:
            raise ValueError(f"rule {entry['name']!r}: screens can say only {list(PRIORITY)}")
        context = entry.get("context")
        unless = entry.get("unless")
        rules.append(
            Rule(
                name=entry["name"],
                state=state,
                pattern=re.compile(entry["pattern"]),
                reason=entry.get("reason", "{0}"),
                context=re.compile(context) if context else None,
                unless=re.compile(unless) if unless else None,
            )
        )
    rules.sort(key=lambda rule: PRIORITY[rule.state])
    return RuleSet(profile=profile, region=int(data.get("region", 30)), rules=tuple(rules))


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
        line = lines[index]
        for rule in rules.rules:
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
            )
    return None


def _context(rule: Rule, lines: list[str], index: int) -> dict[str, str] | None:
    """The context fields of a rule at a line; None when the rule needs a context not there."""
    if rule.context is None:
        return {"context": "", "next": ""}
    for above in range(index - 1, -1, -1):
        found = rule.context.search(lines[above])
        if found:
            context = (found.group(1) if found.groups() else found.group(0)).strip()
            following = [line.strip() for line in lines[above + 1 : index] if line.strip()]
            return {"context": context, "next": following[0] if following else ""}
    return None


def _reason(rule: Rule, match: re.Match[str], fields: dict[str, str]) -> str:
    groups = [match.group(0).strip(), *(group or "" for group in match.groups())]
    try:
        text = rule.reason.format(*groups, **fields)
    except (IndexError, KeyError):
        text = rule.reason
    text = " ".join(text.split()).strip(" :")
    return text[:100] or rule.name
