//! The properties of `Custom::AgentCoreRuntimePolicy`, validated, and the statement they
//! describe on each target.

use serde_json::{json, Map, Value};

use super::ownership::{self, Owner, DEFAULT_SID_PREFIX};
use super::settings::{self, RuntimePolicySettings};
use super::RESOURCE_TYPE;
use crate::agentcore_actions::{
    canonical_invoke_action, invoke_family_list, DEFAULT_INVOKE_ACTION,
};
use crate::arn::{self, RuntimeArn};
use crate::custom_resource::{Properties, Request};
use crate::{Error, Result};

/// Separates runtime ARN and Sid in the PhysicalResourceId (neither can contain it).
const ID_SEPARATOR: char = '|';
const DEFAULT_ENDPOINT: &str = "DEFAULT";

/// The validated properties of one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimePolicySpec {
    pub runtime: RuntimeArn,
    pub endpoint_names: Vec<String>,
    /// Normalised principal ARNs.
    pub principals: Vec<String>,
    /// Canonical invoke-family action names.
    pub actions: Vec<String>,
    /// `Conditions` as given.
    pub conditions: Option<Map<String, Value>>,
    /// The organization whose `aws:PrincipalOrgID` condition is added because a principal's
    /// account is allowed only through it (`ALLOWED_PRINCIPAL_ACCOUNTS`).
    pub org_condition: Option<String>,
    pub statement_id: String,
    /// The Sid this resource gets when `StatementId` is not given.
    pub default_statement_id: String,
    pub owner: Owner,
}

/// How strictly the properties are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check<'a> {
    /// Create and Update: every rule, the function's settings included.
    Full(&'a RuntimePolicySettings),
    /// Delete: only what rebuilds the statement this resource wrote (the settings may have
    /// changed since, and a Delete must not fail because of that).
    Rebuild,
}

impl RuntimePolicySpec {
    /// Validate the request's `ResourceProperties`.
    pub fn from_request(request: &Request, check: Check<'_>) -> Result<Self> {
        Self::from_properties(&request.properties, request, check)
    }

    /// The spec from the request's `OldResourceProperties`, if they were valid then (they are
    /// rebuilt, not checked against today's settings).
    pub fn old_from_request(request: &Request) -> Option<Self> {
        request
            .old_properties
            .as_ref()
            .and_then(|old| Self::from_properties(old, request, Check::Rebuild).ok())
    }

    fn from_properties(
        properties: &Properties,
        request: &Request,
        check: Check<'_>,
    ) -> Result<Self> {
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
        if let Check::Full(settings) = check {
            settings
                .check_target(&runtime)
                .map_err(|rule| Error::invalid("RuntimeArn", quoted(&runtime_text), rule))?;
        }

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

        let actions = actions.unwrap_or_else(|| vec![DEFAULT_INVOKE_ACTION.to_string()]);
        if actions.is_empty() {
            return Err(Error::invalid(
                "Actions",
                "[]",
                "at least one invoke-family action (or leave Actions out for InvokeAgentRuntime)",
            ));
        }
        let actions = actions
            .iter()
            .map(|action| {
                arn::reject_wildcards(action)
                    .map_err(|rule| Error::invalid("Actions", quoted(action), rule))?;
                canonical_invoke_action(action)
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid("Actions", quoted(action), action_rule()))
            })
            .collect::<Result<Vec<_>>>()?;
        let actions = dedup(actions);

        if let Some(conditions) = &conditions {
            check_conditions(conditions)?;
        }

        let owner = Owner::new(&request.stack_id, &request.logical_resource_id);
        let default_statement_id =
            ownership::default_statement_id(&request.stack_id, &request.logical_resource_id);
        let statement_id = match statement_id {
            Some(sid) => {
                check_sid(&sid)
                    .map_err(|rule| Error::invalid("StatementId", quoted(&sid), rule))?;
                if sid.starts_with(DEFAULT_SID_PREFIX) && sid != default_statement_id {
                    return Err(Error::invalid(
                        "StatementId",
                        quoted(&sid),
                        format!("a Sid that does not start with {DEFAULT_SID_PREFIX}: that prefix is reserved for the Sids corebound derives for each resource, which prove who wrote them (leave StatementId out to get this resource's own: {default_statement_id})"),
                    ));
                }
                sid
            }
            None => default_statement_id.clone(),
        };

        let org_condition = match check {
            Check::Rebuild => None,
            Check::Full(settings) => {
                let org = settings
                    .principals
                    .check(&principals, &runtime.location.account)
                    .map_err(|(principal, rule)| {
                        Error::invalid("Principals", quoted(&principal), rule)
                    })?;
                if let Some(org) = &org {
                    settings::with_org_condition(conditions.as_ref(), org).map_err(|rule| {
                        Error::invalid(
                            "Conditions",
                            crate::custom_resource::render_value(&Value::Object(
                                conditions.clone().unwrap_or_default(),
                            )),
                            rule,
                        )
                    })?;
                }
                org
            }
        };

