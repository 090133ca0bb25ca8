"""SQL-injection analysis: Python with `ast`, JavaScript/TypeScript with tree-sitter.

`scan_source(path, text)` picks the analyser by file suffix. Analysers load lazily, so scanning
Python never imports tree-sitter.
"""

from __future__ import annotations

from pathlib import PurePath

from buildrunner.security.findings import Finding

PYTHON_SUFFIXES = frozenset({".py", ".pyi"})
JAVASCRIPT_SUFFIXES = frozenset({".js", ".jsx", ".mjs", ".cjs"})
TYPESCRIPT_SUFFIXES = frozenset({".ts", ".mts", ".cts"})
TSX_SUFFIXES = frozenset({".tsx"})
SUPPORTED_SUFFIXES = PYTHON_SUFFIXES | JAVASCRIPT_SUFFIXES | TYPESCRIPT_SUFFIXES | TSX_SUFFIXES

__all__ = ["SUPPORTED_SUFFIXES", "is_supported", "scan_source"]


def is_supported(path: str) -> bool:
    """True when `path` has a suffix one of the analysers reads."""
    return PurePath(path).suffix.lower() in SUPPORTED_SUFFIXES


def scan_source(
    path: str, text: str, data: bytes | None = None
) -> tuple[list[Finding], str | None]:
    """SQL-injection findings in one file, and a skip reason when it cannot be analysed.

    Never raises for bad input: a file that does not parse comes back as `([], "syntax error ...")`.
    Unsupported suffixes return `([], None)`. `data` is the file's UTF-8 bytes when the caller read
    them (the JS/TS parser reads bytes; this spares an encode).
    """
    suffix = PurePath(path).suffix.lower()
    if suffix in PYTHON_SUFFIXES:
        from buildrunner.security.sql.python_ast import scan_python

        return scan_python(path, text)
    if suffix in JAVASCRIPT_SUFFIXES or suffix in TYPESCRIPT_SUFFIXES or suffix in TSX_SUFFIXES:
        from buildrunner.security.sql.javascript import scan_javascript

        dialect = (
            "javascript"
            if suffix in JAVASCRIPT_SUFFIXES
            else ("tsx" if suffix in TSX_SUFFIXES else "typescript")
        )
        return scan_javascript(path, text, dialect, data)
    return [], None
