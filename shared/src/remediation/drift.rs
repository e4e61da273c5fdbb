//! Drift events (issue 12 §1): calls that may remove a mandatory tag or the project CMK from a
//! resource after its creation. They are handled like create events: the same triage
//! (authenticity, failed call, loop guard, scope), then the handler re-reads the live resource
//! and plans with the same rules, so a drift event is idempotent and its claims about the
//! resource's state are never trusted. The event decides two things only:
//!
//! - **which resource**: the locator table below ([`DRIFT_EVENTS`], [`locate`]), which names
//!   the request member that identifies the resource in each call;
//! - **whether the call could have removed anything that matters** ([`DriftChange`],
//!   [`relevance`]): an `UntagResource` of keys that are neither required nor the opt-out tag,
//!   a `SetTopicAttributes` of another attribute, an `UpdateSecret` without `KmsKeyId`, or a
//!   switch to the project CMK itself are recorded as skipped without any AWS read. Whenever the
//!   event does not say (a redacted `tagKeys`, an unreadable tag set), the resource is read.
//!
//! Each drift event re-checks only the rule it can break ([`Trigger`]): tag calls the
//! mandatory tags, key calls the CMK encryption. A tag removal does not re-alert an unrelated
//! encryption finding the create event already reported.
//!
//! Request members are CloudTrail's (the API members in lower camel case, as in the published
//! examples listed in tests/fixtures/cloudtrail/README.md); lookups ignore case, as for
//! create events.

use serde::Serialize;
use serde_json::Value;

use super::config::RemediationConfig;
use super::encryption::{classify_key, KeyClass};
use super::event::{agentcore_id_from_arn, Trigger, REDACTION_MARKERS};
use super::event::{field, text, ResourceRef};

/// One row of the drift table: a call, and the rule it can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftEvent {
    pub event_source: &'static str,
    pub event_name: &'static str,
    /// [`Trigger::TagsChanged`] (the mandatory-tags rule) or [`Trigger::EncryptionChanged`].
    pub trigger: Trigger,
    /// The request member(s) that name the resource, for the docs and the tests.
    pub resource_member: &'static str,
}

const fn row(
    event_source: &'static str,
    event_name: &'static str,
    trigger: Trigger,
    resource_member: &'static str,
) -> DriftEvent {
    DriftEvent {
        event_source,
        event_name,
        trigger,
        resource_member,
    }
}

const SNS: &str = "sns.amazonaws.com";
const SQS: &str = "sqs.amazonaws.com";
const LOGS: &str = "logs.amazonaws.com";
const S3: &str = "s3.amazonaws.com";
const SECRETS: &str = "secretsmanager.amazonaws.com";
const IAM: &str = "iam.amazonaws.com";
const KMS: &str = "kms.amazonaws.com";
const AGENTCORE: &str = "bedrock-agentcore.amazonaws.com";

const TAGS: Trigger = Trigger::TagsChanged;
const KEY: Trigger = Trigger::EncryptionChanged;

/// Every drift event handled: the template's rule pattern lists these names (with the create
/// events), and docs/reference/remediator.md this table.
pub static DRIFT_EVENTS: [DriftEvent; 16] = [
    row(SNS, "UntagResource", TAGS, "resourceArn"),
    row(SNS, "SetTopicAttributes", KEY, "topicArn"),
    row(SQS, "UntagQueue", TAGS, "queueUrl"),
    row(SQS, "SetQueueAttributes", KEY, "queueUrl"),
    row(LOGS, "UntagResource", TAGS, "resourceArn"),
    row(LOGS, "UntagLogGroup", TAGS, "logGroupName"),
    row(
        LOGS,
        "DisassociateKmsKey",
        KEY,
        "logGroupName or resourceIdentifier",
    ),
    row(S3, "DeleteBucketTagging", TAGS, "bucketName"),
    // Also the provisioning tool's own calls after CreateBucket (the creator race, creator.rs).
    row(S3, "PutBucketTagging", TAGS, "bucketName"),
    row(S3, "DeleteBucketEncryption", KEY, "bucketName"),
    row(S3, "PutBucketEncryption", KEY, "bucketName"),
    row(SECRETS, "UntagResource", TAGS, "secretId"),
    row(SECRETS, "UpdateSecret", KEY, "secretId"),
    row(IAM, "UntagRole", TAGS, "roleName"),
    row(KMS, "UntagResource", TAGS, "keyId"),
    row(AGENTCORE, "UntagResource", TAGS, "resourceArn"),
];

