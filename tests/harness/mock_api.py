"""A scripted Anthropic Messages API server for driving the real Claude Code CLI offline.

Claude Code streams every model call as server-sent events. This server answers on 127.0.0.1 only,
replays replies that a test enqueued for the *main* turns (requests that carry ``tools``), gives
side requests (title generation and the like) a short text, and records every request it receives
so a test can assert on what Claude sent.

Usage::

    with MockAnthropicAPI() as api:
        api.enqueue(TextReply("Hello from the mock."), bash_tool_use("npm test"))
        env = {"ANTHROPIC_BASE_URL": api.base_url, ...}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

MODEL = "claude-sonnet-4-5-20250929"
"""Model name echoed in every reply; Claude Code displays whatever the server says."""

DEFAULT_FINAL_TEXT = "Done."
"""What a main turn gets when the script is empty: a short text that ends the turn."""

SIDE_REQUEST_TEXT = "Mock session"
"""What a request without ``tools`` (title generation, summaries) gets."""

COMPACT_MARKER = "create a detailed summary of the conversation"
"""Words of Claude Code's compaction prompt (2.0 and 2.1), which mark a compaction request."""

COMPACT_SUMMARY = "<summary>The user asked for a few explanations; all were given.</summary>"


@dataclass(frozen=True)
class TextReply:
    """An assistant text reply that ends the turn.

    The text is streamed in chunks of ``chunk_chars`` characters with ``chunk_delay`` seconds
    between them, so ``len(text) / chunk_chars * chunk_delay`` is how long Claude shows "working".
    """

    text: str
    """The full text of the reply."""
    chunk_delay: float = 0.0
    """Seconds to sleep between two text deltas."""
    chunk_chars: int = 12
    """Characters per text delta."""
    first_delay: float = 0.0
    """Seconds to wait after ``message_start`` before the first content block."""


@dataclass(frozen=True)
class ToolUseReply:
    """An assistant reply that calls one tool (``stop_reason: tool_use``)."""

    name: str
    """Tool name as Claude Code lists it in the request's ``tools`` (``Bash``, ``Write``...)."""
    input: Mapping[str, Any]
    """The tool input; streamed as ``input_json_delta`` fragments."""
    text: str | None = None
    """Optional text block streamed before the tool call."""
    tool_use_id: str = field(default_factory=lambda: "toolu_" + uuid.uuid4().hex[:24])
    """The block id; Claude answers with a ``tool_result`` carrying the same id."""
    first_delay: float = 0.0
    """Seconds to wait after ``message_start`` before the first content block."""


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error instead of a reply: what the API answers when it is overloaded (529), rate
    limited (429), refuses the key (401) or the request (400), or fails (500).

    Claude Code retries some of them (529, 429, 5xx), each retry taking the next scripted reply;
    set :attr:`MockAnthropicAPI.failing` instead to fail every attempt until it is cleared.
    """

    status: int
    """The HTTP status."""
    error_type: str
    """The ``error.type`` of the body (``overloaded_error``, ``rate_limit_error``...)."""
    message: str
    """The ``error.message`` of the body."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers (``retry-after``, ``anthropic-ratelimit-unified-*``)."""


def usage_limit_error(resets_at: float) -> ErrorReply:
    """The answer of a subscription whose usage limit is reached until ``resets_at`` (epoch s)."""
    return ErrorReply(
        429,
        "rate_limit_error",
        "This request would exceed your account's rate limit. Please try again later.",
        {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(int(resets_at)),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "retry-after": str(max(1, int(resets_at - time.time()))),
        },
    )


Reply = TextReply | ToolUseReply | ErrorReply


def bash_tool_use(
    command: str = "npm test", description: str = "Run the test suite"
) -> ToolUseReply:
    """A ``Bash`` tool call, which opens Claude's permission prompt for an unapproved command."""
    return ToolUseReply(
        name="Bash",
        input={"command": command, "description": description},
        text="I'll run the tests.",
    )


