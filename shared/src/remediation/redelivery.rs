//! How an event reaches the function, and how it comes back later: EventBridge invokes the
//! function directly (asynchronously); the function hands an event back to itself through
//! the deferral queue (`DEFERRAL_QUEUE_URL`, an SQS queue whose messages Lambda delivers to
//! the function through an event source mapping) for two reasons:
//!
//! - **deferred**: a bucket a provisioning tool created (see [`super::creator`]) is checked
//!   again `DEFERRAL_DELAY_SECONDS` later, whatever the tool did meanwhile;
//! - **retry**: a failed event is retried by the function itself (`DEFERRAL_RETRY_DELAY_SECONDS`,
//!   default 60 s, then twice that; [`MAX_RETRIES`] times, as Lambda would), with the number of
//!   failures so far in the
//!   message, so the failure is alerted **once per event** ([`alert_on_failure`]). Lambda's
//!   own asynchronous retries carry no attempt number (a retry has the same request id and
//!   the same event, and the function has no state between execution environments), so
//!   without the queue the function cannot tell a first attempt from a retry.
//!
//! A queued message is `{"corebound": {"reason": "deferred"|"retry", "failures": N},
//! "event": <the EventBridge event>}`. It is acted on only when the SQS record comes from
//! the configured queue (`eventSourceARN`), and the inner event still has to pass
//! [`super::authenticate`] like any other.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{arn_parts, ConfigError};

/// Retries after the first failure (Lambda's asynchronous default is 2).
pub const MAX_RETRIES: u32 = 2;
/// Default `DEFERRAL_DELAY_SECONDS`: CloudFormation and Terraform tag and encrypt a bucket
/// within seconds of creating it.
pub const DEFAULT_DEFERRAL_DELAY_SECONDS: u32 = 120;
/// Default `DEFERRAL_RETRY_DELAY_SECONDS`: Lambda's own first retry comes after one minute.
pub const DEFAULT_RETRY_DELAY_SECONDS: u32 = 60;
/// SQS `DelaySeconds` maximum.
const MAX_DELAY_SECONDS: u32 = 900;

/// `DEFERRAL_QUEUE_URL`, `DEFERRAL_DELAY_SECONDS` and `DEFERRAL_RETRY_DELAY_SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeferralConfig {
    /// The queue's URL; `None` when unset (then: no deferral, Lambda's own retries).
    pub queue_url: Option<String>,
    /// How long a deferred bucket waits before it is checked again, 0..=900.
    pub delay_seconds: u32,
    /// The wait before the first retry of a failed event, doubled for the second, 0..=450.
    pub retry_delay_seconds: u32,
}

impl DeferralConfig {
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let queue_url = get("DEFERRAL_QUEUE_URL")
            .map(|raw| {
                let url = raw.trim().to_string();
                let valid = queue_identity(&url).is_some();
                valid.then_some(url).ok_or(ConfigError {
                    variable: "DEFERRAL_QUEUE_URL",
                    received: format!("{raw:?}"),
                    expected: "an SQS queue URL https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>"
                        .to_string(),
                })
            })
            .transpose()?;
        let seconds = |variable: &'static str, default: u32, max: u32| match get(variable) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|seconds| *seconds <= max)
                .ok_or(ConfigError {
                    variable,
                    received: format!("{raw:?}"),
                    expected: format!("whole seconds from 0 to {max} (the SQS delay limit)"),
                }),
        };
        Ok(Self {
            queue_url,
            delay_seconds: seconds(
                "DEFERRAL_DELAY_SECONDS",
                DEFAULT_DEFERRAL_DELAY_SECONDS,
                MAX_DELAY_SECONDS,
            )?,
            retry_delay_seconds: seconds(
                "DEFERRAL_RETRY_DELAY_SECONDS",
                DEFAULT_RETRY_DELAY_SECONDS,
                MAX_DELAY_SECONDS >> MAX_RETRIES.saturating_sub(1),
            )?,
        })
    }

    /// True when an SQS record's `eventSourceARN` names the configured queue.
    pub fn is_our_queue(&self, event_source_arn: &str) -> bool {
        self.queue_url
            .as_deref()
            .is_some_and(|url| url_names_queue(url, event_source_arn))
    }
}

