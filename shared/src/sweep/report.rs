//! The report bucket's objects: one part per unit, and the report assembled from them.
//!
//! Layout (the bucket is `REPORT_BUCKET`):
//! - `sweep-lock.json`: the running sweep ([`super::Lock`]);
//! - `sweep-parts/<sweep id>/manifest.json`: what the sweep covers ([`super::Manifest`]);
//! - `sweep-parts/<sweep id>/<type>-<page>.json`, or `…-<page>-last.json` for a type's last
//!   page: one [`Part`] per unit (a retried unit overwrites its own part); a hub's sweep puts
//!   each account's and region's parts under `sweep-parts/<sweep id>/<account>/<region>/`;
//! - `sweeps/<sweep id>/report.json`: the [`Report`], written once;
//! - `manual-sweeps/<sweep id>/report.json`: the report of a `corebound sweep` run.
//!
//! Parts have their own prefix so a lifecycle rule can expire them after a few days while the
//! reports are kept for the auditors.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::fan_out::SweepTarget;
use super::lock::Manifest;
use super::outcome::{Outcome, ResourceResult};
use crate::remediation::{Mode, ResourceKind};

pub const LOCK_KEY: &str = "sweep-lock.json";
pub const PARTS_PREFIX: &str = "sweep-parts/";
pub const REPORTS_PREFIX: &str = "sweeps/";
/// Reports of `corebound sweep` runs: apart from the scheduled sweeps' (which only the
/// remediator may write), so an engineer's run never needs write access to the audit trail.
pub const MANUAL_REPORTS_PREFIX: &str = "manual-sweeps/";
/// The report's `schema` value; bumped on an incompatible change.
pub const REPORT_SCHEMA: &str = "corebound-sweep-report/1";

/// What one unit found: one page of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub sweep_id: String,
    #[serde(rename = "type")]
    pub resource_type: ResourceKind,
    pub page: u32,
    /// No page follows this one.
    pub last: bool,
    /// Resources the page listed.
    pub listed: usize,
    /// Listed but outside `SCOPE_PATTERNS` (another team's): counted only.
    pub out_of_scope: usize,
    /// The listing itself failed for good (access denied): the type is unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// In-scope resources, one result each.
    pub resources: Vec<ResourceResult>,
    /// The account and region swept (a hub's sweep); absent: the function's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Part {
    pub fn target(&self) -> Option<SweepTarget> {
        SweepTarget::from_parts(&self.account, &self.region)
    }
}

/// Where a part is stored.
pub fn part_key(
    sweep_id: &str,
    target: Option<&SweepTarget>,
    kind: ResourceKind,
    page: u32,
    last: bool,
) -> String {
    let folder = target
        .map(|t| format!("{}/{}/", t.account, t.region))
        .unwrap_or_default();
    format!(
        "{PARTS_PREFIX}{sweep_id}/{folder}{}-{page:05}{}.json",
        kind_name(kind),
        if last { "-last" } else { "" }
    )
}

pub fn report_key(sweep_id: &str) -> String {
    format!("{REPORTS_PREFIX}{sweep_id}/report.json")
}

/// Where `corebound sweep` stores its report (with `REPORT_BUCKET`).
pub fn manual_report_key(sweep_id: &str) -> String {
    format!("{MANUAL_REPORTS_PREFIX}{sweep_id}/report.json")
}

/// A part's identity, read back from its key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartKey {
    /// `None`: the function's own account and region (a single-account sweep).
    pub target: Option<SweepTarget>,
    pub resource_type: ResourceKind,
    pub page: u32,
    pub last: bool,
}

