//! Patterns 1, 2, 5 and 6: what the calling principal may do, asked of
//! `iam:SimulatePrincipalPolicy`, and what its answers mean.
//!
//! Each question is one probe: an action on a resource the project would use, with the
//! context entries a real call would carry (`iam:PermissionsBoundary` on role writes,
//! `iam:PassedToService` on PassRole, the region, the principal and its tags). The simulator's
//! answer is read with the grant functions' rule ([`simulated_evaluation`]): a condition on a
//! key the doctor cannot supply is "cannot tell", never a denial; an SCP denial is told apart
//! from the boundary's and from the identity policies'.

use crate::arn::Location;
use crate::grants::verification::ContextEntry;
use crate::grants::{simulated_evaluation, SimulatedResult};
use crate::iam_evaluation::Decision;

use super::report::{Check, Status};
use super::settings::DoctorSettings;

pub use crate::preflight::passrole::AGENTCORE_SERVICE;
use crate::preflight::passrole::{judge, PassRoleAnswer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    CreateRoleInsidePrefix,
    CreateRoleOutsidePrefix,
    PassRoleToAgentCore,
    PutResourcePolicy,
    PutRolePolicy,
}

/// One question for the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub kind: ProbeKind,
    pub action: String,
    pub resource: String,
    pub context: Vec<ContextEntry>,
}

/// The principal simulated: its ARN (the role's, path included), tags and boundary name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    pub arn: String,
    pub tags: Vec<(String, String)>,
    /// The name of the principal's own permissions boundary, when known.
    pub boundary_name: Option<String>,
}

/// The names the probes ask about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// `<Prefix><App>_Probe`
    pub prefixed_role: String,
    /// A role name without the prefix.
    pub unprefixed_role: String,
    /// `<Prefix><App>_AgentCoreRuntime`, the role a runtime would be passed.
    pub runtime_role: String,
    /// A runtime name of the project (a `SCOPE_PATTERNS` glob made concrete when one can be).
    pub runtime_name: String,
}

impl Names {
    pub fn new(settings: &DoctorSettings) -> Self {
        let prefix = &settings.role_prefix;
        let app = &settings.app;
        let mut unprefixed_role = format!("{app}_Probe");
        for lead in ["x", "y"] {
            if !unprefixed_role.starts_with(prefix.as_str()) {
                break;
            }
            unprefixed_role = format!("{lead}{app}_Probe");
        }
        let runtime_name = settings
            .scope_patterns
            .iter()
            .flatten()
            .map(|pattern| pattern.replace('*', "Probe").replace('?', "x"))
            .find(|name| is_runtime_name(name))
            .unwrap_or_else(|| format!("{app}_Probe"));
        Names {
            prefixed_role: format!("{prefix}{app}_Probe"),
            unprefixed_role,
            runtime_role: format!("{prefix}{app}_AgentCoreRuntime"),
            runtime_name,
        }
    }
}

