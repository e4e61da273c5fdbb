"""What the docs tell a platform engineer, checked against the template (issue 17).

- Every IAM action the docs claim for one of corebound's roles (the boundary table in
  docs/deploy.md, the Permissions sections of the reference pages) is exactly what the
  template grants that role: docs and template cannot drift apart again.
- Every other `service:Action` the docs name is either granted by the template, written by a
  custom resource into a team's role, or one of the deployer's / caller's actions listed here.
- docs/samconfig.toml.example: no build cache that deploys stale binaries, the artifact key,
  disjoint ScopePatterns per environment, real log-group patterns.
- The build instructions name the minimum SAM CLI version.

In the docs, a list such as "`bedrock-agentcore:GetAgentRuntime`, `GetMemory` and
`GetGateway`" shortens the later actions: a bare action directly after a full one (separated by
a comma, "and", "or" or "/") belongs to the same service.
"""

from __future__ import annotations

import re
import shlex
import tomllib
import unittest
from collections import deque

from test_template import ROOT, TEMPLATE, _Templates, as_list, load, policy_statements

DOCS = ROOT / "docs"
DEPLOY = DOCS / "deploy.md"
REFERENCE = DOCS / "reference"
SAMCONFIG = DOCS / "samconfig.toml.example"
MINIMUM_SAM_CLI = "1.165.0"

ROLES = {
    "_RuntimePolicy": "RuntimePolicyRole",
    "_MemoryGrant": "MemoryGrantRole",
    "_Remediator": "RemediatorRole",
    "_PreflightHook": "PreflightHookRole",
    "_PreflightInvoker": "PreflightHookExecutionRole",
}
# The boundary table's "all three" rows: the custom-resource functions and the remediator.
ALL_THREE = ("RuntimePolicyRole", "MemoryGrantRole", "RemediatorRole")
# Where the reference pages claim a role's permissions: (file, heading) -> role.
PERMISSION_SECTIONS = {
    ("AgentCoreRuntimePolicy.md", "### Permissions"): "RuntimePolicyRole",
    ("AgentCoreMemoryGrant.md", "### Permissions"): "MemoryGrantRole",
    ("remediator.md", "## Permissions"): "RemediatorRole",
    ("preflight-hook.md", "## Permissions of the function"): "PreflightHookRole",
    ("preflight-hook.md", "## Permissions of the hook's execution role"): "PreflightHookExecutionRole",
}
# Actions the docs name that no corebound role holds, by design: what the deployer and the
# callers need, what a custom resource writes into a team's role, what a role must not have.
NOT_GRANTED_BY_THE_TEMPLATE = {
    # the deployer (docs/deploy.md, "What the deploying principal needs")
    "iam:PassRole", "kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation",
    "kms:CreateAlias", "kms:CreateGrant", "iam:CreateRole",
    # the deployer of the preflight hook (docs/reference/preflight-hook.md, "Deploying")
    "cloudformation:ActivateType", "cloudformation:SetTypeConfiguration",
    "cloudformation:BatchDescribeTypeConfigurations", "cloudformation:DescribeType",
    "cloudformation:ListTypes",
    # docs/check-boundary.sh, run by the platform engineer
    "iam:SimulateCustomPolicy",
    # who may use the ServiceTokens, and forwarding IAM events across regions
    "lambda:InvokeFunction", "events:PutEvents",
    # what the grant functions write into a team's role (reference pages)
    "bedrock-agentcore:InvokeAgentRuntime", "bedrock-agentcore:CreateEvent",
    # what the remediator must never be able to do
    "secretsmanager:GetSecretValue",
    # --- doctor --- what `corebound doctor` reads as the caller, and what it simulates for it
    # (docs/reference/doctor.md)
    "sts:GetCallerIdentity", "iam:GetUser", "iam:SimulatePrincipalPolicy", "kms:GetKeyPolicy",
    "iam:PutRolePolicy", "bedrock-agentcore:PutResourcePolicy",
}
# Condition keys look like actions (`service:Key`); they are not claims of a permission.
CONDITION_KEYS = {
    "aws:SourceAccount", "aws:SourceArn", "aws:SourceVpce", "aws:PrincipalOrgID",
    "aws:PrincipalArn", "aws:RequestedRegion", "aws:SecureTransport", "aws:ResourceTag",
    "kms:CallerAccount", "kms:ViaService", "secretsmanager:KmsKeyId",
    # organization mode (docs/organization.md)
    "sts:ExternalId", "kms:ResourceAliases",
    # --- doctor ---
    "iam:PermissionsBoundary", "iam:PassedToService",
}

