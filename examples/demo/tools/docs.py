"""Write build/API.txt from the package's docstrings."""

import pathlib

import calc
from calc import ops

lines = [calc.__doc__ or "", ""]
lines += [f"{name}: {getattr(ops, name).__doc__ or 'no docstring'}" for name in calc.__all__]
pathlib.Path("build").mkdir(exist_ok=True)
pathlib.Path("build/API.txt").write_text("\n".join(lines) + "\n")
print(f"wrote build/API.txt ({len(calc.__all__)} functions)")
