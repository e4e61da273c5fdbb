//! Lenient parsing of "AWS API Call via CloudTrail" events delivered by EventBridge.
//!
//! Real CloudTrail records omit fields now and then, services disagree on key
//! capitalisation (`arn`, `aRN`, `ARN`), and AgentCore may log `responseElements: null`,
//! so parsing never fails: whatever is missing becomes `None`, and [`triage`] turns an
//! event it cannot act on into a typed skip reason.
//!
//! CloudTrail redacts some values: AgentCore logs names as `"***"` (the documented
//! CreateGateway event) or `HIDDEN_DUE_TO_SECURITY_REASONS`. A redaction marker is an absent
//! value ([`REDACTION_MARKERS`]), never a name: the handler then reads the name with the
//! resource's Get call, using the id from the ARN.
//!
//! [`triage`]: super::triage

use serde::Serialize;
use serde_json::Value;

use super::drift::{self, drift_event, DriftChange};

/// The kinds of resource the remediator handles, one per row of issue 5's table. The snake-case
/// names are also the sweep's `resource_type`s (work units, report).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    SnsTopic,
    SqsQueue,
    LogGroup,
    S3Bucket,
    Secret,
    IamRole,
    KmsKey,
    AgentRuntime,
    Memory,
    Gateway,
}

/// Values CloudTrail writes in place of a redacted field: treated as absent.
pub const REDACTION_MARKERS: [&str; 2] = ["***", "HIDDEN_DUE_TO_SECURITY_REASONS"];

/// The `eventSource`s handled, as `(EventBridge source, CloudTrail eventSource)`: the list
/// the template's rule pattern names in `source`.
pub const HANDLED_SOURCES: [(&str, &str); 8] = [
    ("aws.sns", "sns.amazonaws.com"),
    ("aws.sqs", "sqs.amazonaws.com"),
    ("aws.logs", "logs.amazonaws.com"),
    ("aws.s3", "s3.amazonaws.com"),
    ("aws.secretsmanager", "secretsmanager.amazonaws.com"),
    ("aws.iam", "iam.amazonaws.com"),
    ("aws.kms", "kms.amazonaws.com"),
    ("aws.bedrock-agentcore", "bedrock-agentcore.amazonaws.com"),
];

/// Which rules an event asks for: a create event all of them; the S3 configuration calls that
/// CloudFormation and Terraform make right after `CreateBucket` only the rule they touch
/// (the tool may be about to set the other one itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Create,
    /// `PutBucketTagging`: the mandatory-tags rule only.
    TagsChanged,
    /// `PutBucketEncryption`: the CMK-encryption rule only.
    EncryptionChanged,
}

impl Trigger {
    /// A drift event's rule ([`super::drift::DRIFT_EVENTS`]); every other event is a create.
    pub fn of(event_source: &str, event_name: &str) -> Self {
        drift_event(event_source, event_name).map_or(Self::Create, |row| row.trigger)
    }
}

impl ResourceKind {
    /// The kind a CloudTrail `eventSource` / `eventName` pair creates, if it is handled (drift
    /// events: [`super::drift::DRIFT_EVENTS`]).
    pub fn from_event(event_source: &str, event_name: &str) -> Option<Self> {
        let kind = match (event_source, event_name) {
            ("sns.amazonaws.com", "CreateTopic") => Self::SnsTopic,
            ("sqs.amazonaws.com", "CreateQueue") => Self::SqsQueue,
            ("logs.amazonaws.com", "CreateLogGroup") => Self::LogGroup,
            ("s3.amazonaws.com", "CreateBucket") => Self::S3Bucket,
            ("secretsmanager.amazonaws.com", "CreateSecret") => Self::Secret,
            ("iam.amazonaws.com", "CreateRole") => Self::IamRole,
            ("kms.amazonaws.com", "CreateKey") => Self::KmsKey,
            ("bedrock-agentcore.amazonaws.com", "CreateAgentRuntime") => Self::AgentRuntime,
            ("bedrock-agentcore.amazonaws.com", "CreateMemory") => Self::Memory,
            ("bedrock-agentcore.amazonaws.com", "CreateGateway") => Self::Gateway,
            _ => return None,
        };
        Some(kind)
    }
}

