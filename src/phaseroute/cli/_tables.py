"""How every command prints: terminal tables that never lose a column, machine formats as is.

- Machine formats (JSON, Markdown, CSV) go to stdout untouched: no wrapping, no markup,
  whatever the terminal width or a pipe.
- Terminal tables are built with `new_table`: name columns hold names whole; when the
  terminal is too narrow they fold at their separators (``typology_`` /
  ``classification``), never inside a word; numbers never wrap.
- `print_table` prints a table whole: prose columns wrap between words, names at their
  separators, and nothing is cut. In a pipe the table is as wide as it must be (at least
  the terminal width); on a terminal too narrow for every column it is printed as one block
  of ``column: value`` lines per row — never a dropped or truncated column.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Column as RichColumn
from rich.table import Table
from rich.text import Text

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

NAME_WIDTH = 20  # names longer than this fold at their separators
_SEPARATED = re.compile(r"[^_/.\-\s]+(?:[_/.\-]+|\s+|$)")
_FOLDED_AFTER = ("_", "/", ".", "-")


@dataclass(frozen=True)
class Column:
    """One column: its header, alignment, and whether it holds names or numbers."""

    header: str
    justify: Literal["left", "right"] = "left"
    kind: Literal["name", "text", "number"] = "text"
    style: str | None = None
    ratio: int | None = None
    fold: int = 0  # for names: fold beyond this many characters (0: NAME_WIDTH)


def fold_name(name: str, width: int = NAME_WIDTH) -> str:
    """`name` broken after ``_``, ``/``, ``.``, ``-`` or spaces into lines of at most
    `width` characters (a single longer piece stays whole): legible, never mid-word."""
    if len(name) <= width:
        return name
    lines: list[str] = []
    line = ""
    for piece in _SEPARATED.findall(name) or [name]:
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


class PhaserouteTable(Table):
    """A Rich table that remembers its name columns, so names are folded only when needed."""

    def __init__(self, title: str | None, **options: Any) -> None:
        super().__init__(title=title, **options)
        self.fold_widths: dict[int, int] = {}  # column index -> fold width, for name columns


def new_table(
    title: str | None,
    columns: Sequence[Column],
    *,
    show_lines: bool = False,
    expand: bool = False,
) -> PhaserouteTable:
    """A Rich table in phaseroute's style; fill it with `add_row`, names as they are."""
    table = PhaserouteTable(
        title,
        title_justify="left",
        show_lines=show_lines,
        expand=expand,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    for n, c in enumerate(columns):
        table.add_column(
            c.header,
            justify=c.justify,
            style=c.style,
            no_wrap=c.kind == "number",
            overflow="ellipsis" if c.kind == "number" else "fold",
            ratio=c.ratio,
        )
        if c.kind == "name":
            table.fold_widths[n] = c.fold or NAME_WIDTH
    return table


def print_table(out: Console, table: Table) -> None:
    """Print `table` with every column whole (see the module docstring)."""
    chrome = 2 * len(table.columns) - 1  # right padding, and a rule between columns
    if not out.is_terminal:  # a pipe: names whole, as wide as the table must be
        _print_fitted(out, table, max(out.width, _narrowest(table) + chrome), chrome)
        return
    if _natural(table) + chrome > out.width and isinstance(table, PhaserouteTable):
        table = _folded(table)
    _print_fitted(out, table, out.width, chrome)


def _print_fitted(out: Console, table: Table, width: int, chrome: int) -> None:
    bounds = [_bounds(column) for column in table.columns]
    widths = [high for _, high in bounds]
    excess = sum(widths) + chrome - width
    while excess > 0:  # one character at a time from the column with the most room
        slack = [w - low for w, (low, _) in zip(widths, bounds, strict=True)]
        widest = max(range(len(widths)), key=slack.__getitem__)
        if slack[widest] <= 0:
            out.print(stacked(table))
            return
        widths[widest] -= 1
        excess -= 1
    for column, w in zip(table.columns, widths, strict=True):
        column.width = w
    kept = out.width
    out.width = max(kept, width)
    try:
        out.print(table)
    finally:
        out.width = kept


def _natural(table: Table) -> int:
    return sum(high for _, high in map(_bounds, table.columns))


def _narrowest(table: Table) -> int:
    return sum(low for low, _ in map(_bounds, table.columns))


def _folded(table: PhaserouteTable) -> Table:
    """A copy of `table` whose name cells are folded at their separators."""
    folded = copy.copy(table)
    folded.columns = [column.copy() for column in table.columns]
    folded.rows = []
    cells = [list(column.cells) for column in table.columns]
    for r, row in enumerate(table.rows):
        folded.add_row(
            *(
                _fold_cell(column[r], table.fold_widths[n]) if n in table.fold_widths else column[r]
                for n, column in enumerate(cells)
            ),
            style=row.style,
            end_section=row.end_section,
        )
    return folded


def _bounds(column: RichColumn) -> tuple[int, int]:
    """The narrowest and the natural content width of a column (header included)."""
    low = high = 0
    for cell in (column.header, *column.cells):
        for line in _text(cell).plain.split("\n"):
            high = max(high, cell_len(line))
            pieces = [line] if column.no_wrap else line.split()
            low = max(low, *(cell_len(p) for p in pieces), 0)
    return low, high


def _fold_cell(cell: RenderableType, width: int) -> RenderableType:
    """Fold the plain text of each line of a cell, up to any markup on it."""
    if not isinstance(cell, str):
        return cell
    lines = []
    for line in cell.split("\n"):
        head, bracket, tail = line.partition("[")
        if bracket and head.endswith("\\"):  # an escaped bracket: leave the line alone
            lines.append(line)
            continue
        lines.append(fold_name(head.rstrip(), width) + (" " if head.endswith(" ") else "")
                     + bracket + tail)  # fmt: skip
    return "\n".join(lines)


def stacked(table: Table) -> RenderableType:
    """`table` as one block of ``column: value`` lines per row, for narrow terminals."""
    headers = [_plain(c.header) for c in table.columns]
    label = max(map(len, headers), default=0)
    cells = [list(c.cells) for c in table.columns]
    lines: list[Text | str] = []
    if table.title:
        lines.append(Text.from_markup(str(table.title), style="bold"))
    for row in range(table.row_count):
        lines.append("")
        for header, column in zip(headers, cells, strict=True):
            parts = _text(column[row] if row < len(column) else "").split("\n")
            value = Text()
            for n, part in enumerate(parts):
                if n and not parts[n - 1].plain.endswith(_FOLDED_AFTER):
                    value.append(" ")
                value.append_text(part)
            line = Text()
            line.append(f"{header:>{label}}: ", style="dim")
            line.append_text(value)
            lines.append(line)
    return Group(*lines)


def _text(cell: RenderableType) -> Text:
    return cell if isinstance(cell, Text) else Text.from_markup(str(cell))


def _plain(header: RenderableType) -> str:
    return " ".join(_text(header).plain.split())


def emit(text: str) -> None:
    """Machine output (Markdown, CSV, prose meant for files): stdout as is, never wrapped."""
    typer.echo(text)


def emit_json(doc: object) -> None:
    """Machine output as indented JSON on stdout, never wrapped."""
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


def report_console() -> Console:
    """A console for a command's text report: no highlighting, lines kept whole, and at
    least 100 columns when the output is not a terminal."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 100)
    return console
