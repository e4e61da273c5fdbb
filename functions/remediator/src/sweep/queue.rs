//! The Lambda side of the sweep: the schedule's start message, and the work queue's batches.
//!
//! Start: take the lock (one sweep at a time), write the manifest, enqueue the first page of
//! every type. Each queued unit: check that its sweep holds the lock, run it, write its part,
//! enqueue the next page, log its metrics line; the unit that completes every type assembles
//! the report (written once, conditionally), logs the sweep's metrics, sends the summary when
//! someone must act, and releases the lock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use corebound::remediation::url_names_queue;
use corebound::sweep::{
    completion, new_sweep_id, parse_part_key, parse_unit, part_key, report_key, summary,
    sweep_metrics, timestamp, unit_metrics, Lock, Manifest, Part, PartKey, Report, SweepSettings,
    WorkUnit, PARTS_PREFIX, SWEPT_KINDS,
};
use serde_json::{json, Value};

use crate::handler::Remediator;
use crate::retry::{CallError, RetryPolicy};

use super::store::{Acquired, Condition, Store, Written};
use super::unit::{first_units, run_where_it_belongs};
use super::Context;

/// A unit is not started with less than this left before the invocation's deadline: it goes
/// back to the queue instead (a unit lists at most one page, well inside this).
const UNIT_RESERVE: Duration = Duration::from_secs(20);

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn manifest_key(sweep_id: &str) -> String {
    format!("{PARTS_PREFIX}{sweep_id}/manifest.json")
}

/// True when the payload is an SQS batch from the sweep's work queue.
pub fn is_sweep_batch(payload: &Value, settings: &SweepSettings) -> bool {
    let Some(queue) = settings.queue_url.as_deref() else {
        return false;
    };
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSourceARN"))
        .and_then(Value::as_str)
        .is_some_and(|arn| url_names_queue(queue, arn))
}

/// The schedule's start message: `{"sweep": "started" | "already-running" | "disabled", …}`.
pub async fn start(
    remediator: &Remediator,
    settings: &SweepSettings,
    request_id: &str,
    retry: &RetryPolicy,
) -> Result<Value, CallError> {
    let (Some(queue), Some(bucket)) = (&settings.queue_url, &settings.report_bucket) else {
        tracing::warn!("sweep start received, but SWEEP_QUEUE_URL or REPORT_BUCKET is unset");
        return Ok(
            json!({"sweep": "disabled", "reason": "SWEEP_QUEUE_URL or REPORT_BUCKET is unset"}),
        );
    };
    let store = Store {
        s3: &remediator.clients.s3,
        bucket,
        retry,
    };
    let now = now_epoch();
    let sweep_id = new_sweep_id(now, request_id);
    let mode = remediator.config.mode;
    let lock = Lock::new(&sweep_id, mode, now, settings.lock_seconds);
    let previous = match store.acquire(&lock).await? {
        Acquired::No { running } => {
            tracing::info!(running = %running, "a sweep is already running: not starting another");
            return Ok(json!({"sweep": "already-running", "sweep_id": running}));
        }
        Acquired::Yes { previous } => previous,
    };
    if let Some(previous) = &previous {
        tracing::warn!(previous = %previous, "took over the expired lock of a sweep that did not finish");
    }
    // A hub's sweep covers every account and region ACCOUNT_SETTINGS gives a key for.
    let own = Context::new(remediator, settings, retry, true);
    let (covered, units) = first_units(&own, &sweep_id);
    let manifest = Manifest {
        sweep_id: sweep_id.clone(),
        mode,
        types: SWEPT_KINDS.to_vec(),
        started_at: lock.started_at.clone(),
        started_at_epoch: now,
        account: None,
        region: None,
        targets: covered,
    };
    let enqueued = async {
        store
            .put_json(&manifest_key(&sweep_id), &manifest, Condition::None)
            .await?;
        send_all(remediator, retry, queue, &units).await?;
        Ok::<(), CallError>(())
    }
    .await;
    if let Err(error) = enqueued {
        // Without every first unit the sweep could never finish: give the lock back, so
        // Lambda's retry of this start (or the next schedule) begins afresh.
        tracing::error!(%error, sweep_id = %sweep_id, "could not start the sweep");
        if let Err(release) = store.release(&sweep_id).await {
            tracing::error!(error = %release, "could not release the lock");
        }
        return Err(error);
    }
    tracing::info!(sweep_id = %sweep_id, ?mode, units = units.len(), targets = manifest.targets.len(), "sweep started");
    Ok(json!({"sweep": "started", "sweep_id": sweep_id, "units": units.len()}))
}

