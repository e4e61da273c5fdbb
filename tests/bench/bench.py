#!/usr/bin/env python3
"""corebound benchmarks: cold start, warm invocation, peak RSS, binary and package size, and the
remediator's 1 000-event burst, for the three Lambda binaries (issue 7).

    make bench                                   # release build, everything
    python3 tests/bench/bench.py --target-dir "$CARGO_TARGET_DIR"            # the same
    python3 tests/bench/bench.py --profile debug --skip-package --burst 100  # quick self-check

Each function binary runs exactly as on Lambda: a process talking HTTP to a Lambda Runtime API,
here a small server in this script that hands out queued events and records what comes back,
with every AWS call going to the local emulator (tests/emulator) so the SDK client set-up and
the real calls are part of what is timed. Custom-resource events get a ResponseURL on a local
PUT-recording server.

Measured per function:
- cold start: wall time from spawning the process to the first invocation's response being
  POSTed to the Runtime API, over --cold-runs fresh processes (the emulator reset and re-seeded
  before each, so every run does the same work); split into init (spawn -> first `next` call,
  i.e. everything before the handler) and the first invocation (event handed out -> response);
- warm invocation: event handed out -> response, over --warm-runs invocations in one process
  (custom resources: a fresh RequestId and the emulator re-seeded between invocations, outside
  the timed window; remediator: a distinct, freshly created topic per invocation);
- peak RSS: VmHWM from /proc/<pid>/status, after a cold run and after the warm runs;
- binary size of <target-dir>/<profile>/<name>;
- package size: bootstrap.zip from `cargo lambda build --release --output-format zip` for arm64
  and x86_64 (needs `pip install -r tests/bench/requirements.txt` and
  `rustup target add aarch64-unknown-linux-gnu`; a failure is reported, not fatal);
- remediator burst: --burst CreateTopic events for distinct topics, back to back into one warm
  process: events/s, emulator writes per event, events lost (no successful response, or a topic
  not tagged and CMK-encrypted afterwards).

Results go to <target-dir>/bench/results.json (the previous one is kept as results.prev.json and
compared with). Targets (reported, not asserted): cold start < 50 ms, peak RSS < 24 MiB,
arm64 zip < 8 MiB. Function logs: <target-dir>/bench/logs/.

`--bin-dir DIR` runs executables from DIR instead of the cargo target (e.g. tests/bench/
fake_lambda.py linked under the three names, to check this harness without a Rust build).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import glob
import http.server
import json
import math
import os
import platform
import queue
import re
import shutil
import signal
import socketserver
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sweep_bench  # the 10 000-resource sweep (issue 12), beside this file

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("runtime-policy", "memory-grant", "remediator", "preflight-hook")
ACCOUNT = "123456789012"
REGION = "us-east-1"
RUNTIME_API_PREFIX = "/2018-06-01/runtime"

TARGET_COLD_MS = 50.0
TARGET_RSS_KIB = 24 * 1024
TARGET_ZIP_BYTES = 8 * 1024 * 1024
# Issue 14: init before the first `next` of every function, the hook's warm invocation per
# resource, `corebound check` on a 500-resource template.
TARGET_INIT_MS = 4.0
TARGET_HOOK_WARM_MS = 5.0
TARGET_CHECK_MS = 200.0

REQUIRED_TAGS = {
    "ApplicationId": "app-0001",
    "Environment": "preprod",
    "Project": "corebound",
    "ServiceLine": "platform",
    "ManagedBy": "platform-ci",
}
SCOPE_PATTERNS = "corebound-demo-*,LPMA_Demo_*,corebound_demo_*"
ROLE_PREFIX = "LPMA_"

READ_PREFIXES = ("Get", "List", "Describe", "Head")

now = time.perf_counter


class BenchError(Exception):
    """A function could not be measured; the message says why."""


# --------------------------------------------------------------------------------------------
# small helpers


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summarize(values: list[float]) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(0.9 * len(ordered)))  # nearest-rank p90
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
        "p90": round(ordered[rank - 1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def vm_hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def command_version(*command: str) -> str | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def fmt_mib(kib: int | float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def fmt_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size / (1024 * 1024):.2f} MiB"


def mark(ok: bool | None) -> str:
    return "" if ok is None else (" ok" if ok else " MISS")


# --------------------------------------------------------------------------------------------
# HTTP servers: the Lambda Runtime API and the CloudFormation ResponseURL


class QuietServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Lambda service offers
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls in the timings

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        # One write for status line, headers and body.
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        for name, value in {"Content-Type": "application/json", **(headers or {}), "Content-Length": str(len(body))}.items():
            lines.append(f"{name}: {value}")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.wfile.flush()


class Invocation:
    def __init__(self, request_id: str, event: dict):
        self.request_id = request_id
        self.payload = json.dumps(event).encode()
        self.handed_out: float | None = None
        self.answered: float | None = None
        self.kind: str | None = None  # "response" | "error"
        self.body: bytes = b""
        self.done = threading.Event()

    @property
    def handler_ms(self) -> float | None:
        if self.handed_out is None or self.answered is None:
            return None
        return (self.answered - self.handed_out) * 1000


class RuntimeApi:
    """A Lambda Runtime API for one function process: queue events, see what came back."""

    def __init__(self, function_name: str):
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.invocations: dict[str, Invocation] = {}
        self.next_calls: list[float] = []
        self.init_error: bytes | None = None
        self.closed = False
        self.changed = threading.Condition()
        api = self

        class Handler(QuietHandler):
            def do_GET(self):
                if self.path != f"{RUNTIME_API_PREFIX}/invocation/next":
                    return self.reply(404, b'{"errorMessage":"not found"}')
                with api.changed:
                    api.next_calls.append(now())
                    api.changed.notify_all()
                while True:
                    if api.closed:
                        return self.reply(503, b'{"errorMessage":"closing"}')
                    try:
                        invocation = api.pending.get(timeout=0.1)
                        break
                    except queue.Empty:
                        continue
                invocation.handed_out = now()
                self.reply(200, invocation.payload, {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):
                body = self.read_body()
                stamp = now()
                parts = self.path[len(RUNTIME_API_PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    with api.changed:
                        api.init_error = body
                        api.changed.notify_all()
                    return self.reply(202, b'{"status":"OK"}')
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    invocation = api.invocations.get(parts[1])
                    if invocation is None:
                        return self.reply(400, b'{"errorMessage":"unknown request id"}')
                    invocation.answered, invocation.kind, invocation.body = stamp, parts[2], body
                    invocation.done.set()
                    with api.changed:
                        api.changed.notify_all()
                    return self.reply(202, b'{"status":"OK"}')
                self.reply(404, b'{"errorMessage":"not found"}')

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def submit(self, event: dict, request_id: str | None = None) -> Invocation:
        invocation = Invocation(request_id or str(uuid.uuid4()), event)
        self.invocations[invocation.request_id] = invocation
        self.pending.put(invocation)
        return invocation

    def wait_next_calls(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.next_calls) >= count, timeout)

    def close(self) -> None:
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


class ResponseUrlServer:
    """Records the PUTs a custom resource makes to its ResponseURL: /cfn/<RequestId>."""

    def __init__(self):
        self.answers: dict[str, list[dict]] = {}
        self.lock = threading.Lock()
        recorder = self

        class Handler(QuietHandler):
            def do_PUT(self):
                body = self.read_body()
                key = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
                try:
                    answer = json.loads(body)
                except ValueError:
                    answer = {"unparsable": body.decode(errors="replace")}
                with recorder.lock:
                    recorder.answers.setdefault(key, []).append(answer)
                self.reply(200, b"", {"Content-Type": "text/plain"})

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/cfn/"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url_for(self, request_id: str) -> str:
        # Shaped like a presigned S3 URL, so the query string is exercised too.
        return f"{self.base}{request_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature=0"

    def answer(self, request_id: str) -> dict | None:
        with self.lock:
            answers = self.answers.get(request_id) or []
            return answers[-1] if answers else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------------
# the local AWS emulator


class Emulator:
    def __init__(self, python: str, log_path: Path):
        self.log_file = open(log_path, "wb")
        script = REPO / "tests/emulator/corebound_emulator.py"
        command = [python, str(script), "--port", "0"]
        # With --exit-with-stdin the emulator exits when this process's end of its stdin closes,
        # so it never outlives an interrupted benchmark.
        if "--exit-with-stdin" in script.read_text():
            command.append("--exit-with-stdin")
        self.process = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log_file,
        )
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith(b"READY "):
                break
            if not line and self.process.poll() is not None:
                break
        if not line.startswith(b"READY "):
            self.stop()
            raise SystemExit(f"the emulator did not start ({' '.join(command)}):\n{tail(log_path)}")
        self.url = line.split()[1].decode()
        # Drain stdout so a chatty emulator never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()

    # -- transport

    def _call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def control(self, method: str, path: str, spec: dict | None = None) -> dict:
        body = json.dumps(spec).encode() if spec is not None else None
        status, raw = self._call(method, "/_corebound/" + path, body, {"Content-Type": "application/json"})
        if status != 200:
            raise BenchError(f"emulator control {method} {path}: HTTP {status} {raw[:300]!r}")
        return json.loads(raw)

    @staticmethod
    def _auth(service: str) -> str:
        return (f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0")

    def query(self, service: str, params: dict) -> ET.Element:
        body = urllib.parse.urlencode(params).encode()
        status, raw = self._call("POST", "/", body, {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": self._auth(service),
        })
        if status != 200:
            raise BenchError(f"{service} {params.get('Action')}: HTTP {status} {raw[:300]!r}")
        return ET.fromstring(raw)

    def json_call(self, service: str, target: str, payload: dict) -> dict:
        status, raw = self._call("POST", "/", json.dumps(payload).encode(), {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
            "Authorization": self._auth(service),
        })
        if status != 200:
            raise BenchError(f"{target}: HTTP {status} {raw[:300]!r}")
        return json.loads(raw or b"{}")

    # -- operations the benchmark needs

    def reset(self) -> None:
        self.control("POST", "reset")

    def requests(self) -> list[dict]:
        return self.control("GET", "requests")["requests"]

    def create_key(self) -> str:
        answer = self.json_call("kms", "TrentService.CreateKey", {"Description": "corebound bench CMK"})
        return answer["KeyMetadata"]["Arn"]

    def create_topic(self, name: str) -> str:
        root = self.query("sns", {"Action": "CreateTopic", "Name": name, "Version": "2010-03-31"})
        for element in root.iter():
            if strip_ns(element.tag) == "TopicArn":
                return element.text
        raise BenchError(f"CreateTopic {name}: no TopicArn in the answer")

    def topic_tags(self, arn: str) -> dict[str, str]:
        root = self.query("sns", {"Action": "ListTagsForResource", "ResourceArn": arn, "Version": "2010-03-31"})
        tags = {}
        for member in root.iter():
            if strip_ns(member.tag) == "member":
                fields = {strip_ns(child.tag): child.text for child in member}
                if "Key" in fields:
                    tags[fields["Key"]] = fields.get("Value") or ""
        return tags

    def topic_attributes(self, arn: str) -> dict[str, str]:
        root = self.query("sns", {"Action": "GetTopicAttributes", "TopicArn": arn, "Version": "2010-03-31"})
        attributes = {}
        for entry in root.iter():
            if strip_ns(entry.tag) == "entry":
                fields = {strip_ns(child.tag): child.text for child in entry}
                attributes[fields.get("key")] = fields.get("value") or ""
        return attributes

    def create_role(self, name: str) -> None:
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        self.query("iam", {"Action": "CreateRole", "RoleName": name, "Version": "2010-05-08",
                           "AssumeRolePolicyDocument": json.dumps(trust)})


# --------------------------------------------------------------------------------------------
# a function process


class FunctionProcess:
    def __init__(self, binary: Path, function: str, endpoint: str, env: dict, log_path: Path):
        self.api = RuntimeApi(f"corebound-bench-{function}")
        self.log_path = log_path
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": f"corebound-bench-{function}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/corebound-bench-{function}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_MAX_ATTEMPTS": "2",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL": endpoint,
            # The ResponseURL stand-in is plain http on loopback; the functions answer only
            # https S3 URLs unless the host is listed here (local use only).
            "RESPONSE_URL_ALLOWED_HOSTS": "127.0.0.1",
            **env,
        }
        self.binary = binary
        self.process: subprocess.Popen | None = None
        self.spawned: float | None = None

    def submit(self, event: dict, request_id: str | None = None) -> Invocation:
        return self.api.submit(event, request_id)

    def start(self) -> None:
        log_file = open(self.log_path, "ab")
        self.spawned = now()
        self.process = subprocess.Popen(
            [str(self.binary)], env=self.env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, cwd="/",
        )
        log_file.close()  # the child holds its own descriptor

    def wait(self, invocation: Invocation, timeout: float) -> Invocation:
        deadline = time.monotonic() + timeout
        while not invocation.done.wait(0.02):
            if self.api.init_error is not None:
                raise BenchError(f"init error posted: {self.api.init_error[:500].decode(errors='replace')}")
            code = self.process.poll()
            if code is not None:
                hint = " (the binary is still a stub?)" if code == 0 and not self.api.next_calls else ""
                raise BenchError(f"the process exited with code {code} before answering{hint}\nlog tail:\n{tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise BenchError(f"no answer within {timeout:.0f} s\nlog tail:\n{tail(self.log_path)}")
        if invocation.kind != "response":
            raise BenchError(f"the invocation answered on /error: {invocation.body[:500].decode(errors='replace')}")
        return invocation

    def idle(self, timeout: float = 2.0) -> None:
        """Wait until the process asks for the next event (its work for the last one is done)."""
        answered = sum(1 for i in self.api.invocations.values() if i.done.is_set())
        self.api.wait_next_calls(answered + 1, timeout)

    def peak_rss_kib(self) -> int | None:
        return vm_hwm_kib(self.process.pid) if self.process else None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.api.close()


# --------------------------------------------------------------------------------------------
# what each function gets: seeding, environment, events


def load_event(path: Path) -> dict:
    return json.loads(path.read_text())


class CustomResourceScenario:
    """runtime-policy and memory-grant: one Create sample, the resources it names seeded fresh."""

    def __init__(self, function: str, event_path: Path, emulator: Emulator, responses: ResponseUrlServer, extra_env: dict):
        self.function = function
        self.event_path = event_path
        self.template = load_event(event_path)
        self.emulator = emulator
        self.responses = responses
        self.extra_env = extra_env
        self.simulate = function == "memory-grant"
        self.last_answer: dict | None = None

    def describe(self) -> str:
        return f"{self.event_path.relative_to(REPO)} ({self.template.get('ResourceType')}, {self.template.get('RequestType')})"

    def seed(self) -> dict:
        """Reset the emulator to the state the event expects; returns the function's environment."""
        emulator = self.emulator
        emulator.reset()
        properties = self.template.get("ResourceProperties") or {}
        runtime_arn = properties.get("RuntimeArn")
        if isinstance(runtime_arn, str) and ":runtime/" in runtime_arn:
            runtime_id = runtime_arn.split(":runtime/", 1)[1].split("/")[0]
            endpoints = properties.get("EndpointNames") or ["DEFAULT"]
            if isinstance(endpoints, str):
                endpoints = [e.strip() for e in endpoints.split(",") if e.strip()]
            if "DEFAULT" not in endpoints:
                endpoints = ["DEFAULT", *endpoints]
            emulator.control("POST", "agentcore/runtimes", {
                "name": runtime_id.rsplit("-", 1)[0], "id": runtime_id, "endpoints": endpoints})
        memory_arn = properties.get("MemoryArn")
        if isinstance(memory_arn, str) and ":memory/" in memory_arn:
            memory_id = memory_arn.split(":memory/", 1)[1]
            emulator.control("POST", "agentcore/memories", {"name": memory_id.rsplit("-", 1)[0], "id": memory_id})
        role = properties.get("RoleName")
        if isinstance(role, str) and role:
            emulator.create_role(role.rsplit("/", 1)[-1])
        if self.simulate:
            # The simulator evaluates the role's real policies (the grant just written), as IAM
            # does, so verification passes on its first check with whatever actions the grant has.
            emulator.control("PUT", "iam/simulation", {"mode": "evaluate"})
        return dict(self.extra_env)

    def event(self) -> tuple[str, dict]:
        request_id = str(uuid.uuid4())
        event = copy.deepcopy(self.template)
        event["RequestId"] = request_id
        event["ResponseURL"] = self.responses.url_for(request_id)
        return request_id, event

    def before_warm(self, index: int) -> None:
        self.seed()  # the same state as the first invocation saw (env unchanged: no keys here)

    def check(self, request_id: str, invocation: "Invocation | None" = None) -> str | None:
        """None when the invocation did what it should, else why not."""
        answer = self.responses.answer(request_id)
        if answer is not None:
            self.last_answer = {key: answer.get(key) for key in ("Status", "Reason", "PhysicalResourceId", "Data")}
        if answer is None:
            return "no PUT reached the ResponseURL"
        if answer.get("Status") != "SUCCESS":
            return f"answered {answer.get('Status')}: {answer.get('Reason')}"
        return None


