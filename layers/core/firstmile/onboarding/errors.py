"""The onboarding domain's stable error codes (registered with the platform taxonomy)."""

from __future__ import annotations

from firstmile.http import problems as p

RES_FLOW_NOT_FOUND = p.register_code("RES_FLOW_NOT_FOUND", 404, "Flow not found")
RES_FLOW_VERSION_NOT_FOUND = p.register_code("RES_FLOW_VERSION_NOT_FOUND", 404, "Flow version not found")
RES_FLOW_EXISTS = p.register_code("RES_FLOW_EXISTS", 409, "Flow already exists")
RES_STEP_NOT_FOUND = p.register_code("RES_STEP_NOT_FOUND", 404, "Step not found")
RES_MIGRATION_NOT_FOUND = p.register_code("RES_MIGRATION_NOT_FOUND", 404, "Migration not found")
RES_ONBOARDING_NOT_FOUND = p.register_code("RES_ONBOARDING_NOT_FOUND", 404, "User has no onboarding")
BIZ_NO_DEFAULT_FLOW = p.register_code("BIZ_NO_DEFAULT_FLOW", 409, "The tenant has no default onboarding flow")
BIZ_FLOW_NOT_PUBLISHED = p.register_code("BIZ_FLOW_NOT_PUBLISHED", 409, "The flow has no published version")
BIZ_REQUIRED_STEP_NOT_SKIPPABLE = p.register_code(
    "BIZ_REQUIRED_STEP_NOT_SKIPPABLE", 409, "A required step cannot be skipped"
)
BIZ_STEP_OUT_OF_ORDER = p.register_code("BIZ_STEP_OUT_OF_ORDER", 409, "Earlier required steps are still open")
BIZ_STEP_TRANSITION_INVALID = p.register_code("BIZ_STEP_TRANSITION_INVALID", 409, "The step cannot make that change")
BIZ_STEP_HIDDEN = p.register_code("BIZ_STEP_HIDDEN", 409, "The step is hidden for this user")
BIZ_ONBOARDING_INCOMPLETE = p.register_code("BIZ_ONBOARDING_INCOMPLETE", 409, "Required steps are still open")
BIZ_ONBOARDING_FINISHED = p.register_code("BIZ_ONBOARDING_FINISHED", 409, "Onboarding is already finished")
VAL_STEP_MAP_INVALID = p.register_code("VAL_STEP_MAP_INVALID", 422, "The step map does not fit the two versions")
