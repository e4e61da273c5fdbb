"""Emulator of the Amazon Bedrock AgentCore control plane subset corebound calls.

Source of truth: botocore's `bedrock-agentcore-control` service-2.json (REST-JSON, signing name
`bedrock-agentcore`). moto 5.2.1 ships its own `bedrock-agentcore-control` backend, but it lacks
the resource-policy operations and mints runtime ARNs of the wrong shape (`...:agent/<uuid>:1`),
so every request signed for `bedrock-agentcore` is answered here and never reaches moto.

Resources are seeded by tests through the control API (see corebound_emulator.py); the emulator
does not implement Create*/Delete* of runtimes, memories or gateways.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from awsproto import ACCOUNT_ID, AwsRequest, Response, json_response, rest_json_error, unquoted_segments

# Constraints copied from the service model's shapes.
RUNTIME_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,47}")  # AgentRuntimeName
RUNTIME_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}")  # AgentRuntimeId
ENDPOINT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,47}")  # EndpointName
MEMORY_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,47}")  # Name
MEMORY_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9-_]{0,99}-[a-zA-Z0-9]{10}")  # MemoryId
GATEWAY_NAME = re.compile(r"([0-9a-zA-Z][-]?){1,100}")  # GatewayName
GATEWAY_ID = re.compile(r"([0-9a-z][-]?){1,100}-[0-9a-z]{10}")  # GatewayIdentifier
ROLE_ARN = re.compile(r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+")  # RoleArn
TAGGABLE_ARN = re.compile(  # TaggableResourcesArn
    r"arn:(?:[^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:([a-z-]+/[^/]+)(?:/[a-z-]+/[^/]+)*"
)
KMS_KEY_ARN = re.compile(r"arn:aws(|-cn|-us-gov):kms:[a-zA-Z0-9-]*:[0-9]{12}:key/[a-zA-Z0-9-]{36}")  # KmsKeyArn
ANY_ARN = re.compile(r"arn:[a-z0-9-\.]{1,63}:[a-z0-9-\.]{0,63}:[a-z0-9-\.]{0,63}:[a-z0-9-\.]{0,63}:[^/].{0,1023}")  # Arn
TAG_TEXT = re.compile(r"[a-zA-Z0-9\s._:/=+@-]*")  # TagKey / TagValue
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")

RUNTIME_STATUSES = ("CREATING", "CREATE_FAILED", "UPDATING", "UPDATE_FAILED", "READY", "DELETING")
MEMORY_STATUSES = ("CREATING", "ACTIVE", "FAILED", "DELETING")
GATEWAY_STATUSES = ("CREATING", "UPDATING", "UPDATE_UNSUCCESSFUL", "DELETING", "READY", "FAILED")
AUTHORIZER_TYPES = ("CUSTOM_JWT", "AWS_IAM", "NONE", "AUTHENTICATE_ONLY")

# The ARNs that carry resource policies and tags. Runtime endpoints nest under their runtime:
# `arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdEf1234/runtime-endpoint/DEFAULT`.
RESOURCE_ARN = re.compile(
    r"arn:aws(-cn|-us-gov)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:"
    r"(?:runtime/[^/]+(?:/runtime-endpoint/[^/]+)?|memory/[^/]+|gateway/[^/]+)"
)
POLICY_MAX_CHARS = 20480  # ResourcePolicyBody
POLICY_VERSIONS = ("2012-10-17", "2008-10-17")
MAX_TAGS = 50  # TagsMap


class ApiError(Exception):
    """An AgentCore error response: the SDK maps `code` (x-amzn-ErrorType) to a typed error."""

    STATUS = {
        "ValidationException": 400,
        "AccessDeniedException": 403,
        "ResourceNotFoundException": 404,
        "UnknownOperationException": 404,
    }

    def __init__(self, code: str, message: str, **members: object):
        super().__init__(message)
        self.code, self.message, self.members = code, message, members

    def response(self) -> Response:
        return rest_json_error(self.STATUS[self.code], self.code, self.message, **self.members)


def validation(message: str, field_name: str | None = None, reason: str = "FieldValidationFailed") -> ApiError:
    """ValidationException carries the required `reason` and, for one field, a `fieldList`."""
    members: dict[str, object] = {"reason": reason}
    if field_name:
        members["fieldList"] = [{"name": field_name, "message": message}]
    return ApiError("ValidationException", message, **members)


def constraint(value: object, field_name: str, rule: str) -> ApiError:
    # Wording of the smithy validation errors AWS returns for model constraint violations.
    return validation(
        f"1 validation error detected: Value '{value}' at '{field_name}' failed to satisfy constraint: {rule}",
        field_name,
    )


def check_pattern(value: str, pattern: re.Pattern, field_name: str) -> None:
    if not pattern.fullmatch(value):
        raise constraint(value, field_name, f"Member must satisfy regular expression pattern: {pattern.pattern}")


def iso8601(moment: float) -> str:
    """`DateTimestamp` is `timestampFormat: iso8601` in the model: RFC 3339, UTC, milliseconds."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def suffix(alphabet: str = string.ascii_letters + string.digits) -> str:
    """The 10-character random part AWS appends to a resource name to form its id."""
    return "".join(random.choices(alphabet, k=10))


