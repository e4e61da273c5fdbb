//! The one semantic comparison of IAM policy statements and documents.
//!
//! Services return a stored policy in a different form from the one written to them (S3, SQS,
//! SNS and Lambda do; AgentCore may): an account id in `Principal` becomes
//! `arn:<partition>:iam::<id>:root`, a one-element list becomes a scalar, keys are sorted and
//! whitespace dropped, and the ARN of a deleted role becomes its unique id (`AROA...`). Every
//! question "is this the statement we wrote?" (read-back verification, the identical-retry
//! check, ownership before a Delete) and every inline-policy comparison of the grants is
//! answered here, by comparing *meaning*, never text.
//!
//! Two statements are the same when their canonical forms ([`canonical_statement`]) are
//! equal:
//! * a scalar and a one-element list are the same; `Action`, `NotAction`, `Resource`,
//!   `NotResource`, principal lists and condition values compare as sets;
//! * `"123456789012"` and `"arn:<partition>:iam::123456789012:root"` are the same principal
//!   (in the partition the policy lives in), and `"Principal": "*"` is `{"AWS": "*"}`;
//! * action names compare case-insensitively, as IAM matches them;
//! * condition keys compare case-insensitively (IAM: "context key names are not
//!   case-sensitive"); condition operators, principal types, `Effect` and resources compare
//!   exactly; condition values compare as strings (`true` is `"true"`);
//! * an empty `Condition` is no `Condition`;
//! * `Sid` must match exactly; key order and whitespace never matter;
//! * any element corebound does not know is compared exactly.
//!
//! Documents are the same when their `Version`, `Id` and other top-level members are equal
//! and their statements are the same as multisets (statement order has no meaning in IAM).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Elements whose value is one string or a list of strings, compared as a set.
const SET_ELEMENTS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];
/// Of those, the ones IAM matches case-insensitively.
const CASE_INSENSITIVE_ELEMENTS: [&str; 2] = ["Action", "NotAction"];
const PRINCIPAL_ELEMENTS: [&str; 2] = ["Principal", "NotPrincipal"];

/// The canonical form of a statement in a policy of `partition` (e.g. `aws`, `aws-cn`):
/// equal canonical forms mean the same statement. Anything that is not an object is its own
/// canonical form.
pub fn canonical_statement(statement: &Value, partition: &str) -> Value {
    let Value::Object(members) = statement else {
        return statement.clone();
    };
    let mut canonical = Map::new();
    for (key, value) in members {
        let key_str = key.as_str();
        let value = if SET_ELEMENTS.contains(&key_str) {
            let lower = CASE_INSENSITIVE_ELEMENTS.contains(&key_str);
            string_set(value, |s| {
                if lower {
                    s.to_ascii_lowercase()
                } else {
                    s.to_string()
                }
            })
        } else if PRINCIPAL_ELEMENTS.contains(&key_str) {
            canonical_principal_element(value, partition)
        } else if key_str == "Condition" {
            match canonical_condition(value) {
                Some(condition) => condition,
                None => continue, // an empty Condition means no Condition
            }
        } else {
            value.clone()
        };
        canonical.insert(key.clone(), value);
    }
    Value::Object(canonical)
}

/// Whether two statements of a policy in `partition` mean the same.
pub fn same_statement(a: &Value, b: &Value, partition: &str) -> bool {
    canonical_statement(a, partition) == canonical_statement(b, partition)
}

/// The canonical form of a whole policy document (statements in a stable order).
pub fn canonical_document(document: &Value, partition: &str) -> Value {
    let Value::Object(members) = document else {
        return document.clone();
    };
    let mut canonical = Map::new();
    for (key, value) in members {
        if key == "Statement" {
            let statements: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            let mut statements: Vec<Value> = statements
                .into_iter()
                .map(|s| canonical_statement(s, partition))
                .collect();
            statements.sort_by_cached_key(Value::to_string);
            canonical.insert(key.clone(), Value::Array(statements));
        } else {
            canonical.insert(key.clone(), value.clone());
        }
    }
    Value::Object(canonical)
}

