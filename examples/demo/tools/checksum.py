"""Record the SHA-256 of build/calc.zip next to it."""

import hashlib
import pathlib

digest = hashlib.sha256(pathlib.Path("build/calc.zip").read_bytes()).hexdigest()
pathlib.Path("build/calc.zip.sha256").write_text(digest + "\n")
print(digest)
