//! The mandatory tags on every taggable resource, from the resource's own tags plus the
//! stack's tags (CloudFormation propagates stack tags to the resources it creates) and, for
//! SAM resources, `Globals.<Section>.Tags`.
//!
//! The shape of `Tags` per type (a list of `{Key, Value}` or a map) is the one in the
//! CloudFormation resource specification cfn-lint ships (`cfnlint/data/schemas`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Certainty, Finding, PreflightSettings, Subject};
use crate::template::Resolved;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagShape {
    /// `Tags: [{Key: k, Value: v}, ...]`
    List,
    /// `Tags: {k: v, ...}`
    Map,
}

/// Taggable types the rules know, with their `Tags` shape (cfn-lint 1.51 resource spec).
pub static TAGGABLE: [(&str, TagShape); 22] = [
    ("AWS::SNS::Topic", TagShape::List),
    ("AWS::SQS::Queue", TagShape::List),
    ("AWS::Logs::LogGroup", TagShape::List),
    ("AWS::S3::Bucket", TagShape::List),
    ("AWS::SecretsManager::Secret", TagShape::List),
    ("AWS::IAM::Role", TagShape::List),
    ("AWS::KMS::Key", TagShape::List),
    ("AWS::Lambda::Function", TagShape::List),
    ("AWS::Events::Rule", TagShape::List),
    ("AWS::CloudWatch::Alarm", TagShape::List),
    ("AWS::DynamoDB::Table", TagShape::List),
    ("AWS::StepFunctions::StateMachine", TagShape::List),
    ("AWS::SSM::Parameter", TagShape::Map),
    ("AWS::BedrockAgentCore::Runtime", TagShape::Map),
    ("AWS::BedrockAgentCore::RuntimeEndpoint", TagShape::Map),
    ("AWS::BedrockAgentCore::Memory", TagShape::Map),
    ("AWS::BedrockAgentCore::Gateway", TagShape::Map),
    ("AWS::BedrockAgentCore::Evaluator", TagShape::List),
    (
        "AWS::BedrockAgentCore::OnlineEvaluationConfig",
        TagShape::List,
    ),
    (
        "AWS::BedrockAgentCore::CodeInterpreterCustom",
        TagShape::Map,
    ),
    ("AWS::BedrockAgentCore::BrowserCustom", TagShape::Map),
    ("AWS::Serverless::Function", TagShape::Map),
];

/// The SAM `Globals` section whose `Tags` apply to a SAM resource type.
fn globals_section(resource_type: &str) -> Option<&'static str> {
    match resource_type {
        "AWS::Serverless::Function" => Some("Function"),
        _ => None,
    }
}

pub(crate) fn check(subject: &Subject<'_>, settings: &PreflightSettings) -> Vec<Finding> {
    let Some((_, shape)) = TAGGABLE
        .iter()
        .find(|(resource_type, _)| *resource_type == subject.resource_type)
    else {
        return Vec::new();
    };
    // Key → value (None: a value known only at deployment).
    let mut tags: BTreeMap<String, Option<String>> = subject
        .stack_tags
        .iter()
        .map(|(key, value)| (key.clone(), Some(value.clone())))
        .collect();
    if let Some(section) = globals_section(subject.resource_type) {
        if let Some(global) = subject.template.global(section, "Tags") {
            if let Err(reason) = collect(subject, global, TagShape::Map, &mut tags) {
                return vec![cannot_tell(subject, &reason, settings)];
            }
        }
    }
    if let Some(own) = subject.property("Tags") {
        if let Err(reason) = collect(subject, own, *shape, &mut tags) {
            return vec![cannot_tell(subject, &reason, settings)];
        }
    }
    // IAM compares tag keys ignoring case; the other services do not.
    let iam = subject.resource_type == "AWS::IAM::Role";
    let find = |wanted: &str| {
        tags.iter()
            .find(|(key, _)| {
                if iam {
                    key.eq_ignore_ascii_case(wanted)
                } else {
                    key.as_str() == wanted
                }
            })
            .map(|(_, value)| value)
    };
    let missing: Vec<&str> = settings
        .required_tags
        .iter()
        .map(String::as_str)
        .filter(|wanted| find(wanted).is_none())
        .collect();
    let empty: Vec<&str> = settings
        .required_tags
        .iter()
        .map(String::as_str)
        .filter(|wanted| {
            find(wanted)
                .is_some_and(|value| value.as_deref().is_some_and(|text| text.trim().is_empty()))
        })
        .collect();
    let mut findings = Vec::new();
    if !missing.is_empty() {
        findings.push(subject.finding(
            "mandatory-tags",
            Some("Tags"),
            Certainty::Violation,
            format!(
                "missing tags {} (neither on the resource nor on the stack)",
                missing.join(", ")
            ),
            fix(subject, *shape, &missing),
        ));
    }
    if !empty.is_empty() {
        findings.push(subject.finding(
            "mandatory-tags",
            Some("Tags"),
            Certainty::Violation,
            format!("empty values for tags {}", empty.join(", ")),
            fix(subject, *shape, &empty),
        ));
    }
    findings
}

