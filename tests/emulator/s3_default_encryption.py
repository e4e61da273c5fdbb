"""S3 default encryption as AWS answers it since January 2023: every bucket has one.

AWS applies SSE-S3 to every new bucket, and `DeleteBucketEncryption` puts a bucket back on SSE-S3
rather than on nothing, so `GetBucketEncryption` always answers 200; for a bucket nobody
configured it answers

    <ServerSideEncryptionConfiguration><Rule>
      <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>
      <BucketKeyEnabled>false</BucketKeyEnabled>
    </Rule></ServerSideEncryptionConfiguration>

(S3 User Guide, "Setting default server-side encryption behavior for Amazon S3 buckets": "all new
buckets have default encryption configured with SSE-S3"; DeleteBucketEncryption: "resets the
default encryption for the bucket as server-side encryption with Amazon S3 managed keys").
moto 5 still keeps `None` and answers `ServerSideEncryptionConfigurationNotFoundError`, a state
AWS no longer has: code tested only against that answer never meets the SSE-S3 configuration
every real unconfigured bucket reports. Installed once at start; moto's own `encryption = None`
(create, delete) is kept and read as "SSE-S3 by default".
"""

from __future__ import annotations

from typing import Any

from moto.s3.models import S3Backend


def sse_s3_default() -> dict[str, Any]:
    """moto's stored shape of a PutBucketEncryption body: SSE-S3, no bucket key."""
    return {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": "false"}}


def install() -> None:
    original = S3Backend.get_bucket_encryption
    if getattr(original, "corebound_default", False):
        return

    def get_bucket_encryption(self: S3Backend, bucket_name: str) -> dict[str, Any] | None:
        # get_bucket raises NoSuchBucket for a missing bucket, as before.
        return original(self, bucket_name) or sse_s3_default()

    get_bucket_encryption.corebound_default = True  # type: ignore[attr-defined]
    S3Backend.get_bucket_encryption = get_bucket_encryption  # type: ignore[method-assign]
