"""AWS failures as the platform's domain errors (declared in ``firstmile.errors`` and re-exported here for the
stores that import them from the platform)."""

from __future__ import annotations

from firstmile.errors import DependencyUnavailableError as DependencyUnavailableError
from firstmile.errors import ItemRefusedError as ItemRefusedError
from firstmile.errors import NotFoundError as NotFoundError
from firstmile.errors import VersionConflictError as VersionConflictError
