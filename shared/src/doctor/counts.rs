//! The doctor's count of in-scope resources missing a mandatory tag or the project key, from
//! the sweep's report mode (`corebound::sweep::Report`): the same listing and the same rules as
//! the scheduled sweep, with nothing written.

use std::collections::BTreeMap;

use crate::remediation::ResourceKind;
use crate::sweep::Report;

use super::report::{Check, Status};

/// What `ResourceResult::missing` says of the key (the tags are `tag:<Key>`).
const MISSING_KEY: &str = "cmk-encryption";

/// The type's name as the sweep report writes it (`sns_topic`).
fn kind_name(kind: ResourceKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The "tags" line from a report-mode sweep.
pub fn counts_check(report: &Report) -> Check {
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let (mut tags, mut keys, mut either) = (0, 0, 0);
    for resource in &report.resources {
        let missing_tags = resource.missing.iter().any(|m| m.starts_with("tag:"));
        let missing_key = resource.missing.iter().any(|m| m == MISSING_KEY);
        tags += usize::from(missing_tags);
        keys += usize::from(missing_key);
        if missing_tags || missing_key {
            either += 1;
            *by_type
                .entry(kind_name(resource.resource_type))
                .or_default() += 1;
        }
    }
    let total = report.summary.resources;
    let unreadable: Vec<String> = report
        .types
        .iter()
        .filter_map(|t| {
            t.unreadable
                .as_ref()
                .map(|why| format!("{} ({why})", kind_name(t.resource_type)))
        })
        .collect();
    let unreadable_note = (!unreadable.is_empty()).then(|| {
        format!(
            "these types could not be listed, so their resources are not counted: {}",
            unreadable.join(", ")
        )
    });
    let check = if either > 0 {
        let types: Vec<String> = by_type.iter().map(|(k, n)| format!("{k} {n}")).collect();
        Check::new(
            "tags",
            Status::Problem,
            format!(
                "{either} of {total} in-scope resources miss a mandatory tag or the project key ({tags} a tag, {keys} the key; {})",
                types.join(", ")
            ),
        )
        .with_fix(
            "`corebound sweep --mode enforce` adds what the rules allow (or let the scheduled sweep do it); `corebound sweep --mode report --report FILE` lists them",
        )
    } else if unreadable.is_empty() && total == 0 {
        Check::new(
            "tags",
            Status::Ok,
            "no in-scope resources yet, so none misses a mandatory tag or the project key",
        )
    } else if unreadable.is_empty() {
        Check::new(
            "tags",
            Status::Ok,
            format!("all {total} in-scope resources carry the mandatory tags and the project key"),
        )
    } else {
        Check::new(
            "tags",
            Status::CannotTell,
            format!("none of the {total} in-scope resources read misses a mandatory tag or the project key, but some types could not be listed"),
        )
    };
    match unreadable_note {
        Some(note) => check.with_note(note),
        None => check,
    }
}

/// The "tags" line when the count was not made: why, and how to get it.
pub fn counts_unavailable(why: &str, fix: &str) -> Check {
    Check::new("tags", Status::CannotTell, why).with_fix(fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::Mode;
    use crate::sweep::{Manifest, Outcome, Part, ResourceResult};

    fn resource(kind: ResourceKind, arn: &str, missing: &[&str]) -> ResourceResult {
        ResourceResult {
            resource_type: kind,
            arn: arn.to_string(),
            outcome: if missing.is_empty() {
                Outcome::Compliant
            } else {
                Outcome::WouldFix
            },
            missing: missing.iter().map(|m| m.to_string()).collect(),
            done: vec![],
            findings: vec![],
            exceptions: vec![],
            error: None,
            account: None,
            region: None,
        }
    }

    fn report(resources: Vec<ResourceResult>, unreadable: Option<(ResourceKind, &str)>) -> Report {
        let kinds = [
            ResourceKind::SnsTopic,
            ResourceKind::SqsQueue,
            ResourceKind::IamRole,
        ];
        let manifest = Manifest {
            sweep_id: "20261203T231500Z-1a2b3c4d".into(),
            mode: Mode::Report,
            types: kinds.to_vec(),
            started_at: "2026-12-03T23:15:00Z".into(),
            started_at_epoch: 0,
            account: None,
            region: Some("us-east-1".into()),
            targets: Vec::new(),
        };
        let parts = kinds
            .iter()
            .map(|kind| Part {
                sweep_id: manifest.sweep_id.clone(),
                resource_type: *kind,
                page: 0,
                last: true,
                listed: 0,
                out_of_scope: 0,
                unreadable: unreadable
                    .filter(|(k, _)| k == kind)
                    .map(|(_, why)| why.to_string()),
                resources: resources
                    .iter()
                    .filter(|r| r.resource_type == *kind)
                    .cloned()
                    .collect(),
                account: None,
                region: None,
            })
            .collect();
        Report::assemble(&manifest, parts, "2026-12-03T23:16:00Z".into())
    }

    #[test]
    fn counts_tags_and_keys_by_type() {
        let r = report(
            vec![
                resource(
                    ResourceKind::SnsTopic,
                    "arn:aws:sns:us-east-1:1:demo-a",
                    &["tag:Project", "cmk-encryption"],
                ),
                resource(
                    ResourceKind::SnsTopic,
                    "arn:aws:sns:us-east-1:1:demo-b",
                    &[],
                ),
                resource(
                    ResourceKind::SqsQueue,
                    "https://q/demo-c",
                    &["cmk-encryption"],
                ),
                resource(
                    ResourceKind::IamRole,
                    "arn:aws:iam::1:role/LPMA_Demo_X",
                    &["role-prefix"],
                ),
            ],
            None,
        );
        let check = counts_check(&r);
        assert_eq!(check.status, Status::Problem);
        assert_eq!(
            check.message,
            "2 of 4 in-scope resources miss a mandatory tag or the project key (1 a tag, 2 the key; sns_topic 1, sqs_queue 1)"
        );
        assert!(check
            .fix
            .unwrap()
            .contains("corebound sweep --mode enforce"));
    }

    #[test]
    fn all_compliant_or_partly_unreadable() {
        let clean = report(
            vec![resource(
                ResourceKind::SnsTopic,
                "arn:aws:sns:us-east-1:1:demo-a",
                &[],
            )],
            None,
        );
        assert_eq!(
            counts_check(&clean).line(),
            "pattern tags ok: all 1 in-scope resources carry the mandatory tags and the project key"
        );
        let partial = report(
            vec![resource(
                ResourceKind::SnsTopic,
                "arn:aws:sns:us-east-1:1:demo-a",
                &[],
            )],
            Some((ResourceKind::IamRole, "AccessDenied: iam:ListRoles")),
        );
        let check = counts_check(&partial);
        assert_eq!(check.status, Status::CannotTell);
        assert_eq!(
            check.notes,
            vec!["these types could not be listed, so their resources are not counted: iam_role (AccessDenied: iam:ListRoles)".to_string()]
        );
    }
}
