"""The ``phaseroute`` command line, grouped by noun (one module per noun)."""

from phaseroute.cli._app import main

__all__ = ["main"]
