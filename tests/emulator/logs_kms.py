"""CloudWatch Logs AssociateKmsKey / DisassociateKmsKey on moto's own log groups.

moto 5.2.1 stores a log group's key in `LogGroup.kms_key_id` (set from `kmsKeyId` at
CreateLogGroup) and its DescribeLogGroups returns it as `kmsKeyId`, but it does not implement
the two association operations (HTTP 500). They are answered here by updating the same in-process
object, so a later DescribeLogGroups served by moto shows the change.

Shapes per botocore's logs service-2.json (JSON 1.1, target prefix Logs_20140328): the request
names the group by `logGroupName` or `resourceIdentifier` (never both); the operations have no
output; errors carry `__type` in the body with HTTP 400.

As in AWS, CloudWatch Logs itself must be allowed by the key policy: unless a statement lets
`logs.<region>.amazonaws.com` use the key (`kms:GenerateDataKey` and `kms:Decrypt`, conditions on
the log group's encryption context satisfied), AssociateKmsKey answers 400
`AccessDeniedException` "The specified KMS key does not exist or is not allowed to be used with
Arn '<log group ARN>'" (the message AWS returns, as reported by users of CloudFormation,
Terraform and the CDK; the code is not in botocore's model). Conditions this emulation cannot
decide make a statement not apply (a Deny: apply).
"""

from __future__ import annotations

import fnmatch
import json
import re

from awsproto import AwsRequest, Response, json_protocol_error

_LOG_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:([a-z0-9-]+):(\d{12}):log-group:([^:]+)(?::\*)?")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/([a-zA-Z0-9-]+)")
_MEMBERS = {"AssociateKmsKey": {"logGroupName", "kmsKeyId", "resourceIdentifier"}, "DisassociateKmsKey": {"logGroupName", "resourceIdentifier"}}


class _LogsError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def handle(request: AwsRequest, logs_backends, kms_backends) -> Response:
    try:
        body = _body(request)
        group = _log_group(request, body, logs_backends)
        if request.operation == "AssociateKmsKey":
            key_arn = _usable_key(body.get("kmsKeyId"), kms_backends)
            _check_key_policy(key_arn, group, request.region, kms_backends)
            group.kms_key_id = key_arn
        else:
            group.kms_key_id = None
    except _LogsError as error:
        return json_protocol_error(400, error.code, error.message, request.target)
    return 200, [("Content-Type", "application/x-amz-json-1.1")], b""


def _body(request: AwsRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise _LogsError("SerializationException", "Request body is not valid JSON")
    if not isinstance(body, dict):
        raise _LogsError("SerializationException", "Request body must be a JSON object")
    unknown = sorted(set(body) - _MEMBERS[request.operation])
    if unknown:
        raise _LogsError("InvalidParameterException", f"Unknown parameter(s): {', '.join(unknown)}")
    return body


def _log_group(request: AwsRequest, body: dict, logs_backends):
    name, identifier = body.get("logGroupName"), body.get("resourceIdentifier")
    if (name is None) == (identifier is None):
        raise _LogsError("InvalidParameterException", "Specify exactly one of logGroupName and resourceIdentifier.")
    region = request.region
    if identifier is not None:
        # A log-group ARN; the other documented form (query-result) is not emulated.
        match = _LOG_GROUP_ARN.fullmatch(identifier)
        if not match:
            raise _LogsError("InvalidParameterException", f"resourceIdentifier is not a log group ARN: {identifier}")
        if match.group(1) != region or match.group(2) != request.account:
            raise _LogsError("ResourceNotFoundException", "The specified log group does not exist.")
        name = match.group(3)
    group = logs_backends[request.account][region].groups.get(name)
    if group is None:
        raise _LogsError("ResourceNotFoundException", "The specified log group does not exist.")
    return group


def _usable_key(key_arn: object, kms_backends) -> str:
    """AWS wants a KMS key ARN and answers InvalidParameterException for a key that does not
    exist or is disabled; the key is looked up in moto's KMS, where the tests create it."""
    if not isinstance(key_arn, str) or not key_arn:
        raise _LogsError("InvalidParameterException", "kmsKeyId is required.")
    match = _KMS_KEY_ARN.fullmatch(key_arn)
    if not match:
        raise _LogsError("InvalidParameterException", f"kmsKeyId must be a KMS key ARN: {key_arn}")
    region, account, key_id = match.groups()
    try:
        key = kms_backends[account][region].keys.get(key_id)
    except KeyError:  # not a region moto knows
        key = None
    if key is None or key.key_state != "Enabled":
        raise _LogsError("InvalidParameterException", f"Specified KMS key {key_arn} does not exist or is not enabled.")
    return key_arn


_LOGS_NEEDS = ("kms:GenerateDataKey", "kms:Decrypt")


def _check_key_policy(key_arn: str, group, region: str, kms_backends) -> None:
    region_of_key, account, key_id = _KMS_KEY_ARN.fullmatch(key_arn).groups()
    key = kms_backends[account][region_of_key].keys[key_id]
    group_arn = group.arn.removesuffix(":*")
    principal = f"logs.{region}.amazonaws.com"
    try:
        policy = json.loads(key.policy)
    except (TypeError, ValueError):
        policy = {}
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    context = {"kms:encryptioncontext:aws:logs:arn": group_arn, "aws:sourceaccount": group_arn.split(":")[4]}
    for action in _LOGS_NEEDS:
        allowed = False
        for statement in statements:
            applies = _applies(statement, principal, action, context)
            if statement.get("Effect") == "Deny" and applies is not False:
                allowed = False
                break
            if statement.get("Effect") == "Allow" and applies is True:
                allowed = True
        if not allowed:
            raise _LogsError(
                "AccessDeniedException",
                f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'",
            )


def _strings(value) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _applies(statement: dict, principal: str, action: str, context: dict) -> bool | None:
    """True, False, or None (cannot tell) for one statement and request."""
    who = statement.get("Principal")
    if who == "*" or (isinstance(who, dict) and "*" in _strings(who.get("AWS", []))):
        principal_hit = True
    elif isinstance(who, dict):
        principal_hit = principal in [p.lower() for p in _strings(who.get("Service", []))]
    else:
        return None
    if not principal_hit:
        return False
    if not any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _strings(statement.get("Action", []))):
        return False
    answer: bool | None = True
    for operator, entries in (statement.get("Condition") or {}).items():
        for key, values in (entries or {}).items():
            value = context.get(key.lower())
            base = operator.removesuffix("IfExists")
            if value is None:
                hit = None if not operator.endswith("IfExists") else True
            elif base in ("StringEquals", "ArnEquals"):
                hit = value in _strings(values)
            elif base in ("StringLike", "ArnLike"):
                hit = any(fnmatch.fnmatchcase(value, pattern) for pattern in _strings(values))
            else:
                hit = None
            if hit is False:
                return False
            if hit is None:
                answer = None
    return answer
