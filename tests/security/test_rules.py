"""Each rule family finds its format; look-alikes (hard negatives) stay quiet."""

from __future__ import annotations

import pytest

from buildrunner.security.engine import SecretEngine
from buildrunner.security.masking import mask_secret
from buildrunner.security.rules import RULES, rules_by_id
from buildrunner.security.validators import github_checksum_ok
from tests.security.tokens import TokenFactory, negatives, positives

ENGINE = SecretEngine()
POSITIVES = positives(TokenFactory(seed=3))
NEGATIVES = negatives(TokenFactory(seed=4))


@pytest.mark.parametrize(
    ("rule_id", "line"), POSITIVES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(POSITIVES)]
)
def test_each_family_finds_its_format(rule_id: str, line: str) -> None:
    found = ENGINE.find(line, "config/settings.py")
    assert [m.rule.id for m in found] == [rule_id], line
    match = found[0]
    assert match.secret in line and line.index(match.secret) + 1 == match.column


@pytest.mark.parametrize("line", NEGATIVES, ids=[f"neg-{i}" for i in range(len(NEGATIVES))])
def test_hard_negatives_stay_quiet(line: str) -> None:
    assert ENGINE.find(line, "app/settings.py") == []


@pytest.mark.parametrize("seed", range(5))
def test_families_hold_across_random_values(seed: int) -> None:
    factory = TokenFactory(seed=100 + seed)
    for rule_id, line in positives(factory):
        assert [m.rule.id for m in ENGINE.find(line, "a.py")] == [rule_id], line
    for line in negatives(factory):
        assert ENGINE.find(line, "a.py") == [], line


def test_rule_table_is_data_with_enough_families() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert len({rule.provider for rule in RULES}) >= 30
    for rule in RULES:
        assert rule.keywords and all(k == k.lower() for k in rule.keywords), rule.id
        assert rule.severity in {"low", "medium", "high", "critical"}
    assert set(rules_by_id()) == set(ids)


def test_github_checksum_validates_the_crc() -> None:
    factory = TokenFactory(seed=9)
    assert github_checksum_ok(factory.github())
    assert not github_checksum_ok(factory.github(valid=False))


def test_private_key_block_is_one_finding_spanning_the_block() -> None:
    lines = TokenFactory(seed=5).pem_lines("OPENSSH ")
    text = "key = '''\n" + "\n".join(lines) + "\n'''\n"
    found = ENGINE.find(text, "deploy/key.py")
    assert [(m.rule.id, m.line) for m in found] == [("private-key", 2)]
    assert found[0].end_line > found[0].line


def test_private_key_placeholders_and_public_blocks_are_quiet() -> None:
    begin = "-----BEGIN "
    assert ENGINE.find(f"{begin}RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n") == []
    assert (
        ENGINE.find(f"{begin}PRIVATE KEY-----\n<your key here>\n-----END PRIVATE KEY-----\n") == []
    )
    assert ENGINE.find(f"{begin}CERTIFICATE-----\n{'A' * 64}\n-----END CERTIFICATE-----\n") == []


def test_service_account_json_reports_the_private_key_line() -> None:
    factory = TokenFactory(seed=6)
    pem = "\\n".join(factory.pem_lines(""))
    text = (
        f'{{\n  "type": "service_account",\n  "private_key_id": "{factory.s(40, "0123456789abcdef")}",\n'
        f'  "private_key": "{pem}\\n",\n  "client_email": "x@p.iam.gserviceaccount.com"\n}}\n'
    )
    found = ENGINE.find(text, "key.json")
    assert [(m.rule.id, m.line) for m in found] == [("gcp-service-account", 4)]


def test_specific_rule_wins_over_generic_on_the_same_value() -> None:
    factory = TokenFactory(seed=7)
    line = f'GITHUB_TOKEN = "{factory.github()}"'
    assert [m.rule.id for m in ENGINE.find(line, ".env")] == ["github-token"]


def test_minified_lines_skip_generic_assignments() -> None:
    factory = TokenFactory(seed=8)
    line = ";".join(f'var a{i}={{token:"{factory.s(20)}"}}' for i in range(80))
    assert ENGINE.find(line, "bundle.min.js") == []
    assert [m.rule.id for m in ENGINE.find(f'var t={{token:"{factory.s(20)}"}}', "app.js")] == [
        "generic-secret"
    ]


def test_lock_files_skip_generic_assignments_but_not_provider_tokens() -> None:
    factory = TokenFactory(seed=10)
    assert ENGINE.find(f'  "token": "{factory.s(32)}",', "package-lock.json") == []
    assert ENGINE.find(f'  "x": "{factory.github()}",', "package-lock.json") != []


def test_engine_subset_of_rules() -> None:
    only = SecretEngine(rule_ids=["aws-access-key-id"])
    factory = TokenFactory(seed=11)
    text = (
        f'a = "AKIA{factory.s(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}"\nb = "{factory.github()}"\n'
    )
    assert [m.rule.id for m in only.find(text)] == ["aws-access-key-id"]


def test_mask_secret_never_shows_more_than_eight_characters() -> None:
    assert mask_secret("short") == "****"
    assert mask_secret("elevenchars") == "****"
    assert mask_secret("abcdefghijkl") == "abcd…ijkl"


def test_pure_python_prefilter_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ahocorasick_rs", None)  # import fails: fallback path
    slow = SecretEngine()
    text = "\n".join(line for _, line in POSITIVES) + "\n" + "\n".join(NEGATIVES) + "\n"
    fast_found = [(m.rule.id, m.line, m.column) for m in ENGINE.find(text, "a.py")]
    assert [(m.rule.id, m.line, m.column) for m in slow.find(text, "a.py")] == fast_found
    assert len(fast_found) == len(POSITIVES)
