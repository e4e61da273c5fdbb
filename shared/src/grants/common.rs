//! What both grant resource types share: the function's settings, dispatch on the resource
//! type, the common properties (`RoleName`, `PolicyName`, `Verify`), the role-prefix rule, the
//! policy name and PhysicalResourceId, and reading back the written document.
//!
//! Everything here is pure; the function crate only calls AWS.

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::arn::RoleRef;
use crate::custom_resource::{render_value, Properties, PropertyReader, Request};
use crate::grants::invoke::RESOURCE_TYPE as INVOKE_TYPE;
use crate::grants::memory::RESOURCE_TYPE as MEMORY_TYPE;
use crate::grants::{invoke, memory, ownership};
use crate::policy_document::short_hash;
use crate::{Error, Result};

/// What a template declares when it does not name a custom type.
pub const GENERIC_RESOURCE_TYPE: &str = "AWS::CloudFormation::CustomResource";

/// The service prefix of every action granted here.
pub const SERVICE_PREFIX: &str = "bedrock-agentcore";

/// Separates role name and policy name in the PhysicalResourceId. IAM role and policy names
/// are made of letters, digits and `+=,.@_-`, so neither can contain it.
const ID_SEPARATOR: char = '|';

/// IAM's limit on an inline policy name.
const MAX_POLICY_NAME: usize = 128;

/// IAM's limit on the inline policies of a role, summed over all of them (characters, without
/// whitespace). One grant stays far below it, but an `Actions` list cannot make it exceed it.
const MAX_INLINE_POLICY_CHARS: usize = 10_240;

/// Which resource type a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantKind {
    Memory,
    Invoke,
}

impl GrantKind {
    pub fn resource_type(self) -> &'static str {
        match self {
            GrantKind::Memory => MEMORY_TYPE,
            GrantKind::Invoke => INVOKE_TYPE,
        }
    }
}

/// The resource type served for a request. A template that declares the generic
/// `AWS::CloudFormation::CustomResource` is recognised by its target property.
pub fn grant_kind(resource_type: &str, properties: &Properties) -> Result<GrantKind> {
    match resource_type {
        MEMORY_TYPE => Ok(GrantKind::Memory),
        INVOKE_TYPE => Ok(GrantKind::Invoke),
        GENERIC_RESOURCE_TYPE => {
            match (properties.contains("MemoryArn"), properties.contains("RuntimeArn")) {
                (true, false) => Ok(GrantKind::Memory),
                (false, true) => Ok(GrantKind::Invoke),
                (true, true) => Err(Error::Rule(format!(
                    "ambiguous {GENERIC_RESOURCE_TYPE}: it has both MemoryArn ({MEMORY_TYPE}) and RuntimeArn ({}); declare the type as {MEMORY_TYPE} or {} and give only its properties",
                    INVOKE_TYPE,
                    INVOKE_TYPE
                ))),
                (false, false) => Err(Error::Rule(format!(
                    "cannot tell which grant this {GENERIC_RESOURCE_TYPE} is: it has neither MemoryArn ({MEMORY_TYPE}) nor RuntimeArn ({}); declare the type as {MEMORY_TYPE} or {}",
                    INVOKE_TYPE,
                    INVOKE_TYPE
                ))),
            }
        }
        other => Err(Error::Rule(format!(
            "this function serves {MEMORY_TYPE} and {} (or {GENERIC_RESOURCE_TYPE} with MemoryArn or RuntimeArn), not {other}; check the template's Type and ServiceToken",
            INVOKE_TYPE
        ))),
    }
}

/// The function's configuration, from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantSettings {
    /// `REQUIRED_ROLE_PREFIX`: every granted role's name must start with it. Required and never
    /// empty: an empty prefix would turn the rule off.
    pub required_role_prefix: String,
    /// `SCOPE_PATTERNS`: role, memory and runtime names must match one of these globs
    /// ([`crate::scope`]). `None` when unset (local use): only the prefix rule applies.
    pub scope_patterns: Option<Vec<String>>,
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
            scope_patterns: None,
            verify_attempts: 5,
            verify_backoff_ms: 2_000,
        }
    }
}

