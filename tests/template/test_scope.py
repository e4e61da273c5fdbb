"""No confused deputy, in IAM: each function's permissions reach only what its checks allow.

Issue 16: the custom-resource functions get SCOPE_PATTERNS (and runtime-policy
ALLOWED_PRINCIPAL_ACCOUNTS); their IAM covers only runtimes and roles named by ScopePatterns;
the remediator's rule admits only the aws.<service> sources it handles; one parameter restricts
who may invoke the ServiceTokens. Issue 17 item 13 / issue 11 item 8: role patterns match the
role name only, gateway patterns match lower-case gateway ids. Issue 10 item 11: the role
prefix is never empty.

ARNs are matched with IAM's wildcard semantics (iam_match) against the rendered template, and
a statement counts only as IAM evaluates it: an explicit Deny wins over any Allow.
"""

from __future__ import annotations

import re
import unittest

from test_template import _Templates, as_list, iam_match

HERE = "us-east-1:123456789012"
ELSEWHERE_REGION = "eu-west-1:123456789012"
OTHER_ACCOUNT = "us-east-1:210987654321"
HANDLED_SOURCES = {
    "aws.bedrock-agentcore", "aws.iam", "aws.kms", "aws.logs", "aws.s3", "aws.secretsmanager",
    "aws.sns", "aws.sqs",
}


def allows(statements, action: str, arn: str) -> bool:
    """IAM's verdict for one action on one ARN from a role's rendered statements."""
    def matches(statement):
        actions = as_list(statement.get("Action", []))
        if action not in actions:
            return False
        if "NotResource" in statement:
            return not any(iam_match(p, arn) for p in as_list(statement["NotResource"]))
        return any(iam_match(p, arn) for p in as_list(statement["Resource"]))

    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statements)


class _Roles(_Templates):
    def role_statements(self, role, **overrides):
        render = self.rendered(**overrides)
        statements = []
        for policy in render(self.resources[role]["Properties"]["Policies"]):
            statements.extend(policy["PolicyDocument"]["Statement"])
        return statements


