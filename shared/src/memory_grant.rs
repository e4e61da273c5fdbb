//! The decisions of the `memory-grant` function, which serves two resource types:
//! `Custom::AgentCoreMemoryGrant` (this module) and `Custom::AgentCoreInvokeGrant`
//! ([`crate::invoke_grant`]). Both write one inline policy, owned by the resource, to a role in
//! the stack's own account, and verify after writing that the role can really use it.
//!
//! Everything here is pure: dispatch on the resource type, property validation, the policy
//! document, the PhysicalResourceId, comparing the read-back document, and turning simulator or
//! local-evaluator decisions into a verdict and a Reason. The function crate only calls AWS.

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::arn::{MemoryArn, RoleRef};
use crate::custom_resource::{render_value, Properties, PropertyReader, Request};
use crate::iam_evaluation::{Decision, Evaluation};
use crate::invoke_grant;
use crate::policy_document::short_hash;
use crate::{Error, Result};

pub const RESOURCE_TYPE: &str = "Custom::AgentCoreMemoryGrant";

/// What a template declares when it does not name a custom type.
pub const GENERIC_RESOURCE_TYPE: &str = "AWS::CloudFormation::CustomResource";

/// The service prefix of every action granted here.
pub const SERVICE_PREFIX: &str = "bedrock-agentcore";

/// The AgentCore Memory data-plane actions, in the order they appear in a written policy.
/// Each name is the IAM action of the same-named data-plane operation, as listed in the
/// Service Authorization Reference ("Actions, resources, and condition keys for Amazon Bedrock
/// AgentCore"); every one of them is authorized on the `memory` resource type.
pub const MEMORY_ACTIONS: [&str; 15] = [
    "CreateEvent",
    "GetEvent",
    "ListEvents",
    "DeleteEvent",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "RetrieveMemoryRecords",
    "DeleteMemoryRecord",
    "BatchCreateMemoryRecords",
    "BatchUpdateMemoryRecords",
    "BatchDeleteMemoryRecords",
    "StartMemoryExtractionJob",
    "ListMemoryExtractionJobs",
];

/// `Access: ReadOnly`: the actions that read events, sessions, actors, records and extraction
/// jobs and change nothing (a strict subset of [`MEMORY_ACTIONS`], checked by a test).
pub const READ_ONLY_ACTIONS: [&str; 8] = [
    "GetEvent",
    "ListEvents",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "RetrieveMemoryRecords",
    "ListMemoryExtractionJobs",
];

/// Separates role name and policy name in the PhysicalResourceId. IAM role and policy names
/// are made of letters, digits and `+=,.@_-`, so neither can contain it.
const ID_SEPARATOR: char = '|';

/// IAM's limit on an inline policy name.
const MAX_POLICY_NAME: usize = 128;

/// IAM's limit on the inline policies of a role, summed over all of them (characters, without
/// whitespace). One grant stays far below it, but an `Actions` list cannot make it exceed it.
const MAX_INLINE_POLICY_CHARS: usize = 10_240;

/// Longest `unverified: <why>` return value: it travels in the 4096-byte response with the
/// other return values.
const MAX_VERIFICATION_CHARS: usize = 700;

/// Which resource type a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantKind {
    Memory,
    Invoke,
}

impl GrantKind {
    pub fn resource_type(self) -> &'static str {
        match self {
            GrantKind::Memory => RESOURCE_TYPE,
            GrantKind::Invoke => invoke_grant::RESOURCE_TYPE,
        }
    }
}

/// The resource type served for a request. A template that declares the generic
/// `AWS::CloudFormation::CustomResource` is recognised by its target property.
pub fn grant_kind(resource_type: &str, properties: &Properties) -> Result<GrantKind> {
    match resource_type {
        RESOURCE_TYPE => Ok(GrantKind::Memory),
        invoke_grant::RESOURCE_TYPE => Ok(GrantKind::Invoke),
        GENERIC_RESOURCE_TYPE => {
            match (properties.contains("MemoryArn"), properties.contains("RuntimeArn")) {
                (true, false) => Ok(GrantKind::Memory),
                (false, true) => Ok(GrantKind::Invoke),
                (true, true) => Err(Error::Rule(format!(
                    "ambiguous {GENERIC_RESOURCE_TYPE}: it has both MemoryArn ({RESOURCE_TYPE}) and RuntimeArn ({}); declare the type as {RESOURCE_TYPE} or {} and give only its properties",
                    invoke_grant::RESOURCE_TYPE,
                    invoke_grant::RESOURCE_TYPE
                ))),
                (false, false) => Err(Error::Rule(format!(
                    "cannot tell which grant this {GENERIC_RESOURCE_TYPE} is: it has neither MemoryArn ({RESOURCE_TYPE}) nor RuntimeArn ({}); declare the type as {RESOURCE_TYPE} or {}",
                    invoke_grant::RESOURCE_TYPE,
                    invoke_grant::RESOURCE_TYPE
                ))),
            }
        }
        other => Err(Error::Rule(format!(
            "this function serves {RESOURCE_TYPE} and {} (or {GENERIC_RESOURCE_TYPE} with MemoryArn or RuntimeArn), not {other}; check the template's Type and ServiceToken",
            invoke_grant::RESOURCE_TYPE
        ))),
    }
}

