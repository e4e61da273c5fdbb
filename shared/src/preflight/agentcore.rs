//! AgentCore patterns 5 and 7 and the service details.
//!
//! - Pattern 5: `AWS::BedrockAgentCore::ResourcePolicy` and corebound's custom resources
//!   (`Custom::AgentCoreRuntimePolicy`, `Custom::AgentCoreMemoryGrant`,
//!   `Custom::AgentCoreInvokeGrant`) name exact ARNs: no wildcard principal or resource.
//!   ARNs are validated with the same parsers the custom resources use ([`crate::arn`]), so
//!   a value the preflight accepts is one the function accepts.
//! - Pattern 7: a role trusted by `bedrock-agentcore.amazonaws.com` for Evaluations (its
//!   trust policy names evaluator / online-evaluation-config sources, its name says
//!   Evaluation, or an Evaluator / OnlineEvaluationConfig of the template uses it) has
//!   `aws:SourceAccount`, `aws:ResourceAccount` and an `aws:SourceArn` covering
//!   `evaluator/*` and `online-evaluation-config/*`.
//! - Service: `CreateAgentRuntime` rejects `networkModeConfig.requireServiceS3Endpoint`
//!   with a ValidationException (botocore's bedrock-agentcore-control model: "Passing this
//!   field in a CreateAgentRuntime request returns a ValidationException"); CloudFormation
//!   creates runtimes with that call, so the property must be absent.

use serde_json::Value;

use super::{Certainty, Finding, PreflightSettings, Subject};
use crate::arn::{self, MemoryArn, RoleRef, RuntimeArn};
use crate::template::Resolved;

pub const RESOURCE_POLICY_TYPE: &str = "AWS::BedrockAgentCore::ResourcePolicy";
const RUNTIME_POLICY_TYPE: &str = "Custom::AgentCoreRuntimePolicy";
const MEMORY_GRANT_TYPE: &str = "Custom::AgentCoreMemoryGrant";
const INVOKE_GRANT_TYPE: &str = "Custom::AgentCoreInvokeGrant";
const AGENTCORE_PRINCIPAL: &str = "bedrock-agentcore.amazonaws.com";

pub const RESOURCE_TYPES: [&str; 6] = [
    RESOURCE_POLICY_TYPE,
    RUNTIME_POLICY_TYPE,
    MEMORY_GRANT_TYPE,
    INVOKE_GRANT_TYPE,
    "AWS::BedrockAgentCore::Runtime",
    "AWS::IAM::Role",
];

pub(crate) fn check(subject: &Subject<'_>, _settings: &PreflightSettings) -> Vec<Finding> {
    match subject.resource_type {
        RESOURCE_POLICY_TYPE => check_resource_policy(subject),
        RUNTIME_POLICY_TYPE => {
            let mut findings = exact(subject, "RuntimeArn", |text| {
                RuntimeArn::parse(text).map(|_| ())
            });
            findings.extend(exact_list(subject, "Principals", |text| {
                arn::principal_arn(text, "aws").map(|_| ())
            }));
            findings
        }
        MEMORY_GRANT_TYPE => {
            let mut findings = exact(subject, "MemoryArn", |text| {
                MemoryArn::parse(text).map(|_| ())
            });
            findings.extend(exact(subject, "RoleName", |text| {
                RoleRef::parse(text).map(|_| ())
            }));
            findings
        }
        INVOKE_GRANT_TYPE => {
            let mut findings = exact(subject, "RuntimeArn", |text| {
                RuntimeArn::parse(text).map(|_| ())
            });
            findings.extend(exact(subject, "RoleName", |text| {
                RoleRef::parse(text).map(|_| ())
            }));
            findings
        }
        "AWS::BedrockAgentCore::Runtime" => check_runtime(subject),
        "AWS::IAM::Role" => check_evaluation_trust(subject),
        _ => Vec::new(),
    }
}

/// Whether the value as written holds a `*` or `?` of its own (not one standing for a
/// pseudo parameter): a literal, or the text of a `Fn::Sub` outside its `${...}`.
fn literal_wildcard(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains(['*', '?']),
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some((name, argument)) if name == "Fn::Sub" => {
                let text = match argument {
                    Value::String(text) => text.as_str(),
                    Value::Array(parts) => parts.first().and_then(Value::as_str).unwrap_or(""),
                    _ => "",
                };
                let mut outside = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    outside.push_str(&rest[..start]);
                    rest = rest[start..]
                        .find('}')
                        .map_or("", |end| &rest[start + end + 1..]);
                }
                outside.push_str(rest);
                outside.contains(['*', '?'])
            }
            Some((name, Value::Array(parts))) if name == "Fn::Join" => parts
                .get(1)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(literal_wildcard)),
            _ => false,
        },
        _ => false,
    }
}

