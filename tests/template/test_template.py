"""What a regulated account's reviewer checks in template.yaml and examples/, as tests.

Run from the repository root:

    pip install -r tests/requirements.txt
    python3 -m unittest discover -s tests/template -v

1. cfn-lint reports no error and no warning on template.yaml and examples/*.yaml.
2. The policies hold: every role is named <RolePrefix><AppName>_<Purpose> and carries the
   permissions boundary; no policy statement anywhere uses a wildcard action; every SNS topic,
   SQS queue and log group is encrypted with the project CMK; every taggable resource has the
   five mandatory tags; one ServiceToken per custom resource type is exported.
3. The contract with the Rust functions and between resources holds: build settings, timeouts,
   the remediator's configuration, and the ScopePatterns parameter driving both the key
   policy's name families and the remediator's write permissions.

Templates are read with cfn-lint's own YAML decoder, so short-form intrinsics (!Sub, !If...)
arrive as {"Fn::Sub": ...} mappings exactly as CloudFormation sees them.
"""

from __future__ import annotations

import fnmatch
import json
import pathlib
import re
import subprocess
import sys
import unittest

try:
    from cfnlint.decode import cfn_yaml
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    from cfnlint.version import __version__ as CFN_LINT_VERSION
except ImportError as missing:  # pragma: no cover - environment problem, not a test result
    raise ImportError(
        "cfn-lint is required for the template tests: "
        "pip install -r tests/requirements.txt"
    ) from missing

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# Examples of one boundary pattern each (issue 14), which use no corebound custom resource.
EXAMPLES_WITHOUT_CUSTOM_RESOURCES = {"evaluations-role.yaml", "runtime-bootstrap.yaml"}
# Templates deployed on their own (templates/spoke.yaml, by a StackSet): the same reviewer's
# checks as template.yaml, every file of the directory.
TEMPLATES = sorted((ROOT / "templates").glob("*.yaml"))
PINNED = re.search(
    r"^cfn-lint==(\S+)", (ROOT / "tests" / "requirements.txt").read_text(), re.MULTILINE
).group(1)

MANDATORY_TAGS = ("ApplicationId", "Environment", "Project", "ServiceLine", "ManagedBy")
ROLE_NAME_PREFIX = "${RolePrefix}${AppName}_"
LINT_REGION = "us-east-1"

# Values used to render the templates' intrinsic functions in the checks below.
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "corebound",
    "AWS::URLSuffix": "amazonaws.com",
}
SAMPLE_PARAMETERS = {
    "AppName": "Demo",
    "RolePrefix": "LPMA_",
    "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/BoundaryForLPMA",
    "ApplicationId": "APP-0042",
    "Environment": "preprod",
    "Project": "corebound-demo",
    "ServiceLine": "platform",
    "ManagedBy": "platform-ci",
    "KmsKeyArn": "",
    "ScopePatterns": "corebound-demo-*,corebound_demo_*,LPMA_Demo_*",
    "RemediationMode": "report",
    "LogRetentionInDays": "365",
    "AllowedPrincipalAccounts": "",
    "ServiceTokenInvokerArn": "",
    "CustomResourceConcurrency": "10",
    "RemediatorConcurrency": "5",
    "DeferralDelaySeconds": "120",
    # CommaDelimitedList parameters arrive as lists; an empty default is [""].
    "SubnetIds": [""],
    "SecurityGroupIds": [""],
    # Organization mode off (the defaults): tests/template/test_organization.py turns it on.
    "OrganizationId": "",
    "SpokeExternalIdSecretArn": "",
    "SpokeExternalIdVersionId": "",
    "AccountSettings": "",
    # The sweep's schedule on (the default).
    "SweepSchedule": "rate(1 hour)",
    "ReportRetentionInDays": "400",
    "HookFailureMode": "WARN",
    "HookTargets": ["AWS::IAM::Role", "AWS::SNS::Topic"],
    "HookConcurrency": "10",
}
EXTERNAL_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# The contracts of issues 3, 4 and 5 that the template and the examples must respect.
CUSTOM_RESOURCE_PROPERTIES = {
    "Custom::AgentCoreRuntimePolicy": {
        "RuntimeArn", "EndpointNames", "Principals", "Actions", "Conditions", "StatementId",
    },
    "Custom::AgentCoreMemoryGrant": {
        "RoleName", "MemoryArn", "Access", "Actions", "PolicyName", "Verify",
    },
    "Custom::AgentCoreInvokeGrant": {
        "RoleName", "RuntimeArn", "EndpointNames", "PolicyName", "RequireReady", "Verify",
    },
}
# CloudFormation's own property of every custom resource (1-3600 s, default 3600), passed in
# ResourceProperties and accepted by every corebound function (issue 17 item 2).
CLOUDFORMATION_PROPERTIES = {"ServiceToken", "ServiceTimeout"}
SERVICE_TOKEN_OUTPUTS = {
    "Custom::AgentCoreRuntimePolicy": ("RuntimePolicyServiceToken", "RuntimePolicyFunction"),
    "Custom::AgentCoreMemoryGrant": ("MemoryGrantServiceToken", "MemoryGrantFunction"),
    "Custom::AgentCoreInvokeGrant": ("InvokeGrantServiceToken", "MemoryGrantFunction"),
}
FUNCTIONS = {
    # logical id: (crate directory under functions/, timeout in seconds)
    "RuntimePolicyFunction": ("runtime-policy", 120),
    "MemoryGrantFunction": ("memory-grant", 120),
    "RemediatorFunction": ("remediator", 60),
    "PreflightHookFunction": ("preflight-hook", 28),
}
# Invoked only synchronously (CloudFormation Hooks wait for the answer): no asynchronous
# invocation can fail into a dead-letter queue.
SYNCHRONOUS_FUNCTIONS = {"PreflightHookFunction"}
REMEDIATOR_ENVIRONMENT = {
    "REQUIRED_TAGS", "KMS_KEY_ARN", "MODE", "SCOPE_PATTERNS", "ALERT_TOPIC_ARN",
    "REQUIRED_ROLE_PREFIX", "SELF_ROLE_ARN", "OPT_OUT_TAG", "DEFERRAL_QUEUE_URL",
    "DEFERRAL_DELAY_SECONDS",
    # the sweep (issue 12, tests/template/test_sweep.py)
    "SWEEP_QUEUE_URL", "REPORT_BUCKET",
}
# Create events, then drift events (issue 12; shared/src/remediation/drift.rs DRIFT_EVENTS, which
# a Rust test also compares with the template's pattern).
REMEDIATOR_EVENTS = {
    "sns.amazonaws.com": {"CreateTopic", "UntagResource", "SetTopicAttributes"},
    "sqs.amazonaws.com": {"CreateQueue", "UntagQueue", "SetQueueAttributes"},
    "logs.amazonaws.com": {"CreateLogGroup", "UntagResource", "UntagLogGroup", "DisassociateKmsKey"},
    # PutBucket*: also a provisioning tool's own tag and encryption calls after CreateBucket.
    "s3.amazonaws.com": {
        "CreateBucket", "PutBucketTagging", "PutBucketEncryption", "DeleteBucketTagging",
        "DeleteBucketEncryption",
    },
    "secretsmanager.amazonaws.com": {"CreateSecret", "UntagResource", "UpdateSecret"},
    "iam.amazonaws.com": {"CreateRole", "UntagRole"},
    "kms.amazonaws.com": {"CreateKey", "UntagResource"},
    "bedrock-agentcore.amazonaws.com": {
        "CreateAgentRuntime", "CreateMemory", "CreateGateway", "UntagResource",
    },
}