def arn_prefix(region: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:bedrock-agentcore:{region}:{account}"


@dataclass
class Resource:
    """Anything that can carry a resource policy and tags."""

    arn: str
    region: str
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None
    # The account it lives in: a call sees only its own account's resources (the caller's
    # credentials decide, as for moto's services; an assumed spoke role acts in the spoke).
    account: str = ACCOUNT_ID

    def visible_to(self, request: AwsRequest) -> bool:
        return self.region == request.region and self.account == (request.account or ACCOUNT_ID)


@dataclass
class Endpoint(Resource):
    runtime_arn: str = ""
    name: str = ""
    id: str = ""
    status: str = "READY"

    def describe(self) -> dict:
        # GetAgentRuntimeEndpointResponse; a serving endpoint reports only `liveVersion`
        # (`targetVersion` appears while an update rolls out, which the emulator never does).
        return {
            "liveVersion": "1",
            "agentRuntimeEndpointArn": self.arn,
            "agentRuntimeArn": self.runtime_arn,
            "status": self.status,
            "createdAt": iso8601(self.created),
            "lastUpdatedAt": iso8601(self.updated),
            "name": self.name,
            "id": self.id,
        }


@dataclass
class Runtime(Resource):
    id: str = ""
    name: str = ""
    status: str = "READY"
    role_arn: str = ""
    description: str | None = None
    failure_reason: str | None = None
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def describe(self) -> dict:
        """GetAgentRuntimeResponse with every required member and AWS's defaults for the rest."""
        body = {
            "agentRuntimeArn": self.arn,
            "agentRuntimeName": self.name,
            "agentRuntimeId": self.id,
            "agentRuntimeVersion": "1",
            "createdAt": iso8601(self.created),
            "lastUpdatedAt": iso8601(self.updated),
            "roleArn": self.role_arn,
            "networkConfiguration": {"networkMode": "PUBLIC"},
            "status": self.status,
            # AWS defaults: 15 minutes idle, 8 hours maximum session lifetime.
            "lifecycleConfiguration": {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800},
            "workloadIdentityDetails": {
                "workloadIdentityArn": f"arn:aws:bedrock-agentcore:{self.region}:{self.account}:"
                f"workload-identity-directory/default/workload-identity/{self.id}"
            },
            "agentRuntimeArtifact": {
                "containerConfiguration": {
                    "containerUri": f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.name.lower()}:latest"
                }
            },
            "protocolConfiguration": {"serverProtocol": "HTTP"},
        }
        if self.description:
            body["description"] = self.description
        if self.failure_reason:
            body["failureReason"] = self.failure_reason
        return body

    def summary(self) -> dict:
        # AgentRuntime (ListAgentRuntimes item); `description` is required there, so "" if unset.
        return {
            "agentRuntimeArn": self.arn,
            "agentRuntimeId": self.id,
            "agentRuntimeVersion": "1",
            "agentRuntimeName": self.name,
            "description": self.description or "",
            "lastUpdatedAt": iso8601(self.updated),
            "status": self.status,
        }


@dataclass
class Memory(Resource):
    id: str = ""
    name: str = ""
    status: str = "ACTIVE"
    encryption_key_arn: str | None = None
    execution_role_arn: str | None = None
    description: str | None = None
    event_expiry_days: int = 90

    def describe(self) -> dict:
        # `Memory` timestamps are the model's plain `Timestamp`: epoch seconds in REST-JSON.
        body = {
            "arn": self.arn,
            "id": self.id,
            "name": self.name,
            "eventExpiryDuration": self.event_expiry_days,
            "status": self.status,
            "createdAt": self.created,
            "updatedAt": self.updated,
            "strategies": [],
        }
        for key, value in (
            ("description", self.description),
            ("encryptionKeyArn", self.encryption_key_arn),
            ("memoryExecutionRoleArn", self.execution_role_arn),
        ):
            if value:
                body[key] = value
        return body

    def summary(self) -> dict:
        return {"arn": self.arn, "id": self.id, "status": self.status, "createdAt": self.created, "updatedAt": self.updated}


