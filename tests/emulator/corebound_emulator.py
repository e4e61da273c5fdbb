#!/usr/bin/env python3
"""corebound's local AWS: moto's server application plus what moto lacks, in one process.

    python3 tests/emulator/corebound_emulator.py --port 0 [--host 127.0.0.1]

prints `READY http://HOST:PORT` once listening and serves until SIGTERM/SIGINT.

A WSGI middleware sits in front of moto's own server application (built exactly as `moto_server`
builds it) and routes on the SigV4 credential scope of each request:
- `bedrock-agentcore`: the AgentCore control-plane emulator (agentcore.py). moto 5.2.1 has a
  backend for this signing name too; the middleware answers first, so it is never reached.
- `iam` with Action=SimulatePrincipalPolicy: scripted decisions, or decisions evaluated from the
  principal's policies and boundary (iam_simulation.py, iam_policy_eval.py).
- `logs` AssociateKmsKey / DisassociateKmsKey: applied to moto's log groups (logs_kms.py), with
  the key policy checked for `logs.<region>.amazonaws.com` as AWS does.
- Resource Groups Tagging `GetResources` with `ResourceARNList` (tags of up to 100 given ARNs), which
  moto ignores (tagging_api.py).
- SQS ListQueues and KMS ListKeys / ListAliases pages (MaxResults / Limit and their tokens),
  which moto answers in one piece (list_pages.py).
- tag calls that would take a resource past AWS's 50-tag limit (Logs, SQS, IAM, S3), which moto
  lets through: answered with the service's error (tag_limits.py).
- SQS SSE-KMS and SSE-SQS kept mutually exclusive, as in AWS (sqs_sse.py).
- S3 GetBucketEncryption answers SSE-S3 for a bucket nobody configured (or after
  DeleteBucketEncryption), as AWS has since 2023, where moto answers NotFound
  (s3_default_encryption.py).
- `sts` AssumeRole: refused as STS refuses it (missing role, trust policy, ExternalId,
  aws:PrincipalOrgID), which moto never does; and any request signed by an expired session or
  for an action denied to the session's role is answered as AWS would (sts_sessions.py).
- everything else: moto, unchanged.
Unsigned path-style `PUT|GET /cloudformation-response/<name>` is the local stand-in for
CloudFormation's ResponseURL (cfn_responses.py): it stores and shows the answers of custom resources.
Every AWS request is recorded in a request log, and tests can inject faults; both, and the
seeding of AgentCore resources, go through the JSON control API under /_corebound/ (see
`ControlApi`). Account 123456789012; the region comes from the credential scope (default us-east-1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from moto.iam.models import iam_backends
from moto.kms.models import Key, kms_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.sqs.models import sqs_backends
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

import bulk_seed
import fixed_ids
import logs_kms
import s3_default_encryption
import sqs_sse
import tag_limits
import list_pages
import tagging_api
from agentcore import AgentCore, NotSeeded, SeedError
from s3_races import RaceError, S3Races
from awsproto import AwsRequest, Response, error_for, parse_request
from cfn_responses import CloudFormationResponses
from iam_roles import InlinePolicies, canonical_role_name, duplicate_role
from iam_simulation import ScriptError, Simulator
from sts_sessions import Sessions, account_of

# moto 5.2.1 leaves a key's KeyUsage unset when CreateKey omits it, so DescribeKey answers without
# one; AWS defaults it to ENCRYPT_DECRYPT and always returns it.
_moto_key_init = Key.__init__


def _key_init(self, policy, key_usage, key_spec, *args, **kwargs) -> None:
    _moto_key_init(self, policy, key_usage or "ENCRYPT_DECRYPT", key_spec, *args, **kwargs)


Key.__init__ = _key_init

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


class Faults:
    """Errors to answer instead of the real response, for the next `count` matching requests."""

    FIELDS = {"service", "operation", "status", "code", "message", "count", "match"}

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: list[dict] = []

    def add(self, spec: dict) -> dict:
        unknown = sorted(set(spec) - self.FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}")
        if not isinstance(spec.get("service"), str) or not isinstance(spec.get("code"), str):
            raise ValueError("service and code are required strings")
        status, count = spec.get("status"), spec.get("count", 1)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        fault = {
            "service": spec["service"],
            "operation": spec.get("operation"),  # absent: any operation of the service
            "status": status,
            "code": spec["code"],
            "message": spec.get("message") or spec["code"],
            "count": count,
            "match": spec.get("match"),  # substring of the (percent-decoded) path
        }
        with self.lock:
            self.pending.append(fault)
        return dict(fault)

    def take(self, request: AwsRequest) -> Response | None:
        with self.lock:
            for fault in self.pending:
                if (
                    fault["service"] == request.service
                    and fault["operation"] in (None, request.operation)
                    and (fault["match"] is None or fault["match"] in request.path)
                ):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.pending.remove(fault)
                    return error_for(request, fault["status"], fault["code"], fault["message"])
        return None

    def list(self) -> list[dict]:
        with self.lock:
            return [dict(fault) for fault in self.pending]

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()


class RequestLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[dict] = []

    def record(self, request: AwsRequest, status: int) -> None:
        entry = {
            "service": request.service,
            "operation": request.operation,
            "method": request.method,
            "path": request.path,
            "status": status,
            "account": request.account,
            "region": request.region,
        }
        with self.lock:
            self.entries.append(entry)

    def list(self) -> list[dict]:
        with self.lock:
            return list(self.entries)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


class Emulator:
    """The WSGI application: control API, emulated operations, then moto."""

    def __init__(self) -> None:
        # Built as moto_server builds it (moto/server.py), in-process so the emulated operations
        # can read and change moto's backends directly.
        self.moto = DomainDispatcherApplication(create_backend_app)
        s3_default_encryption.install()
        self.agentcore = AgentCore()
        self.simulator = Simulator()
        self.inline_policies = InlinePolicies()
        self.faults = Faults()
        self.races = S3Races()
        self.log = RequestLog()
        self.cfn_responses = CloudFormationResponses()
        self.sessions = Sessions()
        self.control = ControlApi(self)

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_corebound/"):
            return _send(self.control.handle(environ), start_response)
        if self.cfn_responses.claims(environ):  # not AWS: never logged, never faulted
            return _send(self.cfn_responses.handle(environ), start_response)
        if path.startswith("/moto-api"):  # moto's own API (reset, recorder...): passed on, not logged
            return self.moto(environ, start_response)

        request = parse_request(environ)
        request.account = account_of(request)

        answered: list[int] = []

        def recording_start_response(status: str, headers, exc_info=None):
            answered.append(int(status.split(" ", 1)[0]))
            self.log.record(request, answered[-1])
            return start_response(status, headers, exc_info)

        try:
            response = self._emulated(request)
            if response is not None:
                return _send(response, recording_start_response)
            body = self.moto(environ, recording_start_response)
            if answered:  # moto has answered: a scripted concurrent writer may act now
                self.races.after_response(request, answered[-1])
                sqs_sse.after(request, answered[-1], sqs_backends)
            return body
        except Exception:
            self.log.record(request, 500)  # the server answers 500 with the traceback on stderr
            raise

    def _emulated(self, request: AwsRequest) -> Response | None:
        """The response for requests answered here (faults included); None passes to moto."""
        if request.service == "bedrock-agentcore":
            operation, labels = self.agentcore.route(request)
            request.operation = operation
            return (
                self.sessions.check(request)
                or self.faults.take(request)
                or self.agentcore.handle(request, operation, labels)
            )
        refused = self.sessions.check(request)
        if refused is not None:
            return refused
        if request.service == "sts" and request.operation == "AssumeRole":
            refused = self.faults.take(request) or self.sessions.assume_role(request)
            if refused is not None:
                return refused
        fault = self.faults.take(request)
        if fault is not None:
            return fault
        limited = tag_limits.check(request, {"logs": logs_backends, "sqs": sqs_backends, "iam": iam_backends})
        if limited is not None:
            return limited
        refused = sqs_sse.before(request)
        if refused is not None:
            return refused
        if request.service == "iam":
            # moto keys its IAM backends by account (the caller's access key) and partition
            # (IAM is global within one).
            iam_backend = iam_backends[account_of(request)]["aws"]
            if request.operation == "SimulatePrincipalPolicy":
                return self.simulator.simulate(request, iam_backend)
            duplicate = duplicate_role(request, iam_backend)
            if duplicate is not None:
                return duplicate
            canonical_role_name(request, iam_backend)  # IAM names are case-insensitive; moto's are not
            if request.operation == "GetRolePolicy":
                return self.inline_policies.get_role_policy(request, iam_backend)
        if request.service == "logs" and request.operation in ("AssociateKmsKey", "DisassociateKmsKey"):
            return logs_kms.handle(request, logs_backends, kms_backends)
        if tagging_api.claims(request):
            return tagging_api.handle(request)
        if list_pages.claims(request):
            return list_pages.handle(request, self._call_moto)
        return None

    def _call_moto(self, environ: dict) -> Response:
        """moto's answer to `environ`, collected (for the emulations that reshape it)."""
        answered: dict = {}

        def start_response(status: str, headers, exc_info=None):
            answered["status"], answered["headers"] = int(status.split(" ", 1)[0]), list(headers)

        body = b"".join(self.moto(environ, start_response))
        return answered["status"], answered["headers"], body

    def reset(self) -> None:
        moto_api_backend.reset()  # what POST /moto-api/reset does
        self.agentcore.reset()
        self.simulator.reset()
        self.inline_policies.reset()
        self.faults.clear()
        self.races.reset()
        self.log.clear()
        self.cfn_responses.reset()
        self.sessions.reset()


