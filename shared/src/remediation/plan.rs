//! The plan for one resource: the writes that fix it and the findings a person must see.
//!
//! The handler reads the resource's current state into an [`ObservedState`], calls
//! [`plan`], and carries out the [`Action`]s (in enforce mode) in order. A compliant
//! resource yields no action and no finding, so it costs reads only; planning again on
//! the state after the actions yields no action, so a repeated event writes nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::audit::Rule;
use super::config::RemediationConfig;
use super::delivery::log_delivery_bucket;
use super::encryption::{encryption_decision, EncryptionDecision};
use super::event::{ResourceKind, ResourceRef};
use super::project_key::KeyProblem;
use super::rules::{in_scope, is_opted_out, merged_bucket_tags, missing_tags};

/// AWS's limit of tags per resource (SNS, SQS, Logs, S3, Secrets Manager, IAM, KMS,
/// AgentCore): a tag call past it fails, so the plan reports instead of writing.
pub const TAGS_PER_RESOURCE: usize = 50;

/// What the handler read about the resource before deciding (also the audit's `state_before`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObservedState {
    pub tags: BTreeMap<String, String>,
    pub encryption: EncryptionState,
    /// KMS keys only: the key's aliases (`alias/NAME`). A key has no name, so its scope
    /// is judged on its aliases; empty for every other kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_aliases: Vec<String>,
    /// Queue, topic and bucket: the resource's ARN (the key policy's encryption context
    /// names it); log group: its ARN without `:*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// Queue, topic and bucket: the resource policy as read (who may deliver into it);
    /// `None` without one. Not a JSON object when the service returned something else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<Value>,
    /// Bucket: its ACL grants the S3 log delivery group (server access logs).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub acl_grants_log_delivery: bool,
    /// Set when the service would not say the resource's tags (an AgentCore memory whose
    /// tags the service does not expose): the tag rules are not judged, a finding says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_unavailable: Option<String>,
}

/// The encryption setting as each service reports it (key references verbatim).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EncryptionState {
    /// Kinds without an encryption rule: IAM role, KMS key, AgentCore runtime and gateway.
    #[default]
    NotApplicable,
    /// `GetTopicAttributes` `KmsMasterKeyId`.
    SnsTopic { kms_master_key_id: Option<String> },
    /// `GetQueueAttributes`: compliance is judged on `KmsMasterKeyId` only;
    /// `SqsManagedSseEnabled` is kept for the audit record.
    SqsQueue {
        kms_master_key_id: Option<String>,
        sqs_managed_sse_enabled: bool,
    },
    /// `DescribeLogGroups` `kmsKeyId`.
    LogGroup { kms_key_id: Option<String> },
    /// `GetBucketEncryption` default rule; `None` when the bucket has none.
    S3Bucket {
        default_encryption: Option<S3DefaultEncryption>,
    },
    /// `DescribeSecret` `KmsKeyId` (`None` means the default `aws/secretsmanager` key).
    Secret { kms_key_id: Option<String> },
    /// `GetMemory` `memory.encryptionKeyArn`.
    Memory { encryption_key_arn: Option<String> },
}

/// An S3 bucket's default encryption rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3DefaultEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub sse_algorithm: String,
    pub kms_master_key_id: Option<String>,
    pub bucket_key_enabled: bool,
}

/// A write the remediator makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Tag calls that merge (SNS, SQS, Logs, Secrets Manager, IAM, KMS, AgentCore):
    /// send exactly these, all absent before.
    AddTags {
        tags: BTreeMap<String, String>,
    },
    /// S3 `PutBucketTagging`, which replaces the whole set: the complete set to send,
    /// every existing tag included unchanged.
    ReplaceBucketTags {
        tags: BTreeMap<String, String>,
    },
    SetEncryption(EncryptionChange),
}

impl Action {
    pub fn rule(&self) -> Rule {
        match self {
            Self::AddTags { .. } | Self::ReplaceBucketTags { .. } => Rule::MandatoryTags,
            Self::SetEncryption(_) => Rule::CmkEncryption,
        }
    }
}

/// The call that switches a resource to the project CMK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum EncryptionChange {
    /// SNS `SetTopicAttributes` `KmsMasterKeyId`.
    SnsTopicKey { key_arn: String },
    /// SQS `SetQueueAttributes` `KmsMasterKeyId` (replaces SSE-SQS).
    SqsQueueKey { key_arn: String },
    /// Logs `AssociateKmsKey`.
    LogGroupKey { key_arn: String },
    /// S3 `PutBucketEncryption`: `aws:kms` with this key, bucket key enabled.
    S3BucketDefault { key_arn: String },
    /// Secrets Manager `UpdateSecret` `KmsKeyId`.
    SecretKey { key_arn: String },
}