@dataclass
class Gateway(Resource):
    id: str = ""
    name: str = ""
    status: str = "READY"
    role_arn: str | None = None
    authorizer_type: str = "AWS_IAM"
    kms_key_arn: str | None = None
    description: str | None = None

    def describe(self) -> dict:
        body = {
            "gatewayArn": self.arn,
            "gatewayId": self.id,
            "gatewayUrl": f"https://{self.id}.gateway.bedrock-agentcore.{self.region}.amazonaws.com/mcp",
            "createdAt": iso8601(self.created),
            "updatedAt": iso8601(self.updated),
            "status": self.status,
            "name": self.name,
            "protocolType": "MCP",
            "authorizerType": self.authorizer_type,
        }
        for key, value in (("description", self.description), ("roleArn", self.role_arn), ("kmsKeyArn", self.kms_key_arn)):
            if value:
                body[key] = value
        return body

    def summary(self) -> dict:
        body = {
            "gatewayId": self.id,
            "name": self.name,
            "status": self.status,
            "createdAt": iso8601(self.created),
            "updatedAt": iso8601(self.updated),
            "authorizerType": self.authorizer_type,
            "protocolType": "MCP",
        }
        if self.description:
            body["description"] = self.description
        return body


class SeedError(ValueError):
    """A control-API seed request the emulator refuses (answered 400 with the reason)."""


class NotSeeded(LookupError):
    """The control API names a runtime that does not exist (answered 404)."""


