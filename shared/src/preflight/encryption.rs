//! Patterns 8 and 4: a customer-managed key on every encrypted resource, and, for a key
//! defined in the same template, a key-policy statement for each service that uses it.
//!
//! A key reference is judged with the remediator's own classification
//! ([`classify_key`](crate::remediation::classify_key)): `alias/aws/*` (or its ARN) is an
//! AWS-managed key; with `KMS_KEY_ARN` set, a key ARN other than the project key is
//! reported as well (the remediator reports those too and never replaces them). A `Ref` /
//! `Fn::GetAtt` to an `AWS::KMS::Key` (or to an `AWS::KMS::Alias` of one) of this template
//! is a customer-managed key defined here.
//!
//! Key policy (pattern 4): for each service using the key, an `Allow` statement for that
//! service — its service principal, a `kms:ViaService` condition naming it, or a condition
//! on its encryption-context key — that covers `kms:GenerateDataKey` or `kms:Decrypt` and is
//! scoped by `aws:SourceAccount` and `aws:SourceArn`, or by an encryption context
//! (`kms:EncryptionContext:*`), or (`kms:ViaService` statements) by `kms:CallerAccount`.
//! The rule looks at the statement's shape, not at the values of its conditions, which
//! usually hold pseudo parameters.

use serde_json::Value;

use super::{Certainty, Finding, PreflightSettings, Subject};
use crate::iam_evaluation::iam_wildcard_match;
use crate::remediation::{classify_key, KeyClass};
use crate::scope::glob_match;
use crate::template::Resolved;

/// A service that encrypts with a KMS key, as the key policy must name it.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    /// Service principal patterns (`logs.*.amazonaws.com`: the regional Logs principal).
    pub principals: &'static [&'static str],
    /// `kms:ViaService` pattern of calls the service makes with the caller's credentials.
    pub via_service: &'static str,
    /// Condition-key prefix of the service's encryption context.
    pub context_key: &'static str,
}

const SNS: Service = Service {
    name: "SNS",
    principals: &["sns.amazonaws.com"],
    via_service: "sns.*.amazonaws.com",
    context_key: "kms:encryptioncontext:aws:sns:",
};
const SQS: Service = Service {
    name: "SQS",
    principals: &["sqs.amazonaws.com"],
    via_service: "sqs.*.amazonaws.com",
    context_key: "kms:encryptioncontext:aws:sqs:",
};
const LOGS: Service = Service {
    name: "CloudWatch Logs",
    principals: &["logs.*.amazonaws.com", "logs.amazonaws.com"],
    via_service: "logs.*.amazonaws.com",
    context_key: "kms:encryptioncontext:aws:logs:",
};
const S3: Service = Service {
    name: "S3",
    principals: &["s3.amazonaws.com"],
    via_service: "s3.*.amazonaws.com",
    context_key: "kms:encryptioncontext:aws:s3:",
};
const SECRETS: Service = Service {
    name: "Secrets Manager",
    principals: &["secretsmanager.amazonaws.com"],
    via_service: "secretsmanager.*.amazonaws.com",
    context_key: "kms:encryptioncontext:secretarn",
};
const AGENTCORE: Service = Service {
    name: "Bedrock AgentCore",
    principals: &["bedrock-agentcore.amazonaws.com"],
    via_service: "bedrock-agentcore.*.amazonaws.com",
    context_key: "kms:encryptioncontext:aws:bedrock-agentcore",
};

/// Where each encrypted resource type names its key.
static ENCRYPTED: [(&str, &str, &Service); 8] = [
    ("AWS::SNS::Topic", "KmsMasterKeyId", &SNS),
    ("AWS::SQS::Queue", "KmsMasterKeyId", &SQS),
    ("AWS::Logs::LogGroup", "KmsKeyId", &LOGS),
    ("AWS::S3::Bucket", "BucketEncryption", &S3),
    ("AWS::SecretsManager::Secret", "KmsKeyId", &SECRETS),
    (
        "AWS::BedrockAgentCore::Memory",
        "EncryptionKeyArn",
        &AGENTCORE,
    ),
    ("AWS::BedrockAgentCore::Gateway", "KmsKeyArn", &AGENTCORE),
    ("AWS::BedrockAgentCore::Evaluator", "KmsKeyArn", &AGENTCORE),
];

pub const RESOURCE_TYPES: [&str; 9] = [
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::BedrockAgentCore::Memory",
    "AWS::BedrockAgentCore::Gateway",
    "AWS::BedrockAgentCore::Evaluator",
    "AWS::KMS::Key",
];

