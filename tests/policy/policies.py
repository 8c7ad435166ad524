"""A small valid policy to start each test from (change one key, assert the outcome)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

BASE: dict[str, Any] = {
    "version": 1,
    "tiers": ["cheap", "mid", "top"],
    "providers": {"p": {"type": "anthropic", "api_key": "env:KEY"}},
    "models": {
        "small": {"provider": "p", "id": "claude-haiku-5-5", "tier": "cheap"},
        "medium": {"provider": "p", "id": "claude-sonnet-5-5", "tier": "mid"},
        "large": {"provider": "p", "id": "claude-opus-5-5", "tier": "top"},
    },
    "controls": {"human": {"description": "an analyst reads every case"}},
    "audit": {"signing_key": "env:PHASEROUTE_TEST_AUDIT_KEY"},
    "workflows": {
        "wf": {
            "phases": {
                "screen": {
                    "kind": "screening",
                    "catastrophic_error": "throughput",
                    "caught_by": "human",
                    "feeds": ["draft"],
                },
                "draft": {
                    "kind": "drafting",
                    "catastrophic_error": "throughput",
                    "feeds": ["decide"],
                },
                "decide": {"kind": "judgment", "catastrophic_error": "missed_risk"},
                "interpret": {
                    "kind": "interpretation",
                    "catastrophic_error": "missed_risk",
                    "audit": True,
                },
            }
        }
    },
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def phase(data: dict[str, Any], name: str) -> dict[str, Any]:
    return data["workflows"]["wf"]["phases"][name]  # type: ignore[no-any-return]