class RemediatorScenario:
    """remediator: a CreateTopic event for a topic that exists, untagged and unencrypted."""

    def __init__(self, event_path: Path, emulator: Emulator):
        self.event_path = event_path
        self.template = load_event(event_path)
        self.emulator = emulator
        self.key_arn: str | None = None
        self.base_topic = self.template["detail"]["requestParameters"]["name"]
        self.env = {
            "REQUIRED_TAGS": json.dumps(REQUIRED_TAGS),
            "MODE": "enforce",
            "SCOPE_PATTERNS": SCOPE_PATTERNS,
            "REQUIRED_ROLE_PREFIX": ROLE_PREFIX,
        }
        self.last_topic: str | None = None

    def describe(self) -> str:
        return f"{self.event_path.relative_to(REPO)} (sns CreateTopic {self.base_topic})"

    def seed(self) -> dict:
        self.emulator.reset()
        self.key_arn = self.emulator.create_key()
        self.emulator.create_topic(self.base_topic)
        return {**self.env, "KMS_KEY_ARN": self.key_arn}

    def topic_event(self, name: str, arn: str | None = None) -> dict:
        event = copy.deepcopy(self.template)
        detail = event["detail"]
        detail["requestParameters"]["name"] = name
        detail["responseElements"]["topicArn"] = arn or f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        event["id"] = str(uuid.uuid4())
        detail["eventID"] = str(uuid.uuid4())
        detail["requestID"] = str(uuid.uuid4())
        return event

    def event(self) -> tuple[str, dict]:
        name = self.last_topic or self.base_topic
        self.last_topic = None
        return str(uuid.uuid4()), self.topic_event(name)

    def before_warm(self, index: int) -> None:
        name = f"corebound-demo-warm-{index:04d}-{uuid.uuid4().hex[:6]}"
        self.emulator.create_topic(name)
        self.last_topic = name

    def check(self, request_id: str, invocation: "Invocation | None" = None) -> str | None:
        return None  # a successful Runtime API response; the burst checks the topics themselves

    def remediated(self, arn: str) -> str | None:
        tags = self.emulator.topic_tags(arn)
        missing = [key for key, value in REQUIRED_TAGS.items() if tags.get(key) != value]
        if missing:
            return f"tags missing: {', '.join(missing)}"
        key = self.emulator.topic_attributes(arn).get("KmsMasterKeyId")
        key_id = self.key_arn.rsplit("/", 1)[-1]
        if not key or key_id not in key:
            return f"KmsMasterKeyId is {key!r}"
        return None