/// The function's configuration, from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantSettings {
    /// `REQUIRED_ROLE_PREFIX`: every granted role's name must start with it (empty: no check).
    pub required_role_prefix: String,
    /// `VERIFY_ATTEMPTS`: how many times a denial that a write may still be propagating is
    /// checked before it counts (default 5, 1 to [`MAX_VERIFY_ATTEMPTS`]).
    pub verify_attempts: u32,
    /// `VERIFY_BACKOFF_MS`: the wait before the first re-check, doubled for each further
    /// re-check up to [`MAX_VERIFY_BACKOFF_MS`] (default 2000).
    pub verify_backoff_ms: u64,
}

/// Cap on one wait between verification checks.
pub const MAX_VERIFY_BACKOFF_MS: u64 = 10_000;

/// Cap on `VERIFY_ATTEMPTS`. A handler that overruns the Lambda deadline is answered FAILED by
/// the protocol without running its undo, so the worst case (9 waits of at most 10 s) must stay
/// well inside the function's Timeout (120 s in template.yaml).
pub const MAX_VERIFY_ATTEMPTS: u32 = 10;

impl Default for GrantSettings {
    fn default() -> Self {
        GrantSettings {
            required_role_prefix: String::new(),
            verify_attempts: 5,
            verify_backoff_ms: 2_000,
        }
    }
}

impl GrantSettings {
    /// Read the settings through `var` (the process environment in the function).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut settings = GrantSettings::default();
        if let Some(prefix) = var("REQUIRED_ROLE_PREFIX") {
            let prefix = prefix.trim().to_string();
            if !prefix.chars().all(is_iam_name_char) || prefix.len() > 63 {
                return Err(Error::Config(format!(
                    "REQUIRED_ROLE_PREFIX is {prefix:?}; expected the start of an IAM role name (letters, digits or +=,.@_-), or empty to disable the check"
                )));
            }
            settings.required_role_prefix = prefix;
        }
        if let Some(text) = var("VERIFY_ATTEMPTS") {
            settings.verify_attempts = match text.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_VERIFY_ATTEMPTS).contains(&n) => n,
                _ => {
                    return Err(Error::Config(format!(
                        "VERIFY_ATTEMPTS is {text:?}; expected a whole number from 1 to {MAX_VERIFY_ATTEMPTS}"
                    )))
                }
            };
        }
        if let Some(text) = var("VERIFY_BACKOFF_MS") {
            settings.verify_backoff_ms = match text.trim().parse::<u64>() {
                Ok(n) if n <= MAX_VERIFY_BACKOFF_MS => n,
                _ => {
                    return Err(Error::Config(format!(
                        "VERIFY_BACKOFF_MS is {text:?}; expected a whole number of milliseconds up to {MAX_VERIFY_BACKOFF_MS}"
                    )))
                }
            };
        }
        Ok(settings)
    }

    /// The wait before check number `attempt` (2, 3, ...): the backoff doubled per re-check.
    pub fn backoff_before(&self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(2).min(16);
        self.verify_backoff_ms
            .saturating_mul(1 << doublings)
            .min(MAX_VERIFY_BACKOFF_MS)
    }
}

/// Where the stack lives, from its StackId
/// (`arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackLocation {
    pub partition: String,
    pub region: String,
    pub account: String,
}

pub fn stack_location(stack_id: &str) -> Result<StackLocation> {
    let parts: Vec<&str> = stack_id.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "cloudformation", region, account, resource]
            if !partition.is_empty()
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.starts_with("stack/") =>
        {
            Ok(StackLocation {
                partition: partition.to_string(),
                region: region.to_string(),
                account: account.to_string(),
            })
        }
        _ => Err(Error::Rule(format!(
            "the request's StackId {stack_id:?} is not a CloudFormation stack ARN (arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>); the grant's role must be in the stack's account, which cannot be told"
        ))),
    }
}

