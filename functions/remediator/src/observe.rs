//! Reading a resource's current state before deciding: tags, encryption, and for KMS keys
//! their aliases. Reads only; every call goes through the [`RetryPolicy`], so a resource
//! that is not visible yet right after its create event is read again after a backoff.
//!
//! | kind | calls |
//! |---|---|
//! | SNS topic | `GetTopicAttributes` (`KmsMasterKeyId`, `Policy`), `ListTagsForResource` |
//! | SQS queue | `GetQueueAttributes` (`KmsMasterKeyId`, `SqsManagedSseEnabled`, `QueueArn`, `Policy`), `ListQueueTags` |
//! | log group | `DescribeLogGroups` (name prefix), `ListTagsForResource` (log group ARN) |
//! | S3 bucket | `GetBucketTagging` (`NoSuchTagSet` = no tags), `GetBucketEncryption`, `GetBucketPolicy` (`NoSuchBucketPolicy` = none), `GetBucketAcl` |
//! | secret | `DescribeSecret` |
//! | IAM role | `ListRoleTags` |
//! | KMS key | `ListResourceTags`, `ListAliases` (waits for an alias, see [`kms_key`]) |
//! | AgentCore | `ListAgentRuntimes` / `ListMemories` / `ListGateways` + `GetGateway` when the event lacks the ARN, `GetMemory`, `ListTagsForResource` |
//!
//! Before any of these, [`identify`] reads what the scope needs and the event did not say:
//! a KMS key's aliases, and a redacted AgentCore name (`GetAgentRuntime` / `GetMemory` /
//! `GetGateway` with the id from the ARN). An out-of-scope resource is never read further.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use corebound::remediation::{
    agentcore_id_from_arn, EncryptionState, ObservedState, ResourceRef, S3DefaultEncryption,
};

use crate::clients::Clients;
use crate::retry::{CallError, FailureKind, RetryPolicy};

/// What the writes of [`crate::apply`] address, resolved while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    SnsTopic {
        arn: String,
    },
    SqsQueue {
        url: String,
    },
    /// `arn` without the trailing `:*` (the form `TagResource` takes).
    LogGroup {
        name: String,
        arn: String,
    },
    S3Bucket {
        name: String,
    },
    Secret {
        arn: String,
    },
    IamRole {
        name: String,
    },
    KmsKey {
        arn: String,
    },
    /// Runtime, memory or gateway.
    AgentCore {
        arn: String,
    },
}

/// The resource as read.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The event's resource; AgentCore resources found by name carry their ARN now, and a
    /// secret found by name its ARN.
    pub resource: ResourceRef,
    pub target: Target,
    pub state: ObservedState,
}

/// The resource with every name its scope is judged on: what the event did not say (a KMS
/// key's aliases, a redacted AgentCore name) is read here, and nothing else.
#[derive(Debug, Clone)]
pub struct Identified {
    pub resource: ResourceRef,
    /// KMS keys only: the key's aliases (`alias/NAME`).
    pub key_aliases: Vec<String>,
}

impl Identified {
    /// The names `SCOPE_PATTERNS` is matched against.
    pub fn scope_names(&self) -> Vec<String> {
        corebound::scope::scope_names(&self.resource, &self.key_aliases)
    }
}

