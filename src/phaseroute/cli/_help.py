"""Help text in the conventions users know: ``POLICY`` in usage lines, ``PATH``/``TEXT``
for option values, nothing after a flag, and docstrings that reflow as paragraphs.

Typer renders required arguments as ``{policy}``, every value as ``<str>`` and even flags
as ``--help <bool>``. `tidy` walks the built command tree once and gives every parameter
of every command (whoever added it) the usual spelling, so no command can bring the
artefacts back.
"""

from __future__ import annotations

from typing import Any

import typer.core


class _Argument(typer.core.TyperArgument):
    """An argument shown as ``POLICY`` (``[POLICY]`` when optional), with no type tag."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        return [name if self.required else f"[{name}]"]

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(typer.core.TyperOption):
    """An option whose value is shown as a plain metavar, and a flag shown with none."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        return self.metavar or _metavar(self, ctx)


def _metavar(param: typer.core.TyperOption, ctx: Any) -> str:
    """``<str>`` → ``TEXT``, ``<path>`` → ``PATH``, ``<a|b>`` → ``[a|b]``, ``<list[Path]>`` →
    ``PATH``, ``<float range>`` → ``FLOAT``."""
    shown = (param.display_type(ctx) or "").strip("<>")
    if shown.startswith("list[") and shown.endswith("]"):
        shown = shown[5:-1]
    if "|" in shown:
        return f"[{shown}]"
    word = shown.split()[0].lower() if shown else "value"
    return _NAMES.get(word, word.upper())


_NAMES = {"str": "TEXT", "path": "PATH", "int": "INTEGER", "float": "FLOAT", "bool": ""}


def tidy(command: Any) -> Any:
    """Give every parameter below `command` the usual help spelling; returns `command`."""
    for param in getattr(command, "params", []):
        if type(param) is typer.core.TyperArgument:
            param.__class__ = _Argument
            param.metavar = param.metavar or (param.name or "").upper()
        elif type(param) is typer.core.TyperOption:
            param.__class__ = _Option
    if isinstance(command, typer.core.TyperCommand | typer.core.TyperGroup):
        help_option = command.get_help_option(typer.Context(command))
        if type(help_option) is typer.core.TyperOption:
            help_option.__class__ = _Option
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command
