from __future__ import annotations

from buildrunner.display import printable


def test_escape_sequences_are_shown_not_interpreted() -> None:
    assert printable("src/\x1b[31mred\x1b[0m.py") == "src/\\e[31mred\\e[0m.py"
    assert printable("\x1b]0;title\x07x") == "\\e]0;title\\x07x"
    assert printable("a\rb\x9bc\x7f") == "a\\rb\\x9bc\\x7f"


def test_newlines_and_tabs_stay_unless_one_line() -> None:
    assert printable("a\n\tb") == "a\n\tb"
    assert printable("a\n\tb", one_line=True) == "a\\n\\tb"
    assert printable("plain text ✓") == "plain text ✓"
