"""Shared by the gateway access tests: a policy with budgets, and per-test PostgreSQL schemas."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import yaml

from phaseroute.policy import RoutingPlan, compile_policy, load_policy_text


def budget_policy(budgets: dict[str, Any] | None = None) -> dict[str, Any]:
    """A small valid policy (workflows `wf`: screen/draft/decide, and `other`: solo) with the
    given `budgets:` section."""
    data: dict[str, Any] = {
        "version": 1,
        "tiers": ["cheap", "top"],
        "providers": {"p": {"type": "anthropic", "api_key": "env:KEY"}},
        "models": {
            "small": {"provider": "p", "id": "claude-haiku-5-5", "tier": "cheap"},
            "large": {"provider": "p", "id": "claude-opus-5-5", "tier": "top"},
        },
        "controls": {"human": {"description": "an analyst reads every case"}},
        "workflows": {
            "wf": {
                "phases": {
                    "screen": {
                        "kind": "screening",
                        "catastrophic_error": "throughput",
                        "caught_by": "human",
                    },
                    "draft": {"kind": "drafting", "catastrophic_error": "throughput"},
                    "decide": {"kind": "judgment", "catastrophic_error": "missed_risk"},
                }
            },
            "other": {
                "phases": {"solo": {"kind": "screening", "catastrophic_error": "throughput"}}
            },
        },
    }
    if budgets is not None:
        data["budgets"] = budgets
    return data


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def plan_with(budgets: dict[str, Any] | None = None, tmp_path: Path | None = None) -> RoutingPlan:
    text = dump(budget_policy(budgets))
    if tmp_path is not None:
        (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
        return compile_policy(load_policy_text(text, file=str(tmp_path / "policy.yaml")))
    return compile_policy(load_policy_text(text))


def pg_schema(url: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards."""
    schema = f"gw_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
