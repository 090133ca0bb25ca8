"""A standard-library style check: no tabs, no lines over 100 characters."""

import pathlib
import sys

problems = [
    f"{path}:{number}: {'tab' if chr(9) in line else 'line too long'}"
    for path in sorted(pathlib.Path("calc").rglob("*.py"))
    for number, line in enumerate(path.read_text().splitlines(), 1)
    if len(line) > 100 or chr(9) in line
]
print("\n".join(problems) or "lint ok")
sys.exit(1 if problems else 0)