/// One inline policy to own on one role: what either resource type writes.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub kind: GrantKind,
    pub role_name: String,
    /// The role's ARN when `RoleName` was given as one (it may carry a path).
    pub role_arn: Option<String>,
    pub policy_name: String,
    /// Full action names (`bedrock-agentcore:CreateEvent`), without duplicates.
    pub actions: Vec<String>,
    /// Exact ARNs, without duplicates.
    pub resources: Vec<String>,
    pub verify: bool,
    /// `Custom::AgentCoreInvokeGrant` with `RequireReady`: the runtime that must be READY.
    pub require_ready: Option<crate::arn::RuntimeArn>,
    pub stack: StackLocation,
}

impl Grant {
    /// Parse and validate the request's properties for its resource type, and apply the
    /// function's role-name rule. Makes no AWS call, so a rejected request touches nothing.
    pub fn from_request(request: &Request, settings: &GrantSettings) -> Result<Self> {
        let kind = grant_kind(&request.resource_type, &request.properties)?;
        let stack = stack_location(&request.stack_id)?;
        let grant = match kind {
            GrantKind::Memory => memory_grant(request, &stack)?,
            GrantKind::Invoke => invoke_grant::invoke_grant(request, &stack)?,
        };
        check_role_prefix(&grant.role_name, &settings.required_role_prefix)?;
        grant.check_size()?;
        Ok(grant)
    }

    /// The inline policy document: exactly the granted actions on exactly the target ARNs.
    pub fn document(&self) -> Value {
        let sid = match self.kind {
            GrantKind::Memory => "AgentCoreMemoryDataPlane",
            GrantKind::Invoke => "AgentCoreInvokeRuntime",
        };
        let action = match self.actions.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let resource = match self.resources.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}]
        })
    }

    pub fn document_text(&self) -> String {
        self.document().to_string()
    }

    pub fn physical_id(&self) -> String {
        physical_id(&self.role_name, &self.policy_name)
    }

    /// The role's ARN as simulation needs it, when the role's own ARN is not known: the one
    /// given, or the name in the stack's account without a path.
    pub fn assumed_role_arn(&self) -> String {
        self.role_arn.clone().unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:role/{}",
                self.stack.partition, self.stack.account, self.role_name
            )
        })
    }

    /// Every (action, resource) the role must be allowed after the write.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.actions
            .iter()
            .flat_map(|a| self.resources.iter().map(move |r| (a.clone(), r.clone())))
            .collect()
    }

    /// The `Actions` return value.
    pub fn actions_value(&self) -> String {
        self.actions.join(",")
    }

    fn check_size(&self) -> Result<()> {
        let size = self
            .document_text()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        if size > MAX_INLINE_POLICY_CHARS {
            return Err(Error::Rule(format!(
                "the inline policy {} would be {size} characters, over IAM's {MAX_INLINE_POLICY_CHARS}-character limit on a role's inline policies; grant fewer endpoints or actions",
                self.policy_name
            )));
        }
        Ok(())
    }
}

/// The common properties, read in the same way by both resource types.
pub(crate) struct CommonProperties {
    pub role_name: String,
    pub role_arn: Option<String>,
    pub policy_name: String,
    pub verify: bool,
}

/// Reads `RoleName` (required), `PolicyName` and `Verify`; the caller reads its own properties
/// and calls `finish` on the reader.
pub(crate) fn read_common(
    reader: &mut PropertyReader<'_>,
    request: &Request,
    stack: &StackLocation,
    default_prefix: &str,
) -> Result<CommonProperties> {
    let role_text = reader.required_string(
        "RoleName",
        "the name of an IAM role in the stack's account (a role ARN is also accepted)",
    )?;
    let policy_name = reader.string("PolicyName")?;
    let verify = reader.bool("Verify")?.unwrap_or(true);

    let role = RoleRef::parse(role_text.trim())
        .map_err(|rule| Error::invalid("RoleName", quoted(&role_text), rule))?;
    let role_arn = match role.account.as_deref() {
        None => None,
        Some(account) => {
            let partition = role_text.split(':').nth(1).unwrap_or_default();
            if account != stack.account || partition != stack.partition {
                return Err(Error::invalid(
                    "RoleName",
                    quoted(&role_text),
                    format!(
                        "a role in the stack's own account {} (partition {}): this resource writes the role's identity policy, which only the role's account can do; a role in another account is granted access by a resource-based policy (Custom::AgentCoreRuntimePolicy for a runtime)",
                        stack.account, stack.partition
                    ),
                ));
            }
            Some(role_text.trim().to_string())
        }
    };

    let policy_name = match policy_name {
        Some(name) => {
            check_policy_name(&name)
                .map_err(|rule| Error::invalid("PolicyName", quoted(&name), rule))?;
            name
        }
        None => default_policy_name(
            default_prefix,
            &request.logical_resource_id,
            &request.stack_id,
        ),
    };
    Ok(CommonProperties {
        role_name: role.name,
        role_arn,
        policy_name,
        verify,
    })
}

