//! No data lost when switching to the project CMK (issue 11 items 9 and 10).
//!
//! A queue, topic or bucket on the project CMK can only receive what AWS services deliver
//! if the key policy lets those services' principals use the key: EventBridge rules and S3
//! notifications into a queue, SNS subscriptions into a queue, CloudWatch alarms into a
//! topic, log deliveries into a bucket. CloudWatch Logs itself must be allowed for
//! `AssociateKmsKey` to work at all. So, before a planned switch is made:
//!
//! 1. [`deliveries`] lists the service principals the resource's policy lets deliver
//!    (with the `aws:SourceArn` / `aws:SourceAccount` they are limited to).
//! 2. [`guard_key_switch`] asks [`service_may_use`] for each of them (and for
//!    `logs.<region>.amazonaws.com` on a log group) against the key policy, read once per
//!    invocation. A principal the key policy does not allow for certain stops the switch:
//!    finding `would break delivery from <principal>` with the statement to add.
//!
//! S3 server-access-log and ELB access-log buckets must stay on SSE-S3 (those deliveries
//! do not support SSE-KMS): [`log_delivery_bucket`] recognises them from the bucket policy
//! and ACL, and [`plan`](super::plan()) records them as exceptions, never switched.
//!
//! Limits (documented in docs/reference/remediator.md): a resource policy set after the
//! switch (CloudFormation writes a `QueuePolicy` after the queue) is not seen; a topic needs
//! no policy for same-account CloudWatch alarms, so those cannot be detected from the topic.

use serde_json::{json, Map, Value};

use super::event::ResourceKind;
use super::key_policy::{service_may_use, KeyPolicyAnswer, RequestContext};
use super::plan::{Action, EncryptionChange, Finding, ObservedState, Plan};

/// What a service needs of the key to write to an encrypted queue, topic or bucket.
pub const DELIVERY_KEY_ACTIONS: [&str; 2] = ["kms:GenerateDataKey", "kms:Decrypt"];

/// What CloudWatch Logs' key-policy statement grants (CloudWatch Logs User Guide,
/// "Encrypt log data in CloudWatch Logs using AWS KMS").
pub const LOGS_STATEMENT_ACTIONS: [&str; 5] = [
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
];

/// The S3 log delivery group an ACL grants for server access logs.
const LOG_DELIVERY_GROUP: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Elastic Load Balancing's log-delivery accounts, one per region (regions opened before
/// August 2022; newer ones use `logdelivery.elasticloadbalancing.amazonaws.com`).
const ELB_LOG_ACCOUNTS: [(&str, &str); 24] = [
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
];

/// One AWS service the resource policy lets deliver into the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The service principal, e.g. `events.amazonaws.com`.
    pub principal: String,
    /// `aws:SourceArn` values (patterns) the statement limits it to; `None`: any source.
    pub source_arns: Option<Vec<String>>,
    /// `aws:SourceAccount` values the statement limits it to; `None`: any account.
    pub source_accounts: Option<Vec<String>>,
}

