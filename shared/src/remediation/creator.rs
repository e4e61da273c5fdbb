//! The S3 creator race (issue 15): S3 `CreateBucket` takes no tags, so CloudFormation and
//! Terraform create a bucket and call `PutBucketTagging` / `PutBucketEncryption` a moment
//! later. `PutBucketTagging` replaces the whole tag set and S3 has no conditional write, so
//! a remediation racing the tool can lose the tool's tags, or have its own tags replaced.
//!
//! - A bucket a provisioning tool created is **deferred** on its `CreateBucket` event
//!   ([`provisioning_tool`]): the tool's own `PutBucketTagging` / `PutBucketEncryption`
//!   event triggers the merge (each only the rule it touches, see
//!   [`Trigger`](super::Trigger) and [`restrict_to_trigger`]), and a delayed re-delivery of
//!   the create event remediates whatever no such event fixed.
//! - Every other S3 tag write is made as safe as S3 allows: the handler re-reads the tags
//!   immediately before writing (the set is computed from that read), reads them back after
//!   writing and, when a tag present before the write is gone ([`lost_tags`]), writes them
//!   back ([`repaired_tags`]) and records it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::audit::Rule;
use super::event::{Actor, CreateEvent, ResourceKind, Trigger};
use super::plan::{Action, Plan};
use super::rules::missing_tags;

/// The service name CloudTrail records when CloudFormation makes a call.
const CLOUDFORMATION: &str = "cloudformation.amazonaws.com";

/// A tool that configures a bucket in calls after `CreateBucket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningTool {
    CloudFormation,
    Terraform,
}

impl fmt::Display for ProvisioningTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CloudFormation => "CloudFormation",
            Self::Terraform => "Terraform",
        })
    }
}

/// The tool that made the call, if the event shows one:
/// - CloudFormation: `userIdentity.invokedBy`, `sourceIPAddress` or `userAgent` is
///   `cloudformation.amazonaws.com` (with or without a stack service role: CloudFormation
///   calls through a service role are recorded with `invokedBy` as well);
/// - Terraform (and OpenTofu, its fork): the user agent names it
///   (`… Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 …`).
pub fn provisioning_tool(actor: &Actor) -> Option<ProvisioningTool> {
    let is_cloudformation = |value: &Option<String>| {
        value
            .as_deref()
            .is_some_and(|value| value.trim().eq_ignore_ascii_case(CLOUDFORMATION))
    };
    if is_cloudformation(&actor.invoked_by)
        || is_cloudformation(&actor.source_ip)
        || is_cloudformation(&actor.user_agent)
    {
        return Some(ProvisioningTool::CloudFormation);
    }
    let agent = actor.user_agent.as_deref().unwrap_or_default();
    let agent = agent.to_ascii_lowercase();
    ["terraform/", "terraform-provider-aws/", "opentofu/"]
        .iter()
        .any(|marker| agent.contains(marker))
        .then_some(ProvisioningTool::Terraform)
}

/// The tool whose bucket this create event is, when the event must be deferred: a
/// `CreateBucket` made by a [`ProvisioningTool`]. Its configuration calls follow.
pub fn deferred_create(event: &CreateEvent) -> Option<ProvisioningTool> {
    let bucket_create = event.event_name == "CreateBucket"
        && event.resource.as_ref().map(|r| r.kind()) == Some(ResourceKind::S3Bucket);
    bucket_create
        .then(|| provisioning_tool(&event.actor))
        .flatten()
}

/// Keeps the part of a plan that the event asks for: a `PutBucketTagging` event judges the
/// tags only, a `PutBucketEncryption` event the encryption only (the tool may be about to
/// set the other one itself); every drift event likewise its own rule ([`super::drift`]).
/// Scope and opt-out findings always stay.
pub fn restrict_to_trigger(plan: Plan, trigger: Trigger) -> Plan {
    // The role-name prefix cannot drift (roles cannot be renamed): judged on creation only.
    let keep = |rule: Rule| match trigger {
        Trigger::Create => true,
        Trigger::TagsChanged => !matches!(rule, Rule::CmkEncryption | Rule::RolePrefix),
        Trigger::EncryptionChanged => !matches!(rule, Rule::MandatoryTags | Rule::RolePrefix),
    };
    Plan {
        actions: plan
            .actions
            .into_iter()
            .filter(|action| keep(action.rule()))
            .collect(),
        findings: plan
            .findings
            .into_iter()
            .filter(|finding| keep(finding.rule()))
            .collect(),
        compliant: plan
            .compliant
            .into_iter()
            .filter(|rule| keep(*rule))
            .collect(),
        exceptions: plan
            .exceptions
            .into_iter()
            .filter(|exception| keep(exception.rule()))
            .collect(),
    }
}

