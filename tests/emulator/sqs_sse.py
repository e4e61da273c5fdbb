"""SQS server-side encryption: one kind at a time, as in AWS.

moto 5.2.1 stores `KmsMasterKeyId` and `SqsManagedSseEnabled` independently: a queue switched to
a KMS key still reads `SqsManagedSseEnabled=true`, and `SqsManagedSseEnabled=true` leaves the KMS
key in place. AWS keeps exactly one (SSE-KMS or SSE-SQS):
- a request that sets a KMS key and `SqsManagedSseEnabled=true` together is refused ("You can use
  one type of server-side encryption (SSE) at one time", as reported by users of the CLI);
- setting `KmsMasterKeyId` turns SSE-SQS off; clearing it (`""`) turns SSE-SQS back on, the
  default of every new queue since 2022;
- `SqsManagedSseEnabled=true` alone switches a KMS queue to SSE-SQS: the KMS key is gone.

This matters to drift (issue 12): switching a queue to SSE-SQS drops the project CMK, and the
remediator must then see no `KmsMasterKeyId`. Shapes per botocore's sqs service-2.json (JSON 1.0,
`AmazonSQS.SetQueueAttributes` / `CreateQueue` with `QueueUrl`/`QueueName` and `Attributes`).
"""

from __future__ import annotations

import json

from awsproto import ACCOUNT_ID, AwsRequest, Response, _buffer_body, json_protocol_error

_OPERATIONS = ("SetQueueAttributes", "CreateQueue")


def _attributes(request: AwsRequest) -> dict | None:
    if request.service != "sqs" or request.operation not in _OPERATIONS:
        return None
    if not request.body:  # JSON bodies are not buffered by default: read and put back for moto
        request.body = _buffer_body(request.environ)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None  # moto answers malformed bodies itself
    attributes = body.get("Attributes") if isinstance(body, dict) else None
    return attributes if isinstance(attributes, dict) else None


def _sse_sqs_requested(attributes: dict) -> bool:
    return str(attributes.get("SqsManagedSseEnabled", "")).strip().lower() == "true"


def _queue(request: AwsRequest, sqs_backends):
    body = json.loads(request.body or b"{}")
    name = body.get("QueueName") or str(body.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
    return sqs_backends[request.account or ACCOUNT_ID][request.region].queues.get(name)


def before(request: AwsRequest) -> Response | None:
    """AWS's refusal of both kinds in one request; None lets moto answer."""
    attributes = _attributes(request)
    if attributes is None:
        return None
    if attributes.get("KmsMasterKeyId") and _sse_sqs_requested(attributes):
        return json_protocol_error(
            400,
            "InvalidAttributeValue",
            "You can use one type of server-side encryption (SSE) at one time. You can either "
            "enable KMS SSE or SQS SSE.",
            request.target,
        )
    return None


def after(request: AwsRequest, status: int, sqs_backends) -> None:
    """Once moto has applied a successful request: keep exactly one kind of SSE."""
    attributes = _attributes(request)
    if attributes is None or status != 200:
        return
    queue = _queue(request, sqs_backends)
    if queue is None:
        return
    if "KmsMasterKeyId" in attributes:
        # moto stores attribute values as sent; the strings are what GetQueueAttributes returns.
        queue.sqs_managed_sse_enabled = "false" if attributes["KmsMasterKeyId"] else "true"
    elif _sse_sqs_requested(attributes):
        queue.kms_master_key_id = None