/// The resource an event created, identified as the event allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceRef {
    SnsTopic {
        arn: String,
    },
    /// SQS APIs take the URL; the name is its last path segment.
    SqsQueue {
        url: String,
        name: String,
    },
    LogGroup {
        name: String,
    },
    S3Bucket {
        name: String,
    },
    /// The ARN ends in `-` and six random characters that are not part of the name. `arn`
    /// is `None` when the event's `responseElements` is null (AWS's own documented example):
    /// the handler resolves the secret by `name` with DescribeSecret. At least one is set.
    Secret {
        name: Option<String>,
        arn: Option<String>,
    },
    IamRole {
        name: String,
        arn: String,
    },
    KmsKey {
        arn: String,
    },
    /// `arn` is `None` when the event's `responseElements` is null: the handler then
    /// looks the runtime up by `name`. `name` is `None` when the event redacts it: the
    /// handler reads it with GetAgentRuntime (id from the ARN). At least one is set.
    AgentRuntime {
        name: Option<String>,
        arn: Option<String>,
    },
    /// As for [`ResourceRef::AgentRuntime`] (GetMemory).
    Memory {
        name: Option<String>,
        arn: Option<String>,
    },
    /// As for [`ResourceRef::AgentRuntime`] (GetGateway). Gateway ids are the lower-cased
    /// name, so the name is never derived from the ARN.
    Gateway {
        name: Option<String>,
        arn: Option<String>,
    },
}

impl ResourceRef {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::SnsTopic { .. } => ResourceKind::SnsTopic,
            Self::SqsQueue { .. } => ResourceKind::SqsQueue,
            Self::LogGroup { .. } => ResourceKind::LogGroup,
            Self::S3Bucket { .. } => ResourceKind::S3Bucket,
            Self::Secret { .. } => ResourceKind::Secret,
            Self::IamRole { .. } => ResourceKind::IamRole,
            Self::KmsKey { .. } => ResourceKind::KmsKey,
            Self::AgentRuntime { .. } => ResourceKind::AgentRuntime,
            Self::Memory { .. } => ResourceKind::Memory,
            Self::Gateway { .. } => ResourceKind::Gateway,
        }
    }

    /// The name `SCOPE_PATTERNS` is matched against, when the event tells it. KMS keys have
    /// no name (their scope is judged on their aliases, see [`plan`](super::plan())) and
    /// AgentCore names may be redacted: those return `None` until the handler read them.
    pub fn scope_name(&self) -> Option<String> {
        match self {
            Self::SnsTopic { arn } => arn.rsplit(':').next().map(str::to_string),
            Self::Secret { name, arn } => name.clone().or_else(|| {
                arn.as_deref()
                    .map(|arn| secret_name_from_arn(arn).to_string())
            }),
            Self::SqsQueue { name, .. }
            | Self::LogGroup { name }
            | Self::S3Bucket { name }
            | Self::IamRole { name, .. } => Some(name.clone()),
            Self::AgentRuntime { name, .. }
            | Self::Memory { name, .. }
            | Self::Gateway { name, .. } => name.clone(),
            Self::KmsKey { .. } => None,
        }
    }

    /// How audit records and alerts name the resource: its ARN when known, else the
    /// queue URL or the name.
    pub fn identifier(&self) -> &str {
        match self {
            Self::SnsTopic { arn } | Self::IamRole { arn, .. } | Self::KmsKey { arn } => arn,
            Self::SqsQueue { url, .. } => url,
            Self::LogGroup { name } | Self::S3Bucket { name } => name,
            Self::Secret { name, arn }
            | Self::AgentRuntime { name, arn }
            | Self::Memory { name, arn }
            | Self::Gateway { name, arn } => arn.as_deref().or(name.as_deref()).unwrap_or_default(),
        }
    }
}