/// AgentCore runtime names: a letter, then letters, digits and `_`, at most 48.
fn is_runtime_name(name: &str) -> bool {
    name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn role_arn(at: &Location, name: &str) -> String {
    format!("arn:{}:iam::{}:role/{name}", at.partition, at.account)
}

/// A runtime id is `<name>-<10 characters>`; the simulator needs no real one.
fn runtime_arn(at: &Location, name: &str) -> String {
    format!(
        "arn:{}:bedrock-agentcore:{}:{}:runtime/{name}-0000000000",
        at.partition, at.region, at.account
    )
}

fn entry(key: &str, value: &str) -> ContextEntry {
    ContextEntry {
        key: key.to_string(),
        values: vec![value.to_string()],
    }
}

/// The five probes, in the order of the report.
pub fn probes(settings: &DoctorSettings, at: &Location, principal: &Principal) -> Vec<Probe> {
    let names = Names::new(settings);
    // What any real call carries, so that Conditions on them can be evaluated.
    let mut common = vec![
        entry("aws:RequestedRegion", &at.region),
        entry("aws:PrincipalArn", &principal.arn),
        entry("aws:PrincipalAccount", &at.account),
        entry("aws:ResourceAccount", &at.account),
    ];
    for (key, value) in &principal.tags {
        common.push(entry(&format!("aws:PrincipalTag/{key}"), value));
    }
    let with_boundary = |mut context: Vec<ContextEntry>| {
        if let Some(boundary) = &settings.boundary_arn {
            context.push(entry("iam:PermissionsBoundary", boundary));
        }
        context
    };
    let probe = |kind, action: &str, resource: String, context| Probe {
        kind,
        action: action.to_string(),
        resource,
        context,
    };
    let mut pass_role = common.clone();
    pass_role.push(entry("iam:PassedToService", AGENTCORE_SERVICE));
    vec![
        probe(
            ProbeKind::CreateRoleInsidePrefix,
            "iam:CreateRole",
            role_arn(at, &names.prefixed_role),
            with_boundary(common.clone()),
        ),
        probe(
            ProbeKind::CreateRoleOutsidePrefix,
            "iam:CreateRole",
            role_arn(at, &names.unprefixed_role),
            with_boundary(common.clone()),
        ),
        probe(
            ProbeKind::PassRoleToAgentCore,
            "iam:PassRole",
            role_arn(at, &names.runtime_role),
            pass_role,
        ),
        probe(
            ProbeKind::PutResourcePolicy,
            "bedrock-agentcore:PutResourcePolicy",
            runtime_arn(at, &names.runtime_name),
            common.clone(),
        ),
        probe(
            ProbeKind::PutRolePolicy,
            "iam:PutRolePolicy",
            role_arn(at, &names.prefixed_role),
            with_boundary(common),
        ),
    ]
}

/// What one probe's answer means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Allowed,
    Denied(Denial),
    CannotTell(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// An explicit Deny; names the policy when the simulator did.
    Explicit(String),
    Identity,
    /// The permissions boundary; its name when known.
    Boundary(Option<String>),
    Organizations,
}

impl Denial {
    fn phrase(&self) -> String {
        match self {
            Denial::Explicit(by) => format!("denied explicitly by {by}"),
            Denial::Identity => "not allowed by any identity policy of the caller".to_string(),
            Denial::Boundary(Some(name)) => {
                format!("not allowed by the permissions boundary {name}")
            }
            Denial::Boundary(None) => {
                "not allowed by the caller's permissions boundary".to_string()
            }
            Denial::Organizations => {
                "denied by a service control policy of the organization".to_string()
            }
        }
    }

    /// The exact change that would allow `action` on `resources` (with `condition`).
    fn fix(&self, action: &str, resources: &str, condition: &str, principal: &str) -> String {
        match self {
            Denial::Explicit(by) => format!(
                "{by} denies {action} on {resources}: remove or narrow that Deny statement"
            ),
            Denial::Identity => format!(
                "add an Allow statement for {action} on {resources}{condition} to an identity policy of {principal}"
            ),
            Denial::Boundary(name) => format!(
                "the permissions boundary {} must allow {action} on {resources}{condition}: ask its owners (usually security) to add that statement",
                name.as_deref().unwrap_or("of the caller")
            ),
            Denial::Organizations => format!(
                "a service control policy denies {action}: only the organization's administrators can change that (or deploy from an account where it is allowed)"
            ),
        }
    }
}

/// The simulator's answer for a probe; a probe it did not answer cannot be told.
pub fn answer(probe: &Probe, results: &[SimulatedResult], principal: &Principal) -> Answer {
    let result = results.iter().find(|r| {
        r.action.eq_ignore_ascii_case(&probe.action)
            && (r.resource == probe.resource || r.resource == "*")
    });
    let Some(result) = result else {
        return Answer::CannotTell(
            "iam:SimulatePrincipalPolicy returned no result for it".to_string(),
        );
    };
    let evaluation = simulated_evaluation(result, principal.boundary_name.as_deref());
    match evaluation.decision {
        Decision::Allowed => Answer::Allowed,
        Decision::DeniedExplicitly { by } => Answer::Denied(Denial::Explicit(by)),
        Decision::NotAllowedByIdentityPolicies => Answer::Denied(Denial::Identity),
        Decision::NotAllowedByBoundary { .. } => {
            Answer::Denied(Denial::Boundary(principal.boundary_name.clone()))
        }
        Decision::DeniedByOrganizations => Answer::Denied(Denial::Organizations),
        Decision::MissingContext { keys } => Answer::CannotTell(format!(
            "it depends on a condition on {}, which the doctor cannot supply",
            keys.join(", ")
        )),
        Decision::Unknown { why } => Answer::CannotTell(why),
    }
}

/// Patterns 1, 2, 5 and 6 from the answers to [`probes`] (by kind).
pub fn simulation_checks(
    settings: &DoctorSettings,
    at: &Location,
    principal: &Principal,
    answers: &[(ProbeKind, Answer)],
) -> Vec<Check> {
    let names = Names::new(settings);
    let get = |kind: ProbeKind| {
        answers
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| Answer::CannotTell("it was not simulated".to_string()))
    };
    let prefix = &settings.role_prefix;
    let prefixed_roles = format!("arn:{}:iam::{}:role/{prefix}*", at.partition, at.account);
    let boundary_condition = settings
        .boundary_arn
        .as_deref()
        .map(|arn| format!(" with the condition iam:PermissionsBoundary = {arn}"))
        .unwrap_or_default();
    let carrying = settings
        .boundary_name()
        .map(|name| format!(" carrying the boundary {name}"))
        .unwrap_or_default();

    // Pattern 1: role names carry the prefix.
    let inside = format!("{}{carrying}", names.prefixed_role);
    let pattern1 = match get(ProbeKind::CreateRoleInsidePrefix) {
        Answer::Allowed => {
            let base = format!("iam:CreateRole is allowed inside the prefix ({inside})");
            match get(ProbeKind::CreateRoleOutsidePrefix) {
                Answer::Denied(_) => Check::new(
                    "1",
                    Status::Ok,
                    format!("{base} and denied outside it ({})", names.unprefixed_role),
                ),
                Answer::Allowed => Check::new("1", Status::Ok, base).with_note(format!(
                    "iam:CreateRole is allowed outside the prefix too ({}): nothing here enforces the {prefix} naming, so keep naming roles {prefix}<App>_<Purpose> yourself",
                    names.unprefixed_role
                )),
                Answer::CannotTell(why) => Check::new("1", Status::Ok, base).with_note(format!(
                    "whether iam:CreateRole is allowed outside the prefix ({}) cannot be told: {why}",
                    names.unprefixed_role
                )),
            }
        }
        Answer::Denied(denial) => Check::new(
            "1",
            Status::Problem,
            format!("iam:CreateRole of {inside} is {}", denial.phrase()),
        )
        .with_fix(denial.fix(
            "iam:CreateRole",
            &prefixed_roles,
            &boundary_condition,
            &principal.arn,
        )),
        Answer::CannotTell(why) => Check::new(
            "1",
            Status::CannotTell,
            format!("iam:CreateRole of {inside}: {why}"),
        ),
    };

    // Pattern 2: PassRole to the AgentCore service.
    let passed = format!(
        "iam:PassRole of {} to {AGENTCORE_SERVICE}",
        names.runtime_role
    );
    let pattern2 = match get(ProbeKind::PassRoleToAgentCore) {
        Answer::Allowed => Check::new(
            "2",
            Status::Ok,
            format!("{passed} is allowed: this principal can create AgentCore runtimes"),
        ),
        Answer::Denied(denial) => {
            // The bootstrap fix is preflight's pattern-2 rule (the hook and `corebound check`
            // print the same); a denial that is not the boundary's gets its own fix too.
            let bootstrap = judge("", &principal.arn, &PassRoleAnswer::Denied(denial.phrase()))
                .map(|finding| finding.fix)
                .unwrap_or_default();
            let fix = match denial {
                Denial::Boundary(_) => bootstrap,
                _ => format!(
                    "{bootstrap}. Or: {}",
                    denial.fix(
                        "iam:PassRole",
                        &prefixed_roles,
                        &format!(" with the condition iam:PassedToService = {AGENTCORE_SERVICE}"),
                        &principal.arn,
                    )
                ),
            };
            Check::new(
                "2",
                Status::Problem,
                format!(
                    "{passed} is {}, so this principal cannot create an AgentCore runtime",
                    denial.phrase()
                ),
            )
            .with_fix(fix)
        }
        Answer::CannotTell(why) => Check::new("2", Status::CannotTell, format!("{passed}: {why}")),
    };

    // Pattern 5: resource policies on the runtime.
    let runtime = runtime_arn(at, &names.runtime_name);
    let runtimes = format!(
        "arn:{}:bedrock-agentcore:{}:{}:runtime/*",
        at.partition, at.region, at.account
    );
    let pattern5 = match get(ProbeKind::PutResourcePolicy) {
        Answer::Allowed => Check::new(
            "5",
            Status::Ok,
            format!(
                "bedrock-agentcore:PutResourcePolicy is allowed on {runtime}: cross-account callers can be granted by a resource policy (exact ARNs, no wildcards)"
            ),
        ),
        Answer::Denied(denial) => Check::new(
            "5",
            Status::Problem,
            format!(
                "bedrock-agentcore:PutResourcePolicy on {runtime} is {}",
                denial.phrase()
            ),
        )
        .with_fix(denial.fix(
            "bedrock-agentcore:PutResourcePolicy",
            &runtimes,
            "",
            &principal.arn,
        )),
        Answer::CannotTell(why) => Check::new(
            "5",
            Status::CannotTell,
            format!("bedrock-agentcore:PutResourcePolicy on {runtime}: {why}"),
        ),
    };

    // Pattern 6: inline grants (Memory data plane) on prefixed roles.
    let pattern6 = match get(ProbeKind::PutRolePolicy) {
        Answer::Allowed => Check::new(
            "6",
            Status::Ok,
            format!(
                "iam:PutRolePolicy is allowed on {}: Memory data-plane grants can be written on prefixed roles",
                names.prefixed_role
            ),
        ),
        Answer::Denied(denial) => Check::new(
            "6",
            Status::Problem,
            format!(
                "iam:PutRolePolicy on {} is {}, so Memory data-plane grants cannot be written on prefixed roles",
                names.prefixed_role,
                denial.phrase()
            ),
        )
        .with_fix(denial.fix(
            "iam:PutRolePolicy",
            &prefixed_roles,
            &boundary_condition,
            &principal.arn,
        )),
        Answer::CannotTell(why) => Check::new(
            "6",
            Status::CannotTell,
            format!("iam:PutRolePolicy on {}: {why}", names.prefixed_role),
        ),
    };
    vec![pattern1, pattern2, pattern5, pattern6]
}