/// Something the remediator must not or cannot fix: reported to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// No name matches `SCOPE_PATTERNS` (for a KMS key: none of its aliases, possibly
    /// because it has none yet). Nothing else is evaluated.
    OutOfScope { names: Vec<String> },
    /// Carries the opt-out tag with value `off`. Nothing else is evaluated.
    OptedOut { tag: String },
    /// Required tag keys that are present with an empty value: left as set, but the
    /// scanner may still flag them.
    EmptyRequiredTags { keys: Vec<String> },
    /// Roles cannot be renamed.
    RoleNameOutsidePrefix { role_name: String, prefix: String },
    /// AgentCore memory encryption cannot be changed after creation.
    MemoryWithoutCmk,
    /// Encrypted with a key (or S3 setting) someone chose: never overwritten.
    EncryptedWithForeignKey { key: String },
    /// The handler passed no encryption state for this kind: compliance unknown.
    EncryptionStateUnknown { kind: ResourceKind },
    /// Switching to the CMK would stop `principal` delivering into the resource: the key
    /// policy does not let it use the key. `statement` is the key-policy statement to add.
    WouldBreakDelivery {
        principal: String,
        why: String,
        statement: Value,
    },
    /// Logs `AssociateKmsKey` would fail: the key policy does not let CloudWatch Logs
    /// (`principal`, `logs.<region>.amazonaws.com`) use the key.
    LogsNotAllowedByKeyPolicy {
        principal: String,
        why: String,
        statement: Value,
    },
    /// Whether the switch would break a delivery could not be verified: not switched.
    KeySwitchUnverified { reason: String },
    /// `KMS_KEY_ARN` failed its check at start: reported once per cold start; no resource
    /// is switched to it.
    ProjectKeyUnusable {
        key_arn: String,
        problems: Vec<KeyProblem>,
    },
    /// The missing required tags would take the resource past AWS's tag limit.
    TagLimitReached {
        tags: usize,
        missing: Vec<String>,
        limit: usize,
    },
    /// The memory's tags cannot be read or written after creation (the service refused):
    /// the mandatory tags must be given to CreateMemory.
    MemoryTagsAtCreation { error: String },
}

impl Finding {
    pub fn rule(&self) -> Rule {
        match self {
            Self::OutOfScope { .. } => Rule::Scope,
            Self::OptedOut { .. } => Rule::OptOut,
            Self::EmptyRequiredTags { .. } | Self::MemoryTagsAtCreation { .. } => {
                Rule::MandatoryTags
            }
            Self::RoleNameOutsidePrefix { .. } => Rule::RolePrefix,
            Self::TagLimitReached { .. } => Rule::MandatoryTags,
            Self::MemoryWithoutCmk
            | Self::EncryptedWithForeignKey { .. }
            | Self::EncryptionStateUnknown { .. }
            | Self::WouldBreakDelivery { .. }
            | Self::LogsNotAllowedByKeyPolicy { .. }
            | Self::KeySwitchUnverified { .. }
            | Self::ProjectKeyUnusable { .. } => Rule::CmkEncryption,
        }
    }
}

