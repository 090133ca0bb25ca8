"""The model catalog: shipped prices, aliases, overrides and price arithmetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from buildrunner.config import RoutingSettings
from buildrunner.errors import RoutingError
from buildrunner.routing.catalog import load_catalog, parse_catalog, price_call


def test_shipped_catalog_has_current_and_legacy_tiers() -> None:
    catalog = load_catalog()
    haiku, sonnet, opus = catalog.get("haiku"), catalog.get("sonnet"), catalog.get("opus")
    assert (haiku.input_per_mtok, haiku.output_per_mtok) == (Decimal("1.00"), Decimal("5.00"))
    assert (sonnet.input_per_mtok, sonnet.output_per_mtok) == (Decimal("3.00"), Decimal("15.00"))
    assert (opus.input_per_mtok, opus.output_per_mtok) == (Decimal("5.00"), Decimal("25.00"))
    assert [m.tier for m in (haiku, sonnet, opus)] == ["fast", "balanced", "advanced"]
    old_haiku = catalog.get("claude-haiku-3-5-20241022")  # the seed's id, kept for history
    assert old_haiku.legacy and old_haiku.input_per_mtok == Decimal("0.25")
    assert catalog.get("claude-opus-4-20250514").output_per_mtok == Decimal("75.00")
    assert catalog.tier_model("fast") is haiku  # legacy models are never a tier's pick


def test_lookup_is_case_insensitive_and_unknown_names_list_known_ones() -> None:
    catalog = load_catalog()
    assert catalog.get("OPUS").id == catalog.get("claude-opus-4-6").id
    assert catalog.get("Claude-Opus-4-5").id == "claude-opus-4-5-20251101"
    with pytest.raises(RoutingError, match=r"unknown model 'gpt-9'.*haiku"):
        catalog.get("gpt-9")


def test_price_call_uses_all_token_kinds_and_rounds_to_micro_dollars() -> None:
    sonnet = load_catalog().get("sonnet")
    cost = price_call(sonnet, 1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert cost == Decimal("3") + Decimal("15") + Decimal("3.75") + Decimal("0.30")
    assert price_call(sonnet, 1, 0) == Decimal("0.000003")
    assert price_call(sonnet, 1, 1).as_tuple().exponent == -6


def test_catalog_override_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        'tiers = ["small", "big"]\n[levels]\nsimple = "small"\nmoderate = "small"\n'
        'complex = "big"\ncritical = "big"\n'
        '[[models]]\nid = "tiny-1"\ntier = "small"\ninput_per_mtok = 0.5\noutput_per_mtok = 1.5\n'
        '[[models]]\nid = "huge-1"\naliases = ["huge"]\ntier = "big"\n'
        'input_per_mtok = "10"\noutput_per_mtok = "30"\n',
        encoding="utf-8",
    )
    catalog = load_catalog(RoutingSettings(catalog="models.toml"), root=tmp_path)
    tiny = catalog.get("tiny-1")
    assert tiny.input_per_mtok == Decimal("0.5")  # written digits, not binary float noise
    assert tiny.cache_read_per_mtok == Decimal("0.05")  # default: a tenth of input
    assert catalog.resolve("big").id == "huge-1"
    assert catalog.source.endswith("models.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models = 3", "at least one"),
        ('[[models]]\nid = "a"\ntier = "t"\ninput_per_mtok = 1\n', "missing field output_per_mtok"),
        (
            '[[models]]\nid = "a"\ntier = "t"\ninput_per_mtok = -1\noutput_per_mtok = 1\n',
            "negative",
        ),
        (
            '[[models]]\nid = "a"\ntier = "t"\ninput_per_mtok = 1\noutput_per_mtok = 1\n'
            '[levels]\nsimple = "nope"\n',
            "unknown model 'nope'",
        ),
        ("[[models", "invalid TOML"),
    ],
)
def test_bad_catalogs_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(RoutingError, match=message):
        parse_catalog(text, "test.toml")


def test_missing_catalog_file_is_a_routing_error(tmp_path: Path) -> None:
    with pytest.raises(RoutingError, match="cannot read model catalog"):
        load_catalog(RoutingSettings(catalog=str(tmp_path / "nope.toml")))


def test_catalog_without_levels_maps_them_onto_its_tiers_by_order() -> None:
    text = "".join(
        f'[[models]]\nid = "{name}"\ntier = "{tier}"\ninput_per_mtok = 1\noutput_per_mtok = 2\n'
        for name, tier in (("a", "low"), ("b", "mid"), ("c", "top"))
    )
    catalog = parse_catalog(text, "test.toml")
    assert catalog.tiers == ("low", "mid", "top")
    assert dict(catalog.levels) == {
        "simple": "low", "moderate": "mid", "complex": "top", "critical": "top",
    }  # fmt: skip
    single = parse_catalog(text.split("[[models]]")[1].join(["[[models]]", ""]), "one.toml")
    assert set(single.levels.values()) == {"low"}


# --- lifecycle: deprecated_on / retires_on ------------------------------------------------------

TODAY = date(2026, 11, 30)


def test_shipped_catalog_knows_the_sdk_end_of_life_dates() -> None:
    catalog = load_catalog()
    sonnet_45, opus_45 = catalog.get("claude-sonnet-4-5"), catalog.get("claude-opus-4-5")
    assert sonnet_45.retires_on == date(2026, 11, 30) and opus_45.retires_on == date(2027, 1, 22)
    assert sonnet_45.lifecycle(TODAY) == "retired"  # end of life is today
    assert sonnet_45.lifecycle(date(2026, 11, 29)) == "active"
    assert opus_45.lifecycle(TODAY) == "deprecated"
    assert opus_45.lifecycle(date(2027, 1, 22)) == "retired"
    assert catalog.get("sonnet").lifecycle(TODAY) == "active"
    data = opus_45.to_dict()
    assert data["deprecated_on"] == "2026-11-30" and data["retires_on"] == "2027-01-22"


def test_tier_pick_skips_retired_and_prefers_active_models() -> None:
    text = (
        'tiers = ["t"]\n'
        '[[models]]\nid = "old"\ntier = "t"\ninput_per_mtok = 1\noutput_per_mtok = 2\n'
        "retires_on = 2026-01-01\n"
        '[[models]]\nid = "aging"\ntier = "t"\ninput_per_mtok = 1\noutput_per_mtok = 2\n'
        'deprecated_on = "2026-06-01"\nretires_on = 2032-06-01\n'
        '[[models]]\nid = "new"\ntier = "t"\ninput_per_mtok = 1\noutput_per_mtok = 2\n'
        "deprecated_on = 2030-01-01\nretires_on = 2035-01-01\n"
    )
    catalog = parse_catalog(text, "test.toml")
    assert catalog.tier_model("t").id == "old"  # without a date: file order, as before
    assert catalog.tier_model("t", TODAY).id == "new"  # retired skipped, deprecated last
    assert catalog.tier_model("t", date(2031, 1, 1)).id == "aging"  # both deprecated: file order
    assert catalog.successor(catalog.get("aging"), TODAY).id == "new"
    with pytest.raises(RoutingError, match="no usable model in tier 't'"):
        catalog.tier_model("t", date(2040, 1, 1))


def test_a_bad_lifecycle_date_is_refused_with_the_model_named() -> None:
    text = '[[models]]\nid = "a"\ntier = "t"\ninput_per_mtok = 1\noutput_per_mtok = 1\nretires_on = "soon"\n'
    with pytest.raises(RoutingError, match=r"model a: retires_on must be a date like 2026-11-30"):
        parse_catalog(text, "test.toml")