/// Who made the call: the loop guard compares both ARNs with `SELF_ROLE_ARN`; the creator
/// race ([`super::creator`]) recognises provisioning tools by the other three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// `detail.userIdentity.arn`; for a role session
    /// `arn:…:sts::…:assumed-role/NAME/SESSION`.
    pub arn: Option<String>,
    /// `detail.userIdentity.sessionContext.sessionIssuer.arn` (the role itself, with its path).
    pub session_issuer_arn: Option<String>,
    /// `detail.userIdentity.invokedBy`: the AWS service that made the call for the caller
    /// (`cloudformation.amazonaws.com`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
    /// `detail.sourceIPAddress` (a service name when a service made the call).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `detail.userAgent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The parts of a CloudTrail create event the remediator decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateEvent {
    /// EventBridge `id` (falls back to `detail.eventID`): the audit key.
    pub event_id: String,
    pub event_name: String,
    /// `detail.eventSource`, else derived from `source` (lenient, for the table lookup).
    pub event_source: String,
    pub region: String,
    /// The envelope's `account`, else `detail.recipientAccountId`.
    pub account: String,
    /// Exactly what the envelope and the detail say, for [`super::authenticate`]: the
    /// envelope's `source`, its `account` and `detail.eventSource`, each without fallback.
    pub authenticity: Provenance,
    pub actor: Actor,
    /// Present on failed calls, which created nothing.
    pub error_code: Option<String>,
    /// `None` when the event is not handled or lacks the resource's identity.
    pub resource: Option<ResourceRef>,
    /// Drift events only: what the call changed, as the event says ([`super::drift`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftChange>,
}

/// The fields an event's authenticity is judged on, as received (no fallbacks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// EventBridge `source` (`aws.<service>` for AWS events; only AWS may send those).
    pub source: Option<String>,
    /// EventBridge `account`: the account the event was raised in.
    pub account: Option<String>,
    /// `detail.eventSource` (`<service>.amazonaws.com`).
    pub event_source: Option<String>,
}

impl CreateEvent {
    /// Which rules the event asks for (see [`Trigger`]).
    pub fn trigger(&self) -> Trigger {
        Trigger::of(&self.event_source, &self.event_name)
    }

    /// True for the create events of issue 5's table and the drift events of issue 12.
    pub fn is_handled(&self) -> bool {
        ResourceKind::from_event(&self.event_source, &self.event_name).is_some()
            || drift_event(&self.event_source, &self.event_name).is_some()
    }

    /// Reads an EventBridge event; never fails (see the module docs).
    pub fn from_eventbridge(event: &Value) -> Self {
        let detail = field(event, "detail").unwrap_or(&Value::Null);
        let event_source = text(detail, &["eventSource"])
            .or_else(|| {
                // EventBridge `source` is `aws.<service>` for the same service.
                text(event, &["source"])
                    .and_then(|source| source.strip_prefix("aws.").map(str::to_string))
                    .map(|service| format!("{service}.amazonaws.com"))
            })
            .unwrap_or_default();
        let event_name = text(detail, &["eventName"]).unwrap_or_default();
        let region = text(event, &["region"])
            .or_else(|| text(detail, &["awsRegion"]))
            .unwrap_or_default();
        let account = text(event, &["account"])
            .or_else(|| text(detail, &["recipientAccountId"]))
            .unwrap_or_default();
        let drift_row = drift_event(&event_source, &event_name);
        let resource = match drift_row {
            Some(row) => drift::locate(row, detail, &region, &account),
            None => ResourceKind::from_event(&event_source, &event_name)
                .and_then(|kind| resource_from_detail(kind, detail)),
        };
        Self {
            event_id: text(event, &["id"])
                .or_else(|| text(detail, &["eventID"]))
                .unwrap_or_default(),
            event_name,
            event_source,
            region,
            account,
            authenticity: Provenance {
                source: text(event, &["source"]),
                account: text(event, &["account"]),
                event_source: text(detail, &["eventSource"]),
            },
            actor: Actor {
                arn: text(detail, &["userIdentity", "arn"]),
                session_issuer_arn: text(
                    detail,
                    &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
                ),
                invoked_by: text(detail, &["userIdentity", "invokedBy"]),
                source_ip: text(detail, &["sourceIPAddress"]),
                user_agent: text(detail, &["userAgent"]),
            },
            error_code: text(detail, &["errorCode"]),
            resource,
            drift: drift_row.map(|row| drift::change(row, detail)),
        }
    }
}

/// Object member lookup: the exact key first, then any key equal ignoring ASCII case.
pub(super) fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(key))
            .map(|(_, found)| found)
    })
}

/// The non-empty string at `path` (null, missing, empty and redacted all mean absent).
pub(super) fn text(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |current, key| field(current, key))?
        .as_str()
        .map(str::trim)
        .filter(|found| !found.is_empty() && !is_redacted(found))
        .map(str::to_string)
}

