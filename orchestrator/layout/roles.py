"""What an agent is told about its place in the fleet: the text appended to its system prompt.

Each session learns which session it is, its role, and the fleet's other sessions and their roles,
so it stays in its lane; a layout can turn this off (``tell_role = false``) and add its own text
(``instructions``). The agent profile decides how the text reaches the agent (Claude:
``--append-system-prompt``).
"""

from __future__ import annotations

from collections.abc import Iterable


def role_prompt(
    fleet: str,
    name: str,
    role: str,
    others: Iterable[tuple[str, str]],
    *,
    tell_role: bool = True,
    instructions: str = "",
) -> str:
    """The text for session ``name``; ``others`` are the fleet's other sessions as (name, role)."""
    parts: list[str] = []
    if tell_role:
        lines = [f'You are "{name}", one session of the agent fleet "{fleet}".']
        lines.append(f"Your role: {role}" if role.strip() else "You have no role set.")
        listed = [f"- {other}: {text or 'no role set'}" for other, text in others if other != name]
        if listed:
            lines.append("The fleet's other sessions and their roles:")
            lines += listed
            lines.append(
                "Stay in your lane: do the work of your role, and leave the other roles' work "
                "to those sessions."
            )
        parts.append("\n".join(lines))
    if instructions.strip():
        parts.append(instructions.strip())
    return "\n\n".join(parts)