/// The reads needed before the scope can be judged: a KMS key's aliases (waiting for the
/// `CreateAlias` that follows `CreateKey`), and the name of an AgentCore resource whose
/// event redacted it (Get call with the id from the ARN). Everything else costs no call.
pub async fn identify(
    clients: &Clients,
    retry: &RetryPolicy,
    partition: &str,
    resource: &ResourceRef,
) -> Result<Identified, CallError> {
    let read = Reader {
        clients,
        retry,
        partition,
    };
    // The name the scope is judged on must be the name of the resource the writes go to:
    // AgentCore ids start with the name (gateways: the lower-cased name), so an event whose
    // name and ARN disagree gets its name from the Get call, as a redacted one does.
    let resource = &name_matching_arn(resource);
    let resource = match resource {
        ResourceRef::KmsKey { arn } => {
            let key_aliases = read.kms_aliases(arn).await?;
            return Ok(Identified {
                resource: resource.clone(),
                key_aliases,
            });
        }
        ResourceRef::AgentRuntime {
            name: None,
            arn: Some(arn),
        } => ResourceRef::AgentRuntime {
            name: Some(read.runtime_name(agentcore_id(arn)).await?),
            arn: Some(arn.clone()),
        },
        ResourceRef::Memory {
            name: None,
            arn: Some(arn),
        } => ResourceRef::Memory {
            name: Some(read.memory(agentcore_id(arn)).await?.name),
            arn: Some(arn.clone()),
        },
        ResourceRef::Gateway {
            name: None,
            arn: Some(arn),
        } => ResourceRef::Gateway {
            name: Some(read.gateway_name(agentcore_id(arn)).await?),
            arn: Some(arn.clone()),
        },
        other => other.clone(),
    };
    Ok(Identified {
        resource,
        key_aliases: Vec::new(),
    })
}

