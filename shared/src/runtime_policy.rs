//! `Custom::AgentCoreRuntimePolicy`: the statement corebound owns inside the resource-based
//! policy of an AgentCore runtime and its endpoints.
//!
//! CloudFormation's native resource writes the whole document, so two stacks granting access
//! to one runtime overwrite each other. Here each resource owns exactly one statement (by
//! `Sid`) in each target document and leaves every other statement untouched.

use serde_json::{json, Map, Value};

use crate::arn::{self, RuntimeArn};
use crate::custom_resource::{Properties, Request};
use crate::policy_document::{short_hash, PolicyDocument};
use crate::{Error, Result};

pub const RESOURCE_TYPE: &str = "Custom::AgentCoreRuntimePolicy";

/// AgentCore's limit on a resource policy document, in characters.
pub const MAX_POLICY_CHARS: usize = 20_480;

/// Separates runtime ARN and Sid in the PhysicalResourceId (neither can contain it).
const ID_SEPARATOR: char = '|';

const DEFAULT_ENDPOINT: &str = "DEFAULT";
const DEFAULT_ACTION: &str = "bedrock-agentcore:InvokeAgentRuntime";

/// The validated properties of one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimePolicySpec {
    pub runtime: RuntimeArn,
    pub endpoint_names: Vec<String>,
    /// Normalised principal ARNs.
    pub principals: Vec<String>,
    pub actions: Vec<String>,
    pub conditions: Option<Map<String, Value>>,
    pub statement_id: String,
}

impl RuntimePolicySpec {
    /// Validate the properties of `request` (new ones, or with `old` the previous ones).
    pub fn from_request(request: &Request) -> Result<Self> {
        Self::from_properties(&request.properties, request)
    }

    /// The spec from the request's `OldResourceProperties`, if they were valid.
    pub fn old_from_request(request: &Request) -> Option<Self> {
        request
            .old_properties
            .as_ref()
            .and_then(|old| Self::from_properties(old, request).ok())
    }

    fn from_properties(properties: &Properties, request: &Request) -> Result<Self> {
        let mut r = properties.reader(RESOURCE_TYPE);
        let runtime_text = r.required_string(
            "RuntimeArn",
            "an exact AgentCore runtime ARN arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<runtime-id>",
        )?;
        let endpoint_names = r.string_list("EndpointNames")?;
        let principals = r.string_list("Principals")?;
        let actions = r.string_list("Actions")?;
        let conditions = r.object("Conditions")?;
        let statement_id = r.string("StatementId")?;
        r.finish()?;

        let runtime = RuntimeArn::parse(&runtime_text)
            .map_err(|rule| Error::invalid("RuntimeArn", quoted(&runtime_text), rule))?;

        let endpoint_names = endpoint_names.unwrap_or_else(|| vec![DEFAULT_ENDPOINT.to_string()]);
        for name in &endpoint_names {
            if name.starts_with("arn:") {
                let rule = if name.starts_with(&format!("{runtime}/runtime-endpoint/")) {
                    "give the endpoint's name, not its ARN".to_string()
                } else {
                    format!(
                        "endpoints must belong to the runtime {runtime}; give endpoint names only"
                    )
                };
                return Err(Error::invalid("EndpointNames", quoted(name), rule));
            }
            arn::check_endpoint_name(name)
                .map_err(|rule| Error::invalid("EndpointNames", quoted(name), rule))?;
        }
        let endpoint_names = dedup(endpoint_names);

        let principals = principals.unwrap_or_default();
        if principals.is_empty() {
            return Err(Error::MissingProperty {
                property: "Principals".into(),
                expected: "at least one 12-digit account id, account root ARN or IAM role ARN"
                    .into(),
            });
        }
        let principals = principals
            .iter()
            .map(|p| {
                arn::principal_arn(p, &runtime.location.partition)
                    .map_err(|rule| Error::invalid("Principals", quoted(p), rule))
            })
            .collect::<Result<Vec<_>>>()?;
        let principals = dedup(principals);

        let actions = actions.unwrap_or_else(|| vec![DEFAULT_ACTION.to_string()]);
        if actions.is_empty() {
            return Err(Error::invalid("Actions", "[]", "at least one bedrock-agentcore: action (or leave Actions out for InvokeAgentRuntime)"));
        }
        for action in &actions {
            check_action(action).map_err(|rule| Error::invalid("Actions", quoted(action), rule))?;
        }
        let actions = dedup(actions);

        if let Some(conditions) = &conditions {
            check_conditions(conditions)?;
        }

        let statement_id = match statement_id {
            Some(sid) => {
                check_sid(&sid)
                    .map_err(|rule| Error::invalid("StatementId", quoted(&sid), rule))?;
                sid
            }
            None => default_statement_id(&request.stack_id, &request.logical_resource_id),
        };

        Ok(RuntimePolicySpec {
            runtime,
            endpoint_names,
            principals,
            actions,
            conditions,
            statement_id,
        })
    }

