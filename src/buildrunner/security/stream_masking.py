"""Masking a stream as it is written: task output reaches the disk already masked.

A task log masked only when its attempt ends keeps raw secrets on disk when the attempt is killed
(kill -9, a lost node). `StreamMasker` masks output on its way to the log instead. It emits whole
lines, so a secret split across two writes is masked once both halves have arrived; a private-key
block is held until its END line; a line longer than `max_hold_chars` is cut where no secret spans
the cut. Rules that look beyond one line still see what they need: the keywords of file-wide
rules seen so far, and the end of the previous text as context, go in front of each chunk (and
are not emitted again).

Streaming cannot see the future: a file-wide rule whose keyword comes *after* the secret is caught
only by the final pass over the whole log (`mask_text`) when the attempt ends normally.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from buildrunner.security.engine import CONTEXT_BEFORE, SecretEngine
from buildrunner.security.masking import FREE_TEXT_PATH, MASK, default_engine, mask_secret

MAX_HOLD_CHARS = 64 * 1024  # a line longer than this is emitted in pieces
CUT_MARGIN_CHARS = 1024  # a forced cut leaves this much held back, for a secret just starting
_PEM_BEGIN = "-----BEGIN"
_PEM_END = "-----END"
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


def _matchable(text: str) -> str:
    """`text` with undecodable bytes as U+FFFD: same length, so match offsets still fit `text`."""
    return _UNDECODABLE.sub("\ufffd", text) if not text.isascii() else text


class StreamMasker:
    """Feed it bytes; it writes masked bytes to `write` (whole lines at a time)."""

    def __init__(
        self,
        write: Callable[[bytes], object],
        *,
        engine: SecretEngine | None = None,
        max_hold_chars: int = MAX_HOLD_CHARS,
    ) -> None:
        self._write = write
        self._engine = engine or default_engine()
        self._max_hold = max_hold_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._pending = ""
        self._context = ""  # the end of the text already emitted (raw), for rules that look back
        self._file_keywords = sorted(
            {
                keyword
                for rule in self._engine.rules
                if rule.scope == "file"
                for keyword in rule.keywords
            }
        )
        self._seen_keywords: set[str] = set()

    def feed(self, data: bytes) -> None:
        """Take more output; emit every complete line that is safe to emit."""
        self._pending += self._decoder.decode(data)
        cut = self._safe_cut(self._pending)
        if cut:
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
            self._emit(chunk)

    def close(self) -> None:
        """Emit whatever is held (the output ended)."""
        self._pending += self._decoder.decode(b"", final=True)
        if self._pending:
            chunk, self._pending = self._pending, ""
            self._emit(chunk)

    def _safe_cut(self, text: str) -> int:
        """How much of `text` can be masked and emitted now."""
        cut = text.rfind("\n") + 1
        begin = text.rfind(_PEM_BEGIN, 0, cut)
        if begin != -1 and text.find(_PEM_END, begin) == -1:
            cut = text.rfind("\n", 0, begin) + 1  # hold the key block from its first line
        if cut == 0 and len(text) > self._max_hold:
            cut = len(text) - CUT_MARGIN_CHARS
            for match in self._engine.find(_matchable(text), FREE_TEXT_PATH):
                if match.start < cut < match.end:
                    cut = match.start if match.start > 0 else match.end
        return cut

    def _emit(self, chunk: str) -> None:
        self._write(self._mask(chunk).encode("utf-8", errors="surrogateescape"))

    def _mask(self, chunk: str) -> str:
        preamble = "".join(f"{keyword}\n" for keyword in sorted(self._seen_keywords))
        prefix = preamble + self._context
        text = prefix + chunk
        parts: list[str] = []
        position = len(prefix)
        for match in self._engine.find(_matchable(text), FREE_TEXT_PATH):
            if match.end <= len(prefix) or match.end <= position:
                continue  # before this chunk: already emitted
            start = max(match.start, position)
            parts.append(text[position:start])
            # a secret that began in text already emitted (held back rules) is fully hidden here
            parts.append(mask_secret(match.secret) if match.start >= len(prefix) else MASK)
            position = match.end
        parts.append(text[position:])
        lowered = chunk.lower()
        self._seen_keywords.update(word for word in self._file_keywords if word in lowered)
        self._context = (self._context + chunk)[-CONTEXT_BEFORE:]
        return "".join(parts)
