"""The model catalog: ids, aliases, tiers, list prices and lifecycle dates, from a TOML data file.

The shipped file is `routing/data/models.toml`; `[routing] catalog = "PATH"` replaces it. Prices
are Decimal USD per million tokens so that cost arithmetic never goes through floats. A model with
`retires_on` on or before today is retired: never picked, refused when named; one with
`deprecated_on` on or before today still works but selecting it carries a warning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildrunner.errors import RoutingError
from buildrunner.routing.estimator_base import LEVELS

if TYPE_CHECKING:
    from buildrunner.config import RoutingSettings

MICRO = Decimal("0.000001")
PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelInfo:
    """One model of the catalog, with its list prices (USD per million tokens)."""

    id: str
    provider: str
    tier: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_write_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    context_window: int
    latency_ms: int
    max_output_tokens: int = 8192
    aliases: tuple[str, ...] = ()
    legacy: bool = False
    deprecated_on: date | None = None
    retires_on: date | None = None

    def lifecycle(self, today: date) -> str:
        """`active`, `deprecated` (still callable, warn) or `retired` (never used) on `today`."""
        if self.retires_on is not None and today >= self.retires_on:
            return "retired"
        if self.deprecated_on is not None and today >= self.deprecated_on:
            return "deprecated"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (prices as decimal strings, dates as ISO 8601)."""
        return {
            "id": self.id,
            "aliases": list(self.aliases),
            "provider": self.provider,
            "tier": self.tier,
            "legacy": self.legacy,
            "deprecated_on": _iso(self.deprecated_on),
            "retires_on": _iso(self.retires_on),
            "input_per_mtok": str(self.input_per_mtok),
            "output_per_mtok": str(self.output_per_mtok),
            "cache_write_per_mtok": str(self.cache_write_per_mtok),
            "cache_read_per_mtok": str(self.cache_read_per_mtok),
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True)
class Catalog:
    """Models by id and alias, tier order, default level->tier map and fallback chains."""

    models: tuple[ModelInfo, ...]
    tiers: tuple[str, ...]
    levels: Mapping[str, str] = field(default_factory=dict)
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "built-in"

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self.models)

    def find(self, name: str) -> ModelInfo | None:
        """The model whose id or alias is `name` (case-insensitive), or None."""
        wanted = name.strip().lower()
        for model in self.models:
            if model.id.lower() == wanted or wanted in (a.lower() for a in model.aliases):
                return model
        return None

    def get(self, name: str) -> ModelInfo:
        """The model named `name` (id or alias); RoutingError naming the known models if none."""
        model = self.find(name)
        if model is None:
            known = ", ".join(sorted({a for m in self.models for a in (m.id, *m.aliases)}))
            raise RoutingError(f"unknown model '{name}' (known: {known})")
        return model

    def tier_model(self, tier: str, today: date | None = None) -> ModelInfo:
        """The preferred model of a tier: the first non-legacy one, skipping retired models and
        preferring one that is not deprecated (on `today`, when given)."""
        members = [m for m in self.models if m.tier == tier and not m.legacy]
        if today is not None:
            members = [m for m in members if m.lifecycle(today) != "retired"]
            members.sort(key=lambda m: m.lifecycle(today) == "deprecated")  # stable: file order
        if members:
            return members[0]
        raise RoutingError(
            f"no {'usable ' if today is not None else ''}model in tier '{tier}'"
            f" (tiers: {', '.join(self.tiers)})"
        )

    def resolve(self, tier_or_model: str, today: date | None = None) -> ModelInfo:
        """A tier name gives its preferred model; anything else is a model id or alias."""
        if tier_or_model in self.tiers:
            return self.tier_model(tier_or_model, today)
        return self.get(tier_or_model)

    def successor(self, model: ModelInfo, today: date) -> ModelInfo | None:
        """What to use instead of a deprecated or retired model: its tier's current pick."""
        try:
            pick = self.tier_model(model.tier, today)
        except RoutingError:
            return None
        return None if pick.id == model.id else pick

    def tier_rank(self, model: ModelInfo) -> int:
        """Position of the model's tier, cheapest first (unknown tiers rank last)."""
        return self.tiers.index(model.tier) if model.tier in self.tiers else len(self.tiers)


