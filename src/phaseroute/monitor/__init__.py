"""The production loop: shadow calls on the top tier, drift as a sequential test, alarms
and reverts (see `ProductionMonitor`)."""

from phaseroute.monitor._drift import (
    DriftState,
    DriftTest,
    PhaseWatch,
    WatchSnapshot,
    predicted_pairs,
)
from phaseroute.monitor._monitor import PhaseStatus, ProductionMonitor, post_webhook, status_json
from phaseroute.monitor._store import DriftEvent, MonitorStore, ShadowPair

__all__ = [
    "DriftEvent",
    "DriftState",
    "DriftTest",
    "MonitorStore",
    "PhaseStatus",
    "PhaseWatch",
    "ProductionMonitor",
    "ShadowPair",
    "WatchSnapshot",
    "post_webhook",
    "predicted_pairs",
    "status_json",
]
