"""Secret detection, SQL-injection analysis, masking, baseline and git hooks.

Usable without the rest of BuildRunner; keep imports here lean (the pre-commit hook path).
"""
