"""Merging the hosts' parts into the report here (no ssh: the hosts' answers are given)."""

from __future__ import annotations

from typing import Any

from orchestrator.remote.report import HostReport, merge, render
from orchestrator.report.analysis import attention_of


def _entry(name: str, waits: list[float]) -> dict[str, Any]:
    return {
        "fleet": "f",
        "name": name,
        "start": "2026-12-01T10:00:00",
        "hours": 0.5,
        "outcome": "completed",
        "waits": [{"start": "2026-12-01T10:05:00", "seconds": s} for s in waits],
    }


def test_hosts_rows_name_their_host_attention_counts_every_wait_and_missing_is_said() -> None:
    data: dict[str, Any] = {"list": [_entry("here", [10.0])], "attention": {}}
    there = {"list": [_entry("there", [400.0, 20.0])], "attention": attention_of([400.0, 20.0])}
    missing = merge(
        data,
        [
            HostReport("f", "box", there),
            HostReport("f", "gone", None, "unreachable: Connection refused"),
        ],
    )
    assert missing == ["host gone (fleet f) unreachable: Connection refused"]
    assert data["list"][0]["host"] is None
    box, gone = data["hosts"]
    assert [row["host"] for row in box["list"]] == ["box"] and box["sessions"] == 1
    assert gone == {"fleet": "f", "host": "gone", "error": "unreachable: Connection refused"}
    every = data["everywhere"]["attention"]
    assert (every["waits"], every["median_response_seconds"], every["forgotten"]) == (3, 20.0, 1)
    text = render(data)
    assert "f/there@box" in text and "MISSING from this report: host gone" in text


def test_a_report_without_hosts_is_left_as_it_was() -> None:
    data: dict[str, Any] = {"list": [], "attention": {}}
    assert merge(data, []) == [] and "hosts" not in data and render(data) == ""
