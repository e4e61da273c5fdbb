//! Whether a KMS key policy lets an AWS service principal use the key.
//!
//! Before the remediator switches a queue, topic, bucket or log group to the project CMK it
//! asks: will the AWS services that write to this resource (EventBridge, S3 notifications,
//! CloudWatch alarms, SNS, CloudWatch Logs...) still be able to use the key? A service
//! principal calls KMS directly (`kms:GenerateDataKey`, `kms:Decrypt`), so only the key
//! policy can allow it; the account's IAM policies play no part.
//!
//! The evaluation is three-valued and never guesses in the direction that loses data:
//! a request is [`KeyPolicyAnswer::Allowed`] only when an `Allow` statement matches it for
//! certain (principal, action, resource and every condition) and no `Deny` statement might
//! match it. A condition whose key the caller does not know ([`RequestContext`]) is
//! *maybe*: it never makes an `Allow` count, and it makes a `Deny` count.
//!
//! Matching: actions case-insensitively, resources over the whole ARN, `ArnLike` component
//! by component,
//! with `*` and `?`. Context values may themselves be patterns (a queue policy that lets
//! `arn:aws:events:*:123456789012:rule/*` deliver): a pattern value is covered only when
//! every string it stands for matches.

use std::collections::BTreeMap;

use serde_json::Value;

/// What is known about the request a service would make, keyed by condition key (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// `Some(values)`: the key is present with one of these values (patterns allowed);
    /// `None`: the key is certainly absent. Keys not listed are unknown.
    keys: BTreeMap<String, Option<Vec<String>>>,
}

impl RequestContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// The key is present, with one of `values` (which may contain `*` / `?`).
    pub fn with(mut self, key: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        self.keys.insert(key.to_ascii_lowercase(), Some(values));
        self
    }

    /// The key is certainly absent from the request.
    pub fn without(mut self, key: &str) -> Self {
        self.keys.insert(key.to_ascii_lowercase(), None);
        self
    }

    fn get(&self, key: &str) -> Option<&Option<Vec<String>>> {
        self.keys.get(&key.to_ascii_lowercase())
    }
}

/// The outcome for one service principal and a set of actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPolicyAnswer {
    /// Every action is allowed for certain; no `Deny` might apply.
    Allowed,
    /// A `Deny` statement (named by its `Sid` or position) matches or might match.
    Denied { statement: String },
    /// No statement allows these actions for certain.
    NotAllowed { actions: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Maybe,
}

impl Tri {
    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Maybe,
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Maybe => Tri::Maybe,
        }
    }
}

/// May `principal` (a service principal such as `events.amazonaws.com`) call every one of
/// `actions` on the key `key_arn`, given what is known of the request in `context`?
pub fn service_may_use(
    policy: &Value,
    key_arn: &str,
    principal: &str,
    actions: &[&str],
    context: &RequestContext,
) -> KeyPolicyAnswer {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let label = |index: usize, statement: &Value| {
        statement
            .get("Sid")
            .and_then(Value::as_str)
            .filter(|sid| !sid.is_empty())
            .map_or_else(|| format!("statement {}", index + 1), str::to_string)
    };
    let mut missing = Vec::new();
    for action in actions {
        let mut allowed = false;
        for (index, statement) in statements.iter().copied().enumerate() {
            let applies = statement_applies(statement, key_arn, principal, action, context);
            match statement.get("Effect").and_then(Value::as_str) {
                Some("Deny") if applies != Tri::No => {
                    return KeyPolicyAnswer::Denied {
                        statement: label(index, statement),
                    }
                }
                Some("Allow") if applies == Tri::Yes => allowed = true,
                _ => {}
            }
        }
        if !allowed {
            missing.push(action.to_string());
        }
    }
    if missing.is_empty() {
        KeyPolicyAnswer::Allowed
    } else {
        KeyPolicyAnswer::NotAllowed { actions: missing }
    }
}

fn statement_applies(
    statement: &Value,
    key_arn: &str,
    principal: &str,
    action: &str,
    context: &RequestContext,
) -> Tri {
    let principal_hit = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(value), None) => principal_matches(value, principal),
        (None, Some(value)) => principal_matches(value, principal).not(),
        _ => Tri::Maybe,
    };
    let action_hit = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(value), None) => any_string(value, |pattern| {
            crate::iam_evaluation::iam_wildcard_match(pattern, action, true)
        }),
        (None, Some(value)) => any_string(value, |pattern| {
            crate::iam_evaluation::iam_wildcard_match(pattern, action, true)
        })
        .not(),
        _ => Tri::Maybe,
    };
    let resource_hit = match (statement.get("Resource"), statement.get("NotResource")) {
        // `Resource` matches the whole ARN (`*` crosses `:`), unlike `ArnLike`.
        (Some(value), None) => any_string(value, |pattern| pattern_covers(pattern, key_arn)),
        (None, Some(value)) => any_string(value, |pattern| pattern_covers(pattern, key_arn)).not(),
        // Key policies without Resource: treated as the key itself.
        (None, None) => Tri::Yes,
        _ => Tri::Maybe,
    };
    let conditions = match statement.get("Condition") {
        None => Tri::Yes,
        Some(Value::Object(operators)) => {
            operators
                .iter()
                .fold(Tri::Yes, |acc, (operator, entries)| match entries {
                    Value::Object(entries) => entries.iter().fold(acc, |acc, (key, values)| {
                        acc.and(condition(operator, key, values, context))
                    }),
                    _ => acc.and(Tri::Maybe),
                })
        }
        Some(_) => Tri::Maybe,
    };
    principal_hit
        .and(action_hit)
        .and(resource_hit)
        .and(conditions)
}

