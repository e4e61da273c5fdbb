"""A stand-in for CloudFormation's ResponseURL: `PUT /cloudformation-response/<anything>`.

CloudFormation hands a custom resource a presigned S3 URL and reads the answer the function PUTs
there. Locally there is no CloudFormation to read it, so the emulator keeps the answers:

    PUT /cloudformation-response/<name>   stores the body, answers 200 (as S3 does)
    GET /cloudformation-response/<name>   the last body stored there (404 before the first PUT)
    GET /cloudformation-response/         {"responses": ["<name>", ...]} every name stored so far

The files in events/ point their ResponseURL here (`http://127.0.0.1:4599/cloudformation-response/
<function>`), so `make local` plus `cargo lambda invoke` shows what CloudFormation would have got.

The path never collides with moto's S3: requests signed with SigV4 (an `Authorization` header or a
presigned `X-Amz-Credential`), and virtual-hosted requests (`<bucket>.localhost:PORT`, where the
path is an object key), pass to moto unchanged, so a bucket named `cloudformation-response` still
works there; so do presigned S3 URLs (SigV4 `X-Amz-Signature` or SigV2 `Signature` in the query).
Only an unsigned, path-style PUT or GET is answered here: what a function sends to the ResponseURLs
of events/, which carry no signature.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qs

from awsproto import Response, is_path_style_host

PREFIX = "/cloudformation-response/"


class CloudFormationResponses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stored: dict[str, bytes] = {}

    @staticmethod
    def claims(environ: dict) -> bool:
        """Whether this request is an answer to CloudFormation (or a read of one), not S3."""
        if not environ.get("PATH_INFO", "").startswith(PREFIX):
            return False
        if environ.get("REQUEST_METHOD") not in ("PUT", "GET"):
            return False
        if environ.get("HTTP_AUTHORIZATION"):
            return False
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if any(name in query for name in ("X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId", "Signature")):
            return False  # a presigned S3 URL (SigV4 or SigV2)
        return is_path_style_host(environ.get("HTTP_HOST", ""))

    def handle(self, environ: dict) -> Response:
        name = environ["PATH_INFO"][len(PREFIX):]
        if environ["REQUEST_METHOD"] == "PUT":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            stream = environ["wsgi.input"]
            body = stream.read() if environ.get("wsgi.input_terminated") else stream.read(length) if length > 0 else b""
            with self.lock:
                self.stored[name] = body
            # What S3 answers to a PUT through a presigned URL.
            return 200, [("ETag", '"cloudformation-response"')], b""
        if name == "":
            with self.lock:
                names = sorted(self.stored)
            return _json(200, {"responses": names})
        with self.lock:
            body = self.stored.get(name)
        if body is None:
            return _json(404, {"error": f"no answer stored at {PREFIX}{name} yet: invoke a function with a ResponseURL ending in {PREFIX}{name}"})
        try:
            json.loads(body)
        except ValueError:
            return 200, [("Content-Type", "text/plain; charset=utf-8")], body
        return 200, [("Content-Type", "application/json")], body

    def reset(self) -> None:
        with self.lock:
            self.stored.clear()


def _json(status: int, payload: object) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()
