"""Resource Groups Tagging API `GetResources` with `ResourceARNList`, which moto 5.2.1 ignores.

AWS (API reference, GetResources): `ResourceARNList` asks for the tags of up to 100 given ARNs;
it cannot be combined with `ResourcesPerPage`, `TagsPerPage` or `PaginationToken`
(`InvalidParameterException`), nor with `TagFilters`/`ResourceTypeFilters` in a way that widens
the answer. Only resources that have tags are returned: an untagged (or unknown) ARN is simply
absent. The corebound sweep reads the tags of a page of resources this way (one call per 100).
Without `ResourceARNList` the request goes to moto unchanged (its own pagination).
"""

from __future__ import annotations

import json

from moto.resourcegroupstaggingapi.models import resourcegroupstaggingapi_backends

from awsproto import ACCOUNT_ID, AwsRequest, Response, json_protocol_error

# The services whose ARNs moto's GetResources knows and the sweep asks for, and the type filter
# that restricts moto's scan to them.
_TYPE_FILTERS = {
    "sns": "sns",
    "sqs": "sqs",
    "logs": "logs",
    "s3": "s3",
    "kms": "kms",
    "secretsmanager": "secretsmanager",
}
_MAX_ARNS = 100
_PAGINATION = ("ResourcesPerPage", "TagsPerPage", "PaginationToken")


def claims(request: AwsRequest) -> bool:
    return request.service == "tagging" and request.operation == "GetResources" and b"ResourceARNList" in request.body


def handle(request: AwsRequest) -> Response | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None  # moto answers a malformed body its own way
    arns = body.get("ResourceARNList")
    if arns is None:
        return None
    target = request.target
    if not isinstance(arns, list) or not 1 <= len(arns) <= _MAX_ARNS or not all(isinstance(a, str) and a.startswith("arn:") for a in arns):
        return json_protocol_error(400, "InvalidParameterException", f"ResourceARNList must hold 1 to {_MAX_ARNS} ARNs", target)
    if any(name in body for name in _PAGINATION):
        return json_protocol_error(
            400,
            "InvalidParameterException",
            "ResourceARNList cannot be combined with ResourcesPerPage, TagsPerPage or PaginationToken",
            target,
        )
    wanted = set(arns)
    filters = sorted({_TYPE_FILTERS[service] for service in (_service(arn) for arn in arns) if service in _TYPE_FILTERS})
    mappings = []
    if filters:
        # The caller's account: a spoke's session sees its own resources only.
        backend = resourcegroupstaggingapi_backends[request.account or ACCOUNT_ID][request.region]
        for entry in backend._get_resources_generator(tag_filters=[], resource_type_filters=filters):
            if entry["ResourceARN"] in wanted and entry["Tags"]:
                mappings.append({"ResourceARN": entry["ResourceARN"], "Tags": entry["Tags"]})
    answer = json.dumps({"PaginationToken": "", "ResourceTagMappingList": mappings}).encode()
    return 200, [("Content-Type", "application/x-amz-json-1.1")], answer


def _service(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[2] if len(parts) == 6 else ""