pub(crate) fn check(subject: &Subject<'_>, settings: &PreflightSettings) -> Vec<Finding> {
    if subject.resource_type == "AWS::KMS::Key" {
        return check_key_policy(subject);
    }
    let Some((_, property, _)) = ENCRYPTED
        .iter()
        .find(|(resource_type, ..)| *resource_type == subject.resource_type)
    else {
        return Vec::new();
    };
    let reference = if subject.resource_type == "AWS::S3::Bucket" {
        match bucket_key(subject) {
            Ok(reference) => reference,
            Err(finding) => return vec![*finding],
        }
    } else {
        let reference = subject.resolved(property);
        if reference.is_none() && subject.resource_type == "AWS::SQS::Queue" {
            return vec![subject.finding(
                "customer-managed-key",
                None,
                Certainty::Violation,
                "no KmsMasterKeyId: the queue is unencrypted or on SQS-managed encryption (SSE-SQS), not a customer-managed key",
                fix(settings, "KmsMasterKeyId"),
            )];
        }
        reference.map(|resolved| (property.to_string(), resolved))
    };
    match reference {
        None => vec![subject.finding(
            "customer-managed-key",
            None,
            Certainty::Violation,
            format!("no {property}: the resource is not encrypted with a customer-managed key"),
            fix(settings, property),
        )],
        Some((path, resolved)) => judge_key(subject, &path, resolved, settings)
            .into_iter()
            .collect(),
    }
}

fn fix(settings: &PreflightSettings, property: &str) -> String {
    match &settings.kms_key_arn {
        Some(arn) => format!("set {property}: {arn} (the project CMK)"),
        None => format!(
            "set {property} to the project customer-managed key (its ARN, or !GetAtt <Key>.Arn of a key in this template)"
        ),
    }
}

/// The S3 bucket's default-encryption key: `Ok(None)` when there is none,
/// `Err(finding)` when the configuration is not `aws:kms` with a key.
#[allow(clippy::type_complexity)]
fn bucket_key(subject: &Subject<'_>) -> Result<Option<(String, Resolved)>, Box<Finding>> {
    const FIX: &str = "set BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault to {SSEAlgorithm: aws:kms, KMSMasterKeyID: <project CMK ARN>} (and BucketKeyEnabled: true)";
    let template = subject.template;
    let known = |value: Option<&Value>| match value.map(|value| template.resolve(value)) {
        Some(Resolved::Known(value)) if !value.is_null() => Ok(Some(value)),
        None | Some(Resolved::NoValue) | Some(Resolved::Known(_)) => Ok(None),
        Some(Resolved::Unknown(reason)) => Err(reason),
        Some(other) => Err(format!("{other:?}")),
    };
    let cannot_tell = |reason: String| {
        Box::new(subject.finding(
            "customer-managed-key",
            Some("BucketEncryption"),
            Certainty::CannotTell,
            format!("BucketEncryption is {reason}; cannot tell which key encrypts the bucket"),
            FIX,
        ))
    };
    let Some(encryption) = known(subject.property("BucketEncryption")).map_err(cannot_tell)? else {
        return Err(Box::new(subject.finding(
            "customer-managed-key",
            None,
            Certainty::Violation,
            "no BucketEncryption: the bucket uses SSE-S3 (Amazon S3 managed keys), not a customer-managed key",
            FIX,
        )));
    };
    let rules = known(encryption.get("ServerSideEncryptionConfiguration")).map_err(cannot_tell)?;
    let first = match rules {
        Some(Value::Array(rules)) => rules.first().cloned(),
        _ => None,
    };
    let default = match first {
        Some(rule) => known(rule.get("ServerSideEncryptionByDefault")).map_err(cannot_tell)?,
        None => None,
    };
    let Some(default) = default else {
        return Err(Box::new(subject.finding(
            "customer-managed-key",
            Some("BucketEncryption"),
            Certainty::Violation,
            "BucketEncryption has no ServerSideEncryptionByDefault rule",
            FIX,
        )));
    };
    let algorithm = known(default.get("SSEAlgorithm")).map_err(cannot_tell)?;
    match algorithm.as_ref().and_then(Value::as_str) {
        Some("aws:kms" | "aws:kms:dsse") => {}
        other => {
            return Err(Box::new(subject.finding(
                "customer-managed-key",
                Some("BucketEncryption"),
                Certainty::Violation,
                format!(
                    "SSEAlgorithm is {}: not a customer-managed KMS key",
                    other.unwrap_or("absent")
                ),
                FIX,
            )))
        }
    }
    let key = default
        .get("KMSMasterKeyID")
        .map(|value| template.resolve(value))
        .filter(|resolved| !matches!(resolved, Resolved::NoValue | Resolved::Known(Value::Null)));
    match key {
        None => Err(Box::new(subject.finding(
            "customer-managed-key",
            Some("BucketEncryption"),
            Certainty::Violation,
            "aws:kms without KMSMasterKeyID: S3 uses the AWS-managed key aws/s3",
            FIX,
        ))),
        Some(resolved) => Ok(Some(("BucketEncryption".to_string(), resolved))),
    }
}