impl Finding {
    /// False for another team's resource (out of scope): recorded, never alerted, so
    /// other teams' creates page nobody.
    pub fn needs_person(&self) -> bool {
        !matches!(self, Self::OutOfScope { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfScope { names } if names.is_empty() => {
                write!(f, "out of scope: no name or alias to match SCOPE_PATTERNS")
            }
            Self::OutOfScope { names } => {
                write!(
                    f,
                    "out of scope: {} matches no SCOPE_PATTERNS",
                    names.join(", ")
                )
            }
            Self::OptedOut { tag } => write!(f, "opted out by tag {tag}=off"),
            Self::EmptyRequiredTags { keys } => {
                write!(f, "required tags present but empty: {}", keys.join(", "))
            }
            Self::RoleNameOutsidePrefix { role_name, prefix } => write!(
                f,
                "role name {role_name} does not start with the required prefix {prefix} \
                 (roles cannot be renamed)"
            ),
            Self::MemoryWithoutCmk => write!(
                f,
                "memory created without encryptionKeyArn (cannot be changed after creation)"
            ),
            Self::EncryptedWithForeignKey { key } => {
                write!(
                    f,
                    "encrypted with {key}, not the project CMK (left unchanged)"
                )
            }
            Self::EncryptionStateUnknown { kind } => {
                write!(f, "encryption state of the {kind:?} was not observed")
            }
            Self::WouldBreakDelivery {
                principal,
                why,
                statement,
            } => write!(
                f,
                "would break delivery from {principal}: {why}; not switched to the project \
                 CMK. Add this statement to the key policy (or keep the current \
                 encryption): {statement}"
            ),
            Self::LogsNotAllowedByKeyPolicy {
                principal,
                why,
                statement,
            } => write!(
                f,
                "AssociateKmsKey would fail: {why} for {principal}; not switched to the \
                 project CMK. Add this statement to the key policy: {statement}"
            ),
            Self::KeySwitchUnverified { reason } => write!(
                f,
                "not switched to the project CMK: cannot verify that no delivery breaks, \
                 {reason}"
            ),
            Self::ProjectKeyUnusable { key_arn, problems } => write!(
                f,
                "the project key KMS_KEY_ARN={key_arn} cannot be used: {}; no resource is \
                 switched to it until the key or the setting is fixed and the function \
                 restarts (tags are still applied)",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Self::TagLimitReached {
                tags,
                missing,
                limit,
            } => write!(
                f,
                "tag limit reached: the resource has {tags} tags, and adding the missing {} \
                 would exceed AWS's limit of {limit} tags per resource; remove unused tags",
                missing.join(", ")
            ),
            Self::MemoryTagsAtCreation { error } => write!(
                f,
                "memory tags can only be set at creation: add them to CreateMemory ({error})"
            ),
        }
    }
}

/// A rule deliberately not applied, with the reason: audited (`none`, `skipped: …`),
/// not alerted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "exception", rename_all = "snake_case")]
pub enum Exception {
    /// S3 server-access-log and ELB access-log buckets must stay on SSE-S3.
    LogDeliveryBucket { reason: String },
    /// The project key failed its check at start: no encryption change is made (the
    /// finding is alerted once per cold start).
    ProjectKeyUnusable { problems: String },
}

impl Exception {
    pub fn rule(&self) -> Rule {
        Rule::CmkEncryption
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LogDeliveryBucket { reason } => write!(f, "kept on SSE-S3: {reason}"),
            Self::ProjectKeyUnusable { problems } => {
                write!(f, "project key unusable, no encryption change: {problems}")
            }
        }
    }
}

/// The decisions for one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Writes, in the order to make them (tags first: they are the cheaper fix).
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
    /// Rules evaluated and already satisfied (audited as action `none`).
    pub compliant: Vec<Rule>,
    /// Rules deliberately not applied (audited as action `none`, result `skipped`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

impl Plan {
    /// True when there is nothing to write and nothing to report.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.findings.is_empty()
    }
}

/// Decides what to do with one resource, given what was read about it.
///
/// Scope first (another project's resource is reported and nothing else is judged),
/// then the opt-out tag, then mandatory tags, CMK encryption and the role-name prefix.
/// The mode plays no part: report mode plans the same and writes nothing.
pub fn plan(resource: &ResourceRef, observed: &ObservedState, config: &RemediationConfig) -> Plan {
    let mut plan = Plan::default();
    let names: Vec<String> = match resource.scope_name() {
        Some(name) => vec![name],
        None => observed
            .key_aliases
            .iter()
            .map(|alias| alias.strip_prefix("alias/").unwrap_or(alias).to_string())
            .collect(),
    };
    if !names
        .iter()
        .any(|name| in_scope(name, &config.scope_patterns))
    {
        plan.findings.push(Finding::OutOfScope { names });
        return plan;
    }
    plan.compliant.push(Rule::Scope);
    if let Some(error) = &observed.tags_unavailable {
        // Neither the opt-out tag nor the mandatory tags can be judged.
        plan.findings.push(Finding::MemoryTagsAtCreation {
            error: error.clone(),
        });
    } else {
        if is_opted_out(resource.kind(), &observed.tags, &config.opt_out_tag) {
            plan.findings.push(Finding::OptedOut {
                tag: config.opt_out_tag.clone(),
            });
            return plan;
        }
        plan_tags(
            resource.kind(),
            &observed.tags,
            &config.required_tags,
            &mut plan,
        );
    }

    match encryption_decision(
        resource.kind(),
        &observed.encryption,
        &config.kms_key_arn,
        &config.key_status.aliases,
    ) {
        EncryptionDecision::NotApplicable => {}
        EncryptionDecision::Compliant => plan.compliant.push(Rule::CmkEncryption),
        EncryptionDecision::Change(_) if !config.key_status.usable() => {
            plan.exceptions.push(Exception::ProjectKeyUnusable {
                problems: config.key_status.describe_problems(),
            })
        }
        EncryptionDecision::Change(change) => {
            let log_bucket = match change {
                EncryptionChange::S3BucketDefault { .. } => log_delivery_bucket(
                    observed.resource_policy.as_ref(),
                    observed.acl_grants_log_delivery,
                ),
                _ => None,
            };
            match log_bucket {
                Some(reason) => plan
                    .exceptions
                    .push(Exception::LogDeliveryBucket { reason }),
                None => plan.actions.push(Action::SetEncryption(change)),
            }
        }
        EncryptionDecision::Report(finding) => plan.findings.push(finding),
    }

    if let (ResourceRef::IamRole { name, .. }, Some(prefix)) =
        (resource, &config.required_role_prefix)
    {
        if name.starts_with(prefix.as_str()) {
            plan.compliant.push(Rule::RolePrefix);
        } else {
            plan.findings.push(Finding::RoleNameOutsidePrefix {
                role_name: name.clone(),
                prefix: prefix.clone(),
            });
        }
    }
    plan
}

