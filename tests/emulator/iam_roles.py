"""IAM behaviour moto lacks around roles and their inline policies.

* Role names are case-insensitive in IAM: "LPMA_Pay" finds the role stored as "lpma_Pay", and
  GetRole answers with the stored name. moto matches names exactly, so `canonical_role_name`
  rewrites RoleName in IAM requests to the stored spelling before they reach moto, and
  `duplicate_role` refuses a CreateRole that differs only in case (EntityAlreadyExists).
* Normalised inline policies (switch, off by default): IAM returns an inline policy as written,
  URL-encoded, but nothing should depend on that. With `normalise` on, GetRolePolicy returns the
  document the way services that normalise policies do: keys sorted, no whitespace, one-element
  lists as scalars and scalars of list-valued elements (`Action`, `Resource`) as lists sorted.
"""

from __future__ import annotations

import io
import json
import threading
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from awsproto import AwsRequest, Response, new_request_id, query_error

_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
_SET_VALUED = ("Action", "NotAction", "Resource", "NotResource")


class InlinePolicies:
    """The `normalise` switch for GetRolePolicy (PUT /_corebound/iam/inline-policies)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.normalise = False

    def reset(self) -> None:
        with self.lock:
            self.normalise = False

    def configure(self, spec: dict) -> dict:
        if set(spec) - {"normalise"} or not isinstance(spec.get("normalise", False), bool):
            raise ValueError("the body is {\"normalise\": true|false}")
        with self.lock:
            self.normalise = spec.get("normalise", False)
        return {"normalise": self.normalise}

    def get_role_policy(self, request: AwsRequest, iam_backend) -> Response | None:
        """GetRolePolicy with the document normalised; None (moto answers) when the switch is off
        or the role or policy does not exist (moto's NoSuchEntity is the real one)."""
        with self.lock:
            if not self.normalise:
                return None
        role_name, policy_name = request.form_value("RoleName"), request.form_value("PolicyName")
        role = next((r for r in iam_backend.roles.values() if r.name == role_name), None)
        if role is None or policy_name not in role.policies:
            return None
        document = normalised(json.loads(role.policies[policy_name]))
        text = quote(json.dumps(document, separators=(",", ":"), sort_keys=True), safe="")
        request_id = new_request_id()
        body = (
            f'<GetRolePolicyResponse xmlns="{_NAMESPACE}"><GetRolePolicyResult>'
            f"<RoleName>{escape(role.name)}</RoleName><PolicyName>{escape(policy_name)}</PolicyName>"
            f"<PolicyDocument>{text}</PolicyDocument></GetRolePolicyResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetRolePolicyResponse>"
        )
        return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def normalised(document):
    """A policy document as a normalising service stores it."""
    if not isinstance(document, dict):
        return document
    out = {}
    for key, value in document.items():
        if key == "Statement":
            statements = value if isinstance(value, list) else [value]
            out[key] = [normalised_statement(s) for s in statements]
            if len(out[key]) == 1:
                out[key] = out[key][0]
        else:
            out[key] = value
    return out


def normalised_statement(statement):
    if not isinstance(statement, dict):
        return statement
    out = {}
    for key, value in statement.items():
        if key in _SET_VALUED:
            items = value if isinstance(value, list) else [value]
            out[key] = sorted(items, key=str)
        elif isinstance(value, list) and len(value) == 1:
            out[key] = value[0]
        else:
            out[key] = value
    return out


def canonical_role_name(request: AwsRequest, iam_backend) -> None:
    """Give moto the stored spelling of a RoleName that differs from it only in letter case.

    IAM role names are unique case-insensitively and every RoleName parameter is matched that way;
    moto matches exactly. The buffered form body is rewritten in place, so moto sees the stored
    name and answers with it (GetRole's RoleName and Arn are then the stored ones, as in IAM).
    A CreateRole whose name differs only in case from an existing role is refused as IAM does."""
    name = request.form_value("RoleName")
    if not name:
        return
    stored = {role.name.lower(): role.name for role in iam_backend.roles.values()}
    canonical = stored.get(name.lower())
    if canonical is None or canonical == name:
        return
    if request.operation == "CreateRole":
        return  # refused by duplicate_role
    request.form["RoleName"] = [canonical]
    body = urlencode([(k, v) for k, values in request.form.items() for v in values]).encode()
    request.body = body
    request.environ["wsgi.input"] = io.BytesIO(body)
    request.environ["CONTENT_LENGTH"] = str(len(body))


def duplicate_role(request: AwsRequest, iam_backend) -> Response | None:
    """CreateRole of a name that exists in another letter case: IAM's EntityAlreadyExists."""
    if request.operation != "CreateRole":
        return None
    name = request.form_value("RoleName") or ""
    for role in iam_backend.roles.values():
        if role.name.lower() == name.lower():
            return query_error(409, "EntityAlreadyExists", f"Role with name {role.name} already exists.", "iam")
    return None

