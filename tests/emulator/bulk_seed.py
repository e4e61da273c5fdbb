"""Many resources of every type the sweep covers, created directly in the emulator's backends.

A sweep benchmark needs 10 000 resources; 10 000 HTTP calls through the SDK protocols would
take longer than the sweep itself. This control call creates them in-process, in moto's own
backends (and the AgentCore emulation), exactly as the ordinary API would leave them, so every
later call on them (the sweep's List/Get/Tag/...) is served by the unchanged emulator. The
seeding is not recorded in the request log: the log then holds only what the code under test did.

    POST /_corebound/bulk/seed
    {"count": <per type>, "types"?: [<kind>...], "prefix"?: "corebound-demo-bench",
     "rolePrefix"?: "LPMA_Demo_bench", "keyArn": "<CMK ARN>", "tags": {k: v},
     "nonCompliantEvery"?: 0 | n, "region"?}
    -> {"keyArn", "resources": {<kind>: [{"arn", "name", "compliant": bool}]}}

    POST /_corebound/bulk/check {"resources": {<kind>: [<arn>...]}, "keyArn", "tags": {k: v}, "region"?}
    -> {"checked": n, "nonCompliant": [{"arn", "missing": [...]}]}: read straight from the backends
       (not through the code under test, not logged): which resources lack a tag value or, where
       the type takes one, the CMK.

    POST /_corebound/bulk/cmk  {"scopeLogGroups"?: ["corebound-demo-*"], "region"?}
    -> {"keyArn"}: a CMK whose policy lets the account and CloudWatch Logs (for those log
       groups) use it, as the template's key policy does.

Kinds are the sweep's names: sns_topic sqs_queue log_group s3_bucket secret iam_role kms_key
agent_runtime memory gateway. Resource i (from 0) is compliant unless `nonCompliantEvery` is n > 0
and i % n == 0: a compliant one carries `tags` and, where the type takes the CMK, `keyArn`; a
non-compliant one carries no tag and, where the remediator can switch the key, no CMK (topics,
queues, log groups, buckets, secrets). A memory's key cannot change after creation, so every
memory is created with the CMK and only its tags differ. A key is in scope by its alias
`alias/<prefix>-kms_key-<i>`.
"""

from __future__ import annotations

import contextlib
import json
import re

import moto.kms.models as kms_models
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from awsproto import ACCOUNT_ID, DEFAULT_REGION

KINDS = (
    "sns_topic", "sqs_queue", "log_group", "s3_bucket", "secret",
    "iam_role", "kms_key", "agent_runtime", "memory", "gateway",
)
MAX_PER_TYPE = 20_000
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,30}$")  # valid in every name kind (buckets: lower case)
_ROLE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_+=,.@-]{0,40}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_KEY_ARN = re.compile(r"^arn:aws:kms:([a-z0-9-]+):(\d{12}):key/([a-f0-9-]{36})$")
_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _region(spec: dict) -> str:
    region = spec.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or not _REGION.match(region):
        raise ValueError(f"region must be an AWS region name, got {region!r}")
    return region


def _only(spec: dict, allowed: set[str]) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")