/// True for a value CloudTrail redacted ([`REDACTION_MARKERS`]).
pub fn is_redacted(value: &str) -> bool {
    REDACTION_MARKERS.contains(&value.trim())
}

fn resource_from_detail(kind: ResourceKind, detail: &Value) -> Option<ResourceRef> {
    let request = |path: &[&str]| text(field(detail, "requestParameters")?, path);
    let response = |path: &[&str]| text(field(detail, "responseElements")?, path);
    let resource = match kind {
        ResourceKind::SnsTopic => ResourceRef::SnsTopic {
            arn: response(&["topicArn"])?,
        },
        ResourceKind::SqsQueue => {
            let url = response(&["queueUrl"])?;
            let name = url.trim_end_matches('/').rsplit('/').next()?.to_string();
            ResourceRef::SqsQueue { url, name }
        }
        ResourceKind::LogGroup => ResourceRef::LogGroup {
            name: request(&["logGroupName"])?,
        },
        ResourceKind::S3Bucket => ResourceRef::S3Bucket {
            name: request(&["bucketName"])?,
        },
        ResourceKind::Secret => {
            let arn = response(&["arn"]);
            let name = request(&["name"]);
            if arn.is_none() && name.is_none() {
                return None;
            }
            ResourceRef::Secret { name, arn }
        }
        ResourceKind::IamRole => {
            let arn = response(&["role", "arn"]);
            let name = response(&["role", "roleName"])
                .or_else(|| arn.as_deref()?.rsplit('/').next().map(str::to_string))
                .or_else(|| request(&["roleName"]))?;
            // A record without the response (some published examples) still names the role
            // in the request: its ARN follows from the account and the path.
            let arn = match arn {
                Some(arn) => arn,
                None => {
                    let account = text(detail, &["recipientAccountId"])
                        .or_else(|| text(detail, &["userIdentity", "accountId"]))?;
                    let path = request(&["path"]).unwrap_or_else(|| "/".to_string());
                    format!("arn:aws:iam::{account}:role{path}{name}")
                }
            };
            ResourceRef::IamRole { name, arn }
        }
        ResourceKind::KmsKey => ResourceRef::KmsKey {
            arn: response(&["keyMetadata", "arn"])?,
        },
        ResourceKind::AgentRuntime => {
            let arn = response(&["agentRuntimeArn"]).filter(|arn| agentcore_id(arn, "runtime"));
            let name = request(&["agentRuntimeName"]);
            if arn.is_none() && name.is_none() {
                return None;
            }
            ResourceRef::AgentRuntime { name, arn }
        }
        ResourceKind::Memory => {
            let arn = response(&["memory", "arn"]).filter(|arn| agentcore_id(arn, "memory"));
            let name = request(&["name"]).or_else(|| response(&["memory", "name"]));
            if arn.is_none() && name.is_none() {
                return None;
            }
            ResourceRef::Memory { name, arn }
        }
        ResourceKind::Gateway => {
            let arn = response(&["gatewayArn"]).filter(|arn| agentcore_id(arn, "gateway"));
            // Gateway ids are the lower-cased name: the name comes from the event or GetGateway.
            let name = request(&["name"]).or_else(|| response(&["name"]));
            if arn.is_none() && name.is_none() {
                return None;
            }
            ResourceRef::Gateway { name, arn }
        }
    };
    Some(resource)
}

/// `…:secret:NAME-AbCdEf` → `NAME`: Secrets Manager appends `-` and six random characters.
fn secret_name_from_arn(arn: &str) -> &str {
    let full = arn.split_once(":secret:").map_or(arn, |(_, name)| name);
    strip_random_suffix(full, 6)
}

/// True for `…:<kind>/ID` where ID is `NAME-` plus ten random characters (`runtime`,
/// `memory`, `gateway`). Other ARN shapes (e.g. versioned `agent/<uuid>:1`) are not used.
fn agentcore_id(arn: &str, kind: &str) -> bool {
    agentcore_id_from_arn(arn)
        .is_some_and(|(found, id)| found == kind && strip_random_suffix(id, 10).len() < id.len())
}