    /// The runtime's ARN, then each endpoint's.
    pub fn targets(&self) -> Vec<String> {
        std::iter::once(self.runtime.to_string())
            .chain(
                self.endpoint_names
                    .iter()
                    .map(|n| self.runtime.endpoint_arn(n)),
            )
            .collect()
    }

    pub fn endpoint_arns(&self) -> Vec<String> {
        self.endpoint_names
            .iter()
            .map(|n| self.runtime.endpoint_arn(n))
            .collect()
    }

    /// The owned statement as it belongs in the document of `target_arn`: the resource is
    /// that exact ARN (AgentCore rejects any other resource in a resource policy).
    pub fn statement_for(&self, target_arn: &str) -> Value {
        let principal = match self.principals.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let action = match self.actions.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let mut statement = json!({
            "Sid": self.statement_id,
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": action,
            "Resource": target_arn,
        });
        if let Some(conditions) = &self.conditions {
            statement["Condition"] = Value::Object(conditions.clone());
        }
        statement
    }

    pub fn physical_id(&self) -> String {
        physical_id(&self.runtime, &self.statement_id)
    }
}

pub fn physical_id(runtime: &RuntimeArn, statement_id: &str) -> String {
    format!("{runtime}{ID_SEPARATOR}{statement_id}")
}

/// What a PhysicalResourceId identifies: the runtime and the owned Sid.
pub fn parse_physical_id(id: &str) -> Option<(RuntimeArn, String)> {
    let (runtime, sid) = id.split_once(ID_SEPARATOR)?;
    let runtime = RuntimeArn::parse(runtime).ok()?;
    check_sid(sid).ok()?;
    Some((runtime, sid.to_string()))
}

/// Deterministic from the stack and logical id, valid as an IAM Sid (letters and digits).
pub fn default_statement_id(stack_id: &str, logical_resource_id: &str) -> String {
    let logical: String = logical_resource_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(48)
        .collect();
    format!("Corebound{logical}{}", &short_hash(stack_id)[..8])
}

/// Who may already hold the Sid in a target document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The statement is ours (an update of this resource): replace it.
    Owned,
    /// A new claim (create or replacement): an existing, different statement with the same
    /// Sid belongs to someone else.
    New,
}

