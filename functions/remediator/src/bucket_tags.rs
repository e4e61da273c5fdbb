//! The S3 tag write, as safe as S3 allows (issue 15). `PutBucketTagging` replaces the whole
//! set and S3 has no conditional write (no version or ETag to make it compare-and-set), so:
//!
//! 1. re-read the tags immediately before writing, and compute the set from that read
//!    (a tool's write that landed since the state was first read is kept);
//! 2. write every tag read plus the missing required ones;
//! 3. read back: a tag present in step 1 that is gone, or a required tag that is gone, means
//!    another writer replaced the set right after us. Write back what is there now plus the
//!    lost tags plus the missing required ones (once), and say so in the audit record.
//!
//! The window left is between the re-read and the write (milliseconds); the tool's own
//! `PutBucketTagging` event triggers another merge in any case (see `creator`).

use std::collections::BTreeMap;

use corebound::remediation::{fresh_bucket_tags, lost_tags, missing_tags, repaired_tags, Action};
use serde_json::{json, Value};

use crate::apply::apply;
use crate::clients::Clients;
use crate::observe::{bucket_tags, Target};
use crate::retry::{CallError, RetryPolicy};

/// What the safe write did, for the audit record's `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketTagWrite {
    /// The set read immediately before writing.
    pub read_before_write: BTreeMap<String, String>,
    /// The set written (`None`: nothing was missing any more, no write).
    pub written: Option<BTreeMap<String, String>>,
    /// Tags another writer removed right after our write, written back.
    pub restored: BTreeMap<String, String>,
    /// The set written back after a concurrent write, if one was detected.
    pub rewritten: Option<BTreeMap<String, String>>,
}

impl BucketTagWrite {
    pub fn detail(&self) -> Value {
        json!({
            "action": "replace_bucket_tags",
            "tags": self.written,
            "read_before_write": self.read_before_write,
            "concurrent_write_detected": self.rewritten.is_some(),
            "restored": self.restored,
            "rewritten": self.rewritten,
        })
    }
}

pub async fn write_bucket_tags(
    clients: &Clients,
    retry: &RetryPolicy,
    target: &Target,
    required: &BTreeMap<String, String>,
) -> Result<BucketTagWrite, CallError> {
    let Target::S3Bucket { name } = target else {
        return Err(CallError::invalid(
            "s3:PutBucketTagging",
            format!("not a bucket: {target:?}"),
        ));
    };
    let before = bucket_tags(clients, retry, name).await?;
    let Some(action) = fresh_bucket_tags(&before, required) else {
        return Ok(BucketTagWrite {
            read_before_write: before,
            written: None,
            restored: BTreeMap::new(),
            rewritten: None,
        });
    };
    apply(clients, retry, target, &action).await?;
    let Action::ReplaceBucketTags { tags: written } = action else {
        unreachable!("fresh_bucket_tags plans a bucket tag write")
    };
    let after = bucket_tags(clients, retry, name).await?;
    let restored = lost_tags(&before, &after);
    let mut result = BucketTagWrite {
        read_before_write: before,
        written: Some(written),
        restored: BTreeMap::new(),
        rewritten: None,
    };
    if restored.is_empty() && missing_tags(&after, required).is_empty() {
        return Ok(result);
    }
    let repaired = repaired_tags(&after, &restored, required);
    tracing::warn!(
        bucket = %name,
        lost = ?restored.keys().collect::<Vec<_>>(),
        "another writer replaced the bucket's tags right after ours: writing them back"
    );
    apply(
        clients,
        retry,
        target,
        &Action::ReplaceBucketTags {
            tags: repaired.clone(),
        },
    )
    .await?;
    result.restored = restored;
    result.rewritten = Some(repaired);
    Ok(result)
}
