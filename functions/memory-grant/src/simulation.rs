//! `iam:SimulatePrincipalPolicy`, every page, as one [`SimulatedResult`] per (action,
//! resource): the grants' deploy-time verification and `corebound doctor` ask the simulator the
//! same way, so they read its answer the same way.

use corebound::aws::AwsFailure;
use corebound::grants::verification::ContextEntry;
use corebound::grants::{SimulatedDecision, SimulatedResult};

/// Simulates `principal_arn` (a role's or user's ARN) for `actions` on `resources` with
/// `context` (a key with several values is passed as a string list).
pub async fn simulate_principal_policy(
    client: &aws_sdk_iam::Client,
    principal_arn: &str,
    actions: &[String],
    resources: &[String],
    context: &[ContextEntry],
) -> Result<Vec<SimulatedResult>, AwsFailure> {
    let context: Vec<aws_sdk_iam::types::ContextEntry> = context
        .iter()
        .map(|entry| {
            aws_sdk_iam::types::ContextEntry::builder()
                .context_key_name(&entry.key)
                .set_context_key_values(Some(entry.values.clone()))
                .context_key_type(if entry.values.len() == 1 {
                    aws_sdk_iam::types::ContextKeyTypeEnum::String
                } else {
                    aws_sdk_iam::types::ContextKeyTypeEnum::StringList
                })
                .build()
        })
        .collect();
    let mut results = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let output = client
            .simulate_principal_policy()
            .policy_source_arn(principal_arn)
            .set_action_names(Some(actions.to_vec()))
            .set_resource_arns(Some(resources.to_vec()))
            .set_context_entries(Some(context.clone()))
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk(&e))?;
        for result in output.evaluation_results() {
            let action = result.eval_action_name();
            let top_boundary = result
                .permissions_boundary_decision_detail()
                .map(|d| d.allowed_by_permissions_boundary());
            // Organizations' answer exists per action only; missing context values are
            // listed per resource when ResourceArns were given, else at the top level.
            let organizations = result
                .organizations_decision_detail()
                .map(|d| d.allowed_by_organizations());
            let top_missing = result.missing_context_values().to_vec();
            let specific = result.resource_specific_results();
            if specific.is_empty() {
                results.push(SimulatedResult {
                    action: action.to_string(),
                    resource: result.eval_resource_name().unwrap_or("*").to_string(),
                    decision: SimulatedDecision::parse(result.eval_decision().as_str()),
                    allowed_by_boundary: top_boundary,
                    matched_policies: policy_ids(result.matched_statements()),
                    missing_context: top_missing.clone(),
                    allowed_by_organizations: organizations,
                });
            }
            for r in specific {
                let mut missing = r.missing_context_values().to_vec();
                for key in &top_missing {
                    if !missing.contains(key) {
                        missing.push(key.clone());
                    }
                }
                results.push(SimulatedResult {
                    action: action.to_string(),
                    resource: r.eval_resource_name().to_string(),
                    decision: SimulatedDecision::parse(r.eval_resource_decision().as_str()),
                    allowed_by_boundary: r
                        .permissions_boundary_decision_detail()
                        .map(|d| d.allowed_by_permissions_boundary())
                        .or(top_boundary),
                    matched_policies: policy_ids(r.matched_statements()),
                    missing_context: missing,
                    allowed_by_organizations: organizations,
                });
            }
        }
        match (output.is_truncated(), output.marker()) {
            (true, Some(next)) => marker = Some(next.to_string()),
            _ => return Ok(results),
        }
    }
}

fn policy_ids(statements: &[aws_sdk_iam::types::Statement]) -> Vec<String> {
    let mut ids: Vec<String> = statements
        .iter()
        .filter_map(|s| s.source_policy_id().map(str::to_string))
        .collect();
    ids.dedup();
    ids
}
