"""Token estimates from task text and declared files."""

from __future__ import annotations

from pathlib import Path

from buildrunner.routing.tokens import (
    GROWTH_PER_TURN,
    MAX_FILE_TOKENS,
    NEW_FILE_TOKENS,
    OVERHEAD_TOKENS,
    TURNS,
    estimate_tokens,
    file_tokens,
    text_tokens,
)


def test_text_is_about_four_characters_a_token() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2


def test_files_existing_are_read_missing_are_written(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"x" * 350)
    (tmp_path / "huge.py").write_bytes(b"x" * (MAX_FILE_TOKENS * 10))
    assert file_tokens(["a.py"], tmp_path) == (100, 0)
    assert file_tokens(["new.py"], tmp_path) == (0, NEW_FILE_TOKENS)
    assert file_tokens(["huge.py"], tmp_path) == (MAX_FILE_TOKENS, 0)


def test_agent_loop_resends_the_context_every_turn(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"x" * 3500)
    text = "y" * 400
    estimate = estimate_tokens(text, "moderate", ["a.py"], tmp_path)
    turns = TURNS["moderate"].turns
    context = OVERHEAD_TOKENS + 100 + 1000
    assert estimate.turns == turns
    assert estimate.input_tokens == turns * context + GROWTH_PER_TURN * turns * (turns - 1) // 2
    assert estimate.output_tokens == turns * TURNS["moderate"].output_per_turn + 1000 // 3


def test_harder_levels_expect_more_tokens() -> None:
    sizes = [
        estimate_tokens("task", level) for level in ("simple", "moderate", "complex", "critical")
    ]
    assert [s.input_tokens for s in sizes] == sorted(s.input_tokens for s in sizes)
    assert sizes[0].input_tokens < sizes[-1].input_tokens