/// One property holding an exact ARN or name, validated by `parse` when it is known.
fn exact(
    subject: &Subject<'_>,
    property: &str,
    parse: impl Fn(&str) -> Result<(), String>,
) -> Vec<Finding> {
    let Some(value) = subject.property(property) else {
        return Vec::new(); // The function itself answers a missing required property.
    };
    judge_exact(subject, property, value, &parse)
        .into_iter()
        .collect()
}

fn exact_list(
    subject: &Subject<'_>,
    property: &str,
    parse: impl Fn(&str) -> Result<(), String>,
) -> Vec<Finding> {
    let Some(value) = subject.property(property) else {
        return Vec::new();
    };
    match subject.template.resolve(value) {
        Resolved::Known(Value::Array(items)) => items
            .iter()
            .filter_map(|item| judge_exact(subject, property, item, &parse))
            .collect(),
        _ => judge_exact(subject, property, value, &parse)
            .into_iter()
            .collect(),
    }
}

fn judge_exact(
    subject: &Subject<'_>,
    property: &str,
    value: &Value,
    parse: &impl Fn(&str) -> Result<(), String>,
) -> Option<Finding> {
    let fix = format!("give {property} the exact ARN (no * or ?): AgentCore rejects wildcards and a wildcard grant is broader than asked");
    if literal_wildcard(value) {
        return Some(subject.finding(
            "custom-resource-exact",
            Some(property),
            Certainty::Violation,
            format!("{property} contains a wildcard"),
            fix,
        ));
    }
    match subject.template.resolve(value) {
        Resolved::Known(Value::String(text)) => parse(&text).err().map(|rule| {
            subject.finding(
                "custom-resource-exact",
                Some(property),
                Certainty::Violation,
                format!("{property} {text}: {rule}"),
                fix.clone(),
            )
        }),
        // Pseudo parameters and this template's resources are exact once deployed.
        Resolved::Partial(_) | Resolved::Resource { .. } => None,
        Resolved::Unknown(reason) => Some(subject.finding(
            "custom-resource-exact",
            Some(property),
            Certainty::CannotTell,
            format!("{property} is {reason}; cannot tell whether it is an exact ARN"),
            fix,
        )),
        _ => None,
    }
}

fn check_resource_policy(subject: &Subject<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(value) = subject.property("ResourceArn") {
        if literal_wildcard(value) {
            findings.push(subject.finding(
                "resource-policy-exact",
                Some("ResourceArn"),
                Certainty::Violation,
                "ResourceArn contains a wildcard: AgentCore validates and rejects it",
                "set ResourceArn to the exact runtime, endpoint, gateway or memory ARN",
            ));
        }
    }
    let fix = "name exact principals (account root or role ARNs) and the exact resource ARN in every statement; never \"*\"";
    let policy = match subject
        .property("Policy")
        .map(|value| subject.template.resolve(value))
    {
        None => return findings,
        Some(Resolved::Known(Value::String(text))) => match serde_json::from_str::<Value>(&text) {
            Ok(policy) => policy,
            Err(_) => {
                findings.push(subject.finding(
                    "unreadable-value",
                    Some("Policy"),
                    Certainty::CannotTell,
                    "Policy is a string that is not JSON",
                    fix,
                ));
                return findings;
            }
        },
        Some(Resolved::Known(policy)) => policy,
        Some(other) => {
            findings.push(subject.finding(
                "resource-policy-exact",
                Some("Policy"),
                Certainty::CannotTell,
                format!("Policy is {other:?}; cannot tell whether its principals and resources are exact"),
                fix,
            ));
            return findings;
        }
    };
    let statements = match policy.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    };
    for (index, statement) in statements.iter().enumerate() {
        let label = statement
            .get("Sid")
            .and_then(Value::as_str)
            .map_or_else(|| format!("statement {}", index + 1), str::to_string);
        if statement.get("NotPrincipal").is_some() || statement.get("NotResource").is_some() {
            findings.push(subject.finding(
                "resource-policy-exact",
                Some("Policy"),
                Certainty::Violation,
                format!(
                    "{label} uses NotPrincipal or NotResource: everything but a list is not exact"
                ),
                fix,
            ));
        }
        let principal_wildcard = match statement.get("Principal") {
            Some(Value::String(text)) => text.contains('*'),
            Some(Value::Object(kinds)) => kinds.values().any(|names| match names {
                Value::Array(items) => items.iter().any(literal_wildcard),
                other => literal_wildcard(other),
            }),
            _ => false,
        };
        if principal_wildcard {
            findings.push(subject.finding(
                "resource-policy-exact",
                Some("Policy"),
                Certainty::Violation,
                format!("{label} has a wildcard principal: anyone could invoke"),
                fix,
            ));
        }
        let resource_wildcard = match statement.get("Resource") {
            Some(Value::Array(items)) => items.iter().any(literal_wildcard),
            Some(other) => literal_wildcard(other),
            None => false,
        };
        if resource_wildcard {
            findings.push(subject.finding(
                "resource-policy-exact",
                Some("Policy"),
                Certainty::Violation,
                format!("{label} has a wildcard resource: AgentCore validates and rejects it"),
                fix,
            ));
        }
    }
    findings
}

