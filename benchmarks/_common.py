"""Helpers shared by the benchmark scripts: throwaway peer venvs and timing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peer_python(name: str, requirements: list[str], import_name: str | None = None) -> Path | None:
    """A Python with `requirements` installed, in benchmarks/.venv-NAME (made on first use).

    Returns None (with a note on stderr) when the peer cannot be installed here.
    """
    venv = HERE / f".venv-{name}"
    python = venv / "bin" / "python"
    check = import_name or requirements[0].split("[")[0].split("=")[0].split(">")[0].replace(
        "-", "_"
    )
    if python.exists() and _imports(python, check):
        return python
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *requirements],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as exc:
        print(f"note: cannot install {name} ({exc}); its figures are skipped", file=sys.stderr)
        return None
    return python if _imports(python, check) else None


def _imports(python: Path, module: str) -> bool:
    return (
        subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0
    )


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    elapsed: list[float] = []
    yield lambda: elapsed[0] if elapsed else time.perf_counter() - start
    elapsed.append(time.perf_counter() - start)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def env_without(*names: str) -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in names}
