"""A provider's `timeout` is checked when the provider is built: one message naming it, not a
misleading connection error (or a raw `ValueError`) on the first call."""

from __future__ import annotations

import math
from typing import Any

import pytest

from phaseroute.errors import RequestError
from phaseroute.providers import AnthropicProvider, OpenAICompatProvider

PROVIDERS = [AnthropicProvider, OpenAICompatProvider]


@pytest.mark.parametrize("value", [0, 0.0, -1, math.nan, math.inf, "60", None, False], ids=repr)
@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_a_bad_timeout_is_refused_at_construction(cls: Any, value: Any) -> None:
    with pytest.raises(RequestError, match=rf"{cls.__name__}\(timeout=...\) must be a finite"):
        cls("sk-test-key-0123456789", base_url="http://127.0.0.1:9", timeout=value)


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_a_good_timeout_is_kept(cls: Any) -> None:
    provider = cls("sk-test-key-0123456789", base_url="http://127.0.0.1:9", timeout=2)
    provider.close()
