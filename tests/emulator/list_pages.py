"""Page sizes and continuation tokens for list calls moto 5.2.1 answers in one piece.

moto ignores SQS `ListQueues` `MaxResults`/`NextToken` (and never lists past the first 1000
queues) and KMS `ListKeys` / `ListAliases`
`Limit`/`Marker` (it returns everything, `Truncated: false`). AWS pages them (API references):
- SQS ListQueues: `MaxResults` 1..1000; `NextToken` only when `MaxResults` was given; without
  it, up to 1000 URLs;
- KMS ListKeys: `Limit` 1..1000, default 100; `Truncated` + `NextMarker`;
- KMS ListAliases: `Limit` 1..100, default 50; `Truncated` + `NextMarker`.
The request goes to moto without the paging members, and the full answer is cut into the page
asked for. Tokens are opaque to the caller (here: the offset, encoded). An invalid token is AWS's
`InvalidParameterValue` (SQS) / `InvalidMarkerException` (KMS); a size out of range is
`InvalidParameterValue` / `ValidationException`.
"""

from __future__ import annotations

import base64
import io
import json

from moto.sqs.models import sqs_backends

from awsproto import ACCOUNT_ID, AwsRequest, Response, json_protocol_error

# operation -> (size member, token member in, token member out, list member, default, max, size error, token error)
_PAGED = {
    "AmazonSQS.ListQueues": ("MaxResults", "NextToken", "NextToken", "QueueUrls", None, 1000, "InvalidParameterValue", "InvalidParameterValue"),
    "TrentService.ListKeys": ("Limit", "Marker", "NextMarker", "Keys", 100, 1000, "ValidationException", "InvalidMarkerException"),
    "TrentService.ListAliases": ("Limit", "Marker", "NextMarker", "Aliases", 50, 100, "ValidationException", "InvalidMarkerException"),
}
TARGETS = frozenset(_PAGED)


def claims(request: AwsRequest) -> bool:
    return request.target in _PAGED


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"corebound:{offset}".encode()).decode()


def _offset(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "corebound" and number.isdigit() else None


def handle(request: AwsRequest, call_moto) -> Response:
    """`call_moto(environ) -> (status, headers, body)` runs the request through moto."""
    size_member, token_in, token_out, list_member, default, maximum, size_error, token_error = _PAGED[request.target]
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return call_moto(request.environ)
    size = body.pop(size_member, None)
    token = body.pop(token_in, None)
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= maximum):
        return json_protocol_error(400, size_error, f"{size_member} must be between 1 and {maximum}", request.target)
    offset = 0
    if token is not None:
        offset = _offset(token) if isinstance(token, str) else None
        if offset is None:
            return json_protocol_error(400, token_error, f"Invalid {token_in}: {token}", request.target)
    forwarded = json.dumps(body).encode()
    environ = dict(request.environ)
    environ["wsgi.input"] = io.BytesIO(forwarded)
    environ["CONTENT_LENGTH"] = str(len(forwarded))
    status, headers, raw = call_moto(environ)
    if status != 200:
        return status, headers, raw
    answer = json.loads(raw or b"{}")
    items = answer.get(list_member) or []
    if list_member == "QueueUrls":
        items = _every_queue_url(request, body.get("QueueNamePrefix"))
    page_size = size if size is not None else (default if default is not None else 1000)
    page = items[offset : offset + page_size]
    more = offset + page_size < len(items)
    if page or list_member != "QueueUrls":
        answer[list_member] = page
    else:
        answer.pop(list_member, None)  # SQS leaves QueueUrls out when there is none
    for member in ("NextToken", "NextMarker", "Truncated"):
        answer.pop(member, None)
    if token_out == "NextMarker":
        answer["Truncated"] = more
        if more:
            answer["NextMarker"] = _token(offset + page_size)
    elif more and size is not None:
        answer["NextToken"] = _token(offset + page_size)
    encoded = json.dumps(answer).encode()
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    return status, headers, encoded


def _every_queue_url(request: AwsRequest, prefix: str | None) -> list[str]:
    """Every queue's URL, as moto forms them (request scheme and host), past moto's cap of 1000."""
    scheme = request.environ.get("wsgi.url_scheme", "http")
    host = request.header("Host") or request.environ.get("SERVER_NAME", "localhost")
    # The caller's account (a spoke's session lists its own queues, not the default account's).
    queues = sqs_backends[request.account or ACCOUNT_ID][request.region].queues
    return [
        f"{scheme}://{host}/{queue.account_id}/{name}"
        for name, queue in queues.items()
        if not prefix or name.startswith(prefix)
    ]
