"""moto resources created with the identifiers a sample event names.

The files in events/ carry real-looking identifiers that AWS chose at creation: a KMS key id
(`responseElements.keyMetadata.keyId`), a secret ARN with its random six-character suffix. moto
chooses its own, so a local AWS seeded through the ordinary API would hold a different key and a
different secret ARN, and the events would name resources that do not exist. These two control
calls create them in moto's backends with the given identifiers; everything else about them (and
every later call on them) is moto's.

    POST /_corebound/kms/keys                {"id": "<uuid>", "description"?, "policy"?, "tags"?: {k: v}, "region"?}
    POST /_corebound/secretsmanager/secrets  {"name", "suffix": "<6 letters or digits>", "description"?, "tags"?: {k: v}, "region"?}
    POST /_corebound/cloudformation/stacks   {"stackId": "arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>", "tags"?: {k: v}}

The stack (a CloudFormation stack id, as hook requests name it) is created by moto's own
CreateStack logic from a template with one resource that creates nothing
(AWS::CloudFormation::WaitConditionHandle), then given the chosen id; DescribeStacks answers
for it by id or name as AWS does.
"""

from __future__ import annotations

import re
import uuid

from moto.cloudformation.models import cloudformation_backends
from moto.kms.models import kms_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.utils import SecretsManagerSecretIdentifier
from moto.utilities.id_generator import moto_id_manager

from awsproto import ACCOUNT_ID, DEFAULT_REGION

_SUFFIX = re.compile(r"^[A-Za-z0-9]{6}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_STACK_ID = re.compile(
    r"^arn:aws:cloudformation:(?P<region>[a-z]{2}(-[a-z]+)+-\d):(?P<account>\d{12}):stack/(?P<name>[A-Za-z][A-Za-z0-9-]{0,127})/[0-9a-f-]{36}$"
)
_EMPTY_TEMPLATE = '{"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}'


def _check(spec: dict, allowed: set[str]) -> str:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    region = spec.get("region", DEFAULT_REGION)
    if not isinstance(region, str) or not _REGION.match(region):
        raise ValueError(f"region must be an AWS region name, got {region!r}")
    tags = spec.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError("tags must be an object of string keys and values")
    return region


def create_key(spec: dict) -> dict:
    """A symmetric customer-managed key whose id is `spec["id"]`; answers DescribeKey's KeyMetadata subset."""
    region = _check(spec, {"id", "description", "policy", "tags", "region"})
    key_id = spec.get("id")
    try:
        if not isinstance(key_id, str) or str(uuid.UUID(key_id)) != key_id:
            raise ValueError
    except ValueError:
        raise ValueError(f"id must be a lower-case UUID (a KMS key id), got {key_id!r}") from None
    policy = spec.get("policy")
    if policy is not None and not isinstance(policy, str):
        raise ValueError("policy must be the key policy as a JSON string")
    backend = kms_backends[ACCOUNT_ID][region]
    if key_id in backend.keys:
        raise ValueError(f"id already exists: {key_id}")
    key = backend.create_key(policy, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", spec.get("description", ""), None)
    del backend.keys[key.id]
    key.id = key_id
    key.arn = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"
    backend.keys[key_id] = key
    tags = spec.get("tags", {})
    if tags:
        backend.tag_resource(key_id, [{"TagKey": k, "TagValue": v} for k, v in tags.items()])
    return {"KeyId": key.id, "Arn": key.arn}


def create_secret(spec: dict) -> dict:
    """A secret (value `{}`) whose ARN ends in `<name>-<suffix>`; answers CreateSecret's shape."""
    region = _check(spec, {"name", "suffix", "description", "tags", "region"})
    name, suffix = spec.get("name"), spec.get("suffix")
    if not isinstance(name, str) or not _SECRET_NAME.match(name):
        raise ValueError(f"name must be a secret name, got {name!r}")
    if not isinstance(suffix, str) or not _SUFFIX.match(suffix):
        raise ValueError(f"suffix must be six letters or digits (the end of the ARN), got {suffix!r}")
    identifier = SecretsManagerSecretIdentifier(ACCOUNT_ID, region, name)
    moto_id_manager.set_custom_id(identifier, suffix)  # moto's own hook for chosen ids
    backend = secretsmanager_backends[ACCOUNT_ID][region]
    if name in backend.secrets:
        raise ValueError(f"a secret named {name} already exists")
    try:
        backend.create_secret(
            name=name,
            secret_string="{}",
            secret_binary=None,
            description=spec.get("description"),
            tags=[{"Key": k, "Value": v} for k, v in spec.get("tags", {}).items()] or None,
            kms_key_id=None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
    finally:
        moto_id_manager.unset_custom_id(identifier)
    return {"ARN": backend.secrets[name].arn, "Name": name}


def create_stack(spec: dict) -> dict:
    """A stack whose StackId is `spec["stackId"]`, with `spec["tags"]`; answers DescribeStacks' Stack subset."""
    unknown = sorted(set(spec) - {"stackId", "tags"})
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    stack_id = spec.get("stackId")
    match = _STACK_ID.match(stack_id) if isinstance(stack_id, str) else None
    if not match:
        raise ValueError(f"stackId must be arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>, got {stack_id!r}")
    if match.group("account") != ACCOUNT_ID:
        raise ValueError(f"stackId must be in the emulator's account {ACCOUNT_ID}")
    tags = spec.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError("tags must be an object of string keys and values")
    backend = cloudformation_backends[ACCOUNT_ID][match.group("region")]
    stack = backend.create_stack(name=match.group("name"), template=_EMPTY_TEMPLATE, parameters={}, tags=tags)
    del backend.stacks[stack.stack_id]
    stack.stack_id = stack_id
    backend.stacks[stack_id] = stack
    return {"StackId": stack_id, "StackName": stack.name, "Tags": tags}
