"""One gateway replica for the budget tests: many concurrent calls reserving and settling.

    python budget_replica.py POLICY LOCATION KEY CALLS CONCURRENCY ESTIMATE COST

Prints "ready" once connected and waits for a line on stdin, so all replicas start together;
then runs CALLS
reserve → (simulated upstream call) → settle sequences, CONCURRENCY at a time, all on
workflow `wf` phase `decide`. Prints one JSON line: admitted, refused, and the largest
number of this replica's calls in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal

from phaseroute.errors import BudgetExceeded
from phaseroute.gateway._access import AccessControl
from phaseroute.policy import load_plan


async def _run(
    access: AccessControl, key: str, calls: int, concurrency: int, estimate: Decimal, cost: Decimal
) -> dict[str, int]:
    caller = access.authenticate({"x-api-key": key})
    counts = {"admitted": 0, "refused": 0, "max_in_flight": 0}
    in_flight = 0
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        nonlocal in_flight
        async with gate:
            try:
                held = await access.reserve(caller, "wf", "decide", estimate)
            except BudgetExceeded:
                counts["refused"] += 1
                return
            counts["admitted"] += 1
            in_flight += 1
            counts["max_in_flight"] = max(counts["max_in_flight"], in_flight)
            await asyncio.sleep(0.002)  # the upstream call
            in_flight -= 1
            await access.settle(held, cost)

    await asyncio.gather(*(one() for _ in range(calls)))
    return counts


def main() -> None:
    policy, location, key, calls, concurrency, estimate, cost = sys.argv[1:8]
    access = AccessControl.open(load_plan(policy), location, start=False)
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        counts = asyncio.run(
            _run(access, key, int(calls), int(concurrency), Decimal(estimate), Decimal(cost))
        )
    finally:
        access.close()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