/// `sweep-parts/<id>/[<account>/<region>/]<type>-<page>[-last].json` → its [`PartKey`];
/// `None` for any other key (the manifest, or something that is not ours).
pub fn parse_part_key(sweep_id: &str, key: &str) -> Option<PartKey> {
    let path = key
        .strip_prefix(PARTS_PREFIX)?
        .strip_prefix(sweep_id)?
        .strip_prefix('/')?
        .strip_suffix(".json")?;
    let segments: Vec<&str> = path.split('/').collect();
    let (target, name) = match segments.as_slice() {
        [name] => (None, *name),
        [account, region, name]
            if account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            (
                Some(SweepTarget {
                    account: account.to_string(),
                    region: region.to_string(),
                }),
                *name,
            )
        }
        _ => return None,
    };
    let (name, last) = match name.strip_suffix("-last") {
        Some(name) => (name, true),
        None => (name, false),
    };
    let (kind, page) = name.rsplit_once('-')?;
    if page.len() != 5 || !page.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let resource_type = serde_json::from_value(serde_json::Value::String(kind.to_string())).ok()?;
    Some(PartKey {
        target,
        resource_type,
        page: page.parse().ok()?,
        last,
    })
}

/// When every type of the sweep (in every account and region of a hub's sweep) has its last
/// page and every page before it, the parts to assemble the report from (the last-marked one
/// for a type's last page); else `None`.
pub fn completion(manifest: &Manifest, keys: &[PartKey]) -> Option<Vec<PartKey>> {
    let mut chosen = Vec::new();
    for (target, types) in manifest.groups() {
        chosen.extend(completion_of(&target, &types, keys)?);
    }
    Some(chosen)
}

fn completion_of(
    target: &Option<SweepTarget>,
    types: &[ResourceKind],
    keys: &[PartKey],
) -> Option<Vec<PartKey>> {
    let mut chosen = Vec::new();
    for kind in types {
        let of_kind: Vec<&PartKey> = keys
            .iter()
            .filter(|k| k.resource_type == *kind && k.target == *target)
            .collect();
        // The first last-marked page ends the type (a retried unit may have seen more pages
        // before resources were deleted; pages past the end are ignored).
        let last = of_kind.iter().filter(|k| k.last).map(|k| k.page).min()?;
        let pages: BTreeSet<u32> = of_kind.iter().map(|k| k.page).collect();
        if (0..last).any(|page| !pages.contains(&page)) {
            return None;
        }
        for page in 0..last {
            chosen.push(PartKey {
                target: target.clone(),
                resource_type: *kind,
                page,
                last: false,
            });
        }
        chosen.push(PartKey {
            target: target.clone(),
            resource_type: *kind,
            page: last,
            last: true,
        });
    }
    Some(chosen)
}

/// The count of each outcome, by outcome name (all seven, zeros included).
pub type Counts = BTreeMap<Outcome, usize>;

fn zero_counts() -> Counts {
    Outcome::ALL.iter().map(|outcome| (*outcome, 0)).collect()
}

/// One resource type in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeReport {
    #[serde(rename = "type")]
    pub resource_type: ResourceKind,
    pub pages: u32,
    pub listed: usize,
    pub out_of_scope: usize,
    pub outcomes: Counts,
    /// The type could not be listed (access denied): its resources are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// The account and region (a hub's sweep has one entry per type, account and region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The totals of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// In-scope resources (every outcome).
    pub resources: usize,
    pub out_of_scope: usize,
    pub outcomes: Counts,
    /// Still not compliant after the sweep (would-fix, failed, exception with findings).
    pub non_compliant: usize,
    /// A person must act: findings, failed writes, unreadable resources or types.
    pub needs_person: usize,
    /// Types that could not be listed (in at least one account and region).
    pub unreadable_types: Vec<ResourceKind>,
}

/// The sweep report (schema in docs/reference/sweep-report.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: String,
    pub sweep_id: String,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: String,
    pub summary: Summary,
    pub types: Vec<TypeReport>,
    /// Every in-scope resource, by type then ARN.
    pub resources: Vec<ResourceResult>,
}

