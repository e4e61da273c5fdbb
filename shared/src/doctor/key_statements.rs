//! Pattern 4: the project key's policy lets each service the project uses encrypt with it,
//! scoped to the project.
//!
//! Without a statement for `sns.amazonaws.com` (and the other services), creating the topic on
//! the CMK succeeds and every later delivery fails with a KMS error. The judgement of a key
//! policy is the remediator's ([`service_may_use`]); this module only asks it two questions per
//! service:
//! 1. may the service use the key for a resource of the project (every name a `SCOPE_PATTERNS`
//!    glob stands for, in this account)? No → the statement is missing;
//! 2. may it for the same names in *another* account? Yes → the statement is not scoped by
//!    `aws:SourceAccount`, `aws:SourceArn` or the encryption context (confused deputy).
//!
//! The request context is what the service sends: `aws:SourceAccount`, `aws:SourceArn` and the
//! service's encryption-context key, no `kms:ViaService` (a service principal calls KMS itself).

use serde_json::{json, Value};

use crate::arn::Location;
use crate::remediation::delivery::{DELIVERY_KEY_ACTIONS, LOGS_STATEMENT_ACTIONS};
use crate::remediation::key_policy::{service_may_use, KeyPolicyAnswer, RequestContext};

use super::report::{Check, Status};

/// The services pattern 4 knows: those of the blog post's project CMK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyService {
    Sns,
    Sqs,
    Logs,
    S3,
    SecretsManager,
}

/// What the fix statement grants (the blog post's pattern 4 statement).
const STATEMENT_ACTIONS: [&str; 3] = ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"];

/// An account that is not the caller's, for the "is it scoped?" question.
fn other_account(own: &str) -> &'static str {
    if own == "111122223333" {
        "444455556666"
    } else {
        "111122223333"
    }
}

impl KeyService {
    pub const ALL: [KeyService; 5] = [
        KeyService::Sns,
        KeyService::Sqs,
        KeyService::Logs,
        KeyService::S3,
        KeyService::SecretsManager,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|service| service.name().eq_ignore_ascii_case(name))
    }

    pub fn expected() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
        format!("a comma-separated list of {}", names.join(", "))
    }

    /// The name used in `--services` and in the report.
    pub fn name(self) -> &'static str {
        match self {
            KeyService::Sns => "sns",
            KeyService::Sqs => "sqs",
            KeyService::Logs => "logs",
            KeyService::S3 => "s3",
            KeyService::SecretsManager => "secretsmanager",
        }
    }

    /// The service principal that calls KMS (CloudWatch Logs' is regional).
    pub fn principal(self, region: &str) -> String {
        match self {
            KeyService::Logs => format!("logs.{region}.amazonaws.com"),
            other => format!("{}.amazonaws.com", other.name()),
        }
    }

    /// The ARN of a resource named `name` (a glob: the value stands for every name it matches).
    fn arn(self, at: &Location, account: &str, name: &str) -> String {
        let Location {
            partition, region, ..
        } = at;
        match self {
            KeyService::Sns => format!("arn:{partition}:sns:{region}:{account}:{name}"),
            KeyService::Sqs => format!("arn:{partition}:sqs:{region}:{account}:{name}"),
            KeyService::Logs => format!("arn:{partition}:logs:{region}:{account}:log-group:{name}"),
            // Bucket ARNs name no account: only aws:SourceAccount can scope them to one.
            KeyService::S3 => format!("arn:{partition}:s3:::{name}"),
            KeyService::SecretsManager => {
                format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}")
            }
        }
    }

    /// The encryption-context key the service puts the resource's ARN in.
    fn context_key(self) -> &'static str {
        match self {
            KeyService::Sns => "kms:EncryptionContext:aws:sns:topicArn",
            KeyService::Sqs => "kms:EncryptionContext:aws:sqs:arn",
            KeyService::Logs => "kms:EncryptionContext:aws:logs:arn",
            KeyService::S3 => "kms:EncryptionContext:aws:s3:arn",
            KeyService::SecretsManager => "kms:EncryptionContext:SecretARN",
        }
    }

    fn sid(self) -> &'static str {
        match self {
            KeyService::Sns => "AllowSNSUsage",
            KeyService::Sqs => "AllowSQSUsage",
            KeyService::Logs => "AllowCloudWatchLogsUsage",
            KeyService::S3 => "AllowS3Usage",
            KeyService::SecretsManager => "AllowSecretsManagerUsage",
        }
    }

    /// The statement that lets the service use the key for the project's resources, scoped
    /// as the blog post and the service's own documentation show.
    pub fn statement(self, at: &Location, names: &[String]) -> Value {
        let arns: Vec<String> = names
            .iter()
            .map(|name| self.arn(at, &at.account, name))
            .collect();
        let arns = if arns.len() == 1 {
            json!(arns[0])
        } else {
            json!(arns)
        };
        match self {
            // CloudWatch Logs' documented statement scopes by the log group in the encryption
            // context, and needs more than GenerateDataKey/Decrypt.
            KeyService::Logs => json!({
                "Sid": self.sid(),
                "Effect": "Allow",
                "Principal": {"Service": self.principal(&at.region)},
                "Action": LOGS_STATEMENT_ACTIONS,
                "Resource": "*",
                "Condition": {"ArnLike": {self.context_key(): arns}},
            }),
            _ => json!({
                "Sid": self.sid(),
                "Effect": "Allow",
                "Principal": {"Service": self.principal(&at.region)},
                "Action": STATEMENT_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": at.account},
                    "ArnLike": {"aws:SourceArn": arns},
                },
            }),
        }
    }

    /// What the service sends KMS when it uses the key for `name` in `account`.
    fn request(self, at: &Location, account: &str, name: &str) -> RequestContext {
        let arn = self.arn(at, account, name);
        RequestContext::new()
            .with("aws:SourceAccount", [account])
            .with("aws:SourceArn", [arn.as_str()])
            .with(self.context_key(), [arn.as_str()])
            .without("kms:ViaService")
    }
}

