//! Carrying out one planned [`Action`] on the resource read by [`crate::observe`].
//!
//! | kind | tags | encryption |
//! |---|---|---|
//! | SNS topic | `TagResource` | `SetTopicAttributes` `KmsMasterKeyId` |
//! | SQS queue | `TagQueue` | `SetQueueAttributes` `KmsMasterKeyId` |
//! | log group | `TagResource` (log group ARN) | `AssociateKmsKey` |
//! | S3 bucket | `PutBucketTagging` (the complete merged set) | `PutBucketEncryption` `aws:kms` + bucket key |
//! | secret | `TagResource` | `UpdateSecret` `KmsKeyId` |
//! | IAM role | `TagRole` | — |
//! | KMS key | `TagResource` | — |
//! | AgentCore | `TagResource` | — |
//!
//! Every call goes through the [`RetryPolicy`] (throttling, and a resource that a write
//! does not see yet). An action that does not fit the target is a bug in the plan and
//! fails without a call.

use std::collections::BTreeMap;
use std::collections::HashMap;

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tagging,
};
use aws_sdk_sqs::types::QueueAttributeName;
use corebound::remediation::{Action, EncryptionChange};

use crate::clients::Clients;
use crate::observe::Target;
use crate::retry::{CallError, RetryPolicy};

