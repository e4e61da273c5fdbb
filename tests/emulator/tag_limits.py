"""AWS's limit of 50 tags per resource, where moto 5.2.1 does not enforce it.

moto checks the total only for SNS; for SQS and IAM it checks the tags of one request, for Logs
and S3 nothing. AWS refuses a tag call that would leave the resource with more than 50 tags
(S3: a tag set of more than 50). This module answers such calls with the service's error and
passes every other call on to moto (returns None).

| service | operation | error (per botocore's models / the service docs) |
|---|---|---|
| logs | TagResource, TagLogGroup | 400 `TooManyTagsException` (JSON) |
| sqs | TagQueue | 400 `InvalidParameterValue` (query-compatible code, as moto answers a large request) |
| iam | TagRole | 409 `LimitExceeded` (query) "Cannot exceed quota for TagsPerRole: 50." |
| s3 | PutBucketTagging | 400 `InvalidTag` (XML) "Bucket tag count cannot be greater than 50" |

Not emulated here: KMS, Secrets Manager and AgentCore (the remediator's plan checks the
limit before any tag call, for every kind).
"""

from __future__ import annotations

import json
import re

from awsproto import AwsRequest, Response, _buffer_body, json_protocol_error, query_error, s3_error

LIMIT = 50
_LOG_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:([^:]+)(?::\*)?")


def check(request: AwsRequest, backends: dict) -> Response | None:
    """The error for a tag call past the limit, or None to let moto answer."""
    try:
        match (request.service, request.operation):
            case ("logs", "TagResource" | "TagLogGroup"):
                return _logs(request, backends["logs"])
            case ("sqs", "TagQueue"):
                return _sqs(request, backends["sqs"])
            case ("iam", "TagRole"):
                return _iam(request, backends["iam"])
            case ("s3", "PutBucketTagging"):
                return _s3(request)
    except (KeyError, ValueError, AttributeError):
        return None  # malformed or unknown resource: moto answers as it would
    return None


def _json_body(request: AwsRequest) -> dict:
    if not request.body:
        request.body = _buffer_body(request.environ)
    body = json.loads(request.body or b"{}")
    return body if isinstance(body, dict) else {}


def _logs(request: AwsRequest, logs_backends) -> Response | None:
    body = _json_body(request)
    backend = logs_backends[request.account][request.region]
    if request.operation == "TagResource":
        match = _LOG_GROUP_ARN.fullmatch(body.get("resourceArn", ""))
        if not match:
            return None
        name, new = match.group(1), body.get("tags") or {}
    else:
        name, new = body.get("logGroupName", ""), body.get("tags") or {}
    group = backend.groups.get(name)
    if group is None:
        return None
    current = backend.tagger.get_tag_dict_for_resource(group.arn)
    if len(set(current) | set(new)) > LIMIT:
        return json_protocol_error(400, "TooManyTagsException", f"A resource can have no more than {LIMIT} tags.", request.target)
    return None


def _sqs(request: AwsRequest, sqs_backends) -> Response | None:
    body = _json_body(request)
    name = body.get("QueueUrl", "").rstrip("/").rsplit("/", 1)[-1]
    queue = sqs_backends[request.account][request.region].get_queue(name)
    new = body.get("Tags") or {}
    if len(set(queue.tags) | set(new)) > LIMIT:
        return json_protocol_error(400, "InvalidParameterValue", f"Too many tags added for queue {name}.", request.target)
    return None


def _iam(request: AwsRequest, iam_backends) -> Response | None:
    role = iam_backends[request.account]["aws"].get_role(request.form_value("RoleName") or "")
    keys = {tag["Key"].lower() for tag in role.tags}
    index = 1
    while (key := request.form_value(f"Tags.member.{index}.Key")) is not None:
        keys.add(key.lower())  # IAM tag keys are case-insensitive
        index += 1
    if len(keys) > LIMIT:
        return query_error(409, "LimitExceeded", f"Cannot exceed quota for TagsPerRole: {LIMIT}.", "iam")
    return None


def _s3(request: AwsRequest) -> Response | None:
    if not request.body:
        request.body = _buffer_body(request.environ)
    count = len(re.findall(rb"<Tag>", request.body))
    if count > LIMIT:
        return s3_error(400, "InvalidTag", f"Bucket tag count cannot be greater than {LIMIT}")
    return None
