"""Content-addressed response cache in the project database: re-measuring costs no calls.

The key is the SHA-256 of the RFC 8785 canonical JSON of the request (the model id, the
messages, the system prompt, every sampling parameter and the caller's metadata), so any
change to what would be sent is a different key, and nothing else is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from sqlalchemy import Connection, Engine, column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from phaseroute.errors import StorageError
from phaseroute.measure._scorers import ModelCaller
from phaseroute.policy._plan import RoutingPlan
from phaseroute.providers._base import CompletionRequest, CompletionResponse, Usage
from phaseroute.storage.database import DEFAULT_DATABASE, Migration, migrate
from phaseroute.wire import anthropic as wire

COMPONENT = "cache"


def _create(conn: Connection) -> None:
    conn.execute(
        text(
            "CREATE TABLE response_cache ("
            " key VARCHAR(64) PRIMARY KEY,"
            " model_id VARCHAR(300) NOT NULL,"
            " response TEXT NOT NULL,"
            " created_at VARCHAR(40) NOT NULL)"
        )
    )


MIGRATIONS = (Migration(1, "response_cache table", _create),)

_TABLE = table(
    "response_cache", column("key"), column("model_id"), column("response"), column("created_at")
)


def cache_location(plan: RoutingPlan, database: str | Path | None = None) -> str | Path:
    """The cache's database: given, else the policy's ``database``, else beside the policy.

    The same rule the router uses for its ledger, so one project keeps one database.
    """
    location: str | Path = database or plan.policy.database or DEFAULT_DATABASE
    if isinstance(location, str) and "://" in location:
        return location
    path = Path(location).expanduser()
    return path if path.is_absolute() else plan.base_dir / path


def cache_key(request: CompletionRequest) -> str:
    """SHA-256 of the canonical request: same request to the same model id, same key."""
    doc: dict[str, Any] = {
        "model": request.model,
        "messages": [[m.role, wire.content_to_wire(m.content)] for m in request.messages],
        "system": wire.content_to_wire(request.system),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": list(request.stop),
        "metadata": dict(sorted(request.metadata.items())),
    }
    # Only present when used, so the keys of plain text requests stay what they were.
    if request.tools:
        doc["tools"] = [wire.tool_to_wire(t) for t in request.tools]
    if request.tool_choice is not None:
        doc["tool_choice"] = wire.tool_choice_to_wire(request.tool_choice)
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def _encode(response: CompletionResponse) -> str:
    data = dataclasses.asdict(replace(response, content=(), native=None))
    data["content"] = [wire.block_to_wire(b) for b in response.content]
    del data["native"]
    return json.dumps(data, sort_keys=True)


def _decode(raw: str) -> CompletionResponse:
    data = json.loads(raw)
    data["usage"] = Usage(**data["usage"])
    blocks = (wire.response_block_from_wire(b) for b in data.pop("content", ()))
    data["content"] = tuple(b for b in blocks if b is not None)
    return CompletionResponse(**data)


class ResponseCache:
    """Stored complete responses, keyed by `cache_key`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        migrate(engine, COMPONENT, MIGRATIONS)

    def get(self, key: str) -> CompletionResponse | None:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(_TABLE.c.response).where(_TABLE.c.key == key)
                ).scalar_one_or_none()
        except SQLAlchemyError as e:
            raise StorageError(f"could not read the response cache: {e}") from e
        return None if row is None else _decode(row)

    def put(self, key: str, response: CompletionResponse) -> None:
        values = {
            "key": key,
            "model_id": response.model_requested,
            "response": _encode(response),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    stmt: Any = postgresql.insert(_TABLE).values(values)
                else:
                    stmt = sqlite.insert(_TABLE).values(values)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        except SQLAlchemyError as e:
            raise StorageError(f"could not write the response cache: {e}") from e

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM response_cache")).scalar_one())


class CachedCaller:
    """Answers from the cache when it can; otherwise calls through and stores the answer.

    Only complete answers are stored. `hits` and `misses` count this caller's lookups.
    """

    def __init__(self, caller: ModelCaller, cache: ResponseCache) -> None:
        self.caller = caller
        self.cache = cache
        self.hits = 0
        self.misses = 0

    def call_model(
        self, model_name: str, request: CompletionRequest, *, purpose: str
    ) -> CompletionResponse:
        key = cache_key(request)
        found = self.cache.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        response = self.caller.call_model(model_name, request, purpose=purpose)
        if response.complete:
            self.cache.put(key, response)
        return response

    def call_many(
        self, model_name: str, requests: Sequence[CompletionRequest], *, purpose: str
    ) -> list[CompletionResponse]:
        """Many calls of one model: cached answers first, the rest in one `call_many` of the
        wrapped caller when it has one (a batch), else one by one."""
        out: list[CompletionResponse | None] = []
        todo: list[int] = []
        for i, request in enumerate(requests):
            found = self.cache.get(cache_key(request))
            if found is not None:
                self.hits += 1
            else:
                todo.append(i)
            out.append(found)
        many = getattr(self.caller, "call_many", None)
        if todo and many is not None:
            self.misses += len(todo)
            answers = many(model_name, [requests[i] for i in todo], purpose=purpose)
            for i, response in zip(todo, answers, strict=True):
                out[i] = response
                if response.complete:
                    self.cache.put(cache_key(requests[i]), response)
        else:
            for i in todo:
                out[i] = self.call_model(model_name, requests[i], purpose=purpose)
        return [r for r in out if r is not None]