class HookScenario:
    """preflight-hook: RESOURCE requests (events/preflight-hook/), one after the other in a warm
    process; the stack they name is seeded with the five tags (DescribeStacks, read once per
    stack and then cached, as in a stack operation's burst of per-resource invocations)."""

    REQUESTS = ("resource-create-topic.json", "resource-update-queue.json", "cloud-control-create-bucket.json")
    EXPECTED = {"resource-create-topic.json": "SUCCESS", "resource-update-queue.json": "FAILED",
                "cloud-control-create-bucket.json": "FAILED"}

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.templates = [(name, load_event(REPO / "events/preflight-hook" / name)) for name in self.REQUESTS]
        self.index = 0
        self.sent: list[str] = []
        self.env = {
            "REQUIRED_ROLE_PREFIX": ROLE_PREFIX,
            "REQUIRED_TAGS": json.dumps(REQUIRED_TAGS),
            "PERMISSIONS_BOUNDARY_ARN": f"arn:aws:iam::{ACCOUNT}:policy/{ROLE_PREFIX}Boundary",
            "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/7c0b0e5d-4a1f-4e2b-9c3d-5e6f7a8b9c0d",
            "HOOK_FAILURE_MODE": "WARN",
        }
        self.last_answer: dict | None = None

    def describe(self) -> str:
        return "events/preflight-hook/" + ", ".join(self.REQUESTS) + " (RESOURCE and Cloud Control requests)"

    def seed(self) -> dict:
        self.emulator.reset()
        stack_id = self.templates[0][1]["stackId"]
        self.emulator.control("POST", "cloudformation/stacks", {"stackId": stack_id, "tags": REQUIRED_TAGS})
        self.index = 0
        self.sent = []
        return dict(self.env)

    def event(self) -> tuple[str, dict]:
        name, template = self.templates[self.index % len(self.templates)]
        self.index += 1
        self.sent.append(name)
        event = copy.deepcopy(template)
        event["clientRequestToken"] = str(uuid.uuid4())
        return event["clientRequestToken"], event

    def before_warm(self, index: int) -> None:
        pass

    def check(self, request_id: str, invocation: "Invocation | None" = None) -> str | None:
        if invocation is None:
            return None
        try:
            answer = json.loads(invocation.body)
        except ValueError:
            return f"the answer is not JSON: {invocation.body[:200]!r}"
        self.last_answer = answer
        expected = self.EXPECTED[self.sent[-1]]
        if answer.get("clientRequestToken") != request_id:
            return "the clientRequestToken was not echoed"
        if answer.get("hookStatus") != expected:
            return f"{self.sent[-1]}: {answer.get('hookStatus')} ({answer.get('message', '')[:200]}), expected {expected}"
        return None

    def warm_by_kind(self, warm: list[float]) -> dict:
        """The warm timings per request kind (the warm runs follow the untimed first one)."""
        kinds = self.sent[-len(warm):]
        return {name: summarize([ms for kind, ms in zip(kinds, warm) if kind == name]) for name in self.REQUESTS}


