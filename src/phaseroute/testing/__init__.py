"""Test support shipped with phaseroute: fakes that need no network and no API key.

`phaseroute.testing.upstream` is a local HTTP server speaking the real provider wire
protocols, for testing code that calls models through the official SDKs;
`phaseroute.testing.fake` has in-process fakes (provider, clock, audit trail).
"""

from phaseroute.testing.upstream import (
    ModelBehaviour,
    Outcome,
    OutcomeKind,
    Upstream,
    UpstreamRequest,
    http_date,
)

__all__ = ["ModelBehaviour", "Outcome", "OutcomeKind", "Upstream", "UpstreamRequest", "http_date"]