/// The drift table's row for a call, if it is a drift event.
pub fn drift_event(event_source: &str, event_name: &str) -> Option<&'static DriftEvent> {
    DRIFT_EVENTS
        .iter()
        .find(|row| row.event_source == event_source && row.event_name == event_name)
}

/// What the call changed, as far as the event says. Used only to skip calls that cannot have
/// removed a required tag or the CMK; the live state decides everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum DriftChange {
    /// Tag keys removed (`UntagResource`, `UntagQueue`, `UntagRole`, `UntagLogGroup`); `None`
    /// when the event does not list them (CloudTrail may redact `tagKeys`).
    TagsRemoved { keys: Option<Vec<String>> },
    /// S3 `PutBucketTagging`: the complete new tag set; `None` when unreadable.
    TagsReplaced { tags: Option<Vec<(String, String)>> },
    /// S3 `DeleteBucketTagging`: every tag removed.
    TagsDeleted,
    /// The resource's key set to this reference (`None`: cleared, or switched to the service's
    /// own encryption such as SSE-SQS).
    KeySet { key: Option<String> },
    /// Logs `DisassociateKmsKey`, S3 `DeleteBucketEncryption`.
    EncryptionRemoved,
    /// S3 `PutBucketEncryption`: re-checked whatever it set (its shape is S3's XML).
    EncryptionReplaced,
    /// The call touched neither tags nor key, or another kind of resource.
    Unrelated { why: String },
}

