#!/usr/bin/env python3
"""A stand-in function for checking bench.py itself, without a Rust build.

It speaks the Lambda Runtime API like the real binaries: a custom-resource event is answered
SUCCESS on its ResponseURL, a CloudTrail CreateTopic event is remediated in the emulator
(read tags and attributes, TagResource, SetTopicAttributes KmsMasterKeyId). Use it as

    d=$(mktemp -d); for f in runtime-policy memory-grant remediator; do
        ln -s "$PWD/tests/bench/fake_lambda.py" "$d/$f"; done
    python3 tests/bench/bench.py --bin-dir "$d" --skip-package --burst 100

Its numbers measure CPython start-up, not corebound.
"""

import json
import os
import urllib.parse
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "")
AUTH = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"


def sns(params: dict) -> bytes:
    request = urllib.request.Request(
        ENDPOINT + "/", data=urllib.parse.urlencode({**params, "Version": "2010-03-31"}).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": AUTH.format("sns")})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def custom_resource(event: dict) -> dict:
    answer = {
        "Status": "SUCCESS", "Reason": "fake", "PhysicalResourceId": "fake-" + event["LogicalResourceId"],
        "StackId": event["StackId"], "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
    }
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT",
                                     headers={"Content-Type": ""})
    urllib.request.urlopen(request, timeout=30).read()
    return {"answered": "SUCCESS"}


def remediate(event: dict) -> dict:
    arn = event["detail"]["responseElements"]["topicArn"]
    sns({"Action": "GetTopicAttributes", "TopicArn": arn})
    sns({"Action": "ListTagsForResource", "ResourceArn": arn})
    params = {"Action": "TagResource", "ResourceArn": arn}
    for index, (key, value) in enumerate(sorted(json.loads(os.environ["REQUIRED_TAGS"]).items()), 1):
        params[f"Tags.member.{index}.Key"] = key
        params[f"Tags.member.{index}.Value"] = value
    sns(params)
    sns({"Action": "SetTopicAttributes", "TopicArn": arn, "AttributeName": "KmsMasterKeyId",
         "AttributeValue": os.environ["KMS_KEY_ARN"]})
    return {"remediated": arn}


def main() -> None:
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        result = custom_resource(event) if "ResponseURL" in event else remediate(event)
        post = urllib.request.Request(f"{API}/invocation/{request_id}/response", data=json.dumps(result).encode(), method="POST")
        urllib.request.urlopen(post).read()


if __name__ == "__main__":
    main()
