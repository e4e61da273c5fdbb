//! Turning `iam:SimulatePrincipalPolicy` answers (or the local evaluator's) into a verdict, the
//! `Verification` return value and the Reason of a denial.

use crate::grants::common::{cut, Grant, GrantKind, SERVICE_PREFIX};
use crate::iam_evaluation::{Decision, Evaluation};

/// Longest `unverified: <why>` return value: it travels in the 4096-byte response with the
/// other return values.
const MAX_VERIFICATION_CHARS: usize = 700;

/// IAM's `EvalDecision` for one action on one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimulatedDecision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl SimulatedDecision {
    /// From the API's string (`allowed`, `explicitDeny`, `implicitDeny`); anything else is
    /// read as a denial, never as an allow.
    pub fn parse(text: &str) -> Self {
        match text {
            "allowed" => SimulatedDecision::Allowed,
            "explicitDeny" => SimulatedDecision::ExplicitDeny,
            _ => SimulatedDecision::ImplicitDeny,
        }
    }
}

/// One (action, resource) answer of `iam:SimulatePrincipalPolicy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedResult {
    pub action: String,
    pub resource: String,
    pub decision: SimulatedDecision,
    /// `PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary`, when present.
    pub allowed_by_boundary: Option<bool>,
    /// `SourcePolicyId` of the matched statements.
    pub matched_policies: Vec<String>,
    /// `MissingContextValues`: condition keys IAM needed and was not given.
    pub missing_context: Vec<String>,
    /// `OrganizationsDecisionDetail.AllowedByOrganizations` of the action, when present.
    pub allowed_by_organizations: Option<bool>,
}

/// The simulator's answer in the terms of the local evaluator. `boundary` names the role's
/// boundary policy, when known.
pub fn simulated_evaluation(result: &SimulatedResult, boundary: Option<&str>) -> Evaluation {
    let decision = match result.decision {
        // An SCP denial is final: nothing corebound writes can change it.
        SimulatedDecision::ExplicitDeny | SimulatedDecision::ImplicitDeny
            if result.allowed_by_organizations == Some(false) =>
        {
            Decision::DeniedByOrganizations
        }
        // IAM could not evaluate a Condition without these keys. Real calls carry them, so an
        // implicit deny here is not a denial, and an allow is not a proof either (a conditional
        // Deny may apply to them).
        SimulatedDecision::Allowed | SimulatedDecision::ImplicitDeny
            if !result.missing_context.is_empty() =>
        {
            Decision::MissingContext {
                keys: result.missing_context.clone(),
            }
        }
        SimulatedDecision::Allowed => Decision::Allowed,
        SimulatedDecision::ExplicitDeny => Decision::DeniedExplicitly {
            by: if result.matched_policies.is_empty() {
                "a policy of the role".to_string()
            } else {
                format!("policy {}", result.matched_policies.join(", "))
            },
        },
        SimulatedDecision::ImplicitDeny if result.allowed_by_boundary == Some(false) => {
            Decision::NotAllowedByBoundary {
                boundary: boundary.unwrap_or("of the role").to_string(),
            }
        }
        SimulatedDecision::ImplicitDeny => Decision::NotAllowedByIdentityPolicies,
    };
    Evaluation {
        action: result.action.clone(),
        resource: result.resource.clone(),
        decision,
    }
}

/// One evaluation per requested (action, resource), from the simulator's results. A result for
/// resource `*` answers every resource; a request the simulator did not answer is `Unknown`,
/// never assumed allowed.
pub fn simulated_evaluations(
    requests: &[(String, String)],
    results: &[SimulatedResult],
    boundary: Option<&str>,
) -> Vec<Evaluation> {
    requests
        .iter()
        .map(|(action, resource)| {
            let answer = results.iter().find(|r| {
                r.action.eq_ignore_ascii_case(action)
                    && (r.resource == *resource || r.resource == "*")
            });
            match answer {
                Some(result) => Evaluation {
                    resource: resource.clone(),
                    ..simulated_evaluation(result, boundary)
                },
                None => Evaluation {
                    action: action.clone(),
                    resource: resource.clone(),
                    decision: Decision::Unknown {
                        why: "iam:SimulatePrincipalPolicy returned no result for it".to_string(),
                    },
                },
            }
        })
        .collect()
}