/// Yes when any string in `value` (a string or a list of strings) satisfies `hit`.
fn any_string(value: &Value, hit: impl Fn(&str) -> bool) -> Tri {
    match value {
        Value::String(text) => bool_tri(hit(text)),
        Value::Array(items) => {
            let mut answer = Tri::No;
            for item in items {
                match item.as_str() {
                    Some(text) if hit(text) => return Tri::Yes,
                    Some(_) => {}
                    None => answer = Tri::Maybe,
                }
            }
            answer
        }
        _ => Tri::Maybe,
    }
}

fn bool_tri(value: bool) -> Tri {
    if value {
        Tri::Yes
    } else {
        Tri::No
    }
}

fn principal_matches(value: &Value, principal: &str) -> Tri {
    match value {
        Value::String(text) if text == "*" => Tri::Yes,
        Value::Object(kinds) => {
            let mut answer = Tri::No;
            for (kind, names) in kinds {
                let hit = match kind.as_str() {
                    // `{"AWS": "*"}` is the same as `"*"`: every principal.
                    "AWS" => any_string(names, |name| name == "*"),
                    "Service" => any_string(names, |name| name.eq_ignore_ascii_case(principal)),
                    _ => Tri::No,
                };
                answer = match (answer, hit) {
                    (_, Tri::Yes) | (Tri::Yes, _) => Tri::Yes,
                    (Tri::Maybe, _) | (_, Tri::Maybe) => Tri::Maybe,
                    _ => Tri::No,
                };
            }
            answer
        }
        _ => Tri::Maybe,
    }
}

/// One condition `operator: {key: values}`.
fn condition(operator: &str, key: &str, values: &Value, context: &RequestContext) -> Tri {
    let patterns: Vec<&str> = match values {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(items) => items,
            None => return Tri::Maybe,
        },
        _ => return Tri::Maybe,
    };
    // Set operators over a single-valued key behave like the plain operator.
    let base = operator
        .strip_prefix("ForAnyValue:")
        .or_else(|| operator.strip_prefix("ForAllValues:"))
        .unwrap_or(operator);
    let (base, if_exists) = match base.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (base, false),
    };
    let present = context.get(key);
    if base == "Null" {
        let wants_absent = match patterns.as_slice() {
            ["true"] => true,
            ["false"] => false,
            _ => return Tri::Maybe,
        };
        return match present {
            Some(None) => bool_tri(wants_absent),
            Some(Some(_)) => bool_tri(!wants_absent),
            None => Tri::Maybe,
        };
    }
    let (positive, negated) = match base {
        "StringEquals" | "ArnEquals" => (Matcher::Equals, false),
        "StringEqualsIgnoreCase" => (Matcher::EqualsIgnoreCase, false),
        "StringLike" => (Matcher::Like, false),
        "ArnLike" => (Matcher::ArnLike, false),
        "StringNotEquals" | "ArnNotEquals" => (Matcher::Equals, true),
        "StringNotEqualsIgnoreCase" => (Matcher::EqualsIgnoreCase, true),
        "StringNotLike" => (Matcher::Like, true),
        "ArnNotLike" => (Matcher::ArnLike, true),
        _ => return Tri::Maybe,
    };
    let values = match present {
        None => return Tri::Maybe,
        // Absent: a negated operator holds, a positive one holds only with IfExists.
        Some(None) => return bool_tri(negated || if_exists),
        Some(Some(values)) => values,
    };
    let mut answer = Tri::Yes;
    for value in values {
        let hit = if patterns
            .iter()
            .any(|pattern| positive.covers(pattern, value))
        {
            Tri::Yes
        } else if !has_wildcard(value) {
            Tri::No
        } else {
            Tri::Maybe
        };
        answer = answer.and(hit);
    }
    if negated {
        answer.not()
    } else {
        answer
    }
}

#[derive(Clone, Copy)]
enum Matcher {
    Equals,
    EqualsIgnoreCase,
    Like,
    ArnLike,
}