/// The first units, ten to a `SendMessageBatch` (a hub's sweep starts hundreds).
async fn send_all(
    remediator: &Remediator,
    retry: &RetryPolicy,
    queue: &str,
    units: &[WorkUnit],
) -> Result<(), CallError> {
    const OPERATION: &str = "sqs:SendMessageBatch";
    for chunk in units.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(index, unit)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(unit.to_json())
                    .build()
                    .map_err(|error| CallError::invalid(OPERATION, error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = retry
            .sdk(OPERATION, || {
                remediator
                    .clients
                    .sqs
                    .send_message_batch()
                    .queue_url(queue)
                    .set_entries(Some(entries.clone()))
                    .send()
            })
            .await?;
        // An entry refused inside a successful answer: sent one by one, with their retries.
        for failed in output.failed() {
            let unit = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|index| chunk.get(index));
            match unit {
                Some(unit) => send(remediator, retry, queue, unit).await?,
                None => {
                    return Err(CallError::invalid(
                        OPERATION,
                        format!("unknown entry id {:?} in the answer", failed.id()),
                    ))
                }
            }
        }
    }
    Ok(())
}

async fn send(
    remediator: &Remediator,
    retry: &RetryPolicy,
    queue: &str,
    unit: &WorkUnit,
) -> Result<(), CallError> {
    let body = unit.to_json();
    retry
        .sdk("sqs:SendMessage", || {
            remediator
                .clients
                .sqs
                .send_message()
                .queue_url(queue)
                .message_body(&body)
                .send()
        })
        .await?;
    Ok(())
}

/// A batch from the work queue: `{"batchItemFailures": [...]}` naming the records that stay in
/// the queue (malformed ones end in its dead-letter queue; throttled ones are retried).
pub async fn consume(
    remediator: &Remediator,
    settings: &SweepSettings,
    payload: &Value,
    deadline: Instant,
    retry: &RetryPolicy,
) -> Value {
    let records = payload["Records"].as_array().cloned().unwrap_or_default();
    let mut failed = Vec::new();
    for record in &records {
        let message_id = record["messageId"].as_str().unwrap_or_default().to_string();
        let keep = if Instant::now() + UNIT_RESERVE > deadline {
            tracing::info!(message_id = %message_id, "too close to the deadline: the unit goes back to the queue");
            true
        } else {
            one_record(remediator, settings, record, retry).await
        };
        if keep {
            failed.push(json!({"itemIdentifier": message_id}));
        }
    }
    json!({"batchItemFailures": failed})
}

/// One record; true when it must stay in the queue.
async fn one_record(
    remediator: &Remediator,
    settings: &SweepSettings,
    record: &Value,
    retry: &RetryPolicy,
) -> bool {
    let message_id = record["messageId"].as_str().unwrap_or_default();
    let from_queue = settings.queue_url.as_deref().is_some_and(|queue| {
        record["eventSourceARN"]
            .as_str()
            .is_some_and(|arn| url_names_queue(queue, arn))
    });
    let unit = if from_queue {
        record["body"]
            .as_str()
            .ok_or_else(|| "the record has no body".to_string())
            .and_then(|body| parse_unit(body).map_err(|error| error.to_string()))
    } else {
        Err("the record is not from SWEEP_QUEUE_URL".to_string())
    };
    // A unit for another account or region must name one ACCOUNT_SETTINGS configures: a
    // forged one is never swept (nor a role assumed for it).
    let unit = unit.and_then(|unit| match unit.target() {
        None => Ok(unit),
        Some(target) => {
            let own = Context::new(remediator, settings, retry, true);
            let configured = remediator
                .accounts
                .configured_targets(Some(&own.account))
                .contains(&(target.account.clone(), target.region.clone()));
            if configured {
                Ok(unit)
            } else {
                Err(format!(
                    "unit for {target}: not an account and region ACCOUNT_SETTINGS configures"
                ))
            }
        }
    });
    let unit = match unit {
        Ok(unit) => unit,
        Err(reason) => {
            // Kept in the queue: after maxReceiveCount it waits in the dead-letter queue.
            tracing::warn!(message_id, reason = %reason, "sweep unit rejected");
            return true;
        }
    };
    match run_queued(remediator, settings, &unit, retry).await {
        Ok(()) => false,
        Err(error) => {
            tracing::warn!(
                message_id,
                sweep_id = %unit.sweep_id,
                resource_type = ?unit.resource_type,
                page = unit.page,
                %error,
                "sweep unit failed: the queue retries it"
            );
            true
        }
    }
}

