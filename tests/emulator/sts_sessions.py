"""STS AssumeRole decided as AWS decides it, and sessions that expire or lose an action.

moto 5.2.1 answers AssumeRole for any role ARN, existing or not, whatever the trust policy and
ExternalId (aws-facts.md). A hub that assumes spoke roles must be tested against an STS that
refuses, so AssumeRole is checked here first and only passed on to moto when AWS would allow it:

- the role must exist in the account of its ARN (same name, ignoring case as IAM does; same path);
- its trust policy must allow `sts:AssumeRole` to the caller: an `AWS` principal equal to the
  caller's role ARN, its session ARN, its account id or `arn:aws:iam::<account>:root`, or `*`;
  no `Deny` statement may match;
- conditions (StringEquals, StringLike, StringNotEquals, each optionally `...IfExists`) are
  evaluated with `sts:ExternalId` (the request's ExternalId), `aws:PrincipalOrgID` (the caller
  account's organization, from PUT /_corebound/organizations), `aws:PrincipalAccount` and
  `aws:PrincipalArn`; a key without a value fails its condition; an unknown operator fails;
- `DurationSeconds` at most the role's MaxSessionDuration, `RoleSessionName` 2-64 of [\\w+=,.@-].
Refusals are STS's own answer: HTTP 403, code `AccessDenied`, "User: <caller> is not authorized to
perform: sts:AssumeRole on resource: <role ARN>" (the same whether the role is missing or its
trust refuses, as AWS never tells which); validation errors are `ValidationError` (400).

The caller is whoever signed the request: a session moto issued (the access key), or a plain key
(then the account's root). Lambda gives a function a session of its execution role; tests get one
the same way with POST /_corebound/sts/sessions (no trust check: Lambda is the service principal).

Every other request signed with a session's key is checked too:
- a session past its expiry, or expired on purpose (POST /_corebound/sts/expire), is answered
  `ExpiredToken` (query and S3 protocols) / `ExpiredTokenException` (JSON protocols);
- an action denied to a role (POST /_corebound/iam/deny) is answered with the service's own
  access-denied error (SNS `AuthorizationError`, IAM/S3/SQS `AccessDenied`, the JSON services'
  `AccessDeniedException`).
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import re
import threading
from urllib.parse import unquote

from moto.core.utils import utcnow
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends

from awsproto import AwsRequest, Response, error_for

_ACCESS_KEY = re.compile(r"(?:^|[\s,])Credential=([^/\s]+)/")
_ROLE_ARN = re.compile(r"^arn:(aws[\w-]*):iam::(\d{12}):role/(?:(.*)/)?([\w+=,.@-]{1,64})$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_ACCOUNT = re.compile(r"^\d{12}$")

# Each service's access-denied answer: (code, HTTP status).
_ACCESS_DENIED = {
    "sns": ("AuthorizationError", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "kms": ("AccessDeniedException", 400),
    "logs": ("AccessDeniedException", 400),
    "secretsmanager": ("AccessDeniedException", 400),
    "ssm": ("AccessDeniedException", 400),
    "bedrock-agentcore": ("AccessDeniedException", 403),
}


def access_key_of(request: AwsRequest) -> str | None:
    match = _ACCESS_KEY.search(request.environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1)
    credential = request.query.get("X-Amz-Credential")
    return credential[0].split("/", 1)[0] if credential else None


def account_of(request: AwsRequest) -> str:
    """The account a request acts in: its access key's (moto's own rule, 123456789012 by default)."""
    key = access_key_of(request)
    return get_account_id_from(key) if key else "123456789012"


class Sessions:
    """The state behind the checks: organizations, expired sessions, denied actions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.organizations: dict[str, str] = {}  # account -> organization id
        self.denied: list[tuple[str, str]] = []  # (role ARN lower-cased, "service:Action")
        self.administrators: dict[str, dict] = {}  # account -> its administrator's access key

    def reset(self) -> None:
        with self.lock:
            self.organizations.clear()
            self.denied.clear()
            self.administrators.clear()

    # --- control API ---------------------------------------------------------------------

    def configure_organizations(self, spec: dict) -> dict:
        accounts = spec.get("accounts")
        if set(spec) - {"accounts"} or not isinstance(accounts, dict):
            raise ValueError('the body is {"accounts": {"<12-digit account>": "o-<id>"}}')
        for account, organization in accounts.items():
            if not _ACCOUNT.match(account) or not isinstance(organization, str) or not organization.startswith("o-"):
                raise ValueError(f"{account!r}: {organization!r} is not an account and an o-... organization id")
        with self.lock:
            self.organizations = dict(accounts)
        return {"accounts": self.organizations}

    def account_credentials(self, account: str) -> dict:
        """An access key of an administrator user of `account`, for setting an account up (a
        person with console access would): its requests act in that account."""
        if not _ACCOUNT.match(account):
            raise ValueError(f"{account!r} is not a 12-digit account id")
        with self.lock:
            if account not in self.administrators:
                backend = iam_backends[account]["aws"]
                backend.create_user("us-east-1", "corebound-administrator")
                key = backend.create_access_key("corebound-administrator")
                self.administrators[account] = {
                    "AccessKeyId": key.access_key_id,
                    "SecretAccessKey": key.secret_access_key,
                    "SessionToken": "",
                    "Account": account,
                    "Arn": f"arn:aws:iam::{account}:user/corebound-administrator",
                }
            return dict(self.administrators[account])

    def create_session(self, spec: dict) -> dict:
        """A session of an existing role, as Lambda makes one for a function's execution role."""
        if set(spec) - {"role_arn", "session_name", "duration_seconds"}:
            raise ValueError("fields: role_arn, session_name, duration_seconds")
        role_arn = spec.get("role_arn", "")
        role = _find_role(role_arn)
        if role is None:
            raise ValueError(f"no role {role_arn!r}")
        session_name = spec.get("session_name", "corebound-session")
        duration = spec.get("duration_seconds", 3600)
        if not isinstance(duration, int) or not 900 <= duration <= 43200:
            raise ValueError("duration_seconds must be 900..43200")
        account = _ROLE_ARN.match(role_arn).group(2)
        session = sts_backends[account]["aws"].assume_role(
            region_name="us-east-1",
            role_session_name=session_name,
            role_arn=role.arn,
            policy=None,
            duration=duration,
            external_id=None,
        )
        return {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token,
            "Expiration": session.expiration.replace(tzinfo=datetime.timezone.utc).isoformat(),
            "Arn": session.arn,
            "Account": session.account_id,
        }

    def expire(self, spec: dict) -> dict:
        """Expires every current session of a role (or of every role of an account) now."""
        if set(spec) - {"role_arn", "account"} or not (spec.get("role_arn") or spec.get("account")):
            raise ValueError("the body names role_arn or account")
        role_arn, account = (spec.get("role_arn") or "").lower(), spec.get("account")
        expired = []
        past = utcnow() - datetime.timedelta(seconds=1)
        for session in _all_sessions():
            if (role_arn and _role_key(session.role_arn) == _role_key(role_arn)) or (
                account and session.account_id == account
            ):
                session.expiration = past
                expired.append(session.arn)
        return {"expired": expired}

    def deny(self, spec: dict) -> dict:
        """Removes one action (`service:Operation`) from a role, as an explicit deny would."""
        role_arn, action = spec.get("role_arn"), spec.get("action")
        if set(spec) - {"role_arn", "action"} or not isinstance(role_arn, str) or not isinstance(action, str) or ":" not in action:
            raise ValueError('the body is {"role_arn": "arn:...:role/...", "action": "service:Operation"}')
        with self.lock:
            self.denied.append((_role_key(role_arn), action.lower()))
        return {"denied": [{"role_arn": r, "action": a} for r, a in self.denied]}

    # --- request checks --------------------------------------------------------------------

    def check(self, request: AwsRequest) -> Response | None:
        """The answer to a request whose session is expired or lacks the action; None passes."""
        key = access_key_of(request)
        session = _session_of(key) if key else None
        if session is None:
            return None
        if session.expiration <= utcnow():
            code = "ExpiredTokenException" if request.protocol in ("json", "rest-json") else "ExpiredToken"
            return error_for(request, 400 if request.service != "bedrock-agentcore" else 403, code,
                             "The security token included in the request is expired")
        action = f"{request.service}:{request.operation}".lower()
        with self.lock:
            denied = (_role_key(session.role_arn), action) in self.denied
        if denied:
            code, status = _ACCESS_DENIED.get(request.service or "", ("AccessDenied", 403))
            return error_for(
                request,
                status,
                code,
                f"User: {session.arn} is not authorized to perform: {request.service}:{request.operation} "
                f"with an explicit deny in an identity-based policy",
            )
        return None

    def assume_role(self, request: AwsRequest) -> Response | None:
        """STS's answer when it refuses the AssumeRole; None lets moto issue the session."""
        role_arn = request.form_value("RoleArn") or ""
        session_name = request.form_value("RoleSessionName") or ""
        external_id = request.form_value("ExternalId")
        duration = request.form_value("DurationSeconds")
        if not _SESSION_NAME.match(session_name):
            return error_for(request, 400, "ValidationError",
                             f"1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to "
                             "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
        caller_account = account_of(request)
        key = access_key_of(request)
        session = _session_of(key) if key else None
        if session is not None and session.expiration <= utcnow():
            return error_for(request, 400, "ExpiredToken", "The security token included in the request is expired")
        caller = {
            "arn": session.arn if session else f"arn:aws:iam::{caller_account}:user/{key}",
            "role_arn": session.role_arn if session else None,
            "account": caller_account,
        }
        denied = error_for(
            request,
            403,
            "AccessDenied",
            f"User: {caller['arn']} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        )
        role = _find_role(role_arn)
        if role is None:
            return denied
        with self.lock:
            organization = self.organizations.get(caller_account)
        context = {
            "sts:externalid": external_id,
            "aws:principalorgid": organization,
            "aws:principalaccount": caller_account,
            "aws:principalarn": caller["role_arn"] or caller["arn"],
        }
        if not _trust_allows(role.assume_role_policy_document, caller, context):
            return denied
        if duration is not None:
            limit = int(getattr(role, "max_session_duration", 3600) or 3600)
            if not duration.isdigit() or not 900 <= int(duration) <= limit:
                return error_for(request, 400, "ValidationError",
                                 f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        return None


def _role_key(arn: str) -> str:
    """A role compared as IAM does: account and name, the name ignoring case, the path dropped."""
    match = _ROLE_ARN.match(arn or "")
    return f"{match.group(2)}:{match.group(4).lower()}" if match else (arn or "").lower()


def _find_role(role_arn: str):
    match = _ROLE_ARN.match(role_arn or "")
    if not match:
        return None
    partition, account, path, name = match.groups()
    backend = iam_backends[account][partition]
    for role in list(backend.roles.values()):
        role_path = (role.path or "/").strip("/")
        if role.name.lower() == name.lower() and role_path == (path or ""):
            return role
    return None


def _all_sessions():
    for account_backends in list(sts_backends.values()):
        for backend in list(account_backends.values()):
            yield from list(backend.assumed_roles)


def _session_of(access_key: str):
    for session in _all_sessions():
        if session.access_key_id == access_key:
            return session
    return None


def _listed(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _trust_allows(document, caller: dict, context: dict) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = json.loads(unquote(document))
    statements = _listed(document.get("Statement"))
    matching = [s for s in statements if _statement_matches(s, caller, context)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)


def _statement_matches(statement: dict, caller: dict, context: dict) -> bool:
    actions = [a.lower() for a in _listed(statement.get("Action"))]
    if not any(fnmatch.fnmatchcase("sts:assumerole", a) for a in actions):
        return False
    principal = statement.get("Principal")
    if principal == "*":
        principals = ["*"]
    elif isinstance(principal, dict):
        principals = _listed(principal.get("AWS"))
    else:
        return False
    accepted = {"*", caller["account"], f"arn:aws:iam::{caller['account']}:root", caller["arn"]}
    if caller["role_arn"]:
        accepted.add(caller["role_arn"])
    if not any(p in accepted for p in principals):
        return False
    return _conditions_hold(statement.get("Condition") or {}, context)


def _conditions_hold(conditions: dict, context: dict) -> bool:
    for operator, pairs in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            expected = [str(v) for v in _listed(expected)]
            if actual is None:
                if if_exists:
                    continue
                return False  # a key without a value fails, whatever the operator
            if base == "StringEquals":
                held = actual in expected
            elif base == "StringLike":
                held = any(fnmatch.fnmatchcase(actual, pattern) for pattern in expected)
            elif base == "StringNotEquals":
                held = actual not in expected
            else:
                return False  # operators not emulated never allow
            if not held:
                return False
    return True