fn check_runtime(subject: &Subject<'_>) -> Vec<Finding> {
    let template = subject.template;
    let config = subject
        .property("NetworkConfiguration")
        .map(|value| template.resolve(value));
    let Some(Resolved::Known(config)) = config else {
        return Vec::new();
    };
    let Some(mode_config) = config.get("NetworkModeConfig") else {
        return Vec::new();
    };
    let Resolved::Known(Value::Object(mode_config)) = template.resolve(mode_config) else {
        return Vec::new();
    };
    if mode_config
        .keys()
        .any(|key| key.eq_ignore_ascii_case("RequireServiceS3Endpoint"))
    {
        return vec![subject.finding(
            "org-only-setting",
            Some("NetworkConfiguration.NetworkModeConfig"),
            Certainty::Violation,
            "RequireServiceS3Endpoint cannot be set when the runtime is created: CreateAgentRuntime rejects it with a ValidationException (it is settled at the organization level / only UpdateAgentRuntime accepts it on older runtimes)",
            "remove RequireServiceS3Endpoint from NetworkModeConfig",
        )];
    }
    Vec::new()
}

/// Pattern 7.
fn check_evaluation_trust(subject: &Subject<'_>) -> Vec<Finding> {
    let template = subject.template;
    let Some(trust) = subject.property("AssumeRolePolicyDocument") else {
        return Vec::new();
    };
    let trust = match template.resolve(trust) {
        Resolved::Known(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(_) => return Vec::new(),
        },
        Resolved::Known(value) => value,
        _ => return Vec::new(),
    };
    let statements: Vec<Value> = match trust.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    };
    let strings = |value: Option<&Value>| -> Vec<String> {
        let items = match value.map(|value| template.resolve(value)) {
            Some(Resolved::Known(Value::Array(items))) => items,
            Some(Resolved::Known(single)) => vec![single],
            Some(Resolved::Partial(pattern)) => return vec![pattern],
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
    let mut findings = Vec::new();
    for (index, statement) in statements.iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let services = strings(statement.get("Principal").and_then(|p| p.get("Service")));
        if !services
            .iter()
            .any(|service| service == AGENTCORE_PRINCIPAL)
        {
            continue;
        }
        // Condition key (lower case) → values.
        let mut conditions: Vec<(String, Vec<String>)> = Vec::new();
        if let Some(Value::Object(operators)) = statement.get("Condition") {
            for entries in operators.values() {
                if let Value::Object(entries) = entries {
                    for (key, values) in entries {
                        conditions.push((key.to_ascii_lowercase(), strings(Some(values))));
                    }
                }
            }
        }
        let source_arns: Vec<&String> = conditions
            .iter()
            .filter(|(key, _)| key == "aws:sourcearn")
            .flat_map(|(_, values)| values)
            .collect();
        let evaluation = source_arns
            .iter()
            .any(|arn| arn.contains(":evaluator/") || arn.contains(":online-evaluation-config/"))
            || role_name_says_evaluation(subject)
            || used_by_evaluations(subject);
        if !evaluation {
            continue;
        }
        let label = statement
            .get("Sid")
            .and_then(Value::as_str)
            .map_or_else(|| format!("statement {}", index + 1), str::to_string);
        let has = |key: &str| conditions.iter().any(|(name, _)| name == key);
        let mut missing = Vec::new();
        for key in ["aws:SourceAccount", "aws:ResourceAccount"] {
            if !has(&key.to_ascii_lowercase()) {
                missing.push(key.to_string());
            }
        }
        for (kind, part) in [
            ("evaluator", ":evaluator/"),
            ("online-evaluation-config", ":online-evaluation-config/"),
        ] {
            if !source_arns.iter().any(|arn| arn.contains(part)) {
                missing.push(format!("aws:SourceArn for {kind}/*"));
            }
        }
        if !missing.is_empty() {
            findings.push(subject.finding(
                "evaluation-trust",
                Some("AssumeRolePolicyDocument"),
                Certainty::Violation,
                format!(
                    "{label} lets bedrock-agentcore.amazonaws.com assume this Evaluations role without {}",
                    missing.join(", ")
                ),
                "use Condition {StringEquals: {aws:SourceAccount: !Ref AWS::AccountId, aws:ResourceAccount: !Ref AWS::AccountId}, ArnLike: {aws:SourceArn: [!Sub 'arn:${AWS::Partition}:bedrock-agentcore:${AWS::Region}:${AWS::AccountId}:evaluator/*', !Sub 'arn:${AWS::Partition}:bedrock-agentcore:${AWS::Region}:${AWS::AccountId}:online-evaluation-config/*']}} (examples/evaluations-role.yaml)",
            ));
        }
    }
    findings
}