impl GrantSettings {
    /// Read the settings through `var` (the process environment in the function).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut settings = GrantSettings::default();
        let prefix = var("REQUIRED_ROLE_PREFIX").unwrap_or_default();
        let prefix = prefix.trim().to_string();
        if prefix.is_empty() || !prefix.chars().all(is_iam_name_char) || prefix.len() > 63 {
            return Err(Error::Config(format!(
                "REQUIRED_ROLE_PREFIX is {prefix:?}; expected the start of an IAM role name (1-63 letters, digits or +=,.@_-, e.g. LPMA_): it is required, because an empty prefix would let a stack grant any role of the account (the template sets it from RolePrefix)"
            )));
        }
        settings.required_role_prefix = prefix;
        settings.scope_patterns = crate::scope::optional_patterns(var("SCOPE_PATTERNS").as_deref())
            .map_err(|expected| {
                Error::Config(format!(
                    "SCOPE_PATTERNS is {:?}; expected {expected} (the template sets it from ScopePatterns)",
                    var("SCOPE_PATTERNS").unwrap_or_default()
                ))
            })?;
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
    /// The memory or runtime granted.
    pub target: Target,
    /// Who wrote it: [`ownership::owner_id`] of the request's StackId and LogicalResourceId,
    /// recorded in the statement's Sid.
    pub owner: String,
    pub stack: StackLocation,
}

/// The memory or runtime a grant names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `memory` or `runtime`, for Reasons.
    pub noun: &'static str,
    pub arn: String,
    /// Its name: the id without AgentCore's `-<10 characters>` suffix (what scope matches).
    pub name: String,
    pub region: String,
    pub account: String,
}

impl Target {
    pub fn new(noun: &'static str, arn: String, id: &str, location: &crate::arn::Location) -> Self {
        Target {
            noun,
            arn,
            name: name_of_id(id).to_string(),
            region: location.region.clone(),
            account: location.account.clone(),
        }
    }
}

/// An AgentCore id is `<name>-<10 letters or digits>`; the name is what a stack author chose.
pub fn name_of_id(id: &str) -> &str {
    match id.rsplit_once('-') {
        Some((name, suffix)) if suffix.len() == 10 && !name.is_empty() => name,
        _ => id,
    }
}

impl Grant {
    /// Parse and validate the request's properties for its resource type, and apply the
    /// function's role-name and scope rules. Makes no AWS call, so a rejected request touches
    /// nothing.
    pub fn from_request(request: &Request, settings: &GrantSettings) -> Result<Self> {
        Self::from_properties(request, &request.properties, settings)
    }

    /// The grant that `properties` (the request's own, or its OldResourceProperties) describe.
    pub fn from_properties(
        request: &Request,
        properties: &Properties,
        settings: &GrantSettings,
    ) -> Result<Self> {
        let kind = grant_kind(&request.resource_type, properties)?;
        let stack = stack_location(&request.stack_id)?;
        let owner = ownership::owner_id(&request.stack_id, &request.logical_resource_id);
        let mut grant = match kind {
            GrantKind::Memory => memory::memory_grant(request, properties, &stack)?,
            GrantKind::Invoke => invoke::invoke_grant(request, properties, &stack)?,
        };
        grant.owner = owner;
        check_role(&grant.role_name, settings)?;
        check_target_scope(&grant.target, settings)?;
        grant.check_size()?;
        Ok(grant)
    }

    /// The Sid of the one statement: the kind's name followed by the owner id.
    pub fn sid(&self) -> String {
        ownership::sid(self.kind, &self.owner)
    }

    /// The inline policy document: exactly the granted actions on exactly the target ARNs,
    /// in one statement whose Sid records the owner.
    pub fn document(&self) -> Value {
        self.document_with_sid(&self.sid())
    }

    /// The document as versions before owner ids wrote it (Sid without the owner).
    pub fn legacy_document(&self) -> Value {
        self.document_with_sid(ownership::kind_sid(self.kind))
    }