impl Report {
    /// The report of a sweep from its manifest and every part ([`completion`] chose them).
    pub fn assemble(manifest: &Manifest, parts: Vec<Part>, finished_at: String) -> Report {
        let mut types: Vec<TypeReport> = manifest
            .groups()
            .into_iter()
            .flat_map(|(target, kinds)| {
                kinds.into_iter().map(move |kind| TypeReport {
                    resource_type: kind,
                    pages: 0,
                    listed: 0,
                    out_of_scope: 0,
                    outcomes: zero_counts(),
                    unreadable: None,
                    account: target.as_ref().map(|t| t.account.clone()),
                    region: target.as_ref().map(|t| t.region.clone()),
                })
            })
            .collect();
        let mut resources = Vec::new();
        for part in parts {
            let Some(entry) = types.iter_mut().find(|entry| {
                entry.resource_type == part.resource_type
                    && entry.account == part.account
                    && entry.region == part.region
            }) else {
                continue;
            };
            entry.pages += 1;
            entry.listed += part.listed;
            entry.out_of_scope += part.out_of_scope;
            if part.unreadable.is_some() {
                entry.unreadable = part.unreadable.clone();
            }
            for resource in &part.resources {
                *entry.outcomes.entry(resource.outcome).or_default() += 1;
            }
            let (account, region) = (part.account, part.region);
            resources.extend(part.resources.into_iter().map(|mut resource| {
                resource.account = account.clone();
                resource.region = region.clone();
                resource
            }));
        }
        let order = |r: &ResourceResult| {
            (
                r.account.clone(),
                r.region.clone(),
                r.resource_type,
                r.arn.clone(),
            )
        };
        resources.sort_by_key(order);
        // A retried page listed again after a change may repeat a resource: keep one.
        resources.dedup_by(|a, b| order(a) == order(b));
        let mut outcomes = zero_counts();
        for resource in &resources {
            *outcomes.entry(resource.outcome).or_default() += 1;
        }
        let unreadable_entries = types.iter().filter(|e| e.unreadable.is_some()).count();
        let unreadable_types: Vec<ResourceKind> = types
            .iter()
            .filter(|entry| entry.unreadable.is_some())
            .map(|entry| entry.resource_type)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let summary = Summary {
            resources: resources.len(),
            out_of_scope: types.iter().map(|entry| entry.out_of_scope).sum(),
            outcomes,
            non_compliant: resources.iter().filter(|r| r.non_compliant()).count(),
            needs_person: resources.iter().filter(|r| r.needs_person()).count()
                + unreadable_entries,
            unreadable_types,
        };
        Report {
            schema: REPORT_SCHEMA.to_string(),
            sweep_id: manifest.sweep_id.clone(),
            mode: manifest.mode,
            account: manifest.account.clone(),
            region: manifest.region.clone(),
            started_at: manifest.started_at.clone(),
            finished_at,
            summary,
            types,
            resources,
        }
    }
}

