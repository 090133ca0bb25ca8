"""The `br` command line: one Typer module per command group, thin over the core."""