/// One key reference (`property` names it in the finding).
fn judge_key(
    subject: &Subject<'_>,
    property: &str,
    reference: Resolved,
    settings: &PreflightSettings,
) -> Option<Finding> {
    let finding = |certainty, message: String| {
        Some(subject.finding(
            "customer-managed-key",
            Some(property),
            certainty,
            message,
            fix(settings, property),
        ))
    };
    match reference {
        Resolved::Known(Value::String(key)) if key.trim().is_empty() => finding(
            Certainty::Violation,
            format!("{property} is empty: no customer-managed key"),
        ),
        Resolved::Known(Value::String(key)) => {
            let project = settings.kms_key_arn.as_deref().unwrap_or_default();
            match classify_key(&key, project, &[]) {
                KeyClass::ProjectCmk => None,
                KeyClass::AwsManaged => finding(
                    Certainty::Violation,
                    format!("{property} is {key}, an AWS-managed key, not a customer-managed key"),
                ),
                KeyClass::Other if settings.kms_key_arn.is_none() => None,
                // Another key ARN is certainly not the project key; an alias or a bare id
                // may still name it (that needs KMS to tell).
                KeyClass::Other if key.contains(":key/") => finding(
                    Certainty::Violation,
                    format!("{property} is {key}, not the project CMK {project}"),
                ),
                KeyClass::Other => finding(
                    Certainty::CannotTell,
                    format!("{property} is {key}; cannot tell without KMS whether it is the project CMK {project}"),
                ),
            }
        }
        Resolved::Partial(pattern) => {
            if pattern.contains("alias/aws/") {
                finding(
                    Certainty::Violation,
                    format!("{property} is {pattern}, an AWS-managed key, not a customer-managed key"),
                )
            } else if settings
                .kms_key_arn
                .as_deref()
                .is_none_or(|project| glob_match(&pattern, project))
            {
                None
            } else {
                finding(
                    Certainty::CannotTell,
                    format!("{property} is {pattern}; cannot tell whether it is the project CMK"),
                )
            }
        }
        Resolved::Resource { logical_id, .. } => match local_key(subject, &logical_id) {
            Some(_) => None,
            None => finding(
                Certainty::Violation,
                format!("{property} refers to {logical_id}, which is not an AWS::KMS::Key or AWS::KMS::Alias of this template"),
            ),
        },
        Resolved::Unknown(reason) => finding(
            Certainty::CannotTell,
            format!("{property} is {reason}; cannot tell whether it is a customer-managed key"),
        ),
        Resolved::NoValue | Resolved::Known(_) => finding(
            Certainty::Violation,
            format!("{property} is not a key reference"),
        ),
    }
}

/// The `AWS::KMS::Key` a reference to `logical_id` stands for (a key, or an alias of one).
fn local_key(subject: &Subject<'_>, logical_id: &str) -> Option<String> {
    let resource = subject.template.resource(logical_id)?;
    match resource.resource_type.as_str() {
        "AWS::KMS::Key" => Some(logical_id.to_string()),
        "AWS::KMS::Alias" => match resource
            .properties
            .get("TargetKeyId")
            .map(|value| subject.template.resolve(value))
        {
            Some(Resolved::Resource { logical_id, .. }) => subject
                .template
                .resource(&logical_id)
                .filter(|key| key.resource_type == "AWS::KMS::Key")
                .map(|_| logical_id),
            _ => None,
        },
        _ => None,
    }
}

