//! IAM actions of Amazon Bedrock AgentCore that corebound may grant.
//!
//! Runtime resource policies (`Custom::AgentCoreRuntimePolicy`) and invoke grants
//! (`Custom::AgentCoreInvokeGrant`) share one allowlist: the data-plane invoke family,
//! each authorised on `runtime` and `runtime-endpoint` (Service Authorization Reference,
//! Amazon Bedrock AgentCore). Control-plane actions such as `PutResourcePolicy` or
//! `DeleteAgentRuntime` are never grantable through corebound: a stack author must not be
//! able to hand out administration of a runtime through a ServiceToken.

/// The invoke family, with the SDK feature that needs each action.
pub const INVOKE_FAMILY: [(&str, &str); 8] = [
    (
        "bedrock-agentcore:InvokeAgentRuntime",
        "InvokeAgentRuntime (HTTP request/response and streaming)",
    ),
    (
        "bedrock-agentcore:InvokeAgentRuntimeForUser",
        "InvokeAgentRuntime with the X-Amzn-Bedrock-AgentCore-Runtime-User-Id header",
    ),
    (
        "bedrock-agentcore:InvokeAgentRuntimeWithWebSocketStream",
        "WebSocket streaming to the runtime",
    ),
    (
        "bedrock-agentcore:InvokeAgentRuntimeWithWebSocketStreamForUser",
        "WebSocket streaming with the user-id header",
    ),
    (
        "bedrock-agentcore:InvokeAgentRuntimeCommand",
        "InvokeAgentRuntimeCommand (run a command in the session)",
    ),
    (
        "bedrock-agentcore:InvokeAgentRuntimeCommandShell",
        "interactive command shell in the session",
    ),
    ("bedrock-agentcore:StopRuntimeSession", "StopRuntimeSession"),
    (
        "bedrock-agentcore:GetAgentCard",
        "A2A agent card (GetAgentCard)",
    ),
];

/// The default when `Actions` is not given.
pub const DEFAULT_INVOKE_ACTION: &str = "bedrock-agentcore:InvokeAgentRuntime";

/// True when `action` (case-insensitive, as IAM compares actions) is in the invoke family.
pub fn is_invoke_family(action: &str) -> bool {
    INVOKE_FAMILY
        .iter()
        .any(|(allowed, _)| allowed.eq_ignore_ascii_case(action))
}

/// The canonical spelling of an invoke-family action, or `None` when it is not one.
pub fn canonical_invoke_action(action: &str) -> Option<&'static str> {
    INVOKE_FAMILY
        .iter()
        .find(|(allowed, _)| allowed.eq_ignore_ascii_case(action))
        .map(|(allowed, _)| *allowed)
}

/// The allowlist as one line, for error Reasons.
pub fn invoke_family_list() -> String {
    INVOKE_FAMILY
        .iter()
        .map(|(action, _)| action.trim_start_matches("bedrock-agentcore:"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_actions_are_refused() {
        for action in [
            "bedrock-agentcore:PutResourcePolicy",
            "bedrock-agentcore:DeleteAgentRuntime",
            "bedrock-agentcore:*",
            "bedrock-agentcore:Invoke*",
            "*",
        ] {
            assert!(!is_invoke_family(action), "{action}");
        }
    }

    #[test]
    fn invoke_family_is_case_insensitive_and_canonicalised() {
        assert_eq!(
            canonical_invoke_action("Bedrock-AgentCore:invokeagentruntime"),
            Some(DEFAULT_INVOKE_ACTION)
        );
        assert!(is_invoke_family("bedrock-agentcore:GetAgentCard"));
        assert_eq!(invoke_family_list().split(", ").count(), 8);
    }
}
