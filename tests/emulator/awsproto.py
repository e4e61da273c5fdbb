"""Wire-level helpers shared by the emulator: who a request is for and how to answer it.

Everything here is derived from the AWS protocols the SDKs speak:
- the SigV4 credential scope names the signing service and region;
- JSON protocols (JSON 1.0/1.1) name the operation in `X-Amz-Target`;
- query protocols (IAM, SNS, STS) carry `Action=` in the form body or query string;
- REST protocols (S3, AgentCore control) encode the operation in method + path.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# `Credential=AKID/20260101/us-east-1/iam/aws4_request` inside the Authorization header,
# or the `X-Amz-Credential` query parameter of a presigned URL (same shape).
_CREDENTIAL_SCOPE = re.compile(r"(?:^|[\s,])Credential=[^/\s]+/\d{8}/([^/\s]+)/([^/\s]+)/aws4_request")
_PRESIGNED_SCOPE = re.compile(r"^[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request$")

# XML namespaces of the query-protocol services whose errors we may have to fabricate.
_QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

# S3 sub-resources (query keys) and the noun they add to the operation name,
# e.g. PUT /bucket?tagging -> PutBucketTagging, GET /bucket/key?tagging -> GetObjectTagging.
_S3_SUBRESOURCES = {
    "tagging": "Tagging",
    "encryption": "Encryption",
    "policy": "Policy",
    "versioning": "Versioning",
    "acl": "Acl",
    "publicAccessBlock": "PublicAccessBlock",
    "ownershipControls": "OwnershipControls",
    "notification": "NotificationConfiguration",
    "lifecycle": "LifecycleConfiguration",
    "cors": "Cors",
    "website": "Website",
    "logging": "Logging",
    "location": "Location",
}
# List calls whose paging the emulator adds (list_pages.py): their bodies are read here.
_PAGED_LIST_TARGETS = frozenset({"AmazonSQS.ListQueues", "TrentService.ListKeys", "TrentService.ListAliases"})
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


@dataclass
class AwsRequest:
    """One inbound request, parsed once by the middleware and shared with the handlers."""

    environ: dict
    method: str
    path: str  # percent-decoded (WSGI PATH_INFO): what the request log shows
    raw_path: str  # as sent on the wire: REST labels such as `{resourceArn}` arrive percent-encoded
    query: dict[str, list[str]]
    service: str | None  # SigV4 signing name, e.g. "bedrock-agentcore", "iam", "logs"
    region: str
    body: bytes = b""
    form: dict[str, list[str]] = field(default_factory=dict)
    operation: str | None = None
    # The account the request acts in (its access key's; set by the emulator, moto's own rule).
    account: str = ACCOUNT_ID

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    @property
    def target(self) -> str | None:
        return self.header("X-Amz-Target")

    @property
    def protocol(self) -> str:
        """The wire protocol, which decides the error shape we answer with."""
        if self.service == "bedrock-agentcore":
            return "rest-json"
        if self.target:
            return "json"
        if self.service == "s3":
            return "rest-xml"
        if self.form.get("Action") or self.query.get("Action"):
            return "query"
        return "rest-json"

    def form_value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None

    def form_members(self, name: str) -> list[str]:
        """Query-protocol lists arrive as `Name.member.1=a&Name.member.2=b`; return them in order."""
        prefix = name + ".member."
        indexed = []
        for key, values in self.form.items():
            if key.startswith(prefix) and key[len(prefix):].isdigit():
                indexed.append((int(key[len(prefix):]), values[0]))
        return [value for _, value in sorted(indexed)]


def parse_request(environ: dict) -> AwsRequest:
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    service, region = _signing_scope(environ, query)
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    request = AwsRequest(
        environ=environ,
        method=environ.get("REQUEST_METHOD", "GET"),
        path=environ.get("PATH_INFO", ""),
        raw_path=raw_uri.split("?", 1)[0],
        query=query,
        service=service,
        region=region or DEFAULT_REGION,
    )
    # Only buffer bodies someone reads: ours (AgentCore, IAM, Logs) and query-protocol forms (for
    # the `Action`). S3 bodies stream through to moto untouched, whatever their Content-Type.
    is_form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and service != "s3"
    paged_list = environ.get("HTTP_X_AMZ_TARGET") in _PAGED_LIST_TARGETS  # list_pages.py
    if service in ("bedrock-agentcore", "iam", "logs", "tagging") or is_form or paged_list:
        request.body = _buffer_body(environ)
        if is_form:
            request.form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    request.operation = _operation_name(request)
    return request


def _signing_scope(environ: dict, query: dict[str, list[str]]) -> tuple[str | None, str | None]:
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(2).lower(), match.group(1)
    presigned = query.get("X-Amz-Credential")
    if presigned:
        match = _PRESIGNED_SCOPE.match(presigned[0])
        if match:
            return match.group(2).lower(), match.group(1)
    return None, None


def _buffer_body(environ: dict) -> bytes:
    """Read the body and put it back so moto can read it again when the request passes through."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked upload: read to EOF
        data = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def _operation_name(request: AwsRequest) -> str | None:
    if request.target:
        return request.target.rsplit(".", 1)[-1]
    action = request.form.get("Action") or request.query.get("Action")
    if action:
        return action[0]
    if request.service == "s3":
        return s3_operation(request)
    return None  # REST operations of AgentCore are named by its router