fn memory_grant(request: &Request, stack: &StackLocation) -> Result<Grant> {
    let mut r = request.properties.reader(RESOURCE_TYPE);
    let common = read_common(&mut r, request, stack, "AgentCoreMemory")?;
    let memory_text = r.required_string(
        "MemoryArn",
        "an exact AgentCore memory ARN arn:<partition>:bedrock-agentcore:<region>:<account>:memory/<memory-id>",
    )?;
    let access = r.string("Access")?;
    let actions = r.string_list("Actions")?;
    r.finish()?;

    let memory = MemoryArn::parse(memory_text.trim())
        .map_err(|rule| Error::invalid("MemoryArn", quoted(&memory_text), rule))?;
    if memory.location.partition != stack.partition {
        return Err(Error::invalid(
            "MemoryArn",
            quoted(&memory_text),
            format!(
                "a memory in the stack's partition {}: a role cannot be granted resources of another partition",
                stack.partition
            ),
        ));
    }
    let names = match (access, actions) {
        (Some(access), Some(actions)) => {
            return Err(Error::invalid(
                "Actions",
                render_value(&json!(actions)),
                format!(
                    "either Access or Actions, not both: Access {} already chooses the actions",
                    quoted(&access)
                ),
            ))
        }
        (_, Some(actions)) => memory_actions(&actions)?,
        (Some(access), None) => access_actions(&access)?,
        (None, None) => MEMORY_ACTIONS.to_vec(),
    };
    Ok(Grant {
        kind: GrantKind::Memory,
        role_name: common.role_name,
        role_arn: common.role_arn,
        policy_name: common.policy_name,
        actions: names
            .iter()
            .map(|name| format!("{SERVICE_PREFIX}:{name}"))
            .collect(),
        resources: vec![memory.to_string()],
        verify: common.verify,
        require_ready: None,
        stack: stack.clone(),
    })
}

/// The actions an `Access` preset stands for.
fn access_actions(access: &str) -> Result<Vec<&'static str>> {
    match access.trim().to_ascii_lowercase().as_str() {
        "readwrite" => Ok(MEMORY_ACTIONS.to_vec()),
        "readonly" => Ok(READ_ONLY_ACTIONS.to_vec()),
        _ => Err(Error::invalid(
            "Access",
            quoted(access),
            "ReadWrite (all Memory data-plane actions) or ReadOnly (only those that read)",
        )),
    }
}

/// Validate an explicit `Actions` list: each item a Memory data-plane action, with or without
/// the `bedrock-agentcore:` prefix, in any letter case (IAM action names are case-insensitive).
/// The result is in the canonical order of [`MEMORY_ACTIONS`], so the written document does
/// not change when only the order of the list does.
fn memory_actions(actions: &[String]) -> Result<Vec<&'static str>> {
    if actions.is_empty() {
        return Err(Error::invalid(
            "Actions",
            "[]",
            "at least one Memory data-plane action (or leave Actions out and use Access)",
        ));
    }
    let mut chosen = Vec::new();
    for given in actions {
        let text = given.trim();
        let name = match text.split_once(':') {
            Some((service, name)) if service.eq_ignore_ascii_case(SERVICE_PREFIX) => name,
            Some(_) => {
                return Err(Error::invalid(
                    "Actions",
                    quoted(given),
                    memory_action_rule(),
                ))
            }
            None => text,
        };
        let canonical = MEMORY_ACTIONS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::invalid("Actions", quoted(given), memory_action_rule()))?;
        if !chosen.contains(canonical) {
            chosen.push(*canonical);
        }
    }
    Ok(MEMORY_ACTIONS
        .iter()
        .copied()
        .filter(|a| chosen.contains(a))
        .collect())
}

fn memory_action_rule() -> String {
    format!(
        "Memory data-plane actions only (no wildcards), each one of: {}",
        MEMORY_ACTIONS.join(", ")
    )
}