/// True when `event_source_arn` (an SQS record's) is the queue at `url` (also the sweep's
/// work queue check).
pub fn url_names_queue(url: &str, event_source_arn: &str) -> bool {
    let Some((region, account, name)) = queue_identity(url) else {
        return false;
    };
    arn_parts(event_source_arn).is_some_and(|[_, _, service, arn_region, arn_account, resource]| {
        service == "sqs"
            && arn_account == account
            && resource == name
            && region.is_none_or(|region| region == arn_region)
    })
}

/// `(region if the host names one, account, queue name)` of a queue URL:
/// `https://sqs.eu-west-1.amazonaws.com/123456789012/q`, or a local endpoint's
/// `http://127.0.0.1:4566/123456789012/q`.
pub fn queue_identity(url: &str) -> Option<(Option<&str>, &str, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let (account, name) = path.trim_end_matches('/').split_once('/')?;
    let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let valid_name = !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    let region = host
        .strip_prefix("sqs.")
        .and_then(|host| host.split_once(".amazonaws.com"))
        .map(|(region, _)| region);
    (valid_account && valid_name && !host.is_empty()).then_some((region, account, name))
}

/// Why an event came back through the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedeliveryReason {
    Deferred,
    Retry,
}

/// The `corebound` member of a queued message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redelivery {
    pub reason: RedeliveryReason,
    /// Failed attempts of this event so far (0 for a deferred event).
    pub failures: u32,
}

/// A queued message body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requeued {
    pub corebound: Redelivery,
    pub event: Value,
}

/// One SQS record of a batch the deferral queue delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedRecord {
    pub message_id: String,
    pub event_source_arn: String,
    /// `attributes.ApproximateReceiveCount`: above 1, SQS delivers the message again.
    pub receive_count: u32,
    /// The parsed body, or why it is not one of ours.
    pub body: Result<Requeued, String>,
}

/// What invoked the function.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// An EventBridge event (or anything else that is not an SQS batch).
    Direct(Value),
    /// An SQS batch (`Records` with `eventSource` `aws:sqs`).
    Queued(Vec<QueuedRecord>),
}

impl Delivery {
    pub fn from_payload(payload: Value) -> Self {
        let is_sqs_batch = payload
            .get("Records")
            .and_then(Value::as_array)
            .is_some_and(|records| {
                !records.is_empty()
                    && records
                        .iter()
                        .all(|record| record.get("eventSource") == Some(&Value::from("aws:sqs")))
            });
        if !is_sqs_batch {
            return Self::Direct(payload);
        }
        let records = payload["Records"]
            .as_array()
            .map(|records| records.iter().map(queued_record).collect())
            .unwrap_or_default();
        Self::Queued(records)
    }
}

fn queued_record(record: &Value) -> QueuedRecord {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let body = record
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| "no body".to_string())
        .and_then(|body| {
            serde_json::from_str::<Requeued>(body)
                .map_err(|error| format!("not a corebound message: {error}"))
        });
    QueuedRecord {
        message_id: text(&record["messageId"]),
        event_source_arn: text(&record["eventSourceARN"]),
        receive_count: record["attributes"]["ApproximateReceiveCount"]
            .as_str()
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
        body,
    }
}

/// How many times this event already failed, and whether SQS is delivering this message again
/// (a retry of ours that itself failed and came back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Attempt {
    pub failures: u32,
    pub receive_count: u32,
}

/// A failure is alerted on the event's first failure only: later attempts of the same event
/// are recorded in the audit log, not alerted again.
pub fn alert_on_failure(attempt: Attempt) -> bool {
    attempt.failures == 0 && attempt.receive_count <= 1
}

