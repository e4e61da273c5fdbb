#!/usr/bin/env python3
"""The bulk seeding of the sweep bench (bulk_seed.py), read back through boto3: what it creates
looks to an AWS client exactly like resources made through the API, compliant ones with the five
tags and the CMK, non-compliant ones without, and none of it is in the request log.
"""

from __future__ import annotations

import json
import signal
import unittest
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

from test_emulator import REGION, start_emulator

TAGS = {"ApplicationId": "app-0001", "Environment": "preprod", "Project": "corebound",
        "ServiceLine": "platform", "ManagedBy": "platform-ci"}


class BulkSeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.process, cls.url = start_emulator()
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
        config = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})
        cls.client = staticmethod(lambda name: session.client(name, endpoint_url=cls.url, config=config))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.send_signal(signal.SIGTERM)
        cls.process.wait(timeout=10)
        cls.process.stdout.close()
        cls.process.stderr.close()

    def control(self, method: str, path: str, body: object | None = None, expect: int = 200) -> dict:
        request = urllib.request.Request(f"{self.url}/_corebound{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        self.assertEqual(status, expect, raw)
        return json.loads(raw)

    def setUp(self) -> None:
        self.control("POST", "/reset")
        self.key = self.control("POST", "/bulk/cmk", {})["keyArn"]

    def seed(self, count: int, every: int = 0) -> dict:
        return self.control("POST", "/bulk/seed", {"count": count, "keyArn": self.key, "tags": TAGS,
                                                    "nonCompliantEvery": every})["resources"]

    def test_every_type_is_seeded_with_the_given_count_and_nothing_is_logged(self):
        resources = self.seed(3, every=3)
        self.assertEqual(len(resources), 10)
        for kind, created in resources.items():
            with self.subTest(kind=kind):
                self.assertEqual([r["compliant"] for r in created], [False, True, True])
                self.assertEqual(len({r["arn"] for r in created}), 3)
        self.assertEqual(self.control("GET", "/requests")["requests"], [])

    def test_compliant_resources_carry_tags_and_the_cmk_and_the_others_neither(self):
        resources = self.seed(2, every=2)
        topic_bad, topic_ok = (r["arn"] for r in resources["sns_topic"])
        sns = self.client("sns")
        self.assertEqual(sns.get_topic_attributes(TopicArn=topic_ok)["Attributes"]["KmsMasterKeyId"], self.key)
        self.assertNotIn("KmsMasterKeyId", sns.get_topic_attributes(TopicArn=topic_bad)["Attributes"])
        self.assertEqual({t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=topic_ok)["Tags"]}, TAGS)
        self.assertEqual(sns.list_tags_for_resource(ResourceArn=topic_bad)["Tags"], [])

        sqs = self.client("sqs")
        bad, ok = (sqs.get_queue_url(QueueName=r["name"])["QueueUrl"] for r in resources["sqs_queue"])
        self.assertEqual(sqs.get_queue_attributes(QueueUrl=ok, AttributeNames=["KmsMasterKeyId"])["Attributes"]["KmsMasterKeyId"], self.key)
        self.assertNotIn("KmsMasterKeyId", sqs.get_queue_attributes(QueueUrl=bad, AttributeNames=["All"])["Attributes"])
        self.assertEqual(sqs.list_queue_tags(QueueUrl=ok)["Tags"], TAGS)

        groups = {g["logGroupName"]: g for g in self.client("logs").describe_log_groups(logGroupNamePrefix="corebound-demo-bench")["logGroups"]}
        bad, ok = (groups[r["name"]] for r in resources["log_group"])
        self.assertEqual(ok.get("kmsKeyId"), self.key)
        self.assertIsNone(bad.get("kmsKeyId"))

        s3 = self.client("s3")
        bad, ok = (r["name"] for r in resources["s3_bucket"])
        rule = s3.get_bucket_encryption(Bucket=ok)["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"], {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.key})
        self.assertEqual({t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=ok)["TagSet"]}, TAGS)
        with self.assertRaises(s3.exceptions.ClientError):
            s3.get_bucket_tagging(Bucket=bad)

        secrets = {s["Name"]: s for s in self.client("secretsmanager").list_secrets()["SecretList"]}
        bad, ok = (secrets[r["name"]] for r in resources["secret"])
        self.assertEqual(ok.get("KmsKeyId"), self.key)
        self.assertIsNone(bad.get("KmsKeyId"))

        iam = self.client("iam")
        bad, ok = (r["name"] for r in resources["iam_role"])
        self.assertEqual({t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=ok)["Tags"]}, TAGS)
        self.assertEqual(iam.list_role_tags(RoleName=bad)["Tags"], [])

        kms = self.client("kms")
        aliases = {a["AliasName"]: a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]}
        bad, ok = resources["kms_key"]
        self.assertEqual(aliases[f"alias/{ok['name']}"], ok["arn"].rsplit("/", 1)[1])
        self.assertEqual(kms.describe_key(KeyId=ok["arn"])["KeyMetadata"]["KeyManager"], "CUSTOMER")
        self.assertEqual({t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=ok["arn"])["Tags"]}, TAGS)
        self.assertEqual(kms.list_resource_tags(KeyId=bad["arn"])["Tags"], [])

        agentcore = self.client("bedrock-agentcore-control")
        for kind in ("agent_runtime", "memory", "gateway"):
            with self.subTest(kind=kind):
                bad, ok = (r["arn"] for r in resources[kind])
                self.assertEqual(agentcore.list_tags_for_resource(resourceArn=ok)["tags"], TAGS)
                self.assertEqual(agentcore.list_tags_for_resource(resourceArn=bad)["tags"], {})
        memory_id = resources["memory"][0]["arn"].rsplit("/", 1)[1]
        self.assertEqual(agentcore.get_memory(memoryId=memory_id)["memory"]["encryptionKeyArn"], self.key,
                         "a memory's key cannot change: every seeded memory has the CMK")

    def test_check_reads_what_is_missing_straight_from_the_backends(self):
        resources = self.seed(2, every=2)
        arns = {kind: [r["arn"] for r in created] for kind, created in resources.items()}
        answer = self.control("POST", "/bulk/check", {"resources": arns, "keyArn": self.key, "tags": TAGS})
        self.assertEqual(answer["checked"], 20)
        bad = {entry["arn"]: entry["missing"] for entry in answer["nonCompliant"]}
        self.assertEqual(set(bad), {created[0]["arn"] for created in resources.values()})
        takes_key = {"sns_topic", "sqs_queue", "log_group", "s3_bucket", "secret"}
        for kind, created in resources.items():
            with self.subTest(kind=kind):
                missing = bad[created[0]["arn"]]
                self.assertEqual([m for m in missing if m.startswith("tag:")], [f"tag:{k}" for k in TAGS])
                self.assertEqual(any(m.startswith("cmk-encryption") for m in missing), kind in takes_key)
        # Fixed through the API, a resource reads compliant.
        topic = resources["sns_topic"][0]["arn"]
        sns = self.client("sns")
        sns.tag_resource(ResourceArn=topic, Tags=[{"Key": k, "Value": v} for k, v in TAGS.items()])
        sns.set_topic_attributes(TopicArn=topic, AttributeName="KmsMasterKeyId", AttributeValue=self.key)
        answer = self.control("POST", "/bulk/check", {"resources": {"sns_topic": [topic]}, "keyArn": self.key, "tags": TAGS})
        self.assertEqual(answer["nonCompliant"], [])
        gone = "arn:aws:sns:us-east-1:123456789012:never-created"
        answer = self.control("POST", "/bulk/check", {"resources": {"sns_topic": [gone]}, "keyArn": self.key, "tags": TAGS})
        self.assertTrue(answer["nonCompliant"][0]["missing"][0].startswith("unreadable"))

    def test_ten_thousand_resources_are_seeded_in_seconds(self):
        import time
        started = time.monotonic()
        resources = self.seed(1000, every=2)
        self.assertEqual(sum(len(created) for created in resources.values()), 10_000)
        self.assertLess(time.monotonic() - started, 30, "seeding must not dominate the bench")

    def test_bad_specs_are_refused(self):
        for spec in (
            {"count": 1, "keyArn": self.key, "tags": TAGS, "extra": 1},
            {"count": -1, "keyArn": self.key, "tags": TAGS},
            {"count": 1, "keyArn": self.key.replace(self.key[-4:], "0000"), "tags": TAGS},
            {"count": 1, "keyArn": self.key, "tags": {}},
            {"count": 1, "keyArn": self.key, "tags": TAGS, "types": ["ec2_instance"]},
            {"count": 1, "keyArn": self.key, "tags": TAGS, "prefix": "Upper"},
        ):
            with self.subTest(spec=spec):
                self.control("POST", "/bulk/seed", spec, expect=400)


if __name__ == "__main__":
    unittest.main()