def generated_template(resources: int) -> str:
    """A CloudFormation template of `resources` resources of the kinds the rules judge, about
    one in five breaking a rule, the rest compliant: what `corebound check` meets in a big stack."""
    tags = [{"Key": key, "Value": value} for key, value in REQUIRED_TAGS.items()]
    key = {"Fn::GetAtt": ["ProjectKey", "Arn"]}
    body: dict = {"ProjectKey": {"Type": "AWS::KMS::Key", "Properties": {
        "EnableKeyRotation": True, "Tags": tags,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "Root", "Effect": "Allow",
                      "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                      "Action": "kms:*", "Resource": "*"}]}}}}
    kinds = ("topic", "queue", "log", "bucket", "role", "secret")
    for n in range(resources - 1):
        kind = kinds[n % len(kinds)]
        broken = n % 5 == 0
        name = f"corebound-demo-{kind}-{n:04d}"
        if kind == "topic":
            resource = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name, "Tags": tags,
                        **({} if broken else {"KmsMasterKeyId": key})}}
        elif kind == "queue":
            resource = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name, "Tags": tags,
                        "KmsMasterKeyId": "alias/aws/sqs" if broken else key}}
        elif kind == "log":
            resource = {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": f"/corebound/demo/{n:04d}",
                        "Tags": tags if not broken else tags[:2], "KmsKeyId": key}}
        elif kind == "bucket":
            resource = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name, "Tags": tags,
                        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault":
                            {"SSEAlgorithm": "AES256"} if broken else {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]}}}
        elif kind == "role":
            resource = {"Type": "AWS::IAM::Role", "Properties": {
                "RoleName": f"{'Other_' if broken else ROLE_PREFIX}Demo_Role{n:04d}",
                "PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/{ROLE_PREFIX}Boundary", "Tags": tags,
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}
        else:
            resource = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": name, "Tags": tags,
                        **({} if broken else {"KmsKeyId": key})}}
        body[f"Resource{n:04d}"] = resource
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": body}, indent=1)


def measure_check(binary: Path, bench_dir: Path, resources: int, runs: int) -> dict:
    """`corebound check` on a generated template of `resources` resources: wall time per run
    (process start to exit, as CI sees it), with the settings of the functions."""
    template = bench_dir / f"check-{resources}-resources.json"
    template.write_text(generated_template(resources))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REQUIRED_ROLE_PREFIX": ROLE_PREFIX,
           "REQUIRED_TAGS": json.dumps(REQUIRED_TAGS),
           "PERMISSIONS_BOUNDARY_ARN": f"arn:aws:iam::{ACCOUNT}:policy/{ROLE_PREFIX}Boundary"}
    times, findings, codes = [], None, set()
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run([str(binary), "check", "--format", "json", str(template)],
                                   capture_output=True, env=env, timeout=120)
        times.append((time.perf_counter() - started) * 1000)
        codes.add(completed.returncode)
        if findings is None:
            try:
                report = json.loads(completed.stdout)
                items = report.get("findings", report) if isinstance(report, dict) else report
                findings = len(items) if isinstance(items, list) else None
            except ValueError:
                findings = None
    result = {"resources": resources, "template_bytes": template.stat().st_size, "wall_ms": summarize(times),
              "exit_codes": sorted(codes), "findings": findings}
    if codes - {0, 1}:
        result["error"] = f"exit codes {sorted(codes)} (2 = error): {completed.stderr[:300].decode(errors='replace')}"
    return result


def find_memory_grant_event() -> Path | None:
    candidates = sorted(glob.glob(str(REPO / "events/memory-grant/*.json")))
    best = None
    for candidate in candidates:
        try:
            event = load_event(Path(candidate))
        except (OSError, ValueError):
            continue
        if event.get("RequestType") != "Create":
            continue
        if event.get("ResourceType") == "Custom::AgentCoreMemoryGrant":
            return Path(candidate)
        best = best or Path(candidate)
    return best


# --------------------------------------------------------------------------------------------
# measurements