/// The document to write to `target_arn`: `current` with the owned statement added or
/// replaced, every other statement unchanged.
pub fn with_owned_statement(
    current: Option<&str>,
    target_arn: &str,
    statement: Value,
    ownership: Ownership,
) -> Result<String> {
    let mut document = match current {
        None => PolicyDocument::default(),
        Some(text) => PolicyDocument::parse(text).map_err(|why| {
            Error::Rule(format!(
                "the current resource policy of {target_arn} cannot be edited safely ({why}); fix or remove it first"
            ))
        })?,
    };
    let sid = statement["Sid"].as_str().unwrap_or_default().to_string();
    if ownership == Ownership::New {
        if let Some(existing) = document.statement(&sid) {
            if existing != &statement {
                return Err(Error::invalid(
                    "StatementId",
                    quoted(&sid),
                    format!("a Sid not already used in the resource policy of {target_arn}: a statement with this Sid exists there and is not owned by this resource; choose another StatementId"),
                ));
            }
        }
    }
    document.upsert(statement);
    let text = document.to_json();
    if text.chars().count() > MAX_POLICY_CHARS {
        return Err(Error::Rule(format!(
            "the resulting resource policy of {target_arn} would be {} characters, over AgentCore's limit of {MAX_POLICY_CHARS}; grant fewer principals per statement or remove unused statements",
            text.chars().count()
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

pub fn without_owned_statement(current: &str, sid: &str) -> AfterRemoval {
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

/// Whether `document` holds exactly `statement` (the read-back check).
pub fn holds_statement(document: Option<&str>, statement: &Value) -> bool {
    let sid = statement["Sid"].as_str().unwrap_or_default();
    document
        .and_then(|text| PolicyDocument::parse(text).ok())
        .is_some_and(|d| d.statement(sid) == Some(statement))
}

/// A short hash of a document, returned as `PolicyRevision`.
pub fn revision(document: &str) -> String {
    short_hash(document)
}

fn check_action(action: &str) -> std::result::Result<(), String> {
    arn::reject_wildcards(action)?;
    let Some(name) = action.strip_prefix("bedrock-agentcore:") else {
        return Err("an action of the bedrock-agentcore: service (e.g. bedrock-agentcore:InvokeAgentRuntime); a runtime's resource policy cannot grant other services' actions".into());
    };
    let mut chars = name.chars();
    if matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
    {
        Ok(())
    } else {
        Err("a concrete action name after bedrock-agentcore: (e.g. InvokeAgentRuntime)".into())
    }
}

fn check_sid(sid: &str) -> std::result::Result<(), String> {
    if !sid.is_empty() && sid.len() <= 100 && sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("an IAM statement id: 1-100 letters and digits only".into())
    }
}

fn check_conditions(conditions: &Map<String, Value>) -> Result<()> {
    for (operator, block) in conditions {
        if !block.is_object() {
            return Err(Error::invalid(
                "Conditions",
                crate::custom_resource::render_value(&Value::Object(conditions.clone())),
                format!("an IAM Condition block: each operator (here {operator}) maps to an object of condition keys, e.g. {{\"StringEquals\": {{\"aws:PrincipalOrgID\": \"o-abc123\"}}}}"),
            ));
        }
    }
    Ok(())
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom_resource::RequestType;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";

    fn request(properties: Value) -> Request {
        Request {
            request_type: RequestType::Create,
            request_id: "r".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/agent/1".into(),
            logical_resource_id: "CrossAccountInvoke".into(),
            resource_type: RESOURCE_TYPE.into(),
            physical_resource_id: None,
            properties: Properties::from_value(properties),
            old_properties: None,
            deadline: None,
        }
    }

    fn spec(properties: Value) -> Result<RuntimePolicySpec> {
        RuntimePolicySpec::from_request(&request(properties))
    }

    #[test]
    fn defaults() {
        let s = spec(json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"]})).unwrap();
        assert_eq!(s.endpoint_names, vec!["DEFAULT"]);
        assert_eq!(s.actions, vec![DEFAULT_ACTION]);
        assert_eq!(s.principals, vec!["arn:aws:iam::210987654321:root"]);
        assert!(s.statement_id.starts_with("CoreboundCrossAccountInvoke"));
        assert_eq!(
            s.statement_id,
            default_statement_id(&request(json!({})).stack_id, "CrossAccountInvoke")
        );
        assert_eq!(
            s.targets(),
            vec![
                RUNTIME.to_string(),
                format!("{RUNTIME}/runtime-endpoint/DEFAULT")
            ]
        );
        assert_eq!(
            parse_physical_id(&s.physical_id()).unwrap(),
            (s.runtime.clone(), s.statement_id.clone())
        );
    }

    #[test]
    fn empty_endpoint_list_means_the_runtime_only() {
        let s = spec(
            json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "EndpointNames": []}),
        )
        .unwrap();
        assert_eq!(s.targets(), vec![RUNTIME.to_string()]);
    }

    #[test]
    fn statement_shape() {
        let s = spec(json!({
            "RuntimeArn": RUNTIME, "Principals": ["210987654321", "arn:aws:iam::210987654321:role/LPMA_App_Invoker"],
            "Conditions": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, "StatementId": "AllowProd"
        }))
        .unwrap();
        let st = s.statement_for(RUNTIME);
        assert_eq!(
            st,
            json!({
                "Sid": "AllowProd", "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::210987654321:root", "arn:aws:iam::210987654321:role/LPMA_App_Invoker"]},
                "Action": "bedrock-agentcore:InvokeAgentRuntime",
                "Resource": RUNTIME,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
            })
        );
    }

    #[test]
    fn validation_failures_name_property_value_and_rule() {
        let cases = [
            (json!({"Principals": ["210987654321"]}), "property RuntimeArn is required"),
            (json!({"RuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*", "Principals": ["1"]}), "property RuntimeArn has value \"arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*\"; expected wildcards"),
            (json!({"RuntimeArn": RUNTIME}), "property Principals is required"),
            (json!({"RuntimeArn": RUNTIME, "Principals": []}), "property Principals is required"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["*"]}), "property Principals has value \"*\"; expected wildcards"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["arn:aws:iam::210987654321:user/bob"]}), "neither root nor role"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Actions": ["bedrock-agentcore:*"]}), "property Actions has value \"bedrock-agentcore:*\"; expected wildcards"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Actions": ["s3:GetObject"]}), "property Actions has value \"s3:GetObject\"; expected an action of the bedrock-agentcore: service"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "EndpointNames": ["arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/other-AbCdE12345/runtime-endpoint/DEFAULT"]}), "endpoints must belong to the runtime"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "EndpointNames": ["prod-*"]}), "property EndpointNames has value \"prod-*\""),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "StatementId": "my-sid"}), "property StatementId has value \"my-sid\"; expected an IAM statement id"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Conditions": {"StringEquals": "x"}}), "property Conditions"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Principal": "x"}), "property Principal is not a property of Custom::AgentCoreRuntimePolicy"),
        ];
        for (properties, expected) in cases {
            let e = spec(properties.clone()).unwrap_err().to_string();
            assert!(e.contains(expected), "{properties}: {e}");
        }
    }

    fn owned(sid: &str, resource: &str) -> Value {
        json!({"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": resource})
    }

    #[test]
    fn merge_table() {
        let foreign = json!({"Sid": "Foreign", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": RUNTIME});
        let no_sid = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "bedrock-agentcore:GetAgentCard", "Resource": RUNTIME});
        let doc = |statements: Vec<Value>| {
            json!({"Version": "2012-10-17", "Statement": statements}).to_string()
        };
        struct Case {
            name: &'static str,
            current: Option<String>,
            ownership: Ownership,
            expect_statements: Option<Vec<Value>>, // None: an error is expected
        }
        let mine = owned("Mine", RUNTIME);
        let mine_old = json!({"Sid": "Mine", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": RUNTIME});
        let cases = [
            Case {
                name: "empty document",
                current: None,
                ownership: Ownership::New,
                expect_statements: Some(vec![mine.clone()]),
            },
            Case {
                name: "foreign statements kept",
                current: Some(doc(vec![foreign.clone(), no_sid.clone()])),
                ownership: Ownership::New,
                expect_statements: Some(vec![foreign.clone(), no_sid.clone(), mine.clone()]),
            },
            Case {
                name: "own statement changed in place",
                current: Some(doc(vec![mine_old.clone(), foreign.clone()])),
                ownership: Ownership::Owned,
                expect_statements: Some(vec![mine.clone(), foreign.clone()]),
            },
            Case {
                name: "duplicate Sid owned by someone else",
                current: Some(doc(vec![mine_old.clone()])),
                ownership: Ownership::New,
                expect_statements: None,
            },
            Case {
                name: "identical statement on a retried create",
                current: Some(doc(vec![mine.clone()])),
                ownership: Ownership::New,
                expect_statements: Some(vec![mine.clone()]),
            },
            Case {
                name: "unparseable current document",
                current: Some("{not json".into()),
                ownership: Ownership::Owned,
                expect_statements: None,
            },
        ];
        for case in cases {
            let result = with_owned_statement(
                case.current.as_deref(),
                RUNTIME,
                mine.clone(),
                case.ownership,
            );
            match (result, case.expect_statements) {
                (Ok(text), Some(expected)) => {
                    let written: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(
                        written["Statement"],
                        Value::Array(expected),
                        "{}",
                        case.name
                    );
                    assert_eq!(written["Version"], "2012-10-17", "{}", case.name);
                    assert!(holds_statement(Some(&text), &mine), "{}", case.name);
                }
                (Err(e), None) => {
                    let e = e.to_string();
                    assert!(e.contains(RUNTIME), "{}: {e}", case.name);
                }
                (other, expected) => panic!("{}: got {other:?}, expected {expected:?}", case.name),
            }
        }
    }

    #[test]
    fn collision_reason_names_property_value_and_rule() {
        let current = json!({"Statement": [owned("Mine", "x")]}).to_string();
        let e = with_owned_statement(
            Some(&current),
            RUNTIME,
            owned("Mine", RUNTIME),
            Ownership::New,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "property StatementId has value \"Mine\"; expected a Sid not already used"
            ),
            "{e}"
        );
        assert!(e.contains("not owned by this resource"));
    }

    #[test]
    fn document_at_the_size_limit() {
        let base =
            with_owned_statement(None, RUNTIME, owned("Mine", RUNTIME), Ownership::New).unwrap();
        // Pad a foreign statement so the result is exactly at the limit, then one over.
        let padding_for = |total: usize| {
            let filler = json!({"Sid": "Pad", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "bedrock-agentcore:GetAgentCard", "Resource": ""});
            let without = with_owned_statement(
                Some(&json!({"Version": "2012-10-17", "Statement": [filler.clone()]}).to_string()),
                RUNTIME,
                owned("Mine", RUNTIME),
                Ownership::New,
            )
            .unwrap();
            let mut filler = filler;
            filler["Resource"] = json!("r".repeat(total - without.len()));
            json!({"Version": "2012-10-17", "Statement": [filler]}).to_string()
        };
        assert!(base.len() < MAX_POLICY_CHARS);
        let at_limit = with_owned_statement(
            Some(&padding_for(MAX_POLICY_CHARS)),
            RUNTIME,
            owned("Mine", RUNTIME),
            Ownership::New,
        )
        .unwrap();
        assert_eq!(at_limit.chars().count(), MAX_POLICY_CHARS);
        let e = with_owned_statement(
            Some(&padding_for(MAX_POLICY_CHARS + 1)),
            RUNTIME,
            owned("Mine", RUNTIME),
            Ownership::New,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("20481 characters") && e.contains("20480"), "{e}");
    }

    #[test]
    fn removal_table() {
        let foreign = json!({"Sid": "Foreign", "Effect": "Allow"});
        let both = json!({"Version": "2012-10-17", "Statement": [foreign.clone(), owned("Mine", RUNTIME)]}).to_string();
        match without_owned_statement(&both, "Mine") {
            AfterRemoval::Write(text) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["Statement"], json!([foreign]));
            }
            other => panic!("{other:?}"),
        }
        let only_mine = json!({"Statement": [owned("Mine", RUNTIME)]}).to_string();
        assert_eq!(
            without_owned_statement(&only_mine, "Mine"),
            AfterRemoval::DeletePolicy
        );
        assert_eq!(
            without_owned_statement(&only_mine, "Other"),
            AfterRemoval::Unchanged
        );
        assert_eq!(
            without_owned_statement("garbage", "Mine"),
            AfterRemoval::Unchanged
        );
    }
}
