//! One page of one resource type: the service's own list call (bounded page size), and what
//! the listing already tells about each resource's state.
//!
//! | type | list call (page size) | continues with |
//! |---|---|---|
//! | SNS topic | `ListTopics` (100, fixed by SNS) | `NextToken` |
//! | SQS queue | `ListQueues` (≤ 1000) | `NextToken` |
//! | log group | `DescribeLogGroups` (≤ 50; gives `kmsKeyId`) | `nextToken` |
//! | S3 bucket | `ListBuckets` (this region's, name order) | the page's last bucket name |
//! | secret | `ListSecrets` (≤ 100; gives `KmsKeyId` and tags) | `NextToken` |
//! | IAM role | `ListRoles` (≤ 1000) | `Marker` |
//! | KMS key | `ListKeys` (≤ 1000) + `ListAliases` of the account | `NextMarker` |
//! | AgentCore runtime / memory / gateway | `ListAgentRuntimes` / `ListMemories` / `ListGateways` (≤ 100) | `nextToken` |

use std::collections::{BTreeMap, HashMap};

use corebound::remediation::{EncryptionState, ObservedState, ResourceKind, ResourceRef};

use crate::observe::{non_empty, tag_map};
use crate::retry::CallError;

use super::Context;

/// A listed resource.
#[derive(Debug, Clone)]
pub struct Listed {
    pub resource: ResourceRef,
    /// KMS keys: their aliases (`alias/NAME`), on which their scope is judged.
    pub key_aliases: Vec<String>,
    /// The ARN the tagging API knows the resource by, for the kinds whose tags come from it.
    pub tag_arn: Option<String>,
    /// What the listing said about the state (log groups: the key; secrets: key and tags).
    pub known: Option<ObservedState>,
}

impl Listed {
    fn new(resource: ResourceRef) -> Self {
        Listed {
            resource,
            key_aliases: Vec::new(),
            tag_arn: None,
            known: None,
        }
    }

    /// The names `SCOPE_PATTERNS` is matched against (a key's aliases without `alias/`).
    pub fn scope_names(&self) -> Vec<String> {
        corebound::scope::scope_names(&self.resource, &self.key_aliases)
    }
}

/// One page, and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Listed>,
    pub next: Option<String>,
}

fn next_token(token: Option<&str>) -> Option<String> {
    token.filter(|token| !token.is_empty()).map(str::to_string)
}

fn page_size(size: u32, max: u32) -> i32 {
    i32::try_from(size.clamp(1, max)).unwrap_or(1)
}

