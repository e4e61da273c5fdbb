//! Preflight: the boundary patterns (issue 14) as rules over a template or one resource,
//! run before anything exists. One rule set, three callers: `corebound check` (whole
//! templates, [`check_template`]), the CloudFormation Lambda Hook ([`check_resource`] per
//! resource with the stack's tags, [`check_template`] for a STACK payload) and
//! `corebound doctor` ([`passrole`] judges the simulator's answer).
//!
//! One file per pattern family: [`roles`] (pattern 1), [`encryption`] (patterns 8 and 4),
//! [`tags`] (the five mandatory tags), [`agentcore`] (patterns 5, 7 and the service details),
//! [`passrole`] (pattern 2). Every finding names the pattern, the resource, what is wrong and
//! the exact fix; a value that cannot be known before deployment gives
//! [`Certainty::CannotTell`], never a guess.

pub mod agentcore;
pub mod encryption;
pub mod passrole;
pub mod roles;
mod settings;
pub mod tags;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::{Resolved, Template};

pub use settings::{PreflightSettings, SettingsError};

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    /// The template as written breaks the rule.
    Violation,
    /// The rule depends on a value known only at deployment (an unresolved intrinsic): check it.
    CannotTell,
}

/// One problem found before deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The pattern of `agentcore-boundary-patterns.txt`: "1", "4/8", "tags", "5", "7",
    /// "service" or "2".
    pub pattern: String,
    /// Stable rule id (SARIF `ruleId`), one of [`RULES`].
    pub rule: String,
    pub logical_id: String,
    pub resource_type: String,
    pub message: String,
    pub fix: String,
    pub certainty: Certainty,
    /// The property the finding is about (`BucketEncryption`, `Tags`...), when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Template line of that property (or of the resource), when the template had positions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// A rule: id, pattern, one-line description (SARIF `rules[]`, docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub pattern: &'static str,
    pub summary: &'static str,
}

/// Every rule the preflight knows, in the order of the reference doc.
pub const RULES: [Rule; 12] = [
    Rule {
        id: "role-prefix",
        pattern: "1",
        summary: "IAM role names start with the required prefix",
    },
    Rule {
        id: "role-boundary",
        pattern: "1",
        summary: "IAM roles carry the configured permissions boundary",
    },
    Rule {
        id: "sam-function-role",
        pattern: "1",
        summary: "SAM functions use an explicit, prefixed role or a prefixed generated one",
    },
    Rule {
        id: "customer-managed-key",
        pattern: "4/8",
        summary: "Encrypted with a customer-managed key, never none or alias/aws/*",
    },
    Rule {
        id: "key-policy-service",
        pattern: "4/8",
        summary:
            "A key defined here lets each service using it, scoped to this account and resource",
    },
    Rule {
        id: "mandatory-tags",
        pattern: "tags",
        summary: "The mandatory tags on every taggable resource (resource plus stack tags)",
    },
    Rule {
        id: "resource-policy-exact",
        pattern: "5",
        summary: "AgentCore resource policies: no wildcard principal or resource, exact ARNs",
    },
    Rule {
        id: "custom-resource-exact",
        pattern: "5",
        summary: "corebound's custom resources name exact ARNs and roles",
    },
    Rule {
        id: "evaluation-trust",
        pattern: "7",
        summary:
            "Roles trusted by bedrock-agentcore for Evaluations carry the three scoping conditions",
    },
    Rule {
        id: "org-only-setting",
        pattern: "service",
        summary: "No organization-level AgentCore setting in CreateAgentRuntime",
    },
    Rule {
        id: "runtime-passrole",
        pattern: "2",
        summary: "The deploying principal may pass the runtime's role to bedrock-agentcore",
    },
    Rule {
        id: "unreadable-value",
        pattern: "-",
        summary: "A property the rules need has a shape they cannot read",
    },
];

/// Resource types the rules judge (the hook's default `HookTargets`): every type any rule
/// looks at, SAM and custom types excluded (a hook sees only the transformed resources and
/// AWS resource types). AgentCore's types are one wildcard, `AWS::BedrockAgentCore::*`
/// (hook target names accept `*`): it covers `AWS::BedrockAgentCore::ResourcePolicy`, which
/// the CloudFormation resource specification cfn-lint 1.51 ships does not list yet, and the
/// types AgentCore adds later. At most 50: the limit of `TargetFilters.TargetNames`.
pub fn hook_target_types() -> Vec<&'static str> {
    const AGENTCORE: &str = "AWS::BedrockAgentCore::";
    let mut types: Vec<&'static str> = known_resource_types()
        .into_iter()
        .filter(|name| name.starts_with("AWS::") && !name.starts_with("AWS::Serverless::"))
        .map(|name| {
            if name.starts_with(AGENTCORE) {
                "AWS::BedrockAgentCore::*"
            } else {
                name
            }
        })
        .collect();
    types.sort_unstable();
    types.dedup();
    types
}

