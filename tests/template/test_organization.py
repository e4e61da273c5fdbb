"""Issue 13, the templates: templates/spoke.yaml and template.yaml's organization mode.

- The spoke forwards exactly the events the hub's rule matches (its two rules split the hub
  pattern's `source`, nothing else), and the hub's rule on the central bus has that pattern too.
- The spoke's remediation role holds, statement by statement, exactly the actions of the hub
  remediator's statements that act on an account's resources; the hub-only statements (its own
  log group, queues, alert topic, VPC, the organization permissions) are named here. A new
  statement in RemediatorRole fails this test until it is placed on one side or the other.
- Trust: only the hub remediator's role, with the ExternalId (two while rotating), the
  organization and the hub account; the forwarding role only for EventBridge and this template's
  rules; both roles and the IAM rule exist once per account (GlobalRegion).
- Organization mode is off by default and then changes nothing; on, it adds exactly the central
  bus, its policy, the rule on it with its invoke permission, three environment variables, the
  AssumeRole (and SSM) statements and the dead-letter permissions of the new rule.
- docs/organization.md gives the StackSet commands with the spoke's real parameters.
"""

from __future__ import annotations

import json
import re
import shlex
import unittest

from test_scope import allows
from test_template import (
    MANDATORY_TAGS, ROOT, SAMPLE_PARAMETERS, Renderer, _Templates, as_list, iam_match, load,
)

SPOKE = ROOT / "templates" / "spoke.yaml"
DOC = ROOT / "docs" / "organization.md"

HUB_ACCOUNT = "123456789012"
SPOKE_ACCOUNT = "210987654321"
ORG = "o-a1b2c3d4e5"
SECRET = f"arn:aws:secretsmanager:us-east-1:{HUB_ACCOUNT}:secret:corebound/spoke-external-id-AbCdEf"
SETTINGS = '{"default": {"mode": "report"}}'
ORG_PARAMETERS = {"OrganizationId": ORG, "SpokeExternalIdSecretArn": SECRET, "AccountSettings": SETTINGS}
SPOKE_PARAMETERS = {
    "HubAccountId": HUB_ACCOUNT,
    "HubEventBusArn": f"arn:aws:events:us-east-1:{HUB_ACCOUNT}:event-bus/Demo-corebound-hub",
    "HubRemediatorRoleArn": f"arn:aws:iam::{HUB_ACCOUNT}:role/LPMA_Demo_Remediator",
    "OrganizationId": ORG,
    "ExternalId": "corebound-3f1c9a7e5b2d4c6a8e0f",
    "PreviousExternalId": "",
    "AppName": SAMPLE_PARAMETERS["AppName"],
    "RolePrefix": SAMPLE_PARAMETERS["RolePrefix"],
    # By name: the StackSet's one value names the boundary of every account.
    "PermissionsBoundaryArn": "BoundaryForLPMA",
    "ScopePatterns": SAMPLE_PARAMETERS["ScopePatterns"],
    "GlobalRegion": "us-east-1",
    "KmsKeyArn": "alias/platform-cmk",
    **{key: SAMPLE_PARAMETERS[key] for key in MANDATORY_TAGS},
}

# Statements of the hub's RemediatorRole that concern only the hub: its own log group, alert
# topic, dead-letter and deferral queues, its VPC attachment, and the organization permissions.
# Every other statement acts on an account's resources and is mirrored in the spoke's role.
HUB_ONLY_STATEMENTS = {
    "WriteLogs", "Alerts", "DeadLetters", "DeferralQueue", "VpcNetworkInterfaces", "VpcDescribe",
    "AssumeSpokeRoles", "ReadAccountSettings",
    # the sweep's own work queue and report bucket, in the hub
    "SweepQueue", "SweepObjects", "ReleaseTheLock", "ListSweepParts",
}
# The hub's deny pins its region; the spoke's role serves every region of its account.
SPOKE_SID = {"DenyOutsideThisAccountAndRegion": "DenyOutsideThisAccount"}

ORGANIZATION_RESOURCES = {
    "OrganizationEventBus", "OrganizationEventBusPolicy", "OrganizationRule",
    "OrganizationRuleInvokePermission",
}
ORGANIZATION_VARIABLES = {"SPOKE_ROLE_NAME", "SPOKE_EXTERNAL_ID", "ACCOUNT_SETTINGS"}


