"""A tiny calculator package: the project the demo build builds."""

from calc.ops import add, divide, mean, multiply

__all__ = ["add", "divide", "mean", "multiply"]
