"""Token estimates for a task before it runs, from its text and declared files.

The method (documented in docs/ROUTING.md):
- text: about 4 characters per token for English prose (`ceil(chars / 4)`);
- a declared file that exists: its size at about 3.5 bytes per token (code tokenises denser than
  prose), capped per file; a declared file that does not exist yet costs nothing to read but is
  expected to be written: `NEW_FILE_TOKENS` of output;
- an agent task is a loop: every turn re-sends the whole context (system prompt and tool
  definitions, the task, the files read, and the conversation so far), so input grows with the
  number of turns. Turns and the output per turn depend on the complexity level (`TURNS`).
The estimate ignores prompt caching, so it is an upper bound on a cached run's input price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHARS_PER_TOKEN = 4.0
FILE_BYTES_PER_TOKEN = 3.5
MAX_FILE_TOKENS = 50_000  # one huge file is not read whole by an agent
NEW_FILE_TOKENS = 800  # a file the task creates: written once as output
OVERHEAD_TOKENS = 1_500  # system prompt + tool definitions, sent every turn
GROWTH_PER_TURN = 600  # tool results and assistant text added to the context each turn


@dataclass(frozen=True)
class TurnProfile:
    turns: int
    output_per_turn: int


# How much work each level means for an agent loop (assumptions, not measurements).
TURNS: dict[str, TurnProfile] = {
    "simple": TurnProfile(turns=3, output_per_turn=400),
    "moderate": TurnProfile(turns=6, output_per_turn=600),
    "complex": TurnProfile(turns=12, output_per_turn=800),
    "critical": TurnProfile(turns=20, output_per_turn=1000),
}


@dataclass(frozen=True)
class TokenEstimate:
    input_tokens: int
    output_tokens: int
    prompt_tokens: int  # the task text
    file_tokens: int  # existing declared files, read once
    turns: int


def text_tokens(text: str) -> int:
    """Tokens of prose: about four characters each."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def file_tokens(paths: Iterable[str], root: Path | None = None) -> tuple[int, int]:
    """(tokens to read the existing files, tokens to write the missing ones)."""
    read = written = 0
    for name in paths:
        path = Path(name) if root is None or Path(name).is_absolute() else root / name
        try:
            size = path.stat().st_size if path.is_file() else None
        except OSError:
            size = None
        if size is None:
            written += NEW_FILE_TOKENS
        else:
            read += min(math.ceil(size / FILE_BYTES_PER_TOKEN), MAX_FILE_TOKENS)
    return read, written


def estimate_tokens(
    text: str, level: str, files: Iterable[str] = (), root: Path | None = None
) -> TokenEstimate:
    """Input and output tokens an agent run of this task is expected to use at this level."""
    profile = TURNS.get(level, TURNS["moderate"])
    prompt = text_tokens(text)
    read, written = file_tokens(files, root)
    context = OVERHEAD_TOKENS + prompt + read
    turns = profile.turns
    # Turn k (0-based) sends the base context plus k turns of growth: a triangular sum.
    input_tokens = turns * context + GROWTH_PER_TURN * turns * (turns - 1) // 2
    # Existing files are rewritten at most once (edits usually touch part of a file: a third).
    output_tokens = turns * profile.output_per_turn + written + read // 3
    return TokenEstimate(input_tokens, output_tokens, prompt, read, turns)