pub async fn apply(
    clients: &Clients,
    retry: &RetryPolicy,
    target: &Target,
    action: &Action,
) -> Result<(), CallError> {
    match (action, target) {
        (Action::AddTags { tags }, target) => add_tags(clients, retry, target, tags).await,
        (Action::ReplaceBucketTags { tags }, Target::S3Bucket { name }) => {
            const OPERATION: &str = "s3:PutBucketTagging";
            let tag_set = tags
                .iter()
                .map(|(key, value)| {
                    aws_sdk_s3::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .map_err(|error| CallError::invalid(OPERATION, error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let tagging = Tagging::builder()
                .set_tag_set(Some(tag_set))
                .build()
                .map_err(|error| CallError::invalid(OPERATION, error.to_string()))?;
            retry
                .sdk(OPERATION, || {
                    clients
                        .s3
                        .put_bucket_tagging()
                        .bucket(name)
                        .tagging(tagging.clone())
                        .send()
                })
                .await?;
            Ok(())
        }
        (Action::SetEncryption(change), target) => encrypt(clients, retry, target, change).await,
        (action, target) => Err(mismatch(action, target)),
    }
}

fn mismatch(action: &Action, target: &Target) -> CallError {
    CallError::invalid(
        "remediator",
        format!("planned action {action:?} does not apply to {target:?}"),
    )
}

fn hash_map(tags: &BTreeMap<String, String>) -> HashMap<String, String> {
    tags.iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Tag calls that merge: only the missing tags are sent.
async fn add_tags(
    clients: &Clients,
    retry: &RetryPolicy,
    target: &Target,
    tags: &BTreeMap<String, String>,
) -> Result<(), CallError> {
    match target {
        Target::SnsTopic { arn } => {
            const OPERATION: &str = "sns:TagResource";
            let tags = tags
                .iter()
                .map(|(key, value)| {
                    aws_sdk_sns::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .map_err(|error| CallError::invalid(OPERATION, error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            retry
                .sdk(OPERATION, || {
                    clients
                        .sns
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
        }
        Target::SqsQueue { url } => {
            retry
                .sdk("sqs:TagQueue", || {
                    clients
                        .sqs
                        .tag_queue()
                        .queue_url(url)
                        .set_tags(Some(hash_map(tags)))
                        .send()
                })
                .await?;
        }
        Target::LogGroup { arn, .. } => {
            retry
                .sdk("logs:TagResource", || {
                    clients
                        .logs
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(hash_map(tags)))
                        .send()
                })
                .await?;
        }
        Target::Secret { arn } => {
            let tags: Vec<_> = tags
                .iter()
                .map(|(key, value)| {
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                })
                .collect();
            retry
                .sdk("secretsmanager:TagResource", || {
                    clients
                        .secrets
                        .tag_resource()
                        .secret_id(arn)
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
        }
        Target::IamRole { name } => {
            const OPERATION: &str = "iam:TagRole";
            let tags = tags
                .iter()
                .map(|(key, value)| {
                    aws_sdk_iam::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()
                        .map_err(|error| CallError::invalid(OPERATION, error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            retry
                .sdk(OPERATION, || {
                    clients
                        .iam
                        .tag_role()
                        .role_name(name)
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
        }
        Target::KmsKey { arn } => {
            const OPERATION: &str = "kms:TagResource";
            let tags = tags
                .iter()
                .map(|(key, value)| {
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key(key)
                        .tag_value(value)
                        .build()
                        .map_err(|error| CallError::invalid(OPERATION, error.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            retry
                .sdk(OPERATION, || {
                    clients
                        .kms
                        .tag_resource()
                        .key_id(arn)
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
        }
        Target::AgentCore { arn } => {
            retry
                .sdk("bedrock-agentcore:TagResource", || {
                    clients
                        .agentcore
                        .tag_resource()
                        .resource_arn(arn)
                        .set_tags(Some(hash_map(tags)))
                        .send()
                })
                .await?;
        }
        Target::S3Bucket { .. } => {
            // PutBucketTagging replaces the set: the plan must send ReplaceBucketTags.
            return Err(mismatch(&Action::AddTags { tags: tags.clone() }, target));
        }
    }
    Ok(())
}

async fn encrypt(
    clients: &Clients,
    retry: &RetryPolicy,
    target: &Target,
    change: &EncryptionChange,
) -> Result<(), CallError> {
    match (change, target) {
        (EncryptionChange::SnsTopicKey { key_arn }, Target::SnsTopic { arn }) => {
            retry
                .sdk("sns:SetTopicAttributes", || {
                    clients
                        .sns
                        .set_topic_attributes()
                        .topic_arn(arn)
                        .attribute_name("KmsMasterKeyId")
                        .attribute_value(key_arn)
                        .send()
                })
                .await?;
        }
        (EncryptionChange::SqsQueueKey { key_arn }, Target::SqsQueue { url }) => {
            retry
                .sdk("sqs:SetQueueAttributes", || {
                    clients
                        .sqs
                        .set_queue_attributes()
                        .queue_url(url)
                        .attributes(QueueAttributeName::KmsMasterKeyId, key_arn)
                        .send()
                })
                .await?;
        }
        (EncryptionChange::LogGroupKey { key_arn }, Target::LogGroup { name, .. }) => {
            retry
                .sdk("logs:AssociateKmsKey", || {
                    clients
                        .logs
                        .associate_kms_key()
                        .log_group_name(name)
                        .kms_key_id(key_arn)
                        .send()
                })
                .await?;
        }
        (EncryptionChange::S3BucketDefault { key_arn }, Target::S3Bucket { name }) => {
            const OPERATION: &str = "s3:PutBucketEncryption";
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key_arn)
                .build()
                .map_err(|error| CallError::invalid(OPERATION, error.to_string()))?;
            let configuration = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .bucket_key_enabled(true)
                        .build(),
                )
                .build()
                .map_err(|error| CallError::invalid(OPERATION, error.to_string()))?;
            retry
                .sdk(OPERATION, || {
                    clients
                        .s3
                        .put_bucket_encryption()
                        .bucket(name)
                        .server_side_encryption_configuration(configuration.clone())
                        .send()
                })
                .await?;
        }
        (EncryptionChange::SecretKey { key_arn }, Target::Secret { arn }) => {
            retry
                .sdk("secretsmanager:UpdateSecret", || {
                    clients
                        .secrets
                        .update_secret()
                        .secret_id(arn)
                        .kms_key_id(key_arn)
                        .send()
                })
                .await?;
        }
        (change, target) => {
            return Err(mismatch(&Action::SetEncryption(change.clone()), target));
        }
    }
    Ok(())
}
