//! The function's settings: which runtimes it may touch (`SCOPE_PATTERNS`) and which accounts
//! its statements may name (`ALLOWED_PRINCIPAL_ACCOUNTS`).
//!
//! Every stack author who can invoke the ServiceToken borrows the function's permissions, so
//! these two settings, not the request, decide how far a statement may reach.

use serde_json::{json, Map, Value};

use crate::arn::{self, RuntimeArn};
use crate::scope;
use crate::{Error, Result};

pub const SCOPE_PATTERNS_VAR: &str = "SCOPE_PATTERNS";
pub const ALLOWED_PRINCIPAL_ACCOUNTS_VAR: &str = "ALLOWED_PRINCIPAL_ACCOUNTS";
/// The corebound template parameters that set them.
pub const SCOPE_PARAMETER: &str = "ScopePatterns";
pub const PRINCIPALS_PARAMETER: &str = "AllowedPrincipalAccounts";

/// The condition key an organization id in `ALLOWED_PRINCIPAL_ACCOUNTS` becomes.
pub const ORG_CONDITION_KEY: &str = "aws:PrincipalOrgID";
const ORG_CONDITION_OPERATOR: &str = "StringEquals";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimePolicySettings {
    /// Runtime-name globs; `None` (unset, local use): no scope check, warned at start.
    pub scope: Option<Vec<String>>,
    pub principals: AllowedPrincipals,
}

/// Parsed `ALLOWED_PRINCIPAL_ACCOUNTS`. Empty: only the function's own account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedPrincipals {
    pub accounts: Vec<String>,
    pub organization: Option<String>,
}

impl RuntimePolicySettings {
    /// From the environment; a malformed value is a configuration error naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_values(
            std::env::var(SCOPE_PATTERNS_VAR).ok().as_deref(),
            std::env::var(ALLOWED_PRINCIPAL_ACCOUNTS_VAR)
                .ok()
                .as_deref(),
        )
    }

    pub fn from_values(scope: Option<&str>, principals: Option<&str>) -> Result<Self> {
        let scope = scope::optional_patterns(scope).map_err(|expected| {
            Error::Config(format!(
                "{SCOPE_PATTERNS_VAR} is {:?}; expected {expected}",
                scope.unwrap_or_default()
            ))
        })?;
        let principals = AllowedPrincipals::parse(principals.unwrap_or_default())?;
        Ok(RuntimePolicySettings { scope, principals })
    }

    /// A runtime (and so its endpoints) may be written only when its name is in scope.
    pub fn check_target(&self, runtime: &RuntimeArn) -> std::result::Result<(), String> {
        let Some(patterns) = &self.scope else {
            return Ok(());
        };
        let name = runtime_name(runtime);
        if scope::in_scope(name, patterns) {
            Ok(())
        } else {
            Err(format!(
                "runtime {runtime} (name {name:?}) is outside this corebound installation's scope {} ({SCOPE_PATTERNS_VAR}); only runtimes whose name matches may get a statement. Use an in-scope runtime, or add a pattern to the corebound stack's parameter {SCOPE_PARAMETER}",
                patterns.join(",")
            ))
        }
    }
}

impl AllowedPrincipals {
    /// Comma-separated 12-digit account ids and at most one organization id `o-...`.
    pub fn parse(raw: &str) -> Result<Self> {
        let mut allowed = AllowedPrincipals::default();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.len() == 12 && item.bytes().all(|b| b.is_ascii_digit()) {
                if !allowed.accounts.iter().any(|a| a == item) {
                    allowed.accounts.push(item.to_string());
                }
            } else if is_organization_id(item) {
                match &allowed.organization {
                    Some(existing) if existing != item => {
                        return Err(Error::Config(format!(
                            "{ALLOWED_PRINCIPAL_ACCOUNTS_VAR} names two organizations ({existing} and {item}); a statement can carry one aws:PrincipalOrgID, so give at most one"
                        )))
                    }
                    _ => allowed.organization = Some(item.to_string()),
                }
            } else {
                return Err(Error::Config(format!(
                    "{ALLOWED_PRINCIPAL_ACCOUNTS_VAR} contains {item:?}; expected comma-separated 12-digit account ids and optionally one organization id o-<10 to 32 lower-case letters or digits>"
                )));
            }
        }
        Ok(allowed)
    }

    /// Check every principal's account against the list, given the function's own account
    /// (the runtime's account: the function's role may write only its own account's runtimes).
    /// `Ok(Some(org))` when an account outside the list is allowed through the organization:
    /// the statement must then carry an `aws:PrincipalOrgID` condition.
    pub fn check(
        &self,
        principals: &[String],
        own_account: &str,
    ) -> std::result::Result<Option<String>, (String, String)> {
        let mut needs_org = false;
        for principal in principals {
            let account = arn::account_of(principal).unwrap_or_default();
            if account == own_account || self.accounts.iter().any(|a| a == account) {
                continue;
            }
            if self.organization.is_some() {
                needs_org = true;
                continue;
            }
            let listed = if self.accounts.is_empty() {
                format!("{ALLOWED_PRINCIPAL_ACCOUNTS_VAR} is empty, so only the function's own account {own_account} is allowed")
            } else {
                format!(
                    "allowed: the function's own account {own_account} and {}",
                    self.accounts.join(", ")
                )
            };
            return Err((
                principal.clone(),
                format!(
                    "a principal of an allowed account: account {account} is not allowed ({listed}); add {account} (or its organization id) to the corebound stack's parameter {PRINCIPALS_PARAMETER}"
                ),
            ));
        }
        Ok(if needs_org {
            self.organization.clone()
        } else {
            None
        })
    }
}

