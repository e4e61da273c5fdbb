"""IAM policy evaluation for the emulator's SimulatePrincipalPolicy (mode `evaluate`).

moto stores roles, users, groups, inline and managed policies and permissions boundaries but never
evaluates them. `corebound doctor` asks the simulator real questions ("may this principal create a
role outside the prefix?") whose answers depend on the principal's policies, so the emulator has to
compute them the way IAM documents it (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy
elements: Condition operators"):

- an explicit `Deny` that applies, in any policy (identity, boundary, service control policy):
  `explicitDeny`;
- otherwise `allowed` only when an identity policy allows AND the permissions boundary (if any)
  allows AND the service control policies (if any are configured) allow; else `implicitDeny`.

This is written from the documentation, independently of corebound's Rust evaluator
(`shared/src/iam_evaluation.rs`), so tests of Rust code against it do not check that code against
itself.

Statements: `Action`/`NotAction` (case-insensitive globs `*` `?`), `Resource`/`NotResource` (globs
over the whole ARN, case-sensitive), `Condition`. Condition operators: String(Not)Equals,
String(Not)EqualsIgnoreCase, String(Not)Like, Arn(Not)Equals, Arn(Not)Like (the six ARN parts matched
one by one), Bool, Null, Numeric*, each with `IfExists` and the `ForAnyValue:`/`ForAllValues:`
qualifiers. Condition keys are compared case-insensitively; values case-sensitively (except the
IgnoreCase operators and Bool). An operator IAM would have refused when the policy was written is
treated as a condition that does not hold.

Missing context: as the IAM simulator does, a condition whose key was not supplied in
`ContextEntries` cannot be evaluated; the statement does not apply and the key is reported in
`MissingContextValues`. Operators that are defined on an absent key are evaluated instead: `Null`,
`...IfExists` (true), `ForAllValues:` (true) and `ForAnyValue:` (false).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass
class Policy:
    source_id: str  # SourcePolicyId: the policy's name (inline or managed)
    source_type: str  # SourcePolicyType: role | user | group | user-managed | aws-managed | none
    document: dict


@dataclass
class Outcome:
    decision: str  # allowed | explicitDeny | implicitDeny
    allowed_by_boundary: bool | None  # None: the principal has no permissions boundary
    allowed_by_organizations: bool | None  # None: no service control policies configured
    matched: list[dict] = field(default_factory=list)  # MatchedStatements members
    missing: list[str] = field(default_factory=list)  # MissingContextValues, as written in the policy


class _Missing(Exception):
    """A condition key the simulation was not given."""


def parse_document(text: str) -> dict:
    """A policy document as moto stores it (JSON, possibly percent-encoded as IAM returns it)."""
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def evaluate(
    action: str,
    resource: str,
    context: dict[str, list[str]],
    identity: list[Policy],
    boundary: Policy | None,
    scps: list[Policy] | None,
) -> Outcome:
    """The decision for one (action, resource) given the context entries (lower-case keys)."""
    missing: list[str] = []

    def applying(policies: list[Policy], effect: str) -> list[dict]:
        hits = []
        for policy in policies:
            for statement in _statements(policy.document):
                if statement.get("Effect") != effect:
                    continue
                if _applies(statement, action, resource, context, missing):
                    hits.append({"sourcePolicyId": policy.source_id, "sourcePolicyType": policy.source_type})
        return hits

    boundary_policies = [boundary] if boundary is not None else []
    scp_policies = scps or []
    denies = applying(identity, "Deny") + applying(boundary_policies, "Deny") + applying(scp_policies, "Deny")
    identity_allows = applying(identity, "Allow")
    boundary_allows = bool(applying(boundary_policies, "Allow")) if boundary is not None else None
    boundary_denies = bool(applying(boundary_policies, "Deny")) if boundary is not None else False
    organizations = None
    if scps is not None:
        organizations = bool(applying(scp_policies, "Allow")) and not applying(scp_policies, "Deny")
    allowed_by_boundary = None if boundary is None else bool(boundary_allows) and not boundary_denies
    unique_missing = list(dict.fromkeys(missing))
    if denies:
        return Outcome("explicitDeny", allowed_by_boundary, organizations, _unique(denies), unique_missing)
    if identity_allows and allowed_by_boundary is not False and organizations is not False:
        return Outcome("allowed", allowed_by_boundary, organizations, _unique(identity_allows), unique_missing)
    return Outcome("implicitDeny", allowed_by_boundary, organizations, [], unique_missing)


def _unique(matched: list[dict]) -> list[dict]:
    seen, out = set(), []
    for m in matched:
        key = (m["sourcePolicyId"], m["sourcePolicyType"])
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _statements(document) -> list[dict]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements if isinstance(s, dict)]


def _strings(value) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif item is not None:
            out.append(str(item))
    return out


def _applies(statement: dict, action: str, resource: str, context: dict[str, list[str]], missing: list[str]) -> bool:
    if "Action" in statement:
        if not any(glob(p, action, ignore_case=True) for p in _strings(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(glob(p, action, ignore_case=True) for p in _strings(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(glob(p, resource) for p in _strings(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(glob(p, resource) for p in _strings(statement["NotResource"])):
            return False
    else:
        return False
    conditions = statement.get("Condition", {})
    if not isinstance(conditions, dict):
        return False
    # Every condition must hold. A condition that cannot be evaluated (key not supplied) keeps the
    # statement from applying, and is reported only when no other condition already fails.
    unknown: list[str] = []
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            return False
        for key, values in block.items():
            try:
                if not condition_holds(operator, key, _strings(values), context):
                    return False
            except _Missing:
                unknown.append(key)
    if unknown:
        missing.extend(unknown)
        return False
    return True


_NUMERIC = {
    "NumericEquals": lambda a, b: a == b,
    "NumericNotEquals": lambda a, b: a != b,
    "NumericLessThan": lambda a, b: a < b,
    "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b,
    "NumericGreaterThanEquals": lambda a, b: a >= b,
}


def condition_holds(operator: str, key: str, policy_values: list[str], context: dict[str, list[str]]) -> bool:
    """One `operator: {key: values}` entry. Raises _Missing when the key is needed and absent."""
    qualifier = None
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if operator.startswith(prefix):
            qualifier, operator = prefix[:-1], operator[len(prefix):]
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator[: -len("IfExists")] if if_exists else operator
    supplied = context.get(key.lower())

    if base == "Null":
        wants_absent = [v.lower() for v in policy_values] == ["true"]
        return (supplied is None) == wants_absent
    if supplied is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        raise _Missing(key)

    negated, matches = _matcher(base)
    if matches is None:
        return False  # an operator IAM would have refused: never holds

    def hit(value: str) -> bool:
        return any(matches(p, value) for p in policy_values)

    if qualifier == "ForAllValues":
        return all((not hit(v)) if negated else hit(v) for v in supplied)
    if qualifier == "ForAnyValue":
        return any((not hit(v)) if negated else hit(v) for v in supplied)
    # A plain operator on a (possibly multi-valued) key: it holds when a value matches; the
    # negated form holds when none does.
    found = any(hit(v) for v in supplied)
    return not found if negated else found


def _matcher(base: str):
    """(negated, match(policy_value, context_value)) for an operator, or (False, None)."""
    table = {
        "StringEquals": (False, lambda p, v: p == v),
        "StringNotEquals": (True, lambda p, v: p == v),
        "StringEqualsIgnoreCase": (False, lambda p, v: p.lower() == v.lower()),
        "StringNotEqualsIgnoreCase": (True, lambda p, v: p.lower() == v.lower()),
        "StringLike": (False, lambda p, v: glob(p, v)),
        "StringNotLike": (True, lambda p, v: glob(p, v)),
        # ArnEquals and ArnLike behave the same (IAM User Guide, "Amazon Resource Name (ARN)
        # condition operators").
        "ArnEquals": (False, arn_like),
        "ArnLike": (False, arn_like),
        "ArnNotEquals": (True, arn_like),
        "ArnNotLike": (True, arn_like),
        "Bool": (False, lambda p, v: p.lower() == v.lower()),
    }
    if base in table:
        return table[base]
    if base in _NUMERIC:
        compare = _NUMERIC[base]

        def numeric(p: str, v: str) -> bool:
            try:
                return compare(float(v), float(p))
            except ValueError:
                return False

        return False, numeric
    return False, None


def glob(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """`*` any run (colons included), `?` one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def arn_like(pattern: str, value: str) -> bool:
    """The six colon-separated parts of the ARN, each matched with `glob` on its own."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(glob(a, b) for a, b in zip(p, v))


def principal_policies(iam_backend, kind: str, arn: str) -> tuple[list[Policy], Policy | None]:
    """The identity policies (inline and attached managed, a user's groups' too) and the
    permissions boundary of the role or user with this ARN."""
    entities = {"role": iam_backend.roles, "user": iam_backend.users, "group": iam_backend.groups}[kind]
    entity = next(e for e in entities.values() if e.arn == arn)
    inline_type = {"role": "role", "user": "user", "group": "group"}[kind]
    identity = [Policy(name, inline_type, parse_document(doc)) for name, doc in entity.policies.items()]
    identity += [_managed(p) for p in entity.managed_policies.values()]
    if kind == "user":
        for group in iam_backend.groups.values():
            if entity in group.users:
                identity += [Policy(name, "group", parse_document(doc)) for name, doc in group.policies.items()]
                identity += [_managed(p) for p in group.managed_policies.values()]
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)
    if boundary_arn:
        policy = iam_backend.managed_policies.get(boundary_arn)
        # A boundary pointing at a policy that no longer exists allows nothing.
        boundary = _managed(policy) if policy is not None else Policy(boundary_arn, "none", {"Statement": []})
    return identity, boundary


def _managed(policy) -> Policy:
    version = next((v for v in policy.versions if v.is_default), policy.versions[0])
    kind = "aws-managed" if ":iam::aws:policy/" in policy.arn else "user-managed"
    return Policy(policy.name, kind, parse_document(version.document))