def s3_operation(request: AwsRequest) -> str:
    """Best-effort S3 operation name from method, path and sub-resource (path- or virtual-host style)."""
    host = request.header("Host") or ""
    parts = [p for p in request.path.split("/") if p]
    if not is_path_style_host(host) and not host.startswith("s3"):
        parts = [host.split(".", 1)[0]] + parts
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(
        request.method, request.method.title()
    )
    if not parts:
        return "ListBuckets"
    is_object = len(parts) > 1
    for key, noun in _S3_SUBRESOURCES.items():
        if key in request.query:
            return f"{verb}{'Object' if is_object else 'Bucket'}{noun}"
    if request.method == "POST" and "delete" in request.query:
        return "DeleteObjects"
    if is_object:
        if request.method == "PUT" and request.header("X-Amz-Copy-Source"):
            return "CopyObject"
        return {"Post": "PostObject"}.get(verb, f"{verb}Object")
    if request.method == "GET":
        return "ListObjectsV2" if request.query.get("list-type") == ["2"] else "ListObjects"
    return {"Put": "CreateBucket"}.get(verb, f"{verb}Bucket")


def is_path_style_host(host: str) -> bool:
    """Whether moto's S3 reads the bucket from the path for this `Host` (moto's own rule in
    `S3Response.subdomain_based_buckets`): no host, `localhost`, `host.docker.internal`, a name
    without dots, or an IP address. Any other host is `<bucket>.<endpoint>` (virtual-hosted)."""
    if host.startswith("["):  # [IPv6]:port
        return True
    name = host.rsplit(":", 1)[0]
    return (
        name == ""
        or name.startswith(("localhost", "localstack", "host.docker.internal"))
        or "." not in name
        or bool(_IPV4.match(name))
    )


def unquoted_segments(raw_path: str) -> list[str]:
    """Split a raw REST path into decoded segments, ignoring one trailing slash.

    Splitting before decoding keeps a percent-encoded ARN (`arn%3Aaws%3A...%2Fruntime-endpoint%2FX`)
    in one segment, exactly as the REST label `{resourceArn}` (not greedy) is defined.
    """
    segments = raw_path.split("/")[1:]
    if len(segments) > 1 and segments[-1] == "":
        segments = segments[:-1]
    return [unquote(segment) for segment in segments]


def new_request_id() -> str:
    return str(uuid.uuid4())


# --- responses -----------------------------------------------------------------------------

Response = tuple[int, list[tuple[str, str]], bytes]


def json_response(status: int, payload: object | None, content_type: str = "application/json") -> Response:
    body = b"" if payload is None else json.dumps(payload).encode()
    return status, [("Content-Type", content_type), ("x-amzn-RequestId", new_request_id())], body


def rest_json_error(status: int, code: str, message: str, **members: object) -> Response:
    """REST-JSON error: the SDKs read the code from `x-amzn-ErrorType`, the text from `message`."""
    body = {"message": message, **members}
    return (
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", new_request_id()),
        ],
        json.dumps(body).encode(),
    )


def json_protocol_error(status: int, code: str, message: str, target: str | None) -> Response:
    """JSON 1.0/1.1 error: the code is `__type` in the body. SQS is the JSON 1.0 service we meet."""
    version = "1.0" if target and target.startswith("AmazonSQS.") else "1.1"
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, [("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-RequestId", new_request_id())], body


def query_error(status: int, code: str, message: str, service: str | None) -> Response:
    """Query-protocol (IAM, SNS, STS) `ErrorResponse` document."""
    namespace = _QUERY_NAMESPACES.get(service or "")
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    request_id = new_request_id()
    fault = "Sender" if status < 500 else "Receiver"
    body = (
        f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def s3_error(status: int, code: str, message: str) -> Response:
    request_id = new_request_id()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body.encode()


def error_for(request: AwsRequest, status: int, code: str, message: str) -> Response:
    """An error in the shape the request's own protocol uses (for fault injection)."""
    protocol = request.protocol
    if protocol == "json":
        return json_protocol_error(status, code, message, request.target)
    if protocol == "query":
        return query_error(status, code, message, request.service)
    if protocol == "rest-xml":
        return s3_error(status, code, message)
    return rest_json_error(status, code, message)
