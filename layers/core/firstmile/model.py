"""The base of every pydantic model in the core layer.

A function imports the models of its whole domain and validates a few of them; building a model's validator and
serializer is most of what defining it costs. So every model's are built when it is first used (pydantic's
``defer_build``), in the request that needs them, not at import (decision 0045: cold start).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator and serializer are built on first use. Subclasses' own ``model_config``
    is merged with this one."""

    model_config = ConfigDict(defer_build=True)