/// `o-` and 10 to 32 lower-case letters or digits (AWS Organizations' pattern).
pub fn is_organization_id(value: &str) -> bool {
    value.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// The runtime's name: its id without the `-<10 characters>` AgentCore appends.
pub fn runtime_name(runtime: &RuntimeArn) -> &str {
    let id = runtime.runtime_id.as_str();
    id.len()
        .checked_sub(11)
        .filter(|&cut| id.is_char_boundary(cut) && id[cut..].starts_with('-'))
        .map_or(id, |cut| &id[..cut])
}

/// `conditions` with `aws:PrincipalOrgID = org` added. `Err` names the conflict when the
/// conditions already restrict `aws:PrincipalOrgID` under `StringEquals` to something else.
pub fn with_org_condition(
    conditions: Option<&Map<String, Value>>,
    org: &str,
) -> std::result::Result<Map<String, Value>, String> {
    let mut conditions = conditions.cloned().unwrap_or_default();
    let block = conditions
        .entry(ORG_CONDITION_OPERATOR)
        .or_insert_with(|| json!({}));
    let Value::Object(block) = block else {
        return Err(format!("{ORG_CONDITION_OPERATOR} is not an object"));
    };
    let existing = block
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(ORG_CONDITION_KEY))
        .map(|(key, value)| (key.clone(), value.clone()));
    match existing {
        None => {
            block.insert(ORG_CONDITION_KEY.to_string(), json!(org));
            Ok(conditions)
        }
        Some((_, value)) if value == json!(org) || value == json!([org]) => Ok(conditions),
        Some((_, value)) => Err(format!(
            "Conditions already restrict {ORG_CONDITION_KEY} to {value}, but accounts outside {ALLOWED_PRINCIPAL_ACCOUNTS_VAR} are allowed only through organization {org}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/pay_agent-AbCdE12345";

    #[test]
    fn parse_settings() {
        let s = RuntimePolicySettings::from_values(
            Some("pay_*"),
            Some(" 210987654321, o-abcdefghij ,210987654321"),
        )
        .unwrap();
        assert_eq!(s.scope, Some(vec!["pay_*".to_string()]));
        assert_eq!(s.principals.accounts, vec!["210987654321"]);
        assert_eq!(s.principals.organization.as_deref(), Some("o-abcdefghij"));
        for bad in [
            "12345",
            "o-short",
            "o-abcdefghij,o-klmnopqrst",
            "arn:aws:iam::210987654321:root",
        ] {
            let e = RuntimePolicySettings::from_values(None, Some(bad))
                .unwrap_err()
                .to_string();
            assert!(e.contains(ALLOWED_PRINCIPAL_ACCOUNTS_VAR), "{bad}: {e}");
        }
        let e = RuntimePolicySettings::from_values(Some("*"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(SCOPE_PATTERNS_VAR), "{e}");
        assert_eq!(
            RuntimePolicySettings::from_values(None, Some("")).unwrap(),
            RuntimePolicySettings::default()
        );
    }

    #[test]
    fn scope_is_decided_by_the_runtime_name() {
        let runtime = RuntimeArn::parse(RUNTIME).unwrap();
        assert_eq!(runtime_name(&runtime), "pay_agent");
        let s = RuntimePolicySettings::from_values(Some("pay_*"), None).unwrap();
        assert!(s.check_target(&runtime).is_ok());
        let s = RuntimePolicySettings::from_values(Some("cards_*,x"), None).unwrap();
        let e = s.check_target(&runtime).unwrap_err();
        assert!(
            e.contains(RUNTIME) && e.contains("cards_*,x") && e.contains(SCOPE_PARAMETER),
            "{e}"
        );
        assert!(RuntimePolicySettings::default()
            .check_target(&runtime)
            .is_ok());
    }

    #[test]
    fn principal_accounts() {
        let own = "123456789012";
        let root = |a: &str| format!("arn:aws:iam::{a}:root");
        let none = AllowedPrincipals::default();
        assert_eq!(none.check(&[root(own)], own), Ok(None));
        let (principal, rule) = none.check(&[root("210987654321")], own).unwrap_err();
        assert_eq!(principal, root("210987654321"));
        assert!(rule.contains("account 210987654321") && rule.contains(PRINCIPALS_PARAMETER));
        let listed = AllowedPrincipals::parse("210987654321").unwrap();
        assert_eq!(listed.check(&[root("210987654321")], own), Ok(None));
        assert!(listed.check(&[root("999999999999")], own).is_err());
        let org = AllowedPrincipals::parse("210987654321,o-abcdefghij").unwrap();
        assert_eq!(org.check(&[root("210987654321")], own), Ok(None));
        assert_eq!(
            org.check(
                &[
                    root("210987654321"),
                    "arn:aws:iam::999999999999:role/R".into()
                ],
                own
            ),
            Ok(Some("o-abcdefghij".into()))
        );
    }

    #[test]
    fn org_condition_is_added_or_agrees() {
        let added = with_org_condition(None, "o-abcdefghij").unwrap();
        assert_eq!(
            Value::Object(added),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}})
        );
        let user = json!({"StringEquals": {"aws:SourceVpce": "vpce-1"}, "Bool": {"aws:SecureTransport": "true"}});
        let merged = with_org_condition(user.as_object(), "o-abcdefghij").unwrap();
        assert_eq!(
            merged["StringEquals"],
            json!({"aws:SourceVpce": "vpce-1", "aws:PrincipalOrgID": "o-abcdefghij"})
        );
        let same = json!({"StringEquals": {"aws:principalorgid": ["o-abcdefghij"]}});
        assert_eq!(
            with_org_condition(same.as_object(), "o-abcdefghij").unwrap(),
            same.as_object().unwrap().clone()
        );
        let other = json!({"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzzzzzz"}});
        assert!(with_org_condition(other.as_object(), "o-abcdefghij").is_err());
    }
}
