#!/usr/bin/env python3
"""Self-test of what `make local` adds to the emulator: the CloudFormation answer store
(cfn_responses.py) and resources with the identifiers the events name (fixed_ids.py).

    python3 tests/emulator/test_local_aws.py
"""

from __future__ import annotations

import json
import signal
import unittest
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from test_emulator import REGION, start_emulator

KEY_ID = "0f2c3d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


class LocalAwsTest(unittest.TestCase):
    process = None
    url = ""

    @classmethod
    def setUpClass(cls) -> None:
        cls.process, cls.url = start_emulator()
        session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
        config = Config(retries={"total_max_attempts": 1})
        cls.kms = session.client("kms", endpoint_url=cls.url, config=config)
        cls.secrets = session.client("secretsmanager", endpoint_url=cls.url, config=config)
        cls.s3 = session.client("s3", endpoint_url=cls.url, config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.send_signal(signal.SIGTERM)
        cls.process.wait(timeout=10)
        cls.process.stdout.close()
        cls.process.stderr.close()

    def setUp(self) -> None:
        self.http("POST", "/_corebound/reset")

    def http(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes, dict]:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    # --- the CloudFormation answer store -------------------------------------------------------

    def test_put_stores_and_get_returns_the_last_answer(self) -> None:
        status, body, _ = self.http("GET", "/cloudformation-response/runtime-policy")
        self.assertEqual(status, 404)
        self.assertIn("no answer stored", json.loads(body)["error"])
        for request_id in ("first", "second"):
            answer = {"Status": "SUCCESS", "RequestId": request_id, "PhysicalResourceId": "x", "Data": {}}
            status, _, _ = self.http("PUT", "/cloudformation-response/runtime-policy", json.dumps(answer).encode(), {"Content-Type": ""})
            self.assertEqual(status, 200)
        status, body, headers = self.http("GET", "/cloudformation-response/runtime-policy")
        self.assertEqual((status, headers["Content-Type"]), (200, "application/json"))
        self.assertEqual(json.loads(body)["RequestId"], "second")
        # Names may have several segments; the listing shows every name stored.
        self.http("PUT", "/cloudformation-response/stack/resource", b'{"Status": "FAILED"}')
        status, body, _ = self.http("GET", "/cloudformation-response/")
        self.assertEqual(json.loads(body), {"responses": ["runtime-policy", "stack/resource"]})
        # Never in the AWS request log; gone after a reset.
        self.assertEqual(json.loads(self.http("GET", "/_corebound/requests")[1])["requests"], [])
        self.http("POST", "/_corebound/reset")
        self.assertEqual(self.http("GET", "/cloudformation-response/runtime-policy")[0], 404)

    def test_s3_requests_on_the_same_path_still_reach_moto(self) -> None:
        # Path-style and signed: a bucket that happens to be named cloudformation-response.
        self.s3.create_bucket(Bucket="cloudformation-response")
        self.s3.put_object(Bucket="cloudformation-response", Key="runtime-policy", Body=b"an object")
        got = self.s3.get_object(Bucket="cloudformation-response", Key="runtime-policy")["Body"].read()
        self.assertEqual(got, b"an object")
        self.assertEqual(self.http("GET", "/cloudformation-response/runtime-policy")[0], 404)
        # A presigned S3 URL (signature in the query string) is S3's too.
        url = self.s3.generate_presigned_url("get_object", Params={"Bucket": "cloudformation-response", "Key": "runtime-policy"})
        with urllib.request.urlopen(url, timeout=10) as response:
            self.assertEqual(response.read(), b"an object")
        # Virtual-hosted: the path is an object key in the bucket named by the host.
        self.s3.create_bucket(Bucket="answers")
        port = self.url.rsplit(":", 1)[1]
        request = urllib.request.Request(
            f"{self.url}/cloudformation-response/x", data=b"key in answers", method="PUT", headers={"Host": f"answers.s3.localhost.localstack.cloud:{port}", "Content-Type": "application/octet-stream"}
        )
        urllib.request.urlopen(request, timeout=10).read()
        got = self.s3.get_object(Bucket="answers", Key="cloudformation-response/x")["Body"].read()
        self.assertEqual(got, b"key in answers")
        self.assertEqual(self.http("GET", "/cloudformation-response/x")[0], 404)

    def test_non_json_answer_is_shown_as_text(self) -> None:
        self.http("PUT", "/cloudformation-response/bad", b"not json")
        status, body, headers = self.http("GET", "/cloudformation-response/bad")
        self.assertEqual((status, body), (200, b"not json"))
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))

    # --- fixed identifiers ----------------------------------------------------------------------

    def control(self, path: str, spec: dict) -> tuple[int, dict]:
        status, body, _ = self.http("POST", f"/_corebound{path}", json.dumps(spec).encode(), {"Content-Type": "application/json"})
        return status, json.loads(body)

    def test_kms_key_with_a_chosen_id(self) -> None:
        status, key = self.control("/kms/keys", {"id": KEY_ID, "description": "data key", "tags": {"Project": "corebound"}})
        self.assertEqual(status, 200, key)
        arn = f"arn:aws:kms:{REGION}:123456789012:key/{KEY_ID}"
        self.assertEqual(key, {"KeyId": KEY_ID, "Arn": arn})
        metadata = self.kms.describe_key(KeyId=arn)["KeyMetadata"]
        self.assertEqual((metadata["KeyId"], metadata["Arn"], metadata["Description"]), (KEY_ID, arn, "data key"))
        self.assertEqual(self.kms.list_resource_tags(KeyId=KEY_ID)["Tags"], [{"TagKey": "Project", "TagValue": "corebound"}])
        self.kms.create_alias(AliasName="alias/corebound-demo-data", TargetKeyId=arn)
        self.assertEqual(self.kms.describe_key(KeyId="alias/corebound-demo-data")["KeyMetadata"]["KeyId"], KEY_ID)
        self.assertEqual(self.control("/kms/keys", {"id": KEY_ID})[0], 400)
        self.assertEqual(self.control("/kms/keys", {"id": "not-a-uuid"})[0], 400)
        self.assertEqual(self.control("/kms/keys", {"id": KEY_ID.upper()})[0], 400)
        self.assertEqual(self.control("/kms/keys", {"id": KEY_ID, "colour": "red"})[0], 400)

    def test_secret_with_a_chosen_arn_suffix(self) -> None:
        status, secret = self.control("/secretsmanager/secrets", {"name": "corebound-demo-db-credentials", "suffix": "Xy3AbC"})
        self.assertEqual(status, 200, secret)
        arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:corebound-demo-db-credentials-Xy3AbC"
        self.assertEqual(secret["ARN"], arn)
        described = self.secrets.describe_secret(SecretId=arn)
        self.assertEqual((described["ARN"], described["Name"]), (arn, "corebound-demo-db-credentials"))
        self.assertNotIn("Tags", described)  # the chosen suffix leaves no tag behind
        # The next secret gets a random suffix again.
        other = self.secrets.create_secret(Name="other", SecretString="x")["ARN"]
        self.assertNotIn("Xy3AbC", other)
        self.assertEqual(self.control("/secretsmanager/secrets", {"name": "corebound-demo-db-credentials", "suffix": "Xy3AbC"})[0], 400)
        self.assertEqual(self.control("/secretsmanager/secrets", {"name": "n", "suffix": "short"})[0], 400)
        with self.assertRaises(ClientError):
            self.secrets.describe_secret(SecretId=arn.replace("Xy3AbC", "Zz9ZzZ"))


if __name__ == "__main__":
    unittest.main()
