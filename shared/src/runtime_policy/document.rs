//! One target's resource policy: finding, adding, replacing and removing the owned statement,
//! every other statement left as the JSON value it was.

use serde_json::Value;

use super::settings::ORG_CONDITION_KEY;
use super::spec::{quoted, RuntimePolicySpec};
use super::MAX_POLICY_CHARS;
use crate::policy_compare::{match_statement, StatementMatch};
use crate::policy_document::{short_hash, PolicyDocument};
use crate::{Error, Result};

/// The statement with `sid` in `document` (none when there is no document).
pub fn find_statement(
    document: Option<&str>,
    target_arn: &str,
    sid: &str,
) -> Result<Option<Value>> {
    let Some(text) = document else {
        return Ok(None);
    };
    let document = parse(text, target_arn)?;
    Ok(document.statement(sid).cloned())
}

/// The document to write to `target_arn`: `current` with `statement` added, or replacing
/// the statement with the same Sid; every other statement unchanged. Fails when the result
/// is over AgentCore's size limit. Ownership is decided by the caller.
pub fn with_statement(current: Option<&str>, target_arn: &str, statement: Value) -> Result<String> {
    let mut document = match current {
        None => PolicyDocument::default(),
        Some(text) => parse(text, target_arn)?,
    };
    document.upsert(statement);
    let text = document.to_json();
    let chars = text.chars().count();
    if chars > MAX_POLICY_CHARS {
        return Err(Error::Rule(format!(
            "the resulting resource policy of {target_arn} would be {chars} characters, over AgentCore's limit of {MAX_POLICY_CHARS}; grant fewer principals per statement or remove unused statements"
        )));
    }
    Ok(text)
}

/// What removing the owned statement from a document leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterRemoval {
    /// The statement was not there: nothing to write.
    Unchanged,
    /// Other statements remain: write this document.
    Write(String),
    /// Nothing remains: delete the policy.
    DeletePolicy,
}

pub fn without_statement(current: &str, sid: &str) -> AfterRemoval {
    let Ok(mut document) = PolicyDocument::parse(current) else {
        // Not ours to repair: leave it alone.
        return AfterRemoval::Unchanged;
    };
    if !document.remove(sid) {
        AfterRemoval::Unchanged
    } else if document.is_empty() {
        AfterRemoval::DeletePolicy
    } else {
        AfterRemoval::Write(document.to_json())
    }
}

/// Whether `stored` is a statement `spec` wrote on `target_arn`: the statement its
/// properties describe, with the `aws:PrincipalOrgID` condition the settings add or
/// without it (the settings may have changed since), principals possibly shown as unique
/// ids. The Sid must be exactly the spec's.
pub fn written_by(spec: &RuntimePolicySpec, target_arn: &str, stored: &Value) -> StatementMatch {
    let partition = spec.partition();
    let mut candidates = vec![spec.statement_for(target_arn)];
    candidates.push(spec.statement_with_org(target_arn, None));
    if let Some(org) = stored_org(stored) {
        candidates.push(spec.statement_with_org(target_arn, Some(&org)));
    }
    let mut best = StatementMatch::Different;
    for candidate in candidates {
        match match_statement(&candidate, stored, partition) {
            StatementMatch::Same => return StatementMatch::Same,
            other @ StatementMatch::SameExceptUniqueIds { .. } => best = other,
            StatementMatch::Different => {}
        }
    }
    best
}

/// The read-back check: `document` holds `statement` (compared by meaning).
pub fn holds_statement(document: Option<&str>, statement: &Value, partition: &str) -> bool {
    let sid = statement["Sid"].as_str().unwrap_or_default();
    document
        .and_then(|text| PolicyDocument::parse(text).ok())
        .and_then(|d| d.statement(sid).cloned())
        .is_some_and(|stored| match_statement(statement, &stored, partition).is_ours())
}

/// A short hash of a document, returned as `PolicyRevision`.
pub fn revision(document: &str) -> String {
    short_hash(document)
}

/// The reason a statement with our Sid on a target cannot be taken over.
pub fn collision(target_arn: &str, sid: &str, why: &str) -> Error {
    Error::invalid(
        "StatementId",
        quoted(sid),
        format!("a Sid not already used in the resource policy of {target_arn}: a statement with this Sid exists there and {why}; nothing was written. Choose another StatementId"),
    )
}

fn stored_org(stored: &Value) -> Option<String> {
    let block = stored.get("Condition")?.get("StringEquals")?.as_object()?;
    let (_, value) = block
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(ORG_CONDITION_KEY))?;
    match value {
        Value::String(org) => Some(org.clone()),
        Value::Array(items) if items.len() == 1 => items[0].as_str().map(str::to_string),
        _ => None,
    }
}

