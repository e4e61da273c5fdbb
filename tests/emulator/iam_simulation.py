"""IAM SimulatePrincipalPolicy: decisions scripted by the tests, or evaluated from the policies.

moto 5.2.1 does not implement SimulatePrincipalPolicy (HTTP 500). Two modes, chosen through
`PUT /_corebound/iam/simulation`:
- `scripted` (the default after a reset): tests script the answer per (action, resource); anything
  unscripted is `implicitDeny`. The grant tests use it to put the simulator in states that are hard
  to build from policies (propagation delays, SCP denials).
- `evaluate`: the principal's inline and attached managed policies, intersected with its
  permissions boundary (and the `serviceControlPolicies` given in the script, if any), are
  evaluated with the supplied ContextEntries (iam_policy_eval.py, written from the IAM
  documentation, independently of corebound's Rust evaluator). `PolicyInputList` adds identity
  policies and `PermissionsBoundaryPolicyInputList` replaces the boundary, as in IAM. Scripted
  `decisions` still take precedence for their (action, resource).

Response shape per botocore's iam service-2.json (query protocol, `resultWrapper`
SimulatePrincipalPolicyResult, output shape SimulatePolicyResponse) and the current IAM API
reference, which states that the simulator returns ONE EvaluationResult per action whatever the
number of ResourceArns: its top-level EvalDecision is the most restrictive decision across the
resources, and per-resource decisions are in ResourceSpecificResults.

Conditions: a scripted decision may carry `contextKeys` ({key: [accepted values] or null for any
value}). As IAM does, a key the caller did not supply in `ContextEntries` makes that resource
`implicitDeny` and is listed in `MissingContextValues`: per `ResourceSpecificResults` entry when
ResourceArns were given (the top-level list stays empty), at the top level when the resource is
`*`. A supplied key whose values match none of the accepted ones is an `implicitDeny` too. The
condition sits in the permissions boundary unless `conditionIn` is `identity`, which decides
`AllowedByPermissionsBoundary` for such a denial.

Service control policies: `allowedByOrganizations: false` adds
`OrganizationsDecisionDetail/AllowedByOrganizations=false` to the action's result (IAM reports it
per EvaluationResult only, never per resource); such a decision must be a deny.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import iam_policy_eval
from awsproto import ACCOUNT_ID, AwsRequest, Response, new_request_id, query_error

DECISIONS = ("allowed", "explicitDeny", "implicitDeny")
# Most restrictive first: an explicit deny on any resource wins, then an implicit deny.
_SEVERITY = {"explicitDeny": 2, "implicitDeny": 1, "allowed": 0}
_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):(role|user|group)/(.+)")
_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
SOURCE_POLICY_TYPES = ("user", "group", "role", "aws-managed", "user-managed", "resource", "none")
# ContextKeyTypeEnum in botocore's iam service-2.json.
CONTEXT_KEY_TYPES = (
    "string", "stringList", "numeric", "numericList", "boolean", "booleanList",
    "ip", "ipList", "binary", "binaryList", "date", "dateList",
)
_DECISION_FIELDS = {
    "action", "resource", "decision", "allowedByPermissionsBoundary", "matchedStatements",
    "contextKeys", "conditionIn", "allowedByOrganizations",
}


@dataclass
class Scripted:
    decision: str
    allowed_by_boundary: bool | None  # None: no boundary (evaluate mode), detail left out
    matched: list[dict]  # [{"sourcePolicyId": ..., "sourcePolicyType": ...}]
    # Condition keys (lower case, as IAM compares them) -> accepted values, or None for any.
    context_keys: dict[str, list[str] | None] = field(default_factory=dict)
    context_key_names: list[str] = field(default_factory=list)  # as scripted, for MissingContextValues
    condition_in_boundary: bool = True
    allowed_by_organizations: bool | None = None
    missing: list[str] = field(default_factory=list)  # set per evaluation


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
            self.scps: list[iam_policy_eval.Policy] | None = None

    def configure(self, spec: dict) -> dict:
        """Replace the script. A decision without `resource` applies to every resource of its action."""
        unknown = sorted(set(spec) - {"mode", "decisions", "deniesBeforeAllow", "serviceControlPolicies"})
        if unknown:
            raise ScriptError(f"unknown field(s): {', '.join(unknown)}")
        mode = spec.get("mode", "scripted")
        if mode not in ("scripted", "evaluate", "access-denied"):
            raise ScriptError("mode must be 'scripted', 'evaluate' or 'access-denied'")
        scps = spec.get("serviceControlPolicies")
        if scps is not None:
            if mode != "evaluate":
                raise ScriptError("serviceControlPolicies are evaluated in mode 'evaluate' only")
            if not isinstance(scps, list) or not all(isinstance(d, dict) and "Statement" in d for d in scps):
                raise ScriptError("serviceControlPolicies is a list of policy documents (objects with a Statement)")
            scps = [iam_policy_eval.Policy(f"ServiceControlPolicy{i + 1}", "none", d) for i, d in enumerate(scps)]
        denies = spec.get("deniesBeforeAllow", 0)
        if not isinstance(denies, int) or denies < 0:
            raise ScriptError("deniesBeforeAllow must be a non-negative integer")
        script = {}
        for entry in spec.get("decisions", []):
            if not isinstance(entry, dict) or set(entry) - _DECISION_FIELDS:
                raise ScriptError(f"each decision takes {', '.join(sorted(_DECISION_FIELDS))}")
            if not isinstance(entry.get("action"), str) or entry.get("decision") not in DECISIONS:
                raise ScriptError(f"each decision needs an action and a decision in {', '.join(DECISIONS)}")
            matched = entry.get("matchedStatements", [])
            if not isinstance(matched, list) or any(
                not isinstance(m, dict) or set(m) - {"sourcePolicyId", "sourcePolicyType"} or m.get("sourcePolicyType", "none") not in SOURCE_POLICY_TYPES
                for m in matched
            ):
                raise ScriptError(f"matchedStatements items take sourcePolicyId and sourcePolicyType ({', '.join(SOURCE_POLICY_TYPES)})")
            context = entry.get("contextKeys", {})
            if not isinstance(context, dict) or any(
                not isinstance(k, str) or not (v is None or (isinstance(v, list) and all(isinstance(i, str) for i in v)))
                for k, v in context.items()
            ):
                raise ScriptError("contextKeys maps condition keys to a list of accepted values, or null for any value")
            if entry.get("conditionIn", "boundary") not in ("boundary", "identity"):
                raise ScriptError("conditionIn must be 'boundary' or 'identity'")
            organizations = entry.get("allowedByOrganizations")
            if organizations is not None and not isinstance(organizations, bool):
                raise ScriptError("allowedByOrganizations must be true or false")
            if organizations is False and entry["decision"] == "allowed":
                raise ScriptError("a decision denied by a service control policy (allowedByOrganizations false) cannot be 'allowed'")
            script[(entry["action"], entry.get("resource"))] = Scripted(
                entry["decision"],
                bool(entry.get("allowedByPermissionsBoundary", True)),
                matched,
                {k.lower(): v for k, v in context.items()},
                list(context),
                entry.get("conditionIn", "boundary") == "boundary",
                organizations,
            )
        with self.lock:
            self.mode, self.script, self.denies_left, self.scps = mode, script, denies, scps
        answer = {"mode": mode, "decisions": spec.get("decisions", []), "deniesBeforeAllow": denies}
        if scps is not None:
            answer["serviceControlPolicies"] = spec["serviceControlPolicies"]
        return answer

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
            mode, scps = self.mode, self.scps

        try:
            context = context_entries(request)
            evaluator = None
            if mode == "evaluate":
                evaluator = _evaluator(request, iam_backend, kind, source_arn, scps)
        except ScriptError as e:
            return query_error(400, "InvalidInput", str(e), "iam")
        resources = request.form_members("ResourceArns")
        results = [_evaluation(action, resources, script, propagating, context, evaluator) for action in actions]
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


def context_entries(request: AwsRequest) -> dict[str, list[str]]:
    """`ContextEntries.member.N.{ContextKeyName, ContextKeyValues.member.M, ContextKeyType}`, by
    lower-case key name; IAM refuses an entry without a name or with an unknown type."""
    entries: dict[int, dict] = {}
    pattern = re.compile(r"ContextEntries\.member\.(\d+)\.(ContextKeyName|ContextKeyType|ContextKeyValues\.member\.(\d+))")
    for key, values in request.form.items():
        m = pattern.fullmatch(key)
        if not m:
            continue
        entry = entries.setdefault(int(m.group(1)), {"values": {}})
        if m.group(3):
            entry["values"][int(m.group(3))] = values[0]
        else:
            entry[m.group(2)] = values[0]
    context: dict[str, list[str]] = {}
    for _, entry in sorted(entries.items()):
        name = entry.get("ContextKeyName")
        if not name or not 5 <= len(name) <= 256:
            raise ScriptError("ContextEntries: ContextKeyName must be 5 to 256 characters.")
        if entry.get("ContextKeyType") not in CONTEXT_KEY_TYPES:
            raise ScriptError(f"ContextEntries: ContextKeyType of {name} must be one of {', '.join(CONTEXT_KEY_TYPES)}.")
        context.setdefault(name.lower(), []).extend(v for _, v in sorted(entry["values"].items()))
    return context


def _evaluator(request: AwsRequest, iam_backend, kind: str, source_arn: str, scps):
    """(action, resource, context) -> Scripted, from the principal's policies (mode `evaluate`)."""
    try:
        identity, boundary = iam_policy_eval.principal_policies(iam_backend, kind, source_arn)
        extra = request.form_members("PolicyInputList")
        identity += [iam_policy_eval.Policy(f"PolicyInputList.{i + 1}", "none", json.loads(d)) for i, d in enumerate(extra)]
        given_boundary = request.form_members("PermissionsBoundaryPolicyInputList")
        if given_boundary:
            boundary = iam_policy_eval.Policy("PermissionsBoundaryPolicyInputList.1", "none", json.loads(given_boundary[0]))
    except ValueError as e:
        raise ScriptError(f"a policy is not valid JSON: {e}") from e

    def evaluate(action: str, resource: str, context: dict[str, list[str]]) -> Scripted:
        outcome = iam_policy_eval.evaluate(action, resource, context, identity, boundary, scps)
        return Scripted(
            outcome.decision,
            outcome.allowed_by_boundary,
            outcome.matched,
            allowed_by_organizations=outcome.allowed_by_organizations,
            missing=outcome.missing,
        )

    return evaluate