FULL = re.compile(r"`([a-z0-9-]+):([A-Z][A-Za-z0-9]*)`")
BARE_AFTER = re.compile(r"\s*(?:,|/|\band\b|\bor\b)\s*(?:and\s+|or\s+)?`([A-Z][A-Za-z0-9]*)`")


def claimed_actions(text: str) -> set[str]:
    """The IAM actions a piece of Markdown names, shortened lists expanded."""
    actions = set()
    for match in FULL.finditer(text):
        service = match.group(1)
        if service == "aws" or match.group(0).strip("`") in CONDITION_KEYS:
            continue
        actions.add(f"{service}:{match.group(2)}")
        position = match.end()
        while True:
            bare = BARE_AFTER.match(text, position)
            if not bare:
                break
            actions.add(f"{service}:{bare.group(1)}")
            position = bare.end()
    return actions


def section(text: str, heading: str) -> str:
    """From a heading to the next heading of the same or a higher level (outside code blocks)."""
    start = text.index(heading + "\n")
    level = len(heading.split(" ")[0])
    lines, fenced = [], False
    for index, line in enumerate(text[start:].splitlines(keepends=True)):
        if line.startswith("```"):
            fenced = not fenced
        elif index and not fenced and re.match(rf"#{{1,{level}}} ", line):
            break
        lines.append(line)
    return "".join(lines)


def globs_intersect(a: str, b: str) -> bool:
    """Whether some name matches both globs (* any run, ? one character), exactly."""
    seen, queue = set(), deque([(0, 0)])
    while queue:
        i, j = state = queue.popleft()
        if state in seen:
            continue
        seen.add(state)
        if i == len(a) and j == len(b):
            return True
        nxt = []
        if i < len(a) and a[i] == "*":
            nxt.append((i + 1, j))
        if j < len(b) and b[j] == "*":
            nxt.append((i, j + 1))
        if i < len(a) and j < len(b):
            ca, cb = a[i], b[j]
            a_moves = [i] if ca == "*" else [i + 1]
            b_moves = [j] if cb == "*" else [j + 1]
            literal_a = ca not in "*?"
            literal_b = cb not in "*?"
            if not (literal_a and literal_b and ca != cb):
                nxt.extend((x, y) for x in a_moves for y in b_moves if (x, y) != (i, j))
        queue.extend(nxt)
    return False


class _Docs(_Templates):
    def granted(self, role: str, **overrides) -> set[str]:
        """The actions a role's Allow statements grant (VPC statements included)."""
        render = self.rendered(SubnetIds=["subnet-0a1b2c3d4e5f60718"],
                               SecurityGroupIds=["sg-0a1b2c3d4e5f60718"], **overrides)
        return {
            action
            for policy in render(self.resources[role]["Properties"]["Policies"])
            for statement in policy["PolicyDocument"]["Statement"] if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])
        }


