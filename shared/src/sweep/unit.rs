//! The messages of a sweep: the schedule's start message, and the unit of work on the queue.
//!
//! Both are parsed strictly: the work queue is the remediator's own input, and anything that
//! is not exactly a unit (unknown field, unknown type, a sweep id of the wrong shape, an
//! oversized token) is rejected with a reason. The consumer turns the rejection into a
//! batch-item failure, so the queue's redrive policy moves the message to its dead-letter
//! queue, where a person can look at it; nothing is read or written for it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fan_out::SweepTarget;
use crate::remediation::ResourceKind;

/// Every kind a sweep covers, in the order the units are enqueued.
pub const SWEPT_KINDS: [ResourceKind; 10] = [
    ResourceKind::SnsTopic,
    ResourceKind::SqsQueue,
    ResourceKind::LogGroup,
    ResourceKind::S3Bucket,
    ResourceKind::Secret,
    ResourceKind::IamRole,
    ResourceKind::KmsKey,
    ResourceKind::AgentRuntime,
    ResourceKind::Memory,
    ResourceKind::Gateway,
];

/// The largest page number accepted (100 000 pages of 100 = ten million resources of a type).
const MAX_PAGE: u32 = 100_000;
/// The longest page token accepted (AWS tokens are far shorter; S3's is the last bucket name).
const MAX_TOKEN: usize = 4096;

/// The constant input the schedule sends: `{"corebound": "sweep-start"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartMessage;

impl StartMessage {
    pub const VALUE: &'static str = "sweep-start";

    /// True only for exactly `{"corebound": "sweep-start"}`.
    pub fn matches(payload: &Value) -> bool {
        payload.as_object().is_some_and(|object| {
            object.len() == 1 && object.get("corebound") == Some(&Value::from(Self::VALUE))
        })
    }

    pub fn json() -> Value {
        serde_json::json!({"corebound": Self::VALUE})
    }
}

/// One unit of work: one page of one resource type of one sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkUnit {
    pub sweep_id: String,
    pub resource_type: ResourceKind,
    /// 0 for the first page; the part object is named after it.
    pub page: u32,
    /// Where the service's listing continues (its NextToken / Marker, or for S3 the last
    /// bucket name of the previous page); `None` on the first page.
    #[serde(default)]
    pub page_token: Option<String>,
    /// Hub fan-out (issue 13): the account and region to sweep; `None` is the function's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl WorkUnit {
    /// The first page of `kind`.
    pub fn first(sweep_id: &str, kind: ResourceKind) -> Self {
        WorkUnit {
            sweep_id: sweep_id.to_string(),
            resource_type: kind,
            page: 0,
            page_token: None,
            account: None,
            region: None,
        }
    }

    /// The first page of `kind` in `target` (a hub's sweep); `None` is the function's own.
    pub fn first_in(sweep_id: &str, kind: ResourceKind, target: Option<&SweepTarget>) -> Self {
        WorkUnit {
            account: target.map(|t| t.account.clone()),
            region: target.map(|t| t.region.clone()),
            ..WorkUnit::first(sweep_id, kind)
        }
    }

    /// The account and region the unit sweeps; `None`: the function's own.
    pub fn target(&self) -> Option<SweepTarget> {
        SweepTarget::from_parts(&self.account, &self.region)
    }

    /// The page after this one, continuing at `token`.
    pub fn next(&self, token: String) -> Self {
        WorkUnit {
            page: self.page + 1,
            page_token: Some(token),
            ..self.clone()
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings and numbers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why a message is not a unit of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError(pub String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnitError {}

/// Parses a work-queue message body strictly.
pub fn parse_unit(body: &str) -> Result<WorkUnit, UnitError> {
    let unit: WorkUnit = serde_json::from_str(body)
        .map_err(|error| UnitError(format!("not a sweep unit: {error}")))?;
    if !valid_sweep_id(&unit.sweep_id) {
        return Err(UnitError(format!(
            "sweep_id {:?} is not of the form YYYYMMDDTHHMMSSZ-xxxxxxxx",
            unit.sweep_id
        )));
    }
    if unit.page > MAX_PAGE {
        return Err(UnitError(format!("page {} is above {MAX_PAGE}", unit.page)));
    }
    match &unit.page_token {
        Some(token) if token.is_empty() || token.len() > MAX_TOKEN => {
            return Err(UnitError(format!(
                "page_token must be 1 to {MAX_TOKEN} characters"
            )))
        }
        None if unit.page > 0 => {
            return Err(UnitError(
                "a page after the first needs its page_token".into(),
            ))
        }
        _ => {}
    }
    if let Some(account) = &unit.account {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UnitError(format!("account {account:?} is not 12 digits")));
        }
    }
    if let Some(region) = &unit.region {
        let valid = (6..=30).contains(&region.len())
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(UnitError(format!("region {region:?} is not a region name")));
        }
    }
    if unit.account.is_some() != unit.region.is_some() {
        return Err(UnitError(
            "account and region are given together or not at all".into(),
        ));
    }
    Ok(unit)
}

