//! The CMK-encryption rule: what a key reference on a resource is, relative to the
//! project CMK, and whether the resource's encryption must change.

use super::event::ResourceKind;
use super::plan::{EncryptionChange, EncryptionState, Finding, S3DefaultEncryption};

/// What a key reference found on a resource is, relative to the project CMK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// The project CMK, by ARN or by key id.
    ProjectCmk,
    /// An AWS-managed key named by its `alias/aws/…` alias (or that alias's ARN).
    AwsManaged,
    /// Anything else: another customer-managed key, or a reference that cannot be
    /// resolved without a KMS call (a key id or alias of unknown owner). Never overwritten.
    Other,
}

/// Classifies the key reference a service reports. `aliases` are the project key's own
/// aliases (`alias/NAME`, from `kms:ListAliases` at start): a resource that names the key by
/// one of them (bare, or as an alias ARN in the key's region and account) uses the project
/// key. Any other alias or key is someone else's choice.
pub fn classify_key(reference: &str, cmk_arn: &str, aliases: &[String]) -> KeyClass {
    let reference = reference.trim();
    let cmk_id = cmk_arn.rsplit_once(":key/").map(|(_, id)| id);
    let (alias_location, alias) = match reference.split_once(":alias/") {
        Some((location, alias)) => (Some(location), Some(alias)),
        None => (None, reference.strip_prefix("alias/")),
    };
    // `arn:<partition>:kms:<region>:<account>` of the project key, to compare alias ARNs.
    let cmk_location = cmk_arn.rsplit_once(":key/").map(|(location, _)| location);
    let own_alias = alias.is_some_and(|alias| {
        aliases
            .iter()
            .any(|own| own.strip_prefix("alias/") == Some(alias))
            && alias_location.is_none_or(|location| Some(location) == cmk_location)
    });
    if reference == cmk_arn || Some(reference) == cmk_id || own_alias {
        KeyClass::ProjectCmk
    } else if alias.is_some_and(|alias| alias.starts_with("aws/")) {
        KeyClass::AwsManaged
    } else {
        KeyClass::Other
    }
}

/// Outcome of the CMK-encryption rule for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionDecision {
    /// The kind has no encryption rule (IAM role, KMS key, runtime, gateway).
    NotApplicable,
    Compliant,
    Change(EncryptionChange),
    Report(Finding),
}

/// The CMK-encryption rule. Conservative: a resource is switched to the CMK only when it
/// has no key of its own choosing (absent, default or AWS-managed); another key, or an
/// S3 dual-layer (DSSE) setting, is reported, never overwritten.
pub fn encryption_decision(
    kind: ResourceKind,
    state: &EncryptionState,
    cmk_arn: &str,
    aliases: &[String],
) -> EncryptionDecision {
    let key_arn = cmk_arn.to_string();
    // SNS, SQS, Logs and Secrets Manager: absent or AWS-managed → set the CMK.
    let simple = |key: &Option<String>, change: EncryptionChange| match key
        .as_deref()
        .map(|key| (key, classify_key(key, cmk_arn, aliases)))
    {
        None | Some((_, KeyClass::AwsManaged)) => EncryptionDecision::Change(change),
        Some((_, KeyClass::ProjectCmk)) => EncryptionDecision::Compliant,
        Some((key, KeyClass::Other)) => foreign(key),
    };
    match (kind, state) {
        (ResourceKind::SnsTopic, EncryptionState::SnsTopic { kms_master_key_id }) => {
            simple(kms_master_key_id, EncryptionChange::SnsTopicKey { key_arn })
        }
        (
            ResourceKind::SqsQueue,
            EncryptionState::SqsQueue {
                kms_master_key_id, ..
            },
        ) => simple(kms_master_key_id, EncryptionChange::SqsQueueKey { key_arn }),
        (ResourceKind::LogGroup, EncryptionState::LogGroup { kms_key_id }) => {
            simple(kms_key_id, EncryptionChange::LogGroupKey { key_arn })
        }
        (ResourceKind::Secret, EncryptionState::Secret { kms_key_id }) => {
            simple(kms_key_id, EncryptionChange::SecretKey { key_arn })
        }
        (ResourceKind::S3Bucket, EncryptionState::S3Bucket { default_encryption }) => {
            s3_decision(default_encryption.as_ref(), cmk_arn, aliases)
        }
        (ResourceKind::Memory, EncryptionState::Memory { encryption_key_arn }) => {
            match encryption_key_arn.as_deref() {
                None => EncryptionDecision::Report(Finding::MemoryWithoutCmk),
                Some(key) if classify_key(key, cmk_arn, aliases) == KeyClass::ProjectCmk => {
                    EncryptionDecision::Compliant
                }
                Some(key) => foreign(key),
            }
        }
        (
            ResourceKind::IamRole
            | ResourceKind::KmsKey
            | ResourceKind::AgentRuntime
            | ResourceKind::Gateway,
            _,
        ) => EncryptionDecision::NotApplicable,
        // The handler observed the wrong kind of state: never assume compliance.
        (kind, _) => EncryptionDecision::Report(Finding::EncryptionStateUnknown { kind }),
    }
}

