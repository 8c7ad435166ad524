"""phaseroute's exceptions, in one place.

User mistakes (fix the input and run again) and run-time failures (the world misbehaved)
are different branches, so callers and the CLI can treat them differently::

    PhaserouteError
    ├── UserError                      a mistake in something the user wrote; CLI exit 1
    │   ├── PolicyError                policy file does not parse, validate or compile
    │   ├── DatasetError               a dataset / recorded-outcome file has a bad row
    │   ├── LockFileError              the evidence lock file is malformed
    │   ├── DatabaseStateError         the database is not in a state phaseroute can use
    │   ├── SecretError                an env:/file: secret reference is malformed or missing
    │   ├── RequestError               a call names an unknown workflow/phase or bad arguments
    │   │   └── CommandLineError           a missing or conflicting command-line option; exit 2
    │   └── GatewayRefusal             the gateway refused a client's request (HTTP status)
    │       ├── Unauthenticated            401: no key, or an unknown or revoked one
    │       ├── Forbidden                  403: the key may not use this workflow
    │       ├── BudgetExceeded             429: a key/workflow/phase budget is spent
    │       ├── PayloadTooLarge            413: the request body is over the limit
    │       └── ModelNotFound              404: the model name names no phase or alias
    └── RuntimeFailure                 something failed while running; not the user's input
        ├── ProviderError              a model provider call failed (mapped from SDK errors)
        │   ├── RetryableProviderError     worth retrying: 429, 529, 5xx, timeouts, connection
        │   │   ├── RateLimited            429 with (possibly) a retry-after
        │   │   ├── Overloaded             529 overloaded_error: the provider's overload
        │   │   ├── ServerError            5xx
        │   │   ├── ProviderTimeout        no answer in time
        │   │   └── ProviderConnectionError
        │   ├── SpendLimitReached          429 without retry-after for a reached spend limit
        │   ├── AuthenticationFailed       401/403
        │   ├── InvalidProviderRequest     400/404/422: the request itself is wrong
        │   └── IncompleteResponse         a stream that was cut off or carried an error
        ├── RoutingUnavailable         a phase could not get a model of its tier
        ├── AuditError                 audit trail failures
        │   ├── AuditWriteFailed           a record could not be written (calls fail closed)
        │   └── AuditIntegrityError        verification found tampering
        └── StorageError               the database failed underneath us

SDK and HTTP errors are mapped to these at the provider boundary with ``raise ... from e``;
nothing above the providers sees an SDK exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PhaserouteError(Exception):
    """Base class of every error phaseroute raises on purpose."""


# --------------------------------------------------------------------------- user mistakes


@dataclass(frozen=True)
class Problem:
    """One located problem in a user's file: where it is, what is wrong, how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    path: str | None = None  # dotted path inside the document, e.g. workflows.aml.phases.x
    fix: str | None = None

    def render(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
        parts = []
        if where:
            parts.append(where)
        if self.path:
            parts.append(self.path)
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.fix:
            text += f" — fix: {self.fix}"
        return text


class UserError(PhaserouteError):
    """A mistake in something the user wrote. Carries one or more located problems."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))


class PolicyError(UserError):
    """The policy file does not parse, validate or compile."""


class DatasetError(UserError):
    """A dataset or recorded-outcome file has a malformed row."""


class LockFileError(UserError):
    """The evidence lock file is malformed."""


class DatabaseStateError(UserError):
    """The database is not in a state phaseroute can use (e.g. newer schema)."""


class SecretError(UserError):
    """A secret reference (`env:NAME`, `file:path`) is malformed or points at nothing.

    The message names the location, never a value.
    """


class RequestError(UserError):
    """A call names an unknown workflow or phase, or passes bad arguments."""


class CommandLineError(RequestError):
    """The command line itself is wrong: a required option is missing, two options conflict,
    or an option's value has the wrong form. The CLI exits 2 (a usage error)."""


class GatewayRefusal(UserError):
    """The gateway refused a client's request; rendered in the client's own protocol.

    `status` is the HTTP status; `retry_after_s`, when set, becomes a `retry-after` header.
    """

    status: int = 400
    error_type: str = "invalid_request_error"

    def __init__(
        self, problems: Sequence[Problem] | str, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(problems)
        self.retry_after_s = retry_after_s


class Unauthenticated(GatewayRefusal):
    """No API key, or one that is unknown or revoked (401)."""

    status = 401
    error_type = "authentication_error"


class Forbidden(GatewayRefusal):
    """The key is valid but may not use this workflow (403)."""

    status = 403
    error_type = "permission_error"


class BudgetExceeded(GatewayRefusal):
    """A budget of the key, workflow or phase is spent for its period (429)."""

    status = 429
    error_type = "rate_limit_error"


class PayloadTooLarge(GatewayRefusal):
    """The request body is larger than the gateway accepts (413)."""

    status = 413
    error_type = "request_too_large"


class ModelNotFound(GatewayRefusal):
    """The requested model names no phase (`WORKFLOW/PHASE`) and matches no alias (404)."""

    status = 404
    error_type = "not_found_error"


# --------------------------------------------------------------------------- run-time failures


class RuntimeFailure(PhaserouteError):
    """Something failed while running; not a mistake in the user's input."""


class ProviderError(RuntimeFailure):
    """A model provider call failed."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.request_id = request_id


class RetryableProviderError(ProviderError):
    """A failure that a later attempt may not have."""

    retry_after: float | None = None


class RateLimited(RetryableProviderError):
    """HTTP 429 with a retry-after: the provider asks us to slow down."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Overloaded(RetryableProviderError):
    """HTTP 529 overloaded_error: the provider is overloaded (not our quota)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(RetryableProviderError):
    """HTTP 5xx from the provider."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderTimeout(RetryableProviderError):
    """The provider did not answer in time."""


class ProviderConnectionError(RetryableProviderError):
    """The provider could not be reached."""


class SpendLimitReached(ProviderError):
    """A 429 for a reached spend limit: waiting will not help, so it is never retried."""


class AuthenticationFailed(ProviderError):
    """HTTP 401/403: the credentials are wrong or lack permission."""


class InvalidProviderRequest(ProviderError):
    """HTTP 400/404/422: the request itself is wrong; retrying will not help."""


class IncompleteResponse(ProviderError):
    """A streamed answer was cut off or carried an error: never reported as complete."""


@dataclass(frozen=True)
class Attempt:
    """One model tried while routing a call, and how it ended."""

    model: str
    tier: str
    error: str


class RoutingUnavailable(RuntimeFailure):
    """A phase could not get a model of its tier (and no degraded route is allowed)."""

    def __init__(
        self,
        workflow: str,
        phase: str,
        tier: str,
        attempts: Sequence[Attempt],
        errors: Sequence[ProviderError] = (),
    ) -> None:
        self.workflow = workflow
        self.phase = phase
        self.tier = tier
        self.attempts = tuple(attempts)
        # The provider errors behind the attempts, in order (e.g. for a gateway's status).
        self.errors = tuple(errors)
        tried = "; ".join(f"{a.model} ({a.tier}): {a.error}" for a in self.attempts) or "none"
        super().__init__(
            f"{workflow}/{phase} could not be served at tier {tier!r} or above. "
            f"Models tried and their last errors: {tried}"
        )


class ValidationFailed(RuntimeFailure):
    """A cheap-routed answer failed its validator and no higher tier was left to escalate to."""


class AuditError(RuntimeFailure):
    """An audit trail failure."""


class AuditWriteFailed(AuditError):
    """A record could not be written; the routed call fails closed."""


class AuditIntegrityError(AuditError):
    """Verification found the audit trail altered, missing, inserted or reordered."""


class StorageError(RuntimeFailure):
    """The database failed underneath us."""
