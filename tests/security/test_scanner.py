"""Walking, skipping, allow-listing, SQL integration and parallel scans on real files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from buildrunner.security.masking import mask_text
from buildrunner.security.scanner import ScanOptions, scan_files, scan_paths, scan_text
from tests.security.tokens import TokenFactory


def _write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_scan_reports_relative_paths_and_masked_matches(tmp_path: Path) -> None:
    token = TokenFactory(seed=1).github()
    _write(tmp_path, "src/app.py", f'import os\nTOKEN = "{token}"\n')
    _write(tmp_path, "src/clean.py", "print('hello')\n")
    report = scan_paths([tmp_path], root=tmp_path, sql=False)
    assert report.files_scanned == 2
    assert [(f.path, f.line, f.column, f.rule_id) for f in report.findings] == [
        ("src/app.py", 2, 10, "github-token")
    ]
    finding = report.findings[0]
    assert finding.match == token[:4] + "…" + token[-4:]
    assert token not in str(report.to_dict())


def test_gitignore_binary_and_size_limits_are_honoured_and_counted(tmp_path: Path) -> None:
    secret = f'KEY = "{TokenFactory(seed=2).github()}"\n'
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _write(tmp_path, ".gitignore", "ignored/\n*.log\n")
    _write(tmp_path, "ignored/leak.py", secret)
    _write(tmp_path, "debug.log", secret)
    _write(tmp_path, "image.png", b"\x89PNG" + secret.encode())
    _write(tmp_path, "data.bin.txt", b"\x00\x01" + secret.encode())
    _write(tmp_path, "big.py", secret + "#" * 5000)
    _write(tmp_path, "node_modules/pkg/index.js", secret)
    _write(tmp_path, "ok.py", secret)
    report = scan_paths(
        [tmp_path], root=tmp_path, options=ScanOptions(sql=False, max_file_bytes=1000)
    )
    assert [f.path for f in report.findings] == ["ok.py"]
    assert report.skipped_counts() == {"binary": 2, "too_large": 1}
    unfiltered = scan_paths(
        [tmp_path], root=tmp_path, options=ScanOptions(sql=False, gitignore=False)
    )
    assert {f.path for f in unfiltered.findings} == {
        "ok.py",
        "big.py",
        "debug.log",
        "ignored/leak.py",
    }


def test_nested_gitignore_applies_below_its_folder(tmp_path: Path) -> None:
    secret = f'KEY = "{TokenFactory(seed=3).github()}"\n'
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _write(tmp_path, "pkg/.gitignore", "generated.py\n")
    _write(tmp_path, "pkg/generated.py", secret)
    _write(tmp_path, "generated.py", secret)
    report = scan_paths([tmp_path / "pkg", tmp_path / "generated.py"], root=tmp_path, sql=False)
    assert [f.path for f in report.findings] == ["generated.py"]


def test_allow_paths_globs_skip_files(tmp_path: Path) -> None:
    secret = f'KEY = "{TokenFactory(seed=4).github()}"\n'
    _write(tmp_path, "tests/fixtures/keys.py", secret)
    _write(tmp_path, "app.py", secret)
    report = scan_paths(
        [tmp_path],
        root=tmp_path,
        options=ScanOptions(sql=False, allow_paths=("tests/fixtures/**",)),
    )
    assert [f.path for f in report.findings] == ["app.py"]
    assert report.skipped_counts() == {"allow_paths": 1}


def test_sql_injection_findings_come_from_the_sql_analysers(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "db.py",
        "def find(cur, name):\n    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n",
    )
    _write(
        tmp_path,
        "safe.py",
        "def find(cur, name):\n    cur.execute('SELECT * FROM users WHERE name = ?', (name,))\n",
    )
    _write(tmp_path, "broken.py", 'def find(:\n    cur.execute("SELECT 1 " + x)\n')
    report = scan_paths([tmp_path], root=tmp_path)
    assert [(f.path, f.line, f.kind) for f in report.findings] == [("db.py", 2, "sql_injection")]
    assert "sql_unparsed" in report.skipped_counts()
    assert scan_paths([tmp_path], root=tmp_path, sql=False).findings == []


def test_scan_text_combines_secrets_and_sql() -> None:
    token = TokenFactory(seed=5).github()
    text = f'TOKEN = "{token}"\ndef q(cur, x):\n    cur.execute("SELECT * FROM t WHERE a = " + x)\n'
    findings, note = scan_text(text, "m.py")
    assert note is None
    assert sorted(f.kind for f in findings) == ["secret", "sql_injection"]


def test_scan_files_takes_exact_paths(tmp_path: Path) -> None:
    token = TokenFactory(seed=6).github()
    _write(tmp_path, "a.py", f'T = "{token}"\n')
    _write(tmp_path, "b.py", f'T = "{token}"\n')
    report = scan_files(tmp_path, ["a.py"], sql=False)
    assert [f.path for f in report.findings] == ["a.py"]


def test_parallel_scan_matches_the_sequential_one(tmp_path: Path) -> None:
    factory = TokenFactory(seed=7)
    for i in range(260):
        text = f'T = "{factory.github()}"\n' if i % 13 == 0 else f"x = {i}\n"
        _write(tmp_path, f"pkg{i % 7}/m{i}.py", text)
    sequential = scan_paths([tmp_path], root=tmp_path, options=ScanOptions(sql=False, jobs=1))
    parallel = scan_paths([tmp_path], root=tmp_path, options=ScanOptions(sql=False, jobs=2))
    assert parallel.files_scanned == sequential.files_scanned == 260
    assert sorted(f.fingerprint for f in parallel.findings) == sorted(
        f.fingerprint for f in sequential.findings
    )
    assert len(parallel.findings) == 20


def test_mask_text_masks_every_secret_and_keeps_the_rest() -> None:
    factory = TokenFactory(seed=8)
    token, aws = factory.github(), "AKIA" + factory.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    text = f"pushing with {token}\nkey id {aws} ok\nnothing here\n"
    masked = mask_text(text)
    assert token not in masked and aws not in masked
    assert (
        masked
        == f"pushing with {token[:4]}…{token[-4:]}\nkey id {aws[:4]}…{aws[-4:]} ok\nnothing here\n"
    )
    assert mask_text("plain text") == "plain text"
    assert mask_text("") == ""


def test_mask_text_reads_free_text_like_a_log() -> None:
    password = TokenFactory(seed=9).password()
    masked = mask_text(f"connecting with password={password} to db\n")
    assert password not in masked and "password=" in masked
