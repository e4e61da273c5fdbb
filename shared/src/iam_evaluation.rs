//! Local evaluation of IAM policies (identity policies intersected with a permissions boundary).
//!
//! This is the fallback for deploy-time verification when a function may not call
//! `iam:SimulatePrincipalPolicy`: the caller reads the role's inline and attached managed
//! policies and its boundary, and asks whether each (action, resource) request is allowed.
//! It is pure code on `serde_json::Value`s so it can be table-tested without AWS.
//!
//! Scope: same-account requests from a role; no SCPs, RCPs, session policies or resource
//! policies. The evaluation follows the AWS policy evaluation logic:
//!
//! 1. An explicit `Deny` that matches, in any identity policy or in the boundary, wins.
//! 2. Otherwise the request is allowed only if some identity-policy statement `Allow`s it
//!    **and** (there is no boundary, or the boundary `Allow`s it).
//!
//! Some statements cannot be decided locally: a `Condition` (no request context here), a
//! policy variable such as `${aws:username}` in `Resource`, or a malformed statement. Such a
//! statement is only *possibly* matching, and the evaluator never guesses about it. It still
//! answers whenever the answer is the same whichever way the doubtful statements go (rows
//! are checked in order):
//!
//! | situation (after an unconditional matching Deny, which always gives `DeniedExplicitly`) | decision |
//! |---|---|
//! | boundary present and nothing in it even possibly allows | `NotAllowedByBoundary` |
//! | nothing in the identity policies even possibly allows | `NotAllowedByIdentityPolicies` |
//! | a Deny possibly matches (and an Allow possibly exists) | `Unknown` |
//! | unconditional Allow in identity and in the boundary (if any), no possible Deny | `Allowed`, even if other doubtful Allows exist: they cannot remove access |
//! | otherwise (an Allow exists only as a doubtful statement) | `Unknown` |
//!
//! Matching: actions case-insensitively, resources case-sensitively, both with `*`/`?` over
//! the whole string. Policy variables are recognised only under `"Version": "2012-10-17"`
//! (as in IAM; otherwise `${...}` is literal), and `${*}`, `${?}`, `${$}` are literal escapes.
//!
//! When both the identity policies and the boundary fail to allow, the boundary is reported:
//! the identity side is what a grant fixes, the boundary is what the team cannot change.

use std::fmt;

use serde_json::{Map, Value};

/// Where a policy document comes from; used to name it in decisions and reasons.
///
/// Which role a policy plays is decided by the argument it is passed in to [`evaluate`], not
/// by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Inline,
    Managed,
    Boundary,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Inline => "inline policy",
            PolicyKind::Managed => "managed policy",
            PolicyKind::Boundary => "permissions boundary",
        })
    }
}

/// One policy document with the name used in messages (inline policy name, managed policy
/// name or ARN, boundary policy name).
///
/// `document` is the parsed JSON. A JSON *string* holding a policy document is also accepted
/// (parsed here), since that is how IAM APIs hand documents out once URL-decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySource {
    pub name: String,
    pub kind: PolicyKind,
    pub document: Value,
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// A matching unconditional `Deny`; `by` names the policy and statement, e.g.
    /// `managed policy Guardrails statement DenyIam`.
    DeniedExplicitly {
        by: String,
    },
    /// No identity-policy statement allows the request (implicit deny).
    NotAllowedByIdentityPolicies,
    /// The boundary does not allow the request; `boundary` is the boundary policy's name.
    NotAllowedByBoundary {
        boundary: String,
    },
    /// The answer depends on something that cannot be evaluated locally (a `Condition`, a
    /// policy variable, a malformed document); `why` names the policy and statement.
    Unknown {
        why: String,
    },
    /// A service control policy of the organization denies the request (reported by
    /// `iam:SimulatePrincipalPolicy`; never decided locally).
    DeniedByOrganizations,
    /// IAM could not decide because a Condition needs these context keys, which the caller
    /// could not supply (reported by `iam:SimulatePrincipalPolicy` as `MissingContextValues`).
    MissingContext {
        keys: Vec<String>,
    },
}

/// Short phrases meant to be embedded in a CloudFormation `Reason`.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allowed => f.write_str("allowed"),
            Decision::DeniedExplicitly { by } => write!(f, "denied explicitly by {by}"),
            Decision::NotAllowedByIdentityPolicies => {
                f.write_str("not allowed by any identity policy of the role")
            }
            Decision::NotAllowedByBoundary { boundary } => {
                write!(f, "not allowed by the permissions boundary {boundary}")
            }
            Decision::Unknown { why } => write!(f, "cannot be decided locally: {why}"),
            Decision::DeniedByOrganizations => {
                f.write_str("denied by a service control policy of your organization")
            }
            Decision::MissingContext { keys } => {
                write!(f, "depends on a condition on {}", keys.join(", "))
            }
        }
    }
}

/// The decision for one requested (action, resource), echoing the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub action: String,
    pub resource: String,
    pub decision: Decision,
}

/// Evaluates each `(action, resource ARN)` request for a role whose identity policies are
/// `identity` (inline and attached managed documents) and whose permissions boundary is
/// `boundary`. Results are in request order. Never panics on malformed documents: they make
/// the affected requests `Unknown` unless an unconditional explicit Deny decides them anyway.
pub fn evaluate(
    identity: &[PolicySource],
    boundary: Option<&PolicySource>,
    requests: &[(String, String)],
) -> Vec<Evaluation> {
    let identity: Vec<ParsedPolicy> = identity.iter().map(ParsedPolicy::parse).collect();
    let boundary_parsed = boundary.map(ParsedPolicy::parse);
    requests
        .iter()
        .map(|(action, resource)| Evaluation {
            action: action.clone(),
            resource: resource.clone(),
            decision: decide(
                &identity,
                boundary.zip(boundary_parsed.as_ref()),
                action,
                resource,
            ),
        })
        .collect()
}

/// IAM wildcard matching of a whole string: `*` matches any run of characters (including
/// `:` and `/`, as in ARNs), `?` matches exactly one character, everything else is literal.
///
/// Iterative, remembering only the last `*` seen, so the cost is at most
/// O(len(pattern) × len(value)) — no recursion and no exponential backtracking on patterns
/// such as `*a*a*a*b` that policy authors (or attackers) may write.
pub fn iam_wildcard_match(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    glob_match(&tokenize_plain(pattern), value, case_insensitive)
}