/// Whether two policy documents of `partition` mean the same.
pub fn same_document(a: &Value, b: &Value, partition: &str) -> bool {
    canonical_document(a, partition) == canonical_document(b, partition)
}

/// [`same_document`] for documents as text (as IAM and AgentCore return them); text that is
/// not JSON is the same only as identical text.
pub fn same_document_text(a: &str, b: &str, partition: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => same_document(&a, &b, partition),
        _ => a == b,
    }
}

/// How a stored statement relates to the statement expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementMatch {
    /// It means the same.
    Same,
    /// It means the same except that IAM principals named in the expected statement were
    /// replaced by unique ids (`AROA...`, `AIDA...`): the service does that when a role or
    /// user is deleted (and a recreated one with the same name is a different principal).
    /// Carries the unique ids found and the expected principal ARNs they stand for.
    SameExceptUniqueIds {
        unique_ids: Vec<String>,
        replaced: Vec<String>,
    },
    /// Something else.
    Different,
}

impl StatementMatch {
    /// The statement is the expected one, possibly with principals turned into unique ids.
    pub fn is_ours(&self) -> bool {
        !matches!(self, StatementMatch::Different)
    }
}

/// Compare a `stored` statement with the `expected` one, tolerating principals replaced by
/// unique ids (only where a role or user ARN was expected, one id per missing ARN, and with
/// everything else the same).
pub fn match_statement(expected: &Value, stored: &Value, partition: &str) -> StatementMatch {
    let expected = canonical_statement(expected, partition);
    let stored = canonical_statement(stored, partition);
    if expected == stored {
        return StatementMatch::Same;
    }
    let (Some(expected_aws), Some(stored_aws)) =
        (aws_principals(&expected), aws_principals(&stored))
    else {
        return StatementMatch::Different;
    };
    let unique_ids: Vec<String> = stored_aws
        .iter()
        .filter(|p| is_unique_id(p))
        .cloned()
        .collect();
    if unique_ids.is_empty() {
        return StatementMatch::Different;
    }
    let kept: BTreeSet<&String> = stored_aws.iter().filter(|p| !is_unique_id(p)).collect();
    if !kept.iter().all(|p| expected_aws.contains(*p)) {
        return StatementMatch::Different;
    }
    let replaced: Vec<String> = expected_aws
        .iter()
        .filter(|p| !kept.contains(p))
        .cloned()
        .collect();
    if replaced.len() != unique_ids.len() || !replaced.iter().all(|p| can_become_unique_id(p)) {
        return StatementMatch::Different;
    }
    // With the principals put back, everything else must be the same.
    let mut repaired = stored.clone();
    repaired["Principal"]["AWS"] = expected["Principal"]["AWS"].clone();
    if repaired == expected {
        StatementMatch::SameExceptUniqueIds {
            unique_ids,
            replaced,
        }
    } else {
        StatementMatch::Different
    }
}

/// An IAM unique id as services show it for a deleted principal: `AROA` (role) or `AIDA`
/// (user) followed by upper-case letters and digits (21 characters in all today).
pub fn is_unique_id(value: &str) -> bool {
    (value.starts_with("AROA") || value.starts_with("AIDA"))
        && (16..=128).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The principal as IAM means it: a bare 12-digit account id is the account's root ARN in
/// `partition`; anything else is itself.
pub fn canonical_aws_principal(principal: &str, partition: &str) -> String {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:{partition}:iam::{principal}:root")
    } else {
        principal.to_string()
    }
}

/// Roles and users can be deleted, and only then does a service show a unique id instead.
fn can_become_unique_id(principal: &str) -> bool {
    let resource = principal.splitn(6, ':').nth(5).unwrap_or_default();
    principal.starts_with("arn:")
        && (resource.starts_with("role/") || resource.starts_with("user/"))
}