def measure_function(function: str, source: Path, binary: Path, scenario, args, log_dir: Path) -> dict:
    result: dict = {"event": scenario.describe(), "binary": str(source)}
    try:
        result["binary_bytes"] = binary.stat().st_size
    except OSError:
        pass
    log_path = log_dir / f"{function}.log"
    log_path.write_bytes(b"")
    failures: list[str] = []

    # Cold starts: a fresh process per run, the emulator reset and re-seeded before each.
    cold, init, first, cold_rss = [], [], [], []
    endpoint = scenario.emulator.url
    for run in range(args.cold_runs):
        process = None
        try:
            env = scenario.seed()
            seeded = len(scenario.emulator.requests()) if run == 0 else 0
            process = FunctionProcess(binary, function, endpoint, {**env, **args.extra_env}, log_path)
            request_id, event = scenario.event()
            invocation = process.submit(event, request_id)
            process.start()
            process.wait(invocation, args.timeout)
            cold.append((invocation.answered - process.spawned) * 1000)
            init.append((process.api.next_calls[0] - process.spawned) * 1000)
            first.append(invocation.handler_ms)
            problem = scenario.check(request_id, invocation)
            if problem:
                failures.append(f"cold run {run + 1}: {problem}")
            process.idle()
            rss = process.peak_rss_kib()
            if rss is not None:
                cold_rss.append(rss)
            if run == 0:  # this one cold invocation's AWS calls, init included
                result["aws_calls_per_invocation"] = count_operations(scenario.emulator.requests()[seeded:])
        except BenchError as error:
            if run == 0:
                raise
            failures.append(f"cold run {run + 1}: {error}")
        finally:
            if process is not None:
                process.stop()
    result["cold_start_ms"] = summarize(cold)
    result["init_ms"] = summarize(init)
    result["first_invocation_ms"] = summarize(first)
    result["cold_peak_rss_kib"] = {"median": statistics.median(cold_rss), "max": max(cold_rss)} if cold_rss else None
    result["cold_runs_ms"] = [round(value, 3) for value in cold]

    # Warm: one process, one untimed first invocation, then --warm-runs timed ones.
    env = scenario.seed()
    process = FunctionProcess(binary, function, endpoint, {**env, **args.extra_env}, log_path)
    warm = []
    try:
        request_id, event = scenario.event()
        invocation = process.submit(event, request_id)
        process.start()
        process.wait(invocation, args.timeout)
        for index in range(args.warm_runs):
            process.idle()
            scenario.before_warm(index)
            request_id, event = scenario.event()
            invocation = process.wait(process.submit(event, request_id), args.timeout)
            warm.append(invocation.handler_ms)
            problem = scenario.check(request_id, invocation)
            if problem:
                failures.append(f"warm run {index + 1}: {problem}")
        process.idle()
        result["warm_ms"] = summarize(warm)
        result["warm_runs_ms"] = [round(value, 3) for value in warm]
        if hasattr(scenario, "warm_by_kind"):
            result["warm_ms_per_request"] = scenario.warm_by_kind(warm)
        result["warm_peak_rss_kib"] = process.peak_rss_kib()
        if function == "remediator" and args.burst > 0:
            try:
                result["burst"] = measure_burst(process, scenario, args)
                result["burst_peak_rss_kib"] = process.peak_rss_kib()
            except BenchError as error:
                result["burst"] = {"error": str(error)}
    except BenchError as error:
        failures.append(f"warm runs: {error}")
        result["warm_ms"] = summarize(warm)
    finally:
        process.stop()
    if getattr(scenario, "last_answer", None):
        result["last_answer"] = scenario.last_answer  # what CloudFormation would have received
    result["failures"] = failures
    result["status"] = "ok" if not failures else "errors"
    return result


def count_operations(entries: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        key = entry.get("operation") or f"{entry.get('method')} {entry.get('path')}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def measure_burst(process: FunctionProcess, scenario: RemediatorScenario, args) -> dict:
    emulator = scenario.emulator
    count = args.burst
    log(f"  burst: creating {count} topics in the emulator")
    stem = f"corebound-demo-burst-{uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(4) as pool:
        topics = list(pool.map(lambda i: (f"{stem}-{i:04d}", emulator.create_topic(f"{stem}-{i:04d}")), range(count)))
    before = len(emulator.requests())
    process.idle()
    log(f"  burst: {count} events back to back")
    started = now()
    invocations = [process.submit(scenario.topic_event(name, arn)) for name, arn in topics]
    deadline = time.monotonic() + args.burst_timeout
    errors: list[str] = []
    for invocation in invocations:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not invocation.done.wait(remaining):
            if process.process.poll() is not None:
                errors.append(f"the process exited with code {process.process.returncode}")
            else:
                errors.append(f"burst timed out after {args.burst_timeout:.0f} s")
            break
    answered = [i for i in invocations if i.done.is_set()]
    succeeded = [i for i in answered if i.kind == "response"]
    failed = [i for i in answered if i.kind == "error"]
    window = emulator.requests()[before:]
    last = max((i.answered for i in answered), default=started)
    first_out = min((i.handed_out for i in invocations if i.handed_out), default=started)
    elapsed = last - first_out
    writes = [r for r in window if not (r.get("operation") or "").startswith(READ_PREFIXES)]
    by_operation = count_operations(window)

    log("  burst: checking every topic's tags and KmsMasterKeyId")
    ok_ids = {i.request_id for i in succeeded}
    not_remediated: list[str] = []

    def check(pair):
        (name, arn), invocation = pair
        if invocation.request_id not in ok_ids:
            return None  # counted as lost already
        problem = scenario.remediated(arn)
        return f"{name}: {problem}" if problem else None

    with ThreadPoolExecutor(4) as pool:
        for problem in pool.map(check, zip(topics, invocations)):
            if problem:
                not_remediated.append(problem)
    latencies = [i.handler_ms for i in succeeded if i.handler_ms is not None]
    result = {
        "events": count,
        "succeeded": len(succeeded),
        "failed": len(failed),
        "unanswered": count - len(answered),
        "not_remediated": len(not_remediated),
        "lost": count - len(succeeded) + len(not_remediated),
        "seconds": round(elapsed, 3),
        "events_per_second": round(len(succeeded) / elapsed, 1) if elapsed > 0 and succeeded else None,
        "invocation_ms": summarize(latencies),
        "emulator_requests": len(window),
        "writes": len(writes),
        "writes_per_event": round(len(writes) / count, 3),
        "requests_per_event": round(len(window) / count, 3),
        "emulator_errors": sum(1 for r in window if (r.get("status") or 0) >= 400),
        "operations": by_operation,
    }
    if errors:
        result["error"] = "; ".join(errors)
    if failed:
        result["first_error"] = failed[0].body[:500].decode(errors="replace")
    if not_remediated:
        result["not_remediated_sample"] = not_remediated[:5]
    return result


# --------------------------------------------------------------------------------------------
# build and packages


def cargo_env(target_dir: Path, extra_path: list[str] | None = None) -> dict:
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    if extra_path:
        env["PATH"] = os.pathsep.join([*extra_path, env.get("PATH", "")])
    return env


def build_release(target_dir: Path) -> dict:
    command = ["cargo", "build", "--release", "--workspace", "--bins"]
    log(f"$ {' '.join(command)}   (CARGO_TARGET_DIR={target_dir})")
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO, env=cargo_env(target_dir))
    if completed.returncode != 0:
        raise SystemExit(f"release build failed (exit {completed.returncode})")
    return {"command": " ".join(command), "seconds": round(time.monotonic() - started, 1)}