/// The mandatory-tags rule. IAM tag keys are case-insensitive (tagging `Environment`
/// would overwrite an existing `environment`), so for roles a key present in any case
/// counts as present.
fn plan_tags(
    kind: ResourceKind,
    current: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
    plan: &mut Plan,
) {
    let present = |key: &str| -> Option<&String> {
        current.get(key).or_else(|| {
            (kind == ResourceKind::IamRole)
                .then(|| current.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
                .flatten()
                .map(|(_, value)| value)
        })
    };
    let missing: BTreeMap<String, String> = match kind {
        ResourceKind::IamRole => required
            .iter()
            .filter(|(key, _)| present(key).is_none())
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        _ => missing_tags(current, required),
    };
    let empty: Vec<String> = required
        .keys()
        .filter(|key| present(key).is_some_and(|value| value.trim().is_empty()))
        .cloned()
        .collect();

    let after = current.len() + missing.len();
    if !missing.is_empty() && after > TAGS_PER_RESOURCE {
        plan.findings.push(Finding::TagLimitReached {
            tags: current.len(),
            missing: missing.keys().cloned().collect(),
            limit: TAGS_PER_RESOURCE,
        });
    } else if !missing.is_empty() {
        plan.actions.push(match kind {
            ResourceKind::S3Bucket => Action::ReplaceBucketTags {
                tags: merged_bucket_tags(current, required),
            },
            _ => Action::AddTags { tags: missing },
        });
    }
    if !empty.is_empty() {
        plan.findings
            .push(Finding::EmptyRequiredTags { keys: empty });
    }
    if plan.actions.is_empty() && plan.findings.is_empty() {
        plan.compliant.push(Rule::MandatoryTags);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::remediation::config::tests::{sample, CMK};
    use crate::remediation::event::tests::fixture;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    /// What the services would report after the actions (a stand-in for the handler).
    pub(crate) fn apply(state: &ObservedState, plan: &Plan) -> ObservedState {
        let mut after = state.clone();
        for action in &plan.actions {
            match action {
                Action::AddTags { tags } => after.tags.extend(tags.clone()),
                Action::ReplaceBucketTags { tags } => after.tags = tags.clone(),
                Action::SetEncryption(change) => {
                    after.encryption = match change {
                        EncryptionChange::SnsTopicKey { key_arn } => EncryptionState::SnsTopic {
                            kms_master_key_id: Some(key_arn.clone()),
                        },
                        EncryptionChange::SqsQueueKey { key_arn } => EncryptionState::SqsQueue {
                            kms_master_key_id: Some(key_arn.clone()),
                            sqs_managed_sse_enabled: true,
                        },
                        EncryptionChange::LogGroupKey { key_arn } => EncryptionState::LogGroup {
                            kms_key_id: Some(key_arn.clone()),
                        },
                        EncryptionChange::S3BucketDefault { key_arn } => {
                            EncryptionState::S3Bucket {
                                default_encryption: Some(S3DefaultEncryption {
                                    sse_algorithm: "aws:kms".to_string(),
                                    kms_master_key_id: Some(key_arn.clone()),
                                    bucket_key_enabled: true,
                                }),
                            }
                        }
                        EncryptionChange::SecretKey { key_arn } => EncryptionState::Secret {
                            kms_key_id: Some(key_arn.clone()),
                        },
                    }
                }
            }
        }
        after
    }

    /// A freshly created resource of each fixture: untagged, on the service default.
    pub(crate) fn fresh(name: &str) -> (ResourceRef, ObservedState) {
        let resource = fixture(name).resource.unwrap();
        let encryption = match resource.kind() {
            ResourceKind::SnsTopic => EncryptionState::SnsTopic {
                kms_master_key_id: None,
            },
            ResourceKind::SqsQueue => EncryptionState::SqsQueue {
                kms_master_key_id: None,
                sqs_managed_sse_enabled: true,
            },
            ResourceKind::LogGroup => EncryptionState::LogGroup { kms_key_id: None },
            ResourceKind::S3Bucket => EncryptionState::S3Bucket {
                default_encryption: Some(S3DefaultEncryption {
                    sse_algorithm: "AES256".to_string(),
                    kms_master_key_id: None,
                    bucket_key_enabled: false,
                }),
            },
            ResourceKind::Secret => EncryptionState::Secret { kms_key_id: None },
            ResourceKind::Memory => EncryptionState::Memory {
                encryption_key_arn: None,
            },
            _ => EncryptionState::NotApplicable,
        };
        let key_aliases = match resource.kind() {
            ResourceKind::KmsKey => vec!["alias/corebound-demo-data".to_string()],
            _ => Vec::new(),
        };
        let observed = ObservedState {
            tags: BTreeMap::new(),
            encryption,
            key_aliases,
            ..ObservedState::default()
        };
        (resource, observed)
    }

    #[test]
    fn fresh_resources_get_tags_and_the_cmk_and_a_second_run_writes_nothing() {
        let config = sample();
        let required = &config.required_tags;
        let add = || Action::AddTags {
            tags: required.clone(),
        };
        let key_arn = CMK.to_string();
        // (fixture, expected actions, expected findings)
        let cases: Vec<(&str, Vec<Action>, Vec<Finding>)> = vec![
            (
                "create-topic.json",
                vec![
                    add(),
                    Action::SetEncryption(EncryptionChange::SnsTopicKey {
                        key_arn: key_arn.clone(),
                    }),
                ],
                vec![],
            ),
            (
                "create-queue.json",
                vec![
                    add(),
                    Action::SetEncryption(EncryptionChange::SqsQueueKey {
                        key_arn: key_arn.clone(),
                    }),
                ],
                vec![],
            ),
            (
                "create-log-group.json",
                vec![
                    add(),
                    Action::SetEncryption(EncryptionChange::LogGroupKey {
                        key_arn: key_arn.clone(),
                    }),
                ],
                vec![],
            ),
            (
                "create-bucket.json",
                vec![
                    Action::ReplaceBucketTags {
                        tags: required.clone(),
                    },
                    Action::SetEncryption(EncryptionChange::S3BucketDefault {
                        key_arn: key_arn.clone(),
                    }),
                ],
                vec![],
            ),
            (
                "create-secret.json",
                vec![
                    add(),
                    Action::SetEncryption(EncryptionChange::SecretKey {
                        key_arn: key_arn.clone(),
                    }),
                ],
                vec![],
            ),
            ("create-role.json", vec![add()], vec![]),
            ("create-key.json", vec![add()], vec![]),
            ("create-agent-runtime.json", vec![add()], vec![]),
            (
                "create-memory.json",
                vec![add()],
                vec![Finding::MemoryWithoutCmk],
            ),
            ("create-gateway.json", vec![add()], vec![]),
        ];
        for (name, actions, findings) in cases {
            let (resource, before) = fresh(name);
            let first = plan(&resource, &before, &config);
            assert_eq!(first.actions, actions, "{name}");
            assert_eq!(first.findings, findings, "{name}");

            let after = apply(&before, &first);
            let second = plan(&resource, &after, &config);
            assert!(
                second.actions.is_empty(),
                "{name}: idempotent, got {second:?}"
            );
            assert_eq!(
                second.findings, findings,
                "{name}: findings persist, they need a person"
            );
            assert!(second.compliant.contains(&Rule::MandatoryTags), "{name}");
        }
    }

    #[test]
    fn a_compliant_resource_gets_an_empty_plan() {
        let config = sample();
        let (resource, mut observed) = fresh("create-topic.json");
        observed.tags = config.required_tags.clone();
        observed
            .tags
            .insert("Owner".to_string(), "team-a".to_string());
        observed.encryption = EncryptionState::SnsTopic {
            kms_master_key_id: Some(CMK.to_string()),
        };
        let decided = plan(&resource, &observed, &config);
        assert!(decided.is_empty(), "{decided:?}");
        assert_eq!(
            decided.compliant,
            [Rule::Scope, Rule::MandatoryTags, Rule::CmkEncryption]
        );
    }

    #[test]
    fn existing_tag_values_are_never_overwritten() {
        let config = sample();
        for name in [
            "create-topic.json",
            "create-role.json",
            "create-bucket.json",
        ] {
            let (resource, mut observed) = fresh(name);
            observed.tags = tags(&[("Environment", "prod"), ("Project", ""), ("Extra", "x")]);
            let decided = plan(&resource, &observed, &config);
            let after = apply(&observed, &decided);
            for (key, value) in &observed.tags {
                assert_eq!(after.tags.get(key), Some(value), "{name}: {key} unchanged");
            }
            assert_eq!(after.tags.len(), observed.tags.len() + 3, "{name}");
            assert!(
                decided.findings.contains(&Finding::EmptyRequiredTags {
                    keys: vec!["Project".to_string()]
                }),
                "{name}: empty required value is reported"
            );
        }
    }

    #[test]
    fn s3_sends_the_merged_set() {
        let config = sample();
        let (resource, mut observed) = fresh("create-bucket.json");
        observed.tags = tags(&[("DataClass", "confidential"), ("ManagedBy", "terraform")]);
        let decided = plan(&resource, &observed, &config);
        let Action::ReplaceBucketTags { tags: sent } = &decided.actions[0] else {
            panic!("expected ReplaceBucketTags, got {decided:?}");
        };
        assert_eq!(sent["DataClass"], "confidential");
        assert_eq!(sent["ManagedBy"], "terraform");
        assert_eq!(sent["Project"], config.required_tags["Project"]);
        assert_eq!(sent.len(), 6);
    }

    #[test]
    fn iam_tag_keys_are_compared_ignoring_case() {
        let config = sample();
        let (resource, mut observed) = fresh("create-role.json");
        observed.tags = tags(&[("environment", "prod")]);
        let decided = plan(&resource, &observed, &config);
        let Action::AddTags { tags: added } = &decided.actions[0] else {
            panic!("expected AddTags, got {decided:?}");
        };
        assert!(
            !added.contains_key("Environment"),
            "would overwrite environment=prod"
        );
        assert_eq!(added.len(), 4);
        // Other services' keys are case-sensitive.
        let (topic, mut observed) = fresh("create-topic.json");
        observed.tags = tags(&[("environment", "prod")]);
        let decided = plan(&topic, &observed, &config);
        assert_eq!(
            decided.actions[0],
            Action::AddTags {
                tags: config.required_tags.clone()
            }
        );
    }

    #[test]
    fn out_of_scope_and_opted_out_resources_are_reported_only() {
        let config = sample();
        let mut opted = fresh("create-queue.json");
        opted.1.tags = tags(&[("corebound:remediation", "Off")]);
        let mut key_no_alias = fresh("create-key.json");
        key_no_alias.1.key_aliases.clear();
        let mut key_foreign_alias = fresh("create-key.json");
        key_foreign_alias.1.key_aliases = vec!["alias/team-x-data".to_string()];
        let other_topic = ResourceRef::SnsTopic {
            arn: "arn:aws:sns:us-east-1:123456789012:team-x-alerts".to_string(),
        };
        let other_secret = ResourceRef::Secret {
            name: None,
            arn: Some(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:team-x-db-AbCdEf".to_string(),
            ),
        };
        let cases: Vec<(&str, ResourceRef, ObservedState, Finding)> = vec![
            (
                "topic of another team",
                other_topic,
                fresh("create-topic.json").1,
                Finding::OutOfScope {
                    names: vec!["team-x-alerts".to_string()],
                },
            ),
            (
                "secret of another team (suffix stripped)",
                other_secret,
                fresh("create-secret.json").1,
                Finding::OutOfScope {
                    names: vec!["team-x-db".to_string()],
                },
            ),
            (
                "key without alias yet",
                key_no_alias.0,
                key_no_alias.1,
                Finding::OutOfScope { names: vec![] },
            ),
            (
                "key with another team's alias",
                key_foreign_alias.0,
                key_foreign_alias.1,
                Finding::OutOfScope {
                    names: vec!["team-x-data".to_string()],
                },
            ),
            (
                "opted out",
                opted.0,
                opted.1,
                Finding::OptedOut {
                    tag: "corebound:remediation".to_string(),
                },
            ),
        ];
        for (case, resource, observed, finding) in cases {
            let decided = plan(&resource, &observed, &config);
            assert!(decided.actions.is_empty(), "{case}: no writes");
            assert_eq!(decided.findings, [finding], "{case}");
        }
    }

    #[test]
    fn foreign_keys_are_reported_not_replaced() {
        let config = sample();
        let other = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-0000-4000-8000-000000000000";
        let (resource, mut observed) = fresh("create-bucket.json");
        observed.tags = config.required_tags.clone();
        observed.encryption = EncryptionState::S3Bucket {
            default_encryption: Some(S3DefaultEncryption {
                sse_algorithm: "aws:kms".to_string(),
                kms_master_key_id: Some(other.to_string()),
                bucket_key_enabled: true,
            }),
        };
        let decided = plan(&resource, &observed, &config);
        assert!(decided.actions.is_empty());
        assert_eq!(
            decided.findings,
            [Finding::EncryptedWithForeignKey {
                key: other.to_string()
            }]
        );
    }

    #[test]
    fn role_prefix_is_checked_for_roles_in_scope() {
        let mut config = sample();
        config.scope_patterns.push("corebound-demo-*".to_string());
        let (_, observed) = fresh("create-role.json");
        let role = |name: &str| ResourceRef::IamRole {
            name: name.to_string(),
            arn: format!("arn:aws:iam::123456789012:role/{name}"),
        };
        let outside = plan(&role("corebound-demo-runner"), &observed, &config);
        assert_eq!(
            outside.findings,
            [Finding::RoleNameOutsidePrefix {
                role_name: "corebound-demo-runner".to_string(),
                prefix: "LPMA_".to_string()
            }]
        );
        assert_eq!(outside.actions.len(), 1, "still tagged");
        let inside = plan(&role("LPMA_Demo_AgentRuntime"), &observed, &config);
        assert!(inside.findings.is_empty());
        assert!(inside.compliant.contains(&Rule::RolePrefix));
        config.required_role_prefix = None;
        assert!(plan(&role("corebound-demo-runner"), &observed, &config)
            .findings
            .is_empty());
    }

    #[test]
    fn tags_are_never_written_past_the_limit_of_50() {
        let config = sample();
        for name in [
            "create-topic.json",
            "create-bucket.json",
            "create-role.json",
        ] {
            let (resource, mut observed) = fresh(name);
            // 46 + 5 missing = 51 > 50: reported, not written (no retry cycle into the DLQ).
            observed.tags = (0..46)
                .map(|i| (format!("team:{i}"), "x".to_string()))
                .collect();
            let decided = plan(&resource, &observed, &config);
            assert!(
                !decided
                    .actions
                    .iter()
                    .any(|a| a.rule() == Rule::MandatoryTags),
                "{name}: {decided:?}"
            );
            let finding = decided
                .findings
                .iter()
                .find(|f| matches!(f, Finding::TagLimitReached { .. }))
                .unwrap_or_else(|| panic!("{name}: {decided:?}"));
            assert_eq!(finding.rule(), Rule::MandatoryTags);
            assert!(
                finding
                    .to_string()
                    .contains("AWS's limit of 50 tags per resource"),
                "{finding}"
            );
            // 45 + 5 = 50 fits.
            observed.tags.remove("team:0");
            let decided = plan(&resource, &observed, &config);
            assert!(
                decided
                    .actions
                    .iter()
                    .any(|a| a.rule() == Rule::MandatoryTags),
                "{name}"
            );
        }
    }

    #[test]
    fn the_opt_out_tag_on_a_role_matches_in_any_case() {
        let config = sample();
        let (role, mut observed) = fresh("create-role.json");
        observed.tags = tags(&[("Corebound:Remediation", "off")]);
        let decided = plan(&role, &observed, &config);
        assert!(decided.actions.is_empty(), "{decided:?}");
        assert_eq!(
            decided.findings,
            [Finding::OptedOut {
                tag: "corebound:remediation".to_string()
            }]
        );
        // Other services' keys stay exact.
        let (topic, mut observed) = fresh("create-topic.json");
        observed.tags = tags(&[("Corebound:Remediation", "off")]);
        assert!(!plan(&topic, &observed, &config).actions.is_empty());
    }

    #[test]
    fn log_delivery_buckets_stay_on_sse_s3_as_an_exception() {
        let config = sample();
        let (bucket, mut observed) = fresh("create-bucket.json");
        observed.acl_grants_log_delivery = true;
        let decided = plan(&bucket, &observed, &config);
        assert_eq!(decided.actions.len(), 1, "tags only: {decided:?}");
        assert!(decided.findings.is_empty(), "an exception, not a finding");
        let [Exception::LogDeliveryBucket { reason }] = decided.exceptions.as_slice() else {
            panic!("{decided:?}");
        };
        assert!(
            reason.starts_with("S3 server access log bucket"),
            "{reason}"
        );
        observed.acl_grants_log_delivery = false;
        observed.resource_policy = Some(serde_json::json!({"Statement": [{"Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::corebound-demo-artifacts-123456789012/*"}]}));
        assert_eq!(plan(&bucket, &observed, &config).exceptions.len(), 1);
    }

    #[test]
    fn an_unusable_project_key_is_never_written_but_tags_are() {
        let mut config = sample();
        config.key_status.problems = vec![crate::remediation::KeyProblem::NotEnabled {
            key_state: "Disabled".to_string(),
        }];
        for name in [
            "create-topic.json",
            "create-queue.json",
            "create-log-group.json",
            "create-bucket.json",
            "create-secret.json",
        ] {
            let (resource, observed) = fresh(name);
            let decided = plan(&resource, &observed, &config);
            assert!(
                decided
                    .actions
                    .iter()
                    .all(|action| !matches!(action, Action::SetEncryption(_))),
                "{name}: {decided:?}"
            );
            assert_eq!(decided.actions.len(), 1, "{name}: still tagged");
            assert_eq!(
                decided.exceptions,
                [Exception::ProjectKeyUnusable {
                    problems: "the key state is Disabled, not Enabled".to_string()
                }],
                "{name}"
            );
        }
    }

    #[test]
    fn the_project_key_named_by_an_alias_is_compliant() {
        let mut config = sample();
        let (queue, mut observed) = fresh("create-queue.json");
        observed.tags = config.required_tags.clone();
        observed.encryption = EncryptionState::SqsQueue {
            kms_master_key_id: Some("alias/corebound-demo-corebound".to_string()),
            sqs_managed_sse_enabled: false,
        };
        assert!(matches!(
            plan(&queue, &observed, &config).findings.as_slice(),
            [Finding::EncryptedWithForeignKey { .. }]
        ));
        config.key_status.aliases = vec!["alias/corebound-demo-corebound".to_string()];
        let decided = plan(&queue, &observed, &config);
        assert!(decided.is_empty(), "{decided:?}");
        assert!(decided.compliant.contains(&Rule::CmkEncryption));
    }

    #[test]
    fn findings_read_well_and_map_to_rules() {
        let cases = [
            (
                Finding::OutOfScope { names: vec![] },
                Rule::Scope,
                "out of scope: no name or alias to match SCOPE_PATTERNS",
            ),
            (
                Finding::OutOfScope {
                    names: vec!["a".into()],
                },
                Rule::Scope,
                "out of scope: a matches no SCOPE_PATTERNS",
            ),
            (
                Finding::OptedOut { tag: "t".into() },
                Rule::OptOut,
                "opted out by tag t=off",
            ),
            (
                Finding::EmptyRequiredTags {
                    keys: vec!["A".into(), "B".into()],
                },
                Rule::MandatoryTags,
                "required tags present but empty: A, B",
            ),
            (
                Finding::RoleNameOutsidePrefix {
                    role_name: "r".into(),
                    prefix: "P_".into(),
                },
                Rule::RolePrefix,
                "role name r does not start with the required prefix P_ (roles cannot be renamed)",
            ),
            (
                Finding::MemoryWithoutCmk,
                Rule::CmkEncryption,
                "memory created without encryptionKeyArn (cannot be changed after creation)",
            ),
            (
                Finding::EncryptedWithForeignKey { key: "k".into() },
                Rule::CmkEncryption,
                "encrypted with k, not the project CMK (left unchanged)",
            ),
            (
                Finding::EncryptionStateUnknown {
                    kind: ResourceKind::SnsTopic,
                },
                Rule::CmkEncryption,
                "encryption state of the SnsTopic was not observed",
            ),
        ];
        for (finding, rule, text) in cases {
            assert_eq!(finding.rule(), rule, "{finding:?}");
            assert_eq!(finding.to_string(), text);
        }
    }

    #[test]
    fn plans_serialise_with_stable_tags() {
        let (resource, observed) = fresh("create-memory.json");
        let decided = plan(&resource, &observed, &sample());
        let json = serde_json::to_value(&decided).unwrap();
        assert_eq!(json["actions"][0]["action"], "add_tags");
        assert_eq!(json["findings"][0]["finding"], "memory_without_cmk");
        assert_eq!(json["compliant"][0], "scope");
        let change =
            serde_json::to_value(Action::SetEncryption(EncryptionChange::S3BucketDefault {
                key_arn: CMK.to_string(),
            }))
            .unwrap();
        assert_eq!(
            change,
            serde_json::json!({
                "action": "set_encryption",
                "change": "s3_bucket_default",
                "key_arn": CMK,
            })
        );
    }
}
