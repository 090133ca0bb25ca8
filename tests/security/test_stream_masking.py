"""Task output masked on its way to the log: random write sizes never let a secret through."""

from __future__ import annotations

import random

import pytest

from buildrunner.security.masking import mask_text
from buildrunner.security.stream_masking import StreamMasker
from tests.security.tokens import TokenFactory, positives


def _stream(data: bytes, sizes: list[int], **options: int) -> bytes:
    out: list[bytes] = []
    masker = StreamMasker(out.append, **options)
    position = 0
    for size in sizes:
        masker.feed(data[position : position + size])
        position += size
    masker.feed(data[position:])
    masker.close()
    return b"".join(out)


def _log() -> tuple[str, list[str]]:
    tokens = TokenFactory(7)
    lines = [line for _, line in positives(tokens)]
    key = tokens.pem_lines()
    text = "\n".join(["build starting", *lines[:20], *key, "step 2", *lines[20:], "done"]) + "\n"
    return text, lines


@pytest.mark.parametrize("seed", range(12))
def test_any_split_gives_what_masking_the_whole_log_gives(seed: int) -> None:
    text, _ = _log()
    data = text.encode()
    rng = random.Random(seed)
    sizes = [rng.choice([1, 2, 3, 7, 64, 500, 4096]) for _ in range(len(data) // 10)]
    streamed = _stream(data, sizes).decode()
    assert streamed == mask_text(text)


def test_a_private_key_split_over_many_writes_is_masked() -> None:
    key = TokenFactory(3).pem_lines()
    data = ("\n".join(["before", *key, "after"]) + "\n").encode()
    streamed = _stream(data, [5] * (len(data) // 5)).decode()
    assert all(line not in streamed for line in key[1:-1])
    assert streamed.startswith("before\n") and streamed.endswith("after\n")


def test_bytes_that_are_not_utf8_pass_through() -> None:
    data = b"caf\xe9 \xff\xfe raw\n" + "\u00e9t\u00e9\n".encode()
    assert _stream(data, [1] * len(data)) == data


def test_a_huge_line_is_emitted_in_pieces_without_splitting_a_secret() -> None:
    key = "AKIA" + "Q3EGRTZ7KXLW5DN2"
    line = ("x" * 997 + f" aws {key} ") * 200  # 200 kB, no newline
    written: list[bytes] = []
    masker = StreamMasker(written.append, max_hold_chars=8192)
    for position in range(0, len(line), 1000):
        masker.feed(line[position : position + 1000].encode())
        assert len(masker._pending) <= 8192 + 1000  # memory stays bounded
    assert len(written) > 10  # emitted while the line was still going
    masker.close()
    streamed = b"".join(written).decode()
    assert key not in streamed
    assert streamed.count("AKIA…5DN2") == 200