async fn run_queued(
    remediator: &Remediator,
    settings: &SweepSettings,
    unit: &WorkUnit,
    retry: &RetryPolicy,
) -> Result<(), CallError> {
    let (Some(queue), Some(bucket)) = (&settings.queue_url, &settings.report_bucket) else {
        return Err(CallError::invalid("sweep", "REPORT_BUCKET is unset"));
    };
    let store = Store {
        s3: &remediator.clients.s3,
        bucket,
        retry,
    };
    // Only the sweep holding the lock works: a unit of a dead sweep, or a forged id, does
    // nothing.
    let holder = store.holder_tagged().await?;
    if holder.as_ref().map(|(lock, _)| lock.sweep_id.as_str()) != Some(unit.sweep_id.as_str()) {
        tracing::warn!(
            sweep_id = %unit.sweep_id,
            holder = ?holder.map(|(lock, _)| lock.sweep_id),
            "unit of a sweep that does not hold the lock: dropped"
        );
        return Ok(());
    }
    // A sweep longer than SWEEP_LOCK_SECONDS keeps its lock while its units run.
    if let Some((lock, etag)) = &holder {
        store
            .keep(lock, etag.as_deref(), now_epoch(), settings.lock_seconds)
            .await?;
    }
    let own = Context::new(remediator, settings, retry, true);
    let (run, mode) = run_where_it_belongs(&own, unit).await?;
    let part = &run.part;
    store
        .put_json(
            &part_key(
                &unit.sweep_id,
                unit.target().as_ref(),
                unit.resource_type,
                unit.page,
                part.last,
            ),
            part,
            Condition::None,
        )
        .await?;
    if let Some(next) = &run.next {
        send(remediator, retry, queue, next).await?;
    }
    let function = function_name();
    println!(
        "{}",
        unit_metrics(&function, mode, part, now_epoch() * 1000)
    );
    tracing::info!(
        sweep_id = %unit.sweep_id,
        resource_type = ?unit.resource_type,
        account = ?unit.account,
        region = ?unit.region,
        page = unit.page,
        listed = part.listed,
        in_scope = part.resources.len(),
        last = part.last,
        "sweep unit done"
    );
    if part.last {
        finish(remediator, &store, &unit.sweep_id).await?;
    }
    Ok(())
}

fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "corebound-remediator".into())
}

/// Assembles the report if every type is complete. Only the writer of the report (a
/// conditional write) logs the sweep's metrics, alerts and releases the lock.
async fn finish(
    remediator: &Remediator,
    store: &Store<'_>,
    sweep_id: &str,
) -> Result<(), CallError> {
    let keys = store.list(&format!("{PARTS_PREFIX}{sweep_id}/")).await?;
    let parsed: Vec<PartKey> = keys
        .iter()
        .filter_map(|key| parse_part_key(sweep_id, key))
        .collect();
    let Some((body, _)) = store.get(&manifest_key(sweep_id)).await? else {
        return Err(CallError::invalid(
            "sweep",
            format!("no manifest for sweep {sweep_id}"),
        ));
    };
    let manifest: Manifest = serde_json::from_slice(&body)
        .map_err(|error| CallError::invalid("sweep", format!("manifest of {sweep_id}: {error}")))?;
    let Some(chosen) = completion(&manifest, &parsed) else {
        return Ok(());
    };
    let mut parts = Vec::with_capacity(chosen.len());
    for key in chosen {
        let text = part_key(
            sweep_id,
            key.target.as_ref(),
            key.resource_type,
            key.page,
            key.last,
        );
        let Some((body, _)) = store.get(&text).await? else {
            return Err(CallError::invalid("sweep", format!("part {text} vanished")));
        };
        let part: Part = serde_json::from_slice(&body)
            .map_err(|error| CallError::invalid("sweep", format!("part {text}: {error}")))?;
        parts.push(part);
    }
    let now = now_epoch();
    let report = Report::assemble(&manifest, parts, timestamp(now));
    let key = report_key(sweep_id);
    if store.put_json(&key, &report, Condition::Absent).await? == Written::ConditionFailed {
        return Ok(()); // another unit finished the sweep at the same moment
    }
    let location = format!("s3://{}/{key}", store.bucket);
    println!(
        "{}",
        sweep_metrics(
            &function_name(),
            &report,
            now.saturating_sub(manifest.started_at_epoch),
            now * 1000
        )
    );
    tracing::info!(
        sweep_id,
        resources = report.summary.resources,
        non_compliant = report.summary.non_compliant,
        needs_person = report.summary.needs_person,
        report = %location,
        "sweep finished"
    );
    if let (Some(topic), Some(message)) = (
        &remediator.config.alert_topic_arn,
        summary(&report, &location),
    ) {
        let alert = crate::alerts::Alert {
            subject: message.subject,
            message: message.message,
        };
        if let Err(error) = alert
            .publish(&remediator.clients.sns, store.retry, topic)
            .await
        {
            // The report is written: the summary is not worth failing the unit for.
            tracing::error!(%error, "could not publish the sweep summary");
        }
    }
    store.release(sweep_id).await
}