class IamClaims(_Docs):
    def test_glob_intersection_helper(self):
        self.assertTrue(globs_intersect("myapp-*", "myapp-prod-*"))
        self.assertTrue(globs_intersect("*-prod", "myapp-*"))
        self.assertTrue(globs_intersect("a?c", "ab*"))
        self.assertFalse(globs_intersect("myapp-preprod-*", "myapp-prod-*"))
        self.assertFalse(globs_intersect("LPMA_MyAppPreprod_*", "LPMA_MyAppProd_*"))
        self.assertFalse(globs_intersect("abc", "ab"))

    def test_shortened_lists_are_expanded(self):
        self.assertEqual(
            claimed_actions("`bedrock-agentcore:GetAgentRuntime`, `GetMemory` and `GetGateway`, "
                            "with `ScopePatterns`; `iam:GetPolicy`/`GetPolicyVersion`"),
            {"bedrock-agentcore:GetAgentRuntime", "bedrock-agentcore:GetMemory",
             "bedrock-agentcore:GetGateway", "iam:GetPolicy", "iam:GetPolicyVersion"},
        )

    def test_boundary_table_lists_exactly_what_each_role_is_granted(self):
        table = section(DEPLOY.read_text(), "### What the permissions boundary must allow corebound's roles")
        claims = {role: set() for role in ROLES.values()}
        rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
        self.assertTrue(rows, "docs/deploy.md has no boundary table")
        for row in rows:
            who, actions = row.split("|")[1:3]
            roles = (
                list(ALL_THREE) if who.strip().startswith("all three")
                else [role for suffix, role in ROLES.items() if suffix in who]
            )
            self.assertTrue(roles, f"row names no corebound role: {row}")
            for role in roles:
                claims[role] |= claimed_actions(actions)
        for role, claimed in claims.items():
            with self.subTest(role=role):
                granted = self.granted(role)
                self.assertEqual(
                    sorted(claimed - granted), [],
                    f"docs/deploy.md tells the boundary to allow {role} actions the template does not grant",
                )
                self.assertEqual(
                    sorted(granted - claimed), [],
                    f"{role} is granted actions the boundary table in docs/deploy.md does not list",
                )

    def test_reference_permission_sections_match_the_template(self):
        for (page, heading), role in PERMISSION_SECTIONS.items():
            with self.subTest(page=page, role=role):
                claimed = claimed_actions(section((REFERENCE / page).read_text(), heading))
                granted = self.granted(role)
                self.assertEqual(sorted(claimed - granted), [],
                                 f"{page} claims {role} holds actions the template does not grant")
                self.assertEqual(sorted(granted - claimed), [],
                                 f"{page} does not mention actions the template grants {role}")

    def test_every_action_the_docs_name_exists_in_the_template_or_is_explained(self):
        granted = {
            action
            for _, statement in policy_statements(load(TEMPLATE))
            for action in as_list(statement.get("Action", []))
            if isinstance(action, str)
        }
        pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted(REFERENCE.glob("*.md"))]
        for page in pages:
            for action in sorted(claimed_actions(page.read_text())):
                with self.subTest(page=page.relative_to(ROOT).as_posix(), action=action):
                    self.assertTrue(
                        action in granted or action in NOT_GRANTED_BY_THE_TEMPLATE
                        or action.startswith("bedrock-agentcore:") and self.is_written_by_a_grant(action),
                        f"{action} is named in the docs, granted by no statement of template.yaml, "
                        "and not listed in NOT_GRANTED_BY_THE_TEMPLATE",
                    )

    @staticmethod
    def is_written_by_a_grant(action: str) -> bool:
        """Actions the custom resources write into teams' roles, from the Rust sources."""
        sources = "".join(path.read_text() for path in (ROOT / "shared" / "src").rglob("*.rs"))
        return f'"{action}"' in sources or f'"{action.split(":")[1]}"' in sources