def create_cmk(spec: dict) -> dict:
    """The project key of a benchmark: the account and CloudWatch Logs may use it."""
    _only(spec, {"scopeLogGroups", "region"})
    region = _region(spec)
    families = spec.get("scopeLogGroups", ["corebound-demo-*"])
    if not isinstance(families, list) or not all(isinstance(f, str) and f for f in families):
        raise ValueError("scopeLogGroups must be a list of log-group name globs")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersAndDelegatesToIam", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "LogsForScopeFamily", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
         "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": [
             f"arn:*:logs:*:*:log-group:{family}" for family in families]}}},
    ]}
    key = kms_backends[ACCOUNT_ID][region].create_key(
        json.dumps(policy), "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "corebound bench CMK", None)
    return {"keyArn": key.arn}


def seed(spec: dict, agentcore) -> dict:
    _only(spec, {"count", "types", "prefix", "rolePrefix", "keyArn", "tags", "nonCompliantEvery", "region"})
    region = _region(spec)
    count = spec.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_PER_TYPE:
        raise ValueError(f"count must be an integer 0..{MAX_PER_TYPE} (resources per type)")
    kinds = spec.get("types", list(KINDS))
    if not isinstance(kinds, list) or not all(kind in KINDS for kind in kinds):
        raise ValueError(f"types must be a list of: {', '.join(KINDS)}")
    prefix = spec.get("prefix", "corebound-demo-bench")
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ValueError(f"prefix must match {_PREFIX.pattern}")
    role_prefix = spec.get("rolePrefix", "LPMA_Demo_bench")
    if not isinstance(role_prefix, str) or not _ROLE_PREFIX.match(role_prefix):
        raise ValueError(f"rolePrefix must match {_ROLE_PREFIX.pattern}")
    key_arn = spec.get("keyArn")
    match = _KEY_ARN.match(key_arn) if isinstance(key_arn, str) else None
    if not match or match.group(3) not in kms_backends[ACCOUNT_ID][match.group(1)].keys:
        raise ValueError(f"keyArn must be the ARN of an existing key, got {key_arn!r}")
    tags = spec.get("tags")
    if not isinstance(tags, dict) or not tags or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError("tags must be a non-empty object of string keys and values")
    every = spec.get("nonCompliantEvery", 0)
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise ValueError("nonCompliantEvery must be 0 (all compliant) or a positive integer")

    seeder = _Seeder(region, key_arn, tags, agentcore)
    resources = {}
    for kind in kinds:
        create = getattr(seeder, kind)
        created = []
        for index in range(count):
            compliant = not (every and index % every == 0)
            # Underscores where a name kind refuses hyphens (AgentCore runtimes and memories).
            stem = f"{prefix}-{kind}-{index:05d}"
            if kind in ("agent_runtime", "memory"):
                stem = stem.replace("-", "_")
            elif kind == "iam_role":
                stem = f"{role_prefix}_{index:05d}"
            arn = create(stem, compliant)
            created.append({"arn": arn, "name": stem, "compliant": compliant})
        resources[kind] = created
    return {"keyArn": key_arn, "resources": resources}


def check(spec: dict, agentcore) -> dict:
    _only(spec, {"resources", "keyArn", "tags", "region"})
    region = _region(spec)
    resources = spec.get("resources")
    if not isinstance(resources, dict) or not all(
        kind in KINDS and isinstance(arns, list) and all(isinstance(a, str) for a in arns)
        for kind, arns in resources.items()
    ):
        raise ValueError(f"resources must map kinds ({', '.join(KINDS)}) to lists of ARNs")
    key_arn, tags = spec.get("keyArn"), spec.get("tags")
    if not isinstance(key_arn, str) or not isinstance(tags, dict):
        raise ValueError("keyArn (string) and tags (object) are required")
    state = _State(region, agentcore)
    failures, checked = [], 0
    for kind, arns in resources.items():
        for arn in arns:
            checked += 1
            try:
                found_tags, key = getattr(state, kind)(arn)
            except Exception as error:  # noqa: BLE001 - a resource that cannot be read is reported
                failures.append({"arn": arn, "missing": [f"unreadable: {type(error).__name__}: {error}"]})
                continue
            missing = [f"tag:{k}" for k, v in tags.items() if found_tags.get(k) != v]
            if key is not _NO_KEY and key != key_arn:
                missing.append(f"cmk-encryption (has {key!r})")
            if missing:
                failures.append({"arn": arn, "missing": missing})
    return {"checked": checked, "nonCompliant": failures}


_NO_KEY = object()  # the type takes no key (roles, KMS keys, runtimes, gateways)


class _State:
    """One reader per kind: ARN -> (tags, key ARN or _NO_KEY), from the backends."""

    def __init__(self, region: str, agentcore) -> None:
        self.region, self.agentcore = region, agentcore

    def sns_topic(self, arn: str):
        topic = sns_backends[ACCOUNT_ID][self.region].topics[arn]
        return dict(topic._tags), topic.kms_master_key_id or None

    def sqs_queue(self, arn: str):
        queue = sqs_backends[ACCOUNT_ID][self.region].queues[arn.rsplit(":", 1)[1]]
        return dict(queue.tags or {}), getattr(queue, "kms_master_key_id", None) or None

    def log_group(self, arn: str):
        backend = logs_backends[ACCOUNT_ID][self.region]
        group = backend.groups[arn.split(":log-group:", 1)[1].removesuffix(":*")]
        return dict(backend.list_tags_for_resource(group.arn)), group.kms_key_id or None

    def s3_bucket(self, arn: str):
        backend = s3_backends[ACCOUNT_ID]["aws"]
        name = arn.rsplit(":", 1)[1]
        tags = {t["Key"]: t["Value"] for t in backend.get_bucket_tagging(name)["Tags"]}
        encryption = backend.get_bucket(name).encryption or {}
        rules = encryption.get("Rule", [])
        rule = (rules[0] if isinstance(rules, list) and rules else rules) or {}
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        key = default.get("KMSMasterKeyID") if default.get("SSEAlgorithm") == "aws:kms" else None
        return tags, key

    def secret(self, arn: str):
        backend = secretsmanager_backends[ACCOUNT_ID][self.region]
        (secret,) = [s for s in backend.secrets.values() if s.arn == arn]
        return {t["Key"]: t["Value"] for t in secret.tags or []}, secret.kms_key_id or None

    def iam_role(self, arn: str):
        backend = iam_backends[ACCOUNT_ID]["aws"]
        role = backend.get_role_by_arn(arn)
        tags, _ = backend.list_role_tags(role.name, None, 100)
        return {tag["Key"]: tag["Value"] for tag in tags}, _NO_KEY

    def kms_key(self, arn: str):
        tags = kms_backends[ACCOUNT_ID][self.region].list_resource_tags(arn)["Tags"]
        return {t["TagKey"]: t["TagValue"] for t in tags}, _NO_KEY

    def agent_runtime(self, arn: str):
        return dict(self.agentcore.by_arn[arn].tags), _NO_KEY

    def memory(self, arn: str):
        memory = self.agentcore.by_arn[arn]
        return dict(memory.tags), memory.encryption_key_arn

    def gateway(self, arn: str):
        return dict(self.agentcore.by_arn[arn].tags), _NO_KEY


class _Seeder:
    """One create function per kind: (name, compliant) -> ARN."""

    def __init__(self, region: str, key_arn: str, tags: dict[str, str], agentcore) -> None:
        self.region, self.key_arn, self.tags, self.agentcore = region, key_arn, tags, agentcore

    def _tags(self, compliant: bool) -> dict[str, str]:
        return dict(self.tags) if compliant else {}

    def sns_topic(self, name: str, compliant: bool) -> str:
        attributes = {"KmsMasterKeyId": self.key_arn} if compliant else {}
        topic = sns_backends[ACCOUNT_ID][self.region].create_topic(name, attributes, self._tags(compliant) or None)
        return topic.arn

    def sqs_queue(self, name: str, compliant: bool) -> str:
        attributes = {"KmsMasterKeyId": self.key_arn} if compliant else {}
        queue = sqs_backends[ACCOUNT_ID][self.region].create_queue(name, self._tags(compliant) or None, **attributes)
        return queue.queue_arn

    def log_group(self, name: str, compliant: bool) -> str:
        extra = {"kmsKeyId": self.key_arn} if compliant else {}
        group = logs_backends[ACCOUNT_ID][self.region].create_log_group(name, self._tags(compliant), **extra)
        return group.arn

    def s3_bucket(self, name: str, compliant: bool) -> str:
        backend = s3_backends[ACCOUNT_ID]["aws"]
        backend.create_bucket(name, self.region)
        if compliant:
            backend.put_bucket_encryption(name, {"Rule": {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.key_arn},
                "BucketKeyEnabled": "true"}})
            backend.put_bucket_tagging(name, self._tags(compliant))
        return f"arn:aws:s3:::{name}"

    def secret(self, name: str, compliant: bool) -> str:
        backend = secretsmanager_backends[ACCOUNT_ID][self.region]
        backend.create_secret(
            name=name, secret_string="{}", secret_binary=None, description=None,
            tags=[{"Key": k, "Value": v} for k, v in self._tags(compliant).items()] or None,
            kms_key_id=self.key_arn if compliant else None, client_request_token=None,
            replica_regions=[], force_overwrite=False,
        )
        return backend.secrets[name].arn

    def iam_role(self, name: str, compliant: bool) -> str:
        role = iam_backends[ACCOUNT_ID]["aws"].create_role(
            role_name=name, assume_role_policy_document=_TRUST, path="/", permissions_boundary=None,
            description="corebound bench", tags=[{"Key": k, "Value": v} for k, v in self._tags(compliant).items()],
            max_session_duration=None,
        )
        return role.arn

    def kms_key(self, name: str, compliant: bool) -> str:
        backend = kms_backends[ACCOUNT_ID][self.region]
        with _one_rsa_key_for_symmetric_keys():
            key = backend.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "corebound bench", None)
        backend.create_alias(key.id, f"alias/{name}")
        if compliant:
            backend.tag_resource(key.id, [{"TagKey": k, "TagValue": v} for k, v in self.tags.items()])
        return key.arn

    def agent_runtime(self, name: str, compliant: bool) -> str:
        return self.agentcore.seed_runtime({"name": name, "region": self.region, "tags": self._tags(compliant)})["agentRuntimeArn"]

    def memory(self, name: str, compliant: bool) -> str:
        memory = self.agentcore.seed_memory({"name": name, "region": self.region, "encryptionKeyArn": self.key_arn,
                                             "tags": self._tags(compliant)})
        return memory["arn"]

    def gateway(self, name: str, compliant: bool) -> str:
        return self.agentcore.seed_gateway({"name": name, "region": self.region, "tags": self._tags(compliant)})["gatewayArn"]


_SHARED_PRIVATE_KEY = None


@contextlib.contextmanager
def _one_rsa_key_for_symmetric_keys():
    """moto 5.2.1 generates a 2048-bit RSA private key for every key, symmetric ones included,
    where it is never used (only asymmetric Sign/Verify read it): 50 ms a key, most of the time
    of seeding 1 000 keys. Symmetric keys created here share one (other key specs, from a
    concurrent request, still get their own)."""
    original = kms_models.generate_private_key

    def shared(key_spec: str):
        global _SHARED_PRIVATE_KEY
        if key_spec != "SYMMETRIC_DEFAULT":
            return original(key_spec)
        if _SHARED_PRIVATE_KEY is None:
            _SHARED_PRIVATE_KEY = original(key_spec)
        return _SHARED_PRIVATE_KEY

    kms_models.generate_private_key = shared
    try:
        yield
    finally:
        kms_models.generate_private_key = original