def write_tool_use(
    file_path: str = "notes/plan.md", content: str = "# Plan\n\n- write the tests\n"
) -> ToolUseReply:
    """A ``Write`` tool call, which opens Claude's file-creation permission prompt.

    A relative ``file_path`` is sent as given; Claude resolves it against its working directory.
    """
    return ToolUseReply(
        name="Write",
        input={"file_path": file_path, "content": content},
        text="I'll write the plan.",
    )


def ask_user_question_tool_use(
    question: str = "Which database should the service use?",
    header: str = "Database",
    options: Sequence[tuple[str, str]] = (
        ("PostgreSQL", "Relational, strong consistency"),
        ("SQLite", "A single file, no server"),
    ),
    multi_select: bool = False,
) -> ToolUseReply:
    """An ``AskUserQuestion`` tool call, which shows Claude's question menu.

    The input follows the schema Claude Code 2.1.197 sends in its tool list (see
    ``tests/hook-samples/claude-2.1.197/tools-AskUserQuestion.json``): a list of 1-4 questions,
    each with a ``header`` of at most 12 characters and 2-4 options.
    """
    return ToolUseReply(
        name="AskUserQuestion",
        input={
            "questions": [
                {
                    "question": question,
                    "header": header,
                    "options": [{"label": label, "description": desc} for label, desc in options],
                    "multiSelect": multi_select,
                }
            ]
        },
    )


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the server received."""

    method: str
    """HTTP method."""
    path: str
    """Request path including the query string."""
    headers: Mapping[str, str]
    """Request headers (last value wins)."""
    body: Any
    """The JSON-decoded body, or ``None`` when there was none or it was not JSON."""
    received_at: float
    """``time.monotonic()`` when the request arrived."""

    @property
    def is_messages(self) -> bool:
        """True for ``POST /v1/messages`` (not ``count_tokens``)."""
        return self.method == "POST" and self.path.split("?")[0] == "/v1/messages"

    @property
    def is_main_turn(self) -> bool:
        """True for a Messages request that carries ``tools``: a turn of the main agent loop."""
        return self.is_messages and isinstance(self.body, dict) and bool(self.body.get("tools"))

    def system_text(self) -> str:
        """The request's system prompt as one string (its text blocks joined)."""
        if not isinstance(self.body, dict):
            return ""
        system = self.body.get("system")
        if isinstance(system, str):
            return system
        if isinstance(system, list):
            return "\n".join(
                str(block.get("text", "")) for block in system if isinstance(block, dict)
            )
        return ""

    @property
    def is_compaction(self) -> bool:
        """True for the request that summarises the conversation (``/compact``, automatic)."""
        return self.is_messages and any(COMPACT_MARKER in text for text in self.user_texts())

    def user_texts(self) -> list[str]:
        """Every text the request's ``messages`` carry from the user role, in order."""
        if not isinstance(self.body, dict):
            return []
        texts: list[str] = []
        for message in self.body.get("messages", []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(
                    block.get("text", "")
                    for block in content
                    if isinstance(block, dict) and block.get("type") == "text"
                )
        return texts


class MockAnthropicAPI:
    """A Messages API server on ``127.0.0.1:<ephemeral port>``, used as a context manager."""

    def __init__(
        self,
        final_text: str = DEFAULT_FINAL_TEXT,
        side_text: str = SIDE_REQUEST_TEXT,
    ) -> None:
        self.final_text = final_text
        self.side_text = side_text
        self.compaction_reply: Reply = TextReply(COMPACT_SUMMARY)
        """What a compaction request (``/compact``, or automatic) gets: slow it down to see
        Claude's "Compacting conversation" screen."""
        self.failing: ErrorReply | None = None
        """While set, every main-turn request gets this error (however often Claude retries),
        and the script waits."""
        self._script: deque[Reply] = deque()
        self._routed: dict[str, deque[Reply]] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._usage: dict[str, dict[str, int]] = {}

    # Lifecycle

    def start(self) -> MockAnthropicAPI:
        """Bind to an ephemeral loopback port and serve in a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="mock-anthropic-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MockAnthropicAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("MockAnthropicAPI is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The value for ``ANTHROPIC_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}"

    # Script

    def enqueue(self, *replies: Reply) -> None:
        """Append replies for the next main turns, in order (one reply per request with tools)."""
        with self._lock:
            self._script.extend(replies)

    def enqueue_for(self, needle: str, *replies: Reply) -> None:
        """Append replies for the next main turns whose system prompt contains ``needle``.

        With several Claude sessions on one server, this scripts each one apart (e.g. by the
        ``You are "dev-1"`` its role text starts with); they win over :meth:`enqueue`'s replies.
        """
        with self._lock:
            self._routed.setdefault(needle, deque()).extend(replies)

    def clear_script(self) -> None:
        """Drop the replies not served yet (a case that ended before using them all)."""
        with self._lock:
            self._script.clear()
            self._routed.clear()

    def pending(self) -> int:
        """How many scripted replies have not been served yet."""
        with self._lock:
            return len(self._script) + sum(len(q) for q in self._routed.values())

    def _next_main_reply(self, request: RecordedRequest | None = None) -> Reply:
        system = request.system_text() if request is not None else ""
        with self._lock:
            if self.failing is not None:
                return self.failing
            for needle, queue in self._routed.items():
                if queue and needle in system:
                    return queue.popleft()
            if self._script:
                return self._script.popleft()
        return TextReply(self.final_text)

    # Recorded traffic

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def main_turn_requests(self) -> list[RecordedRequest]:
        """The ``/v1/messages`` requests that carried ``tools``."""
        return [r for r in self.requests if r.is_main_turn]

    def wait_for_main_turns(self, count: int, timeout: float = 30.0) -> list[RecordedRequest]:
        """Block until at least ``count`` main-turn requests arrived; raise ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [r for r in self._requests if r.is_main_turn]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {count} main-turn requests, got {len(found)} in {timeout}s"
                    )
                self._arrived.wait(remaining)

    def reported_usage(self) -> dict[str, dict[str, int]]:
        """The usage each reply reported, by message id: the ``message_start`` usage with the
        final ``output_tokens`` of its ``message_delta`` (or the whole message's usage)."""
        with self._lock:
            return {key: dict(value) for key, value in self._usage.items()}

    def _note_usage(self, message_id: str, usage: Mapping[str, Any]) -> None:
        with self._lock:
            self._usage.setdefault(message_id, {}).update(
                {k: v for k, v in usage.items() if isinstance(v, int)}
            )

    def _record(self, request: RecordedRequest) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()