class AgentCore:
    """State and operations of the emulated control plane. All access goes through one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.runtimes: dict[str, Runtime] = {}  # by id
            self.memories: dict[str, Memory] = {}
            self.gateways: dict[str, Gateway] = {}
            self.by_arn: dict[str, Resource] = {}  # every policy/tag target, endpoints included
            # How resource policies are stored: "verbatim" (as written) or "normalised" (the way
            # S3, SQS, SNS and Lambda store them; AgentCore does not document which it does).
            self.policy_storage = "verbatim"
            # The API reference lists no memory among TagResource's resources while the
            # authorization reference does: tests script either answer (configure()).
            self.memory_tags = "supported"

    # --- routing ---------------------------------------------------------------------------

    def route(self, request: AwsRequest) -> tuple[str | None, tuple]:
        """Name the operation from method + path (the model's `requestUri`s) and extract its labels."""
        segments = unquoted_segments(request.raw_path)
        method = request.method
        match segments:
            case ["runtimes"] if method == "POST":
                return "ListAgentRuntimes", ()
            case ["runtimes", runtime_id] if method == "GET":
                return "GetAgentRuntime", (runtime_id,)
            case ["runtimes", runtime_id, "runtime-endpoints"] if method == "POST":
                return "ListAgentRuntimeEndpoints", (runtime_id,)
            case ["runtimes", runtime_id, "runtime-endpoints", name] if method == "GET":
                return "GetAgentRuntimeEndpoint", (runtime_id, name)
            case ["resourcepolicy", arn]:
                operation = {"PUT": "PutResourcePolicy", "GET": "GetResourcePolicy", "DELETE": "DeleteResourcePolicy"}
                return operation.get(method), (arn,)
            case ["tags", arn]:
                operation = {"POST": "TagResource", "GET": "ListTagsForResource", "DELETE": "UntagResource"}
                return operation.get(method), (arn,)
            case ["memories"] if method == "POST":
                return "ListMemories", ()
            case ["memories", memory_id, "details"] if method == "GET":
                return "GetMemory", (memory_id,)
            case ["gateways"] if method == "GET":
                return "ListGateways", ()
            case ["gateways", gateway_id] if method == "GET":
                return "GetGateway", (gateway_id,)
        return None, ()

    def handle(self, request: AwsRequest, operation: str | None, labels: tuple) -> Response:
        try:
            if operation is None:
                # What AWS answers for a route it does not know; here also for real operations
                # (Create*, data plane) the emulator deliberately does not implement.
                raise ApiError(
                    "UnknownOperationException",
                    f"corebound emulator: no AgentCore control-plane operation for {request.method} {request.path}",
                )
            body = self._json_body(request, operation)
            with self.lock:
                return getattr(self, "_" + _snake(operation))(request, body, *labels)
        except ApiError as error:
            return error.response()

    # Members each operation accepts in its JSON body (everything else is in the path or query).
    BODY_MEMBERS = {
        "PutResourcePolicy": {"policy"},
        "TagResource": {"tags"},
        "ListMemories": {"maxResults", "nextToken"},
    }

    def _json_body(self, request: AwsRequest, operation: str) -> dict:
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body)
        except ValueError:
            raise validation("Could not parse request body into json", reason="CannotParse")
        if not isinstance(body, dict):
            raise validation("Request body must be a JSON object", reason="CannotParse")
        unknown = sorted(set(body) - self.BODY_MEMBERS.get(operation, set()))
        if unknown:
            raise validation(f"Unknown field(s) in request body: {', '.join(unknown)}", unknown[0])
        return body

    # --- lookups ---------------------------------------------------------------------------

    def _runtime(self, request: AwsRequest, runtime_id: str) -> Runtime:
        check_pattern(runtime_id, RUNTIME_ID, "agentRuntimeId")
        runtime = self.runtimes.get(runtime_id)
        if runtime is None or not runtime.visible_to(request):
            raise ApiError("ResourceNotFoundException", f"AgentRuntime not found: {runtime_id}")
        return runtime

    def _target(self, request: AwsRequest, arn: str) -> Resource:
        """The resource a policy/tag call names. AWS rejects wildcard resource ARNs outright."""
        if not 20 <= len(arn) <= 1011:
            raise constraint(arn, "resourceArn", "Member must have length between 20 and 1011")
        if "*" in arn or "?" in arn:
            raise validation(f"Resource ARN must not contain wildcards: {arn}", "resourceArn")
        if not RESOURCE_ARN.fullmatch(arn):
            raise validation(f"Invalid resource ARN: {arn}", "resourceArn")
        resource = self.by_arn.get(arn)
        if resource is not None and resource.account != (request.account or ACCOUNT_ID):
            # Another account's resource: the caller's own policies cannot reach it, and these
            # operations are not granted by a resource policy across accounts.
            raise ApiError(
                "AccessDeniedException",
                f"User: {request.account} is not authorized to perform this operation on resource: {arn}",
            )
        if resource is None or not resource.visible_to(request):
            raise ApiError("ResourceNotFoundException", f"Resource not found: {arn}")
        return resource

    # --- runtimes --------------------------------------------------------------------------

    def _get_agent_runtime(self, request: AwsRequest, body: dict, runtime_id: str) -> Response:
        runtime = self._runtime(request, runtime_id)
        version = request.query.get("version", ["1"])[0]
        if version != "1":  # the emulator keeps one version per runtime
            raise ApiError("ResourceNotFoundException", f"AgentRuntime version not found: {runtime_id}:{version}")
        return json_response(200, runtime.describe())

    def _list_agent_runtimes(self, request: AwsRequest, body: dict) -> Response:
        runtimes = [r for r in self.runtimes.values() if r.visible_to(request)]
        page, token = _paginate(runtimes, _query_int(request, "maxResults", 1, 100), request.query.get("nextToken", [None])[0])
        return json_response(200, _with_token({"agentRuntimes": [r.summary() for r in page]}, token))

    def _get_agent_runtime_endpoint(self, request: AwsRequest, body: dict, runtime_id: str, name: str) -> Response:
        runtime = self._runtime(request, runtime_id)
        check_pattern(name, ENDPOINT_NAME, "endpointName")
        endpoint = runtime.endpoints.get(name)
        if endpoint is None:
            raise ApiError("ResourceNotFoundException", f"AgentRuntimeEndpoint not found: {runtime_id}/{name}")
        return json_response(200, endpoint.describe())

    def _list_agent_runtime_endpoints(self, request: AwsRequest, body: dict, runtime_id: str) -> Response:
        # The model lists no ResourceNotFoundException for this operation; an absent runtime still
        # gets one here (the SDK surfaces it as an unmodelled error with that code).
        runtime = self._runtime(request, runtime_id)
        endpoints = list(runtime.endpoints.values())
        page, token = _paginate(endpoints, _query_int(request, "maxResults", 1, 100), request.query.get("nextToken", [None])[0])
        return json_response(200, _with_token({"runtimeEndpoints": [e.describe() for e in page]}, token))

    # --- resource policies -----------------------------------------------------------------

    def _put_resource_policy(self, request: AwsRequest, body: dict, arn: str) -> Response:
        resource = self._target(request, arn)
        policy = body.get("policy")
        if not isinstance(policy, str):
            raise validation("1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null", "policy")
        if not 1 <= len(policy) <= POLICY_MAX_CHARS:
            raise constraint(f"<{len(policy)} characters>", "policy", f"Member must have length between 1 and {POLICY_MAX_CHARS}")
        _validate_policy(policy, arn)
        resource.policy = normalise_policy(policy) if self.policy_storage == "normalised" else policy
        resource.updated = time.time()
        return json_response(201, {"policy": resource.policy})

    def _get_resource_policy(self, request: AwsRequest, body: dict, arn: str) -> Response:
        resource = self._target(request, arn)
        # An existing resource without a policy answers 200 with `policy` absent: the model makes
        # `policy` optional in GetResourcePolicyResponse (but required in PutResourcePolicyResponse),
        # and the project's AWS notes record "absent when none". Tests that want the other plausible
        # answer (ResourceNotFoundException) inject it with a fault on GetResourcePolicy.
        return json_response(200, {"policy": resource.policy} if resource.policy is not None else {})

    def _delete_resource_policy(self, request: AwsRequest, body: dict, arn: str) -> Response:
        resource = self._target(request, arn)
        # Deleting a policy that does not exist is ResourceNotFoundException (AWS does not document
        # idempotent success here), so callers must treat "already gone" as done themselves.
        if resource.policy is None:
            raise ApiError("ResourceNotFoundException", f"No resource policy exists for resource: {arn}")
        resource.policy = None
        resource.updated = time.time()
        return json_response(204, None)

    # --- tags ------------------------------------------------------------------------------

    def _tag_target(self, request: AwsRequest, arn: str) -> Resource:
        if "*" not in arn and "?" not in arn:
            check_pattern(arn, TAGGABLE_ARN, "resourceArn")
        return self._target(request, arn)

    MEMORY_TAG_MODES = ("supported", "unsupported", "read-only")

    def configure(self, spec: dict) -> dict:
        """Control API: how the emulated service answers tag calls on memories."""
        _only(spec, {"memoryTags"})
        mode = spec.get("memoryTags", "supported")
        if mode not in self.MEMORY_TAG_MODES:
            raise SeedError(f"memoryTags must be one of {', '.join(self.MEMORY_TAG_MODES)}")
        with self.lock:
            self.memory_tags = mode
        return {"memoryTags": mode}

    def _memory_tags_refused(self, resource: Resource, writing: bool) -> None:
        refused = self.memory_tags == "unsupported" or (self.memory_tags == "read-only" and writing)
        if isinstance(resource, Memory) and refused:
            raise validation("Tagging is not supported for resource type memory", "resourceArn")

    def _tag_resource(self, request: AwsRequest, body: dict, arn: str) -> Response:
        resource = self._tag_target(request, arn)
        self._memory_tags_refused(resource, writing=True)
        tags = body.get("tags")
        if not isinstance(tags, dict):
            raise validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null", "tags")
        _validate_tags(tags)
        merged = {**resource.tags, **tags}  # TagResource adds and overwrites, never removes
        if len(merged) > MAX_TAGS:
            raise validation(f"A resource can have at most {MAX_TAGS} tags", "tags")
        resource.tags = merged
        return json_response(204, None)

    def _untag_resource(self, request: AwsRequest, body: dict, arn: str) -> Response:
        resource = self._tag_target(request, arn)
        keys = request.query.get("tagKeys")
        if keys is None:
            raise validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null", "tagKeys")
        for key in keys:
            resource.tags.pop(key, None)
        return json_response(204, None)

    def _list_tags_for_resource(self, request: AwsRequest, body: dict, arn: str) -> Response:
        resource = self._tag_target(request, arn)
        self._memory_tags_refused(resource, writing=False)
        return json_response(200, {"tags": dict(resource.tags)})

    # --- memories and gateways -------------------------------------------------------------

    def _get_memory(self, request: AwsRequest, body: dict, memory_id: str) -> Response:
        if len(memory_id) < 12:
            raise constraint(memory_id, "memoryId", "Member must have length greater than or equal to 12")
        check_pattern(memory_id, MEMORY_ID, "memoryId")
        memory = self.memories.get(memory_id)
        if memory is None or not memory.visible_to(request):
            raise ApiError("ResourceNotFoundException", f"Memory not found: {memory_id}")
        return json_response(200, {"memory": memory.describe()})

    def _list_memories(self, request: AwsRequest, body: dict) -> Response:
        # Unlike the other List operations, ListMemories takes its paging members in the body.
        max_results = body.get("maxResults", 100)
        if not isinstance(max_results, int) or not 1 <= max_results <= 100:
            raise constraint(max_results, "maxResults", "Member must have value between 1 and 100")
        memories = [m for m in self.memories.values() if m.visible_to(request)]
        page, token = _paginate(memories, max_results, body.get("nextToken"))
        return json_response(200, _with_token({"memories": [m.summary() for m in page]}, token))

    def _get_gateway(self, request: AwsRequest, body: dict, gateway_id: str) -> Response:
        check_pattern(gateway_id, GATEWAY_ID, "gatewayIdentifier")
        gateway = self.gateways.get(gateway_id)
        if gateway is None or not gateway.visible_to(request):
            raise ApiError("ResourceNotFoundException", f"Gateway not found: {gateway_id}")
        return json_response(200, gateway.describe())

    def _list_gateways(self, request: AwsRequest, body: dict) -> Response:
        gateways = [g for g in self.gateways.values() if g.visible_to(request)]
        page, token = _paginate(gateways, _query_int(request, "maxResults", 1, 1000), request.query.get("nextToken", [None])[0])
        return json_response(200, _with_token({"items": [g.summary() for g in page]}, token))

    # --- seeding (control API) ---------------------------------------------------------------

    def seed_runtime(self, spec: dict) -> dict:
        _only(spec, {"name", "id", "status", "endpoints", "roleArn", "region", "account", "tags", "description"})
        name = _required_match(spec, "name", RUNTIME_NAME)
        region = _region(spec)
        account = _account(spec)
        status = _choice(spec, "status", RUNTIME_STATUSES, "READY")
        endpoint_names = spec.get("endpoints", ["DEFAULT"])
        if not isinstance(endpoint_names, list) or not all(isinstance(n, str) and ENDPOINT_NAME.fullmatch(n) for n in endpoint_names):
            raise SeedError(f"endpoints must be a list of names matching {ENDPOINT_NAME.pattern}")
        role_arn = _optional(spec, "roleArn", ROLE_ARN) or f"arn:aws:iam::{account}:role/AgentCoreRuntime-{name}"
        description = _optional(spec, "description")
        tags = _seed_tags(spec)
        with self.lock:
            runtime_id = self._new_id(spec, name, RUNTIME_ID, self.runtimes)
            now = time.time()
            runtime = Runtime(
                arn=f"{arn_prefix(region, account)}:runtime/{runtime_id}",
                region=region,
                account=account,
                created=now,
                updated=now,
                tags=tags,
                id=runtime_id,
                name=name,
                status=status,
                role_arn=role_arn,
                description=description,
                failure_reason=_failure_reason(status, None),
            )
            for endpoint_name in endpoint_names:
                runtime.endpoints[endpoint_name] = Endpoint(
                    arn=f"{runtime.arn}/runtime-endpoint/{endpoint_name}",
                    region=region,
                    account=account,
                    created=now,
                    updated=now,
                    runtime_arn=runtime.arn,
                    name=endpoint_name,
                    id=f"{endpoint_name}-{suffix()}",
                    status=status,
                )
            self.runtimes[runtime_id] = runtime
            self.by_arn[runtime.arn] = runtime
            self.by_arn.update({e.arn: e for e in runtime.endpoints.values()})
            return self._seeded_runtime(runtime)

    def set_runtime_status(self, runtime_id: str, spec: dict) -> dict:
        """Change the runtime's own status (its endpoints keep theirs, as during a real update)."""
        _only(spec, {"status", "failureReason"})
        status = _choice(spec, "status", RUNTIME_STATUSES, None)
        with self.lock:
            runtime = self.runtimes.get(runtime_id)
            if runtime is None:
                raise NotSeeded(runtime_id)
            runtime.status = status
            runtime.failure_reason = _failure_reason(status, _optional(spec, "failureReason"))
            runtime.updated = time.time()
            return self._seeded_runtime(runtime)

    def delete_runtime(self, runtime_id: str) -> None:
        """Remove a runtime with its endpoints, their policies and tags (as a real deletion would)."""
        with self.lock:
            runtime = self.runtimes.pop(runtime_id, None)
            if runtime is None:
                raise NotSeeded(runtime_id)
            self.by_arn.pop(runtime.arn, None)
            for endpoint in runtime.endpoints.values():
                self.by_arn.pop(endpoint.arn, None)

    def seed_memory(self, spec: dict) -> dict:
        _only(spec, {"name", "id", "status", "encryptionKeyArn", "memoryExecutionRoleArn", "description", "eventExpiryDuration", "region", "account", "tags"})
        name = _required_match(spec, "name", MEMORY_NAME)
        region = _region(spec)
        account = _account(spec)
        encryption_key_arn = _optional(spec, "encryptionKeyArn", ANY_ARN)
        execution_role_arn = _optional(spec, "memoryExecutionRoleArn", ANY_ARN)
        description = _optional(spec, "description")
        status = _choice(spec, "status", MEMORY_STATUSES, "ACTIVE")
        expiry = spec.get("eventExpiryDuration", 90)
        if not isinstance(expiry, int) or not 1 <= expiry <= 365:
            raise SeedError("eventExpiryDuration must be an integer between 1 and 365")
        tags = _seed_tags(spec)
        with self.lock:
            memory_id = self._new_id(spec, name, MEMORY_ID, self.memories)
            now = time.time()
            memory = Memory(
                arn=f"{arn_prefix(region, account)}:memory/{memory_id}",
                region=region,
                account=account,
                created=now,
                updated=now,
                tags=tags,
                id=memory_id,
                name=name,
                status=status,
                encryption_key_arn=encryption_key_arn,
                execution_role_arn=execution_role_arn,
                description=description,
                event_expiry_days=expiry,
            )
            self.memories[memory_id] = memory
            self.by_arn[memory.arn] = memory
            return memory.describe()

    def seed_gateway(self, spec: dict) -> dict:
        _only(spec, {"name", "id", "status", "roleArn", "authorizerType", "kmsKeyArn", "description", "region", "account", "tags"})
        name = _required_match(spec, "name", GATEWAY_NAME)
        region = _region(spec)
        account = _account(spec)
        status = _choice(spec, "status", GATEWAY_STATUSES, "READY")
        authorizer_type = _choice(spec, "authorizerType", AUTHORIZER_TYPES, "AWS_IAM")
        role_arn = _optional(spec, "roleArn", ROLE_ARN)
        kms_key_arn = _optional(spec, "kmsKeyArn", KMS_KEY_ARN)
        description = _optional(spec, "description")
        tags = _seed_tags(spec)
        with self.lock:
            # Gateway ids are lower case (GatewayId pattern), unlike runtime and memory ids.
            gateway_id = self._new_id(spec, name.lower(), GATEWAY_ID, self.gateways, string.ascii_lowercase + string.digits)
            now = time.time()
            gateway = Gateway(
                arn=f"{arn_prefix(region, account)}:gateway/{gateway_id}",
                region=region,
                account=account,
                created=now,
                updated=now,
                tags=tags,
                id=gateway_id,
                name=name,
                status=status,
                role_arn=role_arn,
                authorizer_type=authorizer_type,
                kms_key_arn=kms_key_arn,
                description=description,
            )
            self.gateways[gateway_id] = gateway
            self.by_arn[gateway.arn] = gateway
            return gateway.describe()

    def policies(self) -> dict[str, str]:
        with self.lock:
            return {arn: r.policy for arn, r in self.by_arn.items() if r.policy is not None}

    def set_policy_storage(self, spec: dict) -> dict:
        """Switch how policies are stored. `deletedPrincipals` (normalised mode): principal ARNs
        whose role or user was deleted: every stored policy now shows its unique id instead, as
        S3, SQS, SNS and Lambda do (a later write naming the ARN again stores the ARN: the role
        was recreated)."""
        _only(spec, {"mode", "deletedPrincipals"})
        mode = _choice(spec, "mode", ("verbatim", "normalised"), "verbatim")
        deleted = spec.get("deletedPrincipals", [])
        if not isinstance(deleted, list) or not all(isinstance(a, str) and a.startswith("arn:") for a in deleted):
            raise SeedError("deletedPrincipals must be a list of principal ARNs")
        if deleted and mode != "normalised":
            raise SeedError("deletedPrincipals needs mode normalised")
        replaced = {arn: unique_id(arn) for arn in deleted}
        with self.lock:
            self.policy_storage = mode
            for resource in self.by_arn.values():
                if resource.policy is not None and replaced:
                    resource.policy = _replace_principals(resource.policy, replaced)
            return {"mode": mode, "deletedPrincipals": replaced}

    def _new_id(self, spec: dict, name: str, pattern: re.Pattern, existing: dict, alphabet: str | None = None) -> str:
        """`<name>-<10 random chars>` like AWS, or the seed's own `id` so demo events can use fixed ARNs."""
        resource_id = spec.get("id") or f"{name}-{suffix(alphabet) if alphabet else suffix()}"
        if not isinstance(resource_id, str) or not pattern.fullmatch(resource_id) or not resource_id.startswith(name + "-"):
            raise SeedError(f"id must be '{name}-' followed by 10 characters and match {pattern.pattern}")
        if resource_id in existing:
            raise SeedError(f"id already exists: {resource_id}")
        return resource_id

    @staticmethod
    def _seeded_runtime(runtime: Runtime) -> dict:
        return {**runtime.describe(), "endpointArns": [e.arn for e in runtime.endpoints.values()]}