class BoundaryCheckScript(_Docs):
    """docs/check-boundary.sh: the command that checks a boundary (issue 17 item 7)."""

    SCRIPT = DOCS / "check-boundary.sh"

    def script_actions(self) -> dict[str, set[str]]:
        text = self.SCRIPT.read_text().replace("\\\n", " ")
        actions, role = {}, None
        for line in text.splitlines():
            words = shlex.split(line, comments=True) if line.strip() else []
            if words[:1] == ["role"]:
                role = ROLES["_" + words[1]]
                actions.setdefault(role, set())
            elif words[:1] == ["check"] and role:
                actions[role] |= set(words[2:])
        return actions

    def test_the_script_checks_exactly_what_each_role_is_granted(self):
        actions = self.script_actions()
        self.assertEqual(set(actions), set(ROLES.values()))
        for role, checked in actions.items():
            with self.subTest(role=role):
                granted = self.granted(role)
                self.assertEqual(sorted(granted - checked), [], f"check-boundary.sh does not check these {role} actions")
                self.assertEqual(sorted(checked - granted), [], f"check-boundary.sh checks actions {role} is not granted")

    def test_the_script_reports_what_the_boundary_refuses(self):
        # A stand-in for the AWS CLI: the simulator's verdict comes from the boundary document's
        # Allow statements (action and resource wildcards), as IAM evaluates a single policy.
        import json
        import os
        import subprocess
        import tempfile

        shim = """#!/usr/bin/env python3
import fnmatch, json, sys
args = sys.argv[1:]
def arg(name):
    i = args.index(name)
    values = []
    for value in args[i + 1:]:
        if value.startswith("--"):
            break
        values.append(value)
    return values
if args[:2] == ["sts", "get-caller-identity"]:
    print("123456789012" if "Account" in args else "arn:aws:iam::123456789012:user/ci")
elif args[:2] == ["configure", "get"]:
    print("eu-west-1")
elif args[:2] == ["iam", "get-policy"]:
    print("v3")
elif args[:2] == ["iam", "get-policy-version"]:
    print(open(__file__ + ".boundary").read())
elif args[:2] == ["iam", "simulate-custom-policy"]:
    document = json.load(open(arg("--policy-input-list")[0][len("file://"):]))
    (resource,) = arg("--resource-arns")
    match = lambda pattern, value: fnmatch.fnmatchcase(value, pattern)
    for action in arg("--action-names"):
        allowed = any(
            st["Effect"] == "Allow"
            and any(match(p, action) for p in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
            and any(match(p, resource) for p in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]))
            for st in document["Statement"]
        )
        if not allowed:
            print(action + "\t" + "implicitDeny")
else:
    sys.exit("unexpected aws call: " + " ".join(args))
"""
        with tempfile.TemporaryDirectory() as directory:
            aws = os.path.join(directory, "aws")
            with open(aws, "w") as handle:
                handle.write(shim)
            os.chmod(aws, 0o755)
            env = {**os.environ, "PATH": directory + os.pathsep + os.environ["PATH"], "AWS_REGION": "eu-west-1"}

            def run(statements):
                with open(aws + ".boundary", "w") as handle:
                    json.dump({"Version": "2012-10-17", "Statement": statements}, handle)
                return subprocess.run(
                    ["bash", str(self.SCRIPT), "arn:aws:iam::123456789012:policy/Boundary", "Demo"],
                    capture_output=True, text=True, env=env, timeout=120, check=False,
                )

            everything = run([{"Effect": "Allow", "Action": "*", "Resource": "*"}])
            self.assertEqual((everything.returncode, everything.stdout), (0, ""), everything.stderr)

            no_key_policy = run([
                {"Effect": "Allow", "Action": ["bedrock-agentcore:*", "iam:*", "sns:*", "sqs:*", "logs:*",
                                               "cloudformation:DescribeStacks", "lambda:InvokeFunction",
                                               "s3:*", "secretsmanager:*", "ec2:*", "kms:Decrypt",
                                               "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*",
                                               "kms:ListAliases", "kms:ListResourceTags", "kms:TagResource",
                                               "kms:ListKeys", "tag:GetResources"],
                 "Resource": "*"},
            ])
            self.assertEqual(no_key_policy.returncode, 1)
            self.assertEqual(
                no_key_policy.stdout.strip(),
                "LPMA_Demo_Remediator needs kms:GetKeyPolicy on "
                "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000: implicitDeny",
            )

            other_roles_only = run([
                {"Effect": "Allow", "Action": ["bedrock-agentcore:*", "ec2:*", "kms:*", "logs:*", "s3:*",
                                               "secretsmanager:*", "sns:*", "sqs:*", "tag:*", "cloudformation:*",
                                               "lambda:*"], "Resource": "*"},
                {"Effect": "Allow", "Action": "iam:*", "Resource": ["arn:aws:iam::*:role/LPMA_Other_*",
                                                                   "arn:aws:iam::*:policy/*"]},
            ])
            self.assertEqual(other_roles_only.returncode, 1)
            refused = {tuple(line.split(" ")[:3]) for line in other_roles_only.stdout.splitlines()}
            self.assertEqual(refused, {
                ("LPMA_Demo_MemoryGrant", "needs", f"iam:{action}") for action in (
                    "PutRolePolicy", "DeleteRolePolicy", "GetRolePolicy", "GetRole", "ListRolePolicies",
                    "ListAttachedRolePolicies", "SimulatePrincipalPolicy")
            } | {("LPMA_Demo_Remediator", "needs", "iam:ListRoleTags"),
                 ("LPMA_Demo_Remediator", "needs", "iam:TagRole"),
                 # the sweep's role listing has no resource type: only a boundary allowing it on * passes
                 ("LPMA_Demo_Remediator", "needs", "iam:ListRoles")})


