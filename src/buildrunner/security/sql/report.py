"""Building a SQL-injection finding: one place for both languages, secrets masked.

The tainted expression is source code, and source code can hold a secret (a key passed to a
signing call inside the query, say); every text shown or stored goes through the masker. The
fingerprint still hashes the raw text, so it stays stable.
"""

from __future__ import annotations

from buildrunner.security.findings import Finding, fingerprint
from buildrunner.security.masking import mask_text
from buildrunner.security.sql.sinks import Sink

MAX_MATCH = 120
LANGUAGES = {"python": "Python", "js": "JavaScript/TypeScript"}
CONSTRUCTIONS = {
    "fstring": "an f-string",
    "percent": "% formatting",
    "format": "str.format()",
    "concat": "string concatenation",
    "join": "a join",
    "template": "a template literal",
    "request": "nothing but request data",
}
_JOINS = {"python": "str.join()", "js": "Array.join()"}


def construction(language: str, how: str) -> str:
    """How the data was spliced in, in words (`an f-string`, `Array.join()`)."""
    return _JOINS[language] if how == "join" else CONSTRUCTIONS[how]


def rule_description(rule_id: str) -> str | None:
    """What an SQL-injection rule id means (`sqli-python-fstring`), or None for another id."""
    parts = rule_id.split("-", 2)
    if (
        len(parts) != 3
        or parts[0] != "sqli"
        or parts[1] not in LANGUAGES
        or parts[2] not in CONSTRUCTIONS
    ):
        return None
    language, how = LANGUAGES[parts[1]], CONSTRUCTIONS[parts[2]]
    if parts[2] == "request":
        return f"SQL injection ({language}): a query that is request data, passed unchanged to a database call"
    return f"SQL injection ({language}): a query built with {how} from non-constant data reaches a database call"


def sql_finding(
    *,
    path: str,
    language: str,
    line: int,
    column: int,
    end_line: int,
    how: str,
    construction: str,
    expressions: list[str],
    label: str,
    sink: Sink,
    advice: str,
    reaches: str | None = None,
    flow: str | None = None,
) -> Finding:
    """The finding for tainted `expressions` (source text) reaching `sink` at `line`.

    `reaches` replaces "reaches <label>() (<family>)" in the message (a query returned or passed
    on); `flow` names how it got there (`returned`, `passed-on`, `helper`) in `extra`.
    """
    rule_id = f"sqli-{language}-{how}"
    shown_all = [mask_text(expression) for expression in expressions]
    shown = shown_all[0]
    if len(shown) > MAX_MATCH:
        shown = shown[: MAX_MATCH - 3] + "..."
    return Finding(
        path=path,
        line=line,
        column=column,
        end_line=end_line,
        rule_id=rule_id,
        kind="sql_injection",
        severity=sink.severity,
        message=(
            f"SQL built with {construction} from `{shown}` "
            f"{reaches or f'reaches {label}() ({sink.family})'}; {advice}"
        ),
        match=shown,
        fingerprint=fingerprint(rule_id, path, " | ".join(expressions), sink.name),
        extra={"sink": label, "tainted": shown_all[:5], **({"flow": flow} if flow else {})},
    )