# --- helpers ------------------------------------------------------------------------------------


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _validate_policy(policy: str, resource_arn: str) -> None:
    """The checks AWS applies before storing a resource policy that matter to corebound.

    AWS rejects wildcard resources and statements about other resources; each statement's
    `Resource` (optional: the resource is implicit in a resource policy) must name exactly the
    resource the policy is attached to.
    """
    try:
        document = json.loads(policy)
    except ValueError:
        raise validation("Policy is not valid JSON", "policy")
    if not isinstance(document, dict):
        raise validation("Policy must be a JSON object", "policy")
    if document.get("Version") not in POLICY_VERSIONS:
        raise validation(f"Policy Version must be one of {', '.join(POLICY_VERSIONS)}", "policy")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise validation("Policy must contain a non-empty Statement", "policy")
    for index, statement in enumerate(statements):
        where = f"Statement[{index}]"
        if not isinstance(statement, dict):
            raise validation(f"{where} must be a JSON object", "policy")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise validation(f"{where}: Effect must be Allow or Deny", "policy")
        if "Principal" not in statement:
            raise validation(f"{where}: a resource-based policy statement needs a Principal", "policy")
        if "Action" not in statement:
            raise validation(f"{where}: Action is required", "policy")
        resources = statement.get("Resource", [])
        for resource in [resources] if isinstance(resources, str) else resources:
            if not isinstance(resource, str):
                raise validation(f"{where}: Resource entries must be strings", "policy")
            if "*" in resource or "?" in resource:
                raise validation(f"{where}: wildcard resources are not supported: {resource}", "policy")
            if resource != resource_arn:
                raise validation(f"{where}: Resource {resource} does not match the resource the policy is attached to ({resource_arn})", "policy")


