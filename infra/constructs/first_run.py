"""Run a function once when its stack is deployed: the signing-key writer, so a new stage can mint tokens at once.

Without it the first key would appear with the rotation job's first scheduled run, up to an hour after the
deployment, and every token request until then would answer 503. ``aws_cdk.triggers.Trigger`` invokes the
function synchronously through a custom resource once the function and its grants exist; a failed run fails the
deployment (and rolls it back) instead of leaving a stage that cannot sign.

The trigger's provider is a Node.js function that aws-cdk-lib adds to the stack as plain ``CfnResource``s, which
cdk-nag's rules do not inspect. :func:`_hold_provider_to_our_standard` gives it what every Firstmile function has
(decision 0034): a name in the stage's namespace, its own log group with retention, a role without AWS managed
policies that may write to that log group only, and active tracing. cfn-lint checks the result.
"""

from __future__ import annotations

from aws_cdk import CfnResource, CustomResourceProviderBase, Duration, RemovalPolicy, Stack, triggers
from aws_cdk import aws_logs as logs

from functions.catalog import Function
from infra.constructs.function import CatalogFunction, retention
from infra.settings import DeploymentSettings

# Where aws-cdk-lib puts the stack's one trigger provider (triggers/lib/trigger.ts, getOrCreateProvider).
TRIGGER_PROVIDER_ID = "AWSCDK.TriggerCustomResourceProviderCustomResourceProvider"


def runs_after_deploy(spec: Function) -> bool:
    """Whether ``spec`` is run once after its stack is deployed: the functions that write the signing keys."""
    return spec.access.signing_keys == "write"


def trigger_provider_name(settings: DeploymentSettings, stack_suffix: str) -> str:
    """The function name of the trigger provider of stack ``firstmile-<stage>-<stack_suffix>``."""
    name = f"firstmile-{settings.stage}-{stack_suffix}-first-run"
    if len(name) > 64:
        raise ValueError(f"{name!r} is longer than Lambda's 64 characters; shorten the stack name")
    return name


def run_after_deploy(fn: CatalogFunction, *, settings: DeploymentSettings, stack_suffix: str) -> triggers.Trigger:
    """Invoke ``fn`` once, after ``fn`` (its role and grants included) is deployed.

    What the function uses from other stacks (the table, the signing-keys secret) exists already: its stack is
    deployed after the data stack, and its environment imports their exports.
    """
    stack = Stack.of(fn)
    trigger = triggers.Trigger(
        stack,
        f"{fn.node.id}FirstRun",
        handler=fn.function,
        invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
        # The call waits for the function; its own timeout bounds the run, plus time for a cold start.
        timeout=Duration.seconds(fn.spec.timeout_seconds + 60),
        # Once: later deployments leave the keys to the hourly schedule (the job is idempotent, but a transient
        # failure of an extra run should not roll back an unrelated update).
        execute_on_handler_change=False,
        execute_after=[fn],
    )
    log_group = _hold_provider_to_our_standard(stack, settings, trigger_provider_name(settings, stack_suffix))
    # The provider's first invocation is this trigger's: its log group exists by then, so Lambda never creates
    # one of its own without retention.
    trigger.execute_after(log_group)
    return trigger


def _hold_provider_to_our_standard(stack: Stack, settings: DeploymentSettings, name: str) -> logs.LogGroup:
    """Name, log group, least-privilege role and tracing for the stack's trigger provider; returns its log group."""
    existing = stack.node.try_find_child(f"{TRIGGER_PROVIDER_ID}Logs")
    if isinstance(existing, logs.LogGroup):
        return existing  # one provider per stack, already done
    provider = stack.node.try_find_child(TRIGGER_PROVIDER_ID)
    handler = provider.node.try_find_child("Handler") if provider is not None else None
    role = provider.node.try_find_child("Role") if provider is not None else None
    if not (
        isinstance(provider, CustomResourceProviderBase)
        and isinstance(handler, CfnResource)
        and isinstance(role, CfnResource)
    ):
        raise RuntimeError(
            "aws-cdk-lib no longer builds the trigger provider as infra/constructs/first_run.py expects; "
            "revisit _hold_provider_to_our_standard"
        )
    log_group = logs.LogGroup(
        stack,
        f"{TRIGGER_PROVIDER_ID}Logs",
        log_group_name=f"/aws/lambda/{name}",
        retention=retention(settings.log_retention_days),
        removal_policy=RemovalPolicy.DESTROY,
    )
    # A literal name (not a Ref) so the role can name the log group without a cycle.
    handler.add_property_override("FunctionName", name)
    handler.add_property_override("Description", "Runs a Firstmile function once after its stack is deployed")
    handler.add_property_override("TracingConfig", {"Mode": "Active"})
    # AWSLambdaBasicExecutionRole may create and write every log group of the account; this role writes its own.
    role.add_property_deletion_override("ManagedPolicyArns")
    provider.add_to_role_policy(
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_group.log_group_arn,
        }
    )
    provider.add_to_role_policy(
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}
    )
    return log_group