/// The resource a drift event names, if the event names one of the handled kinds.
/// `region` and `account` are the event's (a KMS `keyId` may be a bare key id; an IAM role is
/// named without its ARN).
pub fn locate(
    event: &DriftEvent,
    detail: &Value,
    region: &str,
    account: &str,
) -> Option<ResourceRef> {
    let request = |name: &str| text(field(detail, "requestParameters")?, &[name]);
    let resource = match (event.event_source, event.event_name) {
        (SNS, "UntagResource") => ResourceRef::SnsTopic {
            arn: request("resourceArn").filter(|arn| arn_service(arn) == Some("sns"))?,
        },
        (SNS, "SetTopicAttributes") => ResourceRef::SnsTopic {
            arn: request("topicArn")?,
        },
        (SQS, _) => {
            let url = request("queueUrl")?;
            let name = url.trim_end_matches('/').rsplit('/').next()?.to_string();
            ResourceRef::SqsQueue { url, name }
        }
        (LOGS, "UntagResource") => ResourceRef::LogGroup {
            name: log_group_from_arn(&request("resourceArn")?)?,
        },
        (LOGS, "UntagLogGroup") => ResourceRef::LogGroup {
            name: request("logGroupName")?,
        },
        (LOGS, "DisassociateKmsKey") => ResourceRef::LogGroup {
            name: request("logGroupName")
                .or_else(|| log_group_from_arn(&request("resourceIdentifier")?))?,
        },
        (S3, _) => ResourceRef::S3Bucket {
            name: request("bucketName")?,
        },
        (SECRETS, _) => {
            let id = request("secretId")?;
            if id.starts_with("arn:") {
                ResourceRef::Secret {
                    name: None,
                    arn: Some(id),
                }
            } else {
                ResourceRef::Secret {
                    name: Some(id),
                    arn: None,
                }
            }
        }
        (IAM, _) => {
            let name = request("roleName")?;
            // UntagRole names the role only; the ARN is for the audit record (a role with a
            // path is still found by name: every IAM call here takes the name).
            ResourceRef::IamRole {
                arn: format!("arn:aws:iam::{account}:role/{name}"),
                name,
            }
        }
        (KMS, _) => {
            let key = request("keyId")?;
            let arn = if key.starts_with("arn:") {
                key
            } else if !key.starts_with("alias/") {
                format!("arn:aws:kms:{region}:{account}:key/{key}")
            } else {
                return None;
            };
            ResourceRef::KmsKey { arn }
        }
        (AGENTCORE, _) => {
            let arn = request("resourceArn")?;
            let kind = agentcore_id_from_arn(&arn)?.0.to_string();
            match kind.as_str() {
                "runtime" => ResourceRef::AgentRuntime {
                    name: None,
                    arn: Some(arn),
                },
                "memory" => ResourceRef::Memory {
                    name: None,
                    arn: Some(arn),
                },
                "gateway" => ResourceRef::Gateway {
                    name: None,
                    arn: Some(arn),
                },
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(resource)
}

/// What the call changed (see [`DriftChange`]).
pub fn change(event: &DriftEvent, detail: &Value) -> DriftChange {
    let request = field(detail, "requestParameters").unwrap_or(&Value::Null);
    let get = |name: &str| text(request, &[name]);
    match (event.event_source, event.event_name) {
        (SNS, "UntagResource") => match get("resourceArn") {
            Some(arn) if arn_service(&arn) != Some("sns") => {
                unrelated(format!("names {arn}, not an SNS topic"))
            }
            _ => tags_removed(request, "tagKeys"),
        },
        (LOGS, "UntagResource") => match get("resourceArn") {
            Some(arn) if log_group_from_arn(&arn).is_none() => {
                unrelated(format!("names {arn}, not a log group"))
            }
            _ => tags_removed(request, "tagKeys"),
        },
        (AGENTCORE, "UntagResource") => match get("resourceArn") {
            Some(arn)
                if !matches!(
                    agentcore_id_from_arn(&arn).map(|(kind, _)| kind),
                    Some("runtime" | "memory" | "gateway")
                ) =>
            {
                unrelated(format!(
                    "names {arn}, not an AgentCore runtime, memory or gateway"
                ))
            }
            _ => tags_removed(request, "tagKeys"),
        },
        (_, "UntagResource" | "UntagQueue" | "UntagRole") => tags_removed(request, "tagKeys"),
        (LOGS, "UntagLogGroup") => tags_removed(request, "tags"),
        (LOGS, "DisassociateKmsKey") => match get("resourceIdentifier") {
            // The other documented form of resourceIdentifier is a query-results ARN.
            Some(id) if get("logGroupName").is_none() && log_group_from_arn(&id).is_none() => {
                unrelated(format!("names {id}, not a log group"))
            }
            _ => DriftChange::EncryptionRemoved,
        },
        (S3, "DeleteBucketTagging") => DriftChange::TagsDeleted,
        (S3, "PutBucketTagging") => DriftChange::TagsReplaced {
            tags: bucket_tag_set(request),
        },
        (S3, "DeleteBucketEncryption") => DriftChange::EncryptionRemoved,
        (S3, "PutBucketEncryption") => DriftChange::EncryptionReplaced,
        (SNS, "SetTopicAttributes") => match get("attributeName") {
            Some(name) if name.eq_ignore_ascii_case("KmsMasterKeyId") => DriftChange::KeySet {
                key: get("attributeValue"),
            },
            Some(name) => unrelated(format!("set {name}, not KmsMasterKeyId")),
            // Redacted or absent: it may have been the key.
            None => DriftChange::KeySet { key: None },
        },
        (SQS, "SetQueueAttributes") => queue_attributes(request),
        (SECRETS, "UpdateSecret") => {
            if field(request, "kmsKeyId").is_some() {
                DriftChange::KeySet {
                    key: get("kmsKeyId"),
                }
            } else if request.is_object() {
                unrelated("did not set KmsKeyId".to_string())
            } else {
                // No request parameters to tell: re-checked.
                DriftChange::KeySet { key: None }
            }
        }
        _ => unrelated("is not a drift event".to_string()),
    }
}

fn unrelated(why: String) -> DriftChange {
    DriftChange::Unrelated { why }
}

/// `tagKeys` as CloudTrail writes it: a list, a single string, or a redaction marker.
fn tags_removed(request: &Value, member: &str) -> DriftChange {
    let keys = match field(request, member) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .filter(|keys| !keys.iter().any(|key| is_redaction(key))),
        Some(Value::String(key)) if !is_redaction(key) && !key.trim().is_empty() => {
            Some(vec![key.clone()])
        }
        _ => None,
    };
    DriftChange::TagsRemoved { keys }
}

fn is_redaction(value: &str) -> bool {
    REDACTION_MARKERS.contains(&value.trim())
}

/// SQS `SetQueueAttributes`: `attributes` (some SDKs: `attribute`) is a map of name to value.
/// `KmsMasterKeyId` sets or clears the key; `SqsManagedSseEnabled=true` switches the queue to
/// SSE-SQS, which drops the KMS key.
fn queue_attributes(request: &Value) -> DriftChange {
    let Some(attributes) = field(request, "attributes")
        .or_else(|| field(request, "attribute"))
        .filter(|value| value.is_object())
    else {
        return DriftChange::KeySet { key: None };
    };
    if field(attributes, "KmsMasterKeyId").is_some() {
        return DriftChange::KeySet {
            key: text(attributes, &["KmsMasterKeyId"]),
        };
    }
    let sse_sqs = text(attributes, &["SqsManagedSseEnabled"])
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    if sse_sqs {
        DriftChange::KeySet { key: None }
    } else {
        unrelated("set neither KmsMasterKeyId nor SqsManagedSseEnabled=true".to_string())
    }
}

/// S3 `PutBucketTagging`'s `Tagging.TagSet.Tag` (XML turned into JSON: a list, or one object
/// for a single tag); `None` when any part is missing or malformed.
fn bucket_tag_set(request: &Value) -> Option<Vec<(String, String)>> {
    let tag = field(field(field(request, "Tagging")?, "TagSet")?, "Tag")?;
    let items = match tag {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        object @ Value::Object(_) => vec![object],
        _ => return None,
    };
    items
        .into_iter()
        .map(|item| {
            let key = field(item, "Key")?.as_str()?.to_string();
            let value = field(item, "Value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Some((key, value))
        })
        .collect()
}

/// The service of an ARN (`arn:aws:sns:…` → `sns`).
fn arn_service(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(1)
}

/// `arn:…:logs:REGION:ACCOUNT:log-group:NAME[:*]` → `NAME`.
fn log_group_from_arn(arn: &str) -> Option<String> {
    if arn_service(arn) != Some("logs") {
        return None;
    }
    let (_, rest) = arn.split_once(":log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty() && !name.contains(':')).then(|| name.to_string())
}

/// Why a drift event cannot have broken a rule, or `None` when the resource must be read.
///
/// Tag keys compare ignoring case (IAM's are case-insensitive; for the other services this
/// only costs a read). Removing the opt-out tag counts: the resource is then ours to fix.
pub fn relevance(change: &DriftChange, config: &RemediationConfig) -> Option<String> {
    let watched = |key: &str| {
        config
            .required_tags
            .keys()
            .any(|required| required.eq_ignore_ascii_case(key))
            || config.opt_out_tag.eq_ignore_ascii_case(key)
    };
    match change {
        DriftChange::TagsRemoved { keys: Some(keys) }
            if !keys.iter().any(|key| watched(key.as_str())) =>
        {
            Some(format!(
                "removed no required tag (removed: {})",
                keys.join(", ")
            ))
        }
        DriftChange::TagsReplaced { tags: Some(tags) } => {
            let kept = config.required_tags.keys().all(|required| {
                tags.iter()
                    .any(|(key, value)| key == required && !value.trim().is_empty())
            });
            kept.then(|| "kept every required tag with a value".to_string())
        }
        DriftChange::KeySet { key: Some(key) }
            if classify_key(key, &config.kms_key_arn, &config.key_status.aliases)
                == KeyClass::ProjectCmk =>
        {
            Some(format!("set the project CMK ({key})"))
        }
        DriftChange::Unrelated { why } => Some(why.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::config::tests::sample;
    use serde_json::json;

    fn detail(request: Value) -> Value {
        json!({"requestParameters": request})
    }

    fn lookup(source: &str, name: &str) -> &'static DriftEvent {
        drift_event(source, name).unwrap_or_else(|| panic!("{source} {name}"))
    }

    #[test]
    fn the_table_has_one_row_per_call_and_service() {
        for (index, row) in DRIFT_EVENTS.iter().enumerate() {
            assert_eq!(
                drift_event(row.event_source, row.event_name),
                Some(row),
                "row {index} is unique"
            );
            assert!(matches!(row.trigger, TAGS | KEY));
        }
        assert_eq!(drift_event(SNS, "CreateTopic"), None);
        assert_eq!(drift_event("ec2.amazonaws.com", "UntagResource"), None);
    }

    /// The `eventName` list of template.yaml's `RemediatorRule`.
    fn template_event_names() -> Vec<String> {
        let template = include_str!("../../../template.yaml");
        let rule = template
            .split("\n  RemediatorRule:\n")
            .nth(1)
            .expect("RemediatorRule in template.yaml");
        let list = rule
            .split_once("eventName:\n")
            .expect("an eventName list")
            .1;
        list.lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .map_while(|line| line.strip_prefix("- "))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_template_rule_sends_every_create_and_drift_event() {
        use crate::remediation::event::{ResourceKind, HANDLED_SOURCES};
        const CREATES: [&str; 10] = [
            "CreateTopic",
            "CreateQueue",
            "CreateLogGroup",
            "CreateBucket",
            "CreateSecret",
            "CreateRole",
            "CreateKey",
            "CreateAgentRuntime",
            "CreateMemory",
            "CreateGateway",
        ];
        let mut expected: Vec<String> = CREATES.iter().map(|name| name.to_string()).collect();
        expected.extend(DRIFT_EVENTS.iter().map(|row| row.event_name.to_string()));
        expected.sort();
        expected.dedup();
        let mut names = template_event_names();
        names.sort();
        assert_eq!(names, expected);
        for name in CREATES {
            assert!(
                HANDLED_SOURCES
                    .iter()
                    .any(|(_, source)| ResourceKind::from_event(source, name).is_some()),
                "{name} is a handled create event"
            );
        }
        for row in DRIFT_EVENTS {
            assert!(
                HANDLED_SOURCES
                    .iter()
                    .any(|(_, source)| *source == row.event_source),
                "{} is a handled source",
                row.event_source
            );
        }
    }

    #[test]
    fn every_service_names_its_resource() {
        const ACCOUNT: &str = "123456789012";
        let topic = "arn:aws:sns:us-east-1:123456789012:corebound-demo-alerts";
        let queue = "https://sqs.us-east-1.amazonaws.com/123456789012/corebound-demo-jobs";
        let group_arn = "arn:aws:logs:us-east-1:123456789012:log-group:corebound-demo-logs";
        let secret_arn =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:corebound-demo-db-AbCdEf";
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let key_arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}");
        let gateway =
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/corebound-demo-gw-k3x9q2w7zt";
        let group = |name: &str| ResourceRef::LogGroup {
            name: name.to_string(),
        };
        let cases: Vec<(&str, &str, Value, Option<ResourceRef>)> = vec![
            (
                SNS,
                "UntagResource",
                json!({"resourceArn": topic, "tagKeys": ["Project"]}),
                Some(ResourceRef::SnsTopic { arn: topic.into() }),
            ),
            (
                SNS,
                "SetTopicAttributes",
                json!({"topicArn": topic, "attributeName": "KmsMasterKeyId", "attributeValue": ""}),
                Some(ResourceRef::SnsTopic { arn: topic.into() }),
            ),
            (
                SQS,
                "UntagQueue",
                json!({"queueUrl": queue, "tagKeys": ["Project"]}),
                Some(ResourceRef::SqsQueue {
                    url: queue.into(),
                    name: "corebound-demo-jobs".into(),
                }),
            ),
            (
                SQS,
                "SetQueueAttributes",
                json!({"queueUrl": queue, "attributes": {"KmsMasterKeyId": ""}}),
                Some(ResourceRef::SqsQueue {
                    url: queue.into(),
                    name: "corebound-demo-jobs".into(),
                }),
            ),
            (
                LOGS,
                "UntagResource",
                json!({"resourceArn": group_arn, "tagKeys": ["Project"]}),
                Some(group("corebound-demo-logs")),
            ),
            (
                LOGS,
                "UntagResource",
                json!({"resourceArn": format!("{group_arn}:*"), "tagKeys": ["Project"]}),
                Some(group("corebound-demo-logs")),
            ),
            (
                LOGS,
                "UntagResource",
                json!({"resourceArn": "arn:aws:logs:us-east-1:123456789012:destination:d", "tagKeys": ["Project"]}),
                None,
            ),
            (
                LOGS,
                "UntagLogGroup",
                json!({"logGroupName": "corebound-demo-logs", "tags": ["Project"]}),
                Some(group("corebound-demo-logs")),
            ),
            (
                LOGS,
                "DisassociateKmsKey",
                json!({"logGroupName": "corebound-demo-logs"}),
                Some(group("corebound-demo-logs")),
            ),
            (
                LOGS,
                "DisassociateKmsKey",
                json!({"resourceIdentifier": group_arn}),
                Some(group("corebound-demo-logs")),
            ),
            (
                S3,
                "DeleteBucketTagging",
                json!({"bucketName": "corebound-demo-b", "tagging": ""}),
                Some(ResourceRef::S3Bucket {
                    name: "corebound-demo-b".into(),
                }),
            ),
            (
                S3,
                "DeleteBucketEncryption",
                json!({"bucketName": "corebound-demo-b", "encryption": ""}),
                Some(ResourceRef::S3Bucket {
                    name: "corebound-demo-b".into(),
                }),
            ),
            (
                SECRETS,
                "UntagResource",
                json!({"secretId": secret_arn, "tagKeys": ["Project"]}),
                Some(ResourceRef::Secret {
                    name: None,
                    arn: Some(secret_arn.into()),
                }),
            ),
            (
                SECRETS,
                "UpdateSecret",
                json!({"secretId": "corebound-demo-db", "kmsKeyId": "alias/aws/secretsmanager"}),
                Some(ResourceRef::Secret {
                    name: Some("corebound-demo-db".into()),
                    arn: None,
                }),
            ),
            (
                IAM,
                "UntagRole",
                json!({"roleName": "LPMA_Demo_X", "tagKeys": ["Project"]}),
                Some(ResourceRef::IamRole {
                    name: "LPMA_Demo_X".into(),
                    arn: "arn:aws:iam::123456789012:role/LPMA_Demo_X".into(),
                }),
            ),
            (
                KMS,
                "UntagResource",
                json!({"keyId": key_arn, "tagKeys": ["Project"]}),
                Some(ResourceRef::KmsKey {
                    arn: key_arn.clone(),
                }),
            ),
            (
                KMS,
                "UntagResource",
                json!({"keyId": key_id, "tagKeys": ["Project"]}),
                Some(ResourceRef::KmsKey {
                    arn: key_arn.clone(),
                }),
            ),
            (
                AGENTCORE,
                "UntagResource",
                json!({"resourceArn": gateway, "tagKeys": ["Project"]}),
                Some(ResourceRef::Gateway {
                    name: None,
                    arn: Some(gateway.into()),
                }),
            ),
            (
                AGENTCORE,
                "UntagResource",
                json!({"resourceArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:browser/b-1234567890", "tagKeys": ["Project"]}),
                None,
            ),
            (SNS, "UntagResource", json!({"tagKeys": ["Project"]}), None),
            (SNS, "UntagResource", json!({"resourceArn": "***"}), None),
        ];
        for (source, name, request, expected) in cases {
            assert_eq!(
                locate(
                    lookup(source, name),
                    &detail(request.clone()),
                    "us-east-1",
                    ACCOUNT
                ),
                expected,
                "{source} {name} {request}"
            );
        }
    }

    #[test]
    fn the_change_is_read_as_the_event_gives_it() {
        let removed = |keys: &[&str]| DriftChange::TagsRemoved {
            keys: Some(keys.iter().map(|key| key.to_string()).collect()),
        };
        let key = |key: Option<&str>| DriftChange::KeySet {
            key: key.map(str::to_string),
        };
        let cases: Vec<(&str, &str, Value, DriftChange)> = vec![
            (
                KMS,
                "UntagResource",
                json!({"keyId": "k", "tagKeys": ["Dept"]}),
                removed(&["Dept"]),
            ),
            (
                IAM,
                "UntagRole",
                json!({"roleName": "r", "tagKeys": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
                DriftChange::TagsRemoved { keys: None },
            ),
            (
                SQS,
                "UntagQueue",
                json!({"queueUrl": "u", "tagKeys": "Project"}),
                removed(&["Project"]),
            ),
            (
                SNS,
                "UntagResource",
                json!({"resourceArn": "arn:aws:sns:us-east-1:1:t"}),
                DriftChange::TagsRemoved { keys: None },
            ),
            (
                LOGS,
                "UntagLogGroup",
                json!({"logGroupName": "g", "tags": ["a", "b"]}),
                removed(&["a", "b"]),
            ),
            (
                SNS,
                "SetTopicAttributes",
                json!({"attributeName": "KmsMasterKeyId", "attributeValue": ""}),
                key(None),
            ),
            (
                SNS,
                "SetTopicAttributes",
                json!({"attributeName": "KmsMasterKeyId", "attributeValue": "alias/aws/sns"}),
                key(Some("alias/aws/sns")),
            ),
            (
                SNS,
                "SetTopicAttributes",
                json!({"attributeName": "DisplayName", "attributeValue": "x"}),
                unrelated("set DisplayName, not KmsMasterKeyId".into()),
            ),
            (
                SQS,
                "SetQueueAttributes",
                json!({"attributes": {"VisibilityTimeout": "100"}}),
                unrelated("set neither KmsMasterKeyId nor SqsManagedSseEnabled=true".into()),
            ),
            (
                SQS,
                "SetQueueAttributes",
                json!({"attributes": {"SqsManagedSseEnabled": "true", "Policy": ""}}),
                key(None),
            ),
            (
                SQS,
                "SetQueueAttributes",
                json!({"attribute": {"KmsMasterKeyId": "alias/aws/sqs"}}),
                key(Some("alias/aws/sqs")),
            ),
            (
                SQS,
                "SetQueueAttributes",
                json!({"queueUrl": "u"}),
                key(None),
            ),
            (
                SECRETS,
                "UpdateSecret",
                json!({"secretId": "s", "description": "d"}),
                unrelated("did not set KmsKeyId".into()),
            ),
            (
                SECRETS,
                "UpdateSecret",
                json!({"secretId": "s", "kmsKeyId": "alias/aws/secretsmanager"}),
                key(Some("alias/aws/secretsmanager")),
            ),
            (
                S3,
                "PutBucketTagging",
                json!({"Tagging": {"TagSet": {"Tag": {"Key": "a", "Value": "1"}}}, "tagging": ""}),
                DriftChange::TagsReplaced {
                    tags: Some(vec![("a".into(), "1".into())]),
                },
            ),
            (
                S3,
                "PutBucketTagging",
                json!({"tagging": ""}),
                DriftChange::TagsReplaced { tags: None },
            ),
            (
                S3,
                "DeleteBucketEncryption",
                json!({"bucketName": "b"}),
                DriftChange::EncryptionRemoved,
            ),
            (
                LOGS,
                "DisassociateKmsKey",
                json!({"resourceIdentifier": "arn:aws:logs:us-east-1:1:query-result:abc"}),
                unrelated(
                    "names arn:aws:logs:us-east-1:1:query-result:abc, not a log group".into(),
                ),
            ),
        ];
        for (source, name, request, expected) in cases {
            assert_eq!(
                change(lookup(source, name), &detail(request.clone())),
                expected,
                "{source} {name} {request}"
            );
        }
    }

    #[test]
    fn only_calls_that_may_have_removed_something_are_read() {
        let config = sample();
        let removed = |keys: &[&str]| DriftChange::TagsRemoved {
            keys: Some(keys.iter().map(|key| key.to_string()).collect()),
        };
        // Skipped without a read:
        assert!(relevance(&removed(&["Owner", "CostCentre"]), &config).is_some());
        assert!(relevance(
            &DriftChange::KeySet {
                key: Some(config.kms_key_arn.clone())
            },
            &config
        )
        .is_some());
        let full: Vec<(String, String)> = config
            .required_tags
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        assert!(relevance(
            &DriftChange::TagsReplaced {
                tags: Some(full.clone())
            },
            &config
        )
        .is_some());
        // Read:
        for change in [
            removed(&["Owner", "project"]),
            removed(&[&config.opt_out_tag]),
            DriftChange::TagsRemoved { keys: None },
            DriftChange::TagsReplaced { tags: None },
            DriftChange::TagsReplaced {
                tags: Some(full[1..].to_vec()),
            },
            DriftChange::TagsReplaced {
                tags: Some(
                    full.iter()
                        .map(|(key, _)| (key.clone(), " ".to_string()))
                        .collect(),
                ),
            },
            DriftChange::TagsDeleted,
            DriftChange::KeySet { key: None },
            DriftChange::KeySet {
                key: Some("alias/aws/sns".into()),
            },
            DriftChange::KeySet {
                key: Some("arn:aws:kms:us-east-1:123456789012:key/other".into()),
            },
            DriftChange::EncryptionRemoved,
            DriftChange::EncryptionReplaced,
        ] {
            assert_eq!(relevance(&change, &config), None, "{change:?}");
        }
    }
}