def normalise_policy(policy: str) -> str:
    """Store a policy the way S3, SQS, SNS and Lambda do: an account id in `Principal` becomes
    `arn:aws:iam::<id>:root`, one-element lists become scalars, keys are sorted and whitespace
    dropped. (Statement stays a list; list order is kept.)"""
    document = json.loads(policy)
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    for statement in statements:
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            for kind, value in principal.items():
                if kind == "AWS":
                    value = [_account_root(v) for v in value] if isinstance(value, list) else _account_root(value)
                principal[kind] = _scalar(value)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement:
                statement[key] = _scalar(statement[key])
        condition = statement.get("Condition")
        if isinstance(condition, dict):
            for block in condition.values():
                if isinstance(block, dict):
                    for key, value in block.items():
                        block[key] = _scalar(value)
    document["Statement"] = statements
    return _compact(document)


def _replace_principals(policy: str, replaced: dict[str, str]) -> str:
    document = json.loads(policy)
    statements = document.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        principal = statement.get("Principal")
        if isinstance(principal, dict) and "AWS" in principal:
            aws = principal["AWS"]
            principal["AWS"] = [replaced.get(p, p) for p in aws] if isinstance(aws, list) else replaced.get(aws, aws)
    return _compact(document)


def unique_id(principal_arn: str) -> str:
    """A stable IAM unique id (`AROA` for roles, `AIDA` for users, 21 characters)."""
    prefix = "AIDA" if ":user/" in principal_arn else "AROA"
    alphabet = string.ascii_uppercase + string.digits
    digest = hashlib.sha256(principal_arn.encode()).digest()
    return prefix + "".join(alphabet[b % len(alphabet)] for b in digest[:17])