def load(path: pathlib.Path) -> dict:
    return cfn_yaml.load(str(path))


def walk(node, path=()):
    """Yields (path, node) for every node of a decoded template."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (str(index),))


def unwrap_if(statement):
    """The statements an element of a Statement list stands for: both branches of an Fn::If
    (without AWS::NoValue), or the statement itself."""
    if isinstance(statement, dict) and set(statement) == {"Fn::If"}:
        _, when_true, when_false = statement["Fn::If"]
        return [
            branch for branch in (when_true, when_false)
            if branch != {"Ref": "AWS::NoValue"}
        ]
    return [statement]


def policy_statements(template: dict):
    """Yields (where, statement) for every statement of every policy document in the template:
    role policies, key policies, topic and queue policies, trust policies alike (both branches
    of a conditional statement)."""
    for path, node in walk(template.get("Resources", {})):
        if isinstance(node, dict) and "Statement" in node:
            statements = node["Statement"]
            for index, element in enumerate(
                statements if isinstance(statements, list) else [statements]
            ):
                for statement in unwrap_if(element):
                    yield "/".join(path + ("Statement", str(index))), statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def sub_string(value):
    """The template string of an Fn::Sub, in either of its two forms."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub[0] if isinstance(sub, list) else sub
    return None


class _NoValue:
    """AWS::NoValue: removes the property or list element it stands for."""


NO_VALUE = _NoValue()


class Renderer:
    """Evaluates the intrinsic functions the templates use, with given parameter values.
    Fn::GetAtt and Ref of a resource render as <Logical.Attribute> / <Logical> placeholders."""

    def __init__(self, template: dict, parameters: dict):
        self.template = template
        self.values = {**PSEUDO, **parameters}
        self.resources = template.get("Resources", {})
        # In declaration order, so that a condition may name an earlier one ({"Condition": ...}).
        self.conditions = {}
        for name, body in template.get("Conditions", {}).items():
            self.conditions[name] = self.condition(body)

    def condition(self, body):
        (function, argument), = body.items()
        if function == "Fn::Equals":
            return self(argument[0]) == self(argument[1])
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(item) for item in argument)
        if function == "Fn::Or":
            return any(self.condition(item) for item in argument)
        if function == "Condition":
            return self.conditions[argument]
        raise AssertionError(f"condition function {function} not supported by the test renderer")

    def ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            return f"<{name}>"
        raise AssertionError(f"Ref to unknown name {name!r}")

    def sub(self, text, variables=None):
        variables = variables or {}

        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self(variables[name]))
            if "." in name:
                logical, attribute = name.split(".", 1)
                return f"<{logical}.{attribute}>"
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def __call__(self, node):
        if isinstance(node, dict):
            if len(node) == 1:
                (key, argument), = node.items()
                if key == "Ref":
                    return self.ref(argument)
                if key == "Fn::Sub":
                    if isinstance(argument, list):
                        return self.sub(argument[0], argument[1])
                    return self.sub(argument)
                if key == "Fn::Join":
                    delimiter, items = argument
                    return delimiter.join(str(item) for item in self(items))
                if key == "Fn::Split":
                    delimiter, text = argument
                    return self(text).split(delimiter)
                if key == "Fn::Select":
                    index, items = argument
                    return self(items)[int(self(index))]
                if key == "Fn::If":
                    name, when_true, when_false = argument
                    return self(when_true if self.conditions[name] else when_false)
                if key == "Fn::GetAtt":
                    logical, attribute = (
                        argument.split(".", 1) if isinstance(argument, str) else argument
                    )
                    return f"<{logical}.{attribute}>"
                if key == "Fn::ImportValue":
                    return f"<import {self(argument)}>"
            rendered = {key: self(value) for key, value in node.items()}
            return {key: value for key, value in rendered.items() if value is not NO_VALUE}
        if isinstance(node, list):
            rendered = [self(item) for item in node]
            return [item for item in rendered if item is not NO_VALUE]
        return node


