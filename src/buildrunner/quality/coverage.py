"""Reading the total line coverage from coverage.py's JSON or XML (Cobertura) report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from buildrunner.errors import (
    CoverageReportError as CoverageReportError,
)


def read_total_coverage(path: Path) -> float:
    """Total covered percentage (0-100) from `coverage json` or `coverage xml` output."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CoverageReportError(
            f"coverage report {path} not found (run 'coverage json')"
        ) from None
    except OSError as exc:
        raise CoverageReportError(f"cannot read coverage report {path}: {exc.strerror}") from None
    if path.suffix == ".xml" or text.lstrip().startswith("<"):
        try:
            root = ElementTree.fromstring(text)
            return float(root.attrib["line-rate"]) * 100.0
        except (ElementTree.ParseError, KeyError, ValueError):
            raise CoverageReportError(f"{path} is not a Cobertura XML coverage report") from None
    try:
        return float(json.loads(text)["totals"]["percent_covered"])
    except (ValueError, KeyError, TypeError):
        raise CoverageReportError(f"{path} is not a coverage.py JSON report") from None