// ---------------------------------------------------------------------------------------
// Decision

/// What the statements of one side (identity policies, or the boundary) say about a request.
#[derive(Default)]
struct Findings {
    /// First unconditional matching Deny, by label.
    definite_deny: Option<String>,
    /// Deny statements that might match, with the reason they are doubtful.
    possible_deny: Vec<String>,
    definite_allow: bool,
    possible_allow: Vec<String>,
}

impl Findings {
    fn collect<'a>(
        policies: impl IntoIterator<Item = &'a ParsedPolicy>,
        action: &str,
        resource: &str,
    ) -> Findings {
        let mut found = Findings::default();
        for policy in policies {
            let statements = match &policy.statements {
                Ok(statements) => statements,
                Err(why) => {
                    let doubt = format!("{} is malformed: {why}", policy.label);
                    found.possible_deny.push(doubt.clone());
                    found.possible_allow.push(doubt);
                    continue;
                }
            };
            for statement in statements {
                let Some(hit) = statement.hit(action, resource) else {
                    continue;
                };
                let label = &statement.label;
                match (hit.effect, hit.doubt) {
                    (Some(Effect::Deny), None) => {
                        found.definite_deny.get_or_insert_with(|| label.clone());
                    }
                    (Some(Effect::Allow), None) => found.definite_allow = true,
                    (Some(Effect::Deny), Some(doubt)) => found
                        .possible_deny
                        .push(format!("{label} might deny it, but {doubt}")),
                    (Some(Effect::Allow), Some(doubt)) => found
                        .possible_allow
                        .push(format!("{label} might allow it, but {doubt}")),
                    (None, doubt) => {
                        let doubt = format!(
                            "{label} might allow or deny it, but {}",
                            doubt.as_deref().unwrap_or("its Effect is unreadable")
                        );
                        found.possible_deny.push(doubt.clone());
                        found.possible_allow.push(doubt);
                    }
                }
            }
        }
        found
    }

    fn no_allow_at_all(&self) -> bool {
        !self.definite_allow && self.possible_allow.is_empty()
    }
}

fn decide(
    identity: &[ParsedPolicy],
    boundary: Option<(&PolicySource, &ParsedPolicy)>,
    action: &str,
    resource: &str,
) -> Decision {
    if !is_service_action(action) {
        return Decision::Unknown {
            why: format!("the action {action:?} is not of the form service:ActionName"),
        };
    }
    let id = Findings::collect(identity, action, resource);
    let bd = boundary.map(|(_, parsed)| Findings::collect([parsed], action, resource));

    if let Some(by) = id
        .definite_deny
        .clone()
        .or_else(|| bd.as_ref().and_then(|b| b.definite_deny.clone()))
    {
        return Decision::DeniedExplicitly { by };
    }
    if let (Some((source, _)), Some(b)) = (boundary, &bd) {
        if b.no_allow_at_all() {
            return Decision::NotAllowedByBoundary {
                boundary: source.name.clone(),
            };
        }
    }
    if id.no_allow_at_all() {
        return Decision::NotAllowedByIdentityPolicies;
    }

    let mut possible_deny = id.possible_deny;
    let mut possible_allow = Vec::new();
    if !id.definite_allow {
        possible_allow.extend(id.possible_allow);
    }
    if let Some(b) = bd {
        possible_deny.extend(b.possible_deny);
        if !b.definite_allow {
            possible_allow.extend(b.possible_allow);
        }
    }
    if !possible_deny.is_empty() {
        return Decision::Unknown {
            why: format!(
                "an explicit deny cannot be ruled out: {}",
                join_limited(&possible_deny)
            ),
        };
    }
    if possible_allow.is_empty() {
        Decision::Allowed
    } else {
        Decision::Unknown {
            why: join_limited(&possible_allow),
        }
    }
}

/// Joins reasons with `; `, keeping the text short enough for a CloudFormation Reason.
fn join_limited(reasons: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = reasons
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ");
    if reasons.len() > SHOWN {
        text.push_str(&format!("; and {} more", reasons.len() - SHOWN));
    }
    text
}

/// `service:Action`, both parts non-empty; anything else is a caller bug worth surfacing
/// rather than a silent implicit deny.
fn is_service_action(action: &str) -> bool {
    matches!(action.split_once(':'), Some((service, name)) if !service.is_empty() && !name.is_empty())
}

// ---------------------------------------------------------------------------------------
// Parsed policies

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

struct ParsedPolicy {
    /// e.g. `inline policy AgentCoreMemory-Grant`.
    label: String,
    /// `Err` when the document as a whole is unreadable (no `Statement`, not an object).
    statements: Result<Vec<ParsedStatement>, String>,
}

struct ParsedStatement {
    /// e.g. `inline policy X statement AllowMemory` or `inline policy X Statement[2]`.
    label: String,
    /// `Err` when the statement is not a JSON object.
    body: Result<StatementBody, String>,
}

