"""A tiny MCP server on stdio whose one tool asks the user for input (an elicitation).

Claude Code starts it from ``--mcp-config``; calling its ``deploy`` tool (after Claude's own
permission prompt for an MCP tool) makes the server send ``elicitation/create`` to Claude, which
shows a dialog and waits for the user. Newline-delimited JSON-RPC 2.0, standard library only.

    python -m tests.harness.mcp_server
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NAME = "deployer"
"""The server's name, as Claude Code shows it (``mcp__deployer__deploy``)."""
QUESTION = "Which environment should I deploy to?"
"""The elicitation's message."""


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def config(python: str, path: Path) -> dict[str, Any]:
    """The ``--mcp-config`` document that starts this server."""
    root = str(Path(__file__).resolve().parents[2])
    return {
        "mcpServers": {
            NAME: {
                "command": python,
                "args": ["-m", "tests.harness.mcp_server"],
                "env": {"PYTHONPATH": root},
                "cwd": root,
            }
        }
    }


def main() -> None:
    pending_call: Any = None
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        method = message.get("method")
        ident = message.get("id")
        if method == "initialize":
            send(
                {
                    "jsonrpc": "2.0",
                    "id": ident,
                    "result": {
                        "protocolVersion": message["params"].get("protocolVersion", "2025-06-18"),
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": NAME, "version": "1.0"},
                    },
                }
            )
        elif method == "tools/list":
            tool = {
                "name": "deploy",
                "description": "Deploy the project; asks the user where.",
                "inputSchema": {"type": "object", "properties": {}},
            }
            send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [tool]}})
        elif method == "tools/call":
            pending_call = ident
            schema = {
                "type": "object",
                "properties": {"environment": {"type": "string", "enum": ["staging", "prod"]}},
                "required": ["environment"],
            }
            send(
                {
                    "jsonrpc": "2.0",
                    "id": "elicit-1",
                    "method": "elicitation/create",
                    "params": {"message": QUESTION, "requestedSchema": schema},
                }
            )
        elif ident == "elicit-1" and pending_call is not None:
            answer = json.dumps(message.get("result", message.get("error")))
            text = {"type": "text", "text": f"deploy answered: {answer}"}
            send({"jsonrpc": "2.0", "id": pending_call, "result": {"content": [text]}})
            pending_call = None
        elif ident is not None and method is not None:
            send({"jsonrpc": "2.0", "id": ident, "result": {}})


if __name__ == "__main__":
    main()