    fn document_with_sid(&self, sid: &str) -> Value {
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

/// The role-name rule of boundary-constrained accounts, checked before any AWS call on the
/// property's spelling, and again on the name IAM returns (role names are case-insensitive in
/// IAM, so `lpma_x` and `LPMA_x` are the same role). An empty prefix matches nothing.
pub fn check_role_prefix(role_name: &str, prefix: &str) -> Result<()> {
    if !prefix.is_empty() && role_name.starts_with(prefix) {
        return Ok(());
    }
    if prefix.is_empty() {
        return Err(Error::Config(
            "REQUIRED_ROLE_PREFIX is empty; expected the start of an IAM role name (e.g. LPMA_): no role is granted without it".to_string(),
        ));
    }
    Err(Error::invalid(
        "RoleName",
        quoted(role_name),
        format!(
            "a role whose name starts with {prefix}: the permissions boundary only lets this team manage roles named {prefix}*, so IAM would refuse to change this role with an AccessDenied that does not mention the naming rule (the prefix is the function's REQUIRED_ROLE_PREFIX)"
        ),
    ))
}

/// The role rules: the prefix, and the scope when `SCOPE_PATTERNS` is set.
pub fn check_role(role_name: &str, settings: &GrantSettings) -> Result<()> {
    check_role_prefix(role_name, &settings.required_role_prefix)?;
    check_scope("role", role_name, settings)
}

/// The role rules again, on the name IAM returned for `property` (GetRole's RoleName). IAM
/// role names are case-insensitive, so `LPMA_Pay` may name the role stored as `lpma_Pay`; the
/// stored name decides.
pub fn check_stored_role_name(
    property: &str,
    stored: &str,
    settings: &GrantSettings,
) -> Result<()> {
    if stored == property {
        return check_role(stored, settings);
    }
    check_role(stored, settings).map_err(|e| {
        Error::invalid(
            "RoleName",
            quoted(property),
            format!(
                "a role whose name as IAM stores it passes the role rules: IAM role names are case-insensitive, and this one is stored as {stored}, so the property's spelling does not decide ({e})"
            ),
        )
    })
}

/// The memory or runtime must be in scope too.
pub fn check_target_scope(target: &Target, settings: &GrantSettings) -> Result<()> {
    check_scope(target.noun, &target.name, settings)
}

fn check_scope(noun: &str, name: &str, settings: &GrantSettings) -> Result<()> {
    match &settings.scope_patterns {
        Some(patterns) if !crate::scope::in_scope(name, patterns) => Err(Error::Rule(format!(
            "{noun} {name} is outside this corebound deployment's scope: its name matches none of the SCOPE_PATTERNS {}; grant only {noun}s of this application, or add a pattern to the corebound stack's parameter ScopePatterns",
            patterns.join(",")
        ))),
        _ => Ok(()),
    }
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

/// Whether the document read back means the one written (IAM returns it URL-encoded, and
/// nothing here depends on it keeping the written form).
pub fn same_document(read_back: &str, written: &Value, partition: &str) -> bool {
    decode_policy_document(read_back).is_ok_and(|value| same_meaning(&value, written, partition))
}

/// The one policy comparison ([`crate::policy_compare`]), for documents of the grants.
pub fn same_meaning(a: &Value, b: &Value, partition: &str) -> bool {
    crate::policy_compare::same_document(a, b, partition)
}

pub(crate) fn quoted(s: &str) -> String {
    render_value(&Value::String(s.to_string()))
}

pub(crate) fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// Requests and settings for the unit tests of the grant modules.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::custom_resource::RequestType;

    pub const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/0f1e2d3c-aaaa-bbbb-cccc-000000000000";
    pub const MEMORY: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/demo_memory-0123456789";
    pub const ROLE: &str = "LPMA_Demo_AgentCoreRuntime";

    pub fn request(resource_type: &str, properties: Value) -> Request {
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

    pub fn settings(prefix: &str) -> GrantSettings {
        GrantSettings {
            required_role_prefix: prefix.into(),
            ..GrantSettings::default()
        }
    }

    /// A memory grant of the test stack with the `LPMA_` prefix.
    pub fn grant(properties: Value) -> Result<Grant> {
        Grant::from_request(&request(MEMORY_TYPE, properties), &settings("LPMA_"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::common::test_support::{request, settings, MEMORY, ROLE, STACK};
    use serde_json::json;

    #[test]
    fn dispatch_on_resource_type_and_generic_properties() {
        let memory = Properties::from_value(json!({"MemoryArn": MEMORY}));
        let runtime = Properties::from_value(json!({"RuntimeArn": "x"}));
        let both = Properties::from_value(json!({"MemoryArn": MEMORY, "RuntimeArn": "x"}));
        let neither = Properties::from_value(json!({"RoleName": ROLE}));
        let table: &[(&str, &Properties, std::result::Result<GrantKind, &str>)] = &[
            (MEMORY_TYPE, &runtime, Ok(GrantKind::Memory)),
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
    fn role_prefix_rule() {
        let table = [
            ("LPMA_App_Runtime", "LPMA_", true),
            ("lpma_App_Runtime", "LPMA_", false),
            ("App_Runtime", "LPMA_", false),
        ];
        // An empty prefix is never "no rule": it refuses every role.
        let empty = check_role_prefix("LPMA_App_Runtime", "")
            .unwrap_err()
            .to_string();
        assert!(
            empty.starts_with("configuration: REQUIRED_ROLE_PREFIX is empty"),
            "{empty}"
        );
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
    fn scope_applies_to_role_and_target_names() {
        let scoped = GrantSettings {
            scope_patterns: Some(vec!["LPMA_Demo_*".into(), "demo_*".into()]),
            ..settings("LPMA_")
        };
        let memory = MEMORY_TYPE;
        let ok = Grant::from_request(
            &request(memory, json!({"RoleName": ROLE, "MemoryArn": MEMORY})),
            &scoped,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let other_role = Grant::from_request(
            &request(
                memory,
                json!({"RoleName": "LPMA_Pay_Runtime", "MemoryArn": MEMORY}),
            ),
            &scoped,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            other_role,
            "role LPMA_Pay_Runtime is outside this corebound deployment's scope: its name matches none of the SCOPE_PATTERNS LPMA_Demo_*,demo_*; grant only roles of this application, or add a pattern to the corebound stack's parameter ScopePatterns"
        );
        let other_memory = Grant::from_request(
            &request(
                memory,
                json!({"RoleName": ROLE, "MemoryArn": MEMORY.replace("demo_memory", "pay_memory")}),
            ),
            &scoped,
        )
        .unwrap_err()
        .to_string();
        assert!(
            other_memory
                .starts_with("memory pay_memory is outside this corebound deployment's scope"),
            "{other_memory}"
        );
        // A role in scope but outside the prefix still fails on the prefix.
        let any = GrantSettings {
            scope_patterns: Some(vec!["*_Runtime".into()]),
            ..settings("LPMA_")
        };
        assert!(check_role("Other_Runtime", &any).is_err());
        assert!(check_role("LPMA_X_Runtime", &any).is_ok());
        // The name IAM stores decides.
        let e = check_stored_role_name("LPMA_Demo_X", "lpma_Demo_X", &scoped)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("property RoleName has value \"LPMA_Demo_X\"; expected a role whose name as IAM stores it")
                && e.contains("stored as lpma_Demo_X"),
            "{e}"
        );
        assert_eq!(name_of_id("demo_agent-AbCdE12345"), "demo_agent");
        assert_eq!(name_of_id("odd"), "odd");
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
            GrantSettings::from_vars(vars(&[("REQUIRED_ROLE_PREFIX", "LPMA_")])).unwrap(),
            settings("LPMA_")
        );
        let s = GrantSettings::from_vars(vars(&[
            ("REQUIRED_ROLE_PREFIX", " LPMA_ "),
            ("SCOPE_PATTERNS", "LPMA_Demo_*, demo_*"),
            ("VERIFY_ATTEMPTS", "3"),
            ("VERIFY_BACKOFF_MS", "10"),
        ]))
        .unwrap();
        assert_eq!(
            (
                s.required_role_prefix.as_str(),
                s.scope_patterns.clone(),
                s.verify_attempts,
                s.verify_backoff_ms
            ),
            (
                "LPMA_",
                Some(vec!["LPMA_Demo_*".to_string(), "demo_*".to_string()]),
                3,
                10
            )
        );
        for (bad, name) in [
            (&[][..], "REQUIRED_ROLE_PREFIX is \"\"; expected"),
            (
                &[("REQUIRED_ROLE_PREFIX", " ")][..],
                "REQUIRED_ROLE_PREFIX is \"\"",
            ),
            (
                &[("REQUIRED_ROLE_PREFIX", "LPMA*")][..],
                "REQUIRED_ROLE_PREFIX",
            ),
            (
                &[("REQUIRED_ROLE_PREFIX", "LPMA_"), ("SCOPE_PATTERNS", "*")][..],
                "SCOPE_PATTERNS is \"*\"",
            ),
            (
                &[("REQUIRED_ROLE_PREFIX", "LPMA_"), ("VERIFY_ATTEMPTS", "0")][..],
                "VERIFY_ATTEMPTS",
            ),
            (
                &[
                    ("REQUIRED_ROLE_PREFIX", "LPMA_"),
                    ("VERIFY_ATTEMPTS", "many"),
                ][..],
                "VERIFY_ATTEMPTS",
            ),
            (
                &[("REQUIRED_ROLE_PREFIX", "LPMA_"), ("VERIFY_ATTEMPTS", "11")][..],
                "from 1 to 10",
            ),
            (
                &[
                    ("REQUIRED_ROLE_PREFIX", "LPMA_"),
                    ("VERIFY_BACKOFF_MS", "60000"),
                ][..],
                "VERIFY_BACKOFF_MS",
            ),
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
            assert_eq!(
                same_document(&read_back, &written, "aws"),
                same,
                "{read_back}"
            );
        }
        assert!(decode_policy_document("%7B")
            .unwrap_err()
            .contains("URL-decoded"));
    }
}
