//! The one place the hook calls the preflight rules (`corebound::preflight`), which
//! `corebound check` runs too: the hook adds no rule of its own.

use std::collections::BTreeMap;

pub use corebound::preflight::{Certainty, Finding, PreflightSettings as RuleSettings};
use corebound::template::Template;

use crate::error::HookError;

/// The rules' settings from the same variables as `corebound check`.
pub fn settings_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<RuleSettings, String> {
    RuleSettings::from_env(lookup).map_err(|error| error.to_string())
}

/// One resource as a RESOURCE request shows it: resolved properties (numbers and booleans
/// may be strings; the rules read both), the stack's tags.
pub fn check_resource(
    logical_id: &str,
    resource_type: &str,
    properties: &serde_json::Value,
    stack_tags: &BTreeMap<String, String>,
    settings: &RuleSettings,
) -> Vec<Finding> {
    corebound::preflight::check_resource(
        logical_id,
        resource_type,
        properties,
        stack_tags,
        settings,
    )
}

/// A whole template (STACK / CHANGE_SET payload), JSON or YAML, with the stack's tags.
pub fn check_template(
    text: &str,
    stack_tags: &BTreeMap<String, String>,
    settings: &RuleSettings,
) -> Result<Vec<Finding>, HookError> {
    let mut template = Template::parse(text).map_err(|e| HookError::Template(e.to_string()))?;
    for (key, value) in stack_tags {
        template.add_stack_tag(key, value);
    }
    Ok(corebound::preflight::check_template(&template, settings))
}