/// Patterns 1, 2, 5 and 6 when nothing could be simulated (root caller, no permission to call
/// the simulator): each says why, with the fix when there is one.
pub fn simulation_unavailable(why: &str, fix: Option<&str>) -> Vec<Check> {
    ["1", "2", "5", "6"]
        .iter()
        .map(|pattern| {
            let check = Check::new(pattern, Status::CannotTell, why);
            match fix {
                Some(fix) => check.with_fix(fix),
                None => check,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::key_statements::KeyService;
    use crate::grants::SimulatedDecision;

    const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/BoundaryForLPMA";
    const CALLER: &str = "arn:aws:iam::123456789012:role/ci/ci-deployer";

    fn settings(scope: Option<Vec<String>>) -> DoctorSettings {
        DoctorSettings {
            role_prefix: "LPMA_".into(),
            boundary_arn: Some(BOUNDARY.into()),
            kms_key_arn: None,
            scope_patterns: scope,
            app: "Demo".into(),
            services: KeyService::ALL.to_vec(),
        }
    }

    fn at() -> Location {
        Location {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
        }
    }

    fn principal() -> Principal {
        Principal {
            arn: CALLER.into(),
            tags: vec![("Team".into(), "pay".into())],
            boundary_name: Some("BoundaryForLPMA".into()),
        }
    }

    #[test]
    fn probes_name_the_project_and_carry_the_context() {
        let probes = probes(
            &settings(Some(vec!["demo-*".into(), "demo_agent_*".into()])),
            &at(),
            &principal(),
        );
        let asked: Vec<(&str, &str)> = probes
            .iter()
            .map(|p| (p.action.as_str(), p.resource.as_str()))
            .collect();
        assert_eq!(
            asked,
            vec![
                ("iam:CreateRole", "arn:aws:iam::123456789012:role/LPMA_Demo_Probe"),
                ("iam:CreateRole", "arn:aws:iam::123456789012:role/Demo_Probe"),
                ("iam:PassRole", "arn:aws:iam::123456789012:role/LPMA_Demo_AgentCoreRuntime"),
                (
                    "bedrock-agentcore:PutResourcePolicy",
                    // `demo-*` cannot name a runtime (no `-`): the next pattern does.
                    "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent_Probe-0000000000"
                ),
                ("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/LPMA_Demo_Probe"),
            ]
        );
        let keys = |p: &Probe| -> Vec<String> {
            p.context
                .iter()
                .map(|e| format!("{}={}", e.key, e.values.join("|")))
                .collect()
        };
        let common = [
            "aws:RequestedRegion=us-east-1".to_string(),
            format!("aws:PrincipalArn={CALLER}"),
            "aws:PrincipalAccount=123456789012".to_string(),
            "aws:ResourceAccount=123456789012".to_string(),
            "aws:PrincipalTag/Team=pay".to_string(),
        ];
        let with = |extra: &str| {
            let mut all = common.to_vec();
            all.push(extra.to_string());
            all
        };
        assert_eq!(
            keys(&probes[0]),
            with(&format!("iam:PermissionsBoundary={BOUNDARY}"))
        );
        assert_eq!(
            keys(&probes[2]),
            with("iam:PassedToService=bedrock-agentcore.amazonaws.com")
        );
        assert_eq!(keys(&probes[3]), common.to_vec());
        assert_eq!(
            keys(&probes[4]),
            with(&format!("iam:PermissionsBoundary={BOUNDARY}"))
        );
    }

    #[test]
    fn unprefixed_name_never_starts_with_the_prefix() {
        let mut s = settings(None);
        s.role_prefix = "Demo".into();
        assert_eq!(Names::new(&s).unprefixed_role, "xDemo_Probe");
        assert_eq!(Names::new(&s).runtime_name, "Demo_Probe");
    }

    fn result(probe: &Probe, decision: SimulatedDecision) -> SimulatedResult {
        SimulatedResult {
            action: probe.action.clone(),
            resource: probe.resource.clone(),
            decision,
            allowed_by_boundary: Some(true),
            matched_policies: vec![],
            missing_context: vec![],
            allowed_by_organizations: None,
        }
    }

    #[test]
    fn answers_tell_the_reasons_apart() {
        let probe = &probes(&settings(None), &at(), &principal())[2];
        let p = principal();
        let allowed = result(probe, SimulatedDecision::Allowed);
        assert_eq!(
            answer(probe, std::slice::from_ref(&allowed), &p),
            Answer::Allowed
        );
        let boundary = SimulatedResult {
            decision: SimulatedDecision::ImplicitDeny,
            allowed_by_boundary: Some(false),
            ..allowed.clone()
        };
        assert_eq!(
            answer(probe, std::slice::from_ref(&boundary), &p),
            Answer::Denied(Denial::Boundary(Some("BoundaryForLPMA".into())))
        );
        let identity = SimulatedResult {
            allowed_by_boundary: Some(true),
            ..boundary.clone()
        };
        assert_eq!(
            answer(probe, &[identity], &p),
            Answer::Denied(Denial::Identity)
        );
        let explicit = SimulatedResult {
            decision: SimulatedDecision::ExplicitDeny,
            matched_policies: vec!["NoPassRole".into()],
            ..allowed.clone()
        };
        assert_eq!(
            answer(probe, &[explicit], &p),
            Answer::Denied(Denial::Explicit("policy NoPassRole".into()))
        );
        let scp = SimulatedResult {
            allowed_by_organizations: Some(false),
            ..boundary.clone()
        };
        assert_eq!(
            answer(probe, &[scp], &p),
            Answer::Denied(Denial::Organizations)
        );
        let missing = SimulatedResult {
            missing_context: vec!["aws:SourceVpc".into()],
            ..boundary
        };
        assert_eq!(
            answer(probe, &[missing], &p),
            Answer::CannotTell(
                "it depends on a condition on aws:SourceVpc, which the doctor cannot supply".into()
            )
        );
        assert!(matches!(answer(probe, &[], &p), Answer::CannotTell(_)));
    }

    fn checks(answers: &[(ProbeKind, Answer)]) -> Vec<Check> {
        simulation_checks(&settings(None), &at(), &principal(), answers)
    }

    #[test]
    fn all_allowed_with_the_prefix_enforced() {
        use ProbeKind::*;
        let lines: Vec<String> = checks(&[
            (CreateRoleInsidePrefix, Answer::Allowed),
            (
                CreateRoleOutsidePrefix,
                Answer::Denied(Denial::Boundary(None)),
            ),
            (PassRoleToAgentCore, Answer::Allowed),
            (PutResourcePolicy, Answer::Allowed),
            (PutRolePolicy, Answer::Allowed),
        ])
        .iter()
        .map(Check::line)
        .collect();
        assert_eq!(lines, vec![
            "pattern 1 ok: iam:CreateRole is allowed inside the prefix (LPMA_Demo_Probe carrying the boundary BoundaryForLPMA) and denied outside it (Demo_Probe)",
            "pattern 2 ok: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com is allowed: this principal can create AgentCore runtimes",
            "pattern 5 ok: bedrock-agentcore:PutResourcePolicy is allowed on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/Demo_Probe-0000000000: cross-account callers can be granted by a resource policy (exact ARNs, no wildcards)",
            "pattern 6 ok: iam:PutRolePolicy is allowed on LPMA_Demo_Probe: Memory data-plane grants can be written on prefixed roles",
        ]);
    }

    #[test]
    fn denials_carry_the_exact_fix() {
        use ProbeKind::*;
        let boundary = Answer::Denied(Denial::Boundary(Some("BoundaryForLPMA".into())));
        let lines: Vec<String> = checks(&[
            (CreateRoleInsidePrefix, boundary.clone()),
            (CreateRoleOutsidePrefix, boundary.clone()),
            (PassRoleToAgentCore, boundary),
            (PutResourcePolicy, Answer::Denied(Denial::Organizations)),
            (PutRolePolicy, Answer::Denied(Denial::Identity)),
        ])
        .iter()
        .map(Check::line)
        .collect();
        assert_eq!(lines, vec![
            format!("pattern 1 PROBLEM: iam:CreateRole of LPMA_Demo_Probe carrying the boundary BoundaryForLPMA is not allowed by the permissions boundary BoundaryForLPMA. \
             Fix: the permissions boundary BoundaryForLPMA must allow iam:CreateRole on arn:aws:iam::123456789012:role/LPMA_* with the condition iam:PermissionsBoundary = {BOUNDARY}: ask its owners (usually security) to add that statement"),
            "pattern 2 PROBLEM: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com is not allowed by the permissions boundary BoundaryForLPMA, so this principal cannot create an AgentCore runtime. \
             Fix: create the runtime once with an elevated role (one-shot bootstrap, docs/bootstrap.md (examples/runtime-bootstrap.yaml)); CI then only updates it (UpdateAgentRuntime needs no PassRole) — or ask security to add bedrock-agentcore.amazonaws.com to the boundary's iam:PassedToService list".to_string(),
            "pattern 5 PROBLEM: bedrock-agentcore:PutResourcePolicy on arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/Demo_Probe-0000000000 is denied by a service control policy of the organization. \
             Fix: a service control policy denies bedrock-agentcore:PutResourcePolicy: only the organization's administrators can change that (or deploy from an account where it is allowed)".to_string(),
            format!("pattern 6 PROBLEM: iam:PutRolePolicy on LPMA_Demo_Probe is not allowed by any identity policy of the caller, so Memory data-plane grants cannot be written on prefixed roles. \
             Fix: add an Allow statement for iam:PutRolePolicy on arn:aws:iam::123456789012:role/LPMA_* with the condition iam:PermissionsBoundary = {BOUNDARY} to an identity policy of {CALLER}"),
        ]);
    }

    #[test]
    fn outside_the_prefix_allowed_is_a_note_and_unknowns_are_said() {
        use ProbeKind::*;
        let checks = checks(&[
            (CreateRoleInsidePrefix, Answer::Allowed),
            (CreateRoleOutsidePrefix, Answer::Allowed),
            (
                PassRoleToAgentCore,
                Answer::CannotTell(
                    "it depends on a condition on aws:SourceVpc, which the doctor cannot supply"
                        .into(),
                ),
            ),
        ]);
        assert_eq!(checks[0].status, Status::Ok);
        assert_eq!(checks[0].notes, vec![
            "iam:CreateRole is allowed outside the prefix too (Demo_Probe): nothing here enforces the LPMA_ naming, so keep naming roles LPMA_<App>_<Purpose> yourself".to_string()
        ]);
        assert_eq!(checks[1].line(), "pattern 2 cannot tell: iam:PassRole of LPMA_Demo_AgentCoreRuntime to bedrock-agentcore.amazonaws.com: it depends on a condition on aws:SourceVpc, which the doctor cannot supply");
        assert_eq!(checks[2].status, Status::CannotTell, "not simulated");
        let unavailable = simulation_unavailable("no simulator", Some("allow it"));
        assert_eq!(unavailable.len(), 4);
        assert!(unavailable.iter().all(|c| c.status == Status::CannotTell));
    }
}