/// `<prefix>-<LogicalResourceId>-<short hash of StackId>`: unique per resource (the logical id
/// is unique in a stack, the hash tells stacks apart) and stable when the target ARN changes.
/// A logical id too long for IAM's 128-character limit is cut, and the hash then also covers
/// the full logical id, so two long ids with a common beginning still get different names.
pub fn default_policy_name(prefix: &str, logical_resource_id: &str, stack_id: &str) -> String {
    let logical: String = logical_resource_id
        .chars()
        .filter(|c| is_iam_name_char(*c))
        .collect();
    let name = format!("{prefix}-{logical}-{}", short_hash(stack_id));
    if name.len() <= MAX_POLICY_NAME {
        return name;
    }
    let hash = short_hash(&format!("{stack_id}/{logical_resource_id}"));
    let room = MAX_POLICY_NAME - prefix.len() - hash.len() - 2;
    format!("{prefix}-{}-{hash}", &logical[..room])
}

fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

fn check_policy_name(name: &str) -> std::result::Result<(), String> {
    if !name.is_empty() && name.len() <= MAX_POLICY_NAME && name.chars().all(is_iam_name_char) {
        Ok(())
    } else {
        Err(format!(
            "an IAM inline policy name: 1-{MAX_POLICY_NAME} letters, digits or +=,.@_-"
        ))
    }
}

/// The role-name rule of boundary-constrained accounts, checked before any AWS call.
pub fn check_role_prefix(role_name: &str, prefix: &str) -> Result<()> {
    if prefix.is_empty() || role_name.starts_with(prefix) {
        return Ok(());
    }
    Err(Error::invalid(
        "RoleName",
        quoted(role_name),
        format!(
            "a role whose name starts with {prefix}: the permissions boundary only lets this team manage roles named {prefix}*, so IAM would refuse to change this role with an AccessDenied that does not mention the naming rule (the prefix is the function's REQUIRED_ROLE_PREFIX)"
        ),
    ))
}

pub fn physical_id(role_name: &str, policy_name: &str) -> String {
    format!("{role_name}{ID_SEPARATOR}{policy_name}")
}

/// The role and inline policy a PhysicalResourceId names; `None` for anything else (such as
/// an id written by another implementation), which then owns nothing here.
pub fn parse_physical_id(id: &str) -> Option<(String, String)> {
    let (role, policy) = id.split_once(ID_SEPARATOR)?;
    RoleRef::parse(role).ok().filter(|r| r.account.is_none())?;
    check_policy_name(policy).ok()?;
    Some((role.to_string(), policy.to_string()))
}

/// A policy document as IAM returns it: URL-encoded (GetRolePolicy, GetPolicyVersion), or
/// already plain (some emulators and SDK layers decode it).
pub fn decode_policy_document(text: &str) -> std::result::Result<Value, String> {
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(value);
    }
    let decoded = percent_decode_str(text)
        .decode_utf8()
        .map_err(|_| "it is URL-encoded but not UTF-8".to_string())?;
    serde_json::from_str::<Value>(&decoded)
        .map_err(|e| format!("it is not a JSON policy document, even URL-decoded ({e})"))
}

/// Whether the document read back is the one written: the same JSON, whatever the spacing.
pub fn same_document(read_back: &str, written: &Value) -> bool {
    decode_policy_document(read_back).is_ok_and(|value| &value == written)
}

// ---------------------------------------------------------------------------------------
// Verification

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
}

/// The simulator's answer in the terms of the local evaluator. `boundary` names the role's
/// boundary policy, when known.
pub fn simulated_evaluation(result: &SimulatedResult, boundary: Option<&str>) -> Evaluation {
    let decision = match result.decision {
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
    )
}