/// The services of this template that encrypt with `key` (a logical id).
fn services_using(subject: &Subject<'_>, key: &str) -> Vec<(&'static Service, String)> {
    let template = subject.template;
    let mut users = Vec::new();
    for resource in template.resources() {
        if template.is_created(resource) == Some(false) {
            continue;
        }
        let Some((_, property, service)) = ENCRYPTED
            .iter()
            .find(|(resource_type, ..)| *resource_type == resource.resource_type)
        else {
            continue;
        };
        let user = Subject {
            logical_id: &resource.logical_id,
            resource_type: &resource.resource_type,
            properties: &resource.properties,
            template,
            whole_template: true,
            stack_tags: subject.stack_tags,
        };
        let reference = if resource.resource_type == "AWS::S3::Bucket" {
            bucket_key(&user)
                .ok()
                .flatten()
                .map(|(_, resolved)| resolved)
        } else {
            user.resolved(property)
        };
        if let Some(Resolved::Resource { logical_id, .. }) = reference {
            if local_key(&user, &logical_id).as_deref() == Some(key) {
                users.push((*service, resource.logical_id.clone()));
            }
        }
    }
    users
}

fn check_key_policy(subject: &Subject<'_>) -> Vec<Finding> {
    if !subject.whole_template {
        // The hook sees one resource: which services will use the key is not known here.
        return Vec::new();
    }
    let users = services_using(subject, subject.logical_id);
    if users.is_empty() {
        return Vec::new();
    }
    let statements = match key_policy_statements(subject) {
        Ok(statements) => statements,
        Err(reason) => {
            return vec![subject.finding(
                "key-policy-service",
                Some("KeyPolicy"),
                Certainty::CannotTell,
                format!("KeyPolicy is {reason}; cannot tell whether it lets the services that use the key ({}) use it", names(&users)),
                "write the KeyPolicy in the template with one statement per service",
            )]
        }
    };
    let mut findings = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (service, user) in &users {
        if seen.contains(&service.name) {
            continue;
        }
        seen.push(service.name);
        let for_service: Vec<&Statement> = statements
            .iter()
            .filter(|statement| statement.is_for(service))
            .collect();
        let used_by: Vec<&str> = users
            .iter()
            .filter(|(other, _)| other.name == service.name)
            .map(|(_, id)| id.as_str())
            .collect();
        let statement_fix = format!(
            "add a key-policy statement: Effect Allow, Principal {{Service: {}}}, Action [kms:GenerateDataKey, kms:Decrypt, kms:DescribeKey], Resource '*', Condition {{StringEquals: {{aws:SourceAccount: !Ref AWS::AccountId}}, ArnLike: {{aws:SourceArn: <the ARNs of {}>}}}} (or a kms:EncryptionContext condition)",
            service.principals[0].replace('*', "${AWS::Region}"),
            used_by.join(", ")
        );
        if for_service.is_empty() {
            findings.push(subject.finding(
                "key-policy-service",
                Some("KeyPolicy"),
                Certainty::Violation,
                format!(
                    "no key-policy statement lets {} use this key, which {} encrypts with: creating it succeeds, every later use fails with a KMS access error",
                    service.name, user
                ),
                statement_fix,
            ));
        } else if !for_service.iter().any(|statement| statement.scoped) {
            findings.push(subject.finding(
                "key-policy-service",
                Some("KeyPolicy"),
                Certainty::Violation,
                format!(
                    "the key-policy statement for {} ({}) is not scoped by aws:SourceAccount and aws:SourceArn or an encryption context (confused deputy)",
                    service.name,
                    for_service.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join(", ")
                ),
                statement_fix,
            ));
        }
    }
    findings
}

fn names(users: &[(&Service, String)]) -> String {
    let mut names: Vec<&str> = users.iter().map(|(service, _)| service.name).collect();
    names.dedup();
    names.join(", ")
}

/// What the rule needs of one `Allow` statement.
struct Statement {
    label: String,
    /// Service principals (resolved strings, `*` for parts known only at deployment).
    principals: Vec<String>,
    /// `kms:ViaService` values.
    via_services: Vec<String>,
    /// Condition keys, lower case.
    condition_keys: Vec<String>,
    /// Covers `kms:GenerateDataKey` or `kms:Decrypt`.
    uses_key: bool,
    scoped: bool,
}

impl Statement {
    fn is_for(&self, service: &Service) -> bool {
        self.uses_key
            && (self.principals.iter().any(|principal| {
                service
                    .principals
                    .iter()
                    .any(|pattern| glob_match(pattern, principal))
            }) || self
                .via_services
                .iter()
                .any(|via| glob_match(service.via_service, via))
                || self
                    .condition_keys
                    .iter()
                    .any(|key| key.starts_with(service.context_key)))
    }
}

