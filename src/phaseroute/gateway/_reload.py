"""SIGHUP: reload the policy in place; a policy that fails to load leaves the running one."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from phaseroute.gateway._gateway import Gateway

log = logging.getLogger("phaseroute.gateway")


def install_sighup(gateway: Gateway) -> Callable[[], None]:
    """Reload the policy on SIGHUP (main thread only); returns the uninstaller."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()

    def reload() -> None:
        async def run() -> None:
            try:
                await gateway.reload()
            except Exception as e:  # the running policy stays in place
                log.error("policy reload failed; still serving the previous policy: %s", e)

        task = loop.create_task(run())
        running.add(task)
        task.add_done_callback(running.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError):
        return lambda: None  # not the main thread (e.g. tests), or no SIGHUP here

    def uninstall() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return uninstall
