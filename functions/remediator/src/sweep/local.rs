//! The sweep in-process, for `corebound sweep` (and the doctor's counts): the same units,
//! run one after the other from a local queue instead of SQS, across the same accounts and
//! regions as the scheduled sweep. With `REPORT_BUCKET` set it
//! takes the same lock as the scheduled sweep (so the two never run at once) and writes the
//! report there too, under `manual-sweeps/` (the scheduled sweeps' `sweeps/` is the
//! remediator's alone).

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use corebound::sweep::{
    manual_report_key, new_sweep_id, timestamp, Lock, Manifest, Part, Report, SweepSettings,
    WorkUnit, SWEPT_KINDS,
};

use crate::handler::Remediator;
use crate::retry::{FailureKind, RetryPolicy};

use super::store::{Acquired, Condition, Store};
use super::unit::{first_units, run_where_it_belongs};
use super::{Context, SweepError};

/// Tries of a unit that keeps being throttled, as the work queue's redrive would give it.
const UNIT_TRIES: u32 = 3;

/// Where the sweep is, after each unit.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub part: &'a Part,
    /// Units done so far, and units known to be waiting.
    pub done: usize,
    pub waiting: usize,
    /// In-scope resources decided so far.
    pub resources: usize,
}

/// Runs a whole sweep in this process and returns its report (and where it was stored, with
/// `REPORT_BUCKET`). Report mode when `remediator.config.mode` is `Report`.
pub async fn run_local(
    remediator: &Remediator,
    settings: &SweepSettings,
    retry: &RetryPolicy,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<(Report, Option<String>), SweepError> {
    let now = epoch();
    let entropy = format!("{}-{:?}", std::process::id(), SystemTime::now());
    let sweep_id = new_sweep_id(now, &entropy);
    let mode = remediator.config.mode;
    let store = settings.report_bucket.as_deref().map(|bucket| Store {
        s3: &remediator.clients.s3,
        bucket,
        retry,
    });
    let lock = Lock::new(&sweep_id, mode, now, settings.lock_seconds);
    if let Some(store) = &store {
        if let Acquired::No { running } = store.acquire(&lock).await? {
            return Err(SweepError::AlreadyRunning { sweep_id: running });
        }
    }
    let result = sweep(
        remediator,
        settings,
        retry,
        (&sweep_id, now),
        store.as_ref().map(|store| (store, lock)),
        &mut progress,
    )
    .await;
    let stored = match (&result, &store) {
        (Ok(report), Some(store)) => {
            let key = manual_report_key(&sweep_id);
            store.put_json(&key, report, Condition::Absent).await?;
            Some(format!("s3://{}/{key}", store.bucket))
        }
        _ => None,
    };
    if let Some(store) = &store {
        store.release(&sweep_id).await?;
    }
    Ok((result?, stored))
}

/// `held`: the report bucket and the lock taken there, kept while the sweep runs.
async fn sweep(
    remediator: &Remediator,
    settings: &SweepSettings,
    retry: &RetryPolicy,
    (sweep_id, started): (&str, u64),
    mut held: Option<(&Store<'_>, Lock)>,
    progress: &mut impl FnMut(Progress<'_>),
) -> Result<Report, SweepError> {
    let own = Context::new(remediator, settings, retry, false);
    // In a hub (ACCOUNT_SETTINGS naming other accounts, SPOKE_ROLE_NAME), every configured
    // account and region, as the scheduled sweep does.
    let (covered, units) = first_units(&own, sweep_id);
    let manifest = Manifest {
        sweep_id: sweep_id.to_string(),
        mode: remediator.config.mode,
        types: SWEPT_KINDS.to_vec(),
        started_at: timestamp(started),
        started_at_epoch: started,
        account: None,
        region: if covered.is_empty() {
            own.region.clone()
        } else {
            None
        },
        targets: covered,
    };
    let mut queue: VecDeque<WorkUnit> = units.into();
    let mut parts = Vec::new();
    let mut resources = 0;
    while let Some(unit) = queue.pop_front() {
        let mut tries = 1;
        let run = loop {
            match run_where_it_belongs(&own, &unit).await {
                Ok((run, _mode)) => break run,
                Err(error) if error.kind == FailureKind::Transient && tries < UNIT_TRIES => {
                    let wait = retry.backoff(tries + 2);
                    tracing::info!(%error, wait_ms = wait.as_millis() as u64, "unit throttled: trying again");
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                Err(error) => return Err(error.into()),
            }
        };
        if let Some(next) = run.next {
            queue.push_back(next);
        }
        // A sweep longer than SWEEP_LOCK_SECONDS keeps its lock (read only when due).
        if let Some((store, lock)) = &mut held {
            if lock.renewed(epoch(), settings.lock_seconds).is_some() {
                if let Some((current, etag)) = store.holder_tagged().await? {
                    if current.sweep_id == sweep_id {
                        *lock = store
                            .keep(&current, etag.as_deref(), epoch(), settings.lock_seconds)
                            .await?;
                    }
                }
            }
        }
        resources += run.part.resources.len();
        parts.push(run.part);
        if let Some(part) = parts.last() {
            progress(Progress {
                part,
                done: parts.len(),
                waiting: queue.len(),
                resources,
            });
        }
    }
    Ok(Report::assemble(&manifest, parts, timestamp(epoch())))
}

fn epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