/// Lists one page of `kind` starting at `token`.
pub async fn list_page(
    context: &Context<'_>,
    kind: ResourceKind,
    token: Option<&str>,
    size: u32,
) -> Result<Page, CallError> {
    let clients = context.clients();
    let retry = context.retry;
    let token = token.map(str::to_string);
    match kind {
        ResourceKind::SnsTopic => {
            let page = retry
                .sdk("sns:ListTopics", || {
                    clients
                        .sns
                        .list_topics()
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            let items = page
                .topics()
                .iter()
                .filter_map(|topic| topic.topic_arn())
                .map(|arn| {
                    Listed::new(ResourceRef::SnsTopic {
                        arn: arn.to_string(),
                    })
                })
                .map(|mut listed| {
                    listed.tag_arn = Some(listed.resource.identifier().to_string());
                    listed
                })
                .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
        ResourceKind::SqsQueue => {
            let page = retry
                .sdk("sqs:ListQueues", || {
                    clients
                        .sqs
                        .list_queues()
                        .max_results(page_size(size, 1000))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            let items = page
                .queue_urls()
                .iter()
                .map(|url| {
                    let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
                    Listed::new(ResourceRef::SqsQueue {
                        url: url.clone(),
                        name: name.to_string(),
                    })
                })
                .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
        ResourceKind::LogGroup => {
            let page = retry
                .sdk("logs:DescribeLogGroups", || {
                    clients
                        .logs
                        .describe_log_groups()
                        .limit(page_size(size, 50))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            let items = page
                .log_groups()
                .iter()
                .filter_map(|group| {
                    let name = group.log_group_name()?;
                    let arn = group.log_group_arn().map(str::to_string).or_else(|| {
                        group
                            .arn()
                            .map(|arn| arn.trim_end_matches(":*").to_string())
                    });
                    let mut listed = Listed::new(ResourceRef::LogGroup {
                        name: name.to_string(),
                    });
                    listed.known = Some(ObservedState {
                        encryption: EncryptionState::LogGroup {
                            kms_key_id: non_empty(group.kms_key_id()),
                        },
                        resource_arn: arn.clone(),
                        ..ObservedState::default()
                    });
                    listed.tag_arn = arn;
                    Some(listed)
                })
                .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
        ResourceKind::S3Bucket => list_buckets(context, token.as_deref(), size).await,
        ResourceKind::Secret => {
            let page = retry
                .sdk("secretsmanager:ListSecrets", || {
                    clients
                        .secrets
                        .list_secrets()
                        .max_results(page_size(size, 100))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            let items =
                page.secret_list()
                    .iter()
                    .filter_map(|secret| {
                        let arn = secret.arn()?;
                        let mut listed = Listed::new(ResourceRef::Secret {
                            name: secret.name().map(str::to_string),
                            arn: Some(arn.to_string()),
                        });
                        listed.known = Some(ObservedState {
                            tags: tag_map(secret.tags().iter().filter_map(|tag| {
                                Some((tag.key()?, tag.value().unwrap_or_default()))
                            })),
                            encryption: EncryptionState::Secret {
                                kms_key_id: non_empty(secret.kms_key_id()),
                            },
                            ..ObservedState::default()
                        });
                        Some(listed)
                    })
                    .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
        ResourceKind::IamRole => {
            let page = retry
                .sdk("iam:ListRoles", || {
                    clients
                        .iam
                        .list_roles()
                        .max_items(page_size(size, 1000))
                        .set_marker(token.clone())
                        .send()
                })
                .await?;
            let items = page
                .roles()
                .iter()
                .map(|role| {
                    Listed::new(ResourceRef::IamRole {
                        name: role.role_name().to_string(),
                        arn: role.arn().to_string(),
                    })
                })
                .collect();
            Ok(Page {
                items,
                next: page
                    .is_truncated()
                    .then(|| next_token(page.marker()))
                    .flatten(),
            })
        }
        ResourceKind::KmsKey => list_keys(context, token, size).await,
        ResourceKind::AgentRuntime => {
            let page = retry
                .sdk("bedrock-agentcore:ListAgentRuntimes", || {
                    clients
                        .agentcore
                        .list_agent_runtimes()
                        .max_results(page_size(size, 100))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            let items = page
                .agent_runtimes()
                .iter()
                .map(|runtime| {
                    Listed::new(ResourceRef::AgentRuntime {
                        name: Some(runtime.agent_runtime_name().to_string()),
                        arn: Some(runtime.agent_runtime_arn().to_string()),
                    })
                })
                .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
        ResourceKind::Memory => {
            let page = retry
                .sdk("bedrock-agentcore:ListMemories", || {
                    clients
                        .agentcore
                        .list_memories()
                        .max_results(page_size(size, 100))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            let items = page
                .memories()
                .iter()
                .filter_map(|memory| {
                    let (id, arn) = (memory.id()?, memory.arn()?);
                    // Memory summaries carry no name: the id is the name, `-` and ten characters.
                    let name = id
                        .rsplit_once('-')
                        .filter(|(_, suffix)| suffix.len() == 10)
                        .map(|(name, _)| name.to_string());
                    Some(Listed::new(ResourceRef::Memory {
                        name,
                        arn: Some(arn.to_string()),
                    }))
                })
                .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
        ResourceKind::Gateway => {
            let page = retry
                .sdk("bedrock-agentcore:ListGateways", || {
                    clients
                        .agentcore
                        .list_gateways()
                        .max_results(page_size(size, 100))
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            // Gateway summaries carry no ARN: it is built from the id, in the sweep's account.
            let items = page
                .items()
                .iter()
                .map(|gateway| {
                    Listed::new(ResourceRef::Gateway {
                        name: Some(gateway.name().to_string()),
                        arn: Some(context.arn(
                            "bedrock-agentcore",
                            &format!("gateway/{}", gateway.gateway_id()),
                        )),
                    })
                })
                .collect();
            Ok(Page {
                items,
                next: next_token(page.next_token()),
            })
        }
    }
}

/// `ListBuckets` has no page size every S3 implementation honours, so a page is the next
/// `size` bucket names (S3 lists them in name order) after the previous page's last one, which
/// is the token. Only this region's buckets (`BucketRegion`): the sweep is per region.
async fn list_buckets(
    context: &Context<'_>,
    after: Option<&str>,
    size: u32,
) -> Result<Page, CallError> {
    let clients = context.clients();
    let mut names: Vec<String> = Vec::new();
    let mut continuation: Option<String> = None;
    let wanted = size.clamp(1, 1000) as usize;
    loop {
        let page = context
            .retry
            .sdk("s3:ListBuckets", || {
                clients
                    .s3
                    .list_buckets()
                    .set_bucket_region(context.region.clone())
                    .set_continuation_token(continuation.clone())
                    .send()
            })
            .await?;
        names.extend(
            page.buckets()
                .iter()
                .filter_map(|bucket| bucket.name())
                .filter(|name| after.is_none_or(|after| *name > after))
                .map(str::to_string),
        );
        continuation = next_token(page.continuation_token());
        if names.len() > wanted || continuation.is_none() {
            break;
        }
    }
    names.sort();
    names.dedup();
    let next = (names.len() > wanted).then(|| names[wanted - 1].clone());
    names.truncate(wanted);
    let items = names
        .into_iter()
        .map(|name| {
            let mut listed = Listed::new(ResourceRef::S3Bucket { name: name.clone() });
            listed.tag_arn = Some(format!("arn:{}:s3:::{name}", context.partition));
            listed
        })
        .collect();
    Ok(Page { items, next })
}

/// A page of keys with their aliases. AWS-managed keys (aliases `alias/aws/…`) are not the
/// customer's and are left out; a key without an alias is listed (and judged out of scope).
async fn list_keys(
    context: &Context<'_>,
    token: Option<String>,
    size: u32,
) -> Result<Page, CallError> {
    let clients = context.clients();
    let page = context
        .retry
        .sdk("kms:ListKeys", || {
            clients
                .kms
                .list_keys()
                .limit(page_size(size, 1000))
                .set_marker(token.clone())
                .send()
        })
        .await?;
    let aliases = account_aliases(context).await?;
    let items = page
        .keys()
        .iter()
        .filter_map(|key| {
            let (id, arn) = (key.key_id()?, key.key_arn()?);
            let key_aliases = aliases.get(id).cloned().unwrap_or_default();
            if key_aliases
                .iter()
                .any(|alias| alias.starts_with("alias/aws/"))
            {
                return None;
            }
            let mut listed = Listed::new(ResourceRef::KmsKey {
                arn: arn.to_string(),
            });
            listed.key_aliases = key_aliases;
            listed.tag_arn = Some(arn.to_string());
            Some(listed)
        })
        .collect();
    Ok(Page {
        items,
        next: page
            .truncated()
            .then(|| next_token(page.next_marker()))
            .flatten(),
    })
}

/// Every alias of the account by target key id (`ListAliases`, 100 per call).
async fn account_aliases(context: &Context<'_>) -> Result<HashMap<String, Vec<String>>, CallError> {
    let clients = context.clients();
    let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let page = context
            .retry
            .sdk("kms:ListAliases", || {
                clients
                    .kms
                    .list_aliases()
                    .limit(100)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        for alias in page.aliases() {
            if let (Some(name), Some(key)) = (alias.alias_name(), alias.target_key_id()) {
                aliases
                    .entry(key.to_string())
                    .or_default()
                    .push(name.to_string());
            }
        }
        match page.next_marker().filter(|_| page.truncated()) {
            Some(next) => marker = Some(next.to_string()),
            None => return Ok(aliases),
        }
    }
}

/// Tags of up to 100 resources per `GetResources` call. A resource the answer leaves out has
/// no tags (the tagging API returns only tagged resources).
pub async fn tags_by_arn(
    context: &Context<'_>,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, CallError> {
    let clients = context.clients();
    let mut tags = HashMap::new();
    for chunk in arns.chunks(100) {
        let page = context
            .retry
            .sdk("tag:GetResources", || {
                clients
                    .tagging
                    .get_resources()
                    .set_resource_arn_list(Some(chunk.to_vec()))
                    .send()
            })
            .await?;
        for mapping in page.resource_tag_mapping_list() {
            if let Some(arn) = mapping.resource_arn() {
                tags.insert(
                    arn.to_string(),
                    tag_map(mapping.tags().iter().map(|tag| (tag.key(), tag.value()))),
                );
            }
        }
    }
    Ok(tags)
}
