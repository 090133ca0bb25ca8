"""Tables at 80 columns keep ids and statuses whole, drop the least important columns first and
escape control characters."""

from __future__ import annotations

from rich.console import Console

from buildrunner.cli.tables import Column, dropped_columns, fit_table

COLUMNS = [
    Column("id", key=True),
    Column("name", keep=4),
    Column("status", key=True),
    Column("created", keep=1),
    Column("tasks", keep=3, justify="right"),
]
ROW = [
    "20261130-032230-6a4878",
    "a-rather-long-plan-name-for-testing-things",
    "interrupted",
    "2026-11-30 03:22",
    12,
]


def render(width: int, rows: list[list[object]]) -> tuple[str, list[str]]:
    table = fit_table("sessions", COLUMNS, rows, width)
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text(), dropped_columns(COLUMNS, table)


def test_ids_and_statuses_are_never_cut() -> None:
    for width in (120, 80, 60, 40):
        text, _ = render(width, [ROW])
        assert "20261130-032230-6a4878" in text and "interrupted" in text, text
        assert "…" not in text
        assert max(len(line) for line in text.splitlines()) <= width


def test_less_important_columns_go_first() -> None:
    assert render(200, [ROW])[1] == []
    assert render(80, [ROW])[1] == []  # the free-text columns wrap instead
    assert render(60, [ROW])[1] == ["created"]
    assert render(40, [ROW])[1] == ["name", "created", "tasks"]


def test_cells_are_printable() -> None:
    text, _ = render(120, [["id\x1b[31m", "\x1b]0;title\x07", "ok", "x", 1]])
    assert "\x1b" not in text and "\\e[31m" in text