def _account_root(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{12}", value):
        return f"arn:aws:iam::{value}:root"
    return value


def _scalar(value: object) -> object:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _compact(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _validate_tags(tags: dict) -> None:
    if len(tags) > MAX_TAGS:
        raise constraint(f"<{len(tags)} tags>", "tags", f"Member must have length less than or equal to {MAX_TAGS}")
    for key, value in tags.items():
        if not isinstance(value, str):
            raise validation(f"Tag value for {key} must be a string", "tags")
        if not 1 <= len(key) <= 128 or not TAG_TEXT.fullmatch(key):
            raise constraint(key, "tags", "Tag keys must be 1-128 characters of [a-zA-Z0-9\\s._:/=+@-]")
        if key.lower().startswith("aws:"):
            raise validation(f"Tag keys starting with 'aws:' are reserved: {key}", "tags")
        if len(value) > 256 or not TAG_TEXT.fullmatch(value):
            raise constraint(value, "tags", "Tag values must be 0-256 characters of [a-zA-Z0-9\\s._:/=+@-]")


def _query_int(request: AwsRequest, name: str, low: int, high: int) -> int:
    raw = request.query.get(name, [str(high)])[0]
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise constraint(raw, name, f"Member must have value between {low} and {high}")
    return int(raw)


def _paginate(items: list, max_results: int, token: str | None) -> tuple[list, str | None]:
    """Stable order (creation), opaque-to-callers offset tokens."""
    items = sorted(items, key=lambda item: (item.created, item.arn))
    start = 0
    if token is not None:
        if not token.isdigit() or int(token) > len(items):
            raise validation(f"Invalid nextToken: {token}", "nextToken")
        start = int(token)
    end = start + max_results
    return items[start:end], (str(end) if end < len(items) else None)


def _with_token(body: dict, token: str | None) -> dict:
    if token is not None:
        body["nextToken"] = token
    return body


def _only(spec: dict, allowed: set[str]) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise SeedError(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _required_match(spec: dict, key: str, pattern: re.Pattern) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SeedError(f"{key} is required and must match {pattern.pattern}")
    return value


def _optional(spec: dict, key: str, pattern: re.Pattern | None = None) -> str | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value))):
        raise SeedError(f"{key} must be a non-empty string" + (f" matching {pattern.pattern}" if pattern else ""))
    return value


def _choice(spec: dict, key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = spec.get(key, default)
    if value not in allowed:
        raise SeedError(f"{key} must be one of {', '.join(allowed)}")
    return value


def _region(spec: dict) -> str:
    region = spec.get("region", "us-east-1")
    if not isinstance(region, str) or not REGION.fullmatch(region):
        raise SeedError("region must look like us-east-1")
    return region


def _account(spec: dict) -> str:
    account = spec.get("account", ACCOUNT_ID)
    if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
        raise SeedError("account must be 12 digits")
    return account


def _seed_tags(spec: dict) -> dict[str, str]:
    tags = spec.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise SeedError("tags must be an object of string values")
    return dict(tags)


def _failure_reason(status: str, given: str | None) -> str | None:
    if status.endswith("_FAILED"):
        return given or "Emulated failure (set by the corebound emulator control API)"
    return None