/// What was found for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Finding {
    Covered,
    /// No statement lets the service use the key for the project's names.
    Missing,
    /// A Deny statement (named) stops it.
    Denied(String),
    /// Allowed for the same names in another account too.
    Unscoped,
}

/// Pattern 4's line. `policy` is the key policy, or why it could not be read; `None` for the key
/// means `KMS_KEY_ARN` is not set.
pub fn key_policy_check(
    key_arn: Option<&str>,
    policy: Result<&Value, &str>,
    services: &[KeyService],
    scope_patterns: Option<&[String]>,
    at: &Location,
) -> Check {
    let Some(key_arn) = key_arn else {
        return Check::new(
            "4",
            Status::CannotTell,
            "no project key is configured, so its policy was not read",
        )
        .with_fix("set KMS_KEY_ARN (or --kms-key-arn) to the project CMK's key ARN");
    };
    let policy = match policy {
        Ok(policy) => policy,
        Err(why) => {
            return Check::new(
                "4",
                Status::CannotTell,
                format!("the policy of the project key {key_arn} could not be read: {why}"),
            )
            .with_fix(format!(
                "allow kms:GetKeyPolicy on {key_arn} to the caller, or read the policy with a role that may"
            ))
        }
    };
    // Without SCOPE_PATTERNS every resource of the account counts as the project's.
    let any = ["*".to_string()];
    let names: &[String] = scope_patterns.unwrap_or(&any);
    let mut findings = Vec::new();
    for &service in services {
        let principal = service.principal(&at.region);
        let ask = |account: &str, name: &str| {
            service_may_use(
                policy,
                key_arn,
                &principal,
                &DELIVERY_KEY_ACTIONS,
                &service.request(at, account, name),
            )
        };
        let answers: Vec<KeyPolicyAnswer> = names.iter().map(|n| ask(&at.account, n)).collect();
        let finding = if let Some(KeyPolicyAnswer::Denied { statement }) = answers
            .iter()
            .find(|a| matches!(a, KeyPolicyAnswer::Denied { .. }))
        {
            Finding::Denied(statement.clone())
        } else if !answers.contains(&KeyPolicyAnswer::Allowed) {
            Finding::Missing
        } else if names
            .iter()
            .any(|n| ask(other_account(&at.account), n) == KeyPolicyAnswer::Allowed)
        {
            Finding::Unscoped
        } else {
            Finding::Covered
        };
        findings.push((service, finding));
    }
    let scope_text = match scope_patterns {
        Some(patterns) => format!("the project's resources ({})", patterns.join(", ")),
        None => "every resource of the account (SCOPE_PATTERNS is not set)".to_string(),
    };
    let problems: Vec<&(KeyService, Finding)> = findings
        .iter()
        .filter(|(_, f)| *f != Finding::Covered)
        .collect();
    if problems.is_empty() {
        let listed: Vec<&str> = services.iter().map(|s| s.name()).collect();
        return Check::new(
            "4",
            Status::Ok,
            format!(
                "the policy of {key_arn} lets {} use the key for {scope_text}, scoped to this account",
                listed.join(", ")
            ),
        );
    }
    let mut what = Vec::new();
    let mut fixes = Vec::new();
    for (service, finding) in problems {
        let principal = service.principal(&at.region);
        match finding {
            Finding::Missing => {
                what.push(format!("no statement lets {principal} use it"));
                fixes.push(format!("add {}", service.statement(at, names)));
            }
            Finding::Denied(statement) => {
                what.push(format!("{statement} denies {principal}"));
                fixes.push(format!(
                    "narrow the Deny statement {statement} so that it does not apply to {principal} for the project's resources"
                ));
            }
            Finding::Unscoped => {
                what.push(format!(
                    "the statement for {principal} is not scoped by aws:SourceAccount, aws:SourceArn or the encryption context (resources of other accounts could use the key)"
                ));
                fixes.push(format!(
                    "add the conditions of {} to the statement for {principal}",
                    service.statement(at, names)
                ));
            }
            Finding::Covered => {}
        }
    }
    Check::new(
        "4",
        Status::Problem,
        format!(
            "the policy of the project key {key_arn}, for {scope_text}: {}",
            what.join("; ")
        ),
    )
    .with_fix(format!("in the key policy, {}", fixes.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn at() -> Location {
        Location {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    fn root() -> Value {
        json!({"Sid": "Root", "Effect": "Allow",
               "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"})
    }

    fn scope() -> Vec<String> {
        vec!["demo-*".to_string()]
    }

    fn check(statements: Vec<Value>, services: &[KeyService]) -> Check {
        let policy = json!({"Version": "2012-10-17", "Statement": statements});
        key_policy_check(Some(KEY), Ok(&policy), services, Some(&scope()), &at())
    }

    #[test]
    fn the_fix_statements_satisfy_the_check() {
        // The statements the doctor proposes are exactly what makes it say ok: one rule.
        let statements: Vec<Value> = KeyService::ALL
            .iter()
            .map(|s| s.statement(&at(), &scope()))
            .chain([root()])
            .collect();
        let c = check(statements, &KeyService::ALL);
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(
            c.message,
            format!("the policy of {KEY} lets sns, sqs, logs, s3, secretsmanager use the key for the project's resources (demo-*), scoped to this account")
        );
    }

    #[test]
    fn a_missing_statement_names_the_service_and_the_statement_to_add() {
        let c = check(vec![root()], &[KeyService::Sns]);
        assert_eq!(c.status, Status::Problem);
        assert_eq!(
            c.message,
            format!("the policy of the project key {KEY}, for the project's resources (demo-*): no statement lets sns.amazonaws.com use it")
        );
        assert_eq!(
            c.fix.as_deref(),
            Some(
                "in the key policy, add {\"Action\":[\"kms:GenerateDataKey\",\"kms:Decrypt\",\"kms:DescribeKey\"],\
                 \"Condition\":{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:sns:us-east-1:123456789012:demo-*\"},\
                 \"StringEquals\":{\"aws:SourceAccount\":\"123456789012\"}},\"Effect\":\"Allow\",\
                 \"Principal\":{\"Service\":\"sns.amazonaws.com\"},\"Resource\":\"*\",\"Sid\":\"AllowSNSUsage\"}"
            )
        );
    }

    #[test]
    fn scope_is_judged_by_the_remediators_rule() {
        let sns = |condition: Value| {
            let mut statement = json!({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"});
            if !condition.is_null() {
                statement["Condition"] = condition;
            }
            check(vec![root(), statement], &[KeyService::Sns]).status
        };
        // (condition, status)
        let cases = [
            (Value::Null, Status::Problem),
            (
                json!({"StringEquals": {"aws:SourceAccount": "123456789012"}}),
                Status::Ok,
            ),
            (
                json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:demo-*"}}),
                Status::Ok,
            ),
            (
                json!({"ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": "arn:aws:sns:us-east-1:123456789012:*"}}),
                Status::Ok,
            ),
            // Only some of the project's topics: not every name of demo-* is covered.
            (
                json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:demo-alerts"}}),
                Status::Problem,
            ),
            // Any account's topics named demo-*: not scoped.
            (
                json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:demo-*"}}),
                Status::Problem,
            ),
        ];
        for (condition, expected) in cases {
            assert_eq!(sns(condition.clone()), expected, "{condition}");
        }
        let unscoped = check(
            vec![
                json!({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "kms:*", "Resource": "*"}),
            ],
            &[KeyService::Sns],
        );
        assert!(
            unscoped
                .message
                .contains("the statement for sns.amazonaws.com is not scoped"),
            "{}",
            unscoped.message
        );
    }

    #[test]
    fn a_deny_and_unreadable_or_unset_keys() {
        let deny = json!({"Sid": "NoServices", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
            "Resource": "*", "Condition": {"Bool": {"aws:PrincipalIsAWSService": "true"}}});
        let logs = KeyService::Logs.statement(&at(), &scope());
        let c = check(vec![root(), logs, deny], &[KeyService::Logs]);
        assert_eq!(c.status, Status::Problem);
        assert!(
            c.message
                .ends_with("NoServices denies logs.us-east-1.amazonaws.com"),
            "{}",
            c.message
        );
        let unreadable = key_policy_check(
            Some(KEY),
            Err("AccessDeniedException: not allowed"),
            &[KeyService::Sns],
            None,
            &at(),
        );
        assert_eq!(unreadable.status, Status::CannotTell);
        let unset = key_policy_check(None, Err("unused"), &[KeyService::Sns], None, &at());
        assert_eq!(
            (unset.status, unset.fix.as_deref()),
            (
                Status::CannotTell,
                Some("set KMS_KEY_ARN (or --kms-key-arn) to the project CMK's key ARN")
            )
        );
    }

    #[test]
    fn without_scope_patterns_every_resource_of_the_account_counts() {
        let policy =
            json!({"Statement": [root(), KeyService::Sqs.statement(&at(), &["*".to_string()])]});
        let c = key_policy_check(Some(KEY), Ok(&policy), &[KeyService::Sqs], None, &at());
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c
            .message
            .contains("every resource of the account (SCOPE_PATTERNS is not set)"));
    }
}
