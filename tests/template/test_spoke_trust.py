"""The spoke's remediation role, as templates/spoke.yaml writes its trust policy, against an STS
that decides AssumeRole as AWS does (tests/emulator/sts_sessions.py): the role exists in the
spoke account, and only a session of the hub remediator's role, of an account of the
organization, with the ExternalId (either one while it is rotated), gets credentials — which act
in the spoke account.

The trust policy is rendered from the template (not copied), so a change to it is tested here
against the emulator's checks of `sts:ExternalId`, `aws:PrincipalOrgID` and `aws:PrincipalAccount`.
The emulator runs in the emulator's own virtualenv (COREBOUND_PYTHON, set by the Makefile).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from test_organization import HUB_ACCOUNT, ORG, SPOKE, SPOKE_ACCOUNT, SPOKE_PARAMETERS
from test_template import ROOT, Renderer, load

EMULATOR = ROOT / "tests" / "emulator" / "corebound_emulator.py"
PYTHON = os.environ.get("COREBOUND_PYTHON") or str(ROOT / ".venv" / "bin" / "python")
HUB_ROLE = SPOKE_PARAMETERS["HubRemediatorRoleArn"]
OUTSIDER = "333344445555"
OLD_EXTERNAL_ID = "corebound-old-0a9b8c7d6e5f"
LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


class SpokeTrustAgainstSts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process = subprocess.Popen(
            [PYTHON, str(EMULATOR), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = cls.process.stdout.readline().strip()
        if not line.startswith("READY http://127.0.0.1:"):
            cls.process.kill()
            raise RuntimeError(f"emulator did not start: {line!r} {cls.process.stderr.read()}")
        cls.url = line.split(" ", 1)[1]
        cls.spoke = load(SPOKE)

    @classmethod
    def tearDownClass(cls):
        cls.process.send_signal(signal.SIGTERM)
        cls.process.wait(timeout=10)
        cls.process.stdout.close()
        cls.process.stderr.close()

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_corebound{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def client(self, service, credentials):
        return boto3.client(
            service, endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken") or None,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def remediation_role(self, **overrides):
        """The spoke's RemediationRole properties, rendered in the spoke account's us-east-1 instance."""
        render = Renderer(self.spoke, {
            **SPOKE_PARAMETERS, "AWS::AccountId": SPOKE_ACCOUNT, "AWS::Region": "us-east-1", **overrides,
        })
        return render(self.spoke["Resources"]["RemediationRole"]["Properties"])

    def setUp(self):
        self.control("POST", "/reset")
        self.control("PUT", "/organizations", {"accounts": {HUB_ACCOUNT: ORG, SPOKE_ACCOUNT: ORG, OUTSIDER: "o-outsider00"}})
        hub_iam = self.client("iam", self.control("POST", f"/accounts/{HUB_ACCOUNT}/credentials"))
        for name in ("LPMA_Demo_Remediator", "LPMA_Demo_Other"):
            hub_iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)
        self.spoke_iam = self.client("iam", self.control("POST", f"/accounts/{SPOKE_ACCOUNT}/credentials"))
        role = self.remediation_role()
        self.role_arn = self.spoke_iam.create_role(
            RoleName=role["RoleName"],
            AssumeRolePolicyDocument=json.dumps(role["AssumeRolePolicyDocument"]),
            MaxSessionDuration=role["MaxSessionDuration"],
        )["Role"]["Arn"]
        self.assertEqual(self.role_arn, f"arn:aws:iam::{SPOKE_ACCOUNT}:role/LPMA_Demo_Remediation")
        self.hub = self.session(HUB_ROLE)

    def session(self, role_arn):
        return self.control("POST", "/sts/sessions", {"role_arn": role_arn, "session_name": "remediator"})

    def assume(self, caller, external_id):
        arguments = {"RoleArn": self.role_arn, "RoleSessionName": "corebound-remediator"}
        if external_id is not None:
            arguments["ExternalId"] = external_id
        return self.client("sts", caller).assume_role(**arguments)["Credentials"]

    def assert_refused(self, caller, external_id):
        with self.assertRaises(ClientError) as refused:
            self.assume(caller, external_id)
        self.assertEqual(refused.exception.response["Error"]["Code"], "AccessDenied")

    def set_trust(self, **overrides):
        document = self.remediation_role(**overrides)["AssumeRolePolicyDocument"]
        self.spoke_iam.update_assume_role_policy(RoleName="LPMA_Demo_Remediation", PolicyDocument=json.dumps(document))

    def test_the_hub_remediator_with_the_external_id_acts_in_the_spoke_account(self):
        credentials = self.assume(self.hub, SPOKE_PARAMETERS["ExternalId"])
        identity = self.client("sts", {**credentials}).get_caller_identity()
        self.assertEqual(identity["Account"], SPOKE_ACCOUNT)
        self.assertTrue(identity["Arn"].endswith(":assumed-role/LPMA_Demo_Remediation/corebound-remediator"))

    def test_a_wrong_or_missing_external_id_is_refused(self):
        self.assert_refused(self.hub, "corebound-wrong-value")
        self.assert_refused(self.hub, None)

    def test_another_role_of_the_hub_account_is_refused(self):
        self.assert_refused(self.session(f"arn:aws:iam::{HUB_ACCOUNT}:role/LPMA_Demo_Other"), SPOKE_PARAMETERS["ExternalId"])

    def test_the_hub_outside_the_organization_is_refused(self):
        self.control("PUT", "/organizations", {"accounts": {HUB_ACCOUNT: "o-outsider00", SPOKE_ACCOUNT: ORG}})
        self.assert_refused(self.hub, SPOKE_PARAMETERS["ExternalId"])

    def test_rotation_accepts_both_values_then_only_the_new_one(self):
        new = SPOKE_PARAMETERS["ExternalId"]
        # Step 1 of docs/organization.md: the spokes accept the new value and the old one.
        self.set_trust(ExternalId=new, PreviousExternalId=OLD_EXTERNAL_ID)
        self.assertTrue(self.assume(self.hub, OLD_EXTERNAL_ID)["AccessKeyId"])
        self.assertTrue(self.assume(self.hub, new)["AccessKeyId"])
        # Step 3: the old value is dropped.
        self.set_trust(ExternalId=new, PreviousExternalId="")
        self.assert_refused(self.hub, OLD_EXTERNAL_ID)
        self.assertTrue(self.assume(self.hub, new)["AccessKeyId"])


if __name__ == "__main__":
    unittest.main()