def statements_by_sid(statements) -> dict:
    by_sid = {}
    for statement in statements:
        by_sid[statement["Sid"]] = statement
    return by_sid


def role_statements(render, role) -> list:
    return [
        statement
        for policy in render(role["Properties"]["Policies"])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def differences(a, b, path=()):
    """Paths where two rendered documents differ (a list of another length is one difference)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield "/".join(path + (key,))
            else:
                yield from differences(a[key], b[key], path + (key,))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, path + (str(index),))
    elif a != b:
        yield "/".join(path)


class _Organization(_Templates):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spoke = load(SPOKE)
        cls.spoke_resources = cls.spoke["Resources"]

    def spoke_render(self, region="us-east-1", **overrides):
        return Renderer(self.spoke, {
            **SPOKE_PARAMETERS, "AWS::AccountId": SPOKE_ACCOUNT, "AWS::Region": region, **overrides,
        })

    def hub_render(self, **overrides):
        return self.rendered(**{**ORG_PARAMETERS, **overrides})

    def created(self, template, render):
        """The logical ids a stack of the template creates, with the rendered conditions."""
        return {
            name for name, resource in template["Resources"].items()
            if "Condition" not in resource or render.conditions[resource["Condition"]]
        }


class SpokeForwardsWhatTheHubHandles(_Organization):
    def test_the_two_rules_split_the_hub_pattern_by_source_only(self):
        hub = self.resources["RemediatorRule"]["Properties"]["EventPattern"]
        sources = hub.get("source")
        self.assertIsInstance(sources, list, "the hub pattern needs a top-level source list")
        self.assertIn("aws.iam", sources)
        regional = self.spoke_resources["ForwardEventsRule"]["Properties"]["EventPattern"]
        iam = self.spoke_resources["ForwardIamEventsRule"]["Properties"]["EventPattern"]
        self.assertEqual(
            regional, {**hub, "source": [s for s in sources if s != "aws.iam"]},
            "ForwardEventsRule must be RemediatorRule's pattern without aws.iam: copy the hub's pattern",
        )
        self.assertEqual(
            iam, {**hub, "source": ["aws.iam"]},
            "ForwardIamEventsRule must be RemediatorRule's pattern with source [aws.iam]: copy the hub's pattern",
        )

    def test_the_rule_on_the_central_bus_has_the_hub_pattern_and_target(self):
        hub = self.resources["RemediatorRule"]["Properties"]
        central = self.resources["OrganizationRule"]["Properties"]
        self.assertEqual(central["EventPattern"], hub["EventPattern"],
                         "OrganizationRule must match exactly what RemediatorRule matches")
        self.assertEqual(central["Targets"], hub["Targets"])
        self.assertEqual(central["EventBusName"], {"Ref": "OrganizationEventBus"})

    def test_iam_events_are_forwarded_once_from_the_global_region(self):
        for region, expected in (("us-east-1", True), ("eu-west-1", False)):
            with self.subTest(region=region):
                created = self.created(self.spoke, self.spoke_render(region))
                self.assertIn("ForwardEventsRule", created)
                for once_per_account in ("ForwardIamEventsRule", "EventForwarderRole", "RemediationRole"):
                    self.assertEqual(once_per_account in created, expected, once_per_account)

    def test_rules_put_on_the_hub_bus_with_the_forwarder_role_and_keep_failures(self):
        for region in ("us-east-1", "eu-west-1"):
            render = self.spoke_render(region)
            forwarder = render(self.spoke_resources["EventForwarderRole"]["Properties"]["RoleName"])
            for rule in ("ForwardEventsRule", "ForwardIamEventsRule"):
                if rule not in self.created(self.spoke, render):
                    continue
                with self.subTest(region=region, rule=rule):
                    (target,) = render(self.spoke_resources[rule]["Properties"]["Targets"])
                    self.assertEqual(target["Arn"], SPOKE_PARAMETERS["HubEventBusArn"])
                    self.assertIn(target["RoleArn"], (
                        f"arn:aws:iam::{SPOKE_ACCOUNT}:role/{forwarder}", "<EventForwarderRole.Arn>"))
                    self.assertEqual(target["DeadLetterConfig"]["Arn"], "<ForwardDeadLetterQueue.Arn>")
                    self.assertIn("RetryPolicy", target)

    def test_the_forwarder_role_serves_only_eventbridge_and_only_the_hub_bus(self):
        render = self.spoke_render()
        role = render(self.spoke_resources["EventForwarderRole"]["Properties"])
        self.assertEqual(role["RoleName"], "LPMA_Demo_EventForwarder")
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(trust["Condition"]["StringEquals"], {"aws:SourceAccount": SPOKE_ACCOUNT})
        source = trust["Condition"]["ArnLike"]["aws:SourceArn"]
        for region in ("us-east-1", "eu-west-1"):
            for rule in ("ForwardEventsRule", "ForwardIamEventsRule"):
                name = self.spoke_render(region)(self.spoke_resources[rule]["Properties"]["Name"])
                arn = f"arn:aws:events:{region}:{SPOKE_ACCOUNT}:rule/{name}"
                self.assertTrue(iam_match(source, arn), f"{arn} cannot use the forwarder role")
        self.assertFalse(iam_match(source, f"arn:aws:events:us-east-1:{HUB_ACCOUNT}:rule/Demo-corebound-forward"))
        statements = role_statements(render, self.spoke_resources["EventForwarderRole"])
        self.assertEqual(
            [(s["Effect"], as_list(s["Action"]), s["Resource"]) for s in statements],
            [("Allow", ["events:PutEvents"], SPOKE_PARAMETERS["HubEventBusArn"])],
        )

    def test_dead_letters_are_encrypted_and_accepted_from_the_two_rules_only(self):
        for region in ("us-east-1", "eu-west-1"):
            render = self.spoke_render(region)
            with self.subTest(region=region):
                queue = render(self.spoke_resources["ForwardDeadLetterQueue"]["Properties"])
                self.assertEqual(queue["KmsMasterKeyId"], SPOKE_PARAMETERS["KmsKeyArn"])
                policy = render(self.spoke_resources["ForwardDeadLetterQueuePolicy"]["Properties"])
                allow = statements_by_sid(policy["PolicyDocument"]["Statement"])["ForwardingRulesDeadLetters"]
                rules = sorted(
                    f"arn:aws:events:{region}:{SPOKE_ACCOUNT}:rule/"
                    + render(self.spoke_resources[rule]["Properties"]["Name"])
                    for rule in ("ForwardEventsRule", "ForwardIamEventsRule")
                )
                self.assertEqual(sorted(allow["Condition"]["ArnEquals"]["aws:SourceArn"]), rules)


class SpokeRemediationRole(_Organization):
    def hub_statements(self):
        # Every statement the hub's role can have: organization mode with SSM settings, VPC on.
        render = self.hub_render(AccountSettings="ssm:/corebound/settings",
                                 SubnetIds=["subnet-0a1b2c3d4e5f60718"],
                                 SecurityGroupIds=["sg-0a1b2c3d4e5f60718"])
        return statements_by_sid(role_statements(render, self.resources["RemediatorRole"]))

    def spoke_statements(self, **overrides):
        render = self.spoke_render(**overrides)
        return statements_by_sid(role_statements(render, self.spoke_resources["RemediationRole"]))

    def test_exactly_the_remediators_actions_statement_by_statement(self):
        hub = self.hub_statements()
        unknown = HUB_ONLY_STATEMENTS - set(hub)
        self.assertEqual(unknown, set(), "HUB_ONLY_STATEMENTS names statements the hub no longer has")
        expected = {
            SPOKE_SID.get(sid, sid): (statement["Effect"], sorted(as_list(statement["Action"])))
            for sid, statement in hub.items() if sid not in HUB_ONLY_STATEMENTS
        }
        actual = {
            sid: (statement["Effect"], sorted(as_list(statement["Action"])))
            for sid, statement in self.spoke_statements().items()
        }
        self.assertEqual(
            actual, expected,
            "templates/spoke.yaml RemediationRole must hold each account-side statement of the hub's "
            "RemediatorRole with the same actions; a hub-only statement goes in HUB_ONLY_STATEMENTS",
        )

    def test_writes_reach_the_same_scope_families_as_the_hub(self):
        hub, spoke = self.hub_statements(), self.spoke_statements()
        families = [sid for sid in hub if sid.startswith("Fix") and sid != "FixKeys"]
        self.assertGreaterEqual(len(families), 7)
        for sid in families:
            with self.subTest(statement=sid):
                self.assertEqual(spoke[sid]["Resource"], hub[sid]["Resource"])
        self.assertEqual(spoke["FixKeys"]["Resource"], f"arn:aws:kms:*:{SPOKE_ACCOUNT}:key/*")

    def test_the_role_acts_in_every_region_of_its_account_and_nowhere_else(self):
        statements = list(self.spoke_statements().values())
        here = [f"us-east-1:{SPOKE_ACCOUNT}", f"eu-west-1:{SPOKE_ACCOUNT}"]
        for location in here:
            for action, arn in (
                ("sns:TagResource", f"arn:aws:sns:{location}:corebound-demo-alerts"),
                ("sqs:SetQueueAttributes", f"arn:aws:sqs:{location}:corebound-demo-jobs"),
                ("logs:AssociateKmsKey", f"arn:aws:logs:{location}:log-group:corebound-demo-app"),
                ("kms:TagResource", f"arn:aws:kms:{location}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                ("sns:GetTopicAttributes", f"arn:aws:sns:{location}:anything"),
            ):
                with self.subTest(allowed=arn):
                    self.assertTrue(allows(statements, action, arn))
        refused = (
            ("sns:TagResource", f"arn:aws:sns:us-east-1:{HUB_ACCOUNT}:corebound-demo-alerts"),
            ("sns:TagResource", f"arn:aws:sns:us-east-1:{SPOKE_ACCOUNT}:payments-alerts"),
            ("iam:TagRole", f"arn:aws:iam::{HUB_ACCOUNT}:role/LPMA_Demo_Runtime"),
            ("iam:TagRole", f"arn:aws:iam::{SPOKE_ACCOUNT}:role/LPMA_Demo_x/Payments"),
            ("kms:TagResource", f"arn:aws:kms:us-east-1:{HUB_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            ("sns:GetTopicAttributes", f"arn:aws:sns:us-east-1:{HUB_ACCOUNT}:anything"),
        )
        for action, arn in refused:
            with self.subTest(refused=arn):
                self.assertFalse(allows(statements, action, arn))

    def test_the_account_key_by_alias_in_every_region_or_by_arn(self):
        by_alias = self.spoke_statements()["UseProjectKey"]
        self.assertEqual(by_alias["Resource"], f"arn:aws:kms:*:{SPOKE_ACCOUNT}:key/*")
        self.assertEqual(by_alias["Condition"],
                         {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/platform-cmk"}})
        key = f"arn:aws:kms:eu-west-1:{SPOKE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        by_arn = self.spoke_statements(KmsKeyArn=key)["UseProjectKey"]
        self.assertEqual(by_arn["Resource"], key)
        self.assertNotIn("Condition", by_arn)

    def test_trust_only_the_hub_remediator_in_the_organization_with_the_external_id(self):
        render = self.spoke_render()
        role = render(self.spoke_resources["RemediationRole"]["Properties"])
        self.assertEqual(role["RoleName"], "LPMA_Demo_Remediation")
        self.assertNotIn("Path", role, "the hub builds role/<SPOKE_ROLE_NAME>: no path")
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Effect"], "Allow")
        self.assertEqual(trust["Action"], "sts:AssumeRole")
        self.assertEqual(trust["Principal"], {"AWS": SPOKE_PARAMETERS["HubRemediatorRoleArn"]})
        self.assertEqual(trust["Condition"], {"StringEquals": {
            "sts:ExternalId": SPOKE_PARAMETERS["ExternalId"],
            "aws:PrincipalOrgID": ORG,
            "aws:PrincipalAccount": HUB_ACCOUNT,
        }})
        rotating = self.spoke_render(PreviousExternalId="corebound-old-0a9b8c7d6e5f")
        (trust,) = rotating(self.spoke_resources["RemediationRole"]["Properties"])[
            "AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(trust["Condition"]["StringEquals"]["sts:ExternalId"],
                         [SPOKE_PARAMETERS["ExternalId"], "corebound-old-0a9b8c7d6e5f"])
        for secret in ("ExternalId", "PreviousExternalId"):
            self.assertTrue(self.spoke["Parameters"][secret].get("NoEcho"), f"{secret} must be NoEcho")

    def test_one_set_of_values_fits_every_account(self):
        # Automatic deployment gives a new account the StackSet's values: the boundary by name
        # and the key by alias resolve in each account (and region).
        for account in (SPOKE_ACCOUNT, "333344445555"):
            render = self.spoke_render("eu-west-1", **{"AWS::AccountId": account})
            for role in ("EventForwarderRole", "RemediationRole"):
                with self.subTest(account=account, role=role):
                    self.assertEqual(render(self.spoke_resources[role]["Properties"]["PermissionsBoundary"]),
                                     f"arn:aws:iam::{account}:policy/BoundaryForLPMA")
        arn = f"arn:aws:iam::{SPOKE_ACCOUNT}:policy/team/Boundary"
        render = self.spoke_render(PermissionsBoundaryArn=arn)
        self.assertEqual(render(self.spoke_resources["RemediationRole"]["Properties"]["PermissionsBoundary"]), arn)
        self.assertEqual(
            self.spoke_render(PermissionsBoundaryArn="team/Boundary")(
                self.spoke_resources["RemediationRole"]["Properties"]["PermissionsBoundary"]),
            f"arn:aws:iam::{SPOKE_ACCOUNT}:policy/team/Boundary")

    def test_no_account_id_or_region_is_written_in_the_spoke(self):
        text = SPOKE.read_text()
        self.assertEqual(re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", text), [])
        regions = re.findall(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]\b", text)
        # Only GlobalRegion's default and its description name a region.
        self.assertEqual(set(regions), {"us-east-1"})
        self.assertEqual(self.spoke["Parameters"]["GlobalRegion"]["Default"], "us-east-1")
        self.assertNotIn("Transform", self.spoke, "plain CloudFormation: StackSets need no SAM transform")


class OrganizationModeOfTheHub(_Organization):
    def test_off_by_default_and_then_nothing_of_it_exists(self):
        self.assertEqual(self.template["Parameters"]["OrganizationId"]["Default"], "")
        render = self.rendered()
        self.assertFalse(render.conditions["OrganizationMode"])
        conditional = {
            name for name, resource in self.resources.items()
            if resource.get("Condition") == "OrganizationMode"
        }
        self.assertEqual(conditional, ORGANIZATION_RESOURCES)
        self.assertEqual(self.created(self.template, render) & ORGANIZATION_RESOURCES, set())
        variables = render(self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"])
        self.assertEqual(set(variables) & ORGANIZATION_VARIABLES, set())
        actions = {a for s in role_statements(render, self.resources["RemediatorRole"]) for a in as_list(s["Action"])}
        self.assertFalse(any(a.startswith(("sts:", "ssm:")) for a in actions), actions)

    def test_organization_mode_adds_exactly_these(self):
        def document(render):
            created = self.created(self.template, render)
            outputs = {
                name: output for name, output in self.template["Outputs"].items()
                if "Condition" not in output or render.conditions[output["Condition"]]
            }
            return render({
                "Resources": {name: self.resources[name] for name in sorted(created)},
                "Outputs": outputs,
            })

        off = document(self.rendered())
        on = document(self.hub_render(AccountSettings="ssm:/corebound/settings"))
        statements = "Resources/RemediatorRole/Properties/Policies/0/PolicyDocument/Statement"
        key_statements = [s["Sid"] for s in off["Resources"]["ProjectKey"]["Properties"]["KeyPolicy"]["Statement"]]
        eventbridge = key_statements.index("EventBridgeToDeadLetterQueue")
        expected = {
            *(f"Resources/{name}" for name in ORGANIZATION_RESOURCES),
            *(f"Resources/RemediatorFunction/Properties/Environment/Variables/{v}" for v in ORGANIZATION_VARIABLES),
            statements,
            f"Resources/ProjectKey/Properties/KeyPolicy/Statement/{eventbridge}/Condition/ArnEquals/aws:SourceArn",
            "Resources/DeadLetterQueuePolicy/Properties/PolicyDocument/Statement/0/Condition/ArnEquals/aws:SourceArn",
            "Outputs/OrganizationEventBusArn",
        }
        self.assertEqual(set(differences(off, on)), expected)
        added = [s for s in on["Resources"]["RemediatorRole"]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"] if s not in off["Resources"]["RemediatorRole"]["Properties"]["Policies"][0][
            "PolicyDocument"]["Statement"]]
        self.assertEqual(sorted(s["Sid"] for s in added), ["AssumeSpokeRoles", "ReadAccountSettings"])

    def test_the_bus_accepts_events_only_from_the_organizations_forwarding_roles(self):
        render = self.hub_render()
        policy = render(self.resources["OrganizationEventBusPolicy"]["Properties"])
        statement = policy["Statement"]
        self.assertEqual(policy["EventBusName"], "<OrganizationEventBus>")
        self.assertEqual(statement["Action"], "events:PutEvents")
        self.assertEqual(statement["Resource"], "<OrganizationEventBus.Arn>")
        self.assertEqual(statement["Condition"]["StringEquals"], {"aws:PrincipalOrgID": ORG})
        principal = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
        forwarder = self.spoke_render()(self.spoke_resources["EventForwarderRole"]["Properties"]["RoleName"])
        self.assertTrue(iam_match(principal, f"arn:aws:iam::{SPOKE_ACCOUNT}:role/{forwarder}"))
        self.assertFalse(iam_match(principal, f"arn:aws:iam::{SPOKE_ACCOUNT}:role/LPMA_Demo_Remediation"))
        self.assertFalse(iam_match(principal, f"arn:aws:iam::{SPOKE_ACCOUNT}:user/admin"))
        # The spoke's default bus ARN parameter names this bus.
        bus = render(self.resources["OrganizationEventBus"]["Properties"]["Name"])
        self.assertTrue(SPOKE_PARAMETERS["HubEventBusArn"].endswith(f":event-bus/{bus}"))

    def test_the_remediator_assumes_the_spoke_role_by_name_with_the_secret_external_id(self):
        render = self.hub_render()
        variables = render(self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"])
        spoke_role = self.spoke_render()(self.spoke_resources["RemediationRole"]["Properties"]["RoleName"])
        self.assertEqual(variables["SPOKE_ROLE_NAME"], spoke_role)
        self.assertEqual(variables["SPOKE_EXTERNAL_ID"], "{{resolve:secretsmanager:" + SECRET + ":SecretString}}")
        version = "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"
        pinned = self.hub_render(SpokeExternalIdVersionId=version)(
            self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"])
        self.assertEqual(pinned["SPOKE_EXTERNAL_ID"],
                         "{{resolve:secretsmanager:" + SECRET + ":SecretString:::" + version + "}}")
        self.assertEqual(variables["ACCOUNT_SETTINGS"], SETTINGS)
        statements = statements_by_sid(role_statements(render, self.resources["RemediatorRole"]))
        assume = statements["AssumeSpokeRoles"]
        self.assertEqual(assume["Action"], "sts:AssumeRole")
        self.assertEqual(assume["Condition"], {"StringEquals": {"aws:ResourceOrgID": ORG}})
        self.assertTrue(iam_match(assume["Resource"], f"arn:aws:iam::{SPOKE_ACCOUNT}:role/{spoke_role}"))
        self.assertFalse(iam_match(assume["Resource"], f"arn:aws:iam::{SPOKE_ACCOUNT}:role/LPMA_Demo_Other"))
        self.assertNotIn("ReadAccountSettings", statements, "JSON settings: no SSM permission")

    def test_settings_in_ssm_are_readable_by_the_remediator_only_then(self):
        render = self.hub_render(AccountSettings="ssm:/corebound/settings")
        variables = render(self.resources["RemediatorFunction"]["Properties"]["Environment"]["Variables"])
        self.assertEqual(variables["ACCOUNT_SETTINGS"], "ssm:/corebound/settings")
        statement = statements_by_sid(role_statements(render, self.resources["RemediatorRole"]))["ReadAccountSettings"]
        self.assertEqual(statement["Action"], "ssm:GetParameter")
        self.assertEqual(statement["Resource"], f"arn:aws:ssm:us-east-1:{HUB_ACCOUNT}:parameter/corebound/settings")
        pattern = self.template["Parameters"]["AccountSettings"]["AllowedPattern"]
        for value in ("", "ssm:/corebound/settings", '{"default": {"mode": "report"}}'):
            self.assertRegex(value, pattern)
        for value in ("ssm:corebound", "ssm:/a b", "settings"):
            self.assertNotRegex(value, pattern)

    def test_dead_letters_of_the_central_rule_reach_the_encrypted_queue(self):
        render = self.hub_render()
        bus = render(self.resources["OrganizationEventBus"]["Properties"]["Name"])
        rule = render(self.resources["OrganizationRule"]["Properties"]["Name"])
        arn = f"arn:aws:events:us-east-1:{HUB_ACCOUNT}:rule/{bus}/{rule}"
        key = statements_by_sid(render(self.resources["ProjectKey"]["Properties"]["KeyPolicy"])["Statement"])
        self.assertIn(arn, key["EventBridgeToDeadLetterQueue"]["Condition"]["ArnEquals"]["aws:SourceArn"])
        queue = render(self.resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"])
        self.assertIn("<OrganizationRule.Arn>", queue["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"])
        permission = render(self.resources["OrganizationRuleInvokePermission"]["Properties"])
        self.assertEqual((permission["Principal"], permission["SourceArn"], permission["SourceAccount"]),
                         ("events.amazonaws.com", "<OrganizationRule.Arn>", HUB_ACCOUNT))

    def test_organization_mode_cannot_deploy_without_the_external_id_and_the_settings(self):
        # The hub acts on other accounts only with ACCOUNT_SETTINGS, and assumes their roles
        # only with an ExternalId: organization mode without either is refused at deploy time.
        for rule, parameter in (("OrganizationModeNeedsTheExternalId", "SpokeExternalIdSecretArn"),
                                ("OrganizationModeNeedsAccountSettings", "AccountSettings")):
            with self.subTest(rule=rule):
                rule = self.template["Rules"][rule]
                self.assertEqual(rule["RuleCondition"],
                                 {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]})
                self.assertEqual(rule["Assertions"][0]["Assert"],
                                 {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]})


class OrganizationGuide(_Organization):
    def commands(self, name):
        text = DOC.read_text().replace("\\\n", " ")
        return [shlex.split(line.strip()) for line in text.splitlines()
                if line.strip().startswith(f"aws cloudformation {name} ")]

    def test_the_stack_set_is_service_managed_auto_deployed_with_the_spokes_parameters(self):
        (create,) = self.commands("create-stack-set")
        self.assertIn("--permission-model", create)
        self.assertEqual(create[create.index("--permission-model") + 1], "SERVICE_MANAGED")
        self.assertTrue(create[create.index("--auto-deployment") + 1].startswith("Enabled=true"))
        self.assertEqual(create[create.index("--template-body") + 1], "file://templates/spoke.yaml")
        given = {
            re.match(r"ParameterKey=([A-Za-z]+)", word).group(1)
            for word in create if word.startswith("ParameterKey=")
        }
        required = {name for name, p in self.spoke["Parameters"].items() if "Default" not in p}
        self.assertEqual(required - given, set(), "the command omits required spoke parameters")
        self.assertEqual(given - set(self.spoke["Parameters"]), set(), "the command names unknown parameters")

    def test_stack_instances_go_to_organizational_units_global_region_first(self):
        instances = self.commands("create-stack-instances")
        self.assertTrue(instances)
        for command in instances:
            targets = command[command.index("--deployment-targets") + 1]
            self.assertTrue(targets.startswith("OrganizationalUnitIds="), targets)
            regions = command[command.index("--regions") + 1:]
            regions = regions[:next((i for i, w in enumerate(regions) if w.startswith("--")), len(regions))]
            self.assertEqual(regions[0], "us-east-1", "IAM's events and the roles: us-east-1 first")
            preferences = json.loads(command[command.index("--operation-preferences") + 1])
            self.assertEqual(preferences["RegionConcurrencyType"], "SEQUENTIAL")
            self.assertEqual(preferences["RegionOrder"], regions)

    def test_the_guide_covers_enrolment_rotation_and_cost(self):
        text = DOC.read_text()
        for heading in ("## Deploy the hub", "## Deploy the spokes", "## Enrol a new account",
                        "## Rotate the ExternalId", "## What it costs per million events"):
            self.assertIn(heading + "\n", text)


if __name__ == "__main__":
    unittest.main()