fn role_name_says_evaluation(subject: &Subject<'_>) -> bool {
    match subject.resolved("RoleName") {
        Some(Resolved::Known(Value::String(name))) | Some(Resolved::Partial(name)) => {
            name.contains("Evaluation")
        }
        _ => false,
    }
}

/// Whether an Evaluator or OnlineEvaluationConfig of this template refers to the role.
fn used_by_evaluations(subject: &Subject<'_>) -> bool {
    if !subject.whole_template {
        return false;
    }
    subject.template.resources().iter().any(|resource| {
        matches!(
            resource.resource_type.as_str(),
            "AWS::BedrockAgentCore::Evaluator" | "AWS::BedrockAgentCore::OnlineEvaluationConfig"
        ) && refers_to(&resource.properties, subject.logical_id)
    })
}

fn refers_to(value: &Value, logical_id: &str) -> bool {
    match value {
        Value::Object(map) => {
            map.get("Ref").and_then(Value::as_str) == Some(logical_id)
                || map
                    .get("Fn::GetAtt")
                    .and_then(Value::as_array)
                    .and_then(|parts| parts.first())
                    .and_then(Value::as_str)
                    == Some(logical_id)
                || map.values().any(|value| refers_to(value, logical_id))
        }
        Value::Array(items) => items.iter().any(|item| refers_to(item, logical_id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_resource, check_template};
    use super::*;
    use crate::template::Template;
    use serde_json::json;
    use std::collections::BTreeMap;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/demo_agent-AbCdEf1234";

    fn rules(resource_type: &str, properties: Value) -> Vec<(String, Certainty)> {
        check_resource(
            "R",
            resource_type,
            &properties,
            &BTreeMap::new(),
            &PreflightSettings::default(),
        )
        .into_iter()
        .filter(|finding| finding.pattern != "tags" && finding.pattern != "1")
        .map(|finding| (finding.rule, finding.certainty))
        .collect()
    }

    #[test]
    fn resource_policies_name_exact_principals_and_resources() {
        let policy = |principal: Value, resource: &str| {
            json!({"ResourceArn": RUNTIME, "Policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": principal, "Action": "bedrock-agentcore:InvokeAgentRuntime", "Resource": resource}]}})
        };
        let exact = json!({"AWS": "arn:aws:iam::210987654321:role/LPMA_app_Caller"});
        assert_eq!(
            rules(RESOURCE_POLICY_TYPE, policy(exact.clone(), RUNTIME)),
            []
        );
        assert_eq!(
            rules(RESOURCE_POLICY_TYPE, policy(json!("*"), RUNTIME)),
            [("resource-policy-exact".into(), Certainty::Violation)]
        );
        assert_eq!(
            rules(RESOURCE_POLICY_TYPE, policy(json!({"AWS": "*"}), RUNTIME)).len(),
            1
        );
        let wildcard = RUNTIME.replace("demo_agent-AbCdEf1234", "*");
        assert_eq!(
            rules(RESOURCE_POLICY_TYPE, policy(exact.clone(), &wildcard)).len(),
            1
        );
        // A policy sent as a JSON string (hook) is read the same.
        let as_string = json!({"Policy": policy(json!("*"), RUNTIME)["Policy"].to_string()});
        assert_eq!(rules(RESOURCE_POLICY_TYPE, as_string).len(), 1);
    }

    #[test]
    fn custom_resources_are_validated_with_the_functions_parsers() {
        assert_eq!(
            rules(
                RUNTIME_POLICY_TYPE,
                json!({"RuntimeArn": RUNTIME, "Principals": ["210987654321"]})
            ),
            []
        );
        assert_eq!(
            rules(
                RUNTIME_POLICY_TYPE,
                json!({"RuntimeArn": RUNTIME, "Principals": ["*"]})
            ),
            [("custom-resource-exact".into(), Certainty::Violation)]
        );
        assert_eq!(
            rules(
                MEMORY_GRANT_TYPE,
                json!({"MemoryArn": "arn:aws:bedrock-agentcore:eu-west-1:123456789012:memory/*", "RoleName": "LPMA_x"})
            ),
            [("custom-resource-exact".into(), Certainty::Violation)]
        );
        let template = Template::parse(
            "\
Resources:
  Grant:
    Type: Custom::AgentCoreInvokeGrant
    Properties:
      ServiceToken: x
      RuntimeArn: !Sub 'arn:${AWS::Partition}:bedrock-agentcore:${AWS::Region}:${AWS::AccountId}:runtime/*'
      RoleName: !ImportValue role
",
        )
        .unwrap();
        let found: Vec<_> = check_template(&template, &PreflightSettings::default())
            .into_iter()
            .map(|finding| (finding.property.unwrap(), finding.certainty))
            .collect();
        assert_eq!(
            found,
            [
                ("RuntimeArn".to_string(), Certainty::Violation),
                ("RoleName".to_string(), Certainty::CannotTell)
            ]
        );
    }

    #[test]
    fn evaluation_roles_carry_the_three_conditions() {
        let trust = |condition: Value| {
            json!({"RoleName": "LPMA_app_EvaluationExecution", "AssumeRolePolicyDocument": {"Statement": [{
                "Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
                "Action": "sts:AssumeRole", "Condition": condition}]}})
        };
        let full = json!({
            "StringEquals": {"aws:SourceAccount": "123456789012", "aws:ResourceAccount": "123456789012"},
            "ArnLike": {"aws:SourceArn": [
                "arn:aws:bedrock-agentcore:eu-west-1:123456789012:evaluator/*",
                "arn:aws:bedrock-agentcore:eu-west-1:123456789012:online-evaluation-config/*"]}});
        assert_eq!(rules("AWS::IAM::Role", trust(full)), []);
        let partial = json!({"StringEquals": {"aws:SourceAccount": "123456789012"}});
        let found = check_resource(
            "R",
            "AWS::IAM::Role",
            &trust(partial),
            &BTreeMap::new(),
            &PreflightSettings::default(),
        );
        let finding = found.iter().find(|f| f.pattern == "7").unwrap();
        assert!(finding.message.contains("aws:ResourceAccount, aws:SourceArn for evaluator/*, aws:SourceArn for online-evaluation-config/*"), "{}", finding.message);
        // A runtime execution role (not for Evaluations) is not judged by pattern 7.
        let mut runtime = trust(json!({}));
        runtime["RoleName"] = json!("LPMA_app_AgentCoreRuntime");
        assert_eq!(rules("AWS::IAM::Role", runtime), []);
    }

    #[test]
    fn runtimes_must_not_set_the_org_only_s3_endpoint() {
        let runtime = |config: Value| json!({"NetworkConfiguration": {"NetworkMode": "VPC", "NetworkModeConfig": config}});
        assert_eq!(
            rules(
                "AWS::BedrockAgentCore::Runtime",
                runtime(json!({"Subnets": ["subnet-1"], "RequireServiceS3Endpoint": false}))
            ),
            [("org-only-setting".into(), Certainty::Violation)]
        );
        assert_eq!(
            rules(
                "AWS::BedrockAgentCore::Runtime",
                runtime(json!({"Subnets": ["subnet-1"]}))
            ),
            []
        );
    }
}
