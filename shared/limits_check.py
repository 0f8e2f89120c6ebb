"""The CloudFormation and Lambda limits a growing platform can cross, checked on the
rendered templates before anything is written or sent to AWS.

Each limit a template crosses is a config error naming the config file that grows the
stack (a service's ``service.yaml``; ``config/platform.yaml`` for the platform's own
stacks), the number and the limit, and what to do. Sources:

- CloudFormation quotas (resources, parameters and outputs per template; template body
  in a request):
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
- a template read from S3 (TemplateURL) may be up to 1 MB:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-using-console-create-stack-template.html
  The deploy engine sends bodies up to 51,200 bytes inline and larger ones through the
  account's assets bucket (shared/deploy/cloudformation.py), except the bootstrap
  stacks: they create that bucket, so their body must fit in the request.
- a Lambda function's resource-based policy holds at most 20 KB:
  https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archway.shared.errors import ConfigError, ConfigErrors

MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_BODY_INLINE = 51_200  # bytes, TemplateBody in the request
MAX_BODY_S3 = 1_000_000  # bytes: "1 MB", read as the smaller (decimal) megabyte
MAX_FUNCTION_POLICY = 20 * 1024  # bytes
PERMISSION = "AWS::Lambda::Permission"

# What ${...} in a Sub can become, at its longest, when Lambda stores a policy statement:
# a partition (aws-us-gov), a region (ap-southeast-5), an account id, a REST API id (10
# characters) and, for anything else (a function name: at most 64), the longest name.
_PLACEHOLDERS = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-5",
                 "AWS::AccountId": "0" * 12, "AWS::URLSuffix": "amazonaws.com.cn"}
_API_ID = "x" * 10
_NAME = "x" * 64
_SUB = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Body:
    """What the limits look at in one rendered template (counts, size, permissions)."""

    stack: str
    kind: str
    file: str  # the config file whose growth grows this stack
    size: int  # bytes of the body as sent
    resources: int
    parameters: int
    outputs: int
    permissions: dict[str, dict[str, Any]]  # logical id -> AWS::Lambda::Permission

    @classmethod
    def of(cls, stack: str, kind: str, template: dict[str, Any], file: str,
           text: str | None = None) -> Body:
        """From a template as a dict (``text``: the body exactly as sent, if not the
        template's indented JSON)."""
        text = text if text is not None else json.dumps(template, indent=1, sort_keys=True)
        found = template.get("Resources", {})
        return cls(stack, kind, file, len(text.encode("utf-8")), len(found),
                   len(template.get("Parameters", {})), len(template.get("Outputs", {})),
                   {k: v for k, v in found.items() if v.get("Type") == PERMISSION})


def check_rendered(scope: Any, rendered: Iterable[tuple[Any, str]]) -> None:
    """Synth's entry point: each (StackDef, body) of ``scope`` (a Platform or the tooling
    scope), blamed on the file that grows it. Counts come from the troposphere template
    (the body is not parsed again); only permissions are rendered a second time."""
    files = {service.stack_name: _relative(scope.root, service.source_dir.parent /
                                           "service.yaml")
             for service in getattr(scope, "services", ())}
    check(_body(stack, text, files.get(stack.name, "config/platform.yaml"))
          for stack, text in rendered)


def _body(stack: Any, text: str, file: str) -> Body:
    from archway.shared.blueprint.template_data import encode

    template = stack.template
    permissions = {name: encode(resource) for name, resource in template.resources.items()
                   if getattr(resource, "resource_type", None) == PERMISSION}
    return Body(stack.id, stack.kind, file, len(text.encode("utf-8")),
                len(template.resources), len(template.parameters), len(template.outputs),
                permissions)


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def check(bodies: Iterable[Body]) -> None:
    """Raise one ConfigError (or ConfigErrors) for every limit any template crosses."""
    errors = [error for body in bodies for error in problems(body)]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)


def problems(body: Body) -> list[ConfigError]:
    inline = body.kind == "bootstrap"
    split = "split the service (or move routes to a new one)" if body.kind == "service" \
        else "split the stack"
    counts = [
        ("resources", body.resources, MAX_RESOURCES, split),
        ("parameters", body.parameters, MAX_PARAMETERS, "pass values through fewer parameters"),
        ("outputs", body.outputs, MAX_OUTPUTS, "export fewer values"),
        ("bytes of template body" + (" (sent in the request: it creates the bucket larger "
                                     "ones go through)" if inline else " (sent through S3)"),
         body.size, MAX_BODY_INLINE if inline else MAX_BODY_S3, split),
    ]
    errors = [ConfigError(body.file, "", (
        f"stack {body.stack} would have {number:,} {what}, over CloudFormation's limit of "
        f"{limit:,} per template; {advice}"))
        for what, number, limit, advice in counts if number > limit]
    for function, policy in function_policies(body.permissions).items():
        if policy > MAX_FUNCTION_POLICY:
            errors.append(ConfigError(body.file, "", (
                f"stack {body.stack}: the resource-based policy of {function} would be about "
                f"{policy:,} bytes, over Lambda's limit of {MAX_FUNCTION_POLICY:,} bytes; "
                "grant invocations with fewer, wider permissions")))
    return errors


def function_policies(permissions: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per function (its logical id, or the name as written): the size its resource-based
    policy would reach with these permissions, each statement at its longest."""
    sizes: dict[str, int] = {}
    for logical, resource in permissions.items():
        props = resource.get("Properties", {})
        function = _function_key(props.get("FunctionName"))
        statement = _statement(logical, props)
        # the document's envelope: {"Version":"2012-10-17","Id":"default","Statement":[]}
        sizes[function] = sizes.get(function, 52) + len(statement) + 1
    return sizes


def _function_key(value: Any) -> str:
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    return json.dumps(value, sort_keys=True)


def _statement(logical: str, props: dict[str, Any]) -> str:
    """The statement as Lambda stores it (AddPermission), with the longest values."""
    function = f"arn:{_PLACEHOLDERS['AWS::Partition']}:lambda:{_PLACEHOLDERS['AWS::Region']}:" \
               f"{_PLACEHOLDERS['AWS::AccountId']}:function:{_NAME}:{_NAME}"
    statement: dict[str, Any] = {
        # CloudFormation names a statement <stack>-<logical id>-<suffix>
        "Sid": f"{'x' * 128}-{logical}-{'X' * 12}",
        "Effect": "Allow",
        "Principal": {"Service": _text(props.get("Principal", ""))},
        "Action": _text(props.get("Action", "lambda:InvokeFunction")),
        "Resource": function,
    }
    condition: dict[str, Any] = {}
    if "SourceArn" in props:
        condition["ArnLike"] = {"AWS:SourceArn": _text(props["SourceArn"])}
    if "SourceAccount" in props:
        condition["StringEquals"] = {"AWS:SourceAccount": _text(props["SourceAccount"])}
    if condition:
        statement["Condition"] = condition
    return json.dumps(statement, separators=(",", ":"))


def _text(value: Any) -> str:
    """A property value as text, every intrinsic at its longest."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        return _SUB.sub(lambda m: _PLACEHOLDERS.get(m.group(1)) or (
            _API_ID if m.group(1) == "Api" else _NAME), str(text))
    if isinstance(value, dict) and "Ref" in value:
        return _PLACEHOLDERS.get(value["Ref"], _NAME)
    return _NAME
