"""Validators of the escalation cascade: does a cheap answer pass, and if not, why not."""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from phaseroute.errors import PolicyError
from phaseroute.policy._schema import (
    CallableValidator,
    ConfidenceValidator,
    JsonSchemaValidator,
    RegexValidator,
    ValidatorConfig,
)

_log = logging.getLogger("phaseroute.runtime")
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str


class Validator(Protocol):
    def __call__(self, text: str) -> Verdict: ...


class JsonSchemaCheck:
    """The answer must be JSON (a ```json fence around it is tolerated) matching a schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        # jsonschema loads with the first phase that validates JSON, not with every router.
        import jsonschema  # noqa: PLC0415

        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        self._validator = cls(schema)

    def __call__(self, text: str) -> Verdict:
        fenced = _FENCE.match(text)
        body = fenced.group(1) if fenced else text
        try:
            doc = json.loads(body)
        except ValueError as e:
            return Verdict(False, f"not JSON: {e}")
        from jsonschema.exceptions import best_match  # noqa: PLC0415 - loaded by __init__

        error = best_match(self._validator.iter_errors(doc))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return Verdict(False, f"JSON does not match the schema at {where}: {error.message}")
        return Verdict(True, "matches the JSON schema")


class RegexCheck:
    """The answer must contain a match of the pattern."""

    def __init__(self, pattern: str) -> None:
        self._pattern = re.compile(pattern)

    def __call__(self, text: str) -> Verdict:
        if self._pattern.search(text):
            return Verdict(True, f"matches /{self._pattern.pattern}/")
        return Verdict(False, f"does not match /{self._pattern.pattern}/")


class ConfidenceCheck:
    """The answer must state a confidence (first capture group) of at least `minimum`."""

    def __init__(self, pattern: str, minimum: float) -> None:
        self._pattern = re.compile(pattern)
        self._min = minimum

    def __call__(self, text: str) -> Verdict:
        found = self._pattern.search(text)
        if found is None or not found.groups():
            return Verdict(False, "states no confidence")
        try:
            value = float(found.group(1))
        except ValueError:
            return Verdict(False, f"confidence {found.group(1)!r} is not a number")
        if value < self._min:
            return Verdict(False, f"confidence {value:g} is below the minimum {self._min:g}")
        return Verdict(True, f"confidence {value:g} >= {self._min:g}")


class CallableCheck:
    """A user function `module:function` taking the text, returning bool or (bool, reason).

    A function that raises counts as a failed validation (escalating is the safe direction)
    and is logged, so a broken validator is visible rather than silently passing answers.
    """

    def __init__(self, ref: str, function: Callable[[str], object]) -> None:
        self._ref = ref
        self._function = function

    def __call__(self, text: str) -> Verdict:
        try:
            out = self._function(text)
        except Exception as e:
            _log.warning("validator %s raised %s: %s", self._ref, type(e).__name__, e)
            return Verdict(False, f"validator {self._ref} raised {type(e).__name__}: {e}")
        if isinstance(out, tuple) and len(out) == 2:
            return Verdict(bool(out[0]), str(out[1]))
        ok = bool(out)
        return Verdict(ok, f"{self._ref} returned {ok}")


def load_function(ref: str, where: str) -> Callable[[str], object]:
    """Import `module:function`; a clear `PolicyError` naming the phase if it is not there."""
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise PolicyError(
            f"{where}.escalation.validator.function: cannot import module {module_name!r} "
            f"({e}) — fix: make it importable (installed or on PYTHONPATH) or correct the name"
        ) from e
    function = getattr(module, attr, None)
    if not callable(function):
        raise PolicyError(
            f"{where}.escalation.validator.function: {module_name!r} has no function {attr!r} "
            "— fix: name a function taking the answer text and returning bool or (bool, reason)"
        )
    return function  # type: ignore[no-any-return]


def build_validator(config: ValidatorConfig, where: str) -> Validator:
    """The validator a phase's escalation config describes (`where` names the phase)."""
    if isinstance(config, JsonSchemaValidator):
        import jsonschema  # noqa: PLC0415 - see JsonSchemaCheck

        try:
            return JsonSchemaCheck(config.json_schema)
        except jsonschema.SchemaError as e:
            raise PolicyError(
                f"{where}.escalation.validator.schema: not a valid JSON schema: {e.message}"
            ) from e
    if isinstance(config, RegexValidator):
        try:
            return RegexCheck(config.pattern)
        except re.error as e:
            raise PolicyError(
                f"{where}.escalation.validator.pattern: not a valid regular expression: {e}"
            ) from e
    if isinstance(config, ConfidenceValidator):
        try:
            return ConfidenceCheck(config.pattern, config.min)
        except re.error as e:
            raise PolicyError(
                f"{where}.escalation.validator.pattern: not a valid regular expression: {e}"
            ) from e
    if isinstance(config, CallableValidator):
        return CallableCheck(config.function, load_function(config.function, where))
    raise AssertionError(f"unknown validator {config!r}")  # pragma: no cover
