"""Which phaseroute error an HTTP failure is: the status rules both SDK providers share.

Each provider extracts status, error type/code, message and headers from its SDK's
exception (in one place) and asks `error_for_status` what that means here; every error it
then raises passes through `scrubbed`, so no credential an upstream echoes survives into
exception text, `RoutingUnavailable`, the ledger or the audit trail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phaseroute.errors import (
    AuthenticationFailed,
    IncompleteResponse,
    InvalidProviderRequest,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
    SpendLimitReached,
)
from phaseroute.providers._retry_after import parse_retry_after
from phaseroute.providers._secrets import Redactor

# Error codes that mean "money ran out": waiting will not help, so never retried.
SPEND_LIMIT_CODES = frozenset(
    {
        "enforced_spend_limit_reached",  # Anthropic: the API tier's monthly limit
        "contract_spend_limit_reached",  # Anthropic: the contract's limit
        "linked_organization_spend_limit_reached",
        "insufficient_quota",  # OpenAI: quota / billing exhausted
    }
)
_SPEND_WORDS = re.compile(r"spend(?:ing)? limit|usage limit|\bquota\b|credit balance", re.I)


def error_for_status(
    status: int,
    *,
    provider: str,
    model: str,
    error_type: str | None,
    error_code: str | None,
    message: str | None,
    headers: Mapping[str, str],
    request_id: str | None,
) -> ProviderError:
    """Map an HTTP error response onto phaseroute's error tree (see `phaseroute.errors`)."""

    def make(cls: type[ProviderError], text: str) -> ProviderError:
        return cls(text, provider=provider, model=model, status_code=status, request_id=request_id)

    def waiting(cls: type[RateLimited | Overloaded | ServerError]) -> ProviderError:
        return cls(
            said,
            retry_after=retry_after,
            provider=provider,
            model=model,
            status_code=status,
            request_id=request_id,
        )

    label = " ".join(x for x in (error_type, f"({error_code})" if error_code else None) if x)
    where = f"{provider} {model}: HTTP {status}" + (f" {label}" if label else "")
    said = f"{where}: {message}" if message else where
    if request_id:
        said += f" [request id {request_id}]"
    retry_after = parse_retry_after(headers)
    spend_code = error_code in SPEND_LIMIT_CODES or error_type == "insufficient_quota"
    spend_words = bool(message and _SPEND_WORDS.search(message)) or error_type == "billing_error"
    if status == 429:
        if spend_code:
            return make(SpendLimitReached, said)
        if retry_after is None and spend_words:
            return make(SpendLimitReached, said)
        return waiting(RateLimited)
    if status == 402 or (400 <= status < 500 and (spend_code or spend_words)):
        return make(SpendLimitReached, said)
    if status in (401, 403):
        # The upstream message may echo part of the key: leave it out.
        return make(
            AuthenticationFailed,
            f"{where}: the API key was rejected; check the key and its permissions"
            + (f" [request id {request_id}]" if request_id else ""),
        )
    if status == 408:
        return make(ProviderTimeout, said)
    overloaded = error_type == "overloaded_error" or (
        status == 503 and bool(message) and "overloaded" in (message or "").lower()
    )
    if status == 529 or overloaded:
        return waiting(Overloaded)
    if status >= 500:
        return waiting(ServerError)
    return make(InvalidProviderRequest, said)


def stream_broken(
    what: str, *, provider: str, model: str, request_id: str | None
) -> IncompleteResponse:
    """A stream that started and then failed: never a complete answer."""
    said = f"{provider} {model}: incomplete stream: {what}"
    if request_id:
        said += f" [request id {request_id}]"
    return IncompleteResponse(said, provider=provider, model=model, request_id=request_id)


def really_timed_out(e: BaseException, reported: bool) -> bool:
    """Whether a call with no HTTP answer timed out, when the SDK `reported` a timeout.

    The OpenAI SDK's aiohttp transport reports every failed connect as a ``ConnectTimeout``;
    its cause chain tells a refused or unreachable host (an ``OSError`` that is not a
    ``TimeoutError``) from one that took too long.
    """
    if not reported:
        return False
    causes: list[BaseException] = []
    link = e.__cause__ or e.__context__
    while link is not None and len(causes) < 10:
        causes.append(link)
        link = link.__cause__ or link.__context__
    if any(isinstance(c, TimeoutError) for c in causes):
        return True
    return not any(isinstance(c, OSError) for c in causes)


def transport_error(
    timed_out: bool, detail: str, *, provider: str, model: str
) -> ProviderTimeout | ProviderConnectionError:
    """No HTTP answer at all: the call timed out or the connection failed."""
    if timed_out:
        return ProviderTimeout(
            f"{provider} {model}: no answer in time ({detail})", provider=provider, model=model
        )
    return ProviderConnectionError(
        f"{provider} {model}: connection failed ({detail})", provider=provider, model=model
    )


def scrubbed(error: ProviderError, cause: BaseException, redact: Redactor) -> ProviderError:
    """`error` with credentials hidden from its text, and from the SDK error it is raised
    from (whose text a traceback would print as the cause), for every status and kind."""
    error.args = tuple(redact(a) if isinstance(a, str) else a for a in error.args)
    seen: set[int] = set()
    link: BaseException | None = cause
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.args = tuple(_redacted(a, redact) for a in link.args)
        for attr in ("message", "body"):
            value = getattr(link, attr, None)
            if value is not None:
                try:
                    setattr(link, attr, _redacted(value, redact))
                except (AttributeError, TypeError):  # read-only: derived from args
                    continue
        link = link.__cause__ or link.__context__
    return error


def _redacted(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if type(value) in (list, tuple):  # not a named tuple such as aiohttp's ConnectionKey
        return type(value)(_redacted(v, redact) for v in value)
    return value
