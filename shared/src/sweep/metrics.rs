//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per unit and one
//! per finished sweep, which Lambda ships to the log group and CloudWatch turns into metrics
//! (no PutMetricData call, no extra permission).
//!
//! - per unit: dimensions `Function`, `ResourceType`; one Count metric per outcome
//!   (`Compliant`, `Fixed`, `WouldFix`, `Exception`, `Failed`, `Unreadable`, `Gone`) and
//!   `NonCompliant`;
//! - per sweep: dimensions `Function`, `Mode`; `SweepResources`, `SweepNonCompliant`,
//!   `SweepNeedsPerson` (Count) and `SweepDuration` (Seconds). The template's alarm watches
//!   `SweepNonCompliant` with `Mode` = `enforce`.

use serde_json::{json, Map, Value};

use super::outcome::Outcome;
use super::report::{kind_name, Part, Report};
use crate::remediation::Mode;

pub const METRICS_NAMESPACE: &str = "corebound/sweep";

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Report => "report",
    }
}

/// The EMF line of one unit.
pub fn unit_metrics(function: &str, mode: Mode, part: &Part, timestamp_ms: u64) -> Value {
    let mut metrics = Vec::new();
    let mut fields = Map::new();
    for outcome in Outcome::ALL {
        let count = part
            .resources
            .iter()
            .filter(|r| r.outcome == outcome)
            .count();
        metrics.push(json!({"Name": outcome.metric(), "Unit": "Count"}));
        fields.insert(outcome.metric().to_string(), json!(count));
    }
    let unreadable_type = usize::from(part.unreadable.is_some());
    if let Some(count) = fields.get_mut("Unreadable") {
        *count = json!(count.as_u64().unwrap_or(0) + unreadable_type as u64);
    }
    metrics.push(json!({"Name": "NonCompliant", "Unit": "Count"}));
    fields.insert(
        "NonCompliant".into(),
        json!(part.resources.iter().filter(|r| r.non_compliant()).count()),
    );
    fields.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Function", "ResourceType"]],
                "Metrics": metrics,
            }]
        }),
    );
    fields.insert("Function".into(), json!(function));
    fields.insert("ResourceType".into(), json!(kind_name(part.resource_type)));
    fields.insert("SweepId".into(), json!(part.sweep_id));
    fields.insert("Mode".into(), json!(mode_name(mode)));
    fields.insert("Page".into(), json!(part.page));
    fields.insert("type".into(), json!("sweep-metrics"));
    Value::Object(fields)
}

/// The EMF line of a finished sweep.
pub fn sweep_metrics(
    function: &str,
    report: &Report,
    duration_seconds: u64,
    timestamp_ms: u64,
) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Function", "Mode"]],
                "Metrics": [
                    {"Name": "SweepResources", "Unit": "Count"},
                    {"Name": "SweepNonCompliant", "Unit": "Count"},
                    {"Name": "SweepNeedsPerson", "Unit": "Count"},
                    {"Name": "SweepDuration", "Unit": "Seconds"},
                ],
            }]
        },
        "Function": function,
        "Mode": mode_name(report.mode),
        "SweepId": report.sweep_id,
        "SweepResources": report.summary.resources,
        "SweepNonCompliant": report.summary.non_compliant,
        "SweepNeedsPerson": report.summary.needs_person,
        "SweepDuration": duration_seconds,
        "type": "sweep-metrics",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::ResourceKind;
    use crate::sweep::ResourceResult;

    #[test]
    fn one_line_per_unit_with_every_outcome() {
        let mut would = ResourceResult::gone(ResourceKind::SnsTopic, "arn:t1", "x");
        would.outcome = Outcome::WouldFix;
        let part = Part {
            sweep_id: "20261203T231500Z-1a2b3c4d".into(),
            resource_type: ResourceKind::SnsTopic,
            page: 0,
            last: true,
            listed: 2,
            out_of_scope: 0,
            unreadable: None,
            resources: vec![
                would,
                ResourceResult::gone(ResourceKind::SnsTopic, "arn:t2", "x"),
            ],
            account: None,
            region: None,
        };
        let line = unit_metrics("corebound-remediator", Mode::Report, &part, 1_000);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], METRICS_NAMESPACE);
        assert_eq!(
            directive["Dimensions"],
            json!([["Function", "ResourceType"]])
        );
        // Every metric named in the directive has a numeric value at the top level (EMF rule).
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_u64(), "{name}");
        }
        assert_eq!(line["WouldFix"], 1);
        assert_eq!(line["Gone"], 1);
        assert_eq!(line["NonCompliant"], 1);
        assert_eq!(line["ResourceType"], "sns_topic");
        assert_eq!(line["Function"], "corebound-remediator");
    }
}
