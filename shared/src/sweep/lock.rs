//! One sweep at a time: the lock object, and the manifest a sweep writes when it starts.
//!
//! The start takes `sweep-lock.json` with a conditional write (`If-None-Match: *`): S3
//! answers 412 when the object exists, so of two starts only one enqueues units. A lock past
//! its `expires_at_epoch` belongs to a sweep that died (a unit in the dead-letter queue): the
//! next start takes it over with `If-Match: <its ETag>`, again a write only one caller wins.
//! Every unit reads the lock first and works only for the sweep holding it.

use serde::{Deserialize, Serialize};

use super::fan_out::{SweepTarget, TargetTypes};
use crate::remediation::{Mode, ResourceKind};

/// `sweep-lock.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub sweep_id: String,
    pub mode: Mode,
    pub started_at: String,
    pub started_at_epoch: u64,
    pub expires_at_epoch: u64,
}

impl Lock {
    /// The lock of `sweep_id`, started at `now` (epoch seconds), held for `seconds`.
    pub fn new(sweep_id: &str, mode: Mode, now: u64, seconds: u64) -> Self {
        Lock {
            sweep_id: sweep_id.to_string(),
            mode,
            started_at: super::timestamp(now),
            started_at_epoch: now,
            expires_at_epoch: now + seconds,
        }
    }

    /// This lock held for another `seconds` from `now`, once half of its time has gone; `None`
    /// before that (no write). A sweep that keeps working keeps its lock however long it
    /// takes; one that stopped (a unit stuck in the dead-letter queue) stops renewing it, and
    /// a later start takes it over once it expires.
    pub fn renewed(&self, now: u64, seconds: u64) -> Option<Lock> {
        let remaining = self.expires_at_epoch.saturating_sub(now);
        (remaining <= seconds / 2).then(|| Lock {
            expires_at_epoch: now + seconds,
            ..self.clone()
        })
    }
}

/// What a start does about an existing lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockDecision {
    /// Another sweep runs: enqueue nothing.
    AlreadyRunning { sweep_id: String },
    /// The holder is past its expiry (or the object is not a lock): take it over.
    TakeOver { previous: Option<String> },
}

/// Decides on the lock object found at `now` (its body, as read).
pub fn lock_decision(body: &[u8], now_epoch: u64) -> LockDecision {
    match serde_json::from_slice::<Lock>(body) {
        Ok(lock) if lock.expires_at_epoch > now_epoch => LockDecision::AlreadyRunning {
            sweep_id: lock.sweep_id,
        },
        Ok(lock) => LockDecision::TakeOver {
            previous: Some(lock.sweep_id),
        },
        // Not a lock we wrote (truncated, edited by hand): it protects nothing.
        Err(_) => LockDecision::TakeOver { previous: None },
    }
}

/// `sweep-parts/<sweep id>/manifest.json`: what the sweep covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub sweep_id: String,
    pub mode: Mode,
    pub types: Vec<ResourceKind>,
    pub started_at: String,
    #[serde(default)]
    pub started_at_epoch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A hub's sweep (issue 13 §4): every account and region it covers, with the types swept
    /// there. Empty for a single-account sweep, which covers `types` in its own account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetTypes>,
}

impl Manifest {
    /// What the sweep covers: `(None, types)` for a single-account sweep, else one entry per
    /// target.
    pub fn groups(&self) -> Vec<(Option<SweepTarget>, Vec<ResourceKind>)> {
        if self.targets.is_empty() {
            return vec![(None, self.types.clone())];
        }
        self.targets
            .iter()
            .map(|target| (Some(target.target()), target.types.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_renewed_once_half_of_its_time_has_gone() {
        let lock = Lock::new("20261203T231500Z-1a2b3c4d", Mode::Report, 1000, 3300);
        assert_eq!(lock.renewed(1000, 3300), None, "just taken");
        assert_eq!(lock.renewed(2649, 3300), None, "1651 s left");
        let renewed = lock.renewed(2650, 3300).expect("1650 s left: renewed");
        assert_eq!(renewed.expires_at_epoch, 2650 + 3300);
        assert_eq!(renewed.started_at_epoch, 1000, "the sweep keeps its start");
        assert_eq!(renewed.sweep_id, lock.sweep_id);
        let late = lock
            .renewed(9000, 3300)
            .expect("expired but not taken over: renewed");
        assert_eq!(late.expires_at_epoch, 12300);
    }

    #[test]
    fn a_live_lock_blocks_an_expired_or_foreign_one_is_taken_over() {
        let lock = Lock {
            sweep_id: "20261203T231500Z-1a2b3c4d".into(),
            mode: Mode::Enforce,
            started_at: "2026-12-03T23:15:00Z".into(),
            started_at_epoch: 1000,
            expires_at_epoch: 4300,
        };
        let body = serde_json::to_vec(&lock).unwrap();
        assert_eq!(
            lock_decision(&body, 4299),
            LockDecision::AlreadyRunning {
                sweep_id: lock.sweep_id.clone()
            }
        );
        assert_eq!(
            lock_decision(&body, 4300),
            LockDecision::TakeOver {
                previous: Some(lock.sweep_id.clone())
            }
        );
        assert_eq!(
            lock_decision(b"garbage", 0),
            LockDecision::TakeOver { previous: None }
        );
    }
}