/// What verification concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every requested action is allowed on every target.
    Verified,
    /// Nothing is denied, but something could not be decided (a Condition, a policy that could
    /// not be read); the text says why.
    Unverified(String),
    /// At least one action is not allowed: these evaluations are the denied ones.
    Denied(Vec<Evaluation>),
}

pub fn verdict(evaluations: &[Evaluation]) -> Verdict {
    let denied: Vec<Evaluation> = evaluations
        .iter()
        .filter(|e| is_denial(&e.decision))
        .cloned()
        .collect();
    if !denied.is_empty() {
        return Verdict::Denied(denied);
    }
    let mut missing: Vec<&str> = Vec::new();
    for e in evaluations {
        if let Decision::MissingContext { keys } = &e.decision {
            for key in keys {
                if !missing.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    missing.push(key);
                }
            }
        }
    }
    if !missing.is_empty() {
        return Verdict::Unverified(format!("condition on {}", missing.join(", ")));
    }
    match evaluations
        .iter()
        .find(|e| matches!(e.decision, Decision::Unknown { .. }))
    {
        Some(Evaluation {
            action,
            resource,
            decision: Decision::Unknown { why },
        }) => Verdict::Unverified(format!("{action} on {resource}: {why}")),
        _ => Verdict::Verified,
    }
}

fn is_denial(decision: &Decision) -> bool {
    matches!(
        decision,
        Decision::DeniedExplicitly { .. }
            | Decision::NotAllowedByIdentityPolicies
            | Decision::NotAllowedByBoundary { .. }
            | Decision::DeniedByOrganizations
    )
}

/// Whether a later check may answer differently: only a denial for lack of an identity-policy
/// allow can be IAM still propagating the policy just written. The boundary and explicit
/// denies were not changed by the write, so re-checking them only wastes the deadline.
/// A service control policy's denial ends verification at once, whatever else is denied.
pub fn worth_rechecking(denied: &[Evaluation]) -> bool {
    denied
        .iter()
        .all(|e| e.decision != Decision::DeniedByOrganizations)
        && denied
            .iter()
            .any(|e| e.decision == Decision::NotAllowedByIdentityPolicies)
}

/// The `Verification` return value.
pub fn verification_value(verdict_text: Option<&str>, verify: bool) -> String {
    match (verify, verdict_text) {
        (false, _) => "skipped".to_string(),
        (true, None) => "verified".to_string(),
        (true, Some(why)) => cut(&format!("unverified: {why}"), MAX_VERIFICATION_CHARS),
    }
}

/// The Reason for a grant that was written but is not effective: each failing action, what
/// blocked it, and what to do. `method` says how it was checked, `checks` how many times.
pub fn denial_reason(grant: &Grant, denied: &[Evaluation], method: &str, checks: u32) -> String {
    // Group by decision so fifteen actions blocked by one boundary read as one line.
    let mut groups: Vec<(&Decision, Vec<&str>, Vec<&str>)> = Vec::new();
    for e in denied {
        let action = e
            .action
            .strip_prefix(&format!("{SERVICE_PREFIX}:"))
            .unwrap_or(&e.action);
        match groups.iter_mut().find(|(d, _, _)| *d == &e.decision) {
            Some((_, actions, resources)) => {
                if !actions.contains(&action) {
                    actions.push(action);
                }
                if !resources.contains(&e.resource.as_str()) {
                    resources.push(&e.resource);
                }
            }
            None => groups.push((&e.decision, vec![action], vec![&e.resource])),
        }
    }
    let details: Vec<String> = groups
        .iter()
        .map(|(decision, actions, resources)| {
            format!(
                "{SERVICE_PREFIX}:{} on {}: {decision}",
                actions.join(", "),
                resources.join(", ")
            )
        })
        .collect();
    let mut fixes = Vec::new();
    if groups
        .iter()
        .any(|(d, _, _)| matches!(d, Decision::NotAllowedByBoundary { .. }))
    {
        fixes.push(match grant.kind {
            GrantKind::Memory => "ask the owner of the permissions boundary to allow these actions on this memory, or grant only what it allows (Access: ReadOnly, or Actions)",
            GrantKind::Invoke => "ask the owner of the permissions boundary to allow these actions on this runtime and its endpoints, or grant only what it allows (Actions)",
        });
    }
    if groups
        .iter()
        .any(|(d, _, _)| matches!(d, Decision::DeniedExplicitly { .. }))
    {
        fixes.push(
            "remove or narrow the explicit Deny (an explicit deny always wins over this grant)",
        );
    }
    if groups
        .iter()
        .any(|(d, _, _)| **d == Decision::DeniedByOrganizations)
    {
        fixes.push("ask your organization's administrators to allow these actions in the service control policies that apply to this account (corebound cannot change an SCP, so the grant was not kept)");
    }
    if groups
        .iter()
        .any(|(d, _, _)| **d == Decision::NotAllowedByIdentityPolicies)
    {
        fixes.push("IAM did not yet show the written policy as effective; retry the stack operation, and raise VERIFY_ATTEMPTS if this keeps happening");
    }
    format!(
        "role {} may not use the grant in inline policy {} (checked {checks} time{} with {method}): {}. To fix: {}",
        grant.role_name,
        grant.policy_name,
        if checks == 1 { "" } else { "s" },
        details.join("; "),
        fixes.join("; ")
    )
}

