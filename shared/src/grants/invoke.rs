//! `Custom::AgentCoreInvokeGrant`: an inline policy that lets a role invoke one runtime (and
//! the named endpoints of it) with the actions of the invoke family
//! ([`crate::agentcore_actions`], shared with runtime policies), served by the `memory-grant` function alongside
//! `Custom::AgentCoreMemoryGrant` (see [`crate::grants::common`] for what both share).
//!
//! The default policy name does not depend on the runtime ARN, so when a runtime is deleted and
//! recreated (its id changes) and `RuntimeArn` follows it through `!GetAtt`, the same inline
//! policy is rewritten in place to name only the new runtime.

use crate::agentcore_actions::{
    canonical_invoke_action, invoke_family_list, DEFAULT_INVOKE_ACTION, INVOKE_FAMILY,
};
use crate::arn::{self, RuntimeArn};
use crate::custom_resource::{Properties, Request};
use crate::grants::common::{quoted, read_common, Grant, GrantKind, StackLocation, Target};
use crate::grants::SERVICE_PREFIX;
use crate::{Error, Result};

pub const RESOURCE_TYPE: &str = "Custom::AgentCoreInvokeGrant";

/// The action granted when `Actions` is not given.
pub const INVOKE_ACTION: &str = DEFAULT_INVOKE_ACTION;

const DEFAULT_ENDPOINT: &str = "DEFAULT";

pub(crate) fn invoke_grant(
    request: &Request,
    properties: &Properties,
    stack: &StackLocation,
) -> Result<Grant> {
    let mut r = properties.reader(RESOURCE_TYPE);
    let common = read_common(&mut r, request, stack, "AgentCoreInvoke")?;
    let runtime_text = r.required_string(
        "RuntimeArn",
        "an exact AgentCore runtime ARN arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<runtime-id> (usually !GetAtt of the runtime)",
    )?;
    let endpoint_names = r.string_list("EndpointNames")?;
    let actions = r.string_list("Actions")?;
    let require_ready = r.bool("RequireReady")?.unwrap_or(true);
    r.finish()?;

    let runtime = RuntimeArn::parse(runtime_text.trim())
        .map_err(|rule| Error::invalid("RuntimeArn", quoted(&runtime_text), rule))?;
    if runtime.location.partition != stack.partition {
        return Err(Error::invalid(
            "RuntimeArn",
            quoted(&runtime_text),
            format!(
                "a runtime in the stack's partition {}: a role cannot be granted resources of another partition",
                stack.partition
            ),
        ));
    }
    let endpoint_names = endpoint_names.unwrap_or_else(|| vec![DEFAULT_ENDPOINT.to_string()]);
    let mut resources = vec![runtime.to_string()];
    for name in &endpoint_names {
        let name = name.trim();
        if name.starts_with("arn:") {
            return Err(Error::invalid(
                "EndpointNames",
                quoted(name),
                "an endpoint's name (e.g. DEFAULT), not its ARN: the endpoint ARNs are derived from RuntimeArn",
            ));
        }
        arn::check_endpoint_name(name)
            .map_err(|rule| Error::invalid("EndpointNames", quoted(name), rule))?;
        let endpoint = runtime.endpoint_arn(name);
        if !resources.contains(&endpoint) {
            resources.push(endpoint);
        }
    }
    let actions = match actions {
        None => vec![INVOKE_ACTION.to_string()],
        Some(actions) => invoke_actions(&actions)?,
    };
    if require_ready {
        readiness_checkable(&runtime, stack)?;
    }
    let target = Target::new(
        "runtime",
        runtime.to_string(),
        &runtime.runtime_id,
        &runtime.location,
    );
    Ok(Grant {
        kind: GrantKind::Invoke,
        role_name: common.role_name,
        role_arn: common.role_arn,
        policy_name: common.policy_name,
        actions,
        resources,
        verify: common.verify,
        require_ready: require_ready.then_some(runtime),
        target,
        owner: String::new(),
        stack: stack.clone(),
    })
}

/// Validate an explicit `Actions` list: each an action of the invoke family, with or without
/// the `bedrock-agentcore:` prefix, in any letter case. The result is in the family's order,
/// so reordering the list does not change the written document.
fn invoke_actions(actions: &[String]) -> Result<Vec<String>> {
    if actions.is_empty() {
        return Err(Error::invalid(
            "Actions",
            "[]",
            "at least one action of the invoke family (or leave Actions out for InvokeAgentRuntime)",
        ));
    }
    let mut chosen = Vec::new();
    for given in actions {
        let text = given.trim();
        let full = if text.contains(':') {
            text.to_string()
        } else {
            format!("{SERVICE_PREFIX}:{text}")
        };
        let canonical = canonical_invoke_action(&full).ok_or_else(|| {
            Error::invalid(
                "Actions",
                quoted(given),
                format!(
                    "actions of the AgentCore invoke family only (no wildcards, no control-plane actions), each one of: {}",
                    invoke_family_list()
                ),
            )
        })?;
        if !chosen.contains(&canonical) {
            chosen.push(canonical);
        }
    }
    Ok(INVOKE_FAMILY
        .iter()
        .map(|(action, _)| *action)
        .filter(|a| chosen.contains(a))
        .map(str::to_string)
        .collect())
}