/// `…:memory/ID` → `("memory", ID)`.
pub fn agentcore_id_from_arn(arn: &str) -> Option<(&str, &str)> {
    let (_, resource) = arn.rsplit_once(':')?;
    let (kind, id) = resource.split_once('/')?;
    (!id.is_empty() && !id.contains('/')).then_some((kind, id))
}

fn strip_random_suffix(id: &str, random_len: usize) -> &str {
    match id.len().checked_sub(random_len + 1) {
        Some(dash)
            if dash > 0
                && id.as_bytes()[dash] == b'-'
                && id.as_bytes()[dash + 1..]
                    .iter()
                    .all(u8::is_ascii_alphanumeric) =>
        {
            &id[..dash]
        }
        _ => id,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Every fixture in `events/remediator/`, by file name.
    pub(crate) const FIXTURES: [(&str, &str); 11] = [
        (
            "create-topic.json",
            include_str!("../../../events/remediator/create-topic.json"),
        ),
        (
            "create-topic-failed.json",
            include_str!("../../../events/remediator/create-topic-failed.json"),
        ),
        (
            "create-queue.json",
            include_str!("../../../events/remediator/create-queue.json"),
        ),
        (
            "create-log-group.json",
            include_str!("../../../events/remediator/create-log-group.json"),
        ),
        (
            "create-bucket.json",
            include_str!("../../../events/remediator/create-bucket.json"),
        ),
        (
            "create-secret.json",
            include_str!("../../../events/remediator/create-secret.json"),
        ),
        (
            "create-role.json",
            include_str!("../../../events/remediator/create-role.json"),
        ),
        (
            "create-key.json",
            include_str!("../../../events/remediator/create-key.json"),
        ),
        (
            "create-agent-runtime.json",
            include_str!("../../../events/remediator/create-agent-runtime.json"),
        ),
        (
            "create-memory.json",
            include_str!("../../../events/remediator/create-memory.json"),
        ),
        (
            "create-gateway.json",
            include_str!("../../../events/remediator/create-gateway.json"),
        ),
    ];

    pub(crate) fn fixture(name: &str) -> CreateEvent {
        let (_, text) = FIXTURES
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap_or_else(|| panic!("no fixture {name}"));
        let value: Value = serde_json::from_str(text).unwrap_or_else(|err| panic!("{name}: {err}"));
        CreateEvent::from_eventbridge(&value)
    }

    fn owned(value: &str) -> String {
        value.to_string()
    }

    #[test]
    fn every_fixture_parses_to_its_resource() {
        let expected: [(&str, Option<ResourceRef>); 11] = [
            (
                "create-topic.json",
                Some(ResourceRef::SnsTopic {
                    arn: owned("arn:aws:sns:us-east-1:123456789012:corebound-demo-alerts"),
                }),
            ),
            // A failed call created nothing; triage skips it on its errorCode.
            ("create-topic-failed.json", None),
            (
                "create-queue.json",
                Some(ResourceRef::SqsQueue {
                    url: owned(
                        "https://sqs.us-east-1.amazonaws.com/123456789012/corebound-demo-jobs",
                    ),
                    name: owned("corebound-demo-jobs"),
                }),
            ),
            (
                "create-log-group.json",
                Some(ResourceRef::LogGroup {
                    name: owned("corebound-demo-agent-logs"),
                }),
            ),
            (
                "create-bucket.json",
                Some(ResourceRef::S3Bucket {
                    name: owned("corebound-demo-artifacts-123456789012"),
                }),
            ),
            (
                "create-secret.json",
                Some(ResourceRef::Secret {
                    name: Some(owned("corebound-demo-db-credentials")),
                    arn: Some(owned(
                        "arn:aws:secretsmanager:us-east-1:123456789012:\
                         secret:corebound-demo-db-credentials-Xy3AbC",
                    )),
                }),
            ),
            (
                "create-role.json",
                Some(ResourceRef::IamRole {
                    name: owned("LPMA_Demo_AgentRuntime"),
                    arn: owned("arn:aws:iam::123456789012:role/LPMA_Demo_AgentRuntime"),
                }),
            ),
            (
                "create-key.json",
                Some(ResourceRef::KmsKey {
                    arn: owned(
                        "arn:aws:kms:us-east-1:123456789012:\
                         key/0f2c3d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    ),
                }),
            ),
            (
                "create-agent-runtime.json",
                Some(ResourceRef::AgentRuntime {
                    name: Some(owned("corebound_demo_agent")),
                    arn: Some(owned(
                        "arn:aws:bedrock-agentcore:us-east-1:123456789012:\
                         runtime/corebound_demo_agent-Ab12Cd34Ef",
                    )),
                }),
            ),
            (
                "create-memory.json",
                Some(ResourceRef::Memory {
                    name: Some(owned("corebound_demo_memory")),
                    arn: None,
                }),
            ),
            (
                "create-gateway.json",
                Some(ResourceRef::Gateway {
                    name: Some(owned("corebound-demo-gateway")),
                    arn: Some(owned(
                        "arn:aws:bedrock-agentcore:us-east-1:123456789012:\
                         gateway/corebound-demo-gateway-k3x9q2w7zt",
                    )),
                }),
            ),
        ];
        assert_eq!(expected.len(), FIXTURES.len());
        for (name, resource) in expected {
            let event = fixture(name);
            assert_eq!(event.resource, resource, "{name}");
            assert_eq!(event.account, "123456789012", "{name}");
            assert_eq!(event.region, "us-east-1", "{name}");
            assert!(!event.event_id.is_empty(), "{name}");
            assert!(event.actor.arn.is_some(), "{name}");
            let kind = ResourceKind::from_event(&event.event_source, &event.event_name);
            assert!(
                kind.is_some(),
                "{name}: every fixture is a handled create event"
            );
            if let Some(resource) = resource {
                assert_eq!(Some(resource.kind()), kind, "{name}");
            }
        }
    }

    #[test]
    fn fixtures_carry_identity_and_error_code() {
        let topic = fixture("create-topic.json");
        assert_eq!(topic.error_code, None);
        assert_eq!(
            topic.actor.session_issuer_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/LPMA_Demo_Deployer")
        );
        let failed = fixture("create-topic-failed.json");
        assert_eq!(failed.error_code.as_deref(), Some("AuthorizationError"));
        assert_eq!(failed.event_name, "CreateTopic");
    }

    #[test]
    fn scope_names_strip_random_suffixes() {
        let cases = [
            ("create-topic.json", Some("corebound-demo-alerts")),
            ("create-queue.json", Some("corebound-demo-jobs")),
            ("create-secret.json", Some("corebound-demo-db-credentials")),
            ("create-role.json", Some("LPMA_Demo_AgentRuntime")),
            ("create-key.json", None),
            ("create-agent-runtime.json", Some("corebound_demo_agent")),
            ("create-memory.json", Some("corebound_demo_memory")),
            ("create-gateway.json", Some("corebound-demo-gateway")),
        ];
        for (name, scope_name) in cases {
            let resource = fixture(name).resource.unwrap();
            assert_eq!(resource.scope_name().as_deref(), scope_name, "{name}");
        }
    }

    #[test]
    fn redaction_markers_are_absent_values() {
        for marker in REDACTION_MARKERS {
            assert!(is_redacted(marker));
            assert_eq!(text(&json!({"name": marker}), &["name"]), None);
        }
        assert!(!is_redacted("corebound_demo"));
    }

    #[test]
    fn provenance_and_tool_fields_are_read_as_given() {
        let mut value: Value = serde_json::from_str(FIXTURES[4].1).unwrap();
        value["detail"]["userIdentity"]["invokedBy"] = json!("cloudformation.amazonaws.com");
        let event = CreateEvent::from_eventbridge(&value);
        assert_eq!(event.authenticity.source.as_deref(), Some("aws.s3"));
        assert_eq!(event.authenticity.account.as_deref(), Some("123456789012"));
        assert_eq!(
            event.authenticity.event_source.as_deref(),
            Some("s3.amazonaws.com")
        );
        assert_eq!(
            event.actor.invoked_by.as_deref(),
            Some("cloudformation.amazonaws.com")
        );
        assert_eq!(event.actor.source_ip.as_deref(), Some("203.0.113.24"));
        assert!(event.actor.user_agent.unwrap().starts_with("aws-cli/"));
        assert_eq!(
            Trigger::of("s3.amazonaws.com", "PutBucketTagging"),
            Trigger::TagsChanged
        );
        assert_eq!(
            Trigger::of("s3.amazonaws.com", "PutBucketEncryption"),
            Trigger::EncryptionChanged
        );
        assert_eq!(
            Trigger::of("s3.amazonaws.com", "CreateBucket"),
            Trigger::Create
        );
    }

    #[test]
    fn identifier_prefers_the_arn() {
        let memory = fixture("create-memory.json").resource.unwrap();
        assert_eq!(memory.identifier(), "corebound_demo_memory");
        let queue = fixture("create-queue.json").resource.unwrap();
        assert_eq!(
            queue.identifier(),
            "https://sqs.us-east-1.amazonaws.com/123456789012/corebound-demo-jobs"
        );
        let runtime = fixture("create-agent-runtime.json").resource.unwrap();
        assert!(runtime
            .identifier()
            .ends_with(":runtime/corebound_demo_agent-Ab12Cd34Ef"));
    }

    fn cloudtrail(source: &str, name: &str, request: Value, response: Value) -> Value {
        json!({
            "id": "e1", "detail-type": "AWS API Call via CloudTrail", "account": "123456789012",
            "region": "us-east-1",
            "detail": {
                "eventSource": source, "eventName": name,
                "requestParameters": request, "responseElements": response
            }
        })
    }

    #[test]
    fn lenient_variants_resolve_the_resource() {
        let secret_arn =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:corebound-demo-a-AbCdEf";
        let secret = |key: &str| {
            cloudtrail(
                "secretsmanager.amazonaws.com",
                "CreateSecret",
                json!({}),
                json!({ key: secret_arn }),
            )
        };
        const AGENTCORE: &str = "bedrock-agentcore.amazonaws.com";
        const MEMORY_ARN: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:\
            memory/corebound_demo_memory-Zx81Qw45Er";
        const MOTO_RUNTIME_ARN: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:\
            agent/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0:1";
        const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/service/LPMA_Demo_X";
        const GATEWAY_ARN: &str =
            "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/orders-gateway-k3x9q2w7zt";
        let secret_ref = Some(ResourceRef::Secret {
            name: None,
            arn: Some(owned(secret_arn)),
        });
        let cases: Vec<(&str, Value, Option<ResourceRef>)> = vec![
            ("secret arn", secret("arn"), secret_ref.clone()),
            ("secret aRN", secret("aRN"), secret_ref.clone()),
            ("secret ARN", secret("ARN"), secret_ref),
            (
                "runtime without response: name from request",
                cloudtrail(
                    AGENTCORE,
                    "CreateAgentRuntime",
                    json!({"agentRuntimeName": "corebound_demo_agent"}),
                    Value::Null,
                ),
                Some(ResourceRef::AgentRuntime {
                    name: Some(owned("corebound_demo_agent")),
                    arn: None,
                }),
            ),
            (
                "memory with response only: the name is read later (GetMemory)",
                cloudtrail(
                    AGENTCORE,
                    "CreateMemory",
                    Value::Null,
                    json!({"memory": {"arn": MEMORY_ARN}}),
                ),
                Some(ResourceRef::Memory {
                    name: None,
                    arn: Some(owned(MEMORY_ARN)),
                }),
            ),
            (
                "secret with responseElements null (AWS's documented example)",
                cloudtrail(
                    "secretsmanager.amazonaws.com",
                    "CreateSecret",
                    json!({"name": "corebound-demo-db"}),
                    Value::Null,
                ),
                Some(ResourceRef::Secret {
                    name: Some(owned("corebound-demo-db")),
                    arn: None,
                }),
            ),
            (
                "redacted gateway name: the name is read later (GetGateway)",
                cloudtrail(
                    AGENTCORE,
                    "CreateGateway",
                    json!({"name": "***"}),
                    json!({"gatewayArn": GATEWAY_ARN, "name": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
                ),
                Some(ResourceRef::Gateway {
                    name: None,
                    arn: Some(owned(GATEWAY_ARN)),
                }),
            ),
            (
                "gateway name with capitals is kept as given",
                cloudtrail(
                    AGENTCORE,
                    "CreateGateway",
                    json!({"name": "Orders-Gateway"}),
                    json!({"gatewayArn": GATEWAY_ARN}),
                ),
                Some(ResourceRef::Gateway {
                    name: Some(owned("Orders-Gateway")),
                    arn: Some(owned(GATEWAY_ARN)),
                }),
            ),
            (
                "everything redacted: no identity",
                cloudtrail(
                    AGENTCORE,
                    "CreateGateway",
                    json!({"name": "***"}),
                    json!({"gatewayArn": "***"}),
                ),
                None,
            ),
            (
                "PutBucketTagging is a bucket event",
                cloudtrail(
                    "s3.amazonaws.com",
                    "PutBucketTagging",
                    json!({"bucketName": "corebound-demo-x", "Tagging": {}}),
                    Value::Null,
                ),
                Some(ResourceRef::S3Bucket {
                    name: owned("corebound-demo-x"),
                }),
            ),
            (
                "moto-style runtime ARN carries no name",
                cloudtrail(
                    AGENTCORE,
                    "CreateAgentRuntime",
                    json!({}),
                    json!({"agentRuntimeArn": MOTO_RUNTIME_ARN}),
                ),
                None,
            ),
            (
                "role name from the ARN when roleName is absent",
                cloudtrail(
                    "iam.amazonaws.com",
                    "CreateRole",
                    json!({}),
                    json!({"role": {"arn": ROLE_ARN}}),
                ),
                Some(ResourceRef::IamRole {
                    name: owned("LPMA_Demo_X"),
                    arn: owned(ROLE_ARN),
                }),
            ),
            (
                "topic without responseElements has no identity",
                cloudtrail(
                    "sns.amazonaws.com",
                    "CreateTopic",
                    json!({"name": "corebound-demo-x"}),
                    Value::Null,
                ),
                None,
            ),
            (
                "empty strings count as absent",
                cloudtrail(
                    "s3.amazonaws.com",
                    "CreateBucket",
                    json!({"bucketName": ""}),
                    Value::Null,
                ),
                None,
            ),
            (
                "unhandled event",
                cloudtrail(
                    "sns.amazonaws.com",
                    "DeleteTopic",
                    json!({"topicArn": "arn:aws:sns:us-east-1:123456789012:t"}),
                    Value::Null,
                ),
                None,
            ),
        ];
        for (case, event, expected) in cases {
            assert_eq!(
                CreateEvent::from_eventbridge(&event).resource,
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn missing_envelope_fields_fall_back_to_the_detail() {
        let event = json!({
            "source": "aws.logs",
            "detail": {
                "eventID": "d-1", "awsRegion": "eu-west-1", "recipientAccountId": "210987654321",
                "eventName": "CreateLogGroup",
                "requestParameters": {"logGroupName": "corebound-demo-x"}
            }
        });
        let parsed = CreateEvent::from_eventbridge(&event);
        assert_eq!(parsed.event_id, "d-1");
        assert_eq!(parsed.region, "eu-west-1");
        assert_eq!(parsed.account, "210987654321");
        assert_eq!(parsed.event_source, "logs.amazonaws.com");
        assert_eq!(
            parsed.resource,
            Some(ResourceRef::LogGroup {
                name: owned("corebound-demo-x")
            })
        );
        assert_eq!(parsed.actor, Actor::default());
        assert_eq!(
            parsed.authenticity.account, None,
            "no fallback for authenticity"
        );
        assert_eq!(parsed.authenticity.event_source, None);
    }

    #[test]
    fn non_objects_parse_to_an_empty_event() {
        for value in [Value::Null, json!("text"), json!([1]), json!({"detail": 3})] {
            assert_eq!(
                CreateEvent::from_eventbridge(&value),
                CreateEvent::default()
            );
        }
    }

    #[test]
    fn random_suffixes_are_stripped_only_when_present() {
        let cases = [
            (
                "arn:aws:secretsmanager:us-east-1:1:secret:a/b-c-AbC123",
                "a/b-c",
            ),
            ("arn:aws:secretsmanager:us-east-1:1:secret:short", "short"),
            (
                "arn:aws:secretsmanager:us-east-1:1:secret:-AbCdEf",
                "-AbCdEf",
            ),
            (
                "arn:aws:secretsmanager:us-east-1:1:secret:name-Ab.dEf",
                "name-Ab.dEf",
            ),
        ];
        for (arn, name) in cases {
            assert_eq!(secret_name_from_arn(arn), name, "{arn}");
        }
    }
}