def tool_path_dirs(python: str) -> list[str]:
    """Where `cargo-lambda` (and zig) live when installed from PyPI: the venv's bin."""
    dirs = []
    for candidate in (Path(python).parent, Path(sys.executable).parent):
        if str(candidate) not in dirs:
            dirs.append(str(candidate))
    return dirs


def build_packages(target_dir: Path, python: str, log_dir: Path, architectures: list[str]) -> dict:
    extra = tool_path_dirs(python)
    env = cargo_env(target_dir, extra)
    result: dict = {}
    version = subprocess.run(["cargo", "lambda", "--version"], capture_output=True, text=True, env=env, cwd=REPO)
    if version.returncode != 0:
        message = ("cargo lambda is not available: pip install -r tests/bench/requirements.txt into the venv "
                   f"({(version.stderr or version.stdout).strip().splitlines()[0] if (version.stderr or version.stdout).strip() else 'no output'})")
        return {arch: {"error": message} for arch in architectures}
    result["cargo_lambda"] = version.stdout.strip()
    for arch in architectures:
        lambda_dir = target_dir / "lambda" / arch
        command = ["cargo", "lambda", "build", "--release", "--output-format", "zip", "--lambda-dir", str(lambda_dir)]
        if arch == "arm64":
            command.insert(4, "--arm64")
        else:
            command.insert(4, "--x86-64")
        for function in FUNCTIONS:
            command += ["--package", function]
        log(f"$ {' '.join(command)}")
        build_log = log_dir / f"cargo-lambda-{arch}.log"
        started = time.monotonic()
        with open(build_log, "wb") as out:
            completed = subprocess.run(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        entry: dict = {"command": " ".join(command), "seconds": round(time.monotonic() - started, 1)}
        if completed.returncode != 0:
            entry["error"] = f"exit {completed.returncode}; see {build_log}:\n{tail(build_log, 12)}"
        zips = {}
        for function in FUNCTIONS:
            path = lambda_dir / function / "bootstrap.zip"
            if completed.returncode == 0 and path.is_file():
                with zipfile.ZipFile(path) as archive:
                    unpacked = sum(info.file_size for info in archive.infolist())
                zips[function] = {"path": str(path), "zip_bytes": path.stat().st_size, "unzipped_bytes": unpacked}
        entry["zips"] = zips
        result[arch] = entry
    return result


# --------------------------------------------------------------------------------------------
# report


def machine_info() -> dict:
    info = {"nproc": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "kernel": platform.release(), "arch": platform.machine()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def print_report(results: dict, previous: dict | None) -> None:
    out = []
    out.append("")
    out.append(f"corebound bench  profile={results['profile']}  commit={(results['git'] or {}).get('commit', '?')[:12]}"
               f"{'+dirty' if (results['git'] or {}).get('dirty') else ''}  {results['date']}  nproc={results['machine']['nproc']}"
               f"  load={results['machine']['loadavg_at_start']} -> {results['machine'].get('loadavg_after_measuring')}")
    out.append("")
    header = f"{'function':<16}{'cold median':>12}{'p90':>8}{'min':>8}{'max':>8}{'init':>8}{'1st inv':>8}{'warm med':>10}{'RSS cold':>10}{'RSS warm':>10}{'binary':>12}"
    out.append(header + "    targets: cold < 50 ms, RSS < 24 MiB, init <= 4 ms")
    out.append("-" * len(header))
    for function in FUNCTIONS:
        entry = results["functions"].get(function, {})
        if entry.get("status") in ("skipped", "failed"):
            out.append(f"{function:<16}{entry['status'].upper()}: {entry.get('note', '')}")
            continue
        cold = entry.get("cold_start_ms") or {}
        warm = entry.get("warm_ms") or {}
        rss_cold = (entry.get("cold_peak_rss_kib") or {}).get("max")
        rss_warm = entry.get("warm_peak_rss_kib")
        rss_all = max([r for r in (rss_cold, rss_warm, entry.get("burst_peak_rss_kib")) if r is not None], default=None)
        out.append(
            f"{function:<16}{fmt_ms(cold.get('median')):>12}{fmt_ms(cold.get('p90')):>8}{fmt_ms(cold.get('min')):>8}"
            f"{fmt_ms(cold.get('max')):>8}{fmt_ms((entry.get('init_ms') or {}).get('median')):>8}"
            f"{fmt_ms((entry.get('first_invocation_ms') or {}).get('median')):>8}{fmt_ms(warm.get('median')):>10}"
            f"{fmt_mib(rss_cold):>10}{fmt_mib(rss_warm):>10}{fmt_bytes(entry.get('binary_bytes')):>12}"
            f"   cold{mark(cold.get('median') < TARGET_COLD_MS if cold.get('median') is not None else None)}"
            f" rss{mark(rss_all < TARGET_RSS_KIB if rss_all is not None else None)}"
            f" init{mark((entry.get('init_ms') or {}).get('median') <= TARGET_INIT_MS if (entry.get('init_ms') or {}).get('median') is not None else None)}"
        )
        for failure in entry.get("failures", [])[:5]:
            out.append(f"{'':<16}! {failure.splitlines()[0]}")
    out.append("  (ms; cold = spawn -> first response posted, n=%s; init = spawn -> first `next`; 1st inv = hand-out -> response"
               " of that first event; warm = hand-out -> response, n=%s; RSS = VmHWM MiB)" % (results["settings"]["cold_runs"], results["settings"]["warm_runs"]))

    per_request = (results["functions"].get("preflight-hook") or {}).get("warm_ms_per_request") or {}
    if per_request:
        cells = []
        for name, stats in per_request.items():
            if stats:
                cells.append(f"{name} {fmt_ms(stats['median'])} (p90 {fmt_ms(stats['p90'])})"
                             f"{mark(stats['median'] <= TARGET_HOOK_WARM_MS)}")
        out.append(f"  preflight-hook warm per resource (target <= {TARGET_HOOK_WARM_MS:.0f} ms): " + "; ".join(cells))
    check = results.get("check")
    if check and check.get("wall_ms"):
        wall = check["wall_ms"]
        out.append(f"  corebound check, {check['resources']} resources ({fmt_bytes(check['template_bytes'])}): "
                   f"median {fmt_ms(wall['median'])}, p90 {fmt_ms(wall['p90'])}, {check.get('findings')} findings, "
                   f"exit {check['exit_codes']}{mark(wall['median'] <= TARGET_CHECK_MS)} (target <= {TARGET_CHECK_MS:.0f} ms)")
    elif check:
        out.append(f"  corebound check: {check.get('skipped') or check.get('error')}")
    for function in FUNCTIONS:
        calls = (results["functions"].get(function) or {}).get("aws_calls_per_invocation")
        if calls:
            out.append(f"  {function} AWS calls per invocation: " + ", ".join(f"{op} {n}" for op, n in calls.items()))

    packages = results.get("packages") or {}
    out.append("")
    if packages.get("skipped"):
        out.append(f"packages: skipped ({packages['skipped']})")
    else:
        out.append(f"packages ({packages.get('cargo_lambda', 'cargo lambda')}; target: arm64 zip < 8 MiB):")
        for arch in ("arm64", "x86_64"):
            entry = packages.get(arch)
            if not entry:
                continue
            zips = entry.get("zips") or {}
            cells = []
            for function in FUNCTIONS:
                z = zips.get(function)
                if z:
                    ok = z["zip_bytes"] < TARGET_ZIP_BYTES if arch == "arm64" else None
                    cells.append(f"{function} {fmt_bytes(z['zip_bytes'])} (unzipped {fmt_bytes(z['unzipped_bytes'])}){mark(ok)}")
            out.append(f"  {arch:<7} " + ("; ".join(cells) if cells else "no zip"))
            if entry.get("error"):
                out.append(f"          error: {entry['error'].splitlines()[0]}")

    burst = (results["functions"].get("remediator") or {}).get("burst")
    out.append("")
    if burst is None:
        reason = (results["functions"].get("remediator") or {}).get("note") or "--burst 0 or remediator not selected"
        out.append(f"remediator burst: not run ({reason})")
    elif "events" not in burst:
        out.append(f"remediator burst: FAILED: {burst.get('error')}")
    else:
        out.append(
            f"remediator burst: {burst['events']} CreateTopic events in {burst['seconds']} s = {burst['events_per_second']} events/s; "
            f"writes/event {burst['writes_per_event']} (requests/event {burst['requests_per_event']}); "
            f"lost {burst['lost']} (failed {burst['failed']}, unanswered {burst['unanswered']}, not remediated {burst['not_remediated']})"
        )
        top = ", ".join(f"{op} {n}" for op, n in list(burst["operations"].items())[:8])
        out.append(f"  emulator calls: {top}")
        if burst.get("error"):
            out.append(f"  error: {burst['error']}")
        if burst.get("first_error"):
            out.append(f"  first /error: {burst['first_error'][:200]}")
        for sample in burst.get("not_remediated_sample", []):
            out.append(f"  not remediated: {sample}")

    out.append("")
    out.extend(sweep_bench.report_lines(results.get("sweep")))

    if previous:
        out.append("")
        out.extend(compare(results, previous))
    for note in results.get("notes", []):
        out.append(f"note: {note}")
    print("\n".join(out), flush=True)


def measure_sweep(bin_dir: Path, bench_dir: Path, emulator: "Emulator", args) -> dict:
    binary = bin_dir / "corebound"
    if not binary.is_file():
        log(f"sweep: skipped ({binary} not built)")
        return {"status": "skipped", "note": f"{binary} not built"}
    private = bench_dir / "bin" / "corebound"  # others may relink the target directory's binary meanwhile
    private.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, private)
    try:
        return sweep_bench.measure_sweep(emulator, private, args.sweep, bench_dir / "sweep", log=log)
    except BenchError as error:
        log(f"sweep: FAILED: {error}")
        return {"status": "failed", "note": str(error).splitlines()[0]}


def metric_rows(results: dict) -> dict[str, float]:
    rows: dict[str, float] = {}
    for function, entry in (results.get("functions") or {}).items():
        for key, label in (("cold_start_ms", "cold median ms"), ("warm_ms", "warm median ms"), ("init_ms", "init median ms")):
            value = (entry.get(key) or {}).get("median")
            if value is not None:
                rows[f"{function} {label}"] = value
        if (entry.get("cold_peak_rss_kib") or {}).get("max") is not None:
            rows[f"{function} cold RSS KiB"] = entry["cold_peak_rss_kib"]["max"]
        if entry.get("warm_peak_rss_kib") is not None:
            rows[f"{function} warm RSS KiB"] = entry["warm_peak_rss_kib"]
        if entry.get("binary_bytes") is not None:
            rows[f"{function} binary bytes"] = entry["binary_bytes"]
        for name, stats in (entry.get("warm_ms_per_request") or {}).items():
            if stats:
                rows[f"{function} warm {name} ms"] = stats["median"]
        burst = entry.get("burst") or {}
        if burst.get("events_per_second") is not None:
            rows["burst events/s"] = burst["events_per_second"]
            rows["burst writes/event"] = burst["writes_per_event"]
            rows["burst lost"] = burst["lost"]
    if ((results.get("check") or {}).get("wall_ms") or {}).get("median") is not None:
        rows["corebound check median ms"] = results["check"]["wall_ms"]["median"]
    for arch in ("arm64", "x86_64"):
        for function, z in (((results.get("packages") or {}).get(arch) or {}).get("zips") or {}).items():
            rows[f"{function} {arch} zip bytes"] = z["zip_bytes"]
    for run in ("compliant", "half_non_compliant"):
        entry = (results.get("sweep") or {}).get(run) or {}
        for key in ("seconds", "peak_rss_kib", "reads_per_resource", "writes_per_fixed_resource"):
            if entry.get(key) is not None:
                rows[f"sweep {run} {key}"] = entry[key]
    return rows


def compare(results: dict, previous: dict) -> list[str]:
    lines = [f"compared with the previous run ({previous.get('date')}, profile={previous.get('profile')}, "
             f"commit={(previous.get('git') or {}).get('commit', '?')[:12]}):"]
    if previous.get("profile") != results.get("profile"):
        lines.append("  (different profile: deltas are not comparable)")
    new, old = metric_rows(results), metric_rows(previous)
    for key in new:
        if key in old:
            before, after = old[key], new[key]
            delta = after - before
            percent = f"{(delta / before * 100):+.1f}%" if before else "n/a"
            lines.append(f"  {key:<36}{before:>14,.1f} -> {after:>14,.1f}  {percent}")
    if len(lines) == 1:
        lines.append("  (no metric in common)")
    return lines


# --------------------------------------------------------------------------------------------


def default_target_dir() -> Path:
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"])
    cache = Path.home() / ".cache/corebound/target"
    return cache if cache.is_dir() else REPO / "target"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-dir", type=Path, default=default_target_dir(),
                        help="cargo target directory (default: $CARGO_TARGET_DIR, else ~/.cache/corebound/target if present, else ./target)")
    parser.add_argument("--profile", choices=("release", "debug"), default="release",
                        help="release (default) builds with `cargo build --release`; debug uses the existing debug binaries without building")
    parser.add_argument("--no-build", action="store_true", help="use the existing release binaries")
    parser.add_argument("--bin-dir", type=Path, help="run the executables in this directory instead of <target-dir>/<profile>")
    parser.add_argument("--functions", default=",".join(FUNCTIONS), help="comma-separated subset of %s" % ", ".join(FUNCTIONS))
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--warm-runs", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000, help="remediator burst size (0 skips it)")
    parser.add_argument("--burst-timeout", type=float, default=900.0, help="seconds for the whole burst")
    parser.add_argument("--sweep", type=int, default=1000,
                        help="resources per swept type for `corebound sweep` (10 types; 0 skips it; sweep_bench.py)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one invocation")
    parser.add_argument("--check-resources", type=int, default=500,
                        help="resources of the generated template `corebound check` is timed on (0 skips it)")
    parser.add_argument("--skip-package", action="store_true", help="do not run cargo lambda builds")
    parser.add_argument("--package-arch", default="arm64,x86_64", help="architectures for cargo lambda (arm64,x86_64)")
    parser.add_argument("--python", default=os.environ.get("COREBOUND_PYTHON") or sys.executable,
                        help="interpreter for the emulator (default: $COREBOUND_PYTHON, else this one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for every function process (repeatable), for experiments")
    parser.add_argument("--output", type=Path, help="results file (default: <target-dir>/bench/results.json)")
    args = parser.parse_args(argv)
    if args.cold_runs < 1 or args.warm_runs < 1:
        parser.error("--cold-runs and --warm-runs must be at least 1")
    try:
        args.extra_env = dict(item.split("=", 1) for item in args.env)
    except ValueError:
        parser.error("--env takes NAME=VALUE")
    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    unknown = sorted(set(functions) - set(FUNCTIONS))
    if unknown:
        parser.error(f"unknown function(s): {', '.join(unknown)}")

    target_dir = args.target_dir.resolve()
    bench_dir = target_dir / "bench"
    log_dir = bench_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    output = args.output or bench_dir / "results.json"
    previous = None
    if output.is_file():
        try:
            previous = json.loads(output.read_text())
        except ValueError:
            previous = None

    git_status = git("status", "--porcelain")
    results: dict = {
        "schema": 1,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": {"commit": git("rev-parse", "HEAD"), "dirty": bool(git_status)} if git_status is not None else None,
        "machine": machine_info(),
        "profile": args.profile if not args.bin_dir else f"{args.profile} (bin-dir {args.bin_dir})",
        "rustc": command_version("rustc", "--version"),
        "settings": {"cold_runs": args.cold_runs, "warm_runs": args.warm_runs, "burst": args.burst, "sweep": args.sweep,
                     "target_dir": str(target_dir),
                     "extra_env": args.extra_env},
        "targets": {"cold_start_ms": TARGET_COLD_MS, "peak_rss_kib": TARGET_RSS_KIB, "arm64_zip_bytes": TARGET_ZIP_BYTES,
                    "init_ms": TARGET_INIT_MS, "hook_warm_ms": TARGET_HOOK_WARM_MS, "check_500_ms": TARGET_CHECK_MS},
        "functions": {},
        "notes": [],
    }

    if args.profile == "release" and not args.no_build and not args.bin_dir:
        results["build"] = build_release(target_dir)
    bin_dir = args.bin_dir.resolve() if args.bin_dir else target_dir / args.profile

    emulator = Emulator(args.python, log_dir / "emulator.log")
    responses = ResponseUrlServer()
    stop_requested = []

    def on_signal(signum, frame):
        stop_requested.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        log(f"emulator at {emulator.url}; binaries from {bin_dir}")
        for function in functions:
            binary = bin_dir / function
            if not binary.is_file():
                results["functions"][function] = {"status": "skipped", "note": f"{binary} not built"}
                log(f"{function}: skipped ({binary} not built)")
                continue
            # Measure a private copy: others may relink the target directory's binary meanwhile.
            source, binary = binary, bench_dir / "bin" / function
            binary.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, binary)
            if function == "runtime-policy":
                # The sample grants account 210987654321: allowed, as a deployment would list it.
                scenario = CustomResourceScenario(function, REPO / "events/runtime-policy/create.json", emulator, responses,
                                                  {"ALLOWED_PRINCIPAL_ACCOUNTS": "210987654321"})
            elif function == "memory-grant":
                event_path = find_memory_grant_event()
                if event_path is None:
                    results["functions"][function] = {"status": "skipped", "note": "no Create sample in events/memory-grant/ yet",
                                                      "binary_bytes": binary.stat().st_size}
                    log(f"{function}: skipped (no Create sample in events/memory-grant/)")
                    continue
                scenario = CustomResourceScenario(function, event_path, emulator, responses, {"REQUIRED_ROLE_PREFIX": ROLE_PREFIX})
            elif function == "preflight-hook":
                scenario = HookScenario(emulator)
            else:
                scenario = RemediatorScenario(REPO / "events/remediator/create-topic.json", emulator)
            log(f"{function}: {args.cold_runs} cold runs, {args.warm_runs} warm runs ({scenario.describe()})")
            try:
                results["functions"][function] = measure_function(function, source, binary, scenario, args, log_dir)
            except BenchError as error:
                results["functions"][function] = {"status": "failed", "note": str(error).splitlines()[0],
                                                  "detail": str(error), "binary_bytes": binary.stat().st_size}
                log(f"{function}: FAILED: {error}")
        if args.sweep > 0:
            results["sweep"] = measure_sweep(bin_dir, bench_dir, emulator, args)
        checker = bin_dir / "corebound"
        if args.check_resources > 0 and checker.is_file():
            log(f"corebound check: a generated {args.check_resources}-resource template, {args.cold_runs} runs")
            results["check"] = measure_check(checker, bench_dir, args.check_resources, args.cold_runs)
        elif args.check_resources > 0:
            results["check"] = {"skipped": f"{checker} not built"}
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        responses.close()
        emulator.stop()

    # The load while measuring (the package builds below load the machine themselves).
    load_now = os.getloadavg()[0]
    results["machine"]["loadavg_after_measuring"] = [round(x, 2) for x in os.getloadavg()]
    if load_now > (os.cpu_count() or 1) * 0.5:
        results["notes"].append(f"the machine was busy while measuring (1-min load {load_now:.1f} on {os.cpu_count()} cores): timings are inflated")

    if args.skip_package:
        results["packages"] = {"skipped": "--skip-package"}
    else:
        architectures = [a.strip() for a in args.package_arch.split(",") if a.strip()]
        results["packages"] = build_packages(target_dir, args.python, log_dir, architectures)

    if args.profile == "debug":
        results["notes"].append("debug profile: timings and sizes are not representative; use the release profile for the real numbers")
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.is_file():
        shutil.copyfile(output, output.with_name(output.stem + ".prev.json"))
    output.write_text(json.dumps(results, indent=2) + "\n")
    print_report(results, previous)
    print(f"\nresults: {output}  (logs: {log_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