class CustomResourceScope(_Roles):
    def test_both_custom_resource_functions_always_get_scope_patterns(self):
        for function in ("RuntimePolicyFunction", "MemoryGrantFunction"):
            with self.subTest(function=function):
                variables = self.resources[function]["Properties"]["Environment"]["Variables"]
                self.assertEqual(variables.get("SCOPE_PATTERNS"), {"Ref": "ScopePatterns"})

    def test_runtime_policy_gets_the_principal_account_allowlist(self):
        parameter = self.template["Parameters"]["AllowedPrincipalAccounts"]
        variables = self.resources["RuntimePolicyFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables.get("ALLOWED_PRINCIPAL_ACCOUNTS"), {"Ref": "AllowedPrincipalAccounts"})
        self.assertEqual(parameter.get("Default"), "", "unset must mean: this account only")
        pattern = re.compile(parameter["AllowedPattern"])
        for value in ("", "210987654321", "210987654321,123456789012", "o-a1b2c3d4e5",
                      "210987654321,o-a1b2c3d4e5f6"):
            with self.subTest(accepted=value):
                self.assertTrue(pattern.fullmatch(value))
        for value in ("*", "2109876543", "210987654321, 123456789012", "arn:aws:iam::210987654321:root",
                      "o-*", "210987654321,"):
            with self.subTest(refused=value):
                self.assertFalse(pattern.fullmatch(value))

    def test_runtime_policy_iam_reaches_only_in_scope_runtimes_and_their_endpoints(self):
        statements = self.role_statements("RuntimePolicyRole")
        runtime = f"arn:aws:bedrock-agentcore:{HERE}:runtime/corebound_demo_agent-a1B2c3D4e5"
        admitted = [runtime, runtime + "/runtime-endpoint/DEFAULT", runtime + "/runtime-endpoint/prod"]
        refused = [
            f"arn:aws:bedrock-agentcore:{HERE}:runtime/payments_agent-a1B2c3D4e5",
            f"arn:aws:bedrock-agentcore:{HERE}:runtime/payments_agent-a1B2c3D4e5/runtime-endpoint/DEFAULT",
            runtime.replace(HERE, OTHER_ACCOUNT),
            runtime.replace(HERE, ELSEWHERE_REGION),
        ]
        for action in ("bedrock-agentcore:PutResourcePolicy", "bedrock-agentcore:DeleteResourcePolicy",
                       "bedrock-agentcore:GetResourcePolicy"):
            for arn in admitted:
                with self.subTest(action=action, admitted=arn):
                    self.assertTrue(allows(statements, action, arn))
            for arn in refused:
                with self.subTest(action=action, refused=arn):
                    self.assertFalse(allows(statements, action, arn))

    def test_runtime_policy_tags_only_its_ownership_record_on_in_scope_runtimes(self):
        statements = self.role_statements("RuntimePolicyRole")
        runtime = f"arn:aws:bedrock-agentcore:{HERE}:runtime/corebound_demo_agent-a1B2c3D4e5"
        for action in ("bedrock-agentcore:TagResource", "bedrock-agentcore:UntagResource",
                       "bedrock-agentcore:ListTagsForResource"):
            with self.subTest(action=action):
                self.assertTrue(allows(statements, action, runtime))
                self.assertFalse(allows(statements, action, runtime + "/runtime-endpoint/DEFAULT"))
                self.assertFalse(allows(statements, action, runtime.replace("corebound_demo", "payments")))
                self.assertFalse(allows(statements, action, runtime.replace(HERE, OTHER_ACCOUNT)))
        writes = [st for st in statements if st["Effect"] == "Allow"
                  and "bedrock-agentcore:TagResource" in as_list(st["Action"])]
        self.assertTrue(writes)
        for statement in writes:
            self.assertEqual(statement["Condition"], {"ForAllValues:StringLike": {"aws:TagKeys": "corebound:sid:*"}},
                             "the function may write only its ownership tag")

    def test_grant_iam_reaches_only_prefixed_in_scope_roles_by_name(self):
        statements = self.role_statements("MemoryGrantRole")
        role = "arn:aws:iam::123456789012:role/"
        admitted = [role + "LPMA_Demo_AgentCoreRuntime", role + "LPMA_Demo_AlertDispatcher"]
        refused = [
            role + "LPMA_Payments_Runtime",            # prefixed, another application
            role + "corebound-demo-worker",            # in scope, outside the prefix
            role + "LPMA_Demo_x/Payments",             # a path that looks in scope
            role + "service-role/LPMA_Demo_Runtime",   # roles with a path are not managed
            "arn:aws:iam::210987654321:role/LPMA_Demo_AgentCoreRuntime",
            role + "LPMA_Demo_MemoryGrant",             # corebound's own roles
            role + "LPMA_Demo_Remediator",
        ]
        for arn in admitted:
            with self.subTest(admitted=arn):
                self.assertTrue(allows(statements, "iam:PutRolePolicy", arn))
                self.assertTrue(allows(statements, "iam:SimulatePrincipalPolicy", arn))
        for arn in refused:
            with self.subTest(refused=arn):
                self.assertFalse(allows(statements, "iam:PutRolePolicy", arn))
                self.assertFalse(allows(statements, "iam:DeleteRolePolicy", arn))

    def test_grant_iam_reads_only_in_scope_runtimes_and_memories(self):
        statements = self.role_statements("MemoryGrantRole")
        for arn, expected in (
            (f"arn:aws:bedrock-agentcore:{HERE}:runtime/corebound_demo_agent-a1B2c3D4e5", True),
            (f"arn:aws:bedrock-agentcore:{ELSEWHERE_REGION}:runtime/corebound_demo_agent-a1B2c3D4e5", True),
            (f"arn:aws:bedrock-agentcore:{HERE}:memory/corebound_demo_memory-a1B2c3D4e5", True),
            (f"arn:aws:bedrock-agentcore:{HERE}:runtime/payments_agent-a1B2c3D4e5", False),
            (f"arn:aws:bedrock-agentcore:{OTHER_ACCOUNT}:runtime/corebound_demo_agent-a1B2c3D4e5", False),
        ):
            with self.subTest(arn=arn):
                self.assertEqual(allows(statements, "bedrock-agentcore:GetAgentRuntime", arn), expected)
                self.assertEqual(allows(statements, "bedrock-agentcore:ListTagsForResource", arn), expected)

    def test_one_parameter_restricts_who_may_invoke_the_service_tokens(self):
        permissions = {
            name: resource for name, resource in self.resources.items()
            if resource["Type"] == "AWS::Lambda::Permission"
            and resource["Properties"]["FunctionName"]["Ref"] in ("RuntimePolicyFunction", "MemoryGrantFunction")
        }
        self.assertEqual(
            {p["Properties"]["FunctionName"]["Ref"] for p in permissions.values()},
            {"RuntimePolicyFunction", "MemoryGrantFunction"},
        )
        for name, permission in permissions.items():
            with self.subTest(permission=name):
                self.assertEqual(permission.get("Condition"), "HasServiceTokenInvoker")
                self.assertEqual(permission["Properties"]["Principal"], {"Ref": "ServiceTokenInvokerArn"})
                self.assertEqual(permission["Properties"]["Action"], "lambda:InvokeFunction")
        self.assertFalse(self.rendered().conditions["HasServiceTokenInvoker"])
        self.assertTrue(self.rendered(
            ServiceTokenInvokerArn="arn:aws:iam::123456789012:role/LPMA_Demo_CfnDeployer"
        ).conditions["HasServiceTokenInvoker"])
        pattern = re.compile(self.template["Parameters"]["ServiceTokenInvokerArn"]["AllowedPattern"])
        self.assertFalse(pattern.fullmatch("*"))
        self.assertFalse(pattern.fullmatch("arn:aws:iam::123456789012:role/*"))


class RemediatorScope(_Roles):
    def test_rule_admits_only_the_aws_sources_the_remediator_handles(self):
        pattern = self.resources["RemediatorRule"]["Properties"]["EventPattern"]
        self.assertIn("source", pattern, "without source, anyone with events:PutEvents can forge an event")
        self.assertEqual(set(pattern["source"]), HANDLED_SOURCES)
        sources_of_services = {"aws." + s.split(".amazonaws.com")[0] for s in pattern["detail"]["eventSource"]}
        self.assertEqual(sources_of_services, HANDLED_SOURCES, "one source per handled eventSource")

    def test_role_writes_reach_the_role_name_only(self):
        statements = self.role_statements("RemediatorRole")
        role = "arn:aws:iam::123456789012:role/"
        self.assertTrue(allows(statements, "iam:TagRole", role + "LPMA_Demo_AgentCoreRuntime"))
        for arn in (role + "LPMA_Demo_x/Payments", role + "team/LPMA_Demo_x/Payments",
                    role + "corebound-demo-x/Other", "arn:aws:iam::210987654321:role/LPMA_Demo_Runtime"):
            with self.subTest(refused=arn):
                self.assertFalse(allows(statements, "iam:TagRole", arn))

    def test_gateway_patterns_match_lower_case_gateway_ids(self):
        # A gateway named CoreboundDemo-Gateway has the id corebounddemo-gateway-<10 characters>.
        statements = self.role_statements("RemediatorRole", ScopePatterns="CoreboundDemo-*,LPMA_Demo_*")
        gateway = f"arn:aws:bedrock-agentcore:{HERE}:gateway/"
        self.assertTrue(allows(statements, "bedrock-agentcore:TagResource", gateway + "corebounddemo-gateway-abcdefghij"))
        for arn in (gateway + "payments-gateway-abcdefghij", gateway + "corebounddemo-gateway",
                    f"arn:aws:bedrock-agentcore:{OTHER_ACCOUNT}:gateway/corebounddemo-gateway-abcdefghij"):
            with self.subTest(refused=arn):
                self.assertFalse(allows(statements, "bedrock-agentcore:TagResource", arn))
        # Runtimes and memories keep the name's case in their ids.
        self.assertTrue(allows(statements, "bedrock-agentcore:TagResource",
                               f"arn:aws:bedrock-agentcore:{HERE}:runtime/LPMA_Demo_agent-a1B2c3D4e5"))


class RolePrefix(_Templates):
    def test_empty_role_prefix_is_rejected_by_every_template(self):
        for file, template in self.all_templates():
            parameter = template["Parameters"]["RolePrefix"]
            with self.subTest(file=file):
                self.assertFalse(
                    re.fullmatch(parameter["AllowedPattern"], ""),
                    f"{file}: RolePrefix '' turns the prefix rule off and widens IAM to role/*",
                )
                self.assertGreaterEqual(parameter.get("MinLength", 0), 1)
                self.assertTrue(re.fullmatch(parameter["AllowedPattern"], "LPMA_"))


if __name__ == "__main__":
    unittest.main()
