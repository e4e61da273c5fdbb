#!/usr/bin/env python3
"""SimulatePrincipalPolicy in mode `evaluate`: decisions computed from the principal's policies.

The pure rules (iam_policy_eval.py) are checked on their own first, then end to end through boto3
(whose iam model is the one the Rust SDK is generated from) against a running emulator.
"""

from __future__ import annotations

import json
import signal
import unittest
import urllib.request

import boto3
from botocore.config import Config

import iam_policy_eval as ev
from test_emulator import ACCOUNT, REGION, start_emulator

BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/BoundaryForLPMA"
PREFIXED = f"arn:aws:iam::{ACCOUNT}:role/LPMA_Demo_Probe"
UNPREFIXED = f"arn:aws:iam::{ACCOUNT}:role/Demo_Probe"


def holds(operator: str, key: str, values, context: dict) -> bool:
    return ev.condition_holds(operator, key, ev._strings(values), {k.lower(): v for k, v in context.items()})


class ConditionRules(unittest.TestCase):
    def test_string_and_arn_operators(self) -> None:
        cases = [
            ("StringEquals", "aws:RequestedRegion", ["us-east-1"], {"aws:RequestedRegion": ["us-east-1"]}, True),
            ("StringEquals", "aws:RequestedRegion", ["us-east-1"], {"aws:requestedregion": ["eu-west-1"]}, False),
            ("StringNotEquals", "aws:RequestedRegion", ["us-east-1"], {"aws:RequestedRegion": ["eu-west-1"]}, True),
            ("StringEqualsIgnoreCase", "k:k", ["ABC"], {"k:k": ["abc"]}, True),
            ("StringEquals", "k:k", ["ABC"], {"k:k": ["abc"]}, False),
            ("StringLike", "iam:PassedToService", ["lambda.*"], {"iam:PassedToService": ["lambda.amazonaws.com"]}, True),
            ("StringLike", "k:k", ["a?c"], {"k:k": ["abbc"]}, False),
            ("StringNotLike", "k:k", ["a*"], {"k:k": ["b"]}, True),
            ("ArnLike", "aws:SourceArn", ["arn:aws:sns:*:123456789012:app-*"], {"aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:app-x"]}, True),
            # An ArnLike `*` does not cross the colons between the ARN's parts.
            ("ArnLike", "aws:SourceArn", ["arn:aws:sns:us-*"], {"aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:app-x"]}, False),
            ("ArnEquals", "iam:PermissionsBoundary", [BOUNDARY_ARN], {"iam:PermissionsBoundary": [BOUNDARY_ARN]}, True),
            ("ArnNotEquals", "iam:PermissionsBoundary", [BOUNDARY_ARN], {"iam:PermissionsBoundary": [BOUNDARY_ARN]}, False),
            ("Bool", "aws:MultiFactorAuthPresent", True, {"aws:MultiFactorAuthPresent": ["TRUE"]}, True),
            ("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": ["5"]}, True),
            ("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": ["50"]}, False),
            ("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z", {"aws:CurrentTime": ["2026-01-01T00:00:00Z"]}, False),
        ]
        for operator, key, values, context, expected in cases:
            with self.subTest(operator=operator, values=values, context=context):
                self.assertEqual(holds(operator, key, values, context), expected)

    def test_absent_keys(self) -> None:
        self.assertTrue(holds("Null", "aws:SourceVpc", "true", {}))
        self.assertFalse(holds("Null", "aws:SourceVpc", "false", {}))
        self.assertTrue(holds("Null", "aws:SourceVpc", "false", {"aws:SourceVpc": ["vpc-1"]}))
        self.assertTrue(holds("StringEqualsIfExists", "aws:SourceVpc", "vpc-1", {}))
        self.assertFalse(holds("StringEqualsIfExists", "aws:SourceVpc", "vpc-1", {"aws:SourceVpc": ["vpc-2"]}))
        self.assertTrue(holds("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {}))
        self.assertFalse(holds("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {}))
        for operator in ("StringEquals", "StringNotEquals", "ArnLike"):
            with self.assertRaises(ev._Missing, msg=operator):
                holds(operator, "aws:SourceVpc", "vpc-1", {})

    def test_set_qualifiers(self) -> None:
        tags = {"aws:TagKeys": ["Project", "Owner"]}
        self.assertTrue(holds("ForAnyValue:StringEquals", "aws:TagKeys", ["Owner"], tags))
        self.assertFalse(holds("ForAllValues:StringEquals", "aws:TagKeys", ["Owner"], tags))
        self.assertTrue(holds("ForAllValues:StringEquals", "aws:TagKeys", ["Owner", "Project", "X"], tags))
        self.assertTrue(holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["Owner"], tags))
        self.assertFalse(holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["Owner"], tags))

    def test_statements_and_decisions(self) -> None:
        allow_prefixed = {"Effect": "Allow", "Action": "iam:*Role*", "Resource": "arn:aws:iam::*:role/LPMA_*"}
        identity = [ev.Policy("Admin", "role", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})]
        boundary = ev.Policy("BoundaryForLPMA", "user-managed", {"Statement": [allow_prefixed]})

        def decide(action, resource, ident=identity, bound=boundary, scps=None, context=None):
            return ev.evaluate(action, resource, context or {}, ident, bound, scps)

        self.assertEqual(decide("iam:CreateRole", PREFIXED).decision, "allowed")
        self.assertEqual(decide("IAM:createrole", PREFIXED).decision, "allowed", "actions ignore case")
        outside = decide("iam:CreateRole", UNPREFIXED)
        self.assertEqual((outside.decision, outside.allowed_by_boundary), ("implicitDeny", False))
        no_boundary = decide("iam:CreateRole", UNPREFIXED, bound=None)
        self.assertEqual((no_boundary.decision, no_boundary.allowed_by_boundary), ("allowed", None))
        self.assertEqual(no_boundary.matched, [{"sourcePolicyId": "Admin", "sourcePolicyType": "role"}])
        deny = ev.Policy("Guard", "user-managed", {"Statement": {"Sid": "NoUsers", "Effect": "Deny", "NotAction": "iam:*Role*", "NotResource": "arn:aws:iam::*:role/*"}})
        denied = decide("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/u", ident=identity + [deny])
        self.assertEqual((denied.decision, denied.matched), ("explicitDeny", [{"sourcePolicyId": "Guard", "sourcePolicyType": "user-managed"}]))
        scp = ev.Policy("ServiceControlPolicy1", "none", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                                                        {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}]})
        by_org = decide("iam:PassRole", PREFIXED, scps=[scp])
        self.assertEqual((by_org.decision, by_org.allowed_by_organizations), ("explicitDeny", False))
        self.assertEqual(decide("iam:CreateRole", PREFIXED, scps=[scp]).allowed_by_organizations, True)
        # A condition on a key not supplied: the statement does not apply and the key is named.
        conditional = ev.Policy("BoundaryForLPMA", "user-managed", {"Statement": [dict(allow_prefixed, Condition={"StringEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}})]})
        unknown = decide("iam:CreateRole", PREFIXED, bound=conditional)
        self.assertEqual((unknown.decision, unknown.missing, unknown.allowed_by_boundary), ("implicitDeny", ["iam:PermissionsBoundary"], False))
        known = decide("iam:CreateRole", PREFIXED, bound=conditional, context={"iam:permissionsboundary": [BOUNDARY_ARN]})
        self.assertEqual((known.decision, known.missing), ("allowed", []))
        # A condition that fails outright is not reported as missing, even beside an unknown one.
        both = ev.Policy("B", "user-managed", {"Statement": [dict(allow_prefixed, Condition={
            "StringEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN, "aws:RequestedRegion": "eu-west-1"}})]})
        failed = decide("iam:CreateRole", PREFIXED, bound=both, context={"aws:requestedregion": ["us-east-1"]})
        self.assertEqual((failed.decision, failed.missing), ("implicitDeny", []))


class EvaluatedSimulation(unittest.TestCase):
    """Through boto3 against the emulator: shapes as in botocore's iam model."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.process, cls.url = start_emulator()
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
        cls.iam = session.client("iam", endpoint_url=cls.url, config=Config(retries={"total_max_attempts": 1}))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.send_signal(signal.SIGTERM)
        cls.process.wait(timeout=10)
        cls.process.stdout.close()
        cls.process.stderr.close()

    def control(self, method: str, path: str, body: object | None = None, expect: int = 200) -> dict:
        request = urllib.request.Request(f"{self.url}/_corebound{path}", data=None if body is None else json.dumps(body).encode(), method=method)
        try:
            with urllib.request.urlopen(request) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        self.assertEqual(status, expect, text)
        return json.loads(text)

    def setUp(self) -> None:
        self.control("POST", "/reset")
        boundary = {"Version": "2012-10-17", "Statement": [
            {"Sid": "RolesInPrefix", "Effect": "Allow", "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
             "Resource": "arn:aws:iam::*:role/LPMA_*", "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}}},
            {"Sid": "PassToLambda", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
             "Condition": {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]}}},
            {"Sid": "AgentCore", "Effect": "Allow", "Action": "bedrock-agentcore:*", "Resource": "*"},
        ]}
        self.iam.create_policy(PolicyName="BoundaryForLPMA", PolicyDocument=json.dumps(boundary))
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}
        self.role = self.iam.create_role(RoleName="ci-deployer", Path="/ci/", AssumeRolePolicyDocument=json.dumps(trust),
                                         PermissionsBoundary=BOUNDARY_ARN)["Role"]["Arn"]
        admin = self.iam.create_policy(PolicyName="Deployer", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
        self.iam.attach_role_policy(RoleName="ci-deployer", PolicyArn=admin)
        self.control("PUT", "/iam/simulation", {"mode": "evaluate"})

    def simulate(self, actions, resources=None, context=None, **extra) -> list[dict]:
        kwargs = {"PolicySourceArn": self.role, "ActionNames": actions, **extra}
        if resources is not None:
            kwargs["ResourceArns"] = resources
        if context:
            kwargs["ContextEntries"] = [{"ContextKeyName": k, "ContextKeyValues": v, "ContextKeyType": "string"} for k, v in context.items()]
        return self.iam.simulate_principal_policy(**kwargs)["EvaluationResults"]

    def test_create_role_inside_and_outside_the_prefix(self) -> None:
        context = {"iam:PermissionsBoundary": [BOUNDARY_ARN]}
        [result] = self.simulate(["iam:CreateRole"], [PREFIXED, UNPREFIXED], context)
        self.assertEqual(result["EvalDecision"], "implicitDeny")
        by_resource = {r["EvalResourceName"]: r for r in result["ResourceSpecificResults"]}
        inside, outside = by_resource[PREFIXED], by_resource[UNPREFIXED]
        self.assertEqual(inside["EvalResourceDecision"], "allowed")
        self.assertEqual(inside["MatchedStatements"], [{"SourcePolicyId": "Deployer", "SourcePolicyType": "user-managed"}])
        self.assertTrue(inside["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"])
        self.assertEqual(outside["EvalResourceDecision"], "implicitDeny")
        self.assertFalse(outside["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"])

    def test_missing_context_values_are_named_per_resource(self) -> None:
        [result] = self.simulate(["iam:CreateRole"], [PREFIXED])
        [specific] = result["ResourceSpecificResults"]
        self.assertEqual((specific["EvalResourceDecision"], specific["MissingContextValues"]), ("implicitDeny", ["iam:PermissionsBoundary"]))
        self.assertEqual(result["MissingContextValues"], [])
        [star] = self.simulate(["iam:PassRole"])
        self.assertEqual((star["EvalResourceName"], star["EvalDecision"], star["MissingContextValues"]), ("*", "implicitDeny", ["iam:PassedToService"]))

    def test_pass_role_depends_on_the_service(self) -> None:
        runtime_role = f"arn:aws:iam::{ACCOUNT}:role/LPMA_Demo_AgentCoreRuntime"
        for service, decision in (("lambda.amazonaws.com", "allowed"), ("bedrock-agentcore.amazonaws.com", "implicitDeny")):
            [result] = self.simulate(["iam:PassRole"], [runtime_role], {"iam:PassedToService": [service]})
            self.assertEqual(result["EvalDecision"], decision, service)

    def test_explicit_deny_and_service_control_policies(self) -> None:
        self.iam.put_role_policy(RoleName="ci-deployer", PolicyName="NoResourcePolicies", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "bedrock-agentcore:PutResourcePolicy", "Resource": "*"}]}))
        runtime = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/demo_agent-0123456789"
        [result] = self.simulate(["bedrock-agentcore:PutResourcePolicy"], [runtime])
        self.assertEqual(result["EvalDecision"], "explicitDeny")
        self.assertEqual(result["ResourceSpecificResults"][0]["MatchedStatements"], [{"SourcePolicyId": "NoResourcePolicies", "SourcePolicyType": "role"}])
        self.assertNotIn("OrganizationsDecisionDetail", result)
        self.control("PUT", "/iam/simulation", {"mode": "evaluate", "serviceControlPolicies": [
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*"}]}]})
        [result] = self.simulate(["iam:CreateRole"], [PREFIXED], {"iam:PermissionsBoundary": [BOUNDARY_ARN]})
        self.assertEqual((result["EvalDecision"], result["OrganizationsDecisionDetail"]), ("explicitDeny", {"AllowedByOrganizations": False}))
        [allowed] = self.simulate(["bedrock-agentcore:GetAgentRuntime"], [runtime])
        self.assertEqual((allowed["EvalDecision"], allowed["OrganizationsDecisionDetail"]), ("allowed", {"AllowedByOrganizations": True}))

    def test_no_boundary_no_boundary_detail_and_policy_inputs(self) -> None:
        self.iam.delete_role_permissions_boundary(RoleName="ci-deployer")
        [result] = self.simulate(["iam:CreateRole"], [UNPREFIXED])
        self.assertEqual(result["EvalDecision"], "allowed")
        self.assertNotIn("PermissionsBoundaryDecisionDetail", result)
        # PermissionsBoundaryPolicyInputList replaces the (absent) boundary; PolicyInputList adds policies.
        only_reads = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]})
        [result] = self.simulate(["iam:CreateRole"], [UNPREFIXED], PermissionsBoundaryPolicyInputList=[only_reads])
        self.assertEqual(result["EvalDecision"], "implicitDeny")
        deny = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*"}]})
        [result] = self.simulate(["iam:CreateRole"], [UNPREFIXED], PolicyInputList=[deny])
        self.assertEqual(result["EvalDecision"], "explicitDeny")

    def test_users_get_their_groups_policies(self) -> None:
        self.iam.create_user(UserName="dev")
        self.iam.create_group(GroupName="devs")
        self.iam.add_user_to_group(GroupName="devs", UserName="dev")
        self.iam.put_group_policy(GroupName="devs", PolicyName="Reads", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}))
        user = f"arn:aws:iam::{ACCOUNT}:user/dev"
        results = self.iam.simulate_principal_policy(PolicySourceArn=user, ActionNames=["iam:GetRole", "iam:CreateRole"])["EvaluationResults"]
        self.assertEqual([(r["EvalActionName"], r["EvalDecision"]) for r in results], [("iam:GetRole", "allowed"), ("iam:CreateRole", "implicitDeny")])
        self.assertEqual(results[0]["MatchedStatements"], [{"SourcePolicyId": "Reads", "SourcePolicyType": "group"}])

    def test_scripted_decisions_take_precedence(self) -> None:
        self.control("PUT", "/iam/simulation", {"mode": "evaluate", "decisions": [
            {"action": "iam:CreateRole", "resource": UNPREFIXED, "decision": "allowed"}]})
        [result] = self.simulate(["iam:CreateRole"], [PREFIXED, UNPREFIXED], {"iam:PermissionsBoundary": [BOUNDARY_ARN]})
        self.assertEqual([r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]], ["allowed", "allowed"])
        self.assertIn("error", self.control("PUT", "/iam/simulation", {"serviceControlPolicies": []}, expect=400))
        self.assertIn("error", self.control("PUT", "/iam/simulation", {"mode": "evaluate", "serviceControlPolicies": [{}]}, expect=400))
        # Reset returns to scripted mode: the same role's request is an unscripted implicitDeny again.
        self.control("PUT", "/iam/simulation", {})
        [result] = self.simulate(["iam:CreateRole"], [PREFIXED], {"iam:PermissionsBoundary": [BOUNDARY_ARN]})
        self.assertEqual(result["EvalDecision"], "implicitDeny")


if __name__ == "__main__":
    unittest.main()