def _make_handler(api: MockAnthropicAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(_MessagesHandler):
        mock = api

    return Handler


class _MessagesHandler(BaseHTTPRequestHandler):
    mock: MockAnthropicAPI
    protocol_version = "HTTP/1.1"
    server_version = "MockAnthropicAPI/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # Dispatch

    def do_HEAD(self) -> None:
        self._record(None)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._record(None)
        self._send_json(200, {"ok": True})

    def do_POST(self) -> None:
        body = self._read_json()
        request = self._record(body)
        route = self.path.split("?")[0]
        if route == "/v1/messages/count_tokens":
            self._send_json(200, {"input_tokens": 1000})
        elif route == "/v1/messages":
            self._answer_messages(request)
        else:
            log.info("unhandled POST %s", self.path)
            self._send_json(200, {"ok": True})

    do_PUT = do_POST
    do_PATCH = do_POST

    def do_DELETE(self) -> None:
        self._record(None)
        self._send_json(200, {"ok": True})

    # Helpers

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _record(self, body: Any) -> RecordedRequest:
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=dict(self.headers.items()),
            body=body,
            received_at=time.monotonic(),
        )
        self.mock._record(request)
        return request

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer_messages(self, request: RecordedRequest) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        if request.is_compaction:
            reply = self.mock.compaction_reply
        elif request.is_main_turn:
            reply = _tool_named_as_offered(self.mock._next_main_reply(request), body)
        else:
            reply = TextReply(self.mock.side_text)
        if isinstance(reply, ErrorReply):
            payload = {
                "type": "error",
                "error": {"type": reply.error_type, "message": reply.message},
            }
            raw = json.dumps(payload).encode()
            self.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        if not body.get("stream"):
            whole = _whole_message(reply, body)
            self.mock._note_usage(whole["id"], whole["usage"])
            self._send_json(200, whole)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        message_id = ""
        try:
            for event, data in _stream_events(reply, body):
                if event == "_sleep":
                    time.sleep(float(data["seconds"]))
                    continue
                if event == "message_start":
                    message_id = str(data["message"]["id"])
                    self.mock._note_usage(message_id, data["message"]["usage"])
                elif event == "message_delta":
                    self.mock._note_usage(message_id, data["usage"])
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            log.info("client hung up mid-stream (interrupted turn)")


