#!/usr/bin/env python3
"""Self-test of the corebound emulator: `python3 tests/emulator/test_emulator.py`.

Starts the emulator on a free port and drives it with boto3 (whose service models are the same
ones the Rust SDK is generated from), so shapes, error codes and status codes are checked by a
real AWS client.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import unittest
import urllib.request
from pathlib import Path
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EMULATOR = Path(__file__).with_name("corebound_emulator.py")
ACCOUNT = "123456789012"
REGION = "us-east-1"
RUNTIME_ARN = re.compile(rf"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/demo_agent-[a-zA-Z0-9]{{10}}")


def start_emulator() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(EMULATOR), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = process.stdout.readline().strip()
    if not line.startswith("READY http://127.0.0.1:"):
        process.kill()
        raise RuntimeError(f"emulator did not start: {line!r} {process.stderr.read()}")
    return process, line.split(" ", 1)[1]


def error_of(context) -> tuple[str, int, str]:
    response = context.exception.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Message", "")


class EmulatorTest(unittest.TestCase):
    process: subprocess.Popen
    url: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.process, cls.url = start_emulator()
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
        config = Config(retries={"total_max_attempts": 1})
        client = lambda name: session.client(name, endpoint_url=cls.url, config=config)  # noqa: E731
        cls.agentcore = client("bedrock-agentcore-control")
        cls.iam = client("iam")
        cls.logs = client("logs")
        cls.kms = client("kms")
        cls.s3 = session.client("s3", endpoint_url=cls.url, config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))
        cls.sqs = client("sqs")
        cls.sns = client("sns")
        cls.tagging = client("resourcegroupstaggingapi")
        cls.cloudformation = client("cloudformation")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.send_signal(signal.SIGTERM)
        assert cls.process.wait(timeout=10) == 0, "SIGTERM must stop the emulator cleanly"
        cls.process.stdout.close()
        cls.process.stderr.close()

    def setUp(self) -> None:
        self.control("POST", "/reset")

    # --- helpers ---------------------------------------------------------------------------

    def control(self, method: str, path: str, body: object | None = None, expect: int = 200) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_corebound{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request) as response:
                status, payload = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, payload = error.code, json.loads(error.read())
        self.assertEqual(status, expect, payload)
        return payload

    def signed(self, method: str, path: str, service: str, body: bytes = b"", headers: dict | None = None):
        """A raw request carrying a SigV4-shaped Authorization header (signatures are not checked)."""
        request = urllib.request.Request(f"{self.url}{path}", data=body or None, method=method)
        request.add_header(
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0",
        )
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def seed_runtime(self, **spec) -> dict:
        return self.control("POST", "/agentcore/runtimes", {"name": "demo_agent", **spec})

    def requests(self) -> list[dict]:
        return self.control("GET", "/requests")["requests"]

    @staticmethod
    def policy(resource: str | list, principal: str = "111122223333", sid: str = "Grant") -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": sid,
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{principal}:root"},
                        "Action": "bedrock-agentcore:InvokeAgentRuntime",
                        "Resource": resource,
                    }
                ],
            }
        )

    # --- AgentCore: runtimes and endpoints -------------------------------------------------

    def test_runtime_and_endpoints_have_aws_shapes(self) -> None:
        seeded = self.seed_runtime(endpoints=["DEFAULT", "prod"], tags={"Project": "demo"})
        self.assertRegex(seeded["agentRuntimeArn"], RUNTIME_ARN)
        self.assertEqual(seeded["agentRuntimeArn"], f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/{seeded['agentRuntimeId']}")
        self.assertEqual(
            seeded["endpointArns"],
            [f"{seeded['agentRuntimeArn']}/runtime-endpoint/DEFAULT", f"{seeded['agentRuntimeArn']}/runtime-endpoint/prod"],
        )

        runtime = self.agentcore.get_agent_runtime(agentRuntimeId=seeded["agentRuntimeId"])
        self.assertEqual(runtime["agentRuntimeArn"], seeded["agentRuntimeArn"])
        self.assertEqual(runtime["status"], "READY")
        self.assertEqual(runtime["agentRuntimeVersion"], "1")
        self.assertEqual(runtime["networkConfiguration"], {"networkMode": "PUBLIC"})
        self.assertIn("roleArn", runtime)
        self.assertIsNotNone(runtime["createdAt"].tzinfo)  # parsed as an ISO 8601 timestamp

        listed = self.agentcore.list_agent_runtimes()["agentRuntimes"]
        self.assertEqual([r["agentRuntimeId"] for r in listed], [seeded["agentRuntimeId"]])

        endpoint = self.agentcore.get_agent_runtime_endpoint(agentRuntimeId=seeded["agentRuntimeId"], endpointName="prod")
        self.assertEqual(endpoint["agentRuntimeEndpointArn"], seeded["endpointArns"][1])
        self.assertEqual(endpoint["agentRuntimeArn"], seeded["agentRuntimeArn"])
        self.assertRegex(endpoint["id"], r"^prod-[a-zA-Z0-9]{10}$")
        endpoints = self.agentcore.list_agent_runtime_endpoints(agentRuntimeId=seeded["agentRuntimeId"])["runtimeEndpoints"]
        self.assertEqual(sorted(e["name"] for e in endpoints), ["DEFAULT", "prod"])

        self.control("POST", f"/agentcore/runtimes/{seeded['agentRuntimeId']}/status", {"status": "UPDATE_FAILED"})
        runtime = self.agentcore.get_agent_runtime(agentRuntimeId=seeded["agentRuntimeId"])
        self.assertEqual(runtime["status"], "UPDATE_FAILED")
        self.assertIn("failureReason", runtime)

    def test_runtime_errors(self) -> None:
        with self.assertRaises(ClientError) as missing:
            self.agentcore.get_agent_runtime(agentRuntimeId="absent_agent-AbCdEf1234")
        self.assertEqual(error_of(missing)[:2], ("ResourceNotFoundException", 404))
        with self.assertRaises(ClientError) as malformed:
            self.agentcore.get_agent_runtime(agentRuntimeId="not-an-id")
        self.assertEqual(error_of(malformed)[:2], ("ValidationException", 400))
        self.assertEqual(malformed.exception.response["reason"], "FieldValidationFailed")
        seeded = self.seed_runtime()
        with self.assertRaises(ClientError) as no_endpoint:
            self.agentcore.get_agent_runtime_endpoint(agentRuntimeId=seeded["agentRuntimeId"], endpointName="prod")
        self.assertEqual(error_of(no_endpoint)[:2], ("ResourceNotFoundException", 404))
        # A runtime lives in its region: the same id asked of another region is not found.
        other_region = boto3.client(
            "bedrock-agentcore-control", endpoint_url=self.url, region_name="eu-west-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        )
        with self.assertRaises(ClientError) as elsewhere:
            other_region.get_agent_runtime(agentRuntimeId=seeded["agentRuntimeId"])
        self.assertEqual(error_of(elsewhere)[0], "ResourceNotFoundException")

    def test_agentcore_resources_live_in_their_account(self) -> None:
        other = "222233334444"
        seeded = self.seed_runtime(account=other, region=REGION)
        arn = seeded["agentRuntimeArn"]
        self.assertEqual(arn.split(":")[4], other)
        self.assertEqual(seeded["roleArn"].split(":")[4], other)
        memory = self.control("POST", "/agentcore/memories", {"name": "demo_memory", "account": other})
        # The default account neither lists nor reads them, and may not touch their policy or tags.
        self.assertEqual(self.agentcore.list_agent_runtimes()["agentRuntimes"], [])
        self.assertEqual(self.agentcore.list_memories()["memories"], [])
        with self.assertRaises(ClientError) as hidden:
            self.agentcore.get_agent_runtime(agentRuntimeId=seeded["agentRuntimeId"])
        self.assertEqual(error_of(hidden)[0], "ResourceNotFoundException")
        for call in (
            lambda: self.agentcore.get_resource_policy(resourceArn=arn),
            lambda: self.agentcore.tag_resource(resourceArn=memory["arn"], tags={"Project": "x"}),
        ):
            with self.assertRaises(ClientError) as denied:
                call()
            self.assertEqual(error_of(denied)[0], "AccessDeniedException")
        # That account's own credentials see them.
        key = self.control("POST", f"/accounts/{other}/credentials")
        theirs = boto3.client(
            "bedrock-agentcore-control", endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
            aws_session_token=key.get("SessionToken") or None,
        )
        self.assertEqual([r["agentRuntimeArn"] for r in theirs.list_agent_runtimes()["agentRuntimes"]], [arn])
        theirs.tag_resource(resourceArn=memory["arn"], tags={"Project": "x"})
        self.assertEqual(theirs.list_tags_for_resource(resourceArn=memory["arn"])["tags"], {"Project": "x"})
        self.assertIn("error", self.control("POST", "/agentcore/gateways", {"name": "gw", "account": "12"}, expect=400))

    def test_seed_with_fixed_id_and_validation(self) -> None:
        seeded = self.seed_runtime(id="demo_agent-Fixed12345", region="us-west-2")
        self.assertEqual(seeded["agentRuntimeArn"], f"arn:aws:bedrock-agentcore:us-west-2:{ACCOUNT}:runtime/demo_agent-Fixed12345")
        self.assertIn("error", self.control("POST", "/agentcore/runtimes", {"name": "bad-name"}, expect=400))
        self.assertIn("error", self.control("POST", "/agentcore/runtimes", {"name": "ok", "colour": "red"}, expect=400))
        self.assertIn("error", self.control("POST", "/agentcore/runtimes/absent-AbCdEf1234/status", {"status": "READY"}, expect=404))

    def test_moto_agentcore_backend_is_shadowed(self) -> None:
        # moto 5.2.1 implements CreateAgentRuntime itself; here no AgentCore request reaches moto.
        with self.assertRaises(ClientError) as context:
            self.agentcore.create_agent_runtime(
                agentRuntimeName="shadowed",
                agentRuntimeArtifact={"containerConfiguration": {"containerUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/a:latest"}},
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                networkConfiguration={"networkMode": "PUBLIC"},
            )
        self.assertEqual(error_of(context)[:2], ("UnknownOperationException", 404))
        self.assertEqual(self.agentcore.list_agent_runtimes()["agentRuntimes"], [])

    # --- AgentCore: resource policies ------------------------------------------------------

    def test_resource_policy_lifecycle(self) -> None:
        seeded = self.seed_runtime()
        runtime_arn, endpoint_arn = seeded["agentRuntimeArn"], seeded["endpointArns"][0]

        self.assertNotIn("policy", self.agentcore.get_resource_policy(resourceArn=runtime_arn))

        document = self.policy(runtime_arn)
        put = self.agentcore.put_resource_policy(resourceArn=runtime_arn, policy=document)
        self.assertEqual(put["ResponseMetadata"]["HTTPStatusCode"], 201)
        self.assertEqual(put["policy"], document)
        self.agentcore.put_resource_policy(resourceArn=endpoint_arn, policy=self.policy([endpoint_arn]))
        self.assertEqual(self.agentcore.get_resource_policy(resourceArn=runtime_arn)["policy"], document)
        self.assertEqual(set(self.control("GET", "/agentcore/policies")), {runtime_arn, endpoint_arn})

        deleted = self.agentcore.delete_resource_policy(resourceArn=runtime_arn)
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assertNotIn("policy", self.agentcore.get_resource_policy(resourceArn=runtime_arn))
        with self.assertRaises(ClientError) as again:
            self.agentcore.delete_resource_policy(resourceArn=runtime_arn)
        self.assertEqual(error_of(again)[:2], ("ResourceNotFoundException", 404))

        # Deleting the runtime takes its endpoints' policies with it.
        self.control("DELETE", f"/agentcore/runtimes/{seeded['agentRuntimeId']}")
        self.assertEqual(self.control("GET", "/agentcore/policies"), {})
        with self.assertRaises(ClientError) as gone:
            self.agentcore.get_resource_policy(resourceArn=endpoint_arn)
        self.assertEqual(error_of(gone)[:2], ("ResourceNotFoundException", 404))

    def test_normalised_policy_storage(self) -> None:
        seeded = self.seed_runtime()
        runtime_arn = seeded["agentRuntimeArn"]
        role = "arn:aws:iam::210987654321:role/LPMA_Pay_Caller"
        written = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Grant",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["210987654321", role]},
                    "Action": ["bedrock-agentcore:InvokeAgentRuntime"],
                    "Resource": [runtime_arn],
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]}},
                }
            ],
        }
        self.assertEqual(self.control("PUT", "/agentcore/policy-storage", {"mode": "normalised"})["mode"], "normalised")
        self.agentcore.put_resource_policy(resourceArn=runtime_arn, policy=json.dumps(written, indent=2))
        stored = self.agentcore.get_resource_policy(resourceArn=runtime_arn)["policy"]
        self.assertNotIn(" ", stored)
        statement = json.loads(stored)["Statement"][0]
        self.assertEqual(list(statement), sorted(statement))
        self.assertEqual(statement["Principal"]["AWS"], ["arn:aws:iam::210987654321:root", role])
        self.assertEqual(statement["Action"], "bedrock-agentcore:InvokeAgentRuntime")
        self.assertEqual(statement["Resource"], runtime_arn)
        self.assertEqual(statement["Condition"], {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})

        # A deleted role is shown as its unique id.
        shown = self.control("PUT", "/agentcore/policy-storage", {"mode": "normalised", "deletedPrincipals": [role]})
        unique = shown["deletedPrincipals"][role]
        self.assertRegex(unique, r"^AROA[A-Z0-9]{17}$")
        statement = json.loads(self.agentcore.get_resource_policy(resourceArn=runtime_arn)["policy"])["Statement"][0]
        self.assertEqual(statement["Principal"]["AWS"], ["arn:aws:iam::210987654321:root", unique])
        self.assertIn("error", self.control("PUT", "/agentcore/policy-storage", {"mode": "verbatim", "deletedPrincipals": [role]}, expect=400))

        # Reset returns to verbatim storage.
        self.control("POST", "/reset")
        seeded = self.seed_runtime()
        document = self.policy(seeded["agentRuntimeArn"])
        self.agentcore.put_resource_policy(resourceArn=seeded["agentRuntimeArn"], policy=document)
        self.assertEqual(self.agentcore.get_resource_policy(resourceArn=seeded["agentRuntimeArn"])["policy"], document)

    def test_resource_policy_validation(self) -> None:
        seeded = self.seed_runtime()
        runtime_arn, endpoint_arn = seeded["agentRuntimeArn"], seeded["endpointArns"][0]
        other = self.seed_runtime(name="other_agent")["agentRuntimeArn"]
        rejected = {
            "wildcard resource": (runtime_arn, self.policy(f"{runtime_arn[:-3]}*")),
            "question mark": (runtime_arn, self.policy(runtime_arn[:-1] + "?")),
            "another runtime": (runtime_arn, self.policy(other)),
            "runtime ARN in endpoint policy": (endpoint_arn, self.policy(runtime_arn)),
            "not JSON": (runtime_arn, "{not json"),
            "no Version": (runtime_arn, json.dumps({"Statement": [json.loads(self.policy(runtime_arn))["Statement"][0]]})),
            "no Statement": (runtime_arn, json.dumps({"Version": "2012-10-17"})),
            "too long": (runtime_arn, self.policy(runtime_arn) + " " * 20480),
            "wildcard target ARN": (runtime_arn.replace("demo_agent", "*"), self.policy(runtime_arn)),
            "malformed target ARN": (f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:agent/x", self.policy(runtime_arn)),
        }
        for case, (arn, document) in rejected.items():
            with self.subTest(case), self.assertRaises(ClientError) as context:
                self.agentcore.put_resource_policy(resourceArn=arn, policy=document)
            self.assertEqual(error_of(context)[:2], ("ValidationException", 400), case)
        self.assertEqual(self.control("GET", "/agentcore/policies"), {})

        # A statement without Resource is accepted: the resource is implicit in a resource policy.
        implicit = json.loads(self.policy(runtime_arn))
        del implicit["Statement"][0]["Resource"]
        self.agentcore.put_resource_policy(resourceArn=runtime_arn, policy=json.dumps(implicit))

        absent = runtime_arn.rsplit("-", 1)[0] + "-ZZZZZZZZZZ"
        with self.assertRaises(ClientError) as missing:
            self.agentcore.put_resource_policy(resourceArn=absent, policy=self.policy(absent))
        self.assertEqual(error_of(missing)[:2], ("ResourceNotFoundException", 404))

        status, headers, body = self.signed(
            "PUT", f"/resourcepolicy/{quote(runtime_arn, safe='')}", "bedrock-agentcore",
            json.dumps({"policy": self.policy(runtime_arn), "extra": 1}).encode(), {"Content-Type": "application/json"},
        )
        self.assertEqual((status, headers["x-amzn-ErrorType"]), (400, "ValidationException"))
        self.assertIn("extra", json.loads(body)["message"])

    def test_gateway_and_memory_take_policies(self) -> None:
        gateway = self.control("POST", "/agentcore/gateways", {"name": "demo-gateway"})
        memory = self.control("POST", "/agentcore/memories", {"name": "demo_memory"})
        for arn in (gateway["gatewayArn"], memory["arn"]):
            self.agentcore.put_resource_policy(resourceArn=arn, policy=self.policy(arn))
            self.assertEqual(json.loads(self.agentcore.get_resource_policy(resourceArn=arn)["policy"])["Statement"][0]["Resource"], arn)

    # --- AgentCore: tags, memories, gateways -----------------------------------------------

    def test_tags(self) -> None:
        arn = self.seed_runtime(tags={"Owner": "team"})["agentRuntimeArn"]
        self.assertEqual(self.agentcore.list_tags_for_resource(resourceArn=arn)["tags"], {"Owner": "team"})
        tagged = self.agentcore.tag_resource(resourceArn=arn, tags={"Project": "demo", "Owner": "platform"})
        self.assertEqual(tagged["ResponseMetadata"]["HTTPStatusCode"], 204)
        self.assertEqual(self.agentcore.list_tags_for_resource(resourceArn=arn)["tags"], {"Owner": "platform", "Project": "demo"})
        self.agentcore.untag_resource(resourceArn=arn, tagKeys=["Owner", "NotThere"])
        self.assertEqual(self.agentcore.list_tags_for_resource(resourceArn=arn)["tags"], {"Project": "demo"})
        with self.assertRaises(ClientError) as missing:
            self.agentcore.tag_resource(resourceArn=arn[:-10] + "ZZZZZZZZZZ", tags={"A": "b"})
        self.assertEqual(error_of(missing)[:2], ("ResourceNotFoundException", 404))
        with self.assertRaises(ClientError) as reserved:
            self.agentcore.tag_resource(resourceArn=arn, tags={"aws:cloudformation:stack-name": "x"})
        self.assertEqual(error_of(reserved)[0], "ValidationException")

    def test_memory(self) -> None:
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
        seeded = self.control("POST", "/agentcore/memories", {"name": "demo_memory", "encryptionKeyArn": key, "tags": {"A": "b"}})
        self.assertRegex(seeded["arn"], rf"^arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:memory/demo_memory-[a-zA-Z0-9]{{10}}$")
        memory = self.agentcore.get_memory(memoryId=seeded["id"])["memory"]
        self.assertEqual((memory["arn"], memory["encryptionKeyArn"], memory["status"]), (seeded["arn"], key, "ACTIVE"))
        self.assertIsNotNone(memory["createdAt"].tzinfo)  # epoch seconds, parsed
        plain = self.control("POST", "/agentcore/memories", {"name": "plain_memory"})
        self.assertNotIn("encryptionKeyArn", self.agentcore.get_memory(memoryId=plain["id"])["memory"])
        first = self.agentcore.list_memories(maxResults=1)
        second = self.agentcore.list_memories(maxResults=1, nextToken=first["nextToken"])
        self.assertEqual([m["id"] for m in first["memories"] + second["memories"]], [seeded["id"], plain["id"]])
        self.assertNotIn("nextToken", second)
        self.assertEqual(self.agentcore.list_tags_for_resource(resourceArn=seeded["arn"])["tags"], {"A": "b"})
        with self.assertRaises(ClientError) as missing:
            self.agentcore.get_memory(memoryId="absent_memory-AbCdEf1234")
        self.assertEqual(error_of(missing)[:2], ("ResourceNotFoundException", 404))

    def test_gateway(self) -> None:
        seeded = self.control("POST", "/agentcore/gateways", {"name": "Demo-Gateway"})
        self.assertRegex(seeded["gatewayId"], r"^demo-gateway-[a-z0-9]{10}$")
        self.assertEqual(seeded["gatewayArn"], f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:gateway/{seeded['gatewayId']}")
        gateway = self.agentcore.get_gateway(gatewayIdentifier=seeded["gatewayId"])
        self.assertEqual((gateway["status"], gateway["authorizerType"], gateway["name"]), ("READY", "AWS_IAM", "Demo-Gateway"))
        self.assertEqual([g["gatewayId"] for g in self.agentcore.list_gateways()["items"]], [seeded["gatewayId"]])
        with self.assertRaises(ClientError) as missing:
            self.agentcore.get_gateway(gatewayIdentifier="absent-gateway-abcdefghij")
        self.assertEqual(error_of(missing)[:2], ("ResourceNotFoundException", 404))

    def test_memory_tags_answer_both_ways(self) -> None:
        memory = self.control("POST", "/agentcore/memories", {"name": "tagged_memory", "tags": {"A": "b"}})
        runtime = self.seed_runtime()["agentRuntimeArn"]
        self.assertEqual(self.agentcore.list_tags_for_resource(resourceArn=memory["arn"])["tags"], {"A": "b"})
        self.assertEqual(self.control("PUT", "/agentcore/settings", {"memoryTags": "read-only"}), {"memoryTags": "read-only"})
        self.assertEqual(self.agentcore.list_tags_for_resource(resourceArn=memory["arn"])["tags"], {"A": "b"})
        with self.assertRaises(ClientError) as refused:
            self.agentcore.tag_resource(resourceArn=memory["arn"], tags={"C": "d"})
        self.assertEqual(error_of(refused)[:2], ("ValidationException", 400))
        self.control("PUT", "/agentcore/settings", {"memoryTags": "unsupported"})
        with self.assertRaises(ClientError) as unreadable:
            self.agentcore.list_tags_for_resource(resourceArn=memory["arn"])
        self.assertEqual(error_of(unreadable)[:2], ("ValidationException", 400))
        self.agentcore.tag_resource(resourceArn=runtime, tags={"C": "d"})  # other resources unchanged
        self.control("PUT", "/agentcore/settings", {"memoryTags": "sometimes"}, expect=400)
        self.control("POST", "/reset")
        self.assertEqual(self.control("PUT", "/agentcore/settings", {}), {"memoryTags": "supported"})

    def test_s3_race_replaces_the_tag_set_after_the_nth_call(self) -> None:
        self.s3.create_bucket(Bucket="raced")
        self.s3.put_bucket_tagging(Bucket="raced", Tagging={"TagSet": [{"Key": "Team", "Value": "data"}]})
        self.control("POST", "/s3/races", {"bucket": "raced", "after": "GetBucketTagging", "nth": 2, "tags": {"Owner": "cfn"}})
        first = self.s3.get_bucket_tagging(Bucket="raced")["TagSet"]
        self.assertEqual(first, [{"Key": "Team", "Value": "data"}])
        second = self.s3.get_bucket_tagging(Bucket="raced")["TagSet"]
        self.assertEqual(second, [{"Key": "Team", "Value": "data"}], "the race fires after the answer")
        self.assertEqual(self.s3.get_bucket_tagging(Bucket="raced")["TagSet"], [{"Key": "Owner", "Value": "cfn"}])
        state = self.control("GET", "/s3/races")
        self.assertEqual((len(state["pending"]), len(state["fired"])), (0, 1))
        operations = [r["operation"] for r in self.requests()]
        self.assertEqual(operations.count("PutBucketTagging"), 1, "the other writer is not in the request log")
        self.control("POST", "/s3/races", {"bucket": "raced", "after": "DeleteBucket", "tags": {}}, expect=400)
        self.control("POST", "/s3/races", {"bucket": "raced", "after": "PutBucketTagging", "tags": {"A": 1}}, expect=400)

    # --- IAM SimulatePrincipalPolicy -------------------------------------------------------

    def create_role(self, name: str = "LPMA_runtime") -> str:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        boundary = self.iam.create_policy(
            PolicyName="boundary", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        )["Policy"]["Arn"]
        return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), PermissionsBoundary=boundary)["Role"]["Arn"]

    def test_simulation_is_scripted(self) -> None:
        role = self.create_role()
        memory = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:memory/demo_memory-AbCdEf1234"
        self.control("PUT", "/iam/simulation", {
            "mode": "scripted",
            "decisions": [
                {"action": "bedrock-agentcore:CreateEvent", "resource": memory, "decision": "allowed",
                 "matchedStatements": [{"sourcePolicyId": "AgentCoreMemory-Grant", "sourcePolicyType": "role"}]},
                {"action": "bedrock-agentcore:ListEvents", "resource": memory, "decision": "implicitDeny", "allowedByPermissionsBoundary": False},
                {"action": "bedrock-agentcore:DeleteEvent", "decision": "explicitDeny"},
            ],
        })
        results = self.iam.simulate_principal_policy(
            PolicySourceArn=role,
            ActionNames=["bedrock-agentcore:CreateEvent", "bedrock-agentcore:ListEvents", "bedrock-agentcore:DeleteEvent", "bedrock-agentcore:GetEvent"],
            ResourceArns=[memory],
        )
        self.assertFalse(results["IsTruncated"])
        by_action = {r["EvalActionName"]: r for r in results["EvaluationResults"]}
        self.assertEqual(
            {a: (r["EvalResourceName"], r["EvalDecision"], r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"]) for a, r in by_action.items()},
            {
                "bedrock-agentcore:CreateEvent": (memory, "allowed", True),
                "bedrock-agentcore:ListEvents": (memory, "implicitDeny", False),
                "bedrock-agentcore:DeleteEvent": (memory, "explicitDeny", True),
                "bedrock-agentcore:GetEvent": (memory, "implicitDeny", True),  # unscripted
            },
        )
        create = by_action["bedrock-agentcore:CreateEvent"]
        self.assertEqual(create["MatchedStatements"], [{"SourcePolicyId": "AgentCoreMemory-Grant", "SourcePolicyType": "role"}])
        self.assertEqual(create["MissingContextValues"], [])
        self.assertEqual(
            [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in create["ResourceSpecificResults"]], [(memory, "allowed")]
        )

    def test_simulation_aggregates_resources_per_action(self) -> None:
        role = self.create_role()
        runtime = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/demo_agent-AbCdEf1234"
        endpoint = f"{runtime}/runtime-endpoint/DEFAULT"
        self.control("PUT", "/iam/simulation", {"decisions": [
            {"action": "bedrock-agentcore:InvokeAgentRuntime", "resource": runtime, "decision": "allowed"},
        ]})
        [result] = self.iam.simulate_principal_policy(
            PolicySourceArn=role, ActionNames=["bedrock-agentcore:InvokeAgentRuntime"], ResourceArns=[runtime, endpoint]
        )["EvaluationResults"]
        self.assertEqual(result["EvalDecision"], "implicitDeny")  # the most restrictive of the two
        self.assertNotIn("EvalResourceName", result)
        self.assertEqual(
            [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in result["ResourceSpecificResults"]],
            [(runtime, "allowed"), (endpoint, "implicitDeny")],
        )

    def test_simulation_eventual_consistency_and_access_denied(self) -> None:
        role = self.create_role()
        memory = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:memory/demo_memory-AbCdEf1234"
        self.control("PUT", "/iam/simulation", {
            "decisions": [{"action": "bedrock-agentcore:CreateEvent", "resource": memory, "decision": "allowed"}],
            "deniesBeforeAllow": 2,
        })
        decisions = [
            self.iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["bedrock-agentcore:CreateEvent"], ResourceArns=[memory])
            ["EvaluationResults"][0]["EvalDecision"]
            for _ in range(3)
        ]
        self.assertEqual(decisions, ["implicitDeny", "implicitDeny", "allowed"])

        self.control("PUT", "/iam/simulation", {"mode": "access-denied"})
        with self.assertRaises(ClientError) as denied:
            self.iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["bedrock-agentcore:CreateEvent"])
        self.assertEqual(error_of(denied)[:2], ("AccessDenied", 403))
        self.assertIn("iam:SimulatePrincipalPolicy", error_of(denied)[2])

        with self.assertRaises(ClientError) as missing:
            self.iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/absent", ActionNames=["s3:GetObject"])
        self.assertEqual(error_of(missing)[:2], ("NoSuchEntity", 404))
        self.assertIn("error", self.control("PUT", "/iam/simulation", {"mode": "maybe"}, expect=400))

    def test_simulation_reports_missing_context_values_per_resource(self) -> None:
        role = self.create_role()
        memory = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:memory/demo_memory-AbCdEf1234"
        self.control("PUT", "/iam/simulation", {"decisions": [
            {"action": "bedrock-agentcore:GetEvent", "decision": "allowed",
             "contextKeys": {"aws:RequestedRegion": [REGION], "aws:PrincipalTag/Team": None}},
        ]})
        simulate = lambda **kw: self.iam.simulate_principal_policy(  # noqa: E731
            PolicySourceArn=role, ActionNames=["bedrock-agentcore:GetEvent"], **kw)["EvaluationResults"][0]
        # Nothing supplied: implicitDeny, the keys listed per resource (the top level stays empty).
        result = simulate(ResourceArns=[memory])
        self.assertEqual(result["EvalDecision"], "implicitDeny")
        self.assertEqual(result["MissingContextValues"], [])
        [specific] = result["ResourceSpecificResults"]
        self.assertEqual(specific["EvalResourceDecision"], "implicitDeny")
        self.assertEqual(specific["MissingContextValues"], ["aws:RequestedRegion", "aws:PrincipalTag/Team"])
        self.assertFalse(specific["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"])
        # Without ResourceArns the keys are listed at the top level.
        self.assertEqual(simulate()["MissingContextValues"], ["aws:RequestedRegion", "aws:PrincipalTag/Team"])
        # Key names are case-insensitive; a value outside the condition is a plain implicitDeny.
        entry = lambda name, values: {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": "string"}  # noqa: E731
        supplied = simulate(ResourceArns=[memory], ContextEntries=[entry("aws:requestedregion", [REGION]), entry("aws:PrincipalTag/Team", ["pay"])])
        self.assertEqual(supplied["EvalDecision"], "allowed")
        self.assertEqual(supplied["ResourceSpecificResults"][0]["MissingContextValues"], [])
        elsewhere = simulate(ResourceArns=[memory], ContextEntries=[entry("aws:RequestedRegion", ["eu-west-1"]), entry("aws:PrincipalTag/Team", ["pay"])])
        self.assertEqual((elsewhere["EvalDecision"], elsewhere["ResourceSpecificResults"][0]["MissingContextValues"]), ("implicitDeny", []))

    def test_simulation_reports_a_service_control_policy_per_action(self) -> None:
        role = self.create_role()
        runtime = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/demo_agent-AbCdEf1234"
        self.control("PUT", "/iam/simulation", {"decisions": [
            {"action": "bedrock-agentcore:InvokeAgentRuntime", "decision": "explicitDeny", "allowedByOrganizations": False},
            {"action": "bedrock-agentcore:GetAgentCard", "decision": "allowed"},
        ]})
        results = self.iam.simulate_principal_policy(
            PolicySourceArn=role, ActionNames=["bedrock-agentcore:InvokeAgentRuntime", "bedrock-agentcore:GetAgentCard"], ResourceArns=[runtime]
        )["EvaluationResults"]
        self.assertEqual(results[0]["OrganizationsDecisionDetail"], {"AllowedByOrganizations": False})
        self.assertEqual(results[0]["EvalDecision"], "explicitDeny")
        self.assertNotIn("OrganizationsDecisionDetail", results[1])
        refused = {"action": "x:Y", "decision": "allowed", "allowedByOrganizations": False}
        self.assertIn("cannot be 'allowed'", self.control("PUT", "/iam/simulation", {"decisions": [refused]}, expect=400)["error"])

    def test_role_names_are_case_insensitive_as_in_iam(self) -> None:
        arn = self.create_role("lpma_Pay_Runtime")
        role = self.iam.get_role(RoleName="LPMA_Pay_Runtime")["Role"]
        self.assertEqual((role["RoleName"], role["Arn"]), ("lpma_Pay_Runtime", arn))
        self.iam.put_role_policy(RoleName="LPMA_PAY_RUNTIME", PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
        self.assertEqual(self.iam.list_role_policies(RoleName="lpma_Pay_Runtime")["PolicyNames"], ["p"])
        trust = {"Version": "2012-10-17", "Statement": []}
        with self.assertRaises(ClientError) as duplicate:
            self.iam.create_role(RoleName="LPMA_pay_runtime", AssumeRolePolicyDocument=json.dumps(trust))
        self.assertEqual(error_of(duplicate)[:2], ("EntityAlreadyExists", 409))

    def test_inline_policies_can_be_returned_normalised(self) -> None:
        self.create_role("LPMA_runtime")
        written = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow",
                   "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}]}
        self.iam.put_role_policy(RoleName="LPMA_runtime", PolicyName="p", PolicyDocument=json.dumps(written))
        as_written = self.iam.get_role_policy(RoleName="LPMA_runtime", PolicyName="p")["PolicyDocument"]
        self.assertEqual(as_written, written)  # boto3 URL-decodes and parses it
        self.assertEqual(self.control("PUT", "/iam/inline-policies", {"normalise": True}), {"normalise": True})
        stored = self.iam.get_role_policy(RoleName="lpma_RUNTIME", PolicyName="p")
        self.assertEqual(stored["RoleName"], "LPMA_runtime")
        self.assertEqual(stored["PolicyDocument"], {"Version": "2012-10-17", "Statement": {
            "Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::b/*"]}})
        with self.assertRaises(ClientError) as missing:
            self.iam.get_role_policy(RoleName="LPMA_runtime", PolicyName="absent")
        self.assertEqual(error_of(missing)[:2], ("NoSuchEntity", 404))
        self.assertIn("error", self.control("PUT", "/iam/inline-policies", {"normalise": "yes"}, expect=400))

    def test_other_iam_calls_reach_moto(self) -> None:
        role = self.create_role("LPMA_other")
        self.assertEqual(self.iam.get_role(RoleName="LPMA_other")["Role"]["Arn"], role)
        self.assertEqual(self.requests()[-1], {"service": "iam", "operation": "GetRole", "method": "POST", "path": "/", "status": 200, "account": ACCOUNT, "region": REGION})

    # --- CloudFormation stacks (the preflight hook reads their tags) -----------------------

    def test_stack_with_a_fixed_id_answers_describe_stacks_by_id_and_name(self) -> None:
        stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/demo-app/7d5e1f60-8f3a-11ef-9c1d-0a1b2c3d4e5f"
        created = self.control("POST", "/cloudformation/stacks", {"stackId": stack_id, "tags": {"Project": "corebound"}})
        self.assertEqual(created["StackId"], stack_id)
        for name in (stack_id, "demo-app"):
            [stack] = self.cloudformation.describe_stacks(StackName=name)["Stacks"]
            self.assertEqual(stack["StackId"], stack_id)
            self.assertEqual(stack["Tags"], [{"Key": "Project", "Value": "corebound"}])
        with self.assertRaises(ClientError) as missing:
            self.cloudformation.describe_stacks(StackName=stack_id.replace("demo-app", "other"))
        self.assertEqual(error_of(missing)[:2], ("ValidationError", 400))
        for bad in ({"stackId": "demo-app"}, {"stackId": stack_id.replace(ACCOUNT, "210987654321")},
                    {"stackId": stack_id, "tags": {"a": 1}}, {"stackId": stack_id, "other": 1}):
            self.assertIn("error", self.control("POST", "/cloudformation/stacks", bad, expect=400))

    # --- CloudWatch Logs KMS association ---------------------------------------------------

    @staticmethod
    def logs_key_policy(condition: dict | None = None) -> str:
        logs = {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*"}
        if condition:
            logs["Condition"] = condition
        root = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
        return json.dumps({"Version": "2012-10-17", "Statement": [root, logs]})

    def test_associate_kms_key_needs_logs_in_the_key_policy(self) -> None:
        key = self.kms.create_key()["KeyMetadata"]["Arn"]
        self.logs.create_log_group(logGroupName="/myapp/app")
        group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/myapp/app"
        # The default key policy (the account only): refused as AWS refuses it.
        with self.assertRaises(ClientError) as denied:
            self.logs.associate_kms_key(logGroupName="/myapp/app", kmsKeyId=key)
        self.assertEqual(
            error_of(denied),
            ("AccessDeniedException", 400, f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'"),
        )
        # A statement for another log group does not help; one for this group does.
        self.kms.put_key_policy(KeyId=key, PolicyName="default", Policy=self.logs_key_policy(
            {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other"}}))
        with self.assertRaises(ClientError):
            self.logs.associate_kms_key(logGroupName="/myapp/app", kmsKeyId=key)
        self.kms.put_key_policy(KeyId=key, PolicyName="default", Policy=self.logs_key_policy(
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/myapp/*"}}))
        self.logs.associate_kms_key(logGroupName="/myapp/app", kmsKeyId=key)
        [group] = self.logs.describe_log_groups(logGroupNamePrefix="/myapp/app")["logGroups"]
        self.assertEqual(group["kmsKeyId"], key)

    def test_keys_have_a_usage_as_in_aws(self) -> None:
        created = self.kms.create_key()["KeyMetadata"]
        self.assertEqual(created["KeyUsage"], "ENCRYPT_DECRYPT")
        described = self.kms.describe_key(KeyId=created["Arn"])["KeyMetadata"]
        self.assertEqual((described["KeyUsage"], described["KeySpec"], described["KeyState"]), ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "Enabled"))

    def test_tag_limit_of_50_is_enforced(self) -> None:
        tags = {f"k{i}": "v" for i in range(48)}
        self.logs.create_log_group(logGroupName="/myapp/tags", tags=tags)
        group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/myapp/tags"
        self.logs.tag_resource(resourceArn=group_arn, tags={"k0": "again", "a": "1", "b": "2"})  # 50
        with self.assertRaises(ClientError) as logs:
            self.logs.tag_resource(resourceArn=group_arn, tags={"c": "3"})
        self.assertEqual(error_of(logs)[:2], ("TooManyTagsException", 400))

        url = self.sqs.create_queue(QueueName="tags", tags=tags)["QueueUrl"]
        with self.assertRaises(ClientError) as sqs:
            self.sqs.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2", "c": "3"})
        self.assertEqual(error_of(sqs)[:2], ("InvalidParameterValue", 400))

        self.create_role("LPMA_tags")
        self.iam.tag_role(RoleName="LPMA_tags", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(48)])
        self.iam.tag_role(RoleName="LPMA_tags", Tags=[{"Key": "K0", "Value": "same key, other case"}])
        with self.assertRaises(ClientError) as iam:
            self.iam.tag_role(RoleName="LPMA_tags", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}])
        self.assertEqual(error_of(iam)[:2], ("LimitExceeded", 409))

        self.s3.create_bucket(Bucket="tags")
        self.s3.put_bucket_tagging(Bucket="tags", Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(50)]})
        with self.assertRaises(ClientError) as s3:
            self.s3.put_bucket_tagging(Bucket="tags", Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]})
        self.assertEqual(error_of(s3)[:2], ("InvalidTag", 400))

    def test_associate_and_disassociate_kms_key(self) -> None:
        key = self.kms.create_key()["KeyMetadata"]["Arn"]
        self.kms.put_key_policy(KeyId=key, PolicyName="default", Policy=self.logs_key_policy())
        self.logs.create_log_group(logGroupName="/myapp/app")
        self.logs.associate_kms_key(logGroupName="/myapp/app", kmsKeyId=key)
        [group] = self.logs.describe_log_groups(logGroupNamePrefix="/myapp/app")["logGroups"]
        self.assertEqual(group["kmsKeyId"], key)

        self.logs.disassociate_kms_key(resourceIdentifier=group["logGroupArn"])
        [group] = self.logs.describe_log_groups(logGroupNamePrefix="/myapp/app")["logGroups"]
        self.assertNotIn("kmsKeyId", group)

        with self.assertRaises(ClientError) as missing:
            self.logs.associate_kms_key(logGroupName="/absent", kmsKeyId=key)
        self.assertEqual(error_of(missing)[:2], ("ResourceNotFoundException", 400))
        with self.assertRaises(ClientError) as bad_key:
            self.logs.associate_kms_key(logGroupName="/myapp/app", kmsKeyId=key[:-4] + "0000")
        self.assertEqual(error_of(bad_key)[:2], ("InvalidParameterException", 400))

    def test_sqs_keeps_one_kind_of_server_side_encryption(self) -> None:
        key = self.kms.create_key()["KeyMetadata"]["Arn"]
        url = self.sqs.create_queue(QueueName="sse")["QueueUrl"]
        sse = lambda: {  # noqa: E731
            name: value
            for name, value in self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"].items()
            if name in ("KmsMasterKeyId", "SqsManagedSseEnabled")
        }
        self.assertEqual(sse(), {"SqsManagedSseEnabled": "true"})
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": key})
        self.assertEqual(sse(), {"KmsMasterKeyId": key, "SqsManagedSseEnabled": "false"})
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "true"})
        self.assertEqual(sse(), {"SqsManagedSseEnabled": "true"}, "SSE-SQS replaces the KMS key")
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": key})
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ""})
        self.assertEqual(sse(), {"SqsManagedSseEnabled": "true"}, "clearing the key turns SSE-SQS back on")
        with self.assertRaises(ClientError) as both:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": key, "SqsManagedSseEnabled": "true"})
        self.assertEqual(error_of(both)[:2], ("InvalidAttributeValue", 400))
        self.assertEqual(sse(), {"SqsManagedSseEnabled": "true"})

    # --- faults ----------------------------------------------------------------------------

    def test_faults_use_each_service_error_shape(self) -> None:
        arn = self.seed_runtime()["agentRuntimeArn"]
        self.control("POST", "/faults", {"service": "bedrock-agentcore", "operation": "PutResourcePolicy", "status": 403,
                                         "code": "AccessDeniedException", "message": "denied by test", "count": 1, "match": arn})
        self.control("POST", "/faults", {"service": "iam", "operation": "GetRole", "status": 403, "code": "AccessDenied"})
        self.control("POST", "/faults", {"service": "logs", "status": 400, "code": "ThrottlingException", "count": 2})
        self.assertEqual(len(self.control("GET", "/faults")["faults"]), 3)

        with self.assertRaises(ClientError) as agentcore:
            self.agentcore.put_resource_policy(resourceArn=arn, policy=self.policy(arn))
        self.assertEqual(error_of(agentcore), ("AccessDeniedException", 403, "denied by test"))
        self.agentcore.put_resource_policy(resourceArn=arn, policy=self.policy(arn))  # count exhausted

        self.create_role("LPMA_faulty")
        with self.assertRaises(ClientError) as iam:
            self.iam.get_role(RoleName="LPMA_faulty")
        self.assertEqual(error_of(iam)[:2], ("AccessDenied", 403))

        for _ in range(2):
            with self.assertRaises(ClientError) as logs:
                self.logs.describe_log_groups()
            self.assertEqual(error_of(logs)[:2], ("ThrottlingException", 400))
        self.logs.describe_log_groups()
        self.assertEqual(self.control("GET", "/faults")["faults"], [])

        self.control("POST", "/faults", {"service": "sqs", "status": 500, "code": "InternalError"})
        self.control("DELETE", "/faults")
        self.sqs.list_queues()
        self.assertIn("error", self.control("POST", "/faults", {"service": "sqs", "status": 200, "code": "X"}, expect=400))

    def test_s3_buckets_are_on_sse_s3_unless_configured_otherwise(self) -> None:
        sse_s3 = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
        rules = lambda: self.s3.get_bucket_encryption(Bucket="myapp-enc")["ServerSideEncryptionConfiguration"]["Rules"]
        self.s3.create_bucket(Bucket="myapp-enc")
        self.assertEqual(rules(), [sse_s3], "a new bucket")
        self.s3.put_bucket_encryption(
            Bucket="myapp-enc",
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}, "BucketKeyEnabled": True}]},
        )
        self.assertEqual(rules()[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "aws:kms")
        self.s3.delete_bucket_encryption(Bucket="myapp-enc")
        self.assertEqual(rules(), [sse_s3], "DeleteBucketEncryption goes back to SSE-S3")
        with self.assertRaises(self.s3.exceptions.NoSuchBucket):
            self.s3.get_bucket_encryption(Bucket="myapp-missing")

    # --- request log and reset -------------------------------------------------------------

    def test_request_log_names_operations(self) -> None:
        arn = self.seed_runtime()["agentRuntimeArn"]
        self.agentcore.get_resource_policy(resourceArn=arn)
        self.s3.create_bucket(Bucket="myapp-bucket")
        self.s3.put_bucket_tagging(Bucket="myapp-bucket", Tagging={"TagSet": [{"Key": "Project", "Value": "demo"}]})
        self.s3.get_bucket_tagging(Bucket="myapp-bucket")
        self.s3.put_bucket_encryption(
            Bucket="myapp-bucket",
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]},
        )
        self.s3.get_bucket_encryption(Bucket="myapp-bucket")
        self.sqs.create_queue(QueueName="myapp-queue")
        self.sns.create_topic(Name="myapp-topic")
        with urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")):
            pass  # moto's own API is not logged

        self.assertEqual(
            [(r["service"], r["operation"], r["method"], r["status"]) for r in self.requests()],
            [
                ("bedrock-agentcore", "GetResourcePolicy", "GET", 200),
                ("s3", "CreateBucket", "PUT", 200),
                ("s3", "PutBucketTagging", "PUT", 204),
                ("s3", "GetBucketTagging", "GET", 200),
                ("s3", "PutBucketEncryption", "PUT", 200),
                ("s3", "GetBucketEncryption", "GET", 200),
                ("sqs", "CreateQueue", "POST", 200),
                ("sns", "CreateTopic", "POST", 200),
            ],
        )
        self.assertEqual(self.requests()[0]["path"], f"/resourcepolicy/{arn}")

    def test_reset_clears_everything(self) -> None:
        arn = self.seed_runtime()["agentRuntimeArn"]
        self.agentcore.put_resource_policy(resourceArn=arn, policy=self.policy(arn))
        self.create_role()
        self.control("POST", "/faults", {"service": "iam", "status": 500, "code": "ServiceFailure"})
        self.control("PUT", "/iam/simulation", {"mode": "access-denied"})
        self.control("POST", "/reset")
        self.assertEqual(self.requests(), [])
        self.assertEqual(self.control("GET", "/agentcore/policies"), {})
        self.assertEqual(self.control("GET", "/faults")["faults"], [])
        self.assertEqual(self.agentcore.list_agent_runtimes()["agentRuntimes"], [])
        self.assertEqual(self.iam.list_roles()["Roles"], [])
        role = self.create_role()
        result = self.iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"])["EvaluationResults"][0]
        self.assertEqual((result["EvalResourceName"], result["EvalDecision"]), ("*", "implicitDeny"))

    def test_get_resources_by_arn_list(self) -> None:
        tagged = self.sns.create_topic(Name="t-tagged", Tags=[{"Key": "Project", "Value": "p"}])["TopicArn"]
        untagged = self.sns.create_topic(Name="t-untagged")["TopicArn"]
        self.sqs.create_queue(QueueName="q-tagged", tags={"Project": "q"})
        queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q-tagged"
        unknown = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"
        found = self.tagging.get_resources(ResourceARNList=[tagged, untagged, queue_arn, unknown])
        by_arn = {m["ResourceARN"]: m["Tags"] for m in found["ResourceTagMappingList"]}
        # Only tagged resources come back, as in AWS; the others are simply absent.
        self.assertEqual(by_arn, {tagged: [{"Key": "Project", "Value": "p"}], queue_arn: [{"Key": "Project", "Value": "q"}]})
        with self.assertRaises(ClientError) as context:
            self.tagging.get_resources(ResourceARNList=[tagged], ResourcesPerPage=10)
        self.assertEqual(error_of(context)[:2], ("InvalidParameterException", 400))
        with self.assertRaises(ClientError) as context:
            self.tagging.get_resources(ResourceARNList=[tagged] * 101)
        self.assertEqual(error_of(context)[:2], ("InvalidParameterException", 400))

    def test_s3_conditional_writes_answer_412(self) -> None:
        self.s3.create_bucket(Bucket="lock-bucket")
        self.s3.put_object(Bucket="lock-bucket", Key="lock", Body=b"1", IfNoneMatch="*")
        with self.assertRaises(ClientError) as context:
            self.s3.put_object(Bucket="lock-bucket", Key="lock", Body=b"2", IfNoneMatch="*")
        self.assertEqual(error_of(context)[:2], ("PreconditionFailed", 412))
        etag = self.s3.get_object(Bucket="lock-bucket", Key="lock")["ETag"]
        self.s3.put_object(Bucket="lock-bucket", Key="lock", Body=b"3", IfMatch=etag)
        with self.assertRaises(ClientError) as context:
            self.s3.put_object(Bucket="lock-bucket", Key="lock", Body=b"4", IfMatch=etag)
        self.assertEqual(error_of(context)[:2], ("PreconditionFailed", 412))

    def test_list_queues_keys_and_aliases_page_as_in_aws(self) -> None:
        for index in range(5):
            self.sqs.create_queue(QueueName=f"paged-{index}")
        first = self.sqs.list_queues(MaxResults=2)
        self.assertEqual(len(first["QueueUrls"]), 2)
        urls = list(first["QueueUrls"])
        token = first["NextToken"]
        while token:
            page = self.sqs.list_queues(MaxResults=2, NextToken=token)
            urls += page["QueueUrls"]
            token = page.get("NextToken")
        self.assertEqual(len(set(urls)), 5)
        self.assertEqual(set(urls), set(self.sqs.list_queues()["QueueUrls"]), "the same URLs as moto forms")
        self.assertNotIn("NextToken", self.sqs.list_queues())
        with self.assertRaises(ClientError) as context:
            self.sqs.list_queues(MaxResults=2, NextToken="not-a-token")
        self.assertEqual(error_of(context)[0], "InvalidParameterValue")
        keys = [self.kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
        for index, key in enumerate(keys):
            self.kms.create_alias(AliasName=f"alias/paged-{index}", TargetKeyId=key)
        page = self.kms.list_keys(Limit=2)
        self.assertTrue(page["Truncated"])
        rest = self.kms.list_keys(Limit=2, Marker=page["NextMarker"])
        self.assertFalse(rest["Truncated"])
        self.assertEqual({k["KeyId"] for k in page["Keys"] + rest["Keys"]}, set(keys))
        aliases = self.kms.list_aliases(Limit=1)
        self.assertEqual(len(aliases["Aliases"]), 1)
        self.assertTrue(aliases["Truncated"])
        with self.assertRaises(ClientError) as context:
            self.kms.list_keys(Limit=1001)
        self.assertEqual(error_of(context)[0], "ValidationException")

    def test_unknown_control_endpoint(self) -> None:
        self.assertIn("error", self.control("GET", "/nothing", expect=404))


class ShutdownTest(unittest.TestCase):
    def test_sigint_exits_cleanly(self) -> None:
        process, _ = start_emulator()
        process.send_signal(signal.SIGINT)
        self.assertEqual(process.wait(timeout=10), 0)
        process.stdout.close()
        process.stderr.close()


if __name__ == "__main__":
    unittest.main()