/// Why a runtime that is not READY fails the grant (the smoke test of `RequireReady`).
pub fn not_ready_reason(
    runtime: &RuntimeArn,
    status: &str,
    failure_reason: Option<&str>,
) -> String {
    let detail = failure_reason
        .filter(|r| !r.is_empty())
        .map(|r| format!(" (AgentCore says: {r})"))
        .unwrap_or_default();
    format!(
        "RequireReady: runtime {runtime} has status {status}{detail}, not READY, so it cannot be invoked yet; wait until it is READY (or fix the runtime) and retry, or set RequireReady to false to grant anyway"
    )
}

/// Whether `GetAgentRuntime` can see the runtime with the function's own credentials: it
/// takes a runtime id, answered from the caller's account.
pub fn readiness_checkable(runtime: &RuntimeArn, stack: &StackLocation) -> Result<()> {
    if runtime.location.account == stack.account {
        return Ok(());
    }
    Err(Error::invalid(
        "RequireReady",
        "true",
        format!(
            "false for a runtime in another account ({}): the readiness check calls bedrock-agentcore:GetAgentRuntime, which only sees runtimes of the stack's account {}; the runtime owner's stack should check its readiness",
            runtime.location.account, stack.account
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom_resource::{Properties, RequestType};
    use crate::grants::common::{GrantSettings, GENERIC_RESOURCE_TYPE};
    use crate::policy_document::short_hash;
    use serde_json::{json, Value};

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/0f1e2d3c-aaaa-bbbb-cccc-000000000000";
    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";
    const ROLE: &str = "LPMA_Demo_AlertDispatcher";

    fn grant(resource_type: &str, properties: Value) -> Result<Grant> {
        let request = Request {
            request_type: RequestType::Create,
            request_id: "r".into(),
            stack_id: STACK.into(),
            logical_resource_id: "InvokeGrant".into(),
            resource_type: resource_type.into(),
            physical_resource_id: None,
            properties: Properties::from_value(properties),
            old_properties: None,
            deadline: None,
        };
        let settings = GrantSettings {
            required_role_prefix: "LPMA_".into(),
            ..GrantSettings::default()
        };
        Grant::from_request(&request, &settings)
    }

    #[test]
    fn defaults() {
        let g = grant(
            RESOURCE_TYPE,
            json!({"RoleName": ROLE, "RuntimeArn": RUNTIME}),
        )
        .unwrap();
        assert_eq!(g.kind, GrantKind::Invoke);
        assert_eq!(
            g.policy_name,
            format!("AgentCoreInvoke-InvokeGrant-{}", short_hash(STACK))
        );
        assert_eq!(g.actions, vec![INVOKE_ACTION.to_string()]);
        assert_eq!(
            g.resources,
            vec![
                RUNTIME.to_string(),
                format!("{RUNTIME}/runtime-endpoint/DEFAULT")
            ]
        );
        assert_eq!(
            g.require_ready.as_ref().map(|r| r.to_string()).as_deref(),
            Some(RUNTIME)
        );
        assert!(g.verify);
        assert_eq!(g.actions_value(), INVOKE_ACTION);
        let owner = crate::grants::ownership::owner_id(STACK, "InvokeGrant");
        assert_eq!(g.owner, owner);
        assert_eq!(
            g.document(),
            json!({"Version": "2012-10-17", "Statement": [{"Sid": format!("AgentCoreInvokeRuntime{owner}"),
                "Effect": "Allow", "Action": INVOKE_ACTION, "Resource": g.resources}]})
        );
    }

    #[test]
    fn actions_of_the_invoke_family() {
        let g = grant(
            RESOURCE_TYPE,
            json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "Actions": [
                "GetAgentCard", "bedrock-agentcore:invokeagentruntimeforuser", "InvokeAgentRuntime", "GetAgentCard"]}),
        )
        .unwrap();
        assert_eq!(
            g.actions,
            vec![
                "bedrock-agentcore:InvokeAgentRuntime",
                "bedrock-agentcore:InvokeAgentRuntimeForUser",
                "bedrock-agentcore:GetAgentCard"
            ]
        );
        assert_eq!(
            g.requests().len(),
            6,
            "each action on the runtime and DEFAULT"
        );
        for (bad, text) in [
            (
                json!(["bedrock-agentcore:PutResourcePolicy"]),
                "PutResourcePolicy",
            ),
            (json!(["DeleteAgentRuntime"]), "no control-plane actions"),
            (json!(["bedrock-agentcore:Invoke*"]), "no wildcards"),
            (json!(["s3:GetObject"]), "s3:GetObject"),
            (json!([]), "at least one action of the invoke family"),
        ] {
            let e = grant(
                RESOURCE_TYPE,
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "Actions": bad}),
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with("property Actions has value") && e.contains(text),
                "{e}"
            );
        }
    }

    #[test]
    fn a_recreated_runtime_keeps_the_policy_name_and_physical_id() {
        let before = grant(
            RESOURCE_TYPE,
            json!({"RoleName": ROLE, "RuntimeArn": RUNTIME}),
        )
        .unwrap();
        let recreated = RUNTIME.replace("AbCdE12345", "ZzYyX98765");
        let after = grant(
            RESOURCE_TYPE,
            json!({"RoleName": ROLE, "RuntimeArn": recreated}),
        )
        .unwrap();
        assert_eq!(before.physical_id(), after.physical_id());
        assert!(after.document_text().contains("ZzYyX98765"));
        assert!(!after.document_text().contains("AbCdE12345"));
    }

    #[test]
    fn endpoints_and_flags() {
        let g = grant(
            GENERIC_RESOURCE_TYPE,
            json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "EndpointNames": ["prod", "DEFAULT", "prod"],
                "RequireReady": "false", "Verify": "false"}),
        )
        .unwrap();
        assert_eq!(g.kind, GrantKind::Invoke);
        assert_eq!(g.resources.len(), 3);
        assert!(g.resources[1].ends_with("/runtime-endpoint/prod"));
        assert_eq!(g.require_ready, None);
        assert!(!g.verify);
        let only_runtime = grant(
            RESOURCE_TYPE,
            json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "EndpointNames": []}),
        )
        .unwrap();
        assert_eq!(only_runtime.resources, vec![RUNTIME.to_string()]);
    }

    #[test]
    fn invalid_properties() {
        let cases: &[(Value, &str)] = &[
            (json!({"RoleName": ROLE}), "property RuntimeArn is required"),
            (
                json!({"RoleName": ROLE, "RuntimeArn": format!("{RUNTIME}/runtime-endpoint/DEFAULT")}),
                "give endpoints by name",
            ),
            (
                json!({"RoleName": ROLE, "RuntimeArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*"}),
                "wildcards",
            ),
            (
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "EndpointNames": [format!("{RUNTIME}/runtime-endpoint/DEFAULT")]}),
                "not its ARN",
            ),
            (
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "EndpointNames": ["*"]}),
                "wildcards",
            ),
            (
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "EndpointNames": ["a-b"]}),
                "property EndpointNames has value \"a-b\"",
            ),
            (
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "RequireReady": "soon"}),
                "property RequireReady has value \"soon\"",
            ),
            (
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "Access": "ReadOnly"}),
                "property Access is not a property of Custom::AgentCoreInvokeGrant",
            ),
            (
                json!({"RoleName": "Dispatcher", "RuntimeArn": RUNTIME}),
                "starts with LPMA_",
            ),
        ];
        for (properties, text) in cases {
            let e = grant(RESOURCE_TYPE, properties.clone())
                .unwrap_err()
                .to_string();
            assert!(e.contains(text), "{properties}: {e}");
        }
    }

    #[test]
    fn readiness_reasons() {
        let runtime = RuntimeArn::parse(RUNTIME).unwrap();
        assert_eq!(
            not_ready_reason(&runtime, "CREATE_FAILED", Some("image not found")),
            format!("RequireReady: runtime {RUNTIME} has status CREATE_FAILED (AgentCore says: image not found), not READY, so it cannot be invoked yet; wait until it is READY (or fix the runtime) and retry, or set RequireReady to false to grant anyway")
        );
        assert!(!not_ready_reason(&runtime, "UPDATING", Some("")).contains("AgentCore says"));
        let home = crate::grants::common::stack_location(STACK).unwrap();
        assert!(readiness_checkable(&runtime, &home).is_ok());
        let other = RuntimeArn::parse(&RUNTIME.replace("123456789012", "210987654321")).unwrap();
        let e = readiness_checkable(&other, &home).unwrap_err().to_string();
        assert!(
            e.contains("property RequireReady") && e.contains("210987654321"),
            "{e}"
        );
    }
}