/// Every resource type a rule applies to, SAM and custom types included.
pub fn known_resource_types() -> Vec<&'static str> {
    let mut types: Vec<&'static str> = Vec::new();
    types.extend(roles::RESOURCE_TYPES);
    types.extend(encryption::RESOURCE_TYPES);
    types.extend(tags::TAGGABLE.iter().map(|(name, _)| *name));
    types.extend(agentcore::RESOURCE_TYPES);
    types.sort_unstable();
    types.dedup();
    types
}

/// What a rule sees of one resource.
pub(crate) struct Subject<'a> {
    pub logical_id: &'a str,
    pub resource_type: &'a str,
    pub properties: &'a Value,
    /// The whole template, or an empty one for a single resource (hook).
    pub template: &'a Template,
    /// Whether `template` is the resource's real template (other resources can be looked at).
    pub whole_template: bool,
    pub stack_tags: &'a BTreeMap<String, String>,
}

impl Subject<'_> {
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }

    /// A property value, resolved as far as the template tells; `None` when absent.
    /// Hook properties arrive already resolved; a number or boolean may come as a string.
    pub fn resolved(&self, name: &str) -> Option<Resolved> {
        match self
            .property(name)
            .map(|value| self.template.resolve(value))
        {
            None | Some(Resolved::NoValue) => None,
            Some(Resolved::Known(Value::Null)) => None,
            other => other,
        }
    }

    pub fn finding(
        &self,
        rule: &str,
        property: Option<&str>,
        certainty: Certainty,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        let pattern = RULES
            .iter()
            .find(|known| known.id == rule)
            .map_or("-", |known| known.pattern);
        Finding {
            pattern: pattern.to_string(),
            rule: rule.to_string(),
            logical_id: self.logical_id.to_string(),
            resource_type: self.resource_type.to_string(),
            message: message.into(),
            fix: fix.into(),
            certainty,
            property: property.map(str::to_string),
            line: None,
        }
    }
}

/// Run every rule on every resource of `template` (its stack tags from
/// [`Template::add_stack_tag`]). Findings are in template order, with lines where known.
pub fn check_template(template: &Template, settings: &PreflightSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    for resource in template.resources() {
        // A resource whose condition is false for the known parameters is not created.
        if template.is_created(resource) == Some(false) {
            continue;
        }
        let subject = Subject {
            logical_id: &resource.logical_id,
            resource_type: &resource.resource_type,
            properties: &resource.properties,
            template,
            whole_template: true,
            stack_tags: template.stack_tags(),
        };
        for mut finding in check_subject(&subject, settings) {
            let path: Vec<&str> = finding
                .property
                .as_deref()
                .map(|property| property.split('.').collect())
                .unwrap_or_default();
            // A finding about the whole resource points at its logical id.
            finding.line = if path.is_empty() {
                resource.line
            } else {
                template
                    .property_line(&resource.logical_id, &path)
                    .or(resource.line)
            };
            findings.push(finding);
        }
    }
    findings
}

/// Run every rule on one resource, as the hook sees it: resolved properties, the stack's
/// tags, no other resource of the template.
pub fn check_resource(
    logical_id: &str,
    resource_type: &str,
    properties: &Value,
    stack_tags: &BTreeMap<String, String>,
    settings: &PreflightSettings,
) -> Vec<Finding> {
    let empty = Template::default();
    let subject = Subject {
        logical_id,
        resource_type,
        properties,
        template: &empty,
        whole_template: false,
        stack_tags,
    };
    check_subject(&subject, settings)
}

fn check_subject(subject: &Subject<'_>, settings: &PreflightSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(roles::check(subject, settings));
    findings.extend(encryption::check(subject, settings));
    findings.extend(tags::check(subject, settings));
    findings.extend(agentcore::check(subject, settings));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_targets_fit_the_lambda_hook_limit_and_are_real_types() {
        let types = hook_target_types();
        assert!(!types.is_empty() && types.len() <= 50, "{}", types.len());
        assert!(types.iter().all(|name| name.starts_with("AWS::")
            && !name.starts_with("AWS::Serverless::")
            && name.split("::").count() == 3
            && !name.contains("*?")));
        assert!(types.contains(&"AWS::IAM::Role"));
        assert!(types.contains(&"AWS::SNS::Topic"));
        assert!(types.contains(&"AWS::BedrockAgentCore::*"));
        assert!(!types
            .iter()
            .any(|name| name.starts_with("AWS::BedrockAgentCore::")
                && *name != "AWS::BedrockAgentCore::*"));
        // Every AWS type a rule knows is matched by one of them.
        for known in known_resource_types() {
            if known.starts_with("AWS::") && !known.starts_with("AWS::Serverless::") {
                assert!(
                    types
                        .iter()
                        .any(|target| crate::scope::glob_match(target, known)),
                    "{known}"
                );
            }
        }
    }

    #[test]
    fn every_rule_id_is_unique() {
        let mut ids: Vec<_> = RULES.iter().map(|rule| rule.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }
}
