"""Task complexity: the registry of estimators and the one call the rest of br makes.

Each estimator lives in its own module over `estimator_base.py` (`heuristic.py`: a table of
weighted signals; `learned.py`: a small linear model trained offline) and registers here by name,
like pre-commit's `all_languages.py`. `auto` is the one that measured better in cross-validation
(benchmarks/routing_eval.py, docs/ROUTING.md). The level is a signal for routing, not its decision
(see `routing/policy.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from buildrunner.errors import RoutingError
from buildrunner.routing.estimator_base import LEVELS, Estimate, Estimator
from buildrunner.routing.heuristic import HeuristicEstimator

__all__ = [
    "AUTO_ESTIMATOR", "ESTIMATORS", "ESTIMATOR_NAMES", "LEVELS", "Estimate", "Estimator",
    "HeuristicEstimator", "estimate_complexity", "get_estimator",
]  # fmt: skip


def _learned() -> Estimator:
    # imported on use: NumPy and the model file cost start-up time the heuristic never needs
    from buildrunner.routing.learned import LearnedEstimator

    return LearnedEstimator.load()


ESTIMATORS: dict[str, Callable[[], Estimator]] = {
    "heuristic": HeuristicEstimator,
    "learned": _learned,
}
# Chosen by 5-fold cross-validation on the labelled dev set (docs/ROUTING.md has the figures).
AUTO_ESTIMATOR = "learned"
ESTIMATOR_NAMES = ("auto", *ESTIMATORS)


@lru_cache(maxsize=4)
def get_estimator(name: str = "auto") -> Estimator:
    """The estimator called `name` (`auto` is the measured best); RoutingError if unknown."""
    factory = ESTIMATORS.get(AUTO_ESTIMATOR if name == "auto" else name)
    if factory is None:
        raise RoutingError(f"unknown estimator '{name}' (choose from {', '.join(ESTIMATOR_NAMES)})")
    return factory()


def estimate_complexity(
    text: str, files: Sequence[str] | None = None, estimator: str = "auto"
) -> Estimate:
    """Estimate how hard a task is from its description and declared files."""
    return get_estimator(estimator).estimate(text, tuple(files or ()))
