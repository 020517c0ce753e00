"""Evaluating flags for a caller: the evaluation route's answer and onboarding's gates, both through the container's
``FlagSetCache`` (a kill is in force everywhere within its bound, decision 0062). The route's evaluations are
sampled into exposure events (``ExposureSampler``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from firstmile import errors as e
from firstmile.clock import Clock, utc_now
from firstmile.flags import logic
from firstmile.flags.cache import FlagSetCache
from firstmile.flags.exposures import ExposureSampler
from firstmile.flags.models import EvaluationContext
from firstmile.flags.shapes import EvaluationAnswer, EvaluationRequest


class FlagEvaluation:
    """Evaluates flags for callers, through the container's flag-set cache."""

    def __init__(
        self,
        cache: FlagSetCache,
        *,
        exposures: ExposureSampler | None = None,
        objections: Callable[[str, str], bool] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._cache = cache
        self._exposures = exposures
        # Whether a user objects to experiments (privacy's consent; decision 0084): they are never bucketed.
        self._objections = objections
        self._clock = clock

    def evaluate(
        self, tenant: str, user: str, token_attributes: Mapping[str, str], request: EvaluationRequest
    ) -> EvaluationAnswer:
        """Evaluate the named flags (default: all that are not archived) for the caller. The context is the token's
        tenant, user and attributes, plus the client-supplied attributes the tenant allows; the token's win."""
        settings = self._cache.settings(tenant)
        refused = sorted(set(request.attributes) - set(settings.client_attributes))
        if refused:
            raise e.DomainError(
                e.VAL_ATTRIBUTE_NOT_ALLOWED,
                f"The tenant does not let clients supply {', '.join(refused)}; "
                "allow them in PUT /v1/admin/flag-settings, or have the token carry them.",
                extensions={"attributes": refused},
            )
        now = self._clock()
        # The token was verified and the request body validated: the context is built without validating again.
        context = EvaluationContext.of_caller(
            tenant, user, {**request.attributes, **token_attributes}, now, unbucketed=self._objects(tenant, user)
        )
        freshness = self._cache.freshness(tenant)
        results = self._cache.evaluate_all(tenant, context, request.flags)
        # A user who objects is out of the experiments' measurement too: none of their evaluations is sampled.
        if self._exposures is not None and not context.unbucketed:
            self._exposures.sample(tenant, results.values(), settings.exposure_sample_rate, now)
        return EvaluationAnswer(flags=results, flag_set_version=self._cache.version(tenant), freshness=freshness)

    def gate_for(self, tenant: str, user: str, attributes: Mapping[str, str]) -> logic.FlagGate:
        """Onboarding's gate for one user: flags evaluated with the token's attributes, each at most once."""
        context = EvaluationContext.of_caller(
            tenant, user, dict(attributes), self._clock(), unbucketed=self._objects(tenant, user)
        )
        return self._cache.gate(tenant, context)

    def _objects(self, tenant: str, user: str) -> bool:
        return self._objections is not None and self._objections(tenant, user)