/// The action a service needs on the resource to deliver into it.
fn delivery_action(kind: ResourceKind) -> Option<&'static str> {
    match kind {
        ResourceKind::SqsQueue => Some("sqs:SendMessage"),
        ResourceKind::SnsTopic => Some("sns:Publish"),
        ResourceKind::S3Bucket => Some("s3:PutObject"),
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn statements(policy: &Value) -> Vec<&Value> {
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

/// Values of one condition key (any operator, key compared ignoring case).
fn condition_values(statement: &Value, wanted: &str) -> Option<Vec<String>> {
    let operators = statement.get("Condition")?.as_object()?;
    let mut found: Option<Vec<String>> = None;
    for entries in operators.values() {
        for (key, values) in entries.as_object().into_iter().flatten() {
            if key.eq_ignore_ascii_case(wanted) {
                found.get_or_insert_with(Vec::new).extend(strings(values));
            }
        }
    }
    found
}

/// The service principals that the resource policy of a queue, topic or bucket lets
/// deliver into it (`Allow` statements granting the delivery action). A statement for
/// every principal (`"*"`) that is limited by `aws:SourceArn` is read as that ARN's
/// service (the older form of S3-notification policies).
pub fn deliveries(policy: &Value, kind: ResourceKind) -> Vec<Delivery> {
    let Some(action) = delivery_action(kind) else {
        return Vec::new();
    };
    let mut found: Vec<Delivery> = Vec::new();
    for statement in statements(policy) {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let grants = match (statement.get("Action"), statement.get("NotAction")) {
            (Some(actions), _) => strings(actions)
                .iter()
                .any(|pattern| crate::iam_evaluation::iam_wildcard_match(pattern, action, true)),
            (None, Some(not_actions)) => !strings(not_actions)
                .iter()
                .any(|pattern| crate::iam_evaluation::iam_wildcard_match(pattern, action, true)),
            (None, None) => false,
        };
        if !grants {
            continue;
        }
        let source_arns = condition_values(statement, "aws:SourceArn");
        let source_accounts = condition_values(statement, "aws:SourceAccount");
        let mut principals: Vec<String> = Vec::new();
        match statement.get("Principal") {
            Some(Value::Object(kinds)) => {
                if let Some(services) = kinds.get("Service") {
                    principals.extend(strings(services));
                }
                if kinds
                    .get("AWS")
                    .is_some_and(|aws| strings(aws).iter().any(|p| p == "*"))
                {
                    principals.extend(services_of(source_arns.as_deref()));
                }
            }
            Some(Value::String(star)) if star == "*" => {
                principals.extend(services_of(source_arns.as_deref()));
            }
            _ => {}
        }
        for principal in principals {
            let delivery = Delivery {
                principal: principal.to_ascii_lowercase(),
                source_arns: source_arns.clone(),
                source_accounts: source_accounts.clone(),
            };
            if !found.contains(&delivery) {
                found.push(delivery);
            }
        }
    }
    found
}

/// `arn:aws:s3:::bucket` → `s3.amazonaws.com`, for each distinct service of the ARNs.
fn services_of(source_arns: Option<&[String]>) -> Vec<String> {
    let mut services: Vec<String> = Vec::new();
    for arn in source_arns.unwrap_or_default() {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some(service)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if service.is_empty() || service.contains(['*', '?']) {
            continue;
        }
        let principal = format!("{service}.amazonaws.com");
        if !services.contains(&principal) {
            services.push(principal);
        }
    }
    services
}

/// Why a bucket receives AWS log deliveries that do not support SSE-KMS (S3 server access
/// logs, ELB access logs), if it does: such a bucket stays on SSE-S3.
pub fn log_delivery_bucket(
    policy: Option<&Value>,
    acl_grants_log_delivery: bool,
) -> Option<String> {
    if acl_grants_log_delivery {
        return Some(format!(
            "S3 server access log bucket: its ACL grants the log delivery group {LOG_DELIVERY_GROUP}; \
             server access logs can only be delivered to SSE-S3 buckets"
        ));
    }
    for statement in statements(policy?) {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let Some(Value::Object(kinds)) = statement.get("Principal") else {
            continue;
        };
        for service in kinds.get("Service").map(strings).unwrap_or_default() {
            match service.to_ascii_lowercase().as_str() {
                "logging.s3.amazonaws.com" => {
                    return Some(
                        "S3 server access log bucket: its policy lets logging.s3.amazonaws.com \
                         write; server access logs can only be delivered to SSE-S3 buckets"
                            .to_string(),
                    )
                }
                "logdelivery.elasticloadbalancing.amazonaws.com" => {
                    return Some(
                        "ELB access log bucket: its policy lets \
                         logdelivery.elasticloadbalancing.amazonaws.com write; load balancer \
                         access logs support SSE-S3 only"
                            .to_string(),
                    )
                }
                _ => {}
            }
        }
        for principal in kinds.get("AWS").map(strings).unwrap_or_default() {
            let account = principal
                .strip_prefix("arn:")
                .and_then(|rest| rest.split(':').nth(3))
                .unwrap_or(principal.as_str());
            if let Some((region, _)) = ELB_LOG_ACCOUNTS.iter().find(|(_, id)| *id == account) {
                return Some(format!(
                    "ELB access log bucket: its policy lets the Elastic Load Balancing account \
                     {account} ({region}) write; load balancer access logs support SSE-S3 only"
                ));
            }
        }
    }
    None
}

/// The key policy as read for this invocation, or why it could not be read.
pub type KeyPolicyRead<'a> = Result<&'a Value, &'a str>;

/// True when the planned switch to the CMK needs the key policy before it can be made:
/// a log group (CloudWatch Logs must be allowed), or a queue, topic or bucket whose policy
/// lets an AWS service deliver. Otherwise the key policy is not read at all.
pub fn needs_key_policy(plan: &Plan, kind: ResourceKind, observed: &ObservedState) -> bool {
    let Some(change) = planned_change(plan) else {
        return false;
    };
    match change {
        EncryptionChange::LogGroupKey { .. } => true,
        EncryptionChange::SnsTopicKey { .. }
        | EncryptionChange::SqsQueueKey { .. }
        | EncryptionChange::S3BucketDefault { .. } => observed
            .resource_policy
            .as_ref()
            .is_some_and(|policy| !policy.is_object() || !deliveries(policy, kind).is_empty()),
        EncryptionChange::SecretKey { .. } => false,
    }
}

fn planned_change(plan: &Plan) -> Option<&EncryptionChange> {
    plan.actions.iter().find_map(|action| match action {
        Action::SetEncryption(change) => Some(change),
        _ => None,
    })
}

/// Drops the planned switch to the CMK, with findings, when it would break a delivery
/// (or Logs' use of the key), or when that cannot be verified. Call it when
/// [`needs_key_policy`] is true; `key_policy` is read once per invocation.
pub fn guard_key_switch(
    plan: &mut Plan,
    kind: ResourceKind,
    observed: &ObservedState,
    key_policy: KeyPolicyRead<'_>,
) {
    let Some(change) = planned_change(plan).cloned() else {
        return;
    };
    let findings = match (&change, key_policy) {
        (_, Err(error)) => vec![Finding::KeySwitchUnverified {
            reason: format!("the project key's policy could not be read ({error})"),
        }],
        (EncryptionChange::LogGroupKey { key_arn }, Ok(policy)) => {
            logs_findings(policy, key_arn, observed)
        }
        (
            EncryptionChange::SnsTopicKey { key_arn }
            | EncryptionChange::SqsQueueKey { key_arn }
            | EncryptionChange::S3BucketDefault { key_arn },
            Ok(policy),
        ) => delivery_findings(policy, key_arn, kind, observed),
        (EncryptionChange::SecretKey { .. }, Ok(_)) => Vec::new(),
    };
    if findings.is_empty() {
        return;
    }
    plan.actions
        .retain(|action| !matches!(action, Action::SetEncryption(_)));
    plan.findings.extend(findings);
}

/// `arn:<partition>:kms:<region>:<account>:key/…` → (partition, region, account).
fn key_location(key_arn: &str) -> (String, String, String) {
    let parts: Vec<&str> = key_arn.splitn(6, ':').collect();
    let part = |index: usize| parts.get(index).copied().unwrap_or_default().to_string();
    (part(1), part(3), part(4))
}

fn logs_findings(policy: &Value, key_arn: &str, observed: &ObservedState) -> Vec<Finding> {
    let (_, region, _) = key_location(key_arn);
    let principal = format!("logs.{region}.amazonaws.com");
    let Some(group_arn) = observed.resource_arn.as_deref() else {
        return vec![Finding::KeySwitchUnverified {
            reason: "the log group's ARN was not read".to_string(),
        }];
    };
    let context = RequestContext::new()
        .with("kms:EncryptionContext:aws:logs:arn", [group_arn])
        .with("aws:PrincipalServiceName", [principal.as_str()])
        .without("kms:ViaService");
    match service_may_use(policy, key_arn, &principal, &DELIVERY_KEY_ACTIONS, &context) {
        KeyPolicyAnswer::Allowed => Vec::new(),
        answer => vec![Finding::LogsNotAllowedByKeyPolicy {
            principal: principal.clone(),
            why: why(&answer),
            statement: json!({
                "Sid": "AllowCloudWatchLogsToUseKey",
                "Effect": "Allow",
                "Principal": {"Service": principal},
                "Action": LOGS_STATEMENT_ACTIONS,
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
            }),
        }],
    }
}

fn delivery_findings(
    policy: &Value,
    key_arn: &str,
    kind: ResourceKind,
    observed: &ObservedState,
) -> Vec<Finding> {
    let Some(resource_policy) = observed.resource_policy.as_ref() else {
        return Vec::new();
    };
    if !resource_policy.is_object() {
        return vec![Finding::KeySwitchUnverified {
            reason: "the resource policy is not a JSON policy document".to_string(),
        }];
    }
    let Some(resource_arn) = observed.resource_arn.as_deref() else {
        return vec![Finding::KeySwitchUnverified {
            reason: "the resource's ARN was not read".to_string(),
        }];
    };
    let context_key = match kind {
        ResourceKind::SqsQueue => "kms:EncryptionContext:aws:sqs:arn",
        ResourceKind::SnsTopic => "kms:EncryptionContext:aws:sns:topicArn",
        _ => "kms:EncryptionContext:aws:s3:arn",
    };
    let mut findings = Vec::new();
    for delivery in deliveries(resource_policy, kind) {
        let accounts = delivery
            .source_accounts
            .clone()
            .or_else(|| accounts_of(delivery.source_arns.as_deref()));
        let mut context = RequestContext::new()
            .with(context_key, [resource_arn])
            .with("aws:PrincipalServiceName", [delivery.principal.as_str()])
            .without("kms:ViaService");
        if let Some(arns) = &delivery.source_arns {
            context = context.with("aws:SourceArn", arns.clone());
        }
        if let Some(accounts) = &accounts {
            context = context.with("aws:SourceAccount", accounts.clone());
        }
        let answer = service_may_use(
            policy,
            key_arn,
            &delivery.principal,
            &DELIVERY_KEY_ACTIONS,
            &context,
        );
        if answer == KeyPolicyAnswer::Allowed {
            continue;
        }
        let mut arn_like = Map::new();
        arn_like.insert(context_key.to_string(), json!(resource_arn));
        if let Some(arns) = &delivery.source_arns {
            arn_like.insert("aws:SourceArn".to_string(), json!(arns));
        }
        let mut condition = Map::new();
        condition.insert("ArnLike".to_string(), Value::Object(arn_like));
        if let Some(accounts) = &accounts {
            condition.insert(
                "StringEquals".to_string(),
                json!({"aws:SourceAccount": accounts}),
            );
        }
        findings.push(Finding::WouldBreakDelivery {
            principal: delivery.principal.clone(),
            why: why(&answer),
            statement: json!({
                "Sid": format!("Allow{}ToUseKey", camel(&delivery.principal)),
                "Effect": "Allow",
                "Principal": {"Service": delivery.principal},
                "Action": DELIVERY_KEY_ACTIONS,
                "Resource": "*",
                "Condition": condition,
            }),
        });
    }
    findings
}

/// The accounts of literal source ARNs (`None` when any is a pattern there or missing).
fn accounts_of(source_arns: Option<&[String]>) -> Option<Vec<String>> {
    let mut accounts = Vec::new();
    for arn in source_arns? {
        let account = arn.split(':').nth(4)?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !accounts.iter().any(|known| known == account) {
            accounts.push(account.to_string());
        }
    }
    (!accounts.is_empty()).then_some(accounts)
}

fn why(answer: &KeyPolicyAnswer) -> String {
    match answer {
        KeyPolicyAnswer::Allowed => "allowed".to_string(),
        KeyPolicyAnswer::Denied { statement } => {
            format!("denied by key-policy statement {statement}")
        }
        KeyPolicyAnswer::NotAllowed { actions } => {
            format!("the key policy does not allow it {}", actions.join(" and "))
        }
    }
}

/// `events.amazonaws.com` → `Events`, `logging.s3.amazonaws.com` → `LoggingS3`.
fn camel(principal: &str) -> String {
    principal
        .trim_end_matches(".amazonaws.com")
        .split(['.', '-'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::plan::EncryptionState;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:corebound-demo-jobs";
    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/corebound-demo-nightly";
    const TOPIC: &str = "arn:aws:sns:us-east-1:210987654321:payments-events";

    fn root_only() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "Root", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]})
    }

    fn with_statement(mut policy: Value, statement: Value) -> Value {
        policy["Statement"].as_array_mut().unwrap().push(statement);
        policy
    }

    fn queue_policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
             "Action": "sqs:SendMessage", "Resource": QUEUE,
             "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}},
            {"Sid": "Topic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
             "Action": ["sqs:SendMessage"], "Resource": QUEUE,
             "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}}},
            {"Sid": "Team", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"},
             "Action": "sqs:*", "Resource": QUEUE},
            {"Sid": "Receive", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
             "Action": "sqs:ReceiveMessage", "Resource": QUEUE}
        ]})
    }

    fn queue_plan() -> Plan {
        Plan {
            actions: vec![
                Action::AddTags {
                    tags: Default::default(),
                },
                Action::SetEncryption(EncryptionChange::SqsQueueKey {
                    key_arn: KEY.to_string(),
                }),
            ],
            ..Plan::default()
        }
    }

    fn queue_state(policy: Option<Value>) -> ObservedState {
        ObservedState {
            encryption: EncryptionState::SqsQueue {
                kms_master_key_id: None,
                sqs_managed_sse_enabled: true,
            },
            resource_arn: Some(QUEUE.to_string()),
            resource_policy: policy,
            ..ObservedState::default()
        }
    }

    #[test]
    fn deliveries_are_the_service_principals_allowed_to_write() {
        let found = deliveries(&queue_policy(), ResourceKind::SqsQueue);
        assert_eq!(
            found,
            [
                Delivery {
                    principal: "events.amazonaws.com".into(),
                    source_arns: Some(vec![RULE.into()]),
                    source_accounts: None,
                },
                Delivery {
                    principal: "sns.amazonaws.com".into(),
                    source_arns: Some(vec![TOPIC.into()]),
                    source_accounts: None,
                },
            ]
        );
        // The older S3-notification form: every principal, limited to a bucket.
        let legacy = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "SNS:Publish",
            "Resource": "arn:aws:sns:us-east-1:123456789012:t",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::corebound-demo-data"}}}});
        assert_eq!(
            deliveries(&legacy, ResourceKind::SnsTopic)[0].principal,
            "s3.amazonaws.com"
        );
        // The default topic policy (account principals only) has no delivering service.
        let default_topic = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["SNS:Publish", "SNS:Subscribe"], "Resource": "arn:aws:sns:us-east-1:123456789012:t",
            "Condition": {"StringEquals": {"AWS:SourceOwner": "123456789012"}}}]});
        assert!(deliveries(&default_topic, ResourceKind::SnsTopic).is_empty());
    }

    #[test]
    fn a_switch_that_would_break_delivery_is_dropped_with_a_finding_per_principal() {
        let observed = queue_state(Some(queue_policy()));
        let mut plan = queue_plan();
        assert!(needs_key_policy(&plan, ResourceKind::SqsQueue, &observed));
        let key_policy = root_only();
        guard_key_switch(
            &mut plan,
            ResourceKind::SqsQueue,
            &observed,
            Ok(&key_policy),
        );
        assert_eq!(
            plan.actions.len(),
            1,
            "tags stay, the switch goes: {plan:?}"
        );
        let principals: Vec<String> = plan
            .findings
            .iter()
            .map(|finding| match finding {
                Finding::WouldBreakDelivery { principal, .. } => principal.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(principals, ["events.amazonaws.com", "sns.amazonaws.com"]);
        let text = plan.findings[0].to_string();
        assert!(
            text.starts_with("would break delivery from events.amazonaws.com"),
            "{text}"
        );
        assert!(text.contains("AllowEventsToUseKey"), "{text}");

        // With the statements the findings name, the same switch goes ahead.
        let mut fixed = root_only();
        for finding in &plan.findings {
            let Finding::WouldBreakDelivery { statement, .. } = finding else {
                unreachable!()
            };
            fixed = with_statement(fixed, statement.clone());
        }
        let mut again = queue_plan();
        guard_key_switch(&mut again, ResourceKind::SqsQueue, &observed, Ok(&fixed));
        assert_eq!(again, queue_plan());
    }

    #[test]
    fn no_delivering_service_means_no_key_policy_read() {
        let plan = queue_plan();
        for policy in [None, Some(json!({"Statement": []}))] {
            assert!(!needs_key_policy(
                &plan,
                ResourceKind::SqsQueue,
                &queue_state(policy)
            ));
        }
        let secret = Plan {
            actions: vec![Action::SetEncryption(EncryptionChange::SecretKey {
                key_arn: KEY.into(),
            })],
            ..Plan::default()
        };
        assert!(!needs_key_policy(
            &secret,
            ResourceKind::Secret,
            &ObservedState::default()
        ));
    }

    #[test]
    fn an_unreadable_key_policy_stops_the_switch() {
        let observed = queue_state(Some(queue_policy()));
        let mut plan = queue_plan();
        guard_key_switch(
            &mut plan,
            ResourceKind::SqsQueue,
            &observed,
            Err("kms:GetKeyPolicy failed: AccessDeniedException"),
        );
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(
            plan.findings,
            [Finding::KeySwitchUnverified {
                reason: "the project key's policy could not be read \
                         (kms:GetKeyPolicy failed: AccessDeniedException)"
                    .into()
            }]
        );
    }

    #[test]
    fn logs_must_be_allowed_by_the_key_policy() {
        let group = "arn:aws:logs:us-east-1:123456789012:log-group:corebound-demo-agent-logs";
        let observed = ObservedState {
            encryption: EncryptionState::LogGroup { kms_key_id: None },
            resource_arn: Some(group.to_string()),
            ..ObservedState::default()
        };
        let plan = || Plan {
            actions: vec![Action::SetEncryption(EncryptionChange::LogGroupKey {
                key_arn: KEY.to_string(),
            })],
            ..Plan::default()
        };
        assert!(needs_key_policy(&plan(), ResourceKind::LogGroup, &observed));
        let mut blocked = plan();
        let key_policy = root_only();
        guard_key_switch(
            &mut blocked,
            ResourceKind::LogGroup,
            &observed,
            Ok(&key_policy),
        );
        assert!(blocked.actions.is_empty());
        let [Finding::LogsNotAllowedByKeyPolicy {
            principal,
            statement,
            ..
        }] = blocked.findings.as_slice()
        else {
            panic!("{blocked:?}");
        };
        assert_eq!(principal, "logs.us-east-1.amazonaws.com");
        assert!(blocked.findings[0]
            .to_string()
            .contains("AllowCloudWatchLogsToUseKey"));

        // The template's family statement (ArnLike on the log-group ARN) is enough.
        let template = with_statement(
            root_only(),
            json!({"Sid": "LogsForScopeFamily", "Effect": "Allow",
                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                           "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"},
                    "StringLike": {"kms:EncryptionContext:aws:logs:arn": ["arn:*:logs:*:*:log-group:corebound-demo-*"]}}}),
        );
        let mut allowed = plan();
        guard_key_switch(
            &mut allowed,
            ResourceKind::LogGroup,
            &observed,
            Ok(&template),
        );
        assert_eq!(allowed, plan());
        // The suggested statement is enough too.
        let suggested = with_statement(root_only(), statement.clone());
        let mut allowed = plan();
        guard_key_switch(
            &mut allowed,
            ResourceKind::LogGroup,
            &observed,
            Ok(&suggested),
        );
        assert_eq!(allowed, plan());
    }

    #[test]
    fn log_delivery_buckets_are_recognised() {
        let policy = |principal: Value| {
            json!({"Statement": [{"Effect": "Allow", "Principal": principal,
                "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs/*"}]})
        };
        let cases = [
            (None, true, Some("S3 server access log bucket")),
            (
                Some(policy(json!({"Service": "logging.s3.amazonaws.com"}))),
                false,
                Some("S3 server access log bucket"),
            ),
            (
                Some(policy(
                    json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
                )),
                false,
                Some("ELB access log bucket"),
            ),
            (
                Some(policy(json!({"AWS": "arn:aws:iam::156460612806:root"}))),
                false,
                Some("ELB access log bucket"),
            ),
            (
                Some(policy(json!({"Service": "cloudtrail.amazonaws.com"}))),
                false,
                None,
            ),
            (None, false, None),
        ];
        for (policy, acl, expected) in cases {
            let reason = log_delivery_bucket(policy.as_ref(), acl);
            match expected {
                Some(prefix) => assert!(
                    reason.as_deref().is_some_and(|r| r.starts_with(prefix)),
                    "{policy:?}: {reason:?}"
                ),
                None => assert_eq!(reason, None, "{policy:?}"),
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(camel("events.amazonaws.com"), "Events");
        assert_eq!(camel("logging.s3.amazonaws.com"), "LoggingS3");
        assert_eq!(
            accounts_of(Some(&[RULE.to_string(), TOPIC.to_string()][..])),
            Some(vec!["123456789012".into(), "210987654321".into()])
        );
        assert_eq!(
            accounts_of(Some(&["arn:aws:events:*:*:rule/x".to_string()][..])),
            None
        );
    }
}