/// One `ContextEntries` item for `iam:SimulatePrincipalPolicy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextEntry {
    pub key: String,
    pub values: Vec<String>,
}

/// What is known about the request a real call of the role would make.
pub struct CallContext<'a> {
    /// The role's ARN, as IAM returns it.
    pub role_arn: &'a str,
    /// The role's tags.
    pub role_tags: &'a [(String, String)],
    /// The memory's or runtime's tags; `None` when they could not be read.
    pub target_tags: Option<&'a [(String, String)]>,
}

/// The context keys the function can know for the calls the grant allows, so that IAM can
/// evaluate Conditions on them (a boundary limited to one region is the common case):
/// `aws:RequestedRegion` (the target's region), `aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalTag/<key>` per role tag, `aws:ResourceAccount` and `aws:ResourceTag/<key>` per
/// tag of the memory or runtime. Keys a Condition needs beyond these (a source VPC, an IP, a
/// session tag) stay missing, and verification then says `unverified: condition on <keys>`.
pub fn context_entries(grant: &Grant, call: &CallContext<'_>) -> Vec<ContextEntry> {
    let one = |key: &str, value: &str| ContextEntry {
        key: key.to_string(),
        values: vec![value.to_string()],
    };
    let mut entries = vec![
        one("aws:RequestedRegion", &grant.target.region),
        one("aws:PrincipalArn", call.role_arn),
        one("aws:PrincipalAccount", &grant.stack.account),
        one("aws:ResourceAccount", &grant.target.account),
    ];
    for (key, value) in call.role_tags {
        entries.push(one(&format!("aws:PrincipalTag/{key}"), value));
    }
    for (key, value) in call.target_tags.unwrap_or_default() {
        entries.push(one(&format!("aws:ResourceTag/{key}"), value));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::common::test_support::{grant, MEMORY, ROLE};
    use serde_json::json;

    fn simulated(
        action: &str,
        decision: SimulatedDecision,
        boundary: Option<bool>,
        matched: &[&str],
    ) -> SimulatedResult {
        SimulatedResult {
            action: format!("bedrock-agentcore:{action}"),
            resource: MEMORY.into(),
            decision,
            allowed_by_boundary: boundary,
            matched_policies: matched.iter().map(|m| m.to_string()).collect(),
            missing_context: Vec::new(),
            allowed_by_organizations: None,
        }
    }

    #[test]
    fn missing_context_is_unverified_and_an_scp_denial_is_final() {
        use SimulatedDecision::*;
        let mut region = simulated("GetEvent", ImplicitDeny, Some(false), &[]);
        region.missing_context = vec!["aws:RequestedRegion".into()];
        let mut tag = simulated("ListEvents", Allowed, Some(true), &[]);
        tag.missing_context = vec!["aws:PrincipalTag/Team".into(), "aws:requestedregion".into()];
        let evaluations = vec![
            simulated_evaluation(&region, None),
            simulated_evaluation(&tag, None),
            simulated_evaluation(&simulated("CreateEvent", Allowed, Some(true), &[]), None),
        ];
        assert_eq!(
            verdict(&evaluations),
            Verdict::Unverified("condition on aws:RequestedRegion, aws:PrincipalTag/Team".into())
        );
        assert_eq!(
            verification_value(Some("condition on aws:RequestedRegion"), true),
            "unverified: condition on aws:RequestedRegion"
        );

        let mut scp = simulated("DeleteEvent", ExplicitDeny, Some(true), &[]);
        scp.allowed_by_organizations = Some(false);
        scp.missing_context = vec!["aws:RequestedRegion".into()];
        let identity = simulated("GetEvent", ImplicitDeny, Some(true), &[]);
        let evaluations = vec![
            simulated_evaluation(&scp, None),
            simulated_evaluation(&identity, None),
        ];
        assert_eq!(evaluations[0].decision, Decision::DeniedByOrganizations);
        let Verdict::Denied(denied) = verdict(&evaluations) else {
            panic!("an SCP denial is a denial");
        };
        assert!(
            !worth_rechecking(&denied),
            "no propagation re-checks after an SCP denial"
        );
        let g = grant(json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "P"})).unwrap();
        let reason = denial_reason(&g, &denied, "iam:SimulatePrincipalPolicy", 1);
        assert!(
            reason.contains(&format!("bedrock-agentcore:DeleteEvent on {MEMORY}: denied by a service control policy of your organization"))
                && reason.contains("service control policies that apply to this account"),
            "{reason}"
        );
    }

    #[test]
    fn context_entries_name_what_the_function_knows() {
        let g = grant(json!({"RoleName": ROLE, "MemoryArn": MEMORY})).unwrap();
        let role_arn = format!("arn:aws:iam::123456789012:role/{ROLE}");
        let role_tags = vec![("Team".to_string(), "pay".to_string())];
        let target_tags = vec![("Environment".to_string(), "prod".to_string())];
        let entries = context_entries(
            &g,
            &CallContext {
                role_arn: &role_arn,
                role_tags: &role_tags,
                target_tags: Some(&target_tags),
            },
        );
        let pairs: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.values[0].as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("aws:RequestedRegion", "us-east-1"),
                ("aws:PrincipalArn", role_arn.as_str()),
                ("aws:PrincipalAccount", "123456789012"),
                ("aws:ResourceAccount", "123456789012"),
                ("aws:PrincipalTag/Team", "pay"),
                ("aws:ResourceTag/Environment", "prod"),
            ]
        );
    }

    #[test]
    fn simulator_answers_map_to_decisions() {
        use SimulatedDecision::*;
        let boundary = Decision::NotAllowedByBoundary {
            boundary: "BoundaryForLPMA".into(),
        };
        let table = [
            (
                simulated("CreateEvent", Allowed, Some(true), &["grant"]),
                Decision::Allowed,
            ),
            (
                simulated("CreateEvent", Allowed, None, &[]),
                Decision::Allowed,
            ),
            (
                simulated("CreateEvent", ImplicitDeny, Some(false), &[]),
                boundary.clone(),
            ),
            (
                simulated("CreateEvent", ImplicitDeny, Some(true), &[]),
                Decision::NotAllowedByIdentityPolicies,
            ),
            (
                simulated("CreateEvent", ImplicitDeny, None, &[]),
                Decision::NotAllowedByIdentityPolicies,
            ),
            (
                simulated("CreateEvent", ExplicitDeny, Some(false), &["Guardrails"]),
                Decision::DeniedExplicitly {
                    by: "policy Guardrails".into(),
                },
            ),
            (
                simulated("CreateEvent", ExplicitDeny, Some(true), &[]),
                Decision::DeniedExplicitly {
                    by: "a policy of the role".into(),
                },
            ),
        ];
        for (result, expected) in table {
            assert_eq!(
                simulated_evaluation(&result, Some("BoundaryForLPMA")).decision,
                expected,
                "{result:?}"
            );
        }
        assert_eq!(SimulatedDecision::parse("allowed"), Allowed);
        assert_eq!(SimulatedDecision::parse("explicitDeny"), ExplicitDeny);
        assert_eq!(SimulatedDecision::parse("somethingNew"), ImplicitDeny);
    }

    #[test]
    fn simulator_results_are_matched_to_every_request() {
        use SimulatedDecision::*;
        let endpoint = format!("{MEMORY}/x");
        let requests = vec![
            (
                "bedrock-agentcore:CreateEvent".to_string(),
                MEMORY.to_string(),
            ),
            (
                "bedrock-agentcore:CreateEvent".to_string(),
                endpoint.clone(),
            ),
            ("bedrock-agentcore:GetEvent".to_string(), MEMORY.to_string()),
            (
                "bedrock-agentcore:ListEvents".to_string(),
                MEMORY.to_string(),
            ),
        ];
        let mut wildcard = simulated("getevent", Allowed, None, &[]);
        wildcard.resource = "*".into();
        let mut on_endpoint = simulated("CreateEvent", ImplicitDeny, Some(false), &[]);
        on_endpoint.resource = endpoint.clone();
        let results = vec![
            simulated("CreateEvent", Allowed, Some(true), &[]),
            on_endpoint,
            wildcard,
        ];
        let decisions: Vec<(String, Decision)> = simulated_evaluations(&requests, &results, None)
            .into_iter()
            .map(|e| (e.resource, e.decision))
            .collect();
        assert_eq!(
            decisions,
            vec![
                (MEMORY.to_string(), Decision::Allowed),
                (
                    endpoint,
                    Decision::NotAllowedByBoundary {
                        boundary: "of the role".into()
                    }
                ),
                (MEMORY.to_string(), Decision::Allowed),
                (
                    MEMORY.to_string(),
                    Decision::Unknown {
                        why: "iam:SimulatePrincipalPolicy returned no result for it".into()
                    }
                ),
            ]
        );
    }

    fn evaluation(action: &str, decision: Decision) -> Evaluation {
        Evaluation {
            action: format!("bedrock-agentcore:{action}"),
            resource: MEMORY.into(),
            decision,
        }
    }

    #[test]
    fn verdicts_deny_first_then_unknown_then_verified() {
        let unknown = Decision::Unknown {
            why: "inline policy X statement Y has a Condition".into(),
        };
        let boundary = Decision::NotAllowedByBoundary {
            boundary: "B".into(),
        };
        assert_eq!(
            verdict(&[evaluation("GetEvent", Decision::Allowed)]),
            Verdict::Verified
        );
        assert_eq!(verdict(&[]), Verdict::Verified);
        assert_eq!(
            verdict(&[evaluation("GetEvent", Decision::Allowed), evaluation("ListEvents", unknown.clone())]),
            Verdict::Unverified(format!("bedrock-agentcore:ListEvents on {MEMORY}: inline policy X statement Y has a Condition"))
        );
        let Verdict::Denied(denied) = verdict(&[
            evaluation("GetEvent", unknown),
            evaluation("ListEvents", boundary.clone()),
        ]) else {
            panic!("a denial wins over an unknown");
        };
        assert_eq!(denied, vec![evaluation("ListEvents", boundary.clone())]);
        assert!(!worth_rechecking(&denied));
        assert!(worth_rechecking(&[evaluation(
            "GetEvent",
            Decision::NotAllowedByIdentityPolicies
        )]));
    }

    #[test]
    fn verification_values() {
        assert_eq!(verification_value(None, true), "verified");
        assert_eq!(verification_value(Some("x"), false), "skipped");
        assert_eq!(
            verification_value(Some("a Condition"), true),
            "unverified: a Condition"
        );
        let long = verification_value(Some(&"y".repeat(5000)), true);
        assert_eq!(long.chars().count(), MAX_VERIFICATION_CHARS);
    }

    #[test]
    fn denial_reason_lists_each_action_and_what_blocked_it() {
        let g = grant(json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "P"})).unwrap();
        let boundary = Decision::NotAllowedByBoundary {
            boundary: "BoundaryForLPMA".into(),
        };
        let denied = vec![
            evaluation("CreateEvent", boundary.clone()),
            evaluation("GetEvent", boundary),
            evaluation(
                "DeleteEvent",
                Decision::DeniedExplicitly {
                    by: "managed policy Guardrails statement NoDelete".into(),
                },
            ),
        ];
        let reason = denial_reason(&g, &denied, "iam:SimulatePrincipalPolicy", 1);
        assert_eq!(
            reason,
            format!("role {ROLE} may not use the grant in inline policy P (checked 1 time with iam:SimulatePrincipalPolicy): \
bedrock-agentcore:CreateEvent, GetEvent on {MEMORY}: not allowed by the permissions boundary BoundaryForLPMA; \
bedrock-agentcore:DeleteEvent on {MEMORY}: denied explicitly by managed policy Guardrails statement NoDelete. \
To fix: ask the owner of the permissions boundary to allow these actions on this memory, or grant only what it allows (Access: ReadOnly, or Actions); \
remove or narrow the explicit Deny (an explicit deny always wins over this grant)")
        );
        let identity = [evaluation(
            "GetEvent",
            Decision::NotAllowedByIdentityPolicies,
        )];
        let reason = denial_reason(&g, &identity, "a local evaluation", 3);
        assert!(
            reason.contains("3 times")
                && reason.contains("not allowed by any identity policy")
                && reason.contains("VERIFY_ATTEMPTS"),
            "{reason}"
        );
    }
}