class ControlApi:
    """JSON control endpoints for tests and the demo (never logged); bodies are in README.md.

    POST   /_corebound/reset                          moto and all emulator state (stored CloudFormation answers too)
    GET    /_corebound/requests                       {"requests": [{service, operation, method, path, status, account, region}]}
    POST   /_corebound/agentcore/runtimes             seed a runtime -> GetAgentRuntime shape + endpointArns
    POST   /_corebound/agentcore/runtimes/{id}/status {"status": ..., "failureReason"?} -> the runtime
    DELETE /_corebound/agentcore/runtimes/{id}        remove it with its endpoints, policies and tags
    POST   /_corebound/agentcore/memories             seed a memory -> GetMemory's `memory`
    POST   /_corebound/agentcore/gateways             seed a gateway -> GetGateway shape
    GET    /_corebound/agentcore/policies             {arn: policy string} for every stored policy
    PUT    /_corebound/agentcore/policy-storage       {"mode": "verbatim"|"normalised", "deletedPrincipals"?: [arn]}
    PUT    /_corebound/iam/simulation                 script SimulatePrincipalPolicy
    POST   /_corebound/kms/keys                       a moto KMS key with a chosen id (fixed_ids.py)
    POST   /_corebound/secretsmanager/secrets         a moto secret with a chosen ARN suffix
    POST   /_corebound/cloudformation/stacks          a moto stack with a chosen StackId and tags (hook requests)
    PUT    /_corebound/iam/inline-policies            {"normalise": bool}: GetRolePolicy as a normalising service
    POST   /_corebound/faults                         queue a fault; GET lists pending ones; DELETE clears
    PUT    /_corebound/agentcore/settings             {"memoryTags": "supported"|"unsupported"|"read-only"}
    POST   /_corebound/s3/races                       script a concurrent bucket tag write; GET lists
    POST   /_corebound/bulk/cmk                       a CMK the account and CloudWatch Logs may use (bulk_seed.py)
    POST   /_corebound/bulk/seed                      many resources of every swept type, in-process (bulk_seed.py)
    POST   /_corebound/bulk/check                     which of them lack a tag or the CMK, read from the backends
    PUT    /_corebound/organizations                  {"accounts": {account: "o-..."}}: aws:PrincipalOrgID per account
    POST   /_corebound/accounts/{account}/credentials an administrator's access key in that account (set-up)
    POST   /_corebound/sts/sessions                   {"role_arn", "session_name"?}: a session as Lambda gives a function
    POST   /_corebound/sts/expire                     {"role_arn"} or {"account"}: its sessions expire now
    POST   /_corebound/iam/deny                       {"role_arn", "action": "sns:TagResource"}: that role loses the action
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle(self, environ: dict) -> Response:
        method = environ["REQUEST_METHOD"]
        parts = environ["PATH_INFO"].strip("/").split("/")[1:]
        try:
            spec = self._body(environ)
            match (method, parts):
                case ("POST", ["reset"]):
                    self.emulator.reset()
                    return _control(200, {"status": "ok"})
                case ("GET", ["requests"]):
                    return _control(200, {"requests": self.emulator.log.list()})
                case ("POST", ["agentcore", "runtimes"]):
                    return _control(200, self.emulator.agentcore.seed_runtime(spec))
                case ("POST", ["agentcore", "runtimes", runtime_id, "status"]):
                    return _control(200, self.emulator.agentcore.set_runtime_status(runtime_id, spec))
                case ("DELETE", ["agentcore", "runtimes", runtime_id]):
                    self.emulator.agentcore.delete_runtime(runtime_id)
                    return _control(200, {"deleted": runtime_id})
                case ("POST", ["agentcore", "memories"]):
                    return _control(200, self.emulator.agentcore.seed_memory(spec))
                case ("POST", ["agentcore", "gateways"]):
                    return _control(200, self.emulator.agentcore.seed_gateway(spec))
                case ("GET", ["agentcore", "policies"]):
                    return _control(200, self.emulator.agentcore.policies())
                case ("POST", ["kms", "keys"]):
                    return _control(200, fixed_ids.create_key(spec))
                case ("POST", ["secretsmanager", "secrets"]):
                    return _control(200, fixed_ids.create_secret(spec))
                case ("POST", ["cloudformation", "stacks"]):
                    return _control(200, fixed_ids.create_stack(spec))
                case ("PUT", ["agentcore", "policy-storage"]):
                    return _control(200, self.emulator.agentcore.set_policy_storage(spec))
                case ("PUT", ["iam", "simulation"]):
                    return _control(200, self.emulator.simulator.configure(spec))
                case ("PUT", ["iam", "inline-policies"]):
                    return _control(200, self.emulator.inline_policies.configure(spec))
                case ("POST", ["faults"]):
                    return _control(200, self.emulator.faults.add(spec))
                case ("GET", ["faults"]):
                    return _control(200, {"faults": self.emulator.faults.list()})
                case ("DELETE", ["faults"]):
                    self.emulator.faults.clear()
                    return _control(200, {"faults": []})
                case ("PUT", ["agentcore", "settings"]):
                    return _control(200, self.emulator.agentcore.configure(spec))
                case ("POST", ["s3", "races"]):
                    return _control(200, self.emulator.races.add(spec))
                case ("GET", ["s3", "races"]):
                    return _control(200, self.emulator.races.state())
                case ("POST", ["bulk", "cmk"]):
                    return _control(200, bulk_seed.create_cmk(spec))
                case ("POST", ["bulk", "seed"]):
                    return _control(200, bulk_seed.seed(spec, self.emulator.agentcore))
                case ("POST", ["bulk", "check"]):
                    return _control(200, bulk_seed.check(spec, self.emulator.agentcore))
                case ("PUT", ["organizations"]):
                    return _control(200, self.emulator.sessions.configure_organizations(spec))
                case ("POST", ["accounts", account, "credentials"]):
                    return _control(200, self.emulator.sessions.account_credentials(account))
                case ("POST", ["sts", "sessions"]):
                    return _control(200, self.emulator.sessions.create_session(spec))
                case ("POST", ["sts", "expire"]):
                    return _control(200, self.emulator.sessions.expire(spec))
                case ("POST", ["iam", "deny"]):
                    return _control(200, self.emulator.sessions.deny(spec))
        except NotSeeded as missing:
            return _control(404, {"error": f"not found: {missing.args[0]}"})
        except (SeedError, ScriptError, RaceError, ValueError) as invalid:
            return _control(400, {"error": str(invalid)})
        return _control(404, {"error": f"no control endpoint {method} {environ['PATH_INFO']}"})

    @staticmethod
    def _body(environ: dict) -> dict:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        if not raw.strip():
            return {}
        body = json.loads(raw)  # a ValueError is answered 400
        if not isinstance(body, dict):
            raise ValueError("the request body must be a JSON object")
        return body


def _control(status: int, payload: object) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


def _send(response: Response, start_response):
    status, headers, body = response
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers + [("Content-Length", str(len(body)))])
    return [body]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="exit when standard input closes, so the emulator never outlives the test process that started it",
    )
    args = parser.parse_args(argv)

    # One access-log line per request would drown the output of a burst; the request log
    # (GET /_corebound/requests) is the record. Errors still reach stderr.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, Emulator(), threaded=True)
    port = server.server_port
    # Some moto responses build URLs to the server itself from MOTO_PORT, as under moto_server.
    os.environ.setdefault("MOTO_PORT", str(port))

    def stop(signum, frame):
        raise SystemExit(0)  # raised in the main thread, out of serve_forever

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_with_stdin:
        def watch_stdin():
            sys.stdin.buffer.read()  # returns at EOF: the parent is gone
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"READY http://{args.host}:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