TOOL_ALIASES = {"Agent": "Task"}
"""Tools renamed between Claude Code releases (the subagent tool was ``Task`` before 2.1)."""


def _tool_named_as_offered(reply: Reply, body: Mapping[str, Any]) -> Reply:
    """The reply, its tool renamed to the older name when the request offers only that one."""
    if not isinstance(reply, ToolUseReply) or reply.name not in TOOL_ALIASES:
        return reply
    offered = {tool.get("name") for tool in body.get("tools", []) if isinstance(tool, dict)}
    if reply.name in offered or TOOL_ALIASES[reply.name] not in offered:
        return reply
    return dataclasses.replace(reply, name=TOOL_ALIASES[reply.name])


def _message_id() -> str:
    return "msg_" + uuid.uuid4().hex[:24]


def _input_tokens(body: Mapping[str, Any]) -> int:
    return max(1, len(json.dumps(body.get("messages", []))) // 4)


def _whole_message(reply: TextReply | ToolUseReply, body: Mapping[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(reply, TextReply):
        content.append({"type": "text", "text": reply.text})
        stop_reason = "end_turn"
    else:
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content.append(
            {"type": "tool_use", "id": reply.tool_use_id, "name": reply.name, "input": reply.input}
        )
        stop_reason = "tool_use"
    return {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", MODEL),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": _input_tokens(body), "output_tokens": 20},
    }


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), max(1, size)):
        yield text[start : start + size]


def _content_block(
    index: int, block: dict[str, Any], deltas: Sequence[dict[str, Any]], delay: float = 0.0
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One content block's events: its start, a delta each (after ``delay`` s), its stop."""
    yield (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )
    for delta in deltas:
        if delay:
            yield "_sleep", {"seconds": delay}
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _stream_events(
    reply: TextReply | ToolUseReply, body: Mapping[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events for one reply; ``("_sleep", {"seconds": s})`` marks a pause."""
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": _message_id(),
                "type": "message",
                "role": "assistant",
                "model": body.get("model", MODEL),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": _input_tokens(body),
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                },
            },
        },
    )
    if reply.first_delay:
        yield "_sleep", {"seconds": reply.first_delay}
    output_tokens = 0
    index = 0
    text = reply.text
    chunk_chars = reply.chunk_chars if isinstance(reply, TextReply) else 12
    chunk_delay = reply.chunk_delay if isinstance(reply, TextReply) else 0.0
    if text:
        deltas = [{"type": "text_delta", "text": piece} for piece in _chunks(text, chunk_chars)]
        output_tokens += len(deltas)
        yield from _content_block(index, {"type": "text", "text": ""}, deltas, chunk_delay)
        index += 1
    stop_reason = "end_turn"
    if isinstance(reply, ToolUseReply):
        stop_reason = "tool_use"
        block = {"type": "tool_use", "id": reply.tool_use_id, "name": reply.name, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _chunks(json.dumps(reply.input), 24)
        ]
        output_tokens += len(deltas)
        yield from _content_block(index, block, deltas)
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": max(1, output_tokens)},
        },
    )
    yield "message_stop", {"type": "message_stop"}
