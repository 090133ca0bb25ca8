"""Tables that fit the terminal without cutting what matters.

Ids and statuses are never truncated: they are what a user copies into the next command. When
the terminal is narrow (80 columns), the least important columns are dropped first, then the
remaining free-text columns wrap; nothing is shortened to `…`. Every cell goes through
`printable`, so a task id or file name cannot smuggle escape sequences to the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from buildrunner.display import printable

PADDING = 3  # a space each side of a cell and one between columns (box.SIMPLE_HEAD)
MIN_WRAP = 8  # a free-text column never gets narrower than this


@dataclass(frozen=True)
class Column:
    """One column: a key column (id, status) is never cut or dropped; others by `keep` order."""

    header: str
    key: bool = False
    keep: int = 0  # when columns must go, the lowest `keep` goes first
    justify: Literal["left", "right", "center"] = "left"


def fit_table(
    title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int
) -> Table:
    """A Rich table of `rows` for a terminal `width` columns wide (see the module docstring)."""
    texts = [[printable(str(cell), one_line=True) for cell in row] for row in rows]
    natural = [
        max([len(column.header), *(len(row[index]) for row in texts)])
        for index, column in enumerate(columns)
    ]
    shown = list(range(len(columns)))

    def needed(indexes: list[int]) -> int:
        return sum(natural[i] if columns[i].key else narrowest(i) for i in indexes) + PADDING * len(
            indexes
        )

    def narrowest(index: int) -> int:
        return min(natural[index], max(MIN_WRAP, len(columns[index].header)))

    droppable = sorted(
        (i for i, column in enumerate(columns) if not column.key), key=lambda i: columns[i].keep
    )
    while needed(shown) > width and droppable:
        shown.remove(droppable.pop(0))
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    for index in shown:
        column = columns[index]
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=column.key,
            min_width=natural[index] if column.key else narrowest(index),
            overflow="fold",
        )
    for row in texts:
        table.add_row(*(Text(row[index]) for index in shown))
    return table


def dropped_columns(columns: Sequence[Column], table: Table) -> list[str]:
    """Headers of the columns `fit_table` left out (to say so under the table)."""
    kept = {str(column.header) for column in table.columns}
    return [column.header for column in columns if column.header not in kept]


def print_fitted(
    console: Console,
    title: str,
    spec: Sequence[tuple[str, int | str]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Print a fitted table; `spec` is (header, "key" or keep-rank); numbers are right-aligned.

    Under it, one line says which columns a narrow terminal left out.
    """
    columns = [
        Column(
            header,
            key=rank == "key",
            keep=rank if isinstance(rank, int) else 0,
            justify="right" if rows and isinstance(rows[0][index], int | float) else "left",
        )
        for index, (header, rank) in enumerate(spec)
    ]
    table = fit_table(title, columns, rows, console.width)
    console.print(table, soft_wrap=False)
    hidden = dropped_columns(columns, table)
    if hidden:
        console.print(
            f"(narrow terminal: {', '.join(hidden)} not shown; --json has every field)",
            markup=False,
        )
