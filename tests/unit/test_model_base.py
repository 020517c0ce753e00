"""Every pydantic model of the core layer builds its validator on first use (``firstmile.model.Model``): a model
defined on ``BaseModel`` directly would be built at import, in every cold start of every function that imports it."""

from __future__ import annotations

import importlib
import pkgutil

from pydantic import BaseModel

import firstmile
from firstmile.model import Model


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_model_of_the_core_layer_defers_its_build() -> None:
    for module in pkgutil.walk_packages(firstmile.__path__, "firstmile."):
        importlib.import_module(module.name)
    ours = {
        cls
        for cls in _subclasses(BaseModel)
        if cls.__module__.startswith("firstmile.") and "[" not in cls.__name__  # Page[X]: made from Page
    }

    assert len(ours) > 50
    assert sorted(c.__qualname__ for c in ours if not issubclass(c, Model)) == []
    assert sorted(c.__qualname__ for c in ours if not c.model_config.get("defer_build")) == []
