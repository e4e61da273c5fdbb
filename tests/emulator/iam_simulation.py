"""IAM SimulatePrincipalPolicy with decisions scripted by the tests.

moto 5.2.1 does not implement SimulatePrincipalPolicy (HTTP 500). Decisions are never computed
from policies: corebound ships its own policy evaluator, and computing decisions with it (or any
evaluator written alongside it) would test that code against itself. Tests script the answer per
(action, resource) through `PUT /_corebound/iam/simulation`.

Response shape per botocore's iam service-2.json (query protocol, `resultWrapper`
SimulatePrincipalPolicyResult, output shape SimulatePolicyResponse) and the current IAM API
reference, which states that the simulator returns ONE EvaluationResult per action whatever the
number of ResourceArns: its top-level EvalDecision is the most restrictive decision across the
resources, and per-resource decisions are in ResourceSpecificResults.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from xml.sax.saxutils import escape

from awsproto import ACCOUNT_ID, AwsRequest, Response, new_request_id, query_error

DECISIONS = ("allowed", "explicitDeny", "implicitDeny")
# Most restrictive first: an explicit deny on any resource wins, then an implicit deny.
_SEVERITY = {"explicitDeny": 2, "implicitDeny": 1, "allowed": 0}
_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):(role|user|group)/(.+)")
_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
SOURCE_POLICY_TYPES = ("user", "group", "role", "aws-managed", "user-managed", "resource", "none")


@dataclass
class Scripted:
    decision: str
    allowed_by_boundary: bool
    matched: list[dict]  # [{"sourcePolicyId": ..., "sourcePolicyType": ...}]


class ScriptError(ValueError):
    """A simulation script the control API refuses (answered 400 with the reason)."""


class Simulator:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.mode = "scripted"
            self.script: dict[tuple[str, str | None], Scripted] = {}
            self.denies_left = 0

    def configure(self, spec: dict) -> dict:
        """Replace the script. A decision without `resource` applies to every resource of its action."""
        unknown = sorted(set(spec) - {"mode", "decisions", "deniesBeforeAllow"})
        if unknown:
            raise ScriptError(f"unknown field(s): {', '.join(unknown)}")
        mode = spec.get("mode", "scripted")
        if mode not in ("scripted", "access-denied"):
            raise ScriptError("mode must be 'scripted' or 'access-denied'")
        denies = spec.get("deniesBeforeAllow", 0)
        if not isinstance(denies, int) or denies < 0:
            raise ScriptError("deniesBeforeAllow must be a non-negative integer")
        script = {}
        for entry in spec.get("decisions", []):
            if not isinstance(entry, dict) or set(entry) - {"action", "resource", "decision", "allowedByPermissionsBoundary", "matchedStatements"}:
                raise ScriptError("each decision takes action, resource, decision, allowedByPermissionsBoundary, matchedStatements")
            if not isinstance(entry.get("action"), str) or entry.get("decision") not in DECISIONS:
                raise ScriptError(f"each decision needs an action and a decision in {', '.join(DECISIONS)}")
            matched = entry.get("matchedStatements", [])
            if not isinstance(matched, list) or any(
                not isinstance(m, dict) or set(m) - {"sourcePolicyId", "sourcePolicyType"} or m.get("sourcePolicyType", "none") not in SOURCE_POLICY_TYPES
                for m in matched
            ):
                raise ScriptError(f"matchedStatements items take sourcePolicyId and sourcePolicyType ({', '.join(SOURCE_POLICY_TYPES)})")
            script[(entry["action"], entry.get("resource"))] = Scripted(
                entry["decision"], bool(entry.get("allowedByPermissionsBoundary", True)), matched
            )
        with self.lock:
            self.mode, self.script, self.denies_left = mode, script, denies
        return {"mode": mode, "decisions": spec.get("decisions", []), "deniesBeforeAllow": denies}

    def simulate(self, request: AwsRequest, iam_backend) -> Response:
        source_arn = request.form_value("PolicySourceArn")
        actions = request.form_members("ActionNames")
        if not source_arn or not actions:
            return query_error(400, "InvalidInput", "PolicySourceArn and ActionNames are required.", "iam")
        principal = _PRINCIPAL_ARN.fullmatch(source_arn)
        if not principal:
            return query_error(400, "InvalidInput", f"Invalid ARN for PolicySourceArn: {source_arn}", "iam")
        kind, name = principal.group(2), principal.group(3).rsplit("/", 1)[-1]
        if principal.group(1) != ACCOUNT_ID or not _principal_exists(iam_backend, kind, source_arn):
            return query_error(404, "NoSuchEntity", f"The {kind} with name {name} cannot be found.", "iam")

        with self.lock:
            if self.mode == "access-denied":
                return query_error(
                    403,
                    "AccessDenied",
                    f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/corebound-caller/session is not authorized to "
                    f"perform: iam:SimulatePrincipalPolicy on resource: {source_arn} because no identity-based "
                    "policy allows the iam:SimulatePrincipalPolicy action",
                    "iam",
                )
            # IAM is eventually consistent: right after a policy write the simulator may not see it.
            propagating = self.denies_left > 0
            if propagating:
                self.denies_left -= 1
            script = dict(self.script)

        resources = request.form_members("ResourceArns")
        results = [_evaluation(action, resources, script, propagating) for action in actions]
        request_id = new_request_id()
        body = (
            f'<SimulatePrincipalPolicyResponse xmlns="{_NAMESPACE}"><SimulatePrincipalPolicyResult>'
            f"<IsTruncated>false</IsTruncated><EvaluationResults>{''.join(results)}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{request_id}</RequestId>"
            "</ResponseMetadata></SimulatePrincipalPolicyResponse>"
        )
        return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def _principal_exists(iam_backend, kind: str, arn: str) -> bool:
    entities = {"role": iam_backend.roles, "user": iam_backend.users, "group": iam_backend.groups}[kind]
    return any(entity.arn == arn for entity in entities.values())


def _lookup(script: dict, action: str, resource: str, propagating: bool) -> Scripted:
    scripted = script.get((action, resource)) or script.get((action, None))
    if scripted is None:
        return Scripted("implicitDeny", True, [])
    if propagating:  # the new grant is not visible yet; the boundary is unchanged
        return Scripted("implicitDeny", scripted.allowed_by_boundary, [])
    return scripted


def _evaluation(action: str, resources: list[str], script: dict, propagating: bool) -> str:
    """One EvaluationResult member for `action` over all requested resources."""
    if not resources:
        # No ResourceArns means "*": a single result without ResourceSpecificResults.
        scripted = _lookup(script, action, "*", propagating)
        return (
            f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>*</EvalResourceName>"
            f"<EvalDecision>{scripted.decision}</EvalDecision>{_statements(scripted.matched)}"
            f"<MissingContextValues/>{_boundary(scripted.allowed_by_boundary)}</member>"
        )
    per_resource = [(resource, _lookup(script, action, resource, propagating)) for resource in resources]
    decision = max((s.decision for _, s in per_resource), key=_SEVERITY.__getitem__)
    allowed_by_boundary = all(s.allowed_by_boundary for _, s in per_resource)
    matched = [m for _, s in per_resource if s.decision == decision for m in s.matched]
    specific = "".join(
        f"<member><EvalResourceName>{escape(resource)}</EvalResourceName>"
        f"<EvalResourceDecision>{s.decision}</EvalResourceDecision>{_statements(s.matched)}"
        f"<MissingContextValues/><EvalDecisionDetails/>{_boundary(s.allowed_by_boundary)}</member>"
        for resource, s in per_resource
    )
    # EvalResourceName names the resource when there is exactly one; for several, the API
    # reference does not say what the aggregate result carries, so it is left out (it is optional)
    # and callers have to read ResourceSpecificResults, as AWS tells them to.
    resource_name = f"<EvalResourceName>{escape(resources[0])}</EvalResourceName>" if len(resources) == 1 else ""
    # EvalDecisionDetails: "present but empty" for a same-account simulation with a resource ARN.
    return (
        f"<member><EvalActionName>{escape(action)}</EvalActionName>{resource_name}"
        f"<EvalDecision>{decision}</EvalDecision>{_statements(matched)}<MissingContextValues/>"
        f"<EvalDecisionDetails/>{_boundary(allowed_by_boundary)}"
        f"<ResourceSpecificResults>{specific}</ResourceSpecificResults></member>"
    )


def _statements(matched: list[dict]) -> str:
    members = "".join(
        f"<member><SourcePolicyId>{escape(m.get('sourcePolicyId', ''))}</SourcePolicyId>"
        f"<SourcePolicyType>{m.get('sourcePolicyType', 'none')}</SourcePolicyType></member>"
        for m in matched
    )
    return f"<MatchedStatements>{members}</MatchedStatements>"


def _boundary(allowed: bool) -> str:
    return (
        "<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>"
        f"{'true' if allowed else 'false'}</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>"
    )