def price_call(
    model: ModelInfo,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> Decimal:
    """USD cost of one call at the model's list prices, rounded to the micro-dollar."""
    total = (
        model.input_per_mtok * input_tokens
        + model.output_per_mtok * output_tokens
        + model.cache_write_per_mtok * cache_write_tokens
        + model.cache_read_per_mtok * cache_read_tokens
    ) / PER_MILLION
    return total.quantize(MICRO)


def load_catalog(settings: RoutingSettings | None = None, *, root: Path | None = None) -> Catalog:
    """The shipped catalog, or the file named by `settings.catalog` (relative to `root`)."""
    if settings is not None and settings.catalog:
        path = Path(settings.catalog)
        if not path.is_absolute() and root is not None:
            path = root / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RoutingError(f"cannot read model catalog {path}: {exc.strerror}") from None
        return parse_catalog(text, str(path))
    text = resources.files("buildrunner.routing").joinpath("data/models.toml").read_text("utf-8")
    return parse_catalog(text, "built-in")


def parse_catalog(text: str, source: str) -> Catalog:
    """Validate a catalog document; errors name the source and the offending model/field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError(f"{source}: invalid TOML: {exc}") from None
    raw_models = data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise RoutingError(f"{source}: a catalog needs at least one [[models]] entry")
    models = tuple(_parse_model(entry, source, i) for i, entry in enumerate(raw_models))
    ids = [m.id for m in models]
    if len(set(ids)) != len(ids):
        raise RoutingError(f"{source}: duplicate model ids")
    tiers = tuple(data.get("tiers") or dict.fromkeys(m.tier for m in models))
    levels = {str(k): str(v) for k, v in (data.get("levels") or {}).items()}
    for level, tier in zip(LEVELS, _default_tiers(tiers), strict=True):
        levels.setdefault(level, tier)
    fallbacks = {str(k): tuple(str(x) for x in v) for k, v in (data.get("fallbacks") or {}).items()}
    catalog = Catalog(models, tiers, levels, fallbacks, source)
    for level, target in levels.items():
        if level not in LEVELS:
            raise RoutingError(f"{source}: [levels] has unknown level '{level}'")
        catalog.resolve(target)
    for chain in fallbacks.values():
        for name in chain:
            catalog.resolve(name)
    return catalog


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _default_tiers(tiers: tuple[str, ...]) -> tuple[str, str, str, str]:
    """Without [levels]: simple -> cheapest tier, moderate -> the next, complex/critical -> top."""
    return tiers[0], tiers[min(1, len(tiers) - 1)], tiers[-1], tiers[-1]


_PRICES = ("input_per_mtok", "output_per_mtok", "cache_write_per_mtok", "cache_read_per_mtok")


def _parse_model(entry: Any, source: str, index: int) -> ModelInfo:
    if not isinstance(entry, dict):
        raise RoutingError(f"{source}: models[{index}] is not a table")
    name = entry.get("id") or f"models[{index}]"
    try:
        prices = {key: _price(entry[key]) for key in _PRICES if key in entry}
        for key in ("input_per_mtok", "output_per_mtok"):
            if key not in prices:
                raise KeyError(key)
        prices.setdefault("cache_write_per_mtok", prices["input_per_mtok"] * Decimal("1.25"))
        prices.setdefault("cache_read_per_mtok", prices["input_per_mtok"] * Decimal("0.1"))
        return ModelInfo(
            id=str(entry["id"]),
            provider=str(entry.get("provider", "anthropic")),
            tier=str(entry["tier"]),
            context_window=int(entry.get("context_window", 200_000)),
            latency_ms=int(entry.get("latency_ms", 1000)),
            max_output_tokens=int(entry.get("max_output_tokens", 8192)),
            aliases=tuple(str(a) for a in entry.get("aliases", ())),
            legacy=bool(entry.get("legacy", False)),
            deprecated_on=_date(entry.get("deprecated_on"), "deprecated_on"),
            retires_on=_date(entry.get("retires_on"), "retires_on"),
            **prices,
        )
    except KeyError as exc:
        raise RoutingError(f"{source}: model {name}: missing field {exc.args[0]}") from None
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise RoutingError(f"{source}: model {name}: {exc}") from None


def _date(value: Any, key: str) -> date | None:
    """A TOML date (`2026-11-30`) or an ISO string; a datetime keeps its date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{key} must be a date like 2026-11-30 (got {value!r})") from None


def _price(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # TOML floats: keep the written digits, not the binary value
    price = Decimal(str(value))
    if price < 0:
        raise ValueError(f"negative price {value}")
    return price
