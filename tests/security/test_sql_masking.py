"""A secret inside a tainted SQL expression never reaches a finding's text."""

from __future__ import annotations

import json
import zlib

from buildrunner.security.sql import scan_source
from buildrunner.security.validators import _base62


def github_token() -> str:
    body = "Zq8Kd2Lm4Np6Rs8Tv0Wx2Yz4Ab6Cd8"
    return "ghp_" + body + _base62(zlib.crc32(body.encode()), 6)


def test_python_finding_masks_a_token_in_the_expression() -> None:
    token = github_token()
    source = (
        "def load(cur, x):\n"
        f'    cur.execute("SELECT * FROM t WHERE sig = \'" + sign(x, key="{token}") + "\'")\n'
    )
    findings, skipped = scan_source("app.py", source)
    assert skipped is None and findings
    shown = json.dumps([finding.to_dict() for finding in findings])
    assert token not in shown
    assert "sign(x" in shown  # the expression is still named, only the secret is masked


def test_javascript_finding_masks_a_token_in_the_expression() -> None:
    token = github_token()
    source = (
        "async function load(client, x) {\n"
        f"  return client.query(`SELECT * FROM t WHERE sig = '${{sign(x, \"{token}\")}}'`);\n"
        "}\n"
    )
    findings, skipped = scan_source("app.js", source)
    assert skipped is None and findings
    shown = json.dumps([finding.to_dict() for finding in findings])
    assert token not in shown
    assert "sign(x" in shown