struct StatementBody {
    effect: Result<Effect, String>,
    actions: Result<Element<Vec<Tok>>, String>,
    resources: Result<Element<ResourcePattern>, String>,
    /// Why the statement is conditional, if it is.
    condition: Option<String>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`.
struct Element<T> {
    name: &'static str,
    negated: bool,
    patterns: Vec<T>,
}

struct ResourcePattern {
    tokens: Vec<Tok>,
    /// Policy variables in the pattern, each replaced by `*` in `tokens`.
    variables: Vec<String>,
}

/// A statement that matches or might match a request.
struct Hit {
    /// `None` when the Effect is unreadable.
    effect: Option<Effect>,
    /// Why the match is not certain (Condition, policy variable, malformed element).
    doubt: Option<String>,
}

/// Three-valued match of one element against the request.
enum Tri {
    No,
    Yes,
    Maybe(String),
}

impl ParsedPolicy {
    fn parse(source: &PolicySource) -> ParsedPolicy {
        let label = format!("{} {}", source.kind, source.name);
        let statements = parse_statements(&label, &source.document);
        ParsedPolicy { label, statements }
    }
}

fn parse_statements(label: &str, document: &Value) -> Result<Vec<ParsedStatement>, String> {
    let reparsed;
    let document = match document {
        Value::String(text) => {
            reparsed = serde_json::from_str::<Value>(text).map_err(|_| {
                "it is a string that is not a JSON policy document (still URL-encoded?)".to_string()
            })?;
            &reparsed
        }
        other => other,
    };
    let document = document
        .as_object()
        .ok_or_else(|| "it is not a JSON object".to_string())?;
    // Policy variables are only substituted under the 2012-10-17 language version; without
    // it, `${aws:username}` is a literal string (AWS documented behaviour).
    let variables = document.get("Version").and_then(Value::as_str) == Some("2012-10-17");
    match document.get("Statement") {
        None => Err("it has no Statement".to_string()),
        Some(Value::Array(items)) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_statement(label, Some(i), item, variables))
            .collect()),
        Some(item @ Value::Object(_)) => Ok(vec![parse_statement(label, None, item, variables)]),
        Some(_) => Err("its Statement is neither an object nor an array".to_string()),
    }
}

fn parse_statement(
    policy_label: &str,
    index: Option<usize>,
    item: &Value,
    variables: bool,
) -> ParsedStatement {
    let sid = item
        .get("Sid")
        .and_then(Value::as_str)
        .filter(|sid| !sid.is_empty());
    let label = match (sid, index) {
        (Some(sid), _) => format!("{policy_label} statement {sid}"),
        (None, Some(i)) => format!("{policy_label} Statement[{i}]"),
        (None, None) => format!("{policy_label} Statement"),
    };
    let body = match item.as_object() {
        Some(statement) => Ok(StatementBody {
            effect: parse_effect(statement),
            actions: parse_element(statement, "Action", "NotAction", tokenize_plain),
            resources: parse_element(statement, "Resource", "NotResource", |text| {
                tokenize_resource(text, variables)
            }),
            condition: parse_condition(statement),
        }),
        None => Err("it is not a JSON object".to_string()),
    };
    ParsedStatement { label, body }
}

fn parse_effect(statement: &Map<String, Value>) -> Result<Effect, String> {
    match statement.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Ok(Effect::Allow),
        Some(Value::String(s)) if s == "Deny" => Ok(Effect::Deny),
        Some(other) => Err(format!(
            "its Effect {other} is neither \"Allow\" nor \"Deny\""
        )),
        None => Err("it has no Effect".to_string()),
    }
}

fn parse_element<T>(
    statement: &Map<String, Value>,
    positive: &'static str,
    negative: &'static str,
    pattern: impl Fn(&str) -> T,
) -> Result<Element<T>, String> {
    let (name, negated, value) = match (statement.get(positive), statement.get(negative)) {
        (Some(_), Some(_)) => return Err(format!("it has both {positive} and {negative}")),
        (None, None) => return Err(format!("it has neither {positive} nor {negative}")),
        (Some(value), None) => (positive, false, value),
        (None, Some(value)) => (negative, true, value),
    };
    let texts: Option<Vec<&str>> = match value {
        Value::String(text) => Some(vec![text.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    };
    let texts =
        texts.ok_or_else(|| format!("its {name} is neither a string nor a list of strings"))?;
    Ok(Element {
        name,
        negated,
        patterns: texts.into_iter().map(pattern).collect(),
    })
}

/// An absent or empty `Condition` imposes nothing; anything else needs request context.
fn parse_condition(statement: &Map<String, Value>) -> Option<String> {
    let condition = statement.get("Condition")?;
    let Some(operators) = condition.as_object() else {
        return Some("it has a Condition that cannot be evaluated locally".to_string());
    };
    if operators.is_empty() {
        return None;
    }
    let mut keys: Vec<&str> = Vec::new();
    for (operator, body) in operators {
        match body.as_object() {
            Some(body) if !body.is_empty() => keys.extend(body.keys().map(String::as_str)),
            _ => keys.push(operator),
        }
    }
    let mut seen = Vec::new();
    keys.retain(|key| {
        let first = !seen.contains(key);
        seen.push(*key);
        first
    });
    Some(format!(
        "it has a Condition ({}) that cannot be evaluated locally",
        keys.join(", ")
    ))
}

impl ParsedStatement {
    /// `None` when the statement certainly does not apply to the request.
    fn hit(&self, action: &str, resource: &str) -> Option<Hit> {
        let body = match &self.body {
            Ok(body) => body,
            Err(why) => {
                return Some(Hit {
                    effect: None,
                    doubt: Some(why.clone()),
                })
            }
        };
        let mut doubts: Vec<String> = Vec::new();
        let action_match = match &body.actions {
            Ok(element) => element.matches(|tokens| {
                if glob_match(tokens, action, true) {
                    Tri::Yes
                } else {
                    Tri::No
                }
            }),
            Err(why) => Tri::Maybe(why.clone()),
        };
        let resource_match = match &body.resources {
            Ok(element) => element.matches(|pattern| pattern.matches(resource, element.name)),
            Err(why) => Tri::Maybe(why.clone()),
        };
        for matched in [action_match, resource_match] {
            match matched {
                Tri::No => return None,
                Tri::Yes => {}
                Tri::Maybe(why) => doubts.push(why),
            }
        }
        if let Err(why) = &body.effect {
            doubts.push(why.clone());
        }
        if let Some(why) = &body.condition {
            doubts.push(why.clone());
        }
        Some(Hit {
            effect: body.effect.as_ref().ok().copied(),
            doubt: (!doubts.is_empty()).then(|| doubts.join(" and ")),
        })
    }
}

impl<T> Element<T> {
    /// `Action`/`Resource` match when any pattern matches; `NotAction`/`NotResource` when none
    /// does. A doubtful pattern only matters when no other pattern matches for certain.
    fn matches(&self, one: impl Fn(&T) -> Tri) -> Tri {
        let mut doubt = None;
        let mut any = false;
        for pattern in &self.patterns {
            match one(pattern) {
                Tri::Yes => {
                    any = true;
                    break;
                }
                Tri::Maybe(why) => {
                    doubt.get_or_insert(why);
                }
                Tri::No => {}
            }
        }
        match (any, doubt, self.negated) {
            (true, _, false) | (false, None, true) => Tri::Yes,
            (true, _, true) | (false, None, false) => Tri::No,
            (false, Some(why), _) => Tri::Maybe(why),
        }
    }
}

impl ResourcePattern {
    /// With variables, the pattern is tested with each variable as `*`: no match then means no
    /// match for any value of the variables; a match means "maybe".
    fn matches(&self, resource: &str, element: &str) -> Tri {
        if !glob_match(&self.tokens, resource, false) {
            Tri::No
        } else if self.variables.is_empty() {
            Tri::Yes
        } else {
            Tri::Maybe(format!(
                "its {element} uses the policy variable {}, which cannot be evaluated locally",
                self.variables.join(", ")
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Wildcards

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`
    AnyRun,
    /// `?`
    AnyOne,
}

