"""Scripted model servers on 127.0.0.1 for Codex CLI, Gemini CLI and aider, run for real offline.

One server speaks three wire formats, each from the path it is asked on:

- ``POST /v1/responses`` (OpenAI Responses API, streamed): Codex CLI with a custom
  ``model_providers`` entry whose ``base_url`` is :attr:`MockLLM.openai_url`;
- ``POST /v1beta/models/<model>:streamGenerateContent`` (and ``:generateContent``): Gemini CLI with
  ``GOOGLE_GEMINI_BASE_URL`` = :attr:`MockLLM.base_url`;
- ``POST /v1/chat/completions`` (streamed): aider (and opencode) with ``OPENAI_API_BASE``.

A test enqueues :class:`Text` and :class:`Shell` replies; each *main* request (one that carries
tools, or any chat completion) takes the next one, and side requests (Codex's thread title,
Gemini's helper calls) get a short text. Every request is recorded.

A :class:`Shell` reply is a shell-command call in each agent's own terms: Codex's
``exec_command`` asking for escalation (its approval dialog), Gemini's ``run_shell_command``, and
for aider (which has no tools) a fenced ``bash`` block, which aider offers to run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

SIDE_TEXT = "Mock title"
"""What a side request (title generation, helper calls) gets."""
FINAL_TEXT = "Done."
"""What a main request gets when the script is empty."""


@dataclass(frozen=True)
class Text:
    """A reply in text that ends the turn, streamed ``chunk_chars`` at a time."""

    text: str
    chunk_delay: float = 0.0
    """Seconds between two chunks: how long the agent shows it is working."""
    chunk_chars: int = 12
    first_delay: float = 0.0
    """Seconds before the first chunk."""
    usage: tuple[int, int] = (100, 20)
    """The input and output tokens the server reports for this reply."""


@dataclass(frozen=True)
class Shell:
    """A reply that asks to run a shell command (the agent's approval prompt follows)."""

    command: str
    text: str = "I'll run it."
    usage: tuple[int, int] = (100, 20)
    """The input and output tokens the server reports for this reply."""


Reply = Text | Shell


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    body: Any
    at: float


class MockLLM:
    """The scripted server, used as a context manager."""

    def __init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._lock = threading.Condition()
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self.gemini_model = "gemini-2.5-flash"

    def __enter__(self) -> MockLLM:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="mock-llm", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (Gemini's base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (Codex's provider ``base_url``, aider's API base)."""
        return f"{self.base_url}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next main requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Text(FINAL_TEXT)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def main_requests(self) -> list[Request]:
        """The requests that took a scripted reply."""
        with self._lock:
            return [r for r in self.requests if is_main(r)]

    def wait_main(self, count: int, timeout: float = 30.0) -> list[Request]:
        """Block until ``count`` main requests arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.requests if is_main(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"wanted {count} main requests, got {len(found)}")
                self._lock.wait(left)


def is_main(request: Request) -> bool:
    """Whether a request is a turn of the agent (it takes a scripted reply)."""
    route = request.path.split("?")[0]
    body = request.body if isinstance(request.body, dict) else {}
    if route.endswith("/chat/completions"):
        return True
    if route.endswith(("/responses", ":streamGenerateContent")):
        return bool(body.get("tools"))
    return False


def _handler(mock: MockLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        server_mock = mock

    return Handler


class _Handler(BaseHTTPRequestHandler):
    server_mock: MockLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def do_GET(self) -> None:
        self.server_mock.record(Request("GET", self.path, None, time.monotonic()))
        route = self.path.split("?")[0]
        if route.endswith("/models"):
            self._json({"object": "list", "data": [], "models": []})
        else:
            self._json({})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = Request("POST", self.path, body, time.monotonic())
        self.server_mock.record(request)
        route = self.path.split("?")[0]
        reply = self.server_mock.next_reply() if is_main(request) else Text(SIDE_TEXT)
        data = body if isinstance(body, dict) else {}
        if route.endswith("/responses"):
            self._stream(_responses_events(reply, data))
        elif route.endswith("/chat/completions"):
            if data.get("stream"):
                self._stream(_chat_events(reply, data))
            else:
                self._json(_chat_whole(reply, data))
        elif route.endswith(":streamGenerateContent"):
            self._stream(_gemini_events(reply))
        elif route.endswith(":generateContent"):
            self._json(_gemini_whole(SIDE_TEXT))
        elif route.endswith(":countTokens"):
            self._json({"totalTokens": 100})
        else:
            self._json({})

    def _json(self, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: Iterator[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for event, data in events:
                if event == "_sleep":
                    time.sleep(float(data))
                    continue
                text = data if isinstance(data, str) else json.dumps(data)
                head = f"event: {event}\n" if event else ""
                self.wfile.write(f"{head}data: {text}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            log.info("client hung up mid-stream")


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + max(1, size)] for i in range(0, len(text), max(1, size))] or [""]


def _paced(reply: Text) -> Iterator[tuple[str | None, Any]]:
    """The reply's chunks as ``(None, chunk)``, with ``_sleep`` pauses between."""
    if reply.first_delay:
        yield "_sleep", reply.first_delay
    for index, piece in enumerate(_chunks(reply.text, reply.chunk_chars)):
        if index and reply.chunk_delay:
            yield "_sleep", reply.chunk_delay
        yield None, piece


# -- Responses API (Codex) ----------------------------------------------------------------------


def _responses_events(reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    response_id = "resp_" + uuid.uuid4().hex[:16]
    model = body.get("model", "mock")
    yield "response.created", {"type": "response.created", "response": {"id": response_id}}
    text = reply if isinstance(reply, Text) else Text(reply.text)
    item_id = "msg_" + uuid.uuid4().hex[:16]
    message = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress"}
    yield (
        "response.output_item.added",
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "content": []},
        },
    )
    for event, piece in _paced(text):
        if event == "_sleep":
            yield event, piece
            continue
        yield (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": piece,
            },
        )
    content = [{"type": "output_text", "text": text.text, "annotations": []}]
    done: dict[str, Any] = {**message, "status": "completed", "content": content}
    yield (
        "response.output_item.done",
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": done,
        },
    )
    if isinstance(reply, Shell):
        arguments = {
            "cmd": reply.command,
            "sandbox_permissions": "require_escalated",
            "justification": "The tests need it.",
        }
        call = {
            "type": "function_call",
            "id": "fc_" + uuid.uuid4().hex[:16],
            "call_id": "call_" + uuid.uuid4().hex[:16],
            "name": "exec_command",
            "arguments": json.dumps(arguments),
            "status": "completed",
        }
        yield (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": call,
            },
        )
        yield (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "output_index": 1,
                "item": call,
            },
        )
    yield (
        "response.completed",
        {
            "type": "response.completed",
            "response": {
                "id": response_id,
                "model": model,
                "usage": {
                    "input_tokens": reply.usage[0],
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": reply.usage[1],
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": sum(reply.usage),
                },
            },
        },
    )


