"""Scripted concurrent writers of an S3 bucket's tag set (the creator race, issue 15).

S3 `PutBucketTagging` replaces the whole set and has no conditional write, so a remediator that
reads, merges and writes can lose another writer's tags. A race script makes "another writer"
(CloudFormation, Terraform) replace a bucket's tag set at an exact point of the remediator's
sequence: right after the `nth` `GetBucketTagging` (between our read and our write) or right after
the `nth` `PutBucketTagging` (just after our write) on that bucket. Every answered call counts,
including a `GetBucketTagging` answered `NoSuchTagSet` (a bucket without tags). The other writer's write goes
straight to moto's backend: it is not in the request log, as it is not the function's request.
"""

from __future__ import annotations

import threading

from moto.s3.models import s3_backends

from awsproto import ACCOUNT_ID, AwsRequest

TRIGGERS = ("GetBucketTagging", "PutBucketTagging")


class RaceError(ValueError):
    """A race script the control API cannot take (answered 400)."""


class S3Races:
    FIELDS = {"bucket", "after", "nth", "tags"}

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.pending: list[dict] = []
            self.fired: list[dict] = []

    def add(self, spec: dict) -> dict:
        unknown = sorted(set(spec) - self.FIELDS)
        if unknown:
            raise RaceError(f"unknown field(s): {', '.join(unknown)}")
        bucket, after, nth, tags = spec.get("bucket"), spec.get("after"), spec.get("nth", 1), spec.get("tags")
        if not isinstance(bucket, str) or not bucket:
            raise RaceError("bucket is a required string")
        if after not in TRIGGERS:
            raise RaceError(f"after must be one of {', '.join(TRIGGERS)}")
        if not isinstance(nth, int) or nth < 1:
            raise RaceError("nth must be a positive integer")
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise RaceError("tags must be an object of string keys to string values")
        race = {"bucket": bucket, "after": after, "nth": nth, "tags": dict(tags), "seen": 0}
        with self.lock:
            self.pending.append(race)
        return dict(race)

    def state(self) -> dict:
        with self.lock:
            return {"pending": [dict(r) for r in self.pending], "fired": [dict(r) for r in self.fired]}

    def after_response(self, request: AwsRequest, status: int) -> None:
        """Called once moto answered `request`: fires the races it completes."""
        # A read of a bucket without tags answers 404 NoSuchTagSet: still a read that happened.
        if request.service != "s3" or request.operation not in TRIGGERS or status >= 500:
            return
        bucket = request.path.strip("/").split("/", 1)[0]
        with self.lock:
            for race in list(self.pending):
                if race["bucket"] != bucket or race["after"] != request.operation:
                    continue
                race["seen"] += 1
                if race["seen"] == race["nth"]:
                    self.pending.remove(race)
                    # The other writer replaces the whole set, as PutBucketTagging does.
                    s3_backends[ACCOUNT_ID]["aws"].put_bucket_tagging(bucket, race["tags"])
                    self.fired.append(race)
