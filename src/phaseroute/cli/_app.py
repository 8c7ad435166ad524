"""Builds the Typer application and turns phaseroute's errors into exit codes.

Exit codes: 0 success; 1 a user mistake (policy, dataset, request) or a check that found
problems; 2 a usage error (unknown option, missing argument); 3 a run-time failure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from phaseroute.cli._help import tidy
from phaseroute.errors import CommandLineError, PhaserouteError, UserError

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3


def build_app(command: str | None = None) -> typer.Typer:
    """The full command tree. Each noun module contributes its commands.

    `command="serve"` builds that command alone: the other nouns' imports (numpy, the
    audit tooling, ...) would add about a second to every gateway start and restart.
    """
    app = typer.Typer(
        name="phaseroute",
        help="Route each phase of an LLM workflow to the model tier it needs.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode="markdown",  # docstrings reflow as paragraphs, `code` is styled
    )
    app.callback()(_root)
    if command == "serve":
        from phaseroute.cli import serve

        serve.register(app)
        return app
    from phaseroute.cli import (
        audit,
        batch,
        bench,
        cost,
        demo,
        demo_agent,
        drift,
        init,
        keys,
        measure,
        policy,
        serve,
        usage,
    )

    demo.register(app)
    demo_agent.register(app)
    policy.register(app)
    cost.register(app)
    usage.register(app)
    measure.register(app)
    bench.register(app)
    audit.register(app)
    serve.register(app)
    keys.register(app)
    batch.register(app)
    drift.register(app)
    init.register(app)
    return app


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"phaseroute {version('phaseroute')}")
        raise typer.Exit


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Route each phase of an LLM workflow to the model tier it needs: a versioned policy,
    measured, enforced at run time, costed before rollout and audited."""


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI and exit with a meaningful code."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on `argv` and return the exit code (never raises for user mistakes).

    Typer's standalone mode handles usage errors itself (exit 2) and lets every other
    exception through, so phaseroute's own errors are mapped here.
    """
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    words = list(argv) if argv is not None else sys.argv[1:]
    only = "serve" if words[:1] == ["serve"] else None
    command = tidy(typer.main.get_command(build_app(only)))
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name="phaseroute")
    except SystemExit as e:
        code = e.code
        if code is None:
            return EXIT_OK
        return code if isinstance(code, int) else EXIT_PROBLEMS
    except CommandLineError as e:
        err.print(f"[bold red]usage error:[/] {escape(str(e))}")
        err.print(f"Try '{_command_of(argv)} --help' for help.", markup=False)
        return EXIT_USAGE
    except UserError as e:
        for problem in e.problems:
            err.print(f"[bold red]error:[/] {escape(problem.render())}")
        return EXIT_PROBLEMS
    except PhaserouteError as e:
        err.print(f"[bold red]failed:[/] {escape(str(e))}")
        return EXIT_FAILURE
    return EXIT_OK


def _command_of(argv: Sequence[str] | None) -> str:
    """``phaseroute`` and the subcommand words of `argv` (up to the first option)."""
    words = list(argv) if argv is not None else sys.argv[1:]
    command = ["phaseroute"]
    for word in words:
        if word.startswith("-") or not word.replace("-", "").isalpha():
            break
        command.append(word)
        if len(command) == 3:
            break
    return " ".join(command)