/// The snake-case name of a kind (`sns_topic`), as in units, keys and the report.
pub fn kind_name(kind: ResourceKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::TargetTypes;

    const ID: &str = "20261203T231500Z-1a2b3c4d";

    fn manifest_of(types: &[ResourceKind], targets: Vec<TargetTypes>) -> Manifest {
        Manifest {
            sweep_id: ID.to_string(),
            mode: Mode::Report,
            types: types.to_vec(),
            started_at: "2026-12-03T23:15:00Z".to_string(),
            started_at_epoch: 0,
            account: None,
            region: None,
            targets,
        }
    }

    fn target(account: &str, region: &str) -> SweepTarget {
        SweepTarget {
            account: account.into(),
            region: region.into(),
        }
    }

    fn key(kind: ResourceKind, page: u32, last: bool) -> PartKey {
        PartKey {
            resource_type: kind,
            page,
            last,
            target: None,
        }
    }

    #[test]
    fn part_keys_round_trip() {
        let text = part_key(ID, None, ResourceKind::SqsQueue, 3, true);
        assert_eq!(
            text,
            "sweep-parts/20261203T231500Z-1a2b3c4d/sqs_queue-00003-last.json"
        );
        assert_eq!(
            parse_part_key(ID, &text),
            Some(key(ResourceKind::SqsQueue, 3, true))
        );
        let text = part_key(ID, None, ResourceKind::LogGroup, 0, false);
        assert_eq!(
            parse_part_key(ID, &text),
            Some(key(ResourceKind::LogGroup, 0, false))
        );
        for other in [
            "sweep-parts/20261203T231500Z-1a2b3c4d/manifest.json",
            "sweep-parts/20261203T231500Z-00000000/sqs_queue-00000.json",
            "sweep-parts/20261203T231500Z-1a2b3c4d/ec2-00000.json",
            "sweep-parts/20261203T231500Z-1a2b3c4d/sqs_queue-0.json",
        ] {
            assert_eq!(parse_part_key(ID, other), None, "{other}");
        }
        // A hub's sweep: the account's and region's folder.
        let spoke = target("222233334444", "eu-west-1");
        let text = part_key(ID, Some(&spoke), ResourceKind::Secret, 1, false);
        assert_eq!(
            text,
            "sweep-parts/20261203T231500Z-1a2b3c4d/222233334444/eu-west-1/secret-00001.json"
        );
        assert_eq!(
            parse_part_key(ID, &text),
            Some(PartKey {
                target: Some(spoke),
                ..key(ResourceKind::Secret, 1, false)
            })
        );
        for other in [
            "sweep-parts/20261203T231500Z-1a2b3c4d/2222/eu-west-1/secret-00001.json",
            "sweep-parts/20261203T231500Z-1a2b3c4d/222233334444/secret-00001.json",
            "sweep-parts/20261203T231500Z-1a2b3c4d/222233334444/EU/secret-00001.json",
            "sweep-parts/20261203T231500Z-1a2b3c4d/a/b/c/secret-00001.json",
        ] {
            assert_eq!(parse_part_key(ID, other), None, "{other}");
        }
    }

    #[test]
    fn a_hub_sweep_is_complete_when_every_account_and_region_is() {
        let spoke = target("222233334444", "eu-west-1");
        let hub = target("111122223333", "us-east-1");
        let manifest = manifest_of(
            &[],
            vec![
                TargetTypes {
                    account: hub.account.clone(),
                    region: hub.region.clone(),
                    types: vec![ResourceKind::IamRole, ResourceKind::Secret],
                },
                TargetTypes {
                    account: spoke.account.clone(),
                    region: spoke.region.clone(),
                    types: vec![ResourceKind::Secret],
                },
            ],
        );
        let in_target = |t: &SweepTarget, kind, page, last| PartKey {
            target: Some(t.clone()),
            ..key(kind, page, last)
        };
        let mut keys = vec![
            in_target(&hub, ResourceKind::IamRole, 0, true),
            in_target(&hub, ResourceKind::Secret, 0, true),
            // The single-account layout does not stand in for a target's parts.
            key(ResourceKind::Secret, 0, true),
        ];
        assert_eq!(completion(&manifest, &keys), None, "the spoke is missing");
        keys.push(in_target(&spoke, ResourceKind::Secret, 0, true));
        let chosen = completion(&manifest, &keys).unwrap();
        assert_eq!(chosen.len(), 3);
        assert!(chosen.iter().all(|k| k.target.is_some()));

        // The report: one type entry per account and region, resources carry theirs, and the
        // same name in two accounts is two resources.
        let part = |t: &SweepTarget, kind, unreadable: Option<&str>| Part {
            sweep_id: ID.into(),
            resource_type: kind,
            page: 0,
            last: true,
            listed: 1,
            out_of_scope: 0,
            unreadable: unreadable.map(str::to_string),
            resources: if unreadable.is_some() {
                vec![]
            } else {
                vec![ResourceResult::gone(kind, "corebound-demo-db", "x")]
            },
            account: Some(t.account.clone()),
            region: Some(t.region.clone()),
        };
        let parts = vec![
            part(
                &hub,
                ResourceKind::IamRole,
                Some("iam:ListRoles: AccessDenied"),
            ),
            part(&hub, ResourceKind::Secret, None),
            part(&spoke, ResourceKind::Secret, None),
        ];
        let report = Report::assemble(&manifest, parts, "2026-12-03T23:16:00Z".into());
        assert_eq!(report.types.len(), 3);
        assert_eq!(report.resources.len(), 2);
        assert_eq!(report.resources[0].account.as_deref(), Some("111122223333"));
        assert_eq!(report.resources[1].region.as_deref(), Some("eu-west-1"));
        assert_eq!(report.summary.unreadable_types, [ResourceKind::IamRole]);
        assert_eq!(report.types[0].account.as_deref(), Some("111122223333"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["resources"][1]["account"], "222233334444");
        assert_eq!(serde_json::from_value::<Report>(json).unwrap(), report);
    }

    #[test]
    fn a_sweep_is_complete_when_every_type_has_all_its_pages() {
        let types = manifest_of(&[ResourceKind::SqsQueue, ResourceKind::Secret], vec![]);
        let mut keys = vec![
            key(ResourceKind::SqsQueue, 0, false),
            key(ResourceKind::SqsQueue, 2, true),
            key(ResourceKind::Secret, 0, true),
        ];
        assert_eq!(
            completion(&types, &keys),
            None,
            "page 1 of the queues is missing"
        );
        keys.push(key(ResourceKind::SqsQueue, 1, false));
        let chosen = completion(&types, &keys).unwrap();
        assert_eq!(chosen.len(), 4);
        assert!(chosen.contains(&key(ResourceKind::SqsQueue, 2, true)));
        assert_eq!(
            completion(&manifest_of(&[ResourceKind::Memory], vec![]), &keys),
            None
        );
        // A page that was the last on a retry ends the type; later pages are ignored.
        keys.push(key(ResourceKind::SqsQueue, 1, true));
        keys.push(key(ResourceKind::SqsQueue, 3, true));
        let chosen = completion(&types, &keys).unwrap();
        assert!(chosen.contains(&key(ResourceKind::SqsQueue, 1, true)));
        assert_eq!(chosen.len(), 3);
    }

    #[test]
    fn the_report_totals_the_parts() {
        let manifest = Manifest {
            sweep_id: ID.to_string(),
            mode: Mode::Report,
            types: vec![ResourceKind::SqsQueue, ResourceKind::IamRole],
            started_at: "2026-12-03T23:15:00Z".to_string(),
            started_at_epoch: 0,
            account: None,
            region: Some("us-east-1".to_string()),
            targets: Vec::new(),
        };
        let result = |arn: &str, outcome| {
            let mut result = ResourceResult::gone(ResourceKind::SqsQueue, arn, "x");
            result.outcome = outcome;
            result.error = None;
            if outcome == Outcome::WouldFix {
                result.missing = vec!["tag:Project".into()];
            }
            result
        };
        let parts = vec![
            Part {
                sweep_id: ID.into(),
                resource_type: ResourceKind::SqsQueue,
                page: 0,
                last: false,
                listed: 3,
                out_of_scope: 1,
                unreadable: None,
                resources: vec![
                    result("q2", Outcome::WouldFix),
                    result("q1", Outcome::Compliant),
                ],
                account: None,
                region: None,
            },
            Part {
                sweep_id: ID.into(),
                resource_type: ResourceKind::SqsQueue,
                page: 1,
                last: true,
                listed: 1,
                out_of_scope: 0,
                unreadable: None,
                resources: vec![result("q2", Outcome::WouldFix)],
                account: None,
                region: None,
            },
            Part {
                sweep_id: ID.into(),
                resource_type: ResourceKind::IamRole,
                page: 0,
                last: true,
                listed: 0,
                out_of_scope: 0,
                unreadable: Some("iam:ListRoles failed: AccessDenied".into()),
                resources: vec![],
                account: None,
                region: None,
            },
        ];
        let report = Report::assemble(&manifest, parts, "2026-12-03T23:16:00Z".into());
        assert_eq!(report.resources.len(), 2, "q2 is kept once");
        assert_eq!(report.resources[0].arn, "q1");
        assert_eq!(report.summary.resources, 2);
        assert_eq!(report.summary.out_of_scope, 1);
        assert_eq!(report.summary.outcomes[&Outcome::WouldFix], 1);
        assert_eq!(report.summary.non_compliant, 1);
        assert_eq!(report.summary.needs_person, 1, "the unreadable type");
        assert_eq!(report.summary.unreadable_types, [ResourceKind::IamRole]);
        assert_eq!(report.types[0].pages, 2);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["schema"], REPORT_SCHEMA);
        assert_eq!(json["summary"]["outcomes"]["would-fix"], 1);
        assert_eq!(json["types"][1]["type"], "iam_role");
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }
}