/// The canonical `Principal.AWS` set of a canonical statement.
fn aws_principals(canonical: &Value) -> Option<BTreeSet<String>> {
    canonical
        .get("Principal")?
        .get("AWS")?
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
}

/// `"*"` is `{"AWS": "*"}` (IAM documents them as equivalent); each principal type maps to
/// a set of principals; AWS principals are canonical ARNs.
fn canonical_principal_element(value: &Value, partition: &str) -> Value {
    match value {
        Value::String(s) if s == "*" => {
            let mut map = Map::new();
            map.insert("AWS".into(), Value::Array(vec![Value::String("*".into())]));
            Value::Object(map)
        }
        Value::Object(types) => Value::Object(
            types
                .iter()
                .map(|(kind, principals)| {
                    let set = if kind == "AWS" {
                        string_set(principals, |p| canonical_aws_principal(p, partition))
                    } else {
                        string_set(principals, str::to_string)
                    };
                    (kind.clone(), set)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Operators exact; keys lower-cased; values as sets of strings. `None` when empty.
fn canonical_condition(value: &Value) -> Option<Value> {
    let Value::Object(operators) = value else {
        return Some(value.clone());
    };
    if operators.is_empty() {
        return None;
    }
    let mut canonical = Map::new();
    for (operator, block) in operators {
        let block = match block {
            Value::Object(keys) => {
                let mut merged: std::collections::BTreeMap<String, BTreeSet<String>> =
                    Default::default();
                for (key, values) in keys {
                    merged
                        .entry(key.to_ascii_lowercase())
                        .or_default()
                        .extend(string_items(values));
                }
                Value::Object(
                    merged
                        .into_iter()
                        .map(|(key, values)| {
                            (
                                key,
                                Value::Array(values.into_iter().map(Value::String).collect()),
                            )
                        })
                        .collect(),
                )
            }
            other => other.clone(),
        };
        canonical.insert(operator.clone(), block);
    }
    Some(Value::Object(canonical))
}

/// A scalar or list as a sorted, de-duplicated list of strings mapped by `f`.
fn string_set(value: &Value, f: impl Fn(&str) -> String) -> Value {
    let set: BTreeSet<String> = string_items(value).map(|s| f(&s)).collect();
    Value::Array(set.into_iter().map(Value::String).collect())
}

/// The items of a scalar or list, each as a string (non-strings as their JSON text).
fn string_items(value: &Value) -> impl Iterator<Item = String> + '_ {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    items.into_iter().map(|item| match item {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";

    fn written() -> Value {
        json!({
            "Sid": "Mine", "Effect": "Allow",
            "Principal": {"AWS": ["210987654321", "arn:aws:iam::210987654321:role/LPMA_Pay_Caller"]},
            "Action": "bedrock-agentcore:InvokeAgentRuntime",
            "Resource": RUNTIME,
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]}}
        })
    }

    /// What an S3/SQS/SNS/Lambda-style service returns for `written()`.
    fn normalised() -> Value {
        json!({
            "Action": ["bedrock-agentcore:InvokeAgentRuntime"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::210987654321:role/LPMA_Pay_Caller", "arn:aws:iam::210987654321:root"]},
            "Resource": [RUNTIME],
            "Sid": "Mine"
        })
    }

    #[test]
    fn a_normalised_read_back_is_the_same_statement() {
        assert!(same_statement(&written(), &normalised(), "aws"));
        assert_eq!(
            match_statement(&written(), &normalised(), "aws"),
            StatementMatch::Same
        );
    }

    #[test]
    fn equivalences() {
        let base = written();
        let same = |f: &dyn Fn(&mut Value)| {
            let mut other = base.clone();
            f(&mut other);
            same_statement(&base, &other, "aws")
        };
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Change, bool)> = vec![
            (
                "list order",
                Box::new(|s: &mut Value| {
                    s["Principal"]["AWS"] = json!([
                        "arn:aws:iam::210987654321:role/LPMA_Pay_Caller",
                        "210987654321"
                    ])
                }),
                true,
            ),
            (
                "duplicates",
                Box::new(|s: &mut Value| {
                    s["Principal"]["AWS"] = json!([
                        "210987654321",
                        "arn:aws:iam::210987654321:root",
                        "arn:aws:iam::210987654321:role/LPMA_Pay_Caller"
                    ])
                }),
                true,
            ),
            (
                "action case",
                Box::new(|s: &mut Value| {
                    s["Action"] = json!("Bedrock-AgentCore:invokeagentruntime")
                }),
                true,
            ),
            (
                "condition key case",
                Box::new(|s: &mut Value| {
                    s["Condition"] = json!({"StringEquals": {"AWS:PrincipalOrgId": "o-a1b2c3d4e5"}})
                }),
                true,
            ),
            (
                "sid case",
                Box::new(|s: &mut Value| s["Sid"] = json!("mine")),
                false,
            ),
            (
                "effect",
                Box::new(|s: &mut Value| s["Effect"] = json!("Deny")),
                false,
            ),
            (
                "another principal",
                Box::new(|s: &mut Value| s["Principal"]["AWS"] = json!(["210987654321"])),
                false,
            ),
            (
                "another partition's root",
                Box::new(|s: &mut Value| {
                    s["Principal"]["AWS"] = json!([
                        "arn:aws-cn:iam::210987654321:root",
                        "arn:aws:iam::210987654321:role/LPMA_Pay_Caller"
                    ])
                }),
                false,
            ),
            (
                "resource case",
                Box::new(|s: &mut Value| s["Resource"] = json!(RUNTIME.to_uppercase())),
                false,
            ),
            (
                "operator case",
                Box::new(|s: &mut Value| {
                    s["Condition"] = json!({"stringequals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})
                }),
                false,
            ),
            (
                "condition value case",
                Box::new(|s: &mut Value| {
                    s["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": "O-A1B2C3D4E5"}})
                }),
                false,
            ),
            (
                "extra condition value",
                Box::new(|s: &mut Value| {
                    s["Condition"] =
                        json!({"StringEquals": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5", "o-other"]}})
                }),
                false,
            ),
            (
                "condition dropped",
                Box::new(|s: &mut Value| {
                    s.as_object_mut().unwrap().remove("Condition");
                }),
                false,
            ),
            (
                "unknown element",
                Box::new(|s: &mut Value| s["Extra"] = json!(1)),
                false,
            ),
            (
                "Resource vs NotResource",
                Box::new(|s: &mut Value| {
                    let r = s.as_object_mut().unwrap().remove("Resource").unwrap();
                    s["NotResource"] = r;
                }),
                false,
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(same(&*change), expected, "{name}");
        }
    }

    #[test]
    fn empty_condition_and_star_principal() {
        let a = json!({"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "r"});
        let b = json!({"Sid": "A", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:getobject"], "Resource": ["r"], "Condition": {}});
        assert!(same_statement(&a, &b, "aws"));
        let bools = json!({"Condition": {"Bool": {"aws:SecureTransport": false}}});
        let strings = json!({"Condition": {"Bool": {"aws:SecureTransport": ["false"]}}});
        assert!(same_statement(&bools, &strings, "aws"));
    }

    #[test]
    fn partition_decides_what_an_account_id_means() {
        let bare = json!({"Principal": {"AWS": "210987654321"}});
        let cn = json!({"Principal": {"AWS": "arn:aws-cn:iam::210987654321:root"}});
        assert!(same_statement(&bare, &cn, "aws-cn"));
        assert!(!same_statement(&bare, &cn, "aws"));
    }

    #[test]
    fn documents_compare_as_multisets_of_statements() {
        let a = json!({"Version": "2012-10-17", "Statement": [written(), {"Sid": "Other", "Effect": "Deny", "Principal": "*", "Action": "x:Y", "Resource": "r"}]});
        let b = json!({"Statement": [{"Resource": ["r"], "Action": ["x:y"], "Principal": {"AWS": "*"}, "Effect": "Deny", "Sid": "Other"}, normalised()], "Version": "2012-10-17"});
        assert!(same_document(&a, &b, "aws"));
        assert!(same_document_text(
            &a.to_string(),
            &serde_json::to_string_pretty(&b).unwrap(),
            "aws"
        ));
        let single = json!({"Version": "2012-10-17", "Statement": written()});
        let listed = json!({"Version": "2012-10-17", "Statement": [normalised()]});
        assert!(same_document(&single, &listed, "aws"));
        let other_version = json!({"Version": "2008-10-17", "Statement": [normalised()]});
        assert!(!same_document(&single, &other_version, "aws"));
        assert!(!same_document_text("{not json", "{not  json", "aws"));
        assert!(same_document_text("{not json", "{not json", "aws"));
    }

    #[test]
    fn a_deleted_role_shown_as_its_unique_id_is_still_the_statement() {
        let mut stored = normalised();
        stored["Principal"]["AWS"] =
            json!(["arn:aws:iam::210987654321:root", "AROAXXXXXXXXXXXXXXXXX"]);
        assert_eq!(
            match_statement(&written(), &stored, "aws"),
            StatementMatch::SameExceptUniqueIds {
                unique_ids: vec!["AROAXXXXXXXXXXXXXXXXX".into()],
                replaced: vec!["arn:aws:iam::210987654321:role/LPMA_Pay_Caller".into()],
            }
        );
        assert!(!same_statement(&written(), &stored, "aws"));

        // An account root cannot be deleted, so it never becomes a unique id.
        let mut root_only = written();
        root_only["Principal"]["AWS"] = json!("210987654321");
        let mut stored_root = root_only.clone();
        stored_root["Principal"]["AWS"] = json!("AROAXXXXXXXXXXXXXXXXX");
        assert_eq!(
            match_statement(&root_only, &stored_root, "aws"),
            StatementMatch::Different
        );

        // One id per missing principal, and nothing else may differ.
        let mut two_ids = stored.clone();
        two_ids["Principal"]["AWS"] = json!([
            "arn:aws:iam::210987654321:root",
            "AROAXXXXXXXXXXXXXXXXX",
            "AROAYYYYYYYYYYYYYYYYY"
        ]);
        assert_eq!(
            match_statement(&written(), &two_ids, "aws"),
            StatementMatch::Different
        );
        let mut other_action = stored.clone();
        other_action["Action"] = json!("bedrock-agentcore:GetAgentCard");
        assert_eq!(
            match_statement(&written(), &other_action, "aws"),
            StatementMatch::Different
        );
        let mut extra_principal = stored;
        extra_principal["Principal"]["AWS"] =
            json!(["arn:aws:iam::999999999999:root", "AROAXXXXXXXXXXXXXXXXX"]);
        assert_eq!(
            match_statement(&written(), &extra_principal, "aws"),
            StatementMatch::Different
        );
    }

    #[test]
    fn unique_ids() {
        assert!(is_unique_id("AROA3XFRBF535PLBIFPI4"));
        assert!(is_unique_id("AIDACKCEVSQ6C2EXAMPLE"));
        assert!(!is_unique_id("AROA"));
        assert!(!is_unique_id("aroa3xfrbf535plbifpi4"));
        assert!(!is_unique_id("arn:aws:iam::210987654321:root"));
        assert!(!is_unique_id("210987654321"));
    }

    #[test]
    fn non_objects_do_not_panic() {
        for odd in [
            json!(null),
            json!([1, 2]),
            json!("x"),
            json!({"Principal": 5, "Condition": "c", "Action": {"a": 1}}),
        ] {
            assert!(same_statement(&odd, &odd, "aws"));
            let _ = match_statement(&odd, &written(), "aws");
            let _ = canonical_document(&json!({"Statement": odd}), "aws");
        }
    }
}