def _lookup(
    script: dict, action: str, resource: str, propagating: bool, context: dict[str, list[str]], evaluator=None
) -> Scripted:
    scripted = script.get((action, resource)) or script.get((action, None))
    if scripted is None and evaluator is not None:
        evaluated = evaluator(action, resource, context)
        if propagating:  # a write just made is not visible to the simulator yet
            return Scripted("implicitDeny", evaluated.allowed_by_boundary, [], allowed_by_organizations=evaluated.allowed_by_organizations)
        return evaluated
    if scripted is None:
        return Scripted("implicitDeny", True, [])
    organizations = scripted.allowed_by_organizations
    missing = [name for name in scripted.context_key_names if name.lower() not in context]
    if missing:
        # IAM cannot evaluate the condition: an implicit deny that names the keys.
        boundary = False if scripted.condition_in_boundary else scripted.allowed_by_boundary
        return Scripted("implicitDeny", boundary, [], allowed_by_organizations=organizations, missing=missing)
    for key, accepted in scripted.context_keys.items():
        if accepted is not None and not set(accepted) & set(context[key]):
            boundary = False if scripted.condition_in_boundary else scripted.allowed_by_boundary
            return Scripted("implicitDeny", boundary, [], allowed_by_organizations=organizations)
    if propagating:  # the new grant is not visible yet; the boundary is unchanged
        return Scripted("implicitDeny", scripted.allowed_by_boundary, [], allowed_by_organizations=organizations)
    return scripted