fn tokenize_plain(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::AnyRun,
            '?' => Tok::AnyOne,
            c => Tok::Lit(c),
        })
        .collect()
}

/// Resource pattern with IAM policy variables: `${*}`, `${?}` and `${$}` are the literal
/// characters; any other `${...}` is a variable, replaced by `*` and recorded.
fn tokenize_resource(pattern: &str, variables_enabled: bool) -> ResourcePattern {
    let mut tokens = Vec::new();
    let mut variables = Vec::new();
    let mut rest = pattern;
    while let Some((before, inner, after)) = split_variable(rest).filter(|_| variables_enabled) {
        tokens.extend(tokenize_plain(before));
        tokens.push(match inner {
            "*" => Tok::Lit('*'),
            "?" => Tok::Lit('?'),
            "$" => Tok::Lit('$'),
            _ => {
                variables.push(format!("${{{inner}}}"));
                Tok::AnyRun
            }
        });
        rest = after;
    }
    tokens.extend(tokenize_plain(rest));
    ResourcePattern { tokens, variables }
}

/// Splits `before${inner}after` at the first complete `${...}`.
fn split_variable(text: &str) -> Option<(&str, &str, &str)> {
    let start = text.find("${")?;
    let len = text[start + 2..].find('}')?;
    Some((
        &text[..start],
        &text[start + 2..start + 2 + len],
        &text[start + 3 + len..],
    ))
}

fn glob_match(pattern: &[Tok], value: &str, case_insensitive: bool) -> bool {
    let value: Vec<char> = value.chars().collect();
    let (mut p, mut v) = (0, 0);
    // After a mismatch, retry from the last `*` with it swallowing one more character.
    // Earlier stars never need revisiting: the last one can absorb whatever they would.
    let mut last_star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some(Tok::AnyRun) => {
                last_star = Some((p + 1, v));
                p += 1;
                continue;
            }
            Some(Tok::AnyOne) => {
                p += 1;
                v += 1;
                continue;
            }
            Some(Tok::Lit(c)) if chars_equal(*c, value[v], case_insensitive) => {
                p += 1;
                v += 1;
                continue;
            }
            _ => {}
        }
        match last_star {
            Some((after_star, swallowed_from)) => {
                last_star = Some((after_star, swallowed_from + 1));
                p = after_star;
                v = swallowed_from + 1;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|t| *t == Tok::AnyRun)
}

