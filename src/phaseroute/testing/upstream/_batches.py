"""The two batch APIs on the local upstream: Anthropic Message Batches and OpenAI Batch
(with Files). Requests in a batch meet the same per-model behaviour as live ones (scripts,
faults, replies); a batch stays in progress for the upstream's `batch_polls` status reads,
then ends. `OutcomeKind.EXPIRED` expires one request; `Upstream.expire_batch` expires what
is left of a whole batch; cancel cancels what has not been processed.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from phaseroute.testing.upstream._answer import dumps

# One request's result, as the provider writes it: ("succeeded", body) | ("errored",
# (status, body)) | ("expired", None) | ("canceled", None).
Result = tuple[str, Any]
Processor = Callable[[str, Mapping[str, Any]], Result]


@dataclass
class Batch:
    """One batch in either API."""

    id: str
    api: Literal["anthropic", "openai"]
    requests: list[tuple[str, Mapping[str, Any]]]  # (custom_id, body)
    created: float
    polls_left: int
    input_file_id: str | None = None
    results: dict[str, Result] = field(default_factory=dict)
    state: Literal["in_progress", "ended", "canceled", "expired"] = "in_progress"
    output_file_id: str | None = None
    error_file_id: str | None = None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


class BatchStore:
    """The upstream's batches and files; thread-safe."""

    def __init__(self, polls: int) -> None:
        self._polls = polls
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}
        self._files: dict[str, bytes] = {}

    # ------------------------------------------------------------------ shared

    def _finish(self, batch: Batch, process: Processor, end: str) -> None:
        """Give every request without a result one: processed, or `end` (expired/canceled)."""
        for custom_id, body in batch.requests:
            if custom_id in batch.results:
                continue
            batch.results[custom_id] = (end, None) if end != "process" else process(custom_id, body)

    def _advance(self, batch: Batch, process: Processor) -> None:
        if batch.state != "in_progress":
            return
        if batch.polls_left > 0:
            batch.polls_left -= 1
            return
        self._finish(batch, process, "process")
        batch.state = "ended"
        if batch.api == "openai":
            self._write_openai_files(batch)

    def ids(self) -> list[str]:
        """Every batch created, oldest first."""
        with self._lock:
            return list(self._batches)

    def get(self, batch_id: str) -> Batch | None:
        with self._lock:
            return self._batches.get(batch_id)

    def expire(self, batch_id: str, process: Processor) -> None:
        with self._lock:
            batch = self._batches[batch_id]
            self._finish(batch, process, "expired")
            batch.state = "expired"
            if batch.api == "openai":
                self._write_openai_files(batch)

    def cancel(self, batch_id: str, process: Processor) -> Batch | None:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                return None
            if batch.state == "in_progress":
                self._finish(batch, process, "canceled")
                batch.state = "canceled"
                if batch.api == "openai":
                    self._write_openai_files(batch)
            return batch

    def poll(self, batch_id: str, process: Processor) -> Batch | None:
        with self._lock:
            batch = self._batches.get(batch_id)
            if batch is not None:
                self._advance(batch, process)
            return batch

    # ------------------------------------------------------------------ anthropic

    def create_anthropic(self, body: Mapping[str, Any]) -> Batch | str:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return "requests: at least one request is required"
        items: list[tuple[str, Mapping[str, Any]]] = []
        for i, r in enumerate(requests):
            if not isinstance(r, Mapping) or "custom_id" not in r or "params" not in r:
                return f"requests.{i}: custom_id and params are required"
            items.append((str(r["custom_id"]), r["params"]))
        if len({c for c, _ in items}) != len(items):
            return "requests: custom_id values must be unique"
        batch = Batch(
            "msgbatch_" + uuid.uuid4().hex[:24], "anthropic", items, time.time(), self._polls
        )
        with self._lock:
            self._batches[batch.id] = batch
        return batch

    @staticmethod
    def anthropic_json(batch: Batch, base_url: str) -> bytes:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for custom_id, _ in batch.requests:
            kind = batch.results.get(custom_id, ("processing", None))[0]
            counts[kind] += 1
        ended = batch.state != "in_progress"
        return dumps(
            {
                "id": batch.id,
                "type": "message_batch",
                "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts,
                "created_at": _iso(batch.created),
                "expires_at": _iso(batch.created + 86400),
                "ended_at": _iso(time.time()) if ended else None,
                "cancel_initiated_at": _iso(time.time()) if batch.state == "canceled" else None,
                "archived_at": None,
                "results_url": f"{base_url}/v1/messages/batches/{batch.id}/results"
                if ended
                else None,
            }
        )

    @staticmethod
    def anthropic_results(batch: Batch) -> bytes:
        lines = []
        for custom_id, _ in batch.requests:
            kind, value = batch.results[custom_id]
            if kind == "succeeded":
                result: dict[str, Any] = {"type": "succeeded", "message": value}
            elif kind == "errored":
                result = {"type": "errored", "error": value[1]}
            else:
                result = {"type": kind}
            lines.append(json.dumps({"custom_id": custom_id, "result": result}))
        return ("\n".join(lines) + "\n").encode()

    # ------------------------------------------------------------------ openai

    def add_file(self, content: bytes) -> str:
        file_id = "file-" + uuid.uuid4().hex[:24]
        with self._lock:
            self._files[file_id] = content
        return file_id

    def file(self, file_id: str) -> bytes | None:
        with self._lock:
            return self._files.get(file_id)

    def create_openai(self, body: Mapping[str, Any]) -> Batch | str:
        file_id = body.get("input_file_id")
        if body.get("endpoint") != "/v1/chat/completions":
            return "endpoint: only /v1/chat/completions is supported here"
        content = self.file(str(file_id))
        if content is None:
            return f"input_file_id: no file {file_id!r}"
        items: list[tuple[str, Mapping[str, Any]]] = []
        for n, line in enumerate(content.decode().splitlines()):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("url") != "/v1/chat/completions" or "custom_id" not in row:
                return f"line {n + 1}: custom_id and url /v1/chat/completions are required"
            items.append((str(row["custom_id"]), row.get("body") or {}))
        if not items:
            return "the input file has no requests"
        batch = Batch("batch_" + uuid.uuid4().hex[:24], "openai", items, time.time(), self._polls)
        batch.input_file_id = str(file_id)
        with self._lock:
            self._batches[batch.id] = batch
        return batch

    def _write_openai_files(self, batch: Batch) -> None:
        """Called with the lock held: successes to the output file, the rest to the errors."""
        out, errors = [], []
        for custom_id, _ in batch.requests:
            kind, value = batch.results[custom_id]
            line_id = "batch_req_" + uuid.uuid4().hex[:24]
            if kind == "succeeded":
                response = {"status_code": 200, "request_id": line_id, "body": value}
                out.append(
                    {"id": line_id, "custom_id": custom_id, "response": response, "error": None}
                )
            elif kind == "errored":
                status, body = value
                response = {"status_code": status, "request_id": line_id, "body": body}
                errors.append(
                    {"id": line_id, "custom_id": custom_id, "response": response, "error": None}
                )
            else:
                code = "batch_expired" if kind == "expired" else "batch_cancelled"
                error = {"code": code, "message": f"This request was not executed: {code}."}
                errors.append(
                    {"id": line_id, "custom_id": custom_id, "response": None, "error": error}
                )
        for rows, attr in ((out, "output_file_id"), (errors, "error_file_id")):
            if rows:
                file_id = "file-" + uuid.uuid4().hex[:24]
                self._files[file_id] = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
                setattr(batch, attr, file_id)

    @staticmethod
    def openai_json(batch: Batch) -> bytes:
        done = sum(1 for k, _ in batch.results.values() if k == "succeeded")
        failed = sum(1 for k, _ in batch.results.values() if k != "succeeded")
        status = {
            "in_progress": "in_progress",
            "ended": "completed",
            "canceled": "cancelled",
            "expired": "expired",
        }[batch.state]
        now = int(time.time())
        return dumps(
            {
                "id": batch.id,
                "object": "batch",
                "endpoint": "/v1/chat/completions",
                "errors": None,
                "input_file_id": batch.input_file_id,
                "completion_window": "24h",
                "status": status,
                "output_file_id": batch.output_file_id,
                "error_file_id": batch.error_file_id,
                "created_at": int(batch.created),
                "in_progress_at": int(batch.created),
                "expires_at": int(batch.created + timedelta(hours=24).total_seconds()),
                "completed_at": now if status == "completed" else None,
                "cancelled_at": now if status == "cancelled" else None,
                "expired_at": now if status == "expired" else None,
                "request_counts": {
                    "total": len(batch.requests),
                    "completed": done,
                    "failed": failed,
                },
                "metadata": None,
            }
        )
