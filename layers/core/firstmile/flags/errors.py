"""The flag domain's stable error codes (registered with the platform taxonomy). The codes of a flag set that
cannot be evaluated (prerequisite cycles, missing references) live with ``logic.validate_flag_set``."""

from __future__ import annotations

from firstmile.http import problems as p

RES_FLAG_NOT_FOUND = p.register_code("RES_FLAG_NOT_FOUND", 404, "Flag not found")
RES_FLAG_EXISTS = p.register_code("RES_FLAG_EXISTS", 409, "Flag already exists")
RES_FLAG_VERSION_NOT_FOUND = p.register_code("RES_FLAG_VERSION_NOT_FOUND", 404, "Flag version not found")
RES_SEGMENT_NOT_FOUND = p.register_code("RES_SEGMENT_NOT_FOUND", 404, "Segment not found")
RES_ROLLOUT_NOT_FOUND = p.register_code("RES_ROLLOUT_NOT_FOUND", 404, "The flag has no rollout plan")
RES_PRECONDITION_REQUIRED = p.RES_PRECONDITION_REQUIRED
VAL_FLAG_KEY_MISMATCH = p.register_code("VAL_FLAG_KEY_MISMATCH", 422, "The body names another key than the path")
VAL_SEGMENT_KEY_MISMATCH = p.register_code(
    "VAL_SEGMENT_KEY_MISMATCH", 422, "The body names another segment key than the path"
)
VAL_ATTRIBUTE_NOT_ALLOWED = p.register_code(
    "VAL_ATTRIBUTE_NOT_ALLOWED", 422, "The tenant does not let clients supply this attribute"
)
VAL_ROLLOUT_RULE_INVALID = p.register_code("VAL_ROLLOUT_RULE_INVALID", 422, "The flag has no such rule to roll out")
VAL_ROLLOUT_STEPS_INVALID = p.register_code(
    "VAL_ROLLOUT_STEPS_INVALID", 422, "A rollout's first step is below the rule's current percentage"
)
BIZ_ROLLOUT_ACTIVE = p.register_code("BIZ_ROLLOUT_ACTIVE", 409, "The flag already has an active rollout plan")
BIZ_ROLLOUT_ENDED = p.register_code("BIZ_ROLLOUT_ENDED", 409, "The rollout plan has already ended")