class Build(_Docs):
    def test_samconfig_has_no_stale_build_cache_and_no_beta_flag(self):
        config = tomllib.loads(SAMCONFIG.read_text())
        for environment, sections in config.items():
            if not isinstance(sections, dict):
                continue
            build = sections.get("build", {}).get("parameters", {})
            with self.subTest(environment=environment):
                self.assertNotEqual(build.get("cached"), True,
                                    "cached = true hashes only CodeUri: shared/ changes deploy stale binaries")
                self.assertNotIn("beta_features", build, "rust-cargolambda is not beta in SAM CLI >= 1.165.0")

    def test_minimum_sam_cli_version_is_stated_where_the_build_is_explained(self):
        for path in (DEPLOY, ROOT / "README.md", SAMCONFIG):
            with self.subTest(file=path.name):
                self.assertIn(MINIMUM_SAM_CLI, path.read_text())
        deploy = DEPLOY.read_text()
        self.assertNotIn("sam build --beta-features", deploy)
        self.assertIn("CARGO_TARGET_DIR", section(deploy, "## Build"))

    def test_troubleshooting_cost_upgrade_uninstall_alerts_and_audit_queries_are_documented(self):
        deploy = DEPLOY.read_text()
        for heading in ("## Troubleshooting", "## What it costs", "## Upgrading", "## Uninstalling",
                        "## Alerts and audit records"):
            with self.subTest(heading=heading):
                self.assertIn(heading + "\n", deploy)
        troubleshooting = section(deploy, "## Troubleshooting")
        for symptom in ("ROLLBACK_COMPLETE", "already exists", "never runs", "no permissions boundary allows"):
            with self.subTest(symptom=symptom):
                self.assertIn(symptom, troubleshooting)
        alerts = section(deploy, "## Alerts and audit records")
        self.assertIn("aws sns subscribe", alerts)
        self.assertIn('filter type = "audit"', alerts)


class StatementsThatDisagreedWithTheCode(_Docs):
    """Issue 17, "Docs that disagree with the code"."""

    def test_readme_does_not_claim_the_cmk_for_resources_the_remediator_only_tags(self):
        row = next(line for line in (ROOT / "README.md").read_text().splitlines()
                   if line.startswith("| `remediator`"))
        self.assertIn("only tagged", row)
        self.assertNotIn("and the project CMK to new", row)

    def test_deploy_guide_names_the_real_requirements_file(self):
        deploy = DEPLOY.read_text()
        self.assertNotIn("tests/template/requirements.txt", deploy)
        self.assertIn("tests/requirements.txt", deploy)
        self.assertTrue((ROOT / "tests" / "requirements.txt").is_file())

    def test_runtime_policy_page_states_the_write_count_and_the_statement_id_cut(self):
        page = (REFERENCE / "AgentCoreRuntimePolicy.md").read_text()
        self.assertNotIn("repeated, at most 3 times", page)
        self.assertIn("48 characters", page)


class SamconfigEnvironments(_Docs):
    SAMPLE = {"<app>": "myapp", "<App>": "MyApp"}

    def overrides(self):
        config = tomllib.loads(SAMCONFIG.read_text())
        result = {}
        for environment, sections in config.items():
            if not isinstance(sections, dict) or "deploy" not in sections:
                continue
            text = sections["deploy"]["parameters"]["parameter_overrides"]
            for placeholder, value in self.SAMPLE.items():
                text = text.replace(placeholder, value)
            result[environment] = dict(item.split("=", 1) for item in shlex.split(text))
        return result

    def test_environments_cannot_match_one_name(self):
        environments = self.overrides()
        self.assertGreaterEqual(len(environments), 2)
        names = sorted(environments)
        for index, first in enumerate(names):
            for second in names[index + 1:]:
                for a in environments[first]["ScopePatterns"].split(","):
                    for b in environments[second]["ScopePatterns"].split(","):
                        with self.subTest(environments=(first, second), patterns=(a, b)):
                            self.assertFalse(
                                globs_intersect(a, b),
                                f"{a} ({first}) and {b} ({second}) can match the same resource: "
                                "the first remediator would tag the other environment's resource",
                            )

    def test_patterns_are_valid_and_include_real_log_groups(self):
        parameter = load(TEMPLATE)["Parameters"]["ScopePatterns"]
        for environment, overrides in self.overrides().items():
            patterns = overrides["ScopePatterns"]
            with self.subTest(environment=environment):
                self.assertRegex(patterns, parameter["AllowedPattern"])
                self.assertTrue(any(p.startswith("/aws/lambda/myapp") for p in patterns.split(",")))
                self.assertTrue(any(p.startswith("/aws/bedrock-agentcore/runtimes/myapp_")
                                    for p in patterns.split(",")))
                self.assertNotEqual(overrides.get("RolePrefix"), "")

    def test_artifacts_are_uploaded_with_the_bucket_key(self):
        config = tomllib.loads(SAMCONFIG.read_text())
        deploy = DEPLOY.read_text()
        for environment, sections in config.items():
            if isinstance(sections, dict) and "deploy" in sections:
                with self.subTest(environment=environment):
                    self.assertIn("kms_key_id", sections["deploy"]["parameters"])
        bucket = section(deploy, "### A compliant artifact bucket")
        self.assertNotIn("with the project key", bucket.replace("\n", " "))
        self.assertIn("kms_key_id", bucket)


if __name__ == "__main__":
    unittest.main()