/// Whether a later check may answer differently: only a denial for lack of an identity-policy
/// allow can be IAM still propagating the policy just written. The boundary and explicit
/// denies were not changed by the write, so re-checking them only wastes the deadline.
pub fn worth_rechecking(denied: &[Evaluation]) -> bool {
    denied
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
            GrantKind::Invoke => "ask the owner of the permissions boundary to allow bedrock-agentcore:InvokeAgentRuntime on this runtime and its endpoints",
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

pub(crate) fn quoted(s: &str) -> String {
    render_value(&Value::String(s.to_string()))
}

fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom_resource::RequestType;
    use serde_json::json;

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/0f1e2d3c-aaaa-bbbb-cccc-000000000000";
    const MEMORY: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/demo_memory-0123456789";
    const ROLE: &str = "LPMA_Demo_AgentCoreRuntime";

    fn request(resource_type: &str, properties: Value) -> Request {
        Request {
            request_type: RequestType::Create,
            request_id: "r".into(),
            stack_id: STACK.into(),
            logical_resource_id: "MemoryGrant".into(),
            resource_type: resource_type.into(),
            physical_resource_id: None,
            properties: Properties::from_value(properties),
            old_properties: None,
            deadline: None,
        }
    }

    fn settings(prefix: &str) -> GrantSettings {
        GrantSettings {
            required_role_prefix: prefix.into(),
            ..GrantSettings::default()
        }
    }

    fn grant(properties: Value) -> Result<Grant> {
        Grant::from_request(&request(RESOURCE_TYPE, properties), &settings("LPMA_"))
    }

    #[test]
    fn read_only_is_a_strict_subset_of_read_write() {
        assert!(READ_ONLY_ACTIONS.iter().all(|a| MEMORY_ACTIONS.contains(a)));
        assert!(READ_ONLY_ACTIONS.len() < MEMORY_ACTIONS.len());
        for write in [
            "CreateEvent",
            "DeleteEvent",
            "DeleteMemoryRecord",
            "BatchCreateMemoryRecords",
            "BatchUpdateMemoryRecords",
            "BatchDeleteMemoryRecords",
            "StartMemoryExtractionJob",
        ] {
            assert!(
                !READ_ONLY_ACTIONS.contains(&write),
                "{write} changes the memory"
            );
        }
        let mut unique = MEMORY_ACTIONS.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), MEMORY_ACTIONS.len());
    }

    #[test]
    fn dispatch_on_resource_type_and_generic_properties() {
        let memory = Properties::from_value(json!({"MemoryArn": MEMORY}));
        let runtime = Properties::from_value(json!({"RuntimeArn": "x"}));
        let both = Properties::from_value(json!({"MemoryArn": MEMORY, "RuntimeArn": "x"}));
        let neither = Properties::from_value(json!({"RoleName": ROLE}));
        let table: &[(&str, &Properties, std::result::Result<GrantKind, &str>)] = &[
            (RESOURCE_TYPE, &runtime, Ok(GrantKind::Memory)),
            (
                "Custom::AgentCoreInvokeGrant",
                &memory,
                Ok(GrantKind::Invoke),
            ),
            (GENERIC_RESOURCE_TYPE, &memory, Ok(GrantKind::Memory)),
            (GENERIC_RESOURCE_TYPE, &runtime, Ok(GrantKind::Invoke)),
            (
                GENERIC_RESOURCE_TYPE,
                &both,
                Err("ambiguous AWS::CloudFormation::CustomResource: it has both MemoryArn"),
            ),
            (GENERIC_RESOURCE_TYPE, &neither, Err("neither MemoryArn")),
            ("Custom::Other", &memory, Err("not Custom::Other")),
        ];
        for (resource_type, properties, expected) in table {
            match (grant_kind(resource_type, properties), expected) {
                (Ok(kind), Ok(want)) => assert_eq!(&kind, want, "{resource_type}"),
                (Err(e), Err(text)) => {
                    assert!(e.to_string().contains(text), "{resource_type}: {e}")
                }
                (got, want) => panic!("{resource_type}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn memory_grant_defaults() {
        let g = grant(
            json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "RoleName": ROLE, "MemoryArn": MEMORY}),
        )
        .unwrap();
        assert_eq!(g.kind, GrantKind::Memory);
        assert_eq!(g.role_name, ROLE);
        assert_eq!(
            g.policy_name,
            format!("AgentCoreMemory-MemoryGrant-{}", short_hash(STACK))
        );
        assert_eq!(g.actions.len(), 15);
        assert_eq!(g.actions[0], "bedrock-agentcore:CreateEvent");
        assert_eq!(g.resources, vec![MEMORY.to_string()]);
        assert!(g.verify);
        assert_eq!(g.physical_id(), format!("{ROLE}|{}", g.policy_name));
        assert_eq!(
            g.assumed_role_arn(),
            format!("arn:aws:iam::123456789012:role/{ROLE}")
        );
        assert_eq!(g.requests().len(), 15);
        assert_eq!(
            g.document(),
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "AgentCoreMemoryDataPlane",
                "Effect": "Allow", "Action": g.actions, "Resource": MEMORY}]})
        );
    }

    #[test]
    fn access_presets_and_explicit_actions() {
        let cases: &[(Value, std::result::Result<Vec<&str>, &str>)] = &[
            (
                json!({"Access": "ReadOnly"}),
                Ok(READ_ONLY_ACTIONS.to_vec()),
            ),
            (json!({"Access": "readwrite"}), Ok(MEMORY_ACTIONS.to_vec())),
            (
                json!({"Access": "Admin"}),
                Err("property Access has value \"Admin\"; expected ReadWrite"),
            ),
            (
                json!({"Actions": ["bedrock-agentcore:ListEvents", "createevent", "CreateEvent"]}),
                Ok(vec!["CreateEvent", "ListEvents"]),
            ),
            (json!({"Actions": "[\"GetEvent\"]"}), Ok(vec!["GetEvent"])),
            (
                json!({"Actions": ["bedrock-agentcore:*"]}),
                Err("Memory data-plane actions only (no wildcards)"),
            ),
            (
                json!({"Actions": ["InvokeAgentRuntime"]}),
                Err("\"InvokeAgentRuntime\""),
            ),
            (
                json!({"Actions": ["s3:GetObject"]}),
                Err("\"s3:GetObject\""),
            ),
            (
                json!({"Actions": []}),
                Err("at least one Memory data-plane action"),
            ),
            (
                json!({"Actions": ["GetEvent"], "Access": "ReadOnly"}),
                Err("either Access or Actions, not both"),
            ),
        ];
        for (extra, expected) in cases {
            let mut properties = json!({"RoleName": ROLE, "MemoryArn": MEMORY});
            properties
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            match (grant(properties), expected) {
                (Ok(g), Ok(names)) => {
                    let want: Vec<String> = names
                        .iter()
                        .map(|n| format!("bedrock-agentcore:{n}"))
                        .collect();
                    assert_eq!(g.actions, want, "{extra}");
                    assert_eq!(g.actions_value(), want.join(","));
                }
                (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{extra}: {e}"),
                (got, want) => panic!("{extra}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn invalid_properties_name_property_value_and_rule() {
        let cases: &[(Value, &str)] = &[
            (json!({"MemoryArn": MEMORY}), "property RoleName is required but was not given"),
            (json!({"RoleName": ROLE}), "property MemoryArn is required but was not given"),
            (json!({"RoleName": ROLE, "MemoryArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/*"}), "wildcards"),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY.replace("memory/", "runtime/")}), "memory/<memory-id>"),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY.replace("arn:aws:", "arn:aws-cn:")}), "the stack's partition aws"),
            (json!({"RoleName": "LPMA_*", "MemoryArn": MEMORY}), "property RoleName has value \"LPMA_*\""),
            (json!({"RoleName": "arn:aws:iam::210987654321:role/LPMA_Other", "MemoryArn": MEMORY}), "the stack's own account 123456789012"),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "has space"}), "property PolicyName has value \"has space\""),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY, "Verify": "maybe"}), "property Verify has value \"maybe\""),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY, "RuntimeArn": "x"}), "property RuntimeArn is not a property of Custom::AgentCoreMemoryGrant"),
            (json!({"RoleName": "Other_Role", "MemoryArn": MEMORY}), "property RoleName has value \"Other_Role\"; expected a role whose name starts with LPMA_: the permissions boundary only lets this team manage roles named LPMA_*"),
        ];
        for (properties, text) in cases {
            let e = grant(properties.clone()).unwrap_err().to_string();
            assert!(e.contains(text), "{properties}: {e}");
        }
    }

    #[test]
    fn role_given_as_arn_keeps_its_arn() {
        let arn = format!("arn:aws:iam::123456789012:role/service/{ROLE}");
        let g = grant(
            json!({"RoleName": arn, "MemoryArn": MEMORY, "Verify": "false", "PolicyName": "Mine"}),
        )
        .unwrap();
        assert_eq!(g.role_name, ROLE);
        assert_eq!(g.assumed_role_arn(), arn);
        assert_eq!(g.physical_id(), format!("{ROLE}|Mine"));
        assert!(!g.verify);
    }

    #[test]
    fn role_prefix_rule() {
        let table = [
            ("LPMA_App_Runtime", "LPMA_", true),
            ("LPMA_App_Runtime", "", true),
            ("lpma_App_Runtime", "LPMA_", false),
            ("App_Runtime", "LPMA_", false),
        ];
        for (role, prefix, ok) in table {
            let result = check_role_prefix(role, prefix);
            assert_eq!(result.is_ok(), ok, "{role} with {prefix:?}");
            if let Err(e) = result {
                let e = e.to_string();
                assert!(
                    e.contains(&format!("roles named {prefix}*"))
                        && e.contains("REQUIRED_ROLE_PREFIX"),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn settings_from_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            GrantSettings::from_vars(vars(&[])).unwrap(),
            GrantSettings::default()
        );
        let s = GrantSettings::from_vars(vars(&[
            ("REQUIRED_ROLE_PREFIX", " LPMA_ "),
            ("VERIFY_ATTEMPTS", "3"),
            ("VERIFY_BACKOFF_MS", "10"),
        ]))
        .unwrap();
        assert_eq!(
            (
                s.required_role_prefix.as_str(),
                s.verify_attempts,
                s.verify_backoff_ms
            ),
            ("LPMA_", 3, 10)
        );
        for (bad, name) in [
            (
                &[("REQUIRED_ROLE_PREFIX", "LPMA*")][..],
                "REQUIRED_ROLE_PREFIX",
            ),
            (&[("VERIFY_ATTEMPTS", "0")][..], "VERIFY_ATTEMPTS"),
            (&[("VERIFY_ATTEMPTS", "many")][..], "VERIFY_ATTEMPTS"),
            (&[("VERIFY_ATTEMPTS", "11")][..], "from 1 to 10"),
            (&[("VERIFY_BACKOFF_MS", "60000")][..], "VERIFY_BACKOFF_MS"),
        ] {
            let e = GrantSettings::from_vars(vars(bad)).unwrap_err().to_string();
            assert!(e.starts_with("configuration: ") && e.contains(name), "{e}");
        }
        let s = GrantSettings {
            verify_backoff_ms: 2_000,
            ..GrantSettings::default()
        };
        assert_eq!(
            [2, 3, 4, 5, 6].map(|n| s.backoff_before(n)),
            [2_000, 4_000, 8_000, 10_000, 10_000]
        );
    }

    #[test]
    fn stack_ids() {
        let l = stack_location(STACK).unwrap();
        assert_eq!(
            (l.partition.as_str(), l.region.as_str(), l.account.as_str()),
            ("aws", "us-east-1", "123456789012")
        );
        for bad in [
            "",
            "stack",
            "arn:aws:cloudformation:us-east-1:1234:stack/x/y",
            "arn:aws:s3:::bucket",
        ] {
            assert!(
                stack_location(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("not a CloudFormation stack ARN"),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_policy_names_are_stable_unique_and_valid() {
        let a = default_policy_name("AgentCoreMemory", "Grant", STACK);
        assert_eq!(a, format!("AgentCoreMemory-Grant-{}", short_hash(STACK)));
        assert_ne!(
            a,
            default_policy_name("AgentCoreMemory", "Grant", &STACK.replace("demo", "other"))
        );
        assert_ne!(a, default_policy_name("AgentCoreMemory", "Grant2", STACK));
        let long_a =
            default_policy_name("AgentCoreMemory", &format!("{}A", "L".repeat(200)), STACK);
        let long_b =
            default_policy_name("AgentCoreMemory", &format!("{}B", "L".repeat(200)), STACK);
        assert_eq!(long_a.len(), 128);
        assert_ne!(long_a, long_b);
        assert!(check_policy_name(&long_a).is_ok());
    }

    #[test]
    fn physical_ids_round_trip_and_foreign_ids_own_nothing() {
        let id = physical_id(ROLE, "AgentCoreMemory-Grant-0123456789ab");
        assert_eq!(
            parse_physical_id(&id),
            Some((
                ROLE.to_string(),
                "AgentCoreMemory-Grant-0123456789ab".to_string()
            ))
        );
        for foreign in [
            "",
            ROLE,
            "a|b|c",
            "corebound-failed-create:r",
            "arn:aws:iam::1:role/x|p",
            "|p",
            "r|",
        ] {
            assert_eq!(parse_physical_id(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn read_back_documents_are_compared_after_url_decoding() {
        let written = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:B", "Resource": "arn:x"}]});
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22a%3AB%22%2C%20%22Resource%22%3A%20%22arn%3Ax%22%7D%5D%7D";
        let table = [
            (encoded.to_string(), true),
            (written.to_string(), true),
            (serde_json::to_string_pretty(&written).unwrap(), true),
            (encoded.replace("arn%3Ax", "arn%3Ay"), false),
            ("%7B".to_string(), false),
            ("not json".to_string(), false),
        ];
        for (read_back, same) in table {
            assert_eq!(same_document(&read_back, &written), same, "{read_back}");
        }
        assert!(decode_policy_document("%7B")
            .unwrap_err()
            .contains("URL-decoded"));
    }

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
        }
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
