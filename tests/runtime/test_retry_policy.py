"""`RetryPolicy` checks every field at construction: one `RequestError` naming the field,
never a request sent with a nonsense timeout or a raw `ValueError` from a later sleep."""

from __future__ import annotations

import math
from typing import Any

import pytest

from phaseroute.errors import RequestError
from phaseroute.runtime import RetryPolicy

DURATIONS = ["base_delay_s", "max_delay_s", "max_retry_after_s", "attempt_timeout_s", "deadline_s"]
# Bad for every duration; 0 is also bad for the two that bound time (see below).
BAD = [-1, -0.5, math.nan, math.inf, -math.inf, "5", True, [1]]


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize("field", DURATIONS)
def test_a_bad_duration_is_refused_naming_its_field(field: str, value: Any) -> None:
    with pytest.raises(RequestError, match=rf"RetryPolicy\.{field} must be a finite number"):
        RetryPolicy(**{field: value})


@pytest.mark.parametrize("field", ["attempt_timeout_s", "deadline_s"])
def test_a_timeout_of_zero_is_refused(field: str) -> None:
    with pytest.raises(RequestError, match=rf"RetryPolicy\.{field} must be .* > 0, got 0"):
        RetryPolicy(**{field: 0})


@pytest.mark.parametrize("field", ["base_delay_s", "max_delay_s", "max_retry_after_s"])
def test_a_delay_of_zero_means_no_wait(field: str) -> None:
    assert getattr(RetryPolicy(**{field: 0}), field) == 0


def test_attempt_timeout_none_leaves_attempts_to_the_provider() -> None:
    assert RetryPolicy(attempt_timeout_s=None).attempt_timeout_s is None


@pytest.mark.parametrize("value", [0, -1, 1.5, "3", None, True])
def test_max_attempts_must_be_a_whole_number_of_at_least_one(value: Any) -> None:
    with pytest.raises(RequestError, match=r"RetryPolicy\.max_attempts must be a whole number"):
        RetryPolicy(max_attempts=value)


def test_the_message_names_the_value_given() -> None:
    with pytest.raises(RequestError) as info:
        RetryPolicy(base_delay_s=-1)
    assert str(info.value) == (
        "RetryPolicy.base_delay_s must be a finite number of seconds >= 0, got -1"
    )