fn parse(text: &str, target_arn: &str) -> Result<PolicyDocument> {
    PolicyDocument::parse(text).map_err(|why| {
        Error::Rule(format!(
            "the current resource policy of {target_arn} cannot be edited safely ({why}); fix or remove it first"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_policy::settings::RuntimePolicySettings;
    use crate::runtime_policy::spec::Check;
    use serde_json::json;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";

    fn owned(sid: &str, resource: &str) -> Value {
        json!({"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": resource})
    }

    #[test]
    fn merge_keeps_every_other_statement() {
        let foreign = json!({"Sid": "Foreign", "Effect": "Deny", "Principal": "*", "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": RUNTIME});
        let no_sid = json!({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "bedrock-agentcore:GetAgentCard", "Resource": RUNTIME});
        let current = json!({"Version": "2012-10-17", "Statement": [foreign.clone(), no_sid.clone(), owned("Mine", "old")]}).to_string();
        let text = with_statement(Some(&current), RUNTIME, owned("Mine", RUNTIME)).unwrap();
        let written: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            written["Statement"],
            json!([foreign, no_sid, owned("Mine", RUNTIME)])
        );
        assert!(holds_statement(Some(&text), &owned("Mine", RUNTIME), "aws"));
        assert!(
            with_statement(Some("{not json"), RUNTIME, owned("Mine", RUNTIME))
                .unwrap_err()
                .to_string()
                .contains(RUNTIME)
        );
    }

    #[test]
    fn document_at_the_size_limit() {
        let padding_for = |total: usize| {
            let filler = json!({"Sid": "Pad", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "bedrock-agentcore:GetAgentCard", "Resource": ""});
            let without = with_statement(
                Some(&json!({"Version": "2012-10-17", "Statement": [filler.clone()]}).to_string()),
                RUNTIME,
                owned("Mine", RUNTIME),
            )
            .unwrap();
            let mut filler = filler;
            filler["Resource"] = json!("r".repeat(total - without.len()));
            json!({"Version": "2012-10-17", "Statement": [filler]}).to_string()
        };
        let at_limit = with_statement(
            Some(&padding_for(MAX_POLICY_CHARS)),
            RUNTIME,
            owned("Mine", RUNTIME),
        )
        .unwrap();
        assert_eq!(at_limit.chars().count(), MAX_POLICY_CHARS);
        let e = with_statement(
            Some(&padding_for(MAX_POLICY_CHARS + 1)),
            RUNTIME,
            owned("Mine", RUNTIME),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("20481 characters") && e.contains("20480"), "{e}");
    }

    #[test]
    fn removal_table() {
        let foreign = json!({"Sid": "Foreign", "Effect": "Allow"});
        let both = json!({"Version": "2012-10-17", "Statement": [foreign.clone(), owned("Mine", RUNTIME)]}).to_string();
        match without_statement(&both, "Mine") {
            AfterRemoval::Write(text) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["Statement"], json!([foreign]));
            }
            other => panic!("{other:?}"),
        }
        let only_mine = json!({"Statement": [owned("Mine", RUNTIME)]}).to_string();
        assert_eq!(
            without_statement(&only_mine, "Mine"),
            AfterRemoval::DeletePolicy
        );
        assert_eq!(
            without_statement(&only_mine, "Other"),
            AfterRemoval::Unchanged
        );
        assert_eq!(
            without_statement("garbage", "Mine"),
            AfterRemoval::Unchanged
        );
    }

    #[test]
    fn written_by_tolerates_a_changed_org_setting() {
        let request = crate::custom_resource::Request {
            request_type: crate::custom_resource::RequestType::Create,
            request_id: "r".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/agent/1".into(),
            logical_resource_id: "Invoke".into(),
            resource_type: super::super::RESOURCE_TYPE.into(),
            physical_resource_id: None,
            properties: crate::custom_resource::Properties::from_value(
                json!({"RuntimeArn": RUNTIME, "Principals": ["444455556666"]}),
            ),
            old_properties: None,
            deadline: None,
        };
        let settings = RuntimePolicySettings::from_values(None, Some("o-abcdefghij")).unwrap();
        let with_org = RuntimePolicySpec::from_request(&request, Check::Full(&settings)).unwrap();
        let stored = with_org.statement_for(RUNTIME);
        let rebuilt = RuntimePolicySpec::from_request(&request, Check::Rebuild).unwrap();
        assert_eq!(written_by(&rebuilt, RUNTIME, &stored), StatementMatch::Same);
        let mut foreign = stored.clone();
        foreign["Effect"] = json!("Deny");
        assert_eq!(
            written_by(&rebuilt, RUNTIME, &foreign),
            StatementMatch::Different
        );
    }
}
