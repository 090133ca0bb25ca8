"""File types the scanners never open (kept apart so the hook imports no walker)."""

from __future__ import annotations

# Known binary formats are skipped without being opened.
BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".psd", ".pdf", ".zip",
    ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".jar", ".war", ".whl", ".egg", ".so",
    ".dylib", ".dll", ".exe", ".bin", ".o", ".a", ".lib", ".class", ".pyc", ".pyo", ".woff",
    ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4", ".mov", ".avi", ".wav", ".flac", ".ogg",
    ".webm", ".sqlite", ".db", ".parquet", ".npy", ".npz", ".pkl", ".pt", ".onnx", ".h5",
})
