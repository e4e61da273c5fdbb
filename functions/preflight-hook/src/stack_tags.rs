//! Stack tags, which hook requests do not carry (contract §5): read with
//! `cloudformation:DescribeStacks` on the function's own role, and kept for a short while
//! per stack in this execution environment, since a stack operation invokes the hook once
//! per resource in a burst.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use corebound::aws::AwsFailure;
use tokio::time::Instant;

use crate::error::HookError;

/// How long a stack's tags are reused. Long enough for one stack operation's burst of
/// resource invocations, short enough that a later update with new stack tags is seen.
const CACHE_FOR: Duration = Duration::from_secs(60);
/// At most this many stacks are remembered (one execution environment serves one region).
const CACHE_STACKS: usize = 256;

pub type Tags = BTreeMap<String, String>;

pub struct StackTags {
    client: aws_sdk_cloudformation::Client,
    cache: Mutex<HashMap<String, (Instant, Tags)>>,
}

impl StackTags {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        StackTags {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tags of `stack_id`, which must be a stack ARN of `account`: the function reads
    /// only stacks of the account the request is about.
    pub async fn get(&self, stack_id: &str, account: &str) -> Result<Tags, HookError> {
        check_stack_arn(stack_id, account)?;
        if let Some(tags) = self.cached(stack_id) {
            return Ok(tags);
        }
        let answer = self
            .client
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|error| {
                let failure = AwsFailure::from_sdk(&error);
                HookError::DescribeStacks {
                    transient: failure.is_retryable(),
                    denied: failure.is_access_denied(),
                    detail: failure.summary(),
                }
            })?;
        let stack = answer
            .stacks()
            .iter()
            .find(|s| s.stack_id() == Some(stack_id))
            .or_else(|| answer.stacks().first())
            .ok_or_else(|| HookError::DescribeStacks {
                transient: false,
                denied: false,
                detail: "DescribeStacks returned no stack".to_string(),
            })?;
        let tags: Tags = stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect();
        self.remember(stack_id, &tags);
        Ok(tags)
    }

    fn cached(&self, stack_id: &str) -> Option<Tags> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(stack_id)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, tags)| tags.clone())
    }

    fn remember(&self, stack_id: &str, tags: &Tags) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_STACKS {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
            if cache.len() >= CACHE_STACKS {
                cache.clear();
            }
        }
        cache.insert(stack_id.to_string(), (Instant::now(), tags.clone()));
    }
}

/// `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>` with the
/// request's account.
fn check_stack_arn(stack_id: &str, account: &str) -> Result<(), HookError> {
    let parts: Vec<&str> = stack_id.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "cloudformation"
        && !parts[3].is_empty()
        && parts[5].starts_with("stack/")
        && parts[5].split('/').count() == 3;
    if !valid {
        return Err(HookError::Request(
            "stackId is not a CloudFormation stack ARN".to_string(),
        ));
    }
    if parts[4] != account {
        return Err(HookError::Request(format!(
            "stackId names account {} but awsAccountId is {account}",
            parts[4]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stack_arns_of_the_request_account_are_read() {
        let ok = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1a2b";
        assert!(check_stack_arn(ok, "123456789012").is_ok());
        let other = check_stack_arn(ok, "210987654321").unwrap_err().to_string();
        assert!(other.contains("210987654321"), "{other}");
        for bad in [
            "app",
            "arn:aws:s3:::bucket",
            "arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/y",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/app",
        ] {
            assert!(check_stack_arn(bad, "123456789012").is_err(), "{bad}");
        }
    }
}