fn chars_equal(a: char, b: char, case_insensitive: bool) -> bool {
    a == b || (case_insensitive && a.to_lowercase().eq(b.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MEMORY: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/mem-abc123";
    const RUNTIME: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/rt-1";
    const BOUNDARY: &str = "BoundaryForLPMA";

    fn inline(name: &str, document: Value) -> PolicySource {
        PolicySource {
            name: name.to_string(),
            kind: PolicyKind::Inline,
            document,
        }
    }

    fn managed(name: &str, document: Value) -> PolicySource {
        PolicySource {
            name: name.to_string(),
            kind: PolicyKind::Managed,
            document,
        }
    }

    fn allow(action: Value, resource: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": action, "Resource": resource}
        ]})
    }

    fn denied(by: &str) -> Expect {
        Expect::Is(Decision::DeniedExplicitly { by: by.to_string() })
    }

    fn not_by_boundary() -> Expect {
        Expect::Is(Decision::NotAllowedByBoundary {
            boundary: BOUNDARY.to_string(),
        })
    }

    enum Expect {
        Is(Decision),
        /// `Unknown` whose `why` contains every fragment.
        Unknown(&'static [&'static str]),
    }
    use Expect::Is;
    const ALLOWED: Expect = Is(Decision::Allowed);
    const NOT_BY_IDENTITY: Expect = Is(Decision::NotAllowedByIdentityPolicies);

    struct Case {
        name: &'static str,
        identity: Vec<PolicySource>,
        boundary: Option<Value>,
        action: &'static str,
        resource: &'static str,
        expect: Expect,
    }

    fn case(
        name: &'static str,
        identity: Vec<PolicySource>,
        boundary: Option<Value>,
        request: (&'static str, &'static str),
        expect: Expect,
    ) -> Case {
        Case {
            name,
            identity,
            boundary,
            action: request.0,
            resource: request.1,
            expect,
        }
    }

    fn run(cases: Vec<Case>) {
        for c in cases {
            let boundary = c.boundary.map(|document| PolicySource {
                name: BOUNDARY.to_string(),
                kind: PolicyKind::Boundary,
                document,
            });
            let requests = [(c.action.to_string(), c.resource.to_string())];
            let result = evaluate(&c.identity, boundary.as_ref(), &requests);
            assert_eq!(result.len(), 1, "{}", c.name);
            assert_eq!(result[0].action, c.action, "{}", c.name);
            assert_eq!(result[0].resource, c.resource, "{}", c.name);
            let decision = &result[0].decision;
            match c.expect {
                Is(expected) => assert_eq!(decision, &expected, "case: {}", c.name),
                Expect::Unknown(fragments) => match decision {
                    Decision::Unknown { why } => {
                        for fragment in fragments {
                            assert!(
                                why.contains(fragment),
                                "case {}: {why:?} lacks {fragment:?}",
                                c.name
                            );
                        }
                    }
                    other => panic!("case {}: expected Unknown, got {other:?}", c.name),
                },
            }
        }
    }

    #[test]
    fn basic_allow_and_implicit_deny() {
        let grant = || {
            vec![inline(
                "Grant",
                allow(json!("bedrock-agentcore:CreateEvent"), json!(MEMORY)),
            )]
        };
        run(vec![
            case(
                "exact action and resource",
                grant(),
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "other action",
                grant(),
                None,
                ("bedrock-agentcore:DeleteEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
            case(
                "other resource",
                grant(),
                None,
                ("bedrock-agentcore:CreateEvent", RUNTIME),
                NOT_BY_IDENTITY,
            ),
            case(
                "no identity policies at all",
                vec![],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
            case(
                "star action and star resource",
                vec![inline("Admin", allow(json!("*"), json!("*")))],
                None,
                ("iam:PassRole", "arn:aws:iam::123456789012:role/x"),
                ALLOWED,
            ),
            case(
                "arrays of actions and resources",
                vec![inline(
                    "Grant",
                    allow(
                        json!([
                            "bedrock-agentcore:GetEvent",
                            "bedrock-agentcore:CreateEvent"
                        ]),
                        json!([RUNTIME, MEMORY]),
                    ),
                )],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "Principal is ignored in identity policies",
                vec![inline(
                    "WithPrincipal",
                    json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "bedrock-agentcore:CreateEvent", "Resource": MEMORY}]}),
                )],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "empty action list allows nothing",
                vec![inline("Grant", allow(json!([]), json!("*")))],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
        ]);
    }

    #[test]
    fn not_action() {
        let allow_not_iam = || {
            vec![managed(
                "PowerUser",
                json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
            )]
        };
        let deny_all_but_agentcore = || {
            vec![
                inline("Admin", allow(json!("*"), json!("*"))),
                managed(
                    "OnlyAgentCore",
                    json!({"Statement": [{"Sid": "DenyOthers", "Effect": "Deny",
                        "NotAction": ["bedrock-agentcore:*", "logs:*"], "Resource": "*"}]}),
                ),
            ]
        };
        run(vec![
            case(
                "Allow NotAction iam:* allows an AgentCore action",
                allow_not_iam(),
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "Allow NotAction iam:* does not allow iam actions",
                allow_not_iam(),
                None,
                ("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/LPMA_x"),
                NOT_BY_IDENTITY,
            ),
            case(
                "Allow NotAction iam:* is case-insensitive",
                allow_not_iam(),
                None,
                ("IAM:PutRolePolicy", "arn:aws:iam::123456789012:role/LPMA_x"),
                NOT_BY_IDENTITY,
            ),
            case(
                "Deny NotAction leaves the listed actions alone",
                deny_all_but_agentcore(),
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "Deny NotAction denies everything else",
                deny_all_but_agentcore(),
                None,
                ("s3:GetObject", "arn:aws:s3:::bucket/key"),
                denied("managed policy OnlyAgentCore statement DenyOthers"),
            ),
        ]);
    }

    #[test]
    fn explicit_deny_wins() {
        let deny_delete = json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "bedrock-agentcore:Delete*", "Resource": "*"}
        ]});
        run(vec![
            case(
                "Deny in another identity policy beats Allow",
                vec![
                    inline("Grant", allow(json!("bedrock-agentcore:*"), json!("*"))),
                    managed("Guardrails", deny_delete.clone()),
                ],
                None,
                ("bedrock-agentcore:DeleteEvent", MEMORY),
                denied("managed policy Guardrails Statement[1]"),
            ),
            case(
                "Deny in the same policy beats Allow",
                vec![inline(
                    "Grant",
                    json!({"Statement": [
                        {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"},
                        {"Sid": "NoDelete", "Effect": "Deny",
                         "Action": "bedrock-agentcore:DeleteEvent", "Resource": MEMORY}
                    ]}),
                )],
                None,
                ("bedrock-agentcore:DeleteEvent", MEMORY),
                denied("inline policy Grant statement NoDelete"),
            ),
            case(
                "Deny in the boundary beats Allow everywhere",
                vec![inline("Grant", allow(json!("*"), json!("*")))],
                Some(json!({"Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Sid": "DenyIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}
                ]})),
                ("iam:CreateRole", "arn:aws:iam::123456789012:role/x"),
                denied("permissions boundary BoundaryForLPMA statement DenyIam"),
            ),
            case(
                "Deny that does not match is irrelevant",
                vec![
                    inline("Grant", allow(json!("bedrock-agentcore:*"), json!("*"))),
                    managed("Guardrails", deny_delete),
                ],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "Deny beats a missing boundary allow in the report",
                vec![
                    inline("Grant", allow(json!("s3:*"), json!("*"))),
                    inline(
                        "NoS3",
                        json!({"Statement": {"Sid": "NoS3", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}}),
                    ),
                ],
                Some(allow(json!("bedrock-agentcore:*"), json!("*"))),
                ("s3:GetObject", "arn:aws:s3:::b/k"),
                denied("inline policy NoS3 statement NoS3"),
            ),
        ]);
    }

    #[test]
    fn permissions_boundary() {
        let grant = || {
            vec![inline(
                "AgentCoreMemory-Grant",
                allow(json!("bedrock-agentcore:CreateEvent"), json!(MEMORY)),
            )]
        };
        run(vec![
            case(
                "boundary without the action",
                grant(),
                Some(allow(json!(["s3:*", "logs:*"]), json!("*"))),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                not_by_boundary(),
            ),
            case(
                "boundary with bedrock-agentcore:*",
                grant(),
                Some(allow(json!(["s3:*", "bedrock-agentcore:*"]), json!("*"))),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "boundary allows, identity does not",
                grant(),
                Some(allow(json!("bedrock-agentcore:*"), json!("*"))),
                ("bedrock-agentcore:DeleteEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
            case(
                "neither allows: the boundary is reported",
                grant(),
                Some(allow(json!("s3:*"), json!("*"))),
                ("bedrock-agentcore:DeleteEvent", MEMORY),
                not_by_boundary(),
            ),
            case(
                "boundary scoped to other resources",
                grant(),
                Some(allow(
                    json!("bedrock-agentcore:*"),
                    json!("arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*"),
                )),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                not_by_boundary(),
            ),
            case(
                "boundary NotAction iam:* allows AgentCore",
                grant(),
                Some(
                    json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}),
                ),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "empty boundary allows nothing",
                grant(),
                Some(json!({"Version": "2012-10-17", "Statement": []})),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                not_by_boundary(),
            ),
        ]);
    }

    #[test]
    fn resource_matching() {
        let memories = || {
            vec![inline(
                "Grant",
                allow(
                    json!("bedrock-agentcore:*"),
                    json!("arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/*"),
                ),
            )]
        };
        let not_runtime = || {
            vec![inline(
                "Grant",
                json!({"Statement": [{"Effect": "Allow", "Action": "bedrock-agentcore:*",
                    "NotResource": "arn:aws:bedrock-agentcore:*:*:runtime/*"}]}),
            )]
        };
        run(vec![
            case(
                "memory/* matches a memory",
                memories(),
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "memory/* does not match a runtime",
                memories(),
                None,
                ("bedrock-agentcore:InvokeAgentRuntime", RUNTIME),
                NOT_BY_IDENTITY,
            ),
            case(
                "memory/* does not match another account",
                memories(),
                None,
                (
                    "bedrock-agentcore:CreateEvent",
                    "arn:aws:bedrock-agentcore:us-east-1:210987654321:memory/mem-abc123",
                ),
                NOT_BY_IDENTITY,
            ),
            case(
                "memory/* does not match another region",
                memories(),
                None,
                (
                    "bedrock-agentcore:CreateEvent",
                    "arn:aws:bedrock-agentcore:eu-west-1:123456789012:memory/mem-abc123",
                ),
                NOT_BY_IDENTITY,
            ),
            case(
                "star crosses colons and slashes",
                vec![inline(
                    "Grant",
                    allow(
                        json!("bedrock-agentcore:*"),
                        json!("arn:aws:bedrock-agentcore:*"),
                    ),
                )],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "question mark matches one character",
                vec![inline(
                    "Grant",
                    allow(
                        json!("bedrock-agentcore:?etEvent"),
                        json!("arn:aws:bedrock-agentcore:us-east-?:123456789012:memory/mem-abc12?"),
                    ),
                )],
                None,
                ("bedrock-agentcore:GetEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "resources are case-sensitive",
                vec![inline(
                    "Grant",
                    allow(
                        json!("bedrock-agentcore:*"),
                        json!("arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/MEM-ABC123"),
                    ),
                )],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
            case(
                "NotResource allows what it does not list",
                not_runtime(),
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "NotResource excludes what it lists",
                not_runtime(),
                None,
                ("bedrock-agentcore:InvokeAgentRuntime", RUNTIME),
                NOT_BY_IDENTITY,
            ),
            case(
                "Deny with NotResource denies outside the list",
                vec![
                    inline("Grant", allow(json!("bedrock-agentcore:*"), json!("*"))),
                    inline(
                        "OnlyOurMemory",
                        json!({"Statement": [{"Sid": "Fence", "Effect": "Deny",
                            "Action": "bedrock-agentcore:*", "NotResource": [MEMORY]}]}),
                    ),
                ],
                None,
                ("bedrock-agentcore:InvokeAgentRuntime", RUNTIME),
                denied("inline policy OnlyOurMemory statement Fence"),
            ),
            case(
                "Deny with NotResource spares the list",
                vec![
                    inline("Grant", allow(json!("bedrock-agentcore:*"), json!("*"))),
                    inline(
                        "OnlyOurMemory",
                        json!({"Statement": [{"Sid": "Fence", "Effect": "Deny",
                            "Action": "bedrock-agentcore:*", "NotResource": [MEMORY]}]}),
                    ),
                ],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
        ]);
    }

    #[test]
    fn actions_are_case_insensitive() {
        let cases = [
            (
                "Bedrock-AgentCore:createevent",
                "bedrock-agentcore:CreateEvent",
            ),
            ("BEDROCK-AGENTCORE:Create*", "bedrock-agentcore:CreateEvent"),
            (
                "bedrock-agentcore:CreateEvent",
                "BEDROCK-agentcore:CREATEEVENT",
            ),
        ];
        run(cases
            .into_iter()
            .map(|(pattern, action)| {
                case(
                    "case-insensitive action",
                    vec![inline("Grant", allow(json!(pattern), json!(MEMORY)))],
                    Some(allow(json!("bedrock-agentcore:*"), json!("*"))),
                    (action, MEMORY),
                    ALLOWED,
                )
            })
            .collect());
    }

    #[test]
    fn conditions() {
        let conditional_allow = || {
            inline(
                "Tagged",
                json!({"Statement": [{"Sid": "OnlyTagged", "Effect": "Allow",
                    "Action": "bedrock-agentcore:*", "Resource": "*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/team": "lpma"}}}]}),
            )
        };
        let conditional_deny = || {
            managed(
                "IpFence",
                json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                    "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}),
            )
        };
        let plain_allow = || inline("Grant", allow(json!("bedrock-agentcore:*"), json!(MEMORY)));
        run(vec![
            case(
                "only a conditional Allow",
                vec![conditional_allow()],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                Expect::Unknown(&[
                    "inline policy Tagged statement OnlyTagged",
                    "aws:ResourceTag/team",
                    "might allow",
                ]),
            ),
            case(
                "conditional Allow on top of unconditional Allow in identity and boundary",
                vec![plain_allow(), conditional_allow()],
                Some(allow(json!("bedrock-agentcore:*"), json!("*"))),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
            case(
                "conditional Allow that does not match the action is ignored",
                vec![plain_allow(), conditional_allow()],
                None,
                ("s3:GetObject", "arn:aws:s3:::b/k"),
                NOT_BY_IDENTITY,
            ),
            case(
                "conditional Deny beside an unconditional Allow",
                vec![plain_allow(), conditional_deny()],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                Expect::Unknown(&[
                    "explicit deny cannot be ruled out",
                    "managed policy IpFence Statement[0]",
                    "aws:SourceIp",
                ]),
            ),
            case(
                "conditional Deny without any Allow is still a denial",
                vec![conditional_deny()],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
            case(
                "conditional Deny and unconditional Deny",
                vec![
                    plain_allow(),
                    conditional_deny(),
                    inline(
                        "NoEvents",
                        json!({"Statement": [{"Sid": "NoEvents", "Effect": "Deny",
                            "Action": "bedrock-agentcore:*Event", "Resource": "*"}]}),
                    ),
                ],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                denied("inline policy NoEvents statement NoEvents"),
            ),
            case(
                "conditional Allow in the boundary only",
                vec![plain_allow()],
                Some(
                    json!({"Statement": [{"Sid": "InRegion", "Effect": "Allow", "Action": "*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}]}),
                ),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                Expect::Unknown(&[
                    "permissions boundary BoundaryForLPMA statement InRegion",
                    "aws:RequestedRegion",
                ]),
            ),
            case(
                "conditional boundary Allow but no identity Allow",
                vec![],
                Some(
                    json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}),
                ),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                NOT_BY_IDENTITY,
            ),
            case(
                "conditional identity Allow but boundary without the action",
                vec![conditional_allow()],
                Some(allow(json!("s3:*"), json!("*"))),
                ("bedrock-agentcore:CreateEvent", MEMORY),
                not_by_boundary(),
            ),
            case(
                "empty Condition object is no condition",
                vec![inline(
                    "Grant",
                    json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {}}]}),
                )],
                None,
                ("bedrock-agentcore:CreateEvent", MEMORY),
                ALLOWED,
            ),
        ]);
    }

    #[test]
    fn policy_variables() {
        let per_user = |version: Option<&str>| {
            let mut document = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::home/${aws:username}/*"}]});
            if let Some(version) = version {
                document["Version"] = json!(version);
            }
            vec![inline("Home", document)]
        };
        run(vec![
            case(
                "variable that could match",
                per_user(Some("2012-10-17")),
                None,
                ("s3:GetObject", "arn:aws:s3:::home/alice/notes.txt"),
                Expect::Unknown(&["inline policy Home Statement[0]", "${aws:username}"]),
            ),
            case(
                "variable that cannot match whatever its value",
                per_user(Some("2012-10-17")),
                None,
                ("s3:GetObject", "arn:aws:s3:::other/alice/notes.txt"),
                NOT_BY_IDENTITY,
            ),
            case(
                "without Version the variable is a literal",
                per_user(None),
                None,
                ("s3:GetObject", "arn:aws:s3:::home/alice/notes.txt"),
                NOT_BY_IDENTITY,
            ),
            case(
                "without Version the literal matches itself",
                per_user(Some("2008-10-17")),
                None,
                (
                    "s3:GetObject",
                    "arn:aws:s3:::home/${aws:username}/notes.txt",
                ),
                ALLOWED,
            ),
            case(
                "escaped star is a literal star",
                vec![inline(
                    "Literal",
                    allow(json!("s3:GetObject"), json!("arn:aws:s3:::b/${*}")),
                )],
                None,
                ("s3:GetObject", "arn:aws:s3:::b/*"),
                ALLOWED,
            ),
            case(
                "escaped star does not act as a wildcard",
                vec![inline(
                    "Literal",
                    allow(json!("s3:GetObject"), json!("arn:aws:s3:::b/${*}")),
                )],
                None,
                ("s3:GetObject", "arn:aws:s3:::b/key"),
                NOT_BY_IDENTITY,
            ),
            case(
                "variable in a Deny beside an Allow",
                vec![
                    inline("Grant", allow(json!("s3:*"), json!("*"))),
                    inline(
                        "NotMine",
                        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                            "Action": "s3:*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"}]}),
                    ),
                ],
                None,
                ("s3:GetObject", "arn:aws:s3:::home/alice/x"),
                Expect::Unknown(&["explicit deny cannot be ruled out", "NotResource"]),
            ),
        ]);
    }

    #[test]
    fn document_shapes_and_malformed_policies() {
        let good = || inline("Grant", allow(json!("bedrock-agentcore:*"), json!("*")));
        let request = ("bedrock-agentcore:CreateEvent", MEMORY);
        run(vec![
            case(
                "single statement object, no Version",
                vec![inline(
                    "Single",
                    json!({"Statement": {"Effect": "Allow", "Action": "bedrock-agentcore:CreateEvent",
                        "Resource": MEMORY}}),
                )],
                None,
                request,
                ALLOWED,
            ),
            case(
                "document given as a JSON string",
                vec![inline(
                    "AsText",
                    json!(allow(json!("bedrock-agentcore:*"), json!("*")).to_string()),
                )],
                None,
                request,
                ALLOWED,
            ),
            case(
                "Statement missing",
                vec![good(), inline("Broken", json!({"Version": "2012-10-17"}))],
                None,
                request,
                Expect::Unknown(&["inline policy Broken is malformed", "no Statement"]),
            ),
            case(
                "Statement missing but an unconditional Deny decides",
                vec![
                    inline("Broken", json!({"Version": "2012-10-17"})),
                    inline(
                        "Deny",
                        json!({"Statement": {"Sid": "All", "Effect": "Deny", "Action": "*", "Resource": "*"}}),
                    ),
                ],
                None,
                request,
                denied("inline policy Deny statement All"),
            ),
            case(
                "document is not an object",
                vec![inline("Number", json!(42))],
                None,
                request,
                Expect::Unknown(&["inline policy Number is malformed", "not a JSON object"]),
            ),
            case(
                "document is URL-encoded text",
                vec![inline(
                    "Encoded",
                    json!("%7B%22Version%22%3A%222012-10-17%22%7D"),
                )],
                None,
                request,
                Expect::Unknown(&["inline policy Encoded is malformed", "URL-encoded"]),
            ),
            case(
                "Statement of the wrong type",
                vec![inline("Weird", json!({"Statement": "Allow everything"}))],
                None,
                request,
                Expect::Unknown(&["neither an object nor an array"]),
            ),
            case(
                "Effect neither Allow nor Deny on a matching statement",
                vec![
                    good(),
                    inline(
                        "Typo",
                        json!({"Statement": [{"Sid": "Oops", "Effect": "Permit",
                            "Action": "bedrock-agentcore:*", "Resource": "*"}]}),
                    ),
                ],
                None,
                request,
                Expect::Unknown(&["inline policy Typo statement Oops", "\"Permit\""]),
            ),
            case(
                "Effect neither Allow nor Deny on a statement that does not match",
                vec![
                    good(),
                    inline(
                        "Typo",
                        json!({"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}),
                    ),
                ],
                None,
                request,
                ALLOWED,
            ),
            case(
                "Effect missing",
                vec![inline(
                    "NoEffect",
                    json!({"Statement": [{"Action": "*", "Resource": "*"}]}),
                )],
                None,
                request,
                Expect::Unknown(&["NoEffect Statement[0]", "no Effect"]),
            ),
            case(
                "both Action and NotAction",
                vec![inline(
                    "Both",
                    json!({"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "iam:*",
                        "Resource": "*"}]}),
                )],
                None,
                request,
                Expect::Unknown(&["both Action and NotAction"]),
            ),
            case(
                "Resource missing",
                vec![inline(
                    "NoResource",
                    json!({"Statement": [{"Effect": "Allow", "Action": "bedrock-agentcore:*"}]}),
                )],
                None,
                request,
                Expect::Unknown(&["neither Resource nor NotResource"]),
            ),
            case(
                "Resource missing on a statement whose action does not match",
                vec![
                    good(),
                    inline(
                        "NoResource",
                        json!({"Statement": [{"Effect": "Deny", "Action": "iam:*"}]}),
                    ),
                ],
                None,
                request,
                ALLOWED,
            ),
            case(
                "Action of the wrong type",
                vec![inline(
                    "BadAction",
                    json!({"Statement": [{"Effect": "Allow", "Action": 7, "Resource": "*"}]}),
                )],
                None,
                request,
                Expect::Unknown(&["its Action is neither a string nor a list of strings"]),
            ),
            case(
                "statement that is not an object",
                vec![good(), inline("Odd", json!({"Statement": ["Allow"]}))],
                None,
                request,
                Expect::Unknown(&["inline policy Odd Statement[0]", "not a JSON object"]),
            ),
            case(
                "malformed boundary with an identity Allow",
                vec![good()],
                Some(json!({"Version": "2012-10-17"})),
                request,
                Expect::Unknown(&["permissions boundary BoundaryForLPMA is malformed"]),
            ),
            case(
                "malformed boundary but no identity Allow",
                vec![],
                Some(json!({"Version": "2012-10-17"})),
                request,
                NOT_BY_IDENTITY,
            ),
            case(
                "request action without a service prefix",
                vec![good()],
                None,
                ("CreateEvent", MEMORY),
                Expect::Unknown(&["not of the form service:ActionName"]),
            ),
        ]);
    }

    #[test]
    fn evaluates_every_request_in_order() {
        let identity = [inline(
            "Grant",
            allow(json!("bedrock-agentcore:*Event"), json!(MEMORY)),
        )];
        let boundary = PolicySource {
            name: BOUNDARY.to_string(),
            kind: PolicyKind::Boundary,
            document: allow(json!(["bedrock-agentcore:CreateEvent"]), json!("*")),
        };
        let requests: Vec<(String, String)> = [
            "bedrock-agentcore:CreateEvent",
            "bedrock-agentcore:GetEvent",
            "bedrock-agentcore:ListSessions",
        ]
        .iter()
        .map(|a| (a.to_string(), MEMORY.to_string()))
        .collect();
        let result = evaluate(&identity, Some(&boundary), &requests);
        let decisions: Vec<(&str, &Decision)> = result
            .iter()
            .map(|e| (e.action.as_str(), &e.decision))
            .collect();
        assert_eq!(
            decisions,
            vec![
                ("bedrock-agentcore:CreateEvent", &Decision::Allowed),
                (
                    "bedrock-agentcore:GetEvent",
                    &Decision::NotAllowedByBoundary {
                        boundary: BOUNDARY.to_string()
                    }
                ),
                (
                    "bedrock-agentcore:ListSessions",
                    &Decision::NotAllowedByBoundary {
                        boundary: BOUNDARY.to_string()
                    }
                ),
            ]
        );
        assert!(evaluate(&identity, None, &[]).is_empty());
    }

    #[test]
    fn unknown_reasons_are_capped() {
        let conditional = |sid: &str| {
            json!({"Sid": sid, "Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})
        };
        let statements: Vec<Value> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|sid| conditional(sid))
            .collect();
        let document = json!({ "Statement": statements });
        let result = evaluate(
            &[inline("Many", document)],
            None,
            &[("s3:GetObject".to_string(), "arn:aws:s3:::b/k".to_string())],
        );
        let Decision::Unknown { why } = &result[0].decision else {
            panic!("expected Unknown, got {:?}", result[0].decision);
        };
        assert!(why.contains("statement A"), "{why}");
        assert!(why.contains("statement C"), "{why}");
        assert!(!why.contains("statement D"), "{why}");
        assert!(why.ends_with("; and 2 more"), "{why}");
    }

    #[test]
    fn display_phrases() {
        let table = [
            (Decision::Allowed, "allowed"),
            (
                Decision::DeniedExplicitly {
                    by: "managed policy Guardrails statement DenyIam".to_string(),
                },
                "denied explicitly by managed policy Guardrails statement DenyIam",
            ),
            (
                Decision::NotAllowedByIdentityPolicies,
                "not allowed by any identity policy of the role",
            ),
            (
                Decision::NotAllowedByBoundary {
                    boundary: BOUNDARY.to_string(),
                },
                "not allowed by the permissions boundary BoundaryForLPMA",
            ),
            (
                Decision::Unknown {
                    why: "x".to_string(),
                },
                "cannot be decided locally: x",
            ),
        ];
        for (decision, text) in table {
            assert_eq!(decision.to_string(), text);
        }
        assert_eq!(PolicyKind::Inline.to_string(), "inline policy");
        assert_eq!(PolicyKind::Managed.to_string(), "managed policy");
        assert_eq!(PolicyKind::Boundary.to_string(), "permissions boundary");
    }

    #[test]
    fn wildcard_matcher() {
        let table: &[(&str, &str, bool, bool)] = &[
            ("", "", false, true),
            ("", "a", false, false),
            ("*", "", false, true),
            ("*", "anything:at/all", false, true),
            ("?", "", false, false),
            ("?", "x", false, true),
            ("a?c", "abc", false, true),
            ("a?c", "ac", false, false),
            ("a*c", "ac", false, true),
            ("a*c", "abbbc", false, true),
            ("a*c", "abbbd", false, false),
            ("*c", "abcbc", false, true),
            ("a*b*c", "aXbYbZc", false, true),
            ("a*b*c", "aXcYb", false, false),
            ("abc", "ABC", false, false),
            ("abc", "ABC", true, true),
            ("S3:Get*", "s3:GetObject", true, true),
            ("s3:get?bject", "S3:GetObject", true, true),
            ("memory/*", "memory/", false, true),
            ("memory/*", "memory", false, false),
            (
                "arn:aws:bedrock-agentcore:*:123456789012:memory/*",
                MEMORY,
                false,
                true,
            ),
            ("**", "", false, true),
            ("*?", "", false, false),
            ("*?", "a", false, true),
            ("ä*", "Äbc", true, true),
        ];
        for &(pattern, value, ci, expected) in table {
            assert_eq!(
                iam_wildcard_match(pattern, value, ci),
                expected,
                "{pattern:?} vs {value:?} (case_insensitive: {ci})"
            );
        }
    }

    #[test]
    fn wildcard_matcher_has_no_exponential_backtracking() {
        let value = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(200));
        let started = std::time::Instant::now();
        assert!(!iam_wildcard_match(&pattern, &value, false));
        assert!(iam_wildcard_match(
            &format!("{}*", "*a".repeat(200)),
            &value,
            true
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