def iam_match(pattern: str, value: str) -> bool:
    """IAM wildcard matching: * any run of characters (across : and /), ? one character."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def taggable(resource_type: str) -> bool:
    """Whether CloudFormation can tag the resource type, from the resource schema cfn-lint ships."""
    if resource_type == "AWS::Serverless::Function":
        return True
    if resource_type.startswith("Custom::"):
        return False
    if resource_type.startswith("AWS::Serverless::"):
        raise AssertionError(
            f"{resource_type} is not known to this test: decide whether and how it is tagged"
        )
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(LINT_REGION, resource_type).schema
    tagging = schema.get("tagging", {})
    return bool(tagging.get("taggable", "Tags" in schema.get("properties", {})))


def tags_of(properties: dict) -> dict:
    """Tags as key -> value node, from either the list form or the map form."""
    tags = properties.get("Tags", {})
    if isinstance(tags, list):
        return {tag["Key"]: tag["Value"] for tag in tags}
    return dict(tags)


class CfnLint(unittest.TestCase):
    def test_template_and_examples_have_no_errors_or_warnings(self):
        self.assertTrue(EXAMPLES, "examples/ holds no *.yaml template")
        self.assertTrue(TEMPLATES, "templates/ holds no *.yaml template")
        for path in [TEMPLATE, *EXAMPLES, *TEMPLATES]:
            with self.subTest(template=path.relative_to(ROOT).as_posix()):
                run = subprocess.run(
                    [
                        sys.executable, "-c", "from cfnlint.runner import main; main()",
                        "--format", "parseable", "--regions", LINT_REGION, "--", str(path),
                    ],
                    capture_output=True, text=True, cwd=ROOT, check=False,
                )
                findings = (run.stdout + run.stderr).strip()
                self.assertEqual(
                    run.returncode, 0,
                    f"cfn-lint {CFN_LINT_VERSION} (pinned: {PINNED}) on {path.name} "
                    f"exited {run.returncode}:\n{findings}",
                )
                self.assertEqual(findings, "", f"cfn-lint findings on {path.name}:\n{findings}")


class _Templates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = load(TEMPLATE)
        cls.resources = cls.template["Resources"]
        cls.examples = {path.name: load(path) for path in EXAMPLES}
        cls.templates = {f"templates/{path.name}": load(path) for path in TEMPLATES}

    def all_templates(self):
        yield TEMPLATE.name, self.template
        yield from self.examples.items()
        yield from self.templates.items()

    def of_type(self, resource_type, template=None):
        resources = (template or self.template)["Resources"]
        return {
            name: resource for name, resource in resources.items()
            if resource["Type"] == resource_type
        }

    def rendered(self, **overrides):
        return Renderer(self.template, {**SAMPLE_PARAMETERS, **overrides})


class Policies(_Templates):
    def test_every_role_has_the_prefixed_name_and_the_permissions_boundary(self):
        for file, template in self.all_templates():
            roles = self.of_type("AWS::IAM::Role", template)
            self.assertTrue(roles, f"{file} declares no AWS::IAM::Role")
            for name, role in roles.items():
                with self.subTest(file=file, role=name):
                    properties = role.get("Properties", {})
                    role_name = sub_string(properties.get("RoleName"))
                    self.assertIsNotNone(
                        role_name,
                        f"{file}: role {name} has no RoleName !Sub '{ROLE_NAME_PREFIX}<Purpose>' "
                        f"(got {properties.get('RoleName')!r}); CloudFormation's generated names "
                        "fall outside the prefix the boundary allows",
                    )
                    self.assertTrue(
                        role_name.startswith(ROLE_NAME_PREFIX)
                        and len(role_name) > len(ROLE_NAME_PREFIX),
                        f"{file}: role {name} is named {role_name!r}, not {ROLE_NAME_PREFIX}<Purpose>",
                    )
                    self.assertIn(
                        properties.get("PermissionsBoundary"), (
                            {"Ref": "PermissionsBoundaryArn"},
                            # A StackSet's one value for every account: the boundary's name.
                            {"Fn::If": ["BoundaryByArn", {"Ref": "PermissionsBoundaryArn"}, {
                                "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/${PermissionsBoundaryArn}"}]},
                        ),
                        f"{file}: role {name} must carry PermissionsBoundary: !Ref PermissionsBoundaryArn",
                    )

    def test_sam_functions_use_the_declared_roles_not_generated_ones(self):
        for name, function in self.of_type("AWS::Serverless::Function").items():
            with self.subTest(function=name):
                properties = function["Properties"]
                role = properties.get("Role", {}).get("Fn::GetAtt")
                self.assertTrue(
                    role and role[0] in self.of_type("AWS::IAM::Role") and role[1] == "Arn",
                    f"function {name} must use !GetAtt <a role of this template>.Arn; SAM would "
                    "otherwise generate a role without prefix or boundary",
                )
                for generated in ("Policies", "PermissionsBoundary"):
                    self.assertNotIn(
                        generated, properties,
                        f"function {name} sets {generated}, which only applies to a SAM-generated role",
                    )

    def test_no_policy_statement_uses_a_wildcard_action(self):
        for file, template in self.all_templates():
            statements = list(policy_statements(template))
            self.assertTrue(statements, f"{file}: no policy statement found")
            for where, statement in statements:
                for key in ("Action", "NotAction"):
                    for action in as_list(statement.get(key, [])):
                        with self.subTest(file=file, statement=where, action=action):
                            self.assertIsInstance(
                                action, str,
                                f"{file} {where}: {key} entries must be literal action names, got {action!r}",
                            )
                            self.assertNotIn(
                                "*", action,
                                f"{file} {where}: {key} {action!r} is a wildcard action; list the actions",
                            )

    def test_topics_queues_and_log_groups_are_encrypted_with_the_project_cmk(self):
        encrypted = {
            "AWS::SNS::Topic": "KmsMasterKeyId",
            "AWS::SQS::Queue": "KmsMasterKeyId",
            "AWS::Logs::LogGroup": "KmsKeyId",
        }
        created = self.rendered()
        passed_in = self.rendered(KmsKeyArn=EXTERNAL_KEY)
        for resource_type, key_property in encrypted.items():
            resources = self.of_type(resource_type)
            self.assertTrue(resources, f"template.yaml declares no {resource_type}")
            for name, resource in resources.items():
                with self.subTest(resource=name):
                    value = resource["Properties"].get(key_property)
                    self.assertIsNotNone(
                        value, f"{resource_type} {name} has no {key_property}: encrypt it at creation"
                    )
                    self.assertEqual(
                        created(value), "<ProjectKey.Arn>",
                        f"{name}.{key_property} must be the CMK the stack creates when KmsKeyArn is empty",
                    )
                    self.assertEqual(
                        passed_in(value), EXTERNAL_KEY,
                        f"{name}.{key_property} must be the KmsKeyArn parameter when it is given",
                    )

    def test_every_taggable_resource_carries_the_five_tags(self):
        for file, template in self.all_templates():
            global_tags = template.get("Globals", {}).get("Function", {}).get("Tags", {})
            for name, resource in template["Resources"].items():
                if not taggable(resource["Type"]):
                    continue
                with self.subTest(file=file, resource=name):
                    tags = tags_of(resource.get("Properties", {}))
                    if resource["Type"] == "AWS::Serverless::Function":
                        tags = {**global_tags, **tags}
                    missing = [key for key in MANDATORY_TAGS if key not in tags]
                    self.assertEqual(
                        missing, [], f"{file}: {resource['Type']} {name} lacks the tags {missing}"
                    )
                    for key in MANDATORY_TAGS:
                        self.assertEqual(
                            tags[key], {"Ref": key},
                            f"{file}: tag {key} of {name} must be !Ref {key} (the stack parameter)",
                        )

    def test_each_custom_resource_type_has_an_exported_service_token(self):
        outputs = self.template.get("Outputs", {})
        for resource_type, (output, function) in SERVICE_TOKEN_OUTPUTS.items():
            with self.subTest(resource_type=resource_type):
                self.assertIn(output, outputs, f"no output {output} for {resource_type}")
                self.assertEqual(
                    outputs[output]["Value"], {"Fn::GetAtt": [function, "Arn"]},
                    f"output {output} must be the ARN of {function}",
                )
                self.assertEqual(
                    sub_string(outputs[output].get("Export", {}).get("Name")),
                    "${AWS::StackName}-" + output,
                    f"output {output} must be exported as ${{AWS::StackName}}-{output}",
                )


class FunctionContract(_Templates):
    def test_functions_are_rust_on_arm64_built_with_cargo_lambda(self):
        defaults = self.template.get("Globals", {}).get("Function", {})
        functions = self.of_type("AWS::Serverless::Function")
        self.assertEqual(set(functions), set(FUNCTIONS), "the template's functions changed")
        for name, (crate, timeout) in FUNCTIONS.items():
            with self.subTest(function=name):
                function = functions[name]
                properties = {**defaults, **function["Properties"]}
                self.assertEqual(properties.get("Runtime"), "provided.al2023", name)
                self.assertEqual(properties.get("Architectures"), ["arm64"], name)
                self.assertEqual(properties.get("Handler"), "bootstrap", name)
                self.assertEqual(
                    properties.get("Timeout"), timeout,
                    f"{name}: the function answers CloudFormation 5 s before a {timeout} s deadline",
                )
                metadata = function.get("Metadata", {})
                self.assertEqual(metadata.get("BuildMethod"), "rust-cargolambda", name)
                self.assertEqual(properties.get("CodeUri"), f"functions/{crate}", name)
                self.assertEqual(metadata.get("BuildProperties", {}).get("Binary"), crate, name)
                manifest = ROOT / "functions" / crate / "Cargo.toml"
                self.assertTrue(manifest.is_file(), f"{name}: {manifest} does not exist")
                self.assertRegex(
                    manifest.read_text(), rf'\[\[bin\]\]\s*\nname\s*=\s*"{re.escape(crate)}"',
                    f"{name}: {manifest} declares no binary named {crate}",
                )

    def test_functions_log_json_to_their_own_retained_encrypted_log_group(self):
        log_groups = self.of_type("AWS::Logs::LogGroup")
        render = self.rendered()
        used = set()
        for name, function in self.of_type("AWS::Serverless::Function").items():
            with self.subTest(function=name):
                logging = function["Properties"].get("LoggingConfig", {})
                self.assertEqual(logging.get("LogFormat"), "JSON", f"{name} must log JSON")
                group = logging.get("LogGroup", {}).get("Ref")
                self.assertIn(group, log_groups, f"{name} must log to an explicit log group")
                used.add(group)
                group_properties = log_groups[group]["Properties"]
                self.assertIn("RetentionInDays", group_properties, f"log group {group} needs retention")
                self.assertEqual(
                    render(group_properties["LogGroupName"]),
                    "/aws/lambda/" + render(function["Properties"]["FunctionName"]),
                    f"log group {group} should be where operators look for {name}'s logs",
                )
                role = function["Properties"]["Role"]["Fn::GetAtt"][0]
                writes = [
                    statement for _, statement in policy_statements({"Resources": {role: self.resources[role]}})
                    if "logs:PutLogEvents" in as_list(statement.get("Action", []))
                ]
                self.assertTrue(
                    writes and all(
                        render(statement["Resource"]) == f"<{group}.Arn>" for statement in writes
                    ),
                    f"{role} may write logs only to {group}",
                )
        self.assertEqual(used, set(log_groups), "every log group belongs to one function")

    def test_function_roles_can_decrypt_their_cmk_encrypted_environment(self):
        defaults = self.template.get("Globals", {}).get("Function", {})
        render = self.rendered()
        self.assertEqual(render(defaults.get("KmsKeyArn")), "<ProjectKey.Arn>",
                         "environment variables must be encrypted with the project CMK")
        for name, function in self.of_type("AWS::Serverless::Function").items():
            role = function["Properties"]["Role"]["Fn::GetAtt"][0]
            with self.subTest(function=name, role=role):
                decrypts = [
                    statement for _, statement in policy_statements({"Resources": {role: self.resources[role]}})
                    if statement.get("Effect") == "Allow"
                    and "kms:Decrypt" in as_list(statement.get("Action", []))
                    and render(statement["Resource"]) == "<ProjectKey.Arn>"
                ]
                self.assertTrue(decrypts, f"{role} cannot kms:Decrypt the CMK its function's environment is encrypted with")

    def test_every_variable_of_events_env_json_is_declared_on_its_function(self):
        # sam local invoke --env-vars overrides only the variables a function declares.
        env = json.loads((ROOT / "events" / "env.json").read_text())
        defaults = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        self.assertEqual(set(env), set(FUNCTIONS))
        for function, variables in env.items():
            declared = {**defaults, **self.resources[function]["Properties"].get("Environment", {}).get("Variables", {})}
            with self.subTest(function=function):
                self.assertEqual(sorted(set(variables) - set(declared)), [])
        for name in ("AWS_ENDPOINT_URL",):
            self.assertEqual(defaults.get(name), "", f"{name} must be declared empty (unset) in production")
        for function in ("RuntimePolicyFunction", "MemoryGrantFunction"):
            self.assertEqual(
                self.resources[function]["Properties"]["Environment"]["Variables"].get("RESPONSE_URL_ALLOWED_HOSTS"), "",
                "RESPONSE_URL_ALLOWED_HOSTS must be empty in production: only https S3 hosts are answered",
            )

    def test_memory_grant_requires_the_role_prefix(self):
        variables = self.resources["MemoryGrantFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables.get("REQUIRED_ROLE_PREFIX"), {"Ref": "RolePrefix"})

    def test_remediator_configuration(self):
        variables = self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]
        render = self.rendered()
        # Rendered: the organization-mode variables are absent by default (test_organization.py).
        self.assertEqual(set(render(variables)), REMEDIATOR_ENVIRONMENT, "remediator environment variables")
        self.assertEqual(
            json.loads(render(variables["REQUIRED_TAGS"])),
            {key: SAMPLE_PARAMETERS[key] for key in MANDATORY_TAGS},
            "REQUIRED_TAGS must be the JSON object of the five tag parameters",
        )
        self.assertEqual(variables["SCOPE_PATTERNS"], {"Ref": "ScopePatterns"})
        self.assertEqual(variables["MODE"], {"Ref": "RemediationMode"})
        self.assertEqual(variables["REQUIRED_ROLE_PREFIX"], {"Ref": "RolePrefix"})
        self.assertEqual(variables["ALERT_TOPIC_ARN"], {"Ref": "AlertTopic"})
        self.assertEqual(variables["OPT_OUT_TAG"], "corebound:remediation")
        self.assertEqual(render(variables["KMS_KEY_ARN"]), "<ProjectKey.Arn>")
        self.assertEqual(
            render(variables["SELF_ROLE_ARN"]),
            "arn:aws:iam::123456789012:role/"
            + render(self.resources["RemediatorRole"]["Properties"]["RoleName"]),
            "SELF_ROLE_ARN must be the remediator role's own ARN (loop guard)",
        )

    def test_remediator_receives_the_handled_events_and_failures_reach_the_queue(self):
        rule = self.resources["RemediatorRule"]["Properties"]
        pattern = rule["EventPattern"]
        self.assertEqual(pattern["detail-type"], ["AWS API Call via CloudTrail"])
        self.assertEqual(set(pattern["detail"]["eventSource"]), set(REMEDIATOR_EVENTS))
        self.assertEqual(
            set(pattern["detail"]["eventName"]), set().union(*REMEDIATOR_EVENTS.values())
        )
        (target,) = rule["Targets"]
        self.assertEqual(target["Arn"], {"Fn::GetAtt": ["RemediatorFunction", "Arn"]})
        self.assertIn("RetryPolicy", target, "the rule target needs a retry policy")
        self.assertEqual(target["DeadLetterConfig"]["Arn"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})
        self.assertEqual(
            self.resources["RemediatorFunction"]["Properties"]["DeadLetterQueue"],
            {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
        )
        alarms = [
            alarm["Properties"] for alarm in self.of_type("AWS::CloudWatch::Alarm").values()
            if alarm["Properties"].get("Dimensions", [{}])[0].get("Value")
            == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
        ]
        self.assertEqual(len(alarms), 1, "one alarm on the dead-letter queue's depth")
        self.assertEqual(alarms[0]["AlarmActions"], [{"Ref": "AlertTopic"}])


class KeyPolicy(_Templates):
    def statements(self, **overrides):
        render = self.rendered(**overrides)
        policy = render(self.resources["ProjectKey"]["Properties"]["KeyPolicy"])
        return {statement["Sid"]: statement for statement in policy["Statement"]}, render

    def test_scope_patterns_drive_the_key_policy_and_the_remediator_writes_alike(self):
        statements, render = self.statements()
        family = lambda prefix, suffix="": [  # noqa: E731
            f"{prefix}{pattern}{suffix}" for pattern in SAMPLE_PARAMETERS["ScopePatterns"].split(",")
        ]
        remediator = {
            statement["Sid"]: statement
            for statement in render(self.resources["RemediatorRole"]["Properties"]["Policies"])[0][
                "PolicyDocument"]["Statement"]
        }
        expected = {
            ("SnsServiceForScopeFamily", "ArnLike", "aws:SourceArn"): family("arn:*:sns:*:*:"),
            ("ServiceDeliveriesToScopeFamilyQueues", "StringLike", "kms:EncryptionContext:aws:sqs:arn"):
                family("arn:*:sqs:*:*:"),
            ("ServiceDeliveriesToScopeFamilyTopics", "StringLike", "kms:EncryptionContext:aws:sns:topicArn"):
                family("arn:*:sns:*:*:"),
            ("LogsForScopeFamily", "StringLike", "kms:EncryptionContext:aws:logs:arn"):
                family("arn:*:logs:*:*:log-group:"),
            ("AgentCoreForScopeFamilyMemories", "ArnLike", "aws:SourceArn"):
                family("arn:*:bedrock-agentcore:*:*:memory/", "-??????????"),
        }
        for (sid, operator, key), values in expected.items():
            with self.subTest(statement=sid):
                self.assertIn(sid, statements, f"key policy statement {sid} is missing")
                self.assertEqual(statements[sid]["Condition"][operator][key], values, sid)
        same_family = {
            "FixTopics": family("arn:*:sns:*:*:"),
            "FixQueues": family("arn:*:sqs:*:*:"),
            "FixLogGroups": family("arn:*:logs:*:*:log-group:") + family("arn:*:logs:*:*:log-group:", ":*"),
            "FixSecrets": family("arn:*:secretsmanager:*:*:secret:", "-??????"),
            "FixBuckets": family("arn:*:s3:::"),
            "FixRoles": family("arn:*:iam::*:role/"),
            "FixAgentCore": family("arn:*:bedrock-agentcore:*:*:runtime/", "-??????????")
            + family("arn:*:bedrock-agentcore:*:*:memory/", "-??????????")
            + [p.lower() for p in family("arn:*:bedrock-agentcore:*:*:gateway/", "-??????????")],
        }
        for sid, resources in same_family.items():
            with self.subTest(remediator_statement=sid):
                self.assertEqual(remediator[sid]["Resource"], resources, sid)

    def test_families_admit_in_scope_resources_only(self):
        statements, render = self.statements()
        remediator = {
            statement["Sid"]: statement
            for statement in render(self.resources["RemediatorRole"]["Properties"]["Policies"])[0][
                "PolicyDocument"]["Statement"]
        }
        deny = remediator["DenyOutsideThisAccountAndRegion"]
        here, there = "us-east-1:123456789012", "us-east-1:210987654321"
        cases = {
            # statement: (ARNs of in-scope resources, ARNs the statement must not admit)
            "FixTopics": (
                [f"arn:aws:sns:{here}:corebound-demo-alerts"],
                [f"arn:aws:sns:{here}:other-team-alerts"],
            ),
            "FixQueues": ([f"arn:aws:sqs:{here}:corebound-demo-jobs"], [f"arn:aws:sqs:{here}:jobs"]),
            "FixLogGroups": (
                [f"arn:aws:logs:{here}:log-group:corebound-demo-app",
                 f"arn:aws:logs:{here}:log-group:corebound-demo-app:*"],
                [f"arn:aws:logs:{here}:log-group:/aws/lambda/other"],
            ),
            "FixSecrets": (
                [f"arn:aws:secretsmanager:{here}:secret:corebound-demo-db-credentials-AbCdEf"],
                [f"arn:aws:secretsmanager:{here}:secret:other-db-AbCdEf"],
            ),
            "FixBuckets": (["arn:aws:s3:::corebound-demo-artifacts"], ["arn:aws:s3:::other-artifacts"]),
            "FixRoles": (
                ["arn:aws:iam::123456789012:role/LPMA_Demo_AgentCoreRuntime"],
                ["arn:aws:iam::123456789012:role/LPMA_Other_Role"],
            ),
            "FixAgentCore": (
                [f"arn:aws:bedrock-agentcore:{here}:runtime/corebound_demo_agent-a1B2c3D4e5",
                 f"arn:aws:bedrock-agentcore:{here}:memory/corebound_demo_memory-a1B2c3D4e5",
                 f"arn:aws:bedrock-agentcore:{here}:gateway/corebound-demo-gateway-abcdefghij",
                 f"arn:aws:bedrock-agentcore:{here}:gateway/lpma_demo_gateway-abcdefghij"],
                [f"arn:aws:bedrock-agentcore:{here}:runtime/other_agent-a1B2c3D4e5",
                 f"arn:aws:bedrock-agentcore:{here}:runtime/corebound_demo_agent"],
            ),
        }
        for sid, (admitted, refused) in cases.items():
            patterns = remediator[sid]["Resource"]
            for arn in admitted:
                with self.subTest(statement=sid, arn=arn):
                    self.assertTrue(
                        any(iam_match(p, arn) for p in patterns), f"{sid} does not cover {arn}: {patterns}"
                    )
                    self.assertTrue(
                        any(iam_match(p, arn) for p in deny["NotResource"]),
                        f"DenyOutsideThisAccountAndRegion denies {arn}, a resource of this account",
                    )
                    foreign = arn.replace(here, there).replace("::123456789012:", "::210987654321:")
                    if foreign != arn:
                        self.assertFalse(
                            any(iam_match(p, foreign) for p in deny["NotResource"]),
                            f"DenyOutsideThisAccountAndRegion lets {foreign} through",
                        )
            for arn in refused:
                with self.subTest(statement=sid, arn=arn):
                    self.assertFalse(
                        any(iam_match(p, arn) for p in patterns), f"{sid} covers {arn}, outside ScopePatterns"
                    )
        key_policy_cases = {
            ("ServiceDeliveriesToScopeFamilyTopics", "kms:EncryptionContext:aws:sns:topicArn"):
                cases["FixTopics"],
            ("ServiceDeliveriesToScopeFamilyQueues", "kms:EncryptionContext:aws:sqs:arn"):
                cases["FixQueues"],
            ("LogsForScopeFamily", "kms:EncryptionContext:aws:logs:arn"):
                ([cases["FixLogGroups"][0][0]], cases["FixLogGroups"][1]),
        }
        for (sid, key), (admitted, refused) in key_policy_cases.items():
            patterns = statements[sid]["Condition"]["StringLike"][key]
            for arn in admitted:
                with self.subTest(statement=sid, arn=arn):
                    self.assertTrue(any(iam_match(p, arn) for p in as_list(patterns)), f"{sid} refuses {arn}")
            for arn in refused:
                with self.subTest(statement=sid, arn=arn):
                    self.assertFalse(any(iam_match(p, arn) for p in as_list(patterns)), f"{sid} admits {arn}")

    def test_every_statement_is_pinned_to_this_account(self):
        statements, _ = self.statements()
        for sid, statement in statements.items():
            with self.subTest(statement=sid):
                principal = statement["Principal"]
                if principal.get("AWS") == "arn:aws:iam::123456789012:root":
                    continue
                condition = statement.get("Condition", {})
                pinned = (
                    condition.get("StringEquals", {}).get("aws:SourceAccount") == "123456789012"
                    or condition.get("StringEquals", {}).get("kms:CallerAccount") == "123456789012"
                    or any(
                        ":123456789012:" in value
                        for operator in ("ArnLike", "ArnEquals")
                        for values in condition.get(operator, {}).values()
                        for value in as_list(values)
                    )
                )
                self.assertTrue(pinned, f"key policy statement {sid} is not pinned to the account")
                if principal.get("AWS") == "*":
                    self.assertIn(
                        "kms:ViaService", condition.get("StringEquals", {}),
                        f"{sid}: a statement for any principal of the account needs kms:ViaService",
                    )

    def test_the_stacks_own_resources_can_use_the_key(self):
        statements, render = self.statements()
        arn = "arn:aws:{}:us-east-1:123456789012:{}"
        log_groups = sorted(
            arn.format("logs", "log-group:" + render(group["Properties"]["LogGroupName"]))
            for group in self.of_type("AWS::Logs::LogGroup").values()
        )
        self.assertEqual(
            sorted(statements["LogsForThisStack"]["Condition"]["ArnEquals"][
                "kms:EncryptionContext:aws:logs:arn"]),
            log_groups, "CloudWatch Logs must be able to use the key for the stack's log groups",
        )
        rule_name = render(self.resources["RemediatorRule"]["Properties"]["Name"])
        self.assertEqual(
            statements["EventBridgeToDeadLetterQueue"]["Condition"]["ArnEquals"]["aws:SourceArn"],
            arn.format("events", "rule/" + rule_name),
            "EventBridge must be able to put dead letters into the encrypted queue",
        )
        alarm = self.resources["DeadLetterQueueAlarm"]["Properties"]
        topic = self.resources["AlertTopic"]["Properties"]
        cloudwatch = statements["CloudWatchAlarmToAlertTopic"]["Condition"]
        self.assertEqual(
            cloudwatch["ArnEquals"]["aws:SourceArn"],
            arn.format("cloudwatch", "alarm:" + render(alarm["AlarmName"])),
        )
        self.assertEqual(
            cloudwatch["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"],
            arn.format("sns", render(topic["TopicName"])),
            "the dead-letter alarm must be able to publish to the encrypted alert topic",
        )

    def test_the_key_is_created_only_when_no_key_is_given(self):
        self.assertEqual(self.resources["ProjectKey"].get("Condition"), "CreateKey")
        self.assertTrue(self.rendered().conditions["CreateKey"])
        self.assertFalse(self.rendered(KmsKeyArn=EXTERNAL_KEY).conditions["CreateKey"])


class Examples(_Templates):
    def test_custom_resources_import_the_exported_service_tokens(self):
        outputs = self.template["Outputs"]
        shown = set()
        for file, example in self.examples.items():
            customs = {
                name: resource for name, resource in example["Resources"].items()
                if resource["Type"] in CUSTOM_RESOURCE_PROPERTIES
            }
            if file in EXAMPLES_WITHOUT_CUSTOM_RESOURCES:
                self.assertEqual(customs, {}, f"{file} is listed as using no custom resource")
                continue
            shown.add(file)
            self.assertEqual(
                {resource["Type"] for resource in customs.values()}, set(CUSTOM_RESOURCE_PROPERTIES),
                f"{file} should show the three custom resource types",
            )
            render = Renderer(example, {"CoreboundStackName": "corebound", "MemoryKmsKeyArn": ""})
            for name, resource in customs.items():
                with self.subTest(file=file, resource=name):
                    output, _ = SERVICE_TOKEN_OUTPUTS[resource["Type"]]
                    self.assertEqual(
                        render(resource["Properties"]["ServiceToken"]),
                        "<import " + render({"Fn::Sub": outputs[output]["Export"]["Name"]["Fn::Sub"]}) + ">",
                        f"{file}: {name} must import the export of output {output}",
                    )
        self.assertTrue(shown, "no example shows the custom resources")

    def test_custom_resources_use_only_documented_properties(self):
        # The functions reject unknown properties: a typo must fail here, not at deploy time.
        for file, example in self.examples.items():
            for name, resource in example["Resources"].items():
                known = CUSTOM_RESOURCE_PROPERTIES.get(resource["Type"])
                if known is None:
                    continue
                with self.subTest(file=file, resource=name):
                    unknown = set(resource["Properties"]) - known - CLOUDFORMATION_PROPERTIES
                    self.assertEqual(unknown, set(), f"{file}: {name} has undocumented properties")

    def test_grants_follow_the_runtime_and_memory_by_getatt(self):
        for file, example in self.examples.items():
            for name, resource in example["Resources"].items():
                properties = resource.get("Properties", {})
                for key, attribute in (("RuntimeArn", "AgentRuntimeArn"), ("MemoryArn", "MemoryArn")):
                    if resource["Type"].startswith("Custom::") and key in properties:
                        with self.subTest(file=file, resource=name, property=key):
                            target = properties[key].get("Fn::GetAtt", [None, None])
                            self.assertEqual(
                                target[1], attribute,
                                f"{file}: {name}.{key} should be !GetAtt <resource>.{attribute}, so "
                                "a recreated runtime or memory flows through",
                            )


class Lifecycle(_Templates):
    """Issue 17 item 1: a failed first deployment leaves nothing behind that blocks the retry."""

    def test_nothing_is_retained_when_the_stack_creation_fails(self):
        for file, template in self.all_templates():
            for name, resource in template["Resources"].items():
                with self.subTest(file=file, resource=name):
                    self.assertNotEqual(
                        resource.get("DeletionPolicy"), "Retain",
                        f"{file}: {name} has DeletionPolicy Retain, which also keeps it when the "
                        "first create rolls back: the retry then fails with 'already exists'",
                    )

    def test_the_key_and_log_groups_outlive_the_stack_once_created(self):
        kept = ["ProjectKey", *self.of_type("AWS::Logs::LogGroup")]
        for name in kept:
            with self.subTest(resource=name):
                self.assertEqual(self.resources[name].get("DeletionPolicy"), "RetainExceptOnCreate")
                self.assertEqual(self.resources[name].get("UpdateReplacePolicy"), "Retain")


class LambdaLimits(_Templates):
    """Issue 11 item 11: what the scanner asks of each function, done as a real control."""

    def test_every_function_has_reserved_concurrency_from_a_parameter(self):
        for name, function in self.of_type("AWS::Serverless::Function").items():
            with self.subTest(function=name):
                reserved = function["Properties"].get("ReservedConcurrentExecutions")
                self.assertIsInstance(reserved, dict, f"{name}: ReservedConcurrentExecutions must be !Ref <parameter>")
                parameter = self.template["Parameters"][reserved["Ref"]]
                self.assertEqual(parameter["Type"], "Number")
                self.assertGreaterEqual(parameter["MinValue"], 1, "0 would stop the function")
                self.assertGreaterEqual(int(parameter["Default"]), parameter["MinValue"])
                self.assertLessEqual(int(parameter["Default"]), 10, "a sane default caps a runaway loop")
        # Every SQS event source of the remediator (deferral queue, sweep work queue): a throttled
        # SQS invocation counts as a receive and can push a message into the dead-letter queue.
        pollers = sum(
            mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
            for mapping in self.of_type("AWS::Lambda::EventSourceMapping").values()
            if mapping["Properties"]["FunctionName"] == {"Ref": "RemediatorFunction"}
        )
        remediator = self.template["Parameters"]["RemediatorConcurrency"]
        self.assertGreater(remediator["MinValue"], pollers,
                           "the SQS pollers must leave room for EventBridge's events")

    def test_every_function_sends_failed_asynchronous_events_to_the_encrypted_dead_letter_queue(self):
        render = self.rendered()
        for name, function in self.of_type("AWS::Serverless::Function").items():
            if name in SYNCHRONOUS_FUNCTIONS:
                self.assertNotIn("DeadLetterQueue", function["Properties"], name)
                continue
            with self.subTest(function=name):
                self.assertEqual(
                    function["Properties"].get("DeadLetterQueue"),
                    {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
                )
                self.assertNotIn("DestinationConfig", function["Properties"].get("EventInvokeConfig", {}),
                                 "one failure path: a destination as well would duplicate every dead letter")
                role = function["Properties"]["Role"]["Fn::GetAtt"][0]
                statements = [
                    st for _, st in policy_statements({"Resources": {role: self.resources[role]}})
                    if st.get("Effect") == "Allow"
                ]
                self.assertTrue(any(
                    "sqs:SendMessage" in as_list(st["Action"])
                    and render(st["Resource"]) == "<DeadLetterQueue.Arn>" for st in statements
                ), f"{role} cannot send to the dead-letter queue")
                self.assertTrue(any(
                    "kms:GenerateDataKey" in as_list(st["Action"])
                    and render(st["Resource"]) == "<ProjectKey.Arn>" for st in statements
                ), f"{role} cannot encrypt a dead letter with the CMK")

    def test_vpc_attachment_is_optional_and_complete_when_set(self):
        subnets = ["subnet-0a1b2c3d4e5f60718"]
        groups = ["sg-0a1b2c3d4e5f60718"]
        off, on = self.rendered(), self.rendered(SubnetIds=subnets, SecurityGroupIds=groups)
        self.assertFalse(off.conditions["UseVpc"])
        self.assertTrue(on.conditions["UseVpc"])
        for name, function in self.of_type("AWS::Serverless::Function").items():
            with self.subTest(function=name):
                self.assertNotIn("VpcConfig", off(function["Properties"]))
                self.assertEqual(on(function["Properties"])["VpcConfig"],
                                 {"SubnetIds": subnets, "SecurityGroupIds": groups})
                role = function["Properties"]["Role"]["Fn::GetAtt"][0]
                rendered_policy = lambda render: [  # noqa: E731
                    st for policy in render(self.resources[role]["Properties"]["Policies"])
                    for st in policy["PolicyDocument"]["Statement"]
                ]
                actions_on = {a for st in rendered_policy(on) for a in as_list(st["Action"])}
                actions_off = {a for st in rendered_policy(off) for a in as_list(st["Action"])}
                eni = {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                       "ec2:DescribeNetworkInterfaces", "ec2:AssignPrivateIpAddresses",
                       "ec2:UnassignPrivateIpAddresses"}
                self.assertTrue(eni <= actions_on, f"{role} lacks {eni - actions_on} in a VPC")
                self.assertFalse(any(a.startswith("ec2:") for a in actions_off),
                                 f"{role} has EC2 permissions without a VPC")


class KeyPolicyForServices(_Templates):
    """Issue 11 items 9 and 11, issue 17 item 4: the created key's policy."""

    def statements(self, **overrides):
        render = self.rendered(**overrides)
        policy = render(self.resources["ProjectKey"]["Properties"]["KeyPolicy"])
        return {statement["Sid"]: statement for statement in policy["Statement"]}

    def test_no_statement_allows_a_wildcard_principal(self):
        for sid, statement in self.statements().items():
            with self.subTest(statement=sid):
                principal = statement["Principal"]
                values = as_list(principal) if isinstance(principal, str) else [
                    v for values in principal.values() for v in as_list(values)
                ]
                if statement["Effect"] == "Allow":
                    self.assertNotIn("*", values, f"{sid} allows any principal")

    def test_aws_services_may_deliver_into_family_queues_and_topics(self):
        statements = self.statements()
        delivering = {
            "ServiceDeliveriesToScopeFamilyQueues": (
                {"events.amazonaws.com", "s3.amazonaws.com", "sns.amazonaws.com"},
                "kms:EncryptionContext:aws:sqs:arn", "arn:aws:sqs:us-east-1:123456789012:corebound-demo-jobs"),
            "ServiceDeliveriesToScopeFamilyTopics": (
                {"events.amazonaws.com", "s3.amazonaws.com", "cloudwatch.amazonaws.com"},
                "kms:EncryptionContext:aws:sns:topicArn", "arn:aws:sns:us-east-1:123456789012:corebound-demo-alerts"),
        }
        for sid, (services, key, arn) in delivering.items():
            with self.subTest(statement=sid):
                statement = statements[sid]
                self.assertEqual(set(as_list(statement["Principal"]["Service"])), services)
                self.assertTrue({"kms:Decrypt", "kms:GenerateDataKey"} <= set(statement["Action"]))
                self.assertEqual(statement["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012")
                patterns = statement["Condition"]["StringLike"][key]
                self.assertTrue(any(iam_match(p, arn) for p in patterns))
                self.assertFalse(any(iam_match(p, arn.replace("corebound-demo", "payments")) for p in patterns))

    def test_agentcore_may_use_the_key_for_family_memories_only(self):
        statement = self.statements()["AgentCoreForScopeFamilyMemories"]
        self.assertEqual(statement["Principal"], {"Service": "bedrock-agentcore.amazonaws.com"})
        self.assertEqual(statement["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012")
        patterns = statement["Condition"]["ArnLike"]["aws:SourceArn"]
        memory = "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/corebound_demo_memory-a1B2c3D4e5"
        self.assertTrue(any(iam_match(p, memory) for p in patterns))
        self.assertFalse(any(iam_match(p, memory.replace("corebound_demo", "payments")) for p in patterns))

    def test_no_comment_claims_that_switching_breaks_no_publisher(self):
        self.assertNotIn("breaks no publisher", TEMPLATE.read_text())


class ExampleAgentStack(_Templates):
    """Issue 17 items 2 and 4: what the example teaches a team."""

    def test_every_custom_resource_sets_service_timeout(self):
        for file, example in self.examples.items():
            render = Renderer(example, {"CoreboundStackName": "corebound", "MemoryKmsKeyArn": "",
                                        "CustomResourceTimeout": "300"})
            for name, resource in example["Resources"].items():
                if resource["Type"] not in CUSTOM_RESOURCE_PROPERTIES:
                    continue
                with self.subTest(file=file, resource=name):
                    timeout = render(resource["Properties"].get("ServiceTimeout"))
                    self.assertIsNotNone(timeout, f"{file}: {name} has no ServiceTimeout (default: 1 hour)")
                    self.assertTrue(130 <= int(timeout) <= 3600,
                                    "ServiceTimeout must exceed the functions' 120 s and stay within 3600 s")

    def test_the_memory_is_encrypted_with_the_project_key_by_default(self):
        for file, example in self.examples.items():
            render = Renderer(example, {"CoreboundStackName": "corebound", "MemoryKmsKeyArn": "",
                                        "CustomResourceTimeout": "300"})
            for name, memory in example["Resources"].items():
                if memory["Type"] != "AWS::BedrockAgentCore::Memory":
                    continue
                with self.subTest(file=file, memory=name):
                    self.assertEqual(render(memory["Properties"]["EncryptionKeyArn"]),
                                     "<import corebound-KmsKeyArn>")

    def test_the_examples_names_fall_inside_the_sample_scope(self):
        # A team copying the example with the documented ScopePatterns gets resources the
        # custom resources accept and the remediator manages.
        patterns = SAMPLE_PARAMETERS["ScopePatterns"].split(",")
        for file, example in self.examples.items():
            defaults = {name: p.get("Default", "") for name, p in example["Parameters"].items()}
            render = Renderer(example, {**defaults, "CustomResourceTimeout": "300"})
            names = []
            for name, resource in example["Resources"].items():
                properties = resource.get("Properties", {})
                for key in ("RoleName", "AgentRuntimeName", "Name"):
                    if key in properties and resource["Type"] in (
                        "AWS::IAM::Role", "AWS::BedrockAgentCore::Runtime", "AWS::BedrockAgentCore::Memory"
                    ):
                        names.append((name, render(properties[key])))
            self.assertTrue(names)
            for name, value in names:
                with self.subTest(file=file, resource=name, name=value):
                    self.assertTrue(any(iam_match(p, value) for p in patterns),
                                    f"{value} is outside the documented ScopePatterns {patterns}")

if __name__ == "__main__":
    unittest.main()


class PreflightHook(_Templates):
    """Issue 14: the preflight hook's resources (the `# --- preflight hook ---` section)."""

    def test_the_hook_invokes_the_function_for_resources_and_stacks(self):
        (name, hook), = self.of_type("AWS::CloudFormation::LambdaHook").items()
        properties = hook["Properties"]
        self.assertEqual(properties["LambdaFunction"], {"Fn::GetAtt": ["PreflightHookFunction", "Arn"]})
        self.assertEqual(properties["ExecutionRole"], {"Fn::GetAtt": ["PreflightHookExecutionRole", "Arn"]})
        self.assertEqual(properties["FailureMode"], {"Ref": "HookFailureMode"})
        self.assertEqual(properties["HookStatus"], "ENABLED")
        self.assertEqual(properties["TargetOperations"], ["RESOURCE", "STACK"])
        self.assertEqual(properties["TargetFilters"]["TargetNames"], {"Ref": "HookTargets"})
        self.assertEqual(properties["TargetFilters"]["InvocationPoints"], ["PRE_PROVISION"])
        alias = self.rendered()(properties["Alias"])
        self.assertRegex(alias, r"^(?!(?i:aws))[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}$")
        # A one-letter AppName still gives a valid third part.
        self.assertRegex(self.rendered(AppName="A")(properties["Alias"]), r"::[A-Za-z0-9]{2,64}$")
        # Not the corebound stack itself: a broken hook under FAIL cannot block its own fix.
        self.assertEqual(properties["StackFilters"]["StackNames"]["Exclude"], [{"Ref": "AWS::StackName"}])

    def test_parameters(self):
        parameters = self.template["Parameters"]
        self.assertEqual(parameters["HookFailureMode"]["AllowedValues"], ["WARN", "FAIL"])
        self.assertEqual(parameters["HookFailureMode"]["Default"], "WARN")
        self.assertEqual(parameters["HookTargets"]["Type"], "CommaDelimitedList")
        targets = parameters["HookTargets"]["Default"].split(",")
        self.assertLessEqual(len(targets), 50, "TargetFilters.TargetNames takes at most 50")
        for target in targets:
            # Full wildcards such as AWS::BedrockAgentCore::* are allowed (hooks-target-filtering).
            self.assertRegex(target, r"^[a-zA-Z0-9]{2,64}::[a-zA-Z0-9]{2,64}::([a-zA-Z0-9]{2,64}|\*)$")
        # (tests/tests/preflight_hook.rs checks the default equals the rules' own list.)

    def test_the_execution_role_is_for_the_hooks_service_and_may_only_invoke_the_function(self):
        role = self.resources["PreflightHookExecutionRole"]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Principal"], {"Service": "hooks.cloudformation.amazonaws.com"})
        self.assertEqual(trust["Action"], "sts:AssumeRole")
        render = self.rendered()
        self.assertEqual(render(trust["Condition"]["StringEquals"]["aws:SourceAccount"]), "123456789012")
        self.assertEqual(render(trust["Condition"]["ArnLike"]["aws:SourceArn"]),
                         "arn:aws:cloudformation:us-east-1:123456789012:type/hook/*")
        statements = [
            statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]
        ]
        self.assertEqual(statements, [{
            "Sid": "InvokePreflightHook", "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["PreflightHookFunction", "Arn"]},
        }])

    def test_the_function_reads_stack_tags_and_gets_the_rules_settings(self):
        render = self.rendered()
        grants = [
            st for _, st in policy_statements({"Resources": {"R": self.resources["PreflightHookRole"]}})
            if "cloudformation:DescribeStacks" in as_list(st.get("Action", []))
        ]
        self.assertEqual(len(grants), 1)
        self.assertEqual(as_list(grants[0]["Action"]), ["cloudformation:DescribeStacks"])
        self.assertEqual(render(grants[0]["Resource"]), "arn:aws:cloudformation:us-east-1:123456789012:stack/*/*")
        variables = self.resources["PreflightHookFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["HOOK_FAILURE_MODE"], {"Ref": "HookFailureMode"})
        self.assertEqual(variables["REQUIRED_ROLE_PREFIX"], {"Ref": "RolePrefix"})
        self.assertEqual(variables["PERMISSIONS_BOUNDARY_ARN"], {"Ref": "PermissionsBoundaryArn"})
        self.assertEqual(render(variables["KMS_KEY_ARN"]), "<ProjectKey.Arn>")
        self.assertEqual(variables["REQUIRED_TAGS"], self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"]["REQUIRED_TAGS"])
        self.assertEqual(variables["PAYLOAD_URL_ALLOWED_HOSTS"], "", "only https S3 payload URLs in AWS")