/// The tags of `before` (read immediately before our write) that are missing or changed in
/// `after` (read back after it): another writer replaced the set in between.
pub fn lost_tags(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    before
        .iter()
        .filter(|(key, _)| !after.contains_key(*key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The set to write back after a lost write: what is there now (the other writer's values
/// win for keys both have), plus the lost tags, plus the required tags still missing.
pub fn repaired_tags(
    after: &BTreeMap<String, String>,
    lost: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut repaired = after.clone();
    for (key, value) in lost {
        repaired.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let missing = missing_tags(&repaired, required);
    repaired.extend(missing);
    repaired
}

/// The S3 tag write of a plan, recomputed from a fresh read: every tag read now, plus the
/// required tags still missing. `None` when nothing is missing any more.
pub fn fresh_bucket_tags(
    current: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
) -> Option<Action> {
    let missing = missing_tags(current, required);
    (!missing.is_empty()).then(|| {
        let mut tags = current.clone();
        tags.extend(missing);
        Action::ReplaceBucketTags { tags }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::config::tests::sample;
    use crate::remediation::event::tests::fixture;
    use crate::remediation::plan::{EncryptionChange, Finding};

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn actor(invoked_by: Option<&str>, ip: Option<&str>, agent: Option<&str>) -> Actor {
        Actor {
            invoked_by: invoked_by.map(str::to_string),
            source_ip: ip.map(str::to_string),
            user_agent: agent.map(str::to_string),
            ..Actor::default()
        }
    }

    #[test]
    fn tools_are_recognised_by_invoked_by_source_ip_or_user_agent() {
        use ProvisioningTool::{CloudFormation, Terraform};
        let cases = [
            (actor(Some(CLOUDFORMATION), None, None), Some(CloudFormation)),
            (
                actor(None, Some(CLOUDFORMATION), Some("cloudformation.amazonaws.com")),
                Some(CloudFormation),
            ),
            (actor(None, None, Some(CLOUDFORMATION)), Some(CloudFormation)),
            (
                actor(
                    None,
                    Some("203.0.113.7"),
                    Some(
                        "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) \
                         terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) \
                         aws-sdk-go-v2/1.32.5 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/s3#1.69.0",
                    ),
                ),
                Some(Terraform),
            ),
            (
                actor(None, None, Some("OpenTofu/1.8.0 terraform-provider-aws/5.60.0")),
                Some(Terraform),
            ),
            (
                actor(None, Some("203.0.113.24"), Some("aws-cli/2.27.14 md/command#CreateBucket")),
                None,
            ),
            (actor(Some("ec2.amazonaws.com"), None, None), None),
            (actor(None, None, None), None),
        ];
        for (actor, tool) in cases {
            assert_eq!(provisioning_tool(&actor), tool, "{actor:?}");
        }
    }

    #[test]
    fn only_a_tool_made_create_bucket_is_deferred() {
        let mut create = fixture("create-bucket.json");
        assert_eq!(deferred_create(&create), None, "a person's bucket");
        create.actor.invoked_by = Some(CLOUDFORMATION.to_string());
        assert_eq!(
            deferred_create(&create),
            Some(ProvisioningTool::CloudFormation)
        );
        let mut tagging = create.clone();
        tagging.event_name = "PutBucketTagging".to_string();
        assert_eq!(
            deferred_create(&tagging),
            None,
            "the tool's own call triggers the merge"
        );
        let mut topic = fixture("create-topic.json");
        topic.actor.invoked_by = Some(CLOUDFORMATION.to_string());
        assert_eq!(
            deferred_create(&topic),
            None,
            "topics take tags in CreateTopic"
        );
    }

    #[test]
    fn configuration_events_judge_only_their_rule() {
        let plan = Plan {
            actions: vec![
                Action::ReplaceBucketTags {
                    tags: tags(&[("A", "1")]),
                },
                Action::SetEncryption(EncryptionChange::S3BucketDefault {
                    key_arn: "k".into(),
                }),
            ],
            findings: vec![
                Finding::EmptyRequiredTags {
                    keys: vec!["Project".into()],
                },
                Finding::EncryptedWithForeignKey { key: "x".into() },
                Finding::RoleNameOutsidePrefix {
                    role_name: "r".into(),
                    prefix: "LPMA_".into(),
                },
            ],
            compliant: vec![Rule::Scope],
            exceptions: Vec::new(),
        };
        assert_eq!(restrict_to_trigger(plan.clone(), Trigger::Create), plan);
        let tags_only = restrict_to_trigger(plan.clone(), Trigger::TagsChanged);
        assert_eq!(tags_only.actions, plan.actions[..1]);
        assert_eq!(tags_only.findings, plan.findings[..1]);
        assert_eq!(tags_only.compliant, [Rule::Scope]);
        let encryption_only = restrict_to_trigger(plan.clone(), Trigger::EncryptionChanged);
        assert_eq!(encryption_only.actions, plan.actions[1..]);
        assert_eq!(encryption_only.findings, plan.findings[1..2]);
    }

    #[test]
    fn a_lost_write_is_detected_and_repaired_without_losing_anyone_s_tags() {
        let required = sample().required_tags;
        let before = tags(&[("Team", "data"), ("Owner", "alice")]);
        // Another writer replaced the set right after ours: ours and Team are gone,
        // it set Owner to its own value and added CostCenter.
        let after = tags(&[("Owner", "bob"), ("CostCenter", "42")]);
        let lost = lost_tags(&before, &after);
        assert_eq!(
            lost,
            tags(&[("Team", "data")]),
            "Owner was changed, not lost"
        );
        let repaired = repaired_tags(&after, &lost, &required);
        assert_eq!(repaired["Owner"], "bob", "the later writer's value stays");
        assert_eq!(repaired["CostCenter"], "42");
        assert_eq!(repaired["Team"], "data");
        for (key, value) in &required {
            assert_eq!(&repaired[key], value);
        }
        assert!(lost_tags(&before, &repaired).is_empty());
        assert!(lost_tags(&before, &before).is_empty());
    }

    #[test]
    fn the_write_is_recomputed_from_the_fresh_read() {
        let required = sample().required_tags;
        let fresh = tags(&[("Owner", "cfn"), ("Environment", "prod")]);
        let Some(Action::ReplaceBucketTags { tags: set }) = fresh_bucket_tags(&fresh, &required)
        else {
            panic!("tags are missing");
        };
        assert_eq!(set["Owner"], "cfn");
        assert_eq!(set["Environment"], "prod", "never overwritten");
        assert_eq!(set.len(), 6);
        assert_eq!(fresh_bucket_tags(&set, &required), None);
    }
}
