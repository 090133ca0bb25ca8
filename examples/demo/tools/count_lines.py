"""Count lines of Python in the project."""

import pathlib

total = sum(len(path.read_text().splitlines()) for path in pathlib.Path(".").rglob("*.py"))
print(f"{total} lines of Python")