fn foreign(key: &str) -> EncryptionDecision {
    EncryptionDecision::Report(Finding::EncryptedWithForeignKey {
        key: key.to_string(),
    })
}

/// S3 default encryption: none, SSE-S3 (`AES256`) or `aws:kms` with the AWS-managed key →
/// `aws:kms` with the CMK and bucket key on. A bucket already on the CMK is compliant even
/// with the bucket key off (the bucket key saves cost; it is not a security control).
fn s3_decision(
    default: Option<&S3DefaultEncryption>,
    cmk_arn: &str,
    aliases: &[String],
) -> EncryptionDecision {
    let change = || {
        EncryptionDecision::Change(EncryptionChange::S3BucketDefault {
            key_arn: cmk_arn.to_string(),
        })
    };
    let Some(default) = default else {
        return change();
    };
    let key_class = default
        .kms_master_key_id
        .as_deref()
        .map(|key| classify_key(key, cmk_arn, aliases));
    match (default.sse_algorithm.as_str(), key_class) {
        ("AES256", _) | ("aws:kms", None | Some(KeyClass::AwsManaged)) => change(),
        ("aws:kms" | "aws:kms:dsse", Some(KeyClass::ProjectCmk)) => EncryptionDecision::Compliant,
        (algorithm, _) => foreign(default.kms_master_key_id.as_deref().unwrap_or(algorithm)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::config::tests::CMK;

    #[test]
    fn key_classification() {
        let cases = [
            (CMK, KeyClass::ProjectCmk),
            ("1234abcd-12ab-34cd-56ef-1234567890ab", KeyClass::ProjectCmk),
            ("alias/aws/sns", KeyClass::AwsManaged),
            (
                "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager",
                KeyClass::AwsManaged,
            ),
            ("alias/corebound-demo", KeyClass::Other),
            (
                "arn:aws:kms:us-east-1:123456789012:alias/awsome",
                KeyClass::Other,
            ),
            (
                "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab",
                KeyClass::Other,
            ),
            (
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                KeyClass::Other,
            ),
        ];
        for (reference, class) in cases {
            assert_eq!(classify_key(reference, CMK, &[]), class, "{reference}");
        }
    }

    #[test]
    fn encryption_decisions_per_kind() {
        use EncryptionDecision::{Compliant, NotApplicable};
        let other = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-0000-4000-8000-000000000000";
        let some = |key: &str| Some(key.to_string());
        let s3 = |algorithm: &str, key: Option<&str>| EncryptionState::S3Bucket {
            default_encryption: Some(S3DefaultEncryption {
                sse_algorithm: algorithm.to_string(),
                kms_master_key_id: key.map(str::to_string),
                bucket_key_enabled: false,
            }),
        };
        let key_arn = CMK.to_string();
        let change = |change: EncryptionChange| EncryptionDecision::Change(change);
        let foreign = |key: &str| {
            EncryptionDecision::Report(Finding::EncryptedWithForeignKey {
                key: key.to_string(),
            })
        };
        let cases: Vec<(&str, ResourceKind, EncryptionState, EncryptionDecision)> = vec![
            (
                "sns absent",
                ResourceKind::SnsTopic,
                EncryptionState::SnsTopic {
                    kms_master_key_id: None,
                },
                change(EncryptionChange::SnsTopicKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "sns alias/aws/sns",
                ResourceKind::SnsTopic,
                EncryptionState::SnsTopic {
                    kms_master_key_id: some("alias/aws/sns"),
                },
                change(EncryptionChange::SnsTopicKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "sns cmk",
                ResourceKind::SnsTopic,
                EncryptionState::SnsTopic {
                    kms_master_key_id: some(CMK),
                },
                Compliant,
            ),
            (
                "sns other cmk",
                ResourceKind::SnsTopic,
                EncryptionState::SnsTopic {
                    kms_master_key_id: some(other),
                },
                foreign(other),
            ),
            (
                "sqs SSE-SQS only",
                ResourceKind::SqsQueue,
                EncryptionState::SqsQueue {
                    kms_master_key_id: None,
                    sqs_managed_sse_enabled: true,
                },
                change(EncryptionChange::SqsQueueKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "sqs cmk (SSE-SQS flag still reads true)",
                ResourceKind::SqsQueue,
                EncryptionState::SqsQueue {
                    kms_master_key_id: some(CMK),
                    sqs_managed_sse_enabled: true,
                },
                Compliant,
            ),
            (
                "sqs alias/aws/sqs",
                ResourceKind::SqsQueue,
                EncryptionState::SqsQueue {
                    kms_master_key_id: some("alias/aws/sqs"),
                    sqs_managed_sse_enabled: false,
                },
                change(EncryptionChange::SqsQueueKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "log group absent",
                ResourceKind::LogGroup,
                EncryptionState::LogGroup { kms_key_id: None },
                change(EncryptionChange::LogGroupKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "log group cmk",
                ResourceKind::LogGroup,
                EncryptionState::LogGroup {
                    kms_key_id: some(CMK),
                },
                Compliant,
            ),
            (
                "log group other",
                ResourceKind::LogGroup,
                EncryptionState::LogGroup {
                    kms_key_id: some(other),
                },
                foreign(other),
            ),
            (
                "secret default",
                ResourceKind::Secret,
                EncryptionState::Secret { kms_key_id: None },
                change(EncryptionChange::SecretKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "secret alias/aws/secretsmanager",
                ResourceKind::Secret,
                EncryptionState::Secret {
                    kms_key_id: some("alias/aws/secretsmanager"),
                },
                change(EncryptionChange::SecretKey {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "secret cmk by key id",
                ResourceKind::Secret,
                EncryptionState::Secret {
                    kms_key_id: some("1234abcd-12ab-34cd-56ef-1234567890ab"),
                },
                Compliant,
            ),
            (
                "secret other alias",
                ResourceKind::Secret,
                EncryptionState::Secret {
                    kms_key_id: some("alias/team-x"),
                },
                foreign("alias/team-x"),
            ),
            (
                "s3 none",
                ResourceKind::S3Bucket,
                EncryptionState::S3Bucket {
                    default_encryption: None,
                },
                change(EncryptionChange::S3BucketDefault {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "s3 SSE-S3",
                ResourceKind::S3Bucket,
                s3("AES256", None),
                change(EncryptionChange::S3BucketDefault {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "s3 aws:kms default key",
                ResourceKind::S3Bucket,
                s3("aws:kms", None),
                change(EncryptionChange::S3BucketDefault {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "s3 aws:kms alias/aws/s3",
                ResourceKind::S3Bucket,
                s3(
                    "aws:kms",
                    Some("arn:aws:kms:us-east-1:123456789012:alias/aws/s3"),
                ),
                change(EncryptionChange::S3BucketDefault {
                    key_arn: key_arn.clone(),
                }),
            ),
            (
                "s3 aws:kms cmk, bucket key off",
                ResourceKind::S3Bucket,
                s3("aws:kms", Some(CMK)),
                Compliant,
            ),
            (
                "s3 aws:kms other cmk",
                ResourceKind::S3Bucket,
                s3("aws:kms", Some(other)),
                foreign(other),
            ),
            (
                "s3 dsse cmk",
                ResourceKind::S3Bucket,
                s3("aws:kms:dsse", Some(CMK)),
                Compliant,
            ),
            (
                "s3 dsse default key is not downgraded",
                ResourceKind::S3Bucket,
                s3("aws:kms:dsse", None),
                foreign("aws:kms:dsse"),
            ),
            (
                "memory without key",
                ResourceKind::Memory,
                EncryptionState::Memory {
                    encryption_key_arn: None,
                },
                EncryptionDecision::Report(Finding::MemoryWithoutCmk),
            ),
            (
                "memory cmk",
                ResourceKind::Memory,
                EncryptionState::Memory {
                    encryption_key_arn: some(CMK),
                },
                Compliant,
            ),
            (
                "memory other key",
                ResourceKind::Memory,
                EncryptionState::Memory {
                    encryption_key_arn: some(other),
                },
                foreign(other),
            ),
            (
                "role",
                ResourceKind::IamRole,
                EncryptionState::NotApplicable,
                NotApplicable,
            ),
            (
                "key",
                ResourceKind::KmsKey,
                EncryptionState::NotApplicable,
                NotApplicable,
            ),
            (
                "runtime",
                ResourceKind::AgentRuntime,
                EncryptionState::NotApplicable,
                NotApplicable,
            ),
            (
                "gateway",
                ResourceKind::Gateway,
                EncryptionState::NotApplicable,
                NotApplicable,
            ),
            (
                "state of the wrong kind",
                ResourceKind::SnsTopic,
                EncryptionState::Secret { kms_key_id: None },
                EncryptionDecision::Report(Finding::EncryptionStateUnknown {
                    kind: ResourceKind::SnsTopic,
                }),
            ),
            (
                "state not observed",
                ResourceKind::S3Bucket,
                EncryptionState::NotApplicable,
                EncryptionDecision::Report(Finding::EncryptionStateUnknown {
                    kind: ResourceKind::S3Bucket,
                }),
            ),
        ];
        for (case, kind, state, expected) in cases {
            assert_eq!(
                encryption_decision(kind, &state, CMK, &[]),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn the_project_key_by_its_alias_is_the_project_key() {
        let aliases = ["alias/corebound-demo-corebound".to_string()];
        let cases = [
            ("alias/corebound-demo-corebound", KeyClass::ProjectCmk),
            (
                "arn:aws:kms:us-east-1:123456789012:alias/corebound-demo-corebound",
                KeyClass::ProjectCmk,
            ),
            // The same alias name in another region or account is another key.
            (
                "arn:aws:kms:eu-west-1:123456789012:alias/corebound-demo-corebound",
                KeyClass::Other,
            ),
            (
                "arn:aws:kms:us-east-1:210987654321:alias/corebound-demo-corebound",
                KeyClass::Other,
            ),
            ("alias/corebound-demo-corebound-old", KeyClass::Other),
            ("alias/aws/sqs", KeyClass::AwsManaged),
        ];
        for (reference, class) in cases {
            assert_eq!(classify_key(reference, CMK, &aliases), class, "{reference}");
        }
        let topic = EncryptionState::SnsTopic {
            kms_master_key_id: Some("alias/corebound-demo-corebound".to_string()),
        };
        assert_eq!(
            encryption_decision(ResourceKind::SnsTopic, &topic, CMK, &aliases),
            EncryptionDecision::Compliant
        );
        assert!(matches!(
            encryption_decision(ResourceKind::SnsTopic, &topic, CMK, &[]),
            EncryptionDecision::Report(Finding::EncryptedWithForeignKey { .. })
        ));
    }
}
