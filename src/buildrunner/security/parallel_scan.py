"""Large scans across worker processes: files go out in chunks, reports come back and merge.

Built on the per-file core (`filescan`); it never imports the scanner that calls it.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from buildrunner.security.filescan import ProgressCallback, ScanOptions, ScanReport, scan_sequential
from buildrunner.security.walk import Candidate

CHUNK_FILES = 64


def _scan_chunk(chunk: list[Candidate], options: ScanOptions) -> ScanReport:
    return scan_sequential(chunk, options)


def chunked(candidates: list[Candidate], files: int = CHUNK_FILES) -> list[list[Candidate]]:
    """Groups of at most `files` candidates, in order."""
    return [candidates[i : i + files] for i in range(0, len(candidates), files)]


def scan_in_processes(
    candidates: list[Candidate],
    options: ScanOptions,
    jobs: int,
    progress: ProgressCallback | None,
) -> ScanReport | None:
    """Scan in `jobs` forked processes; None where forking is unavailable (caller scans in-process)."""
    if not sys.platform.startswith("linux"):
        return None
    started = time.perf_counter()
    sequential = replace(options, jobs=1)
    chunks = chunked(candidates)
    merged = ScanReport()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for part in pool.map(_scan_chunk, chunks, [sequential] * len(chunks)):
            merged.merge(part)
            if progress is not None:
                progress(merged.files_scanned, merged.bytes_scanned)
    merged.duration_s = time.perf_counter() - started
    return merged
