"""phaseroute's errors as each client protocol spells them: status, body, `retry-after`.

Anthropic clients get ``{"type": "error", "error": {"type", "message"}}``; OpenAI clients get
``{"error": {"message", "type", "param", "code"}}``. The mapping from phaseroute's error tree
to a status lives here and nowhere else:

- `GatewayRefusal` (401/403/404/413/429): its own status and type, `retry-after` when set;
- a secret, policy or database problem: 500 — the gateway's configuration, not the client's;
- any other `UserError` (a bad request): 400 `invalid_request_error`;
- `RoutingUnavailable`: the upstream's own verdict when every model refused the request
  itself (400, its wording kept), else 529 `overloaded_error` (Anthropic) / 503 (OpenAI)
  with the longest `retry-after` the upstream asked for;
- `AuditWriteFailed`: 500 — the answer exists but is withheld, because its audit record
  could not be written;
- other run-time failures: 502 (an upstream failed) or 500.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

from phaseroute.errors import (
    AuditWriteFailed,
    DatabaseStateError,
    GatewayRefusal,
    InvalidProviderRequest,
    LockFileError,
    PhaserouteError,
    PolicyError,
    ProviderError,
    RoutingUnavailable,
    SecretError,
    UserError,
)

ClientProtocol = Literal["anthropic", "openai"]

# Anthropic error types -> (OpenAI error type, OpenAI code)
_OPENAI_NAMES: dict[str, tuple[str, str | None]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "authentication_error": ("invalid_request_error", "invalid_api_key"),
    "permission_error": ("invalid_request_error", "permission_denied"),
    "not_found_error": ("invalid_request_error", "model_not_found"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit_error": ("requests", "rate_limit_exceeded"),
    "overloaded_error": ("server_error", "overloaded"),
    "api_error": ("server_error", None),
}


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error ready to send: status, the Anthropic error type, message, retry-after."""

    status: int
    error_type: str
    message: str
    retry_after_s: float | None = None

    def headers(self) -> dict[str, str]:
        if self.retry_after_s is None:
            return {}
        return {"retry-after": str(max(1, math.ceil(self.retry_after_s)))}

    def body(self, protocol: ClientProtocol) -> bytes:
        if protocol == "anthropic":
            data: object = {
                "type": "error",
                "error": {"type": self.error_type, "message": self.message},
            }
        else:
            kind, code = _OPENAI_NAMES.get(self.error_type, ("server_error", None))
            data = {"error": {"message": self.message, "type": kind, "param": None, "code": code}}
        return json.dumps(data, separators=(",", ":")).encode()

    def for_protocol(self, protocol: ClientProtocol) -> ErrorReply:
        """OpenAI has no 529: its clients see overload as 503."""
        if protocol == "openai" and self.status == 529:
            return ErrorReply(503, self.error_type, self.message, self.retry_after_s)
        return self


def _longest_retry_after(errors: tuple[ProviderError, ...]) -> float | None:
    waits = [w for e in errors if (w := getattr(e, "retry_after", None)) is not None]
    return max(waits) if waits else None


def reply_for(error: BaseException) -> ErrorReply:
    """The reply a client gets for `error` (see the module docstring for the mapping)."""
    if isinstance(error, GatewayRefusal):
        return ErrorReply(error.status, error.error_type, str(error), error.retry_after_s)
    if isinstance(error, SecretError | PolicyError | DatabaseStateError | LockFileError):
        # The gateway's own configuration, not the client's request.
        return ErrorReply(500, "api_error", f"the gateway is misconfigured: {error}")
    if isinstance(error, UserError):
        return ErrorReply(400, "invalid_request_error", str(error))
    if isinstance(error, RoutingUnavailable):
        errors = getattr(error, "errors", ())
        if errors and all(isinstance(e, InvalidProviderRequest) for e in errors):
            # Every model said the request itself is wrong: the client must change it, and
            # clients such as Claude Code match on the upstream's own wording.
            return ErrorReply(400, "invalid_request_error", str(errors[-1]))
        return ErrorReply(529, "overloaded_error", str(error), _longest_retry_after(errors))
    if isinstance(error, AuditWriteFailed):
        return ErrorReply(
            500,
            "api_error",
            f"the answer is withheld: its audit record could not be written ({error})",
        )
    if isinstance(error, ProviderError):
        return ErrorReply(502, "api_error", str(error))
    if isinstance(error, PhaserouteError):
        return ErrorReply(500, "api_error", str(error))
    return ErrorReply(500, "api_error", "internal error in the gateway")