fn key_policy_statements(subject: &Subject<'_>) -> Result<Vec<Statement>, String> {
    let template = subject.template;
    let known = |value: &Value| match template.resolve(value) {
        Resolved::Known(value) => Ok(value),
        Resolved::Unknown(reason) => Err(reason),
        other => Err(format!("{other:?}")),
    };
    let strings = |value: &Value| -> Vec<String> {
        let items = match template.resolve(value) {
            Resolved::Known(Value::Array(items)) => items,
            Resolved::Known(single) => vec![single],
            Resolved::Partial(pattern) => return vec![pattern],
            _ => return Vec::new(),
        };
        items
            .iter()
            .filter_map(|item| match template.resolve(item) {
                Resolved::Known(Value::String(text)) => Some(text),
                Resolved::Partial(pattern) => Some(pattern),
                _ => None,
            })
            .collect()
    };
    let policy = match subject.property("KeyPolicy") {
        None => return Err("absent (the default key policy names no service)".to_string()),
        Some(value) => known(value)?,
    };
    // The hook may receive the policy as a JSON string.
    let policy = match policy {
        Value::String(text) => serde_json::from_str(&text).map_err(|_| "not JSON".to_string())?,
        other => other,
    };
    let statements = match policy.get("Statement").map(known).transpose()? {
        Some(Value::Array(items)) => items,
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Err("a policy without statements".to_string()),
    };
    let mut out = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        let statement = known(statement)?;
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let label = statement
            .get("Sid")
            .and_then(Value::as_str)
            .map_or_else(|| format!("statement {}", index + 1), str::to_string);
        let principals = match statement
            .get("Principal")
            .map(|value| template.resolve(value))
        {
            Some(Resolved::Known(Value::Object(kinds))) => {
                kinds.get("Service").map(strings).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let uses_key = statement.get("Action").map(strings).is_some_and(|actions| {
            actions.iter().any(|action| {
                ["kms:GenerateDataKey", "kms:Decrypt"]
                    .iter()
                    .any(|wanted| iam_wildcard_match(action, wanted, true))
            })
        });
        let mut condition_keys = Vec::new();
        let mut via_services = Vec::new();
        if let Some(Value::Object(operators)) =
            statement.get("Condition").map(&known).transpose()?
        {
            for entries in operators.values() {
                if let Resolved::Known(Value::Object(entries)) = template.resolve(entries) {
                    for (key, values) in entries {
                        let key = key.to_ascii_lowercase();
                        if key == "kms:viaservice" {
                            via_services.extend(strings(&values));
                        }
                        condition_keys.push(key);
                    }
                }
            }
        }
        let has = |wanted: &str| condition_keys.iter().any(|key| key == wanted);
        let scoped = (has("aws:sourceaccount") && has("aws:sourcearn"))
            || condition_keys
                .iter()
                .any(|key| key.starts_with("kms:encryptioncontext:"))
            || (!via_services.is_empty() && has("kms:calleraccount"));
        out.push(Statement {
            label,
            principals,
            via_services,
            condition_keys,
            uses_key,
            scoped,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{check_resource, check_template};
    use super::*;
    use crate::template::Template;
    use serde_json::json;
    use std::collections::BTreeMap;

    const CMK: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab";

    fn hook(
        resource_type: &str,
        properties: Value,
        settings: &PreflightSettings,
    ) -> Vec<(String, Certainty)> {
        check_resource("R", resource_type, &properties, &BTreeMap::new(), settings)
            .into_iter()
            .filter(|finding| finding.pattern == "4/8")
            .map(|finding| (finding.message, finding.certainty))
            .collect()
    }

    #[test]
    fn every_encrypted_type_needs_a_customer_managed_key() {
        let open = PreflightSettings::default();
        for (resource_type, property, _) in ENCRYPTED {
            if resource_type == "AWS::S3::Bucket" {
                continue;
            }
            let none = hook(resource_type, json!({}), &open);
            assert_eq!(none.len(), 1, "{resource_type}");
            assert_eq!(none[0].1, Certainty::Violation);
            let with = |key: &str| {
                let mut properties = serde_json::Map::new();
                properties.insert(property.to_string(), json!(key));
                Value::Object(properties)
            };
            let managed = hook(resource_type, with("alias/aws/sns"), &open);
            assert!(
                managed[0].0.contains("AWS-managed"),
                "{resource_type}: {managed:?}"
            );
            assert_eq!(hook(resource_type, with(CMK), &open), []);
            assert_eq!(hook(resource_type, with("alias/project"), &open), []);
        }
    }

    #[test]
    fn the_configured_project_key_is_required_when_set() {
        let settings = PreflightSettings {
            kms_key_arn: Some(CMK.into()),
            ..PreflightSettings::default()
        };
        let other = "arn:aws:kms:eu-west-1:123456789012:key/other";
        assert_eq!(
            hook("AWS::SNS::Topic", json!({"KmsMasterKeyId": CMK}), &settings),
            []
        );
        assert_eq!(
            hook(
                "AWS::SNS::Topic",
                json!({"KmsMasterKeyId": "1234abcd-12ab"}),
                &settings
            ),
            []
        );
        assert_eq!(
            hook(
                "AWS::SNS::Topic",
                json!({"KmsMasterKeyId": other}),
                &settings
            )[0]
            .1,
            Certainty::Violation
        );
        assert_eq!(
            hook(
                "AWS::SNS::Topic",
                json!({"KmsMasterKeyId": "alias/project"}),
                &settings
            )[0]
            .1,
            Certainty::CannotTell
        );
    }

    #[test]
    fn buckets_need_aws_kms_with_a_key() {
        let open = PreflightSettings::default();
        let bucket = |default: Value| json!({"BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": default}]}});
        assert_eq!(hook("AWS::S3::Bucket", json!({}), &open).len(), 1);
        assert!(hook(
            "AWS::S3::Bucket",
            bucket(json!({"SSEAlgorithm": "AES256"})),
            &open
        )[0]
        .0
        .contains("AES256"));
        assert!(hook(
            "AWS::S3::Bucket",
            bucket(json!({"SSEAlgorithm": "aws:kms"})),
            &open
        )[0]
        .0
        .contains("aws/s3"));
        assert_eq!(
            hook(
                "AWS::S3::Bucket",
                bucket(json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK})),
                &open
            ),
            []
        );
    }

    const KEYED: &str = "\
Parameters:
  Shared: {Type: String, Default: ''}
