"""The base of every pydantic model in the core layer.

A function imports the models of its whole domain and validates a few of them; building a model's validator and
serializer is most of what defining it costs. So every model's are built when it is first used (pydantic's
``defer_build``), in the request that needs them, not at import (decision 0045: cold start).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class Model(BaseModel):
    """A pydantic model whose validator and serializer are built on first use. Subclasses' own ``model_config``
    is merged with this one."""

    model_config = ConfigDict(defer_build=True)


class FieldChange(Model):
    """One top-level field of a versioned resource that a version changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(description="The resource's field, such as rules, enabled or threshold")
    before: JsonValue = Field(default=None, description="Its value in the previous version (null: none)")
    after: JsonValue = Field(default=None, description="Its value in this version (null: none)")


def field_changes(
    before: BaseModel | None, after: BaseModel, *, skip: frozenset[str] = frozenset()
) -> list[FieldChange]:
    """The top-level fields of ``after`` whose JSON value differs from ``before``'s (``before = None``: every field
    that has a value), in the order the model declares them, leaving out ``skip``."""
    old: dict[str, Any] = before.model_dump(mode="json") if before is not None else {}
    new: dict[str, Any] = after.model_dump(mode="json")
    return [
        FieldChange(field=name, before=old.get(name), after=new.get(name))
        for name in type(after).model_fields
        if name not in skip and old.get(name) != new.get(name)
    ]