        Ok(RuntimePolicySpec {
            runtime,
            endpoint_names,
            principals,
            actions,
            conditions,
            org_condition,
            statement_id,
            default_statement_id,
            owner,
        })
    }

    /// The StatementId was given (its ownership is recorded in a tag).
    pub fn has_explicit_sid(&self) -> bool {
        self.statement_id != self.default_statement_id
    }

    /// The runtime's ARN, then each endpoint's.
    pub fn targets(&self) -> Vec<String> {
        std::iter::once(self.runtime.to_string())
            .chain(self.endpoint_arns())
            .collect()
    }

    pub fn endpoint_arns(&self) -> Vec<String> {
        self.endpoint_names
            .iter()
            .map(|n| self.runtime.endpoint_arn(n))
            .collect()
    }

    pub fn partition(&self) -> &str {
        &self.runtime.location.partition
    }

    /// The owned statement as it belongs in the document of `target_arn`: the resource is
    /// that exact ARN (AgentCore rejects any other resource in a resource policy).
    pub fn statement_for(&self, target_arn: &str) -> Value {
        self.statement_with_org(target_arn, self.org_condition.as_deref())
    }

    /// The statement with the organization condition of `org` (or none).
    pub fn statement_with_org(&self, target_arn: &str, org: Option<&str>) -> Value {
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
        let conditions = match org {
            Some(org) => settings::with_org_condition(self.conditions.as_ref(), org).ok(),
            None => self.conditions.clone(),
        };
        if let Some(conditions) = conditions.filter(|c| !c.is_empty()) {
            statement["Condition"] = Value::Object(conditions);
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

fn action_rule() -> String {
    format!(
        "an action of the AgentCore invoke family ({}); a runtime policy written by corebound grants invoking a runtime, never its administration",
        invoke_family_list()
    )
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

pub(super) fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom_resource::RequestType;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";

    pub(crate) fn request(properties: Value) -> Request {
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

    fn settings() -> RuntimePolicySettings {
        RuntimePolicySettings::from_values(Some("demo_*"), Some("210987654321")).unwrap()
    }

    fn spec(properties: Value) -> Result<RuntimePolicySpec> {
        RuntimePolicySpec::from_request(&request(properties), Check::Full(&settings()))
    }

    #[test]
    fn defaults() {
        let s = spec(json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"]})).unwrap();
        assert_eq!(s.endpoint_names, vec!["DEFAULT"]);
        assert_eq!(s.actions, vec![DEFAULT_INVOKE_ACTION]);
        assert_eq!(s.principals, vec!["arn:aws:iam::210987654321:root"]);
        assert!(s.statement_id.starts_with("CoreboundCrossAccountInvoke"));
        assert!(!s.has_explicit_sid());
        assert_eq!(s.org_condition, None);
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
            "Actions": ["bedrock-agentcore:invokeagentruntime"],
            "Conditions": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, "StatementId": "AllowProd"
        }))
        .unwrap();
        assert!(s.has_explicit_sid());
        assert_eq!(
            s.statement_for(RUNTIME),
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
    fn an_organization_allows_other_accounts_through_a_condition() {
        let settings =
            RuntimePolicySettings::from_values(None, Some("210987654321,o-abcdefghij")).unwrap();
        let s = RuntimePolicySpec::from_request(
            &request(json!({"RuntimeArn": RUNTIME, "Principals": ["444455556666"]})),
            Check::Full(&settings),
        )
        .unwrap();
        assert_eq!(s.org_condition.as_deref(), Some("o-abcdefghij"));
        assert_eq!(
            s.statement_for(RUNTIME)["Condition"],
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}})
        );
        let e = RuntimePolicySpec::from_request(
            &request(json!({"RuntimeArn": RUNTIME, "Principals": ["444455556666"], "Conditions": {"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}}})),
            Check::Full(&settings),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("property Conditions"), "{e}");
    }

    #[test]
    fn validation_failures_name_property_value_and_rule() {
        let cases = [
            (json!({"Principals": ["210987654321"]}), "property RuntimeArn is required"),
            (json!({"RuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*", "Principals": ["1"]}), "property RuntimeArn has value \"arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*\"; expected wildcards"),
            (json!({"RuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/pay_agent-AbCdE12345", "Principals": ["210987654321"]}), "outside this corebound installation's scope demo_*"),
            (json!({"RuntimeArn": RUNTIME}), "property Principals is required"),
            (json!({"RuntimeArn": RUNTIME, "Principals": []}), "property Principals is required"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["*"]}), "property Principals has value \"*\"; expected wildcards"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["arn:aws:iam::210987654321:user/bob"]}), "neither root nor role"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["999999999999"]}), "account 999999999999 is not allowed"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Actions": ["bedrock-agentcore:*"]}), "property Actions has value \"bedrock-agentcore:*\"; expected wildcards"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Actions": ["bedrock-agentcore:PutResourcePolicy"]}), "never its administration"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Actions": ["s3:GetObject"]}), "property Actions has value \"s3:GetObject\""),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "EndpointNames": ["arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/other-AbCdE12345/runtime-endpoint/DEFAULT"]}), "endpoints must belong to the runtime"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "EndpointNames": ["prod-*"]}), "property EndpointNames has value \"prod-*\""),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "StatementId": "my-sid"}), "property StatementId has value \"my-sid\"; expected an IAM statement id"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "StatementId": "CoreboundOtherResource12345678"}), "reserved"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Conditions": {"StringEquals": "x"}}), "property Conditions"),
            (json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Principal": "x"}), "property Principal is not a property of Custom::AgentCoreRuntimePolicy"),
        ];
        for (properties, expected) in cases {
            let e = spec(properties.clone()).unwrap_err().to_string();
            assert!(e.contains(expected), "{properties}: {e}");
        }
    }

    #[test]
    fn rebuild_ignores_the_settings_but_not_the_shape() {
        let props = json!({"RuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/pay_agent-AbCdE12345", "Principals": ["999999999999"]});
        assert!(spec(props.clone()).is_err());
        assert!(RuntimePolicySpec::from_request(&request(props), Check::Rebuild).is_ok());
        let bad = json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"], "Actions": ["bedrock-agentcore:DeleteAgentRuntime"]});
        assert!(RuntimePolicySpec::from_request(&request(bad), Check::Rebuild).is_err());
    }
}