/// After a failure: the delay before the next try through the queue (`base`, doubled for each
/// failure before), or `None` when the retries are spent (the invocation then fails and the
/// event ends in the dead-letter queue).
pub fn retry_delay(attempt: Attempt, base: u32) -> Option<u32> {
    (attempt.failures < MAX_RETRIES).then(|| (base << attempt.failures).min(MAX_DELAY_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(overrides: &[(&str, &str)]) -> Result<DeferralConfig, ConfigError> {
        let values: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DeferralConfig::from_env(|name| {
            values
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    const URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/myapp-corebound-deferral";

    #[test]
    fn settings_default_and_validate() {
        assert_eq!(
            config(&[]).unwrap(),
            DeferralConfig {
                queue_url: None,
                delay_seconds: 120,
                retry_delay_seconds: 60,
            }
        );
        let set = config(&[
            ("DEFERRAL_QUEUE_URL", URL),
            ("DEFERRAL_DELAY_SECONDS", "300"),
        ])
        .unwrap();
        assert_eq!(set.queue_url.as_deref(), Some(URL));
        assert_eq!(set.delay_seconds, 300);
        for (variable, value) in [
            ("DEFERRAL_QUEUE_URL", "myapp-corebound-deferral"),
            (
                "DEFERRAL_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/myapp/q",
            ),
            ("DEFERRAL_DELAY_SECONDS", "901"),
            ("DEFERRAL_DELAY_SECONDS", "2m"),
            ("DEFERRAL_RETRY_DELAY_SECONDS", "451"),
        ] {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn only_our_queue_is_trusted() {
        let set = config(&[("DEFERRAL_QUEUE_URL", URL)]).unwrap();
        assert!(set.is_our_queue("arn:aws:sqs:eu-west-1:123456789012:myapp-corebound-deferral"));
        for other in [
            "arn:aws:sqs:us-east-1:123456789012:myapp-corebound-deferral",
            "arn:aws:sqs:eu-west-1:210987654321:myapp-corebound-deferral",
            "arn:aws:sqs:eu-west-1:123456789012:other",
            "arn:aws:sns:eu-west-1:123456789012:myapp-corebound-deferral",
            "",
        ] {
            assert!(!set.is_our_queue(other), "{other}");
        }
        let local =
            config(&[("DEFERRAL_QUEUE_URL", "http://127.0.0.1:4566/123456789012/q")]).unwrap();
        assert!(local.is_our_queue("arn:aws:sqs:us-east-1:123456789012:q"));
        assert!(!config(&[])
            .unwrap()
            .is_our_queue("arn:aws:sqs:us-east-1:123456789012:q"));
    }

    #[test]
    fn payloads_are_told_apart() {
        let event = json!({"source": "aws.s3", "detail": {}});
        assert_eq!(
            Delivery::from_payload(event.clone()),
            Delivery::Direct(event.clone())
        );
        let body = json!({"corebound": {"reason": "retry", "failures": 1}, "event": event});
        let batch = json!({"Records": [
            {"messageId": "m-1", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
             "body": body.to_string(), "attributes": {"ApproximateReceiveCount": "2"}},
            {"messageId": "m-2", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
             "body": "{\"source\": \"aws.s3\"}", "attributes": {}}
        ]});
        let Delivery::Queued(records) = Delivery::from_payload(batch) else {
            panic!("an SQS batch");
        };
        assert_eq!(records[0].message_id, "m-1");
        assert_eq!(records[0].receive_count, 2);
        let requeued = records[0].body.as_ref().unwrap();
        assert_eq!(requeued.corebound.reason, RedeliveryReason::Retry);
        assert_eq!(requeued.corebound.failures, 1);
        assert_eq!(requeued.event, event);
        assert_eq!(records[1].receive_count, 1);
        assert!(records[1].body.is_err(), "a bare event is not one of ours");
        // Records from another source are not a queue batch.
        let mixed = json!({"Records": [{"eventSource": "aws:s3"}]});
        assert!(matches!(Delivery::from_payload(mixed), Delivery::Direct(_)));
    }

    #[test]
    fn a_failure_is_alerted_once_and_retried_twice() {
        let first = Attempt {
            failures: 0,
            receive_count: 1,
        };
        assert!(alert_on_failure(first));
        assert_eq!(retry_delay(first, 60), Some(60));
        let second = Attempt {
            failures: 1,
            receive_count: 1,
        };
        assert!(!alert_on_failure(second));
        assert_eq!(retry_delay(second, 60), Some(120));
        assert_eq!(retry_delay(second, 0), Some(0));
        let third = Attempt {
            failures: 2,
            receive_count: 1,
        };
        assert!(!alert_on_failure(third));
        assert_eq!(retry_delay(third, 60), None);
        assert!(
            !alert_on_failure(Attempt {
                failures: 0,
                receive_count: 2
            }),
            "SQS redelivered it"
        );
    }
}
