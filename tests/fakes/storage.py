"""How a model reads back from the table, for the fakes: the stores write a model's JSON form (``None`` fields left
out, floats as ``Decimal``) and read it back with ``model_validate`` (whole ``Decimal`` numbers as ints)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from firstmile.platform.items import plain, storable

M = TypeVar("M", bound=BaseModel)


def stored(model: M) -> M:
    """``model`` as it reads back from storage; no caller shares an object with a fake."""
    body = {k: v for k, v in model.model_dump(mode="json").items() if v is not None}
    return type(model).model_validate(plain(storable(body)))
