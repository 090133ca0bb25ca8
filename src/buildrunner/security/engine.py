"""The matcher: one keyword pass over a text, then rule regexes only on the lines that need them.

All keywords of all rules go into one Aho-Corasick automaton (the `ahocorasick_rs` extension when it is
installed, a plain `str.find` loop otherwise), so a file is read once for the prefilter and most lines
never meet a regex. Raw secrets live only inside `SecretMatch` objects in memory; callers mask them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from buildrunner.security.generic import MINIFIED_LINE
from buildrunner.security.generic import VALIDATORS as GENERIC_VALIDATORS
from buildrunner.security.rules import RULES, Rule
from buildrunner.security.validators import KNOWN_EXAMPLES, VALIDATORS, Candidate, shannon_entropy

PRAGMAS = ("br: allow", "br:allow", "gitleaks:allow", "pragma: allowlist secret")
MULTILINE_WINDOW = 8192
# Memory stays bounded whatever the input: the keyword pass runs over windows of the text, and a
# line keeps at most MAX_LINE_HITS keyword positions (past that the line is "dense": its
# keyword-anchored rules search the line once instead of trying every position).
CHUNK_CHARS = 1 << 15
MAX_LINE_HITS = 256
CONTEXT_BEFORE = 400
_DATA_URI = re.compile(r"data:[\w/+.\-]{0,80};base64,[A-Za-z0-9+/=]+")


@dataclass(frozen=True)
class SecretMatch:
    """A secret found in a text. `secret` is raw: never print, log or store it; mask it."""

    rule: Rule
    secret: str
    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    start: int  # offset of the secret in the text
    end: int


class _Finder:
    """Finds every (keyword index, start) in a lowercase text."""

    def __init__(self, keywords: Sequence[str]) -> None:
        self.keywords = list(keywords)
        self.lengths = [len(keyword) for keyword in self.keywords]
        self.longest = max(self.lengths, default=1)
        # keywords made of one repeated character: all a run of that character can match
        self.runs: dict[str, list[int]] = {}
        for index, keyword in enumerate(self.keywords):
            if keyword and keyword.count(keyword[0]) == len(keyword):
                self.runs.setdefault(keyword[0], []).append(index)
        try:
            import ahocorasick_rs

            dfa = ahocorasick_rs.Implementation.DFA
            self._automaton: Any = ahocorasick_rs.AhoCorasick(self.keywords, implementation=dfa)
            self._bytes_automaton: Any = ahocorasick_rs.BytesAhoCorasick(
                [k.encode() for k in self.keywords], implementation=dfa
            )
        except ImportError:  # pure-Python fallback: correct, slower
            self._automaton = self._bytes_automaton = None

    def find(self, lowered: str) -> list[tuple[int, int, int]]:
        """(keyword index, start, end) of every keyword occurrence, overlapping ones included."""
        if self._automaton is None:
            return list(self._find_slow(lowered))
        if lowered.isascii():  # byte offsets are character offsets; skips a UTF-8 offset mapping
            hits: list[tuple[int, int, int]] = self._bytes_automaton.find_matches_as_indexes(
                lowered.encode("ascii"), overlapping=True
            )
            return hits
        found: list[tuple[int, int, int]] = self._automaton.find_matches_as_indexes(
            lowered, overlapping=True
        )
        return found

    def windows(
        self, lowered: str, chunk: int = CHUNK_CHARS
    ) -> Iterator[tuple[int, int, list[tuple[int, int, int]]]]:
        """(window start, window end, hits with offsets relative to `origin = start - overlap`),
        one window at a time: the hit list of one window is all that is held (a run of one
        character can match a keyword at every position). A hit that ended by the window's start
        belongs to the previous window; callers drop it with `owns()`."""
        start = 0
        while start < len(lowered) or start == 0:
            end = min(len(lowered), start + chunk)
            origin = max(0, start - (self.longest - 1))
            piece = lowered[origin:end]
            if len(piece) > 4 * self.longest and piece.count(piece[0]) == len(piece):
                # a run of one character (base64 of zero bytes, padding): the hits are known
                # without listing one per position
                at = start - origin
                yield (
                    start,
                    end,
                    [
                        (index, at, at + self.lengths[index])
                        for index in self.runs.get(piece[0], ())
                        if self.lengths[index] <= len(piece)
                    ],
                )
            else:
                yield start, end, self.find(piece)
            if end >= len(lowered):
                return
            start = end

    def origin(self, start: int) -> int:
        return max(0, start - (self.longest - 1))

    def _find_slow(self, lowered: str) -> Iterator[tuple[int, int, int]]:
        for index, keyword in enumerate(self.keywords):
            position = lowered.find(keyword)
            while position != -1:
                yield index, position, position + len(keyword)
                position = lowered.find(keyword, position + 1)


class SecretEngine:
    """Finds secrets in text with a rule table (default: all rules)."""

    def __init__(
        self, rules: Sequence[Rule] = RULES, *, rule_ids: Iterable[str] | None = None
    ) -> None:
        wanted = set(rule_ids) if rule_ids is not None else None
        self.rules = tuple(r for r in rules if wanted is None or r.id in wanted)
        self._validators: dict[str, Callable[[Candidate], bool]] = {
            **VALIDATORS,
            **GENERIC_VALIDATORS,
        }
        keywords: list[str] = []
        line_rules: list[list[int]] = []
        file_rules: list[list[int]] = []
        index_of: dict[str, int] = {}
        for rule_index, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                if keyword not in index_of:
                    index_of[keyword] = len(keywords)
                    keywords.append(keyword)
                    line_rules.append([])
                    file_rules.append([])
                target = file_rules if rule.scope == "file" else line_rules
                target[index_of[keyword]].append(rule_index)
        self._line_rules = [tuple(r) for r in line_rules]
        self._file_rules = [tuple(r) for r in file_rules]
        self._finder = _Finder(keywords)
        self._patterns: dict[int, re.Pattern[str]] = {}

    def _pattern(self, rule_index: int) -> re.Pattern[str]:
        pattern = self._patterns.get(rule_index)
        if pattern is None:
            pattern = re.compile(self.rules[rule_index].pattern)
            self._patterns[rule_index] = pattern
        return pattern

    def find(self, text: str, path: str = "") -> list[SecretMatch]:
        """Every secret in `text` (a whole file or a fragment), best rule per span, in text order."""
        lowered = text.lower()
        lines = _LineHits()
        for start, end, window in self._finder.windows(lowered):
            origin = self._finder.origin(start)
            if len(window) > MAX_LINE_HITS and text.find("\n", origin, end) == -1:
                self._dense_window(text, origin, window, lines)  # one line, many hits
                continue
            for keyword_index, position, stop in window:
                if origin + stop <= start:
                    continue  # found in the previous window
                self._add_hit(text, keyword_index, origin + position, lines)
        del lowered  # a copy of the whole text: not needed past the keyword pass
        by_line, hits, dense, in_file = lines.by_line, lines.hits, lines.dense, lines.in_file
        by_line = {line: rules for line, rules in by_line.items() if rules}
        if not by_line and not in_file:
            return []
        candidates: list[tuple[int, int, int, str]] = []  # (rule index, start, end, secret)
        for line_start, rule_indexes in by_line.items():
            self._match_line(
                text,
                line_start,
                rule_indexes,
                hits[line_start],
                path,
                candidates,
                line_start in dense,
            )
        for rule_index in in_file:
            for match in self._pattern(rule_index).finditer(text):
                self._consider(rule_index, match, 0, text, path, candidates)
        return self._resolve(text, candidates)

    def _add_hit(self, text: str, keyword_index: int, position: int, lines: _LineHits) -> None:
        lines.in_file.update(self._file_rules[keyword_index])
        rules = self._line_rules[keyword_index]
        if not rules:
            return
        line_start = lines.line_of(text, position)
        lines.by_line.setdefault(line_start, set()).update(rules)
        positions = lines.hits.setdefault(line_start, [])
        if len(positions) < MAX_LINE_HITS:
            positions.append((keyword_index, position - line_start))
        else:
            lines.dense.add(line_start)

    def _dense_window(
        self, text: str, origin: int, window: list[tuple[int, int, int]], lines: _LineHits
    ) -> None:
        """A window inside one line with more hits than a line keeps: which keywords, not where."""
        for keyword_index in {hit[0] for hit in window}:
            first = next(hit[1] for hit in window if hit[0] == keyword_index)
            self._add_hit(text, keyword_index, origin + first, lines)
        lines.dense.add(lines.line_of(text, origin + window[0][1]))

    def _match_line(
        self,
        text: str,
        line_start: int,
        rule_indexes: set[int],
        hits: list[tuple[int, int]],
        path: str,
        out: list[tuple[int, int, int, str]],
        dense: bool = False,
    ) -> None:
        line_end = _line_end(text, line_start)
        line = text[line_start:line_end]
        if _has_pragma(line):
            return
        searched = line
        if "base64," in line:  # blank data-URI payloads, keeping offsets
            searched = _DATA_URI.sub(lambda m: " " * len(m.group()), line)
        long_line = len(line) > MINIFIED_LINE
        for rule_index in rule_indexes:
            rule = self.rules[rule_index]
            if rule.generic and long_line:
                continue
            pattern = self._pattern(rule_index)
            if (
                rule.match_at == "keyword" and not dense
            ):  # the regex starts at the keyword: try there
                seen = -1
                for keyword_index, column in sorted(hits, key=lambda hit: hit[1]):
                    if column < seen or rule_index not in self._line_rules[keyword_index]:
                        continue
                    found = pattern.match(searched, column)
                    if found is not None:
                        seen = found.end()
                        self._consider(rule_index, found, line_start, text, path, out, line)
                continue
            if rule.match_at == "line_start":  # (a dense line falls through to one search below)
                found = pattern.match(searched)
                if found is not None:
                    self._consider(rule_index, found, line_start, text, path, out, line)
                continue
            window = (
                text[line_start : line_start + MULTILINE_WINDOW] if rule.multiline else searched
            )
            for match in pattern.finditer(window):
                self._consider(rule_index, match, line_start, text, path, out, line)

    def _consider(
        self,
        rule_index: int,
        match: re.Match[str],
        base: int,
        text: str,
        path: str,
        out: list[tuple[int, int, int, str]],
        base_line: str | None = None,
    ) -> None:
        rule = self.rules[rule_index]
        groupindex = match.re.groupindex
        group: int | str = 0
        if "secret" in groupindex and match.group("secret"):
            group = "secret"
        elif "secret2" in groupindex and match.group("secret2"):
            group = "secret2"
        elif rule.generic:
            group = next(
                (
                    g
                    for g in ("quoted", "bare", "quoted2", "quoted3")
                    if g in groupindex and match.group(g)
                ),
                0,
            )
        secret = match.group(group)
        start, end = base + match.start(group), base + match.end(group)
        if rule.generic and secret.endswith("\\"):  # "key = \"value\"" inside a JSON string
            secret, end = secret[:-1], end - 1
        if not secret or secret in KNOWN_EXAMPLES:
            return
        if base_line is not None and start - base <= len(base_line):
            line_start, line = base, base_line
        else:
            line_start = text.rfind("\n", 0, start) + 1
            line = text[line_start : _line_end(text, start)]
            if _has_pragma(line):
                return
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            return
        if rule.validator is not None:
            before = (
                text[max(0, line_start - CONTEXT_BEFORE) : line_start] if rule.needs_context else ""
            )
            candidate = Candidate(
                rule.id,
                secret,
                line,
                path,
                match.groupdict(),
                base + match.start() - line_start,
                before,
            )
            if not self._validators[rule.validator](candidate):
                return
        out.append((rule_index, start, end, secret))

    def _resolve(self, text: str, candidates: list[tuple[int, int, int, str]]) -> list[SecretMatch]:
        ordered = sorted(candidates, key=lambda c: (-self.rules[c[0]].priority, c[1]))
        kept: list[tuple[int, int, int, str]] = []
        for candidate in ordered:
            if not any(candidate[1] < other[2] and other[1] < candidate[2] for other in kept):
                kept.append(candidate)
        results = []
        for rule_index, start, end, secret in sorted(kept, key=lambda c: c[1]):
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            end_line = line + text.count("\n", start, end)
            results.append(
                SecretMatch(self.rules[rule_index], secret, line, column, end_line, start, end)
            )
        return results


class _LineHits:
    """Keyword hits grouped by line: rules to run, positions (bounded), dense lines, file rules."""

    def __init__(self) -> None:
        self.by_line: dict[int, set[int]] = {}
        self.hits: dict[int, list[tuple[int, int]]] = {}  # line start -> (keyword, column)
        self.dense: set[int] = set()  # lines with more than MAX_LINE_HITS keyword positions
        self.in_file: set[int] = set()
        self._start = self._end = -1

    def line_of(self, text: str, position: int) -> int:
        if not self._start <= position < self._end:
            self._start = text.rfind("\n", 0, position) + 1
            self._end = _line_end(text, position) + 1
        return self._start


def _has_pragma(line: str) -> bool:
    if "allow" not in line and "ALLOW" not in line:
        return False
    lowered = line.lower()
    return any(pragma in lowered for pragma in PRAGMAS)


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end == -1 else end