impl Matcher {
    /// True when every string `value` stands for satisfies the operator with `pattern`.
    fn covers(self, pattern: &str, value: &str) -> bool {
        match self {
            Matcher::Equals => !has_wildcard(value) && pattern == value,
            Matcher::EqualsIgnoreCase => {
                !has_wildcard(value) && pattern.eq_ignore_ascii_case(value)
            }
            Matcher::Like => pattern_covers(pattern, value),
            Matcher::ArnLike => arn_like(pattern, value),
        }
    }
}

fn has_wildcard(value: &str) -> bool {
    value.contains('*') || value.contains('?')
}

/// `ArnLike`: the six colon-separated parts are matched one by one (a `*` does not cross
/// a `:` of the first five separators), so a pattern of another shape matches no ARN; a
/// value that is not an ARN is matched whole.
fn arn_like(pattern: &str, value: &str) -> bool {
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    let value_parts: Vec<&str> = value.splitn(6, ':').collect();
    match (pattern_parts.len(), value_parts.len()) {
        (6, 6) => pattern_parts
            .iter()
            .zip(&value_parts)
            .all(|(pattern, value)| pattern_covers(pattern, value)),
        (_, 6) => false,
        _ => pattern_covers(pattern, value),
    }
}

/// True when every string matched by `value` (itself a `*`/`?` pattern, or a plain string)
/// is matched by `pattern`: a wildcard in `value` can only be absorbed by a `*` of
/// `pattern`. Dynamic programming over both strings (no backtracking blow-up).
pub fn pattern_covers(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    // reach[j]: pattern[..i] covers value[..j]
    let mut reach = vec![false; value.len() + 1];
    reach[0] = true;
    for &p in &pattern {
        let mut next = vec![false; value.len() + 1];
        for j in 0..=value.len() {
            if p == '*' {
                // `*` absorbs any run of value characters, wildcards included.
                next[j] = reach[j] || (j > 0 && next[j - 1]);
            } else if j > 0 && reach[j - 1] {
                let v = value[j - 1];
                // A literal `?` or `*` of the value stands for unknown characters: only
                // a `?` (one character) or `*` of the pattern covers a value `?`.
                next[j] = match (p, v) {
                    (_, '*') => false,
                    ('?', _) => true,
                    (_, '?') => false,
                    (p, v) => p == v,
                };
            }
        }
        reach = next;
    }
    reach[value.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:corebound-demo-jobs";
    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/corebound-demo-nightly";
    const USE: [&str; 2] = ["kms:GenerateDataKey", "kms:Decrypt"];

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn root() -> Value {
        json!({"Sid": "Root", "Effect": "Allow",
               "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
               "Action": "kms:*", "Resource": "*"})
    }

    fn events_context() -> RequestContext {
        RequestContext::new()
            .with("aws:SourceArn", [RULE])
            .with("aws:SourceAccount", ["123456789012"])
            .with("kms:EncryptionContext:aws:sqs:arn", [QUEUE])
            .without("kms:ViaService")
    }

    #[test]
    fn the_default_key_policy_does_not_let_a_service_use_the_key() {
        let answer = service_may_use(
            &policy(json!([root()])),
            KEY,
            "events.amazonaws.com",
            &USE,
            &events_context(),
        );
        assert_eq!(
            answer,
            KeyPolicyAnswer::NotAllowed {
                actions: vec!["kms:GenerateDataKey".into(), "kms:Decrypt".into()]
            }
        );
    }

    #[test]
    fn statements_are_judged_on_principal_action_resource_and_conditions() {
        let allow = |extra: Value| {
            let mut statement = json!({"Sid": "Events", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"});
            for (key, value) in extra.as_object().unwrap() {
                statement[key] = value.clone();
            }
            policy(json!([root(), statement]))
        };
        let allowed = KeyPolicyAnswer::Allowed;
        let not_allowed = |actions: &[&str]| KeyPolicyAnswer::NotAllowed {
            actions: actions.iter().map(|a| a.to_string()).collect(),
        };
        // (case, policy, expected)
        let cases: Vec<(&str, Value, KeyPolicyAnswer)> = vec![
            ("unconditional", allow(json!({})), allowed.clone()),
            (
                "principal list",
                allow(
                    json!({"Principal": {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]}}),
                ),
                allowed.clone(),
            ),
            (
                "wildcard principal",
                allow(json!({"Principal": "*"})),
                allowed.clone(),
            ),
            (
                "another service",
                allow(json!({"Principal": {"Service": "sns.amazonaws.com"}})),
                not_allowed(&USE),
            ),
            (
                "one action only",
                allow(json!({"Action": "kms:Decrypt"})),
                not_allowed(&["kms:GenerateDataKey"]),
            ),
            ("kms:*", allow(json!({"Action": "kms:*"})), allowed.clone()),
            (
                "source account matches",
                allow(
                    json!({"Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}),
                ),
                allowed.clone(),
            ),
            (
                "source account differs",
                allow(
                    json!({"Condition": {"StringEquals": {"aws:SourceAccount": "210987654321"}}}),
                ),
                not_allowed(&USE),
            ),
            (
                "source ARN pattern covers the rule",
                allow(
                    json!({"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/*"}}}),
                ),
                allowed.clone(),
            ),
            (
                "source ARN of another rule",
                allow(
                    json!({"Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/other"}}}),
                ),
                not_allowed(&USE),
            ),
            (
                "encryption context of the queue",
                allow(
                    json!({"Condition": {"StringLike": {"kms:EncryptionContext:aws:sqs:arn": "arn:*:sqs:*:*:corebound-demo-*"}}}),
                ),
                allowed.clone(),
            ),
            (
                "only through SQS (no service principal call has kms:ViaService)",
                allow(
                    json!({"Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}}}),
                ),
                not_allowed(&USE),
            ),
            (
                "a condition key nobody knows is not proof",
                allow(json!({"Condition": {"StringEquals": {"aws:PrincipalTag/team": "x"}}})),
                not_allowed(&USE),
            ),
            (
                "IfExists on an absent key",
                allow(
                    json!({"Condition": {"StringEqualsIfExists": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}}}),
                ),
                allowed.clone(),
            ),
            (
                "unknown operator",
                allow(json!({"Condition": {"NumericLessThan": {"aws:SourceAccount": "1"}}})),
                not_allowed(&USE),
            ),
        ];
        for (case, document, expected) in cases {
            assert_eq!(
                service_may_use(
                    &document,
                    KEY,
                    "events.amazonaws.com",
                    &USE,
                    &events_context()
                ),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn a_deny_that_might_apply_wins() {
        let allow = json!({"Sid": "Events", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "kms:*", "Resource": "*"});
        let deny = |condition: Value| {
            json!({"Sid": "NoServices", "Effect": "Deny", "Principal": "*",
                   "Action": "kms:GenerateDataKey", "Resource": "*", "Condition": condition})
        };
        let cases = [
            (json!({"Bool": {"aws:PrincipalIsAWSService": "true"}}), true),
            (
                json!({"StringNotEquals": {"aws:SourceAccount": "123456789012"}}),
                false,
            ),
            (
                json!({"StringNotEquals": {"aws:SourceAccount": "210987654321"}}),
                true,
            ),
        ];
        for (condition, denied) in cases {
            let document = policy(json!([allow.clone(), deny(condition.clone())]));
            let answer = service_may_use(
                &document,
                KEY,
                "events.amazonaws.com",
                &USE,
                &events_context(),
            );
            assert_eq!(
                answer
                    == KeyPolicyAnswer::Denied {
                        statement: "NoServices".into()
                    },
                denied,
                "{condition}: {answer:?}"
            );
        }
    }

    #[test]
    fn unknown_source_is_not_covered_by_a_specific_condition() {
        let document = policy(json!([{"Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": "kms:*", "Resource": "*",
            "Condition": {"ArnEquals": {"aws:SourceArn": RULE}}}]));
        let unknown = RequestContext::new();
        assert!(matches!(
            service_may_use(&document, KEY, "events.amazonaws.com", &USE, &unknown),
            KeyPolicyAnswer::NotAllowed { .. }
        ));
        // Any rule of the account may deliver: a policy for one rule does not cover it.
        let any_rule = RequestContext::new().with(
            "aws:SourceArn",
            ["arn:aws:events:us-east-1:123456789012:rule/*"],
        );
        assert!(matches!(
            service_may_use(&document, KEY, "events.amazonaws.com", &USE, &any_rule),
            KeyPolicyAnswer::NotAllowed { .. }
        ));
    }

    #[test]
    fn pattern_coverage() {
        let cases = [
            ("abc", "abc", true),
            ("a*", "abc", true),
            ("a*", "a*", true),
            ("a?c", "abc", true),
            ("a?c", "a?c", true),
            ("a?c", "a*c", false),
            ("ab*", "a*", false),
            ("*", "*", true),
            ("rule/?", "rule/*", false),
            ("rule/*", "rule/x?", true),
            ("abc", "abd", false),
        ];
        for (pattern, value, covered) in cases {
            assert_eq!(
                pattern_covers(pattern, value),
                covered,
                "{pattern} / {value}"
            );
        }
        assert!(!arn_like("arn:aws:sqs:*:1:q", "arn:aws:sqs:us-east-1:2:q"));
        assert!(arn_like("arn:aws:sqs:*:1:q*", "arn:aws:sqs:us-east-1:1:q1"));
        assert!(
            !arn_like("arn:aws:sqs:us-*", "arn:aws:sqs:us-east-1:1:q1"),
            "no : crossing"
        );
    }
}
