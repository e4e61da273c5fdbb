//! The report bucket: the lock, the manifest, the parts and the report (layout and why in
//! `corebound::sweep::report`). Conditional writes (`If-None-Match: *`, `If-Match`) make the
//! lock and the report single-writer; S3 answers 412 to the loser.

use aws_sdk_s3::primitives::ByteStream;
use corebound::sweep::{lock_decision, Lock, LockDecision, LOCK_KEY};
use serde::Serialize;

use crate::retry::{CallError, RetryPolicy};

pub struct Store<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub retry: &'a RetryPolicy,
}

/// How a conditional write went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// The condition failed: someone else wrote (or holds) the object.
    ConditionFailed,
}

/// A write's precondition.
#[derive(Debug, Clone, Copy)]
pub enum Condition<'e> {
    None,
    /// Only if the key does not exist.
    Absent,
    /// Only if the object still has this ETag.
    Unchanged(&'e str),
}

/// What a start got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    Yes {
        /// A dead sweep whose expired lock was taken over.
        previous: Option<String>,
    },
    No {
        running: String,
    },
}

impl Store<'_> {
    pub async fn put_json(
        &self,
        key: &str,
        value: &impl Serialize,
        condition: Condition<'_>,
    ) -> Result<Written, CallError> {
        const OPERATION: &str = "s3:PutObject";
        let body = serde_json::to_vec_pretty(value)
            .map_err(|error| CallError::invalid(OPERATION, error.to_string()))?;
        let sent = self
            .retry
            .sdk(OPERATION, || {
                let request = self
                    .s3
                    .put_object()
                    .bucket(self.bucket)
                    .key(key)
                    .content_type("application/json")
                    .body(ByteStream::from(body.clone()));
                let request = match condition {
                    Condition::None => request,
                    Condition::Absent => request.if_none_match("*"),
                    Condition::Unchanged(etag) => request.if_match(etag),
                };
                request.send()
            })
            .await;
        match sent {
            Ok(_) => Ok(Written::Yes),
            // 412, or 409 when a concurrent conditional write to the key is in flight.
            Err(error)
                if error.is("PreconditionFailed") || error.is("ConditionalRequestConflict") =>
            {
                Ok(Written::ConditionFailed)
            }
            Err(error) => Err(error),
        }
    }

    /// The object's body and ETag; `None` when there is no such key (not retried: absence is
    /// an answer here).
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>, CallError> {
        const OPERATION: &str = "s3:GetObject";
        self.retry
            .run(|| async move {
                let output = match self
                    .s3
                    .get_object()
                    .bucket(self.bucket)
                    .key(key)
                    .send()
                    .await
                {
                    Ok(output) => output,
                    Err(error) => {
                        let error = CallError::from_sdk(OPERATION, &error);
                        if error.is("NoSuchKey") {
                            return Ok(None);
                        }
                        return Err(error);
                    }
                };
                let etag = output.e_tag().map(str::to_string);
                let body = output.body.collect().await.map_err(|error| CallError {
                    operation: OPERATION.to_string(),
                    code: None,
                    kind: crate::retry::FailureKind::Transient,
                    message: format!("reading the body of {key}: {error}"),
                })?;
                Ok(Some((body.into_bytes().to_vec(), etag)))
            })
            .await
    }

    /// Every key under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .retry
                .sdk("s3:ListObjectsV2", || {
                    self.s3
                        .list_objects_v2()
                        .bucket(self.bucket)
                        .prefix(prefix)
                        .set_continuation_token(token.clone())
                        .send()
                })
                .await?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key())
                    .map(str::to_string),
            );
            match page
                .next_continuation_token()
                .filter(|_| page.is_truncated().unwrap_or(false))
            {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(keys),
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), CallError> {
        self.retry
            .sdk("s3:DeleteObject", || {
                self.s3.delete_object().bucket(self.bucket).key(key).send()
            })
            .await?;
        Ok(())
    }

    /// Takes the lock for `lock.sweep_id`, unless a live sweep holds it.
    pub async fn acquire(&self, lock: &Lock) -> Result<Acquired, CallError> {
        // Two rounds: the holder may release the lock between our write and our read.
        for _ in 0..2 {
            if self.put_json(LOCK_KEY, lock, Condition::Absent).await? == Written::Yes {
                return Ok(Acquired::Yes { previous: None });
            }
            let Some((body, etag)) = self.get(LOCK_KEY).await? else {
                continue;
            };
            match lock_decision(&body, lock.started_at_epoch) {
                LockDecision::AlreadyRunning { sweep_id } => {
                    return Ok(Acquired::No { running: sweep_id })
                }
                LockDecision::TakeOver { previous } => {
                    let Some(etag) = etag else {
                        return Err(CallError::invalid(
                            "s3:GetObject",
                            "the lock object has no ETag to take it over with",
                        ));
                    };
                    return match self
                        .put_json(LOCK_KEY, lock, Condition::Unchanged(&etag))
                        .await?
                    {
                        Written::Yes => Ok(Acquired::Yes { previous }),
                        Written::ConditionFailed => Ok(Acquired::No {
                            running: "another start took the expired lock".to_string(),
                        }),
                    };
                }
            }
        }
        Ok(Acquired::No {
            running: "the lock changed hands while it was read".to_string(),
        })
    }

    /// The sweep holding the lock, if any.
    pub async fn holder(&self) -> Result<Option<Lock>, CallError> {
        Ok(self.holder_tagged().await?.map(|(lock, _)| lock))
    }

    /// The lock as read, with its ETag (for a write conditional on it).
    pub async fn holder_tagged(&self) -> Result<Option<(Lock, Option<String>)>, CallError> {
        Ok(self.get(LOCK_KEY).await?.and_then(|(body, etag)| {
            serde_json::from_slice::<Lock>(&body)
                .ok()
                .map(|lock| (lock, etag))
        }))
    }

    /// Renews `held` (the lock as read with `etag`) when half of its time has gone
    /// ([`Lock::renewed`]), with a write conditional on that read, so never over another
    /// sweep's lock. Returns the lock as it now stands.
    pub async fn keep(
        &self,
        held: &Lock,
        etag: Option<&str>,
        now: u64,
        seconds: u64,
    ) -> Result<Lock, CallError> {
        let (Some(renewed), Some(etag)) = (held.renewed(now, seconds), etag) else {
            return Ok(held.clone());
        };
        match self
            .put_json(LOCK_KEY, &renewed, Condition::Unchanged(etag))
            .await?
        {
            Written::Yes => {
                tracing::info!(sweep_id = %renewed.sweep_id, expires_at_epoch = renewed.expires_at_epoch, "sweep lock renewed");
                Ok(renewed)
            }
            // Another unit of the same sweep renewed it first (or the lock changed hands,
            // which the next unit's holder check sees).
            Written::ConditionFailed => Ok(held.clone()),
        }
    }

    /// Releases the lock if `sweep_id` still holds it.
    pub async fn release(&self, sweep_id: &str) -> Result<(), CallError> {
        if let Some(lock) = self.holder().await? {
            if lock.sweep_id == sweep_id {
                self.delete(LOCK_KEY).await?;
            }
        }
        Ok(())
    }
}