/// `YYYYMMDDTHHMMSSZ-` and eight lower-case hex digits: sorts by start time, and is safe in an
/// S3 key.
pub fn valid_sweep_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 25
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'Z'
        && bytes[16] == b'-'
        && bytes[17..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A new sweep id for a sweep started at `epoch_seconds`; `entropy` (a request id, a process
/// id and clock) makes two sweeps started in the same second differ.
pub fn new_sweep_id(epoch_seconds: u64, entropy: &str) -> String {
    let compact: String = timestamp(epoch_seconds)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let digest = crate::policy_document::short_hash(&format!("{epoch_seconds}/{entropy}"));
    let hex: String = digest
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .chain(std::iter::repeat('0'))
        .take(8)
        .collect();
    format!("{compact}-{hex}")
}

/// RFC 3339 UTC, seconds precision: `2026-12-03T23:15:00Z`.
pub fn timestamp(epoch_seconds: u64) -> String {
    let seconds = i64::try_from(epoch_seconds).unwrap_or(i64::MAX);
    aws_smithy_types::DateTime::from_secs(seconds)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn start_message_is_exact() {
        assert!(StartMessage::matches(&json!({"corebound": "sweep-start"})));
        for other in [
            json!({"corebound": "sweep-start", "mode": "enforce"}),
            json!({"corebound": "sweep"}),
            json!({"detail-type": "Scheduled Event"}),
            json!("sweep-start"),
            json!(null),
        ] {
            assert!(!StartMessage::matches(&other), "{other}");
        }
    }

    #[test]
    fn units_round_trip_and_page_on() {
        let id = new_sweep_id(1_796_340_900, "request-1");
        assert!(valid_sweep_id(&id), "{id}");
        assert!(id.starts_with("20261203T"), "{id}");
        let first = WorkUnit::first(&id, ResourceKind::SqsQueue);
        let json: Value = serde_json::from_str(&first.to_json()).unwrap();
        assert_eq!(
            json,
            json!({"sweep_id": id, "resource_type": "sqs_queue", "page": 0, "page_token": null})
        );
        assert_eq!(parse_unit(&first.to_json()), Ok(first.clone()));
        let second = first.next("token-2".into());
        assert_eq!(second.page, 1);
        assert_eq!(parse_unit(&second.to_json()), Ok(second));
        assert_ne!(new_sweep_id(1_796_340_900, "request-2"), id);
    }

    #[test]
    fn malformed_units_are_rejected_with_a_reason() {
        let id = "20261203T231500Z-1a2b3c4d";
        let cases = [
            ("{", "not a sweep unit"),
            (
                r#"{"sweep_id": "x", "resource_type": "sns_topic", "page": 0}"#,
                "sweep_id",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "ec2_instance", "page": 0}"#,
                "not a sweep unit",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sns_topic", "page": 0, "extra": 1}"#,
                "unknown field",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sns_topic", "page": 3}"#,
                "page_token",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sns_topic", "page": 1, "page_token": ""}"#,
                "page_token",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sns_topic", "page": 0, "account": "12"}"#,
                "account",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sns_topic", "page": 100001, "page_token": "t"}"#,
                "page",
            ),
            (
                r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sns_topic", "page": 0, "account": "123456789012"}"#,
                "together",
            ),
        ];
        for (body, reason) in cases {
            let error = parse_unit(body).unwrap_err();
            assert!(error.0.contains(reason), "{body}: {error}");
        }
        assert!(parse_unit(&format!(
            r#"{{"sweep_id": "{id}", "resource_type": "gateway", "page": 0, "account": "123456789012", "region": "eu-west-1"}}"#
        ))
        .is_ok());
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
    }
}
