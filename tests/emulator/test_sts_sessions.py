#!/usr/bin/env python3
"""Self-test of the emulator's STS strictness (sts_sessions.py): `python3 tests/emulator/test_sts_sessions.py`.

Driven with boto3, whose STS model is the one the Rust SDK is generated from: refusals must come
back as STS's own `AccessDenied` (403), sessions must act in the role's account, and expired
sessions and denied actions must be answered as the services answer them.
"""

from __future__ import annotations

import json
import signal
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from test_emulator import error_of, start_emulator

HUB = "111111111111"
SPOKE = "222222222222"
ORG = "o-corebound1"
HUB_ROLE = f"arn:aws:iam::{HUB}:role/LPMA_Corebound_Remediator"
SPOKE_ROLE = f"arn:aws:iam::{SPOKE}:role/LPMA_Corebound_Remediation"
EXTERNAL_ID = "corebound-external-id"


def trust(principal: str, conditions: dict | None = None) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if conditions:
        statement["Condition"] = conditions
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class StsSessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.process, cls.url = start_emulator()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.send_signal(signal.SIGTERM)
        cls.process.wait(timeout=10)
        cls.process.stdout.close()
        cls.process.stderr.close()

    def setUp(self) -> None:
        self.control("POST", "/reset")
        self.control("PUT", "/organizations", {"accounts": {HUB: ORG, SPOKE: ORG}})
        # The roles are created in their own accounts, with sessions of those accounts' roots.
        self.client("iam", self.root(HUB)).create_role(
            RoleName="LPMA_Corebound_Remediator",
            AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            ),
        )
        self.client("iam", self.root(SPOKE)).create_role(
            RoleName="LPMA_Corebound_Remediation",
            AssumeRolePolicyDocument=trust(
                HUB_ROLE, {"StringEquals": {"sts:ExternalId": EXTERNAL_ID, "aws:PrincipalOrgID": ORG}}
            ),
        )
        self.hub = self.control("POST", "/sts/sessions", {"role_arn": HUB_ROLE, "session_name": "remediator"})

    def control(self, method: str, path: str, body: object | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_corebound{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    def root(self, account: str) -> dict:
        """An administrator's key in `account` (moto maps an access key to its account)."""
        return self.control("POST", f"/accounts/{account}/credentials")

    def _session(self, role_arn: str) -> dict:
        return self.control("POST", "/sts/sessions", {"role_arn": role_arn})

    def client(self, service: str, credentials: dict, region: str = "us-east-1"):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"] or None,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def assume(self, credentials: dict, role_arn: str = SPOKE_ROLE, **extra):
        sts = self.client("sts", credentials)
        return sts.assume_role(RoleArn=role_arn, RoleSessionName="corebound-remediator", **extra)

    def test_the_hub_role_assumes_the_spoke_role_and_acts_in_the_spoke(self) -> None:
        answer = self.assume(self.hub, ExternalId=EXTERNAL_ID)
        spoke = answer["Credentials"]
        self.assertEqual(
            answer["AssumedRoleUser"]["Arn"],
            f"arn:aws:sts::{SPOKE}:assumed-role/LPMA_Corebound_Remediation/corebound-remediator",
        )
        topic = self.client("sns", spoke, "eu-west-1").create_topic(Name="corebound-spoke-topic")["TopicArn"]
        self.assertEqual(topic, f"arn:aws:sns:eu-west-1:{SPOKE}:corebound-spoke-topic")

    def test_refusals_are_sts_access_denied(self) -> None:
        cases = {
            "wrong ExternalId": lambda: self.assume(self.hub, ExternalId="wrong-external-id"),
            "no ExternalId": lambda: self.assume(self.hub),
            "missing role": lambda: self.assume(
                self.hub, role_arn=f"arn:aws:iam::{SPOKE}:role/Absent", ExternalId=EXTERNAL_ID
            ),
            "role in an account without it": lambda: self.assume(
                self.hub, role_arn="arn:aws:iam::333333333333:role/LPMA_Corebound_Remediation", ExternalId=EXTERNAL_ID
            ),
        }
        for case, call in cases.items():
            with self.subTest(case), self.assertRaises(ClientError) as raised:
                call()
            code, status, message = error_of(raised)
            self.assertEqual((code, status), ("AccessDenied", 403), case)
            self.assertIn("is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::", message)
            self.assertIn("assumed-role/LPMA_Corebound_Remediator/remediator", message)

    def test_principal_org_and_principal_are_checked(self) -> None:
        # The caller's account leaves the organization: aws:PrincipalOrgID no longer matches.
        self.control("PUT", "/organizations", {"accounts": {SPOKE: ORG}})
        with self.assertRaises(ClientError) as raised:
            self.assume(self.hub, ExternalId=EXTERNAL_ID)
        self.assertEqual(error_of(raised)[0], "AccessDenied")
        self.control("PUT", "/organizations", {"accounts": {HUB: ORG, SPOKE: ORG}})
        # Another role of the hub account is not the trusted principal.
        self.client("iam", self.hub).create_role(RoleName="Other", AssumeRolePolicyDocument=trust(HUB_ROLE))
        other = self._session(f"arn:aws:iam::{HUB}:role/Other")
        with self.assertRaises(ClientError) as raised:
            self.assume(other, ExternalId=EXTERNAL_ID)
        self.assertEqual(error_of(raised)[0], "AccessDenied")

    def test_expired_sessions_and_denied_actions_answer_as_the_services_do(self) -> None:
        spoke = self.assume(self.hub, ExternalId=EXTERNAL_ID)["Credentials"]
        sns, sqs = self.client("sns", spoke), self.client("sqs", spoke)
        topic = sns.create_topic(Name="t")["TopicArn"]
        self.control("POST", "/iam/deny", {"role_arn": SPOKE_ROLE, "action": "sns:TagResource"})
        with self.assertRaises(ClientError) as raised:
            sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(error_of(raised)[:2], ("AuthorizationError", 403))
        sns.list_tags_for_resource(ResourceArn=topic)  # other actions still allowed
        self.control("POST", "/sts/expire", {"account": SPOKE})
        with self.assertRaises(ClientError) as raised:
            sns.list_tags_for_resource(ResourceArn=topic)
        self.assertEqual(error_of(raised)[0], "ExpiredToken")
        with self.assertRaises(ClientError) as raised:
            sqs.list_queues()
        self.assertIn(error_of(raised)[0], ("ExpiredTokenException", "ExpiredToken"))
        # A fresh session works again.
        fresh = self.assume(self.hub, ExternalId=EXTERNAL_ID)["Credentials"]
        self.client("sns", fresh).list_tags_for_resource(ResourceArn=topic)


if __name__ == "__main__":
    unittest.main()