/// The resource with its AgentCore name dropped when the ARN's id does not start with it.
fn name_matching_arn(resource: &ResourceRef) -> ResourceRef {
    let matches = |name: &str, arn: &str, lower: bool| {
        let name = if lower {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        agentcore_id(arn).starts_with(&format!("{name}-"))
    };
    match resource {
        ResourceRef::AgentRuntime {
            name: Some(name),
            arn: Some(arn),
        } if !matches(name, arn, false) => ResourceRef::AgentRuntime {
            name: None,
            arn: Some(arn.clone()),
        },
        ResourceRef::Memory {
            name: Some(name),
            arn: Some(arn),
        } if !matches(name, arn, false) => ResourceRef::Memory {
            name: None,
            arn: Some(arn.clone()),
        },
        ResourceRef::Gateway {
            name: Some(name),
            arn: Some(arn),
        } if !matches(name, arn, true) => ResourceRef::Gateway {
            name: None,
            arn: Some(arn.clone()),
        },
        other => other.clone(),
    }
}

fn agentcore_id(arn: &str) -> &str {
    agentcore_id_from_arn(arn).map_or(arn, |(_, id)| id)
}

/// Reads the current state of an identified, in-scope resource.
pub async fn observe(
    clients: &Clients,
    retry: &RetryPolicy,
    partition: &str,
    identified: &Identified,
) -> Result<Observed, CallError> {
    let read = Reader {
        clients,
        retry,
        partition,
    };
    let resource = &identified.resource;
    let (target, state) = match resource {
        ResourceRef::SnsTopic { arn } => read.sns_topic(arn).await?,
        ResourceRef::SqsQueue { url, .. } => read.sqs_queue(url).await?,
        ResourceRef::LogGroup { name } => read.log_group(name).await?,
        ResourceRef::S3Bucket { name } => read.s3_bucket(name).await?,
        ResourceRef::Secret { name, arn } => {
            let id = arn.as_deref().or(name.as_deref()).unwrap_or_default();
            read.secret(id).await?
        }
        ResourceRef::IamRole { name, .. } => read.iam_role(name).await?,
        ResourceRef::KmsKey { arn } => {
            let (target, mut state) = read.kms_key(arn).await?;
            state.key_aliases = identified.key_aliases.clone();
            (target, state)
        }
        ResourceRef::AgentRuntime { name, arn } => {
            let arn = match arn {
                Some(arn) => arn.clone(),
                None => {
                    read.runtime_arn_by_name(name.as_deref().unwrap_or_default())
                        .await?
                }
            };
            let state = ObservedState {
                tags: read.agentcore_tags(&arn).await?,
                ..ObservedState::default()
            };
            (Target::AgentCore { arn }, state)
        }
        ResourceRef::Gateway { name, arn } => {
            let arn = match arn {
                Some(arn) => arn.clone(),
                None => {
                    read.gateway_arn_by_name(name.as_deref().unwrap_or_default())
                        .await?
                }
            };
            let state = ObservedState {
                tags: read.agentcore_tags(&arn).await?,
                ..ObservedState::default()
            };
            (Target::AgentCore { arn }, state)
        }
        ResourceRef::Memory { name, arn } => {
            let id = match arn {
                Some(arn) => id_from_arn(arn).to_string(),
                None => {
                    read.memory_id_by_name(name.as_deref().unwrap_or_default())
                        .await?
                }
            };
            let memory = read.memory(&id).await?;
            // Whichever way the service refuses a memory's tags (not a taggable resource,
            // or not allowed), the answer is the same finding, not a failure per event.
            let (tags, tags_unavailable) = match read.agentcore_tags(&memory.arn).await {
                Ok(tags) => (tags, None),
                Err(error) if error.kind == FailureKind::Final => {
                    (BTreeMap::new(), Some(error.to_string()))
                }
                Err(error) => return Err(error),
            };
            let state = ObservedState {
                tags,
                encryption: EncryptionState::Memory {
                    encryption_key_arn: memory.encryption_key_arn,
                },
                tags_unavailable,
                ..ObservedState::default()
            };
            (Target::AgentCore { arn: memory.arn }, state)
        }
    };
    Ok(Observed {
        resource: with_resolved_arn(resource, &target),
        target,
        state,
    })
}

/// Resources found by name get the ARN that was found.
fn with_resolved_arn(resource: &ResourceRef, target: &Target) -> ResourceRef {
    let arn = match target {
        Target::AgentCore { arn } | Target::Secret { arn } => Some(arn.clone()),
        _ => return resource.clone(),
    };
    match resource {
        ResourceRef::AgentRuntime { name, .. } => ResourceRef::AgentRuntime {
            name: name.clone(),
            arn,
        },
        ResourceRef::Memory { name, .. } => ResourceRef::Memory {
            name: name.clone(),
            arn,
        },
        ResourceRef::Gateway { name, .. } => ResourceRef::Gateway {
            name: name.clone(),
            arn,
        },
        ResourceRef::Secret { name, .. } => ResourceRef::Secret {
            name: name.clone(),
            arn,
        },
        other => other.clone(),
    }
}

/// `…:memory/ID` → `ID`.
fn id_from_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// AgentCore ids are the name, `-` and ten random alphanumerics.
fn id_has_name(id: &str, name: &str) -> bool {
    id.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|random| {
            random.len() == 10 && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// The grantee URI of the S3 log delivery group (server access logs by ACL).
const LOG_DELIVERY_GROUP: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// A resource policy as JSON; kept as a string when it is not (then judged unreadable).
fn policy_value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

pub fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

pub fn tag_map<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// A bucket's tags. A bucket without tags answers NoSuchTagSet; a bucket not visible yet,
/// NoSuchBucket (retried).
pub async fn bucket_tags(
    clients: &Clients,
    retry: &RetryPolicy,
    name: &str,
) -> Result<BTreeMap<String, String>, CallError> {
    let s3 = &clients.s3;
    match retry
        .sdk("s3:GetBucketTagging", || {
            s3.get_bucket_tagging().bucket(name).send()
        })
        .await
    {
        Ok(tagging) => Ok(tag_map(
            tagging.tag_set().iter().map(|tag| (tag.key(), tag.value())),
        )),
        Err(error) if error.is("NoSuchTagSet") => Ok(BTreeMap::new()),
        Err(error) => Err(error),
    }
}

/// A topic's encryption and resource policy (`GetTopicAttributes`): the event path's read, and
/// the sweep's (which takes the tags from the tagging API in batches).
pub async fn topic_attributes(
    clients: &Clients,
    retry: &RetryPolicy,
    arn: &str,
) -> Result<(EncryptionState, Option<serde_json::Value>), CallError> {
    let sns = &clients.sns;
    let attributes = retry
        .sdk("sns:GetTopicAttributes", || {
            sns.get_topic_attributes().topic_arn(arn).send()
        })
        .await?;
    let attribute = |name: &str| {
        attributes
            .attributes()
            .and_then(|attributes| attributes.get(name))
            .map(String::as_str)
    };
    let kms_master_key_id = non_empty(attribute("KmsMasterKeyId"));
    let resource_policy = non_empty(attribute("Policy")).map(|text| policy_value(&text));
    Ok((
        EncryptionState::SnsTopic { kms_master_key_id },
        resource_policy,
    ))
}

/// A queue's encryption, ARN and resource policy (`GetQueueAttributes`), for the event path
/// and the sweep.
pub async fn queue_attributes(
    clients: &Clients,
    retry: &RetryPolicy,
    url: &str,
) -> Result<(EncryptionState, Option<String>, Option<serde_json::Value>), CallError> {
    let sqs = &clients.sqs;
    let attributes = retry
        .sdk("sqs:GetQueueAttributes", || {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::KmsMasterKeyId)
                .attribute_names(QueueAttributeName::SqsManagedSseEnabled)
                .attribute_names(QueueAttributeName::QueueArn)
                .attribute_names(QueueAttributeName::Policy)
                .send()
        })
        .await?;
    let attribute = |name: QueueAttributeName| {
        attributes
            .attributes()
            .and_then(|attributes| attributes.get(&name))
            .map(String::as_str)
    };
    let encryption = EncryptionState::SqsQueue {
        kms_master_key_id: non_empty(attribute(QueueAttributeName::KmsMasterKeyId)),
        sqs_managed_sse_enabled: attribute(QueueAttributeName::SqsManagedSseEnabled)
            .is_some_and(|value| value.eq_ignore_ascii_case("true")),
    };
    let resource_arn = non_empty(attribute(QueueAttributeName::QueueArn));
    let resource_policy =
        non_empty(attribute(QueueAttributeName::Policy)).map(|text| policy_value(&text));
    Ok((encryption, resource_arn, resource_policy))
}

/// A bucket's default encryption rule (`GetBucketEncryption`), for the event path and the sweep.
/// AWS answers SSE-S3 for a bucket nobody configured (every bucket has default encryption since
/// 2023); `ServerSideEncryptionConfigurationNotFoundError`, its answer before that, is read as
/// `None`, which the rules treat like SSE-S3 (switched to the project key).
pub async fn bucket_encryption(
    clients: &Clients,
    retry: &RetryPolicy,
    name: &str,
) -> Result<Option<S3DefaultEncryption>, CallError> {
    let s3 = &clients.s3;
    match retry
        .sdk("s3:GetBucketEncryption", || {
            s3.get_bucket_encryption().bucket(name).send()
        })
        .await
    {
        Ok(output) => Ok(output
            .server_side_encryption_configuration()
            .and_then(|configuration| configuration.rules().first())
            .and_then(|rule| {
                let default = rule.apply_server_side_encryption_by_default()?;
                Some(S3DefaultEncryption {
                    sse_algorithm: default.sse_algorithm().as_str().to_string(),
                    kms_master_key_id: non_empty(default.kms_master_key_id()),
                    bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
                })
            })),
        Err(error) if error.is("ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
        Err(error) => Err(error),
    }
}

/// What GetMemory says that the remediator uses.
struct MemoryDetails {
    arn: String,
    name: String,
    encryption_key_arn: Option<String>,
}

#[derive(Clone, Copy)]
struct Reader<'a> {
    clients: &'a Clients,
    retry: &'a RetryPolicy,
    /// The partition of the project key (for bucket ARNs, which carry no region).
    partition: &'a str,
}

type Read = Result<(Target, ObservedState), CallError>;

impl Reader<'_> {
    async fn sns_topic(self, arn: &str) -> Read {
        let sns = &self.clients.sns;
        let (encryption, resource_policy) = topic_attributes(self.clients, self.retry, arn).await?;
        let tags = self
            .retry
            .sdk("sns:ListTagsForResource", || {
                sns.list_tags_for_resource().resource_arn(arn).send()
            })
            .await?;
        let state = ObservedState {
            tags: tag_map(tags.tags().iter().map(|tag| (tag.key(), tag.value()))),
            encryption,
            resource_arn: Some(arn.to_string()),
            resource_policy,
            ..ObservedState::default()
        };
        Ok((Target::SnsTopic { arn: arn.into() }, state))
    }

    async fn sqs_queue(self, url: &str) -> Read {
        let sqs = &self.clients.sqs;
        let (encryption, resource_arn, resource_policy) =
            queue_attributes(self.clients, self.retry, url).await?;
        let tags = self
            .retry
            .sdk("sqs:ListQueueTags", || {
                sqs.list_queue_tags().queue_url(url).send()
            })
            .await?;
        let state = ObservedState {
            tags: tags
                .tags()
                .map(|tags| tag_map(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
                .unwrap_or_default(),
            encryption,
            resource_arn,
            resource_policy,
            ..ObservedState::default()
        };
        Ok((Target::SqsQueue { url: url.into() }, state))
    }

    async fn log_group(self, name: &str) -> Read {
        const OPERATION: &str = "logs:DescribeLogGroups";
        let logs = &self.clients.logs;
        // The prefix also matches longer names: page until the exact name shows up.
        let group = self
            .retry
            .run(|| async move {
                let mut token: Option<String> = None;
                loop {
                    let page = logs
                        .describe_log_groups()
                        .log_group_name_prefix(name)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|error| CallError::from_sdk(OPERATION, &error))?;
                    if let Some(group) = page
                        .log_groups()
                        .iter()
                        .find(|group| group.log_group_name() == Some(name))
                    {
                        return Ok(group.clone());
                    }
                    match page.next_token().filter(|token| !token.is_empty()) {
                        Some(next) => token = Some(next.to_string()),
                        None => {
                            return Err(CallError::not_found(
                                OPERATION,
                                format!("log group {name} is not listed (yet)"),
                            ))
                        }
                    }
                }
            })
            .await?;
        let arn = group
            .log_group_arn()
            .map(str::to_string)
            .or_else(|| {
                group
                    .arn()
                    .map(|arn| arn.trim_end_matches(":*").to_string())
            })
            .ok_or_else(|| CallError::invalid(OPERATION, format!("no ARN for log group {name}")))?;
        let tags = self
            .retry
            .sdk("logs:ListTagsForResource", || {
                logs.list_tags_for_resource().resource_arn(&arn).send()
            })
            .await?;
        let state = ObservedState {
            tags: tags
                .tags()
                .map(|tags| tag_map(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
                .unwrap_or_default(),
            encryption: EncryptionState::LogGroup {
                kms_key_id: non_empty(group.kms_key_id()),
            },
            resource_arn: Some(arn.clone()),
            ..ObservedState::default()
        };
        let target = Target::LogGroup {
            name: name.into(),
            arn,
        };
        Ok((target, state))
    }

    async fn s3_bucket(self, name: &str) -> Read {
        let s3 = &self.clients.s3;
        let tags = bucket_tags(self.clients, self.retry, name).await?;
        let default_encryption = bucket_encryption(self.clients, self.retry, name).await?;
        // Who may deliver into the bucket, and whether it receives log deliveries.
        let resource_policy = match self
            .retry
            .sdk("s3:GetBucketPolicy", || {
                s3.get_bucket_policy().bucket(name).send()
            })
            .await
        {
            Ok(output) => non_empty(output.policy()).map(|text| policy_value(&text)),
            Err(error) if error.is("NoSuchBucketPolicy") => None,
            Err(error) => return Err(error),
        };
        let acl = self
            .retry
            .sdk("s3:GetBucketAcl", || {
                s3.get_bucket_acl().bucket(name).send()
            })
            .await?;
        let acl_grants_log_delivery = acl.grants().iter().any(|grant| {
            grant
                .grantee()
                .and_then(|grantee| grantee.uri())
                .is_some_and(|uri| uri == LOG_DELIVERY_GROUP)
        });
        let state = ObservedState {
            tags,
            encryption: EncryptionState::S3Bucket { default_encryption },
            resource_arn: Some(format!("arn:{}:s3:::{name}", self.partition)),
            resource_policy,
            acl_grants_log_delivery,
            ..ObservedState::default()
        };
        Ok((Target::S3Bucket { name: name.into() }, state))
    }

    /// `id` is the ARN, or the name when the event had no `responseElements`.
    async fn secret(self, id: &str) -> Read {
        let secrets = &self.clients.secrets;
        let secret = self
            .retry
            .sdk("secretsmanager:DescribeSecret", || {
                secrets.describe_secret().secret_id(id).send()
            })
            .await?;
        let state = ObservedState {
            tags: tag_map(
                secret
                    .tags()
                    .iter()
                    .filter_map(|tag| Some((tag.key()?, tag.value().unwrap_or_default()))),
            ),
            encryption: EncryptionState::Secret {
                kms_key_id: non_empty(secret.kms_key_id()),
            },
            ..ObservedState::default()
        };
        // Found by name (an event without responseElements): DescribeSecret gives the ARN.
        let arn = secret.arn().map_or_else(|| id.to_string(), str::to_string);
        Ok((Target::Secret { arn }, state))
    }

    async fn iam_role(self, name: &str) -> Read {
        let iam = &self.clients.iam;
        let mut tags = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .retry
                .sdk("iam:ListRoleTags", || {
                    iam.list_role_tags()
                        .role_name(name)
                        .set_marker(marker.clone())
                        .send()
                })
                .await?;
            tags.extend(tag_map(
                page.tags().iter().map(|tag| (tag.key(), tag.value())),
            ));
            match page.marker().filter(|_| page.is_truncated()) {
                Some(next) => marker = Some(next.to_string()),
                None => break,
            }
        }
        let state = ObservedState {
            tags,
            ..ObservedState::default()
        };
        Ok((Target::IamRole { name: name.into() }, state))
    }

    /// A key's tags (its aliases come from [`identify`]).
    async fn kms_key(self, arn: &str) -> Read {
        let kms = &self.clients.kms;
        let mut tags = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .retry
                .sdk("kms:ListResourceTags", || {
                    kms.list_resource_tags()
                        .key_id(arn)
                        .set_marker(marker.clone())
                        .send()
                })
                .await?;
            tags.extend(tag_map(
                page.tags()
                    .iter()
                    .map(|tag| (tag.tag_key(), tag.tag_value())),
            ));
            match page.next_marker().filter(|_| page.truncated()) {
                Some(next) => marker = Some(next.to_string()),
                None => break,
            }
        }
        let state = ObservedState {
            tags,
            ..ObservedState::default()
        };
        Ok((Target::KmsKey { arn: arn.into() }, state))
    }

    /// A key has no name: its scope is judged on its aliases. `CreateAlias` follows
    /// `CreateKey` (a separate call, seconds later in a CloudFormation stack), so a key
    /// without an alias is read again with the retry backoff before it is judged (and, if
    /// still without one, recorded as out of scope). `kms:ListAliases` is allowed on `*`,
    /// so this read works for any key, whatever its key policy says.
    async fn kms_aliases(self, arn: &str) -> Result<Vec<String>, CallError> {
        const ALIASES: &str = "kms:ListAliases";
        let retry = self.retry;
        let aliases = retry
            .run(|| async move {
                let aliases = self.aliases(arn).await?;
                if aliases.is_empty() {
                    Err(CallError::not_found(
                        ALIASES,
                        format!("no alias for {arn} yet"),
                    ))
                } else {
                    Ok(aliases)
                }
            })
            .await;
        match aliases {
            Ok(aliases) => Ok(aliases),
            // Still no alias after the last try (not an AWS error): judged without one.
            Err(error) if error.kind == FailureKind::NotFound && error.code.is_none() => {
                Ok(Vec::new())
            }
            Err(error) => Err(error),
        }
    }

    /// Every alias of the key (`alias/NAME`), one try per page.
    async fn aliases(self, arn: &str) -> Result<Vec<String>, CallError> {
        let mut aliases = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .clients
                .kms
                .list_aliases()
                .key_id(arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|error| CallError::from_sdk("kms:ListAliases", &error))?;
            let (names, next) = crate::clients::alias_page(&page);
            aliases.extend(names);
            match next {
                Some(next) => marker = Some(next),
                None => return Ok(aliases),
            }
        }
    }

    async fn agentcore_tags(self, arn: &str) -> Result<BTreeMap<String, String>, CallError> {
        let agentcore = &self.clients.agentcore;
        let tags = self
            .retry
            .sdk("bedrock-agentcore:ListTagsForResource", || {
                agentcore.list_tags_for_resource().resource_arn(arn).send()
            })
            .await?;
        Ok(tags
            .tags()
            .map(|tags| tag_map(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            .unwrap_or_default())
    }

    async fn runtime_arn_by_name(self, name: &str) -> Result<String, CallError> {
        const OPERATION: &str = "bedrock-agentcore:ListAgentRuntimes";
        let agentcore = &self.clients.agentcore;
        self.retry
            .run(|| async move {
                let mut token: Option<String> = None;
                loop {
                    let page = agentcore
                        .list_agent_runtimes()
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|error| CallError::from_sdk(OPERATION, &error))?;
                    if let Some(runtime) = page
                        .agent_runtimes()
                        .iter()
                        .find(|runtime| runtime.agent_runtime_name() == name)
                    {
                        return Ok(runtime.agent_runtime_arn().to_string());
                    }
                    match page.next_token().filter(|token| !token.is_empty()) {
                        Some(next) => token = Some(next.to_string()),
                        None => {
                            return Err(CallError::not_found(
                                OPERATION,
                                format!("no agent runtime named {name} (yet)"),
                            ))
                        }
                    }
                }
            })
            .await
    }

    async fn memory_id_by_name(self, name: &str) -> Result<String, CallError> {
        const OPERATION: &str = "bedrock-agentcore:ListMemories";
        let agentcore = &self.clients.agentcore;
        self.retry
            .run(|| async move {
                let mut token: Option<String> = None;
                loop {
                    let page = agentcore
                        .list_memories()
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|error| CallError::from_sdk(OPERATION, &error))?;
                    // Memory summaries carry no name: the id is the name plus a suffix.
                    if let Some(id) = page
                        .memories()
                        .iter()
                        .filter_map(|memory| memory.id())
                        .find(|id| id_has_name(id, name))
                    {
                        return Ok(id.to_string());
                    }
                    match page.next_token().filter(|token| !token.is_empty()) {
                        Some(next) => token = Some(next.to_string()),
                        None => {
                            return Err(CallError::not_found(
                                OPERATION,
                                format!("no memory named {name} (yet)"),
                            ))
                        }
                    }
                }
            })
            .await
    }

    /// The memory's ARN, name and `encryptionKeyArn`.
    async fn memory(self, id: &str) -> Result<MemoryDetails, CallError> {
        const OPERATION: &str = "bedrock-agentcore:GetMemory";
        let agentcore = &self.clients.agentcore;
        let output = self
            .retry
            .sdk(OPERATION, || agentcore.get_memory().memory_id(id).send())
            .await?;
        let memory = output.memory().ok_or_else(|| {
            CallError::invalid(OPERATION, format!("no memory in the answer for {id}"))
        })?;
        Ok(MemoryDetails {
            arn: memory.arn().to_string(),
            name: memory.name().to_string(),
            encryption_key_arn: non_empty(memory.encryption_key_arn()),
        })
    }

    /// A runtime's name (its event redacted it).
    async fn runtime_name(self, id: &str) -> Result<String, CallError> {
        let agentcore = &self.clients.agentcore;
        let runtime = self
            .retry
            .sdk("bedrock-agentcore:GetAgentRuntime", || {
                agentcore.get_agent_runtime().agent_runtime_id(id).send()
            })
            .await?;
        Ok(runtime.agent_runtime_name().to_string())
    }

    /// A gateway's name, capitals included (its id is lower case).
    async fn gateway_name(self, id: &str) -> Result<String, CallError> {
        let agentcore = &self.clients.agentcore;
        let gateway = self
            .retry
            .sdk("bedrock-agentcore:GetGateway", || {
                agentcore.get_gateway().gateway_identifier(id).send()
            })
            .await?;
        Ok(gateway.name().to_string())
    }

    async fn gateway_arn_by_name(self, name: &str) -> Result<String, CallError> {
        const OPERATION: &str = "bedrock-agentcore:ListGateways";
        let agentcore = &self.clients.agentcore;
        let id = self
            .retry
            .run(|| async move {
                let mut token: Option<String> = None;
                loop {
                    let page = agentcore
                        .list_gateways()
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|error| CallError::from_sdk(OPERATION, &error))?;
                    if let Some(gateway) =
                        page.items().iter().find(|gateway| gateway.name() == name)
                    {
                        return Ok(gateway.gateway_id().to_string());
                    }
                    match page.next_token().filter(|token| !token.is_empty()) {
                        Some(next) => token = Some(next.to_string()),
                        None => {
                            return Err(CallError::not_found(
                                OPERATION,
                                format!("no gateway named {name} (yet)"),
                            ))
                        }
                    }
                }
            })
            .await?;
        let gateway = self
            .retry
            .sdk("bedrock-agentcore:GetGateway", || {
                agentcore.get_gateway().gateway_identifier(&id).send()
            })
            .await?;
        Ok(gateway.gateway_arn().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_not_the_arn_s_is_read_again() {
        let gateway = |name: &str| {
            ResourceRef::Gateway {
            name: Some(name.to_string()),
            arn: Some(
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/orders-gateway-k3x9q2w7zt"
                    .to_string(),
            ),
        }
        };
        assert_eq!(
            name_matching_arn(&gateway("Orders-Gateway")),
            gateway("Orders-Gateway")
        );
        let ResourceRef::Gateway { name, .. } = name_matching_arn(&gateway("corebound-demo-gw"))
        else {
            panic!("a gateway stays a gateway");
        };
        assert_eq!(name, None, "the name comes from GetGateway");
        let memory = ResourceRef::Memory {
            name: Some("corebound_demo_memory".into()),
            arn: Some(
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/other_memory-Zx81Qw45Er"
                    .into(),
            ),
        };
        assert!(matches!(
            name_matching_arn(&memory),
            ResourceRef::Memory { name: None, .. }
        ));
    }

    #[test]
    fn memory_ids_carry_the_name() {
        assert!(id_has_name(
            "corebound_demo_memory-Zx81Qw45Er",
            "corebound_demo_memory"
        ));
        assert!(!id_has_name(
            "corebound_demo_memory_v2-Zx81Qw45Er",
            "corebound_demo_memory"
        ));
        assert!(!id_has_name(
            "corebound_demo_memory-Zx81Qw45E",
            "corebound_demo_memory"
        ));
        assert!(!id_has_name(
            "corebound_demo_memory",
            "corebound_demo_memory"
        ));
        assert_eq!(
            id_from_arn("arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/m-0123456789"),
            "m-0123456789"
        );
    }
}