# -- Chat completions (aider, opencode) ---------------------------------------------------------


def _aider_text(reply: Reply) -> Text:
    if isinstance(reply, Text):
        return reply
    return Text(f"{reply.text}\n\n```bash\n{reply.command}\n```\n")


def _chat_events(reply: Reply, body: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    chat_id = "chatcmpl-" + uuid.uuid4().hex[:16]
    model = body.get("model", "mock")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield None, chunk({"role": "assistant", "content": ""})
    for event, piece in _paced(_aider_text(reply)):
        yield (event, piece) if event == "_sleep" else (None, chunk({"content": piece}))
    last = chunk({}, "stop")
    last["usage"] = _chat_usage(reply)
    yield None, last
    yield None, "[DONE]"


def _chat_usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


def _chat_whole(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:16],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "mock"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _aider_text(reply).text},
                "finish_reason": "stop",
            }
        ],
        "usage": _chat_usage(reply),
    }


# -- Gemini -------------------------------------------------------------------------------------


def _gemini_chunk(
    parts: list[dict[str, Any]], finish: str | None = None, usage: tuple[int, int] = (100, 20)
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1],
                          "totalTokenCount": sum(usage)},
    }  # fmt: skip


def _gemini_events(reply: Reply) -> Iterator[tuple[str | None, Any]]:
    if isinstance(reply, Shell):
        call = {"name": "run_shell_command",
                "args": {"command": reply.command, "description": reply.text}}  # fmt: skip
        yield None, _gemini_chunk([{"text": reply.text}], usage=reply.usage)
        yield None, _gemini_chunk([{"functionCall": call}], "STOP", reply.usage)
        return
    pieces = list(_paced(reply))
    last = max(i for i, (event, _) in enumerate(pieces) if event is None)
    for index, (event, piece) in enumerate(pieces):
        if event == "_sleep":
            yield event, piece
        else:
            yield (
                None,
                _gemini_chunk([{"text": piece}], "STOP" if index == last else None, reply.usage),
            )


def _gemini_whole(text: str) -> dict[str, Any]:
    return _gemini_chunk([{"text": text}], "STOP")
