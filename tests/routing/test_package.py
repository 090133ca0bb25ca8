"""`buildrunner.routing` exposes its public names lazily, and each one is real."""

from __future__ import annotations

import pytest

import buildrunner.routing as routing


@pytest.mark.parametrize("name", routing.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(routing, name)
    assert value is not None
    if callable(value):
        assert value.__name__ == name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        routing.nope  # noqa: B018