def _evaluation(
    action: str, resources: list[str], script: dict, propagating: bool, context: dict[str, list[str]], evaluator=None
) -> str:
    """One EvaluationResult member for `action` over all requested resources."""
    if not resources:
        # No ResourceArns means "*": a single result without ResourceSpecificResults, and the
        # missing context values at the top level.
        scripted = _lookup(script, action, "*", propagating, context, evaluator)
        return (
            f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>*</EvalResourceName>"
            f"<EvalDecision>{scripted.decision}</EvalDecision>{_statements(scripted.matched)}"
            f"{_missing(scripted.missing)}{_organizations(scripted.allowed_by_organizations)}"
            f"{_boundary(scripted.allowed_by_boundary)}</member>"
        )
    per_resource = [(resource, _lookup(script, action, resource, propagating, context, evaluator)) for resource in resources]
    decision = max((s.decision for _, s in per_resource), key=_SEVERITY.__getitem__)
    boundaries = [s.allowed_by_boundary for _, s in per_resource if s.allowed_by_boundary is not None]
    allowed_by_boundary = all(boundaries) if boundaries else None
    matched = [m for _, s in per_resource if s.decision == decision for m in s.matched]
    specific = "".join(
        f"<member><EvalResourceName>{escape(resource)}</EvalResourceName>"
        f"<EvalResourceDecision>{s.decision}</EvalResourceDecision>{_statements(s.matched)}"
        f"{_missing(s.missing)}<EvalDecisionDetails/>{_boundary(s.allowed_by_boundary)}</member>"
        for resource, s in per_resource
    )
    # Organizations' answer is per action: any resource an SCP denies makes it false.
    scp = [s.allowed_by_organizations for _, s in per_resource if s.allowed_by_organizations is not None]
    organizations = _organizations(all(scp)) if scp else ""
    # EvalResourceName names the resource when there is exactly one; for several, the API
    # reference does not say what the aggregate result carries, so it is left out (it is optional)
    # and callers have to read ResourceSpecificResults, as AWS tells them to.
    resource_name = f"<EvalResourceName>{escape(resources[0])}</EvalResourceName>" if len(resources) == 1 else ""
    # EvalDecisionDetails: "present but empty" for a same-account simulation with a resource ARN.
    return (
        f"<member><EvalActionName>{escape(action)}</EvalActionName>{resource_name}"
        f"<EvalDecision>{decision}</EvalDecision>{_statements(matched)}<MissingContextValues/>"
        f"<EvalDecisionDetails/>{organizations}{_boundary(allowed_by_boundary)}"
        f"<ResourceSpecificResults>{specific}</ResourceSpecificResults></member>"
    )


def _statements(matched: list[dict]) -> str:
    members = "".join(
        f"<member><SourcePolicyId>{escape(m.get('sourcePolicyId', ''))}</SourcePolicyId>"
        f"<SourcePolicyType>{m.get('sourcePolicyType', 'none')}</SourcePolicyType></member>"
        for m in matched
    )
    return f"<MatchedStatements>{members}</MatchedStatements>"


def _boundary(allowed: bool | None) -> str:
    if allowed is None:  # no permissions boundary: IAM has nothing to report on it
        return ""
    return (
        "<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>"
        f"{'true' if allowed else 'false'}</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>"
    )


def _missing(keys: list[str]) -> str:
    return "<MissingContextValues>" + "".join(f"<member>{escape(k)}</member>" for k in keys) + "</MissingContextValues>"


def _organizations(allowed: bool | None) -> str:
    if allowed is None:
        return ""
    return (
        "<OrganizationsDecisionDetail><AllowedByOrganizations>"
        f"{'true' if allowed else 'false'}</AllowedByOrganizations></OrganizationsDecisionDetail>"
    )