fn cannot_tell(subject: &Subject<'_>, reason: &str, settings: &PreflightSettings) -> Finding {
    let wanted: Vec<&str> = settings.required_tags.iter().map(String::as_str).collect();
    subject.finding(
        "mandatory-tags",
        Some("Tags"),
        Certainty::CannotTell,
        format!("Tags is {reason}; cannot tell whether the mandatory tags are set"),
        format!(
            "write Tags as a literal {} of {}",
            "list or map",
            wanted.join(", ")
        ),
    )
}

fn fix(subject: &Subject<'_>, shape: TagShape, keys: &[&str]) -> String {
    let example = match shape {
        TagShape::List => keys
            .iter()
            .map(|key| format!("{{Key: {key}, Value: <value>}}"))
            .collect::<Vec<_>>()
            .join(", "),
        TagShape::Map => keys
            .iter()
            .map(|key| format!("{key}: <value>"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let form = match shape {
        TagShape::List => format!("Tags: [{example}]"),
        TagShape::Map => format!("Tags: {{{example}}}"),
    };
    format!(
        "add {form} to {} (or pass them as stack tags: --tag K=V / sam deploy --tags)",
        subject.logical_id
    )
}

/// Add the keys of a `Tags` value to `tags`.
fn collect(
    subject: &Subject<'_>,
    value: &Value,
    shape: TagShape,
    tags: &mut BTreeMap<String, Option<String>>,
) -> Result<(), String> {
    let template = subject.template;
    let text = |value: Option<&Value>| match value.map(|value| template.resolve(value)) {
        Some(Resolved::Known(Value::String(text))) => Some(text),
        Some(Resolved::Known(Value::Number(number))) => Some(number.to_string()),
        Some(Resolved::Known(Value::Bool(flag))) => Some(flag.to_string()),
        _ => None,
    };
    match (template.resolve(value), shape) {
        (Resolved::NoValue, _) => Ok(()),
        (Resolved::Known(Value::Array(items)), TagShape::List) => {
            for item in &items {
                match template.resolve(item) {
                    Resolved::Known(Value::Object(entry)) => {
                        let key = text(entry.get("Key"))
                            .ok_or_else(|| "a tag whose Key is not a literal".to_string())?;
                        tags.insert(key, text(entry.get("Value")));
                    }
                    Resolved::NoValue => {}
                    Resolved::Unknown(reason) => return Err(reason),
                    _ => return Err("a list entry that is not {Key, Value}".to_string()),
                }
            }
            Ok(())
        }
        (Resolved::Known(Value::Object(entries)), TagShape::Map) => {
            for (key, value) in &entries {
                tags.insert(key.clone(), text(Some(value)));
            }
            Ok(())
        }
        (Resolved::Known(_), TagShape::List) => Err("not a list of {Key, Value}".to_string()),
        (Resolved::Known(_), TagShape::Map) => Err("not a map of key to value".to_string()),
        (Resolved::Unknown(reason), _) => Err(reason),
        (other, _) => Err(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_resource, check_template};
    use super::*;
    use crate::template::Template;
    use serde_json::json;

    fn five(except: &str) -> Vec<Value> {
        [
            "ApplicationId",
            "Environment",
            "Project",
            "ServiceLine",
            "ManagedBy",
        ]
        .iter()
        .filter(|key| **key != except)
        .map(|key| json!({"Key": key, "Value": "v"}))
        .collect()
    }

    fn tag_findings(findings: Vec<Finding>) -> Vec<String> {
        findings
            .into_iter()
            .filter(|finding| finding.pattern == "tags")
            .map(|finding| finding.message)
            .collect()
    }

    #[test]
    fn resource_tags_plus_stack_tags() {
        let settings = PreflightSettings::default();
        let none = BTreeMap::new();
        let check = |properties: Value, stack: &BTreeMap<String, String>| {
            tag_findings(check_resource(
                "Q",
                "AWS::SQS::Queue",
                &properties,
                stack,
                &settings,
            ))
        };
        assert_eq!(
            check(json!({"Tags": five("")}), &none),
            Vec::<String>::new()
        );
        assert_eq!(
            check(json!({"Tags": five("Project")}), &none),
            ["missing tags Project (neither on the resource nor on the stack)"]
        );
        let stack = BTreeMap::from([("Project".to_string(), "p".to_string())]);
        assert_eq!(
            check(json!({"Tags": five("Project")}), &stack),
            Vec::<String>::new()
        );
        let mut empty = five("Project");
        empty.push(json!({"Key": "Project", "Value": ""}));
        assert_eq!(
            check(json!({"Tags": empty}), &none),
            ["empty values for tags Project"]
        );
        // Untaggable types have no tag rule.
        assert!(tag_findings(check_resource(
            "P",
            "AWS::SQS::QueuePolicy",
            &json!({}),
            &none,
            &settings
        ))
        .is_empty());
    }

    #[test]
    fn map_shaped_tags_globals_and_intrinsics() {
        let template = Template::parse(
            "\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: prod}
Globals:
  Function:
    Tags: {ApplicationId: a, Environment: !Ref Env, Project: p}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Role: arn:aws:iam::123456789012:role/LPMA_x
      Tags: {ServiceLine: s, ManagedBy: m}
  Runtime:
    Type: AWS::BedrockAgentCore::Runtime
    Properties:
      Tags: {ApplicationId: a, Environment: e, Project: p, ServiceLine: s}
  Opaque:
    Type: AWS::SNS::Topic
    Properties:
      KmsMasterKeyId: alias/app
      Tags: !FindInMap [Tags, !Ref Env, List]
",
        )
        .unwrap();
        let findings: Vec<_> = check_template(&template, &PreflightSettings::default())
            .into_iter()
            .filter(|finding| finding.pattern == "tags")
            .map(|finding| (finding.logical_id, finding.certainty, finding.line))
            .collect();
        assert_eq!(
            findings,
            [
                ("Runtime".to_string(), Certainty::Violation, Some(16)),
                ("Opaque".to_string(), Certainty::CannotTell, Some(21)),
            ]
        );
    }

    #[test]
    fn iam_tag_keys_ignore_case() {
        let tags: Vec<Value> = five("Project")
            .into_iter()
            .chain([json!({"Key": "project", "Value": "p"})])
            .collect();
        let findings = check_resource(
            "R",
            "AWS::IAM::Role",
            &json!({"Tags": tags}),
            &BTreeMap::new(),
            &PreflightSettings::default(),
        );
        assert!(tag_findings(findings).is_empty());
    }
}
