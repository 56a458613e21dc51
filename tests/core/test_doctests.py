"""The examples in the docstrings are run: a reader who copies one gets what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("dronekit_plzen", "missions", "lidar", "telemetry", "photo")


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        for info in pkgutil.walk_packages(mod.__path__, prefix=pkg + "."):
            if not info.name.rsplit(".", 1)[-1].startswith("__"):
                names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