Conditions:
  CreateKey: !Equals [!Ref Shared, '']
Resources:
  Key:
    Type: AWS::KMS::Key
    Condition: CreateKey
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: Root
            Effect: Allow
            Principal: {AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'}
            Action: kms:*
            Resource: '*'
          - Sid: Sns
            Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: [kms:GenerateDataKey, kms:Decrypt]
            Resource: '*'
            Condition:
              StringEquals: {aws:SourceAccount: !Ref AWS::AccountId}
              ArnLike: {aws:SourceArn: !Sub 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:app-*'}
          - Sid: Logs
            Effect: Allow
            Principal: {Service: !Sub 'logs.${AWS::Region}.amazonaws.com'}
            Action: kms:GenerateDataKey*
            Resource: '*'
  Alias:
    Type: AWS::KMS::Alias
    Properties: {AliasName: alias/app, TargetKeyId: !Ref Key}
  Topic:
    Type: AWS::SNS::Topic
    Properties: {KmsMasterKeyId: !If [CreateKey, !Ref Alias, !Ref Shared]}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {KmsKeyId: !GetAtt Key.Arn}
  Queue:
    Type: AWS::SQS::Queue
    Properties: {KmsMasterKeyId: !Ref Key}
";

    #[test]
    fn a_key_defined_here_must_let_each_using_service_use_it_scoped() {
        let template = Template::parse(KEYED).unwrap();
        let findings: Vec<_> = check_template(&template, &PreflightSettings::default())
            .into_iter()
            .filter(|finding| finding.pattern == "4/8")
            .map(|finding| (finding.logical_id, finding.message, finding.line))
            .collect();
        assert_eq!(findings.len(), 2, "{findings:#?}");
        assert!(
            findings[0]
                .1
                .contains("CloudWatch Logs (Logs) is not scoped"),
            "{}",
            findings[0].1
        );
        assert_eq!(findings[0].2, Some(10));
        assert!(
            findings[1].1.contains("lets SQS use this key, which Queue"),
            "{}",
            findings[1].1
        );
        // With a shared key supplied, the template's key is not created and the topic uses it.
        let mut shared = Template::parse(KEYED).unwrap();
        shared.set_parameter("Shared", CMK).unwrap();
        let findings = check_template(&shared, &PreflightSettings::default());
        assert!(
            findings.iter().all(|finding| finding.logical_id != "Key"),
            "{findings:#?}"
        );
    }
}
