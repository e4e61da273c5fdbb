//! `ACCOUNT_SETTINGS`: the tags, project keys and mode of each account a hub remediates
//! (issue 13 §3), parsed and validated once at start, then resolved per event.
//!
//! The variable holds a JSON document, or `ssm:<parameter name>` whose value is that document
//! (the function fetches it at start; [`Source`]). Its shape:
//!
//! ```json
//! {"default":      {"tags": {"ApplicationId": "...", "Environment": "prod", "Project": "...",
//!                            "ServiceLine": "...", "ManagedBy": "..."},
//!                   "kms_key_arn": {"us-east-1": "arn:aws:kms:us-east-1:111111111111:key/..."},
//!                   "mode": "enforce"},
//!  "222233334444": {"tags": {...}, "kms_key_arn": {"eu-west-1": "arn:aws:kms:eu-west-1:222233334444:key/..."}}}
//! ```
//!
//! Decisions where the issue is silent, all conservative:
//! - **Field by field** means a field of an account's entry replaces the same field of
//!   `default` whole: an entry's `kms_key_arn` map is that account's complete list of keys
//!   (a region it leaves out has no key, even if `default` names one there), because a key of
//!   another account is usable only where its key policy says so, which cannot be checked here.
//! - `tags` holds exactly the five mandatory keys, each with a non-empty value. `mode` is
//!   `enforce` or `report`; where neither the entry nor `default` sets it, the function's `MODE`.
//! - A key ARN must be in the region it is listed under; an account entry's keys must be in that
//!   account (a spoke's resources are encrypted with the spoke's own key). `default`'s keys may
//!   be in any account (one shared key, whose key policy grants the member accounts); the
//!   per-target key check (`DescribeKey` with the target's credentials) stops a key the target
//!   cannot use from being written anywhere.
//! - **Which accounts are acted on** ([`AccountSettings::acts_on`], the one place): the
//!   function's own account always; another account only when `ACCOUNT_SETTINGS` is set and
//!   has an entry for it or a `default`. An event from any other account is not authentic for
//!   this function. With a `default`, membership of the organization is enforced by AWS, not
//!   by the event: the central bus accepts `PutEvents` only from the organization
//!   (`aws:PrincipalOrgID`), only AWS can put `aws.*` events whose `account` is the account
//!   they happened in, and the hub can only act through the spoke role StackSets deployed in
//!   member accounts (its trust requires the hub's role, the ExternalId and the organization).
//!   Without a `default`, only listed accounts are acted on, which is the stricter choice.
//! - Unset `ACCOUNT_SETTINGS`: the function's own `REQUIRED_TAGS`, `KMS_KEY_ARN` (for the
//!   function's region) and `MODE` are the default, and only the own account is acted on
//!   (today's single-account deployment, unchanged). When the document is set but has neither
//!   an entry for the own account nor a `default`, the function's own settings still cover
//!   its own account.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::remediation::{
    Mode, OtherAccounts, RemediationConfig, TrustedAccounts, MANDATORY_TAG_KEYS,
};

/// The environment variable.
pub const ACCOUNT_SETTINGS: &str = "ACCOUNT_SETTINGS";
/// The `RoleSessionName` of every AssumeRole into a spoke: CloudTrail shows the hub's writes
/// there as `arn:<partition>:sts::<spoke>:assumed-role/<SPOKE_ROLE_NAME>/corebound-remediator`,
/// which the loop guard recognises.
pub const SPOKE_SESSION_NAME: &str = "corebound-remediator";
/// The prefix of a value naming an SSM parameter.
pub const SSM_PREFIX: &str = "ssm:";

/// Where the document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The variable is unset or empty: single-account settings.
    Unset,
    /// The document itself.
    Document(String),
    /// `ssm:<name>`: the parameter's value is the document (`ssm:GetParameter` at start).
    Parameter(String),
}

impl Source {
    /// Reads the variable's value. An `ssm:` value must name a parameter: a name
    /// (`[a-zA-Z0-9_.-]`, with `/` separating a hierarchy) or a parameter ARN.
    pub fn from_value(raw: Option<&str>) -> Result<Self, AccountsError> {
        let Some(value) = raw.map(str::trim).filter(|value| !value.is_empty()) else {
            return Ok(Self::Unset);
        };
        let Some(name) = value.strip_prefix(SSM_PREFIX) else {
            return Ok(Self::Document(value.to_string()));
        };
        let valid_name = |name: &str| {
            !name.is_empty()
                && name.len() <= 2048
                && name
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"_.-/:".contains(&byte))
        };
        if valid_name(name) {
            Ok(Self::Parameter(name.to_string()))
        } else {
            Err(AccountsError {
                place: "ssm:".to_string(),
                problem: format!(
                    "{name:?} is not an SSM parameter name (letters, digits, _.-/ or a \
                     parameter ARN)"
                ),
            })
        }
    }
}

/// A document that cannot be used: `place` names the account (or `default`) and the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid ACCOUNT_SETTINGS at {place}: {problem}")]
pub struct AccountsError {
    /// `default.tags`, `222233334444.kms_key_arn.eu-west-1`, `<document>`...
    pub place: String,
    pub problem: String,
}

/// The settings one entry (`default` or an account) sets; an absent field is inherited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Region → key ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// What one (account, region) is remediated with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub tags: BTreeMap<String, String>,
    pub kms_key_arn: String,
    pub mode: Mode,
}

impl Settings {
    /// The function's configuration with these settings in place of its own tags, key and
    /// mode (everything else, scope and loop guard included, is the function's).
    pub fn apply_to(&self, config: &RemediationConfig) -> RemediationConfig {
        let mut bound = config.clone();
        if bound.kms_key_arn != self.kms_key_arn {
            // The start-up key check was for the function's own key.
            bound.key_status = Default::default();
        }
        bound.required_tags = self.tags.clone();
        bound.kms_key_arn = self.kms_key_arn.clone();
        bound.mode = self.mode;
        bound
    }
}

/// Why an event's (account, region) has no settings: recorded as a finding, nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "unresolved", rename_all = "snake_case")]
pub enum Unresolved {
    /// Neither an entry for the account nor a `default`.
    NoSettings { account: String },
    /// No project key for the region in the entry (or `default`) that applies.
    NoKeyForRegion { account: String, region: String },
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSettings { account } => write!(
                f,
                "account {account} has no entry in ACCOUNT_SETTINGS and there is no default"
            ),
            Self::NoKeyForRegion { account, region } => write!(
                f,
                "ACCOUNT_SETTINGS has no kms_key_arn for region {region} of account {account}"
            ),
        }
    }
}

/// The validated document, with the function's own settings as the fallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSettings {
    /// `None`: `ACCOUNT_SETTINGS` unset (single account).
    document: Option<Document>,
    /// The function's `REQUIRED_TAGS`, `KMS_KEY_ARN` (for its region) and `MODE`.
    own: Entry,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
struct Document {
    default: Option<Entry>,
    accounts: BTreeMap<String, Entry>,
}

impl AccountSettings {
    /// Validates `text` (the document; `None` when `ACCOUNT_SETTINGS` is unset). `config` is
    /// the function's own configuration and `function_region` its `AWS_REGION`: the fallback.
    pub fn parse(
        text: Option<&str>,
        config: &RemediationConfig,
        function_region: Option<&str>,
    ) -> Result<Self, AccountsError> {
        // The function's key serves the function's region; today's start-up check reports a key
        // of another region (never written), so it is listed under the function's region.
        let own = Self::single_account(config, function_region).own;
        let document = text.map(parse_document).transpose()?;
        Ok(Self { document, own })
    }

    /// `ACCOUNT_SETTINGS` unset: the function's own settings, its own account only (what the
    /// `corebound` command uses for the account of its credentials).
    pub fn single_account(config: &RemediationConfig, function_region: Option<&str>) -> Self {
        let own_region = function_region
            .map(str::to_string)
            .or_else(|| config.kms_key_arn.split(':').nth(3).map(str::to_string))
            .unwrap_or_default();
        Self {
            document: None,
            own: Entry {
                tags: Some(config.required_tags.clone()),
                kms_key_arn: Some(BTreeMap::from([(own_region, config.kms_key_arn.clone())])),
                mode: Some(config.mode),
            },
        }
    }

    /// True when organization settings are configured (`ACCOUNT_SETTINGS` set).
    pub fn configured(&self) -> bool {
        self.document.is_some()
    }

    /// The accounts with an entry of their own.
    pub fn listed_accounts(&self) -> Vec<&str> {
        self.document
            .iter()
            .flat_map(|document| document.accounts.keys().map(String::as_str))
            .collect()
    }

    /// Every (account, region) the document gives a key for: the units a sweep fans out to.
    /// `default`'s regions apply to the listed accounts that do not set `kms_key_arn`.
    pub fn configured_targets(&self, own_account: Option<&str>) -> BTreeSet<(String, String)> {
        let mut targets = BTreeSet::new();
        let mut accounts: BTreeSet<&str> = self.listed_accounts().into_iter().collect();
        accounts.extend(own_account);
        for account in accounts {
            for region in self
                .keys_of(account, own_account)
                .into_iter()
                .flat_map(BTreeMap::keys)
            {
                targets.insert((account.to_string(), region.clone()));
            }
        }
        targets
    }

    /// Whether events of `account` may be acted on (see the module docs). `own` is the
    /// function's own account, learned from Lambda.
    pub fn acts_on(&self, account: &str, own: Option<&str>) -> bool {
        let trusted = TrustedAccounts {
            own: own.map(str::to_string),
            others: self.other_accounts(),
            partition: None,
        };
        trusted.trusts(account)
    }

    /// The accounts besides the function's own whose events are acted on: none when
    /// `ACCOUNT_SETTINGS` is unset, any with a `default`, else the listed ones.
    pub fn other_accounts(&self) -> OtherAccounts {
        match &self.document {
            None => OtherAccounts::None,
            Some(document) if document.default.is_some() => OtherAccounts::Any,
            Some(document) => OtherAccounts::Listed(document.accounts.keys().cloned().collect()),
        }
    }

    /// The settings of (account, region).
    pub fn resolve(
        &self,
        account: &str,
        region: &str,
        own: Option<&str>,
    ) -> Result<Settings, Unresolved> {
        let chain = self.chain(account, own);
        if chain.is_empty() {
            return Err(Unresolved::NoSettings {
                account: account.to_string(),
            });
        }
        let tags = chain.iter().find_map(|entry| entry.tags.clone());
        let mode = chain
            .iter()
            .find_map(|entry| entry.mode)
            .or(self.own.mode)
            .unwrap_or_default();
        let key = self
            .keys_of(account, own)
            .and_then(|keys| keys.get(region).cloned());
        match (tags, key) {
            (Some(tags), Some(kms_key_arn)) => Ok(Settings {
                tags,
                kms_key_arn,
                mode,
            }),
            // Validation guarantees tags somewhere in every chain; a chain without them is
            // treated as no settings rather than trusted.
            (None, _) => Err(Unresolved::NoSettings {
                account: account.to_string(),
            }),
            (Some(_), None) => Err(Unresolved::NoKeyForRegion {
                account: account.to_string(),
                region: region.to_string(),
            }),
        }
    }

    /// The key map that applies to `account`: the first entry of its chain that sets one.
    fn keys_of(&self, account: &str, own: Option<&str>) -> Option<&BTreeMap<String, String>> {
        self.chain(account, own)
            .into_iter()
            .find_map(|entry| entry.kms_key_arn.as_ref())
    }

    /// The entries that apply to `account`, most specific first.
    fn chain(&self, account: &str, own: Option<&str>) -> Vec<&Entry> {
        let is_own = own == Some(account);
        let Some(document) = &self.document else {
            // Unset: the function's own settings are the default, for its own account only
            // (no other account is acted on then).
            return if is_own { vec![&self.own] } else { Vec::new() };
        };
        let mut chain: Vec<&Entry> = document.accounts.get(account).into_iter().collect();
        match &document.default {
            Some(default) => chain.push(default),
            None if is_own => chain.push(&self.own),
            None => {}
        }
        chain
    }
}

fn parse_document(text: &str) -> Result<Document, AccountsError> {
    let fail = |place: &str, problem: String| AccountsError {
        place: place.to_string(),
        problem,
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|error| fail("<document>", format!("not JSON: {error}")))?;
    let Value::Object(members) = value else {
        return Err(fail(
            "<document>",
            "expected a JSON object of \"default\" and 12-digit account ids".to_string(),
        ));
    };
    let mut document = Document::default();
    for (name, value) in &members {
        if name == "default" {
            document.default = Some(parse_entry(name, None, value)?);
        } else if is_account_id(name) {
            let entry = parse_entry(name, Some(name), value)?;
            document.accounts.insert(name.clone(), entry);
        } else {
            return Err(fail(
                name,
                "not \"default\" nor a 12-digit account id".to_string(),
            ));
        }
    }
    // Every account acted on must end up with tags: an entry without them inherits
    // `default`'s, so without a default it must carry its own.
    let default_tags = document
        .default
        .as_ref()
        .is_some_and(|entry| entry.tags.is_some());
    if let Some(default) = &document.default {
        if default.tags.is_none() {
            return Err(fail(
                "default.tags",
                "missing: default applies to every account without an entry".to_string(),
            ));
        }
    }
    for (account, entry) in &document.accounts {
        if entry.tags.is_none() && !default_tags {
            return Err(fail(
                &format!("{account}.tags"),
                "missing, and there is no default to inherit them from".to_string(),
            ));
        }
    }
    Ok(document)
}

fn parse_entry(name: &str, account: Option<&str>, value: &Value) -> Result<Entry, AccountsError> {
    let fail = |field: &str, problem: String| AccountsError {
        place: if field.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{field}")
        },
        problem,
    };
    let Value::Object(fields) = value else {
        return Err(fail(
            "",
            "expected an object with tags, kms_key_arn and/or mode".to_string(),
        ));
    };
    let mut entry = Entry::default();
    for (field, value) in fields {
        match field.as_str() {
            "tags" => entry.tags = Some(parse_tags(value).map_err(|p| fail("tags", p))?),
            "kms_key_arn" => {
                entry.kms_key_arn = Some(parse_keys(name, account, value)?);
            }
            "mode" => {
                entry.mode = Some(match value.as_str().map(str::to_ascii_lowercase) {
                    Some(mode) if mode == "enforce" => Mode::Enforce,
                    Some(mode) if mode == "report" => Mode::Report,
                    _ => return Err(fail("mode", format!("{value} is not enforce or report"))),
                });
            }
            other => {
                return Err(fail(
                    other,
                    "unknown field (expected tags, kms_key_arn, mode)".to_string(),
                ))
            }
        }
    }
    Ok(entry)
}

fn parse_tags(value: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(tags) = value else {
        return Err(format!(
            "expected an object of the five tags {}",
            MANDATORY_TAG_KEYS.join(", ")
        ));
    };
    let mut parsed = BTreeMap::new();
    for (key, value) in tags {
        if !MANDATORY_TAG_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{key:?} is not one of the mandatory tags {}",
                MANDATORY_TAG_KEYS.join(", ")
            ));
        }
        match value.as_str().map(str::trim) {
            Some(text) if !text.is_empty() && text.chars().count() <= 256 => {
                parsed.insert(key.clone(), text.to_string());
            }
            _ => {
                return Err(format!(
                    "{key}: expected a non-empty string of at most 256 characters, got {value}"
                ))
            }
        }
    }
    let missing: Vec<&str> = MANDATORY_TAG_KEYS
        .into_iter()
        .filter(|key| !parsed.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    Ok(parsed)
}

fn parse_keys(
    name: &str,
    account: Option<&str>,
    value: &Value,
) -> Result<BTreeMap<String, String>, AccountsError> {
    let fail = |place: String, problem: String| AccountsError { place, problem };
    let Value::Object(keys) = value else {
        return Err(fail(
            format!("{name}.kms_key_arn"),
            "expected an object of region to key ARN".to_string(),
        ));
    };
    let mut parsed = BTreeMap::new();
    for (region, arn) in keys {
        let place = format!("{name}.kms_key_arn.{region}");
        if !is_region(region) {
            return Err(fail(place, format!("{region:?} is not a region name")));
        }
        let Some(arn) = arn.as_str().map(str::trim) else {
            return Err(fail(place, format!("{arn} is not a string")));
        };
        let Some((key_region, key_account)) = key_arn_parts(arn) else {
            return Err(fail(
                place,
                format!(
                    "{arn:?} is not a key ARN arn:<partition>:kms:<region>:<account>:key/<id> \
                     (aliases are not accepted)"
                ),
            ));
        };
        if key_region != region {
            return Err(fail(
                place,
                format!("the key is in {key_region}, not {region} (a key serves its own region)"),
            ));
        }
        if let Some(account) = account.filter(|account| *account != key_account) {
            return Err(fail(
                place,
                format!("the key is in account {key_account}, not {account}"),
            ));
        }
        parsed.insert(region.clone(), arn.to_string());
    }
    Ok(parsed)
}

/// `(region, account)` of `arn:<partition>:kms:<region>:<account>:key/<id>`.
fn key_arn_parts(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let id = resource.strip_prefix("key/")?;
    let valid = *prefix == "arn"
        && (*partition == "aws" || partition.starts_with("aws-"))
        && *service == "kms"
        && is_region(region)
        && is_account_id(account)
        && !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then_some((*region, *account))
}

pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|byte| byte.is_ascii_digit())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`: lower-case words and a number.
fn is_region(value: &str) -> bool {
    let mut parts = value.split('-');
    let Some(last) = parts.next_back() else {
        return false;
    };
    let words: Vec<&str> = parts.collect();
    words.len() >= 2
        && words
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HUB: &str = "111111111111";
    const SPOKE: &str = "222233334444";
    const OTHER: &str = "555566667777";
    const HUB_KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/hub-key";
    const SPOKE_KEY_EU: &str = "arn:aws:kms:eu-west-1:222233334444:key/spoke-eu";

    fn config() -> RemediationConfig {
        RemediationConfig::from_env(|name| match name {
            "REQUIRED_TAGS" => Some(tags("own").to_string()),
            "KMS_KEY_ARN" => Some(HUB_KEY.to_string()),
            "SCOPE_PATTERNS" => Some("corebound-*".to_string()),
            "MODE" => Some("report".to_string()),
            _ => None,
        })
        .unwrap()
    }

    fn tags(env: &str) -> Value {
        json!({"ApplicationId": "APP-1", "Environment": env, "Project": "p",
               "ServiceLine": "s", "ManagedBy": "m"})
    }

    fn parse(document: Value) -> Result<AccountSettings, AccountsError> {
        AccountSettings::parse(Some(&document.to_string()), &config(), Some("us-east-1"))
    }

    fn issue_example() -> Value {
        json!({
            "default": {"tags": tags("prod"), "kms_key_arn": {"us-east-1": HUB_KEY}, "mode": "enforce"},
            SPOKE: {"tags": tags("spoke"), "kms_key_arn": {"eu-west-1": SPOKE_KEY_EU}}
        })
    }

    #[test]
    fn source_reads_a_document_a_parameter_or_nothing() {
        assert_eq!(Source::from_value(None), Ok(Source::Unset));
        assert_eq!(Source::from_value(Some("  ")), Ok(Source::Unset));
        assert_eq!(
            Source::from_value(Some("ssm:/corebound/accounts")),
            Ok(Source::Parameter("/corebound/accounts".to_string()))
        );
        assert_eq!(
            Source::from_value(Some("{}")),
            Ok(Source::Document("{}".to_string()))
        );
        for bad in ["ssm:", "ssm:a b", "ssm:x?y"] {
            let error = Source::from_value(Some(bad)).unwrap_err();
            assert!(error
                .to_string()
                .starts_with("invalid ACCOUNT_SETTINGS at ssm:"));
        }
    }

    #[test]
    fn unset_means_the_functions_own_settings_for_its_own_account_only() {
        let settings = AccountSettings::parse(None, &config(), Some("us-east-1")).unwrap();
        assert!(!settings.configured());
        let own = settings.resolve(HUB, "us-east-1", Some(HUB)).unwrap();
        assert_eq!(own.kms_key_arn, HUB_KEY);
        assert_eq!(own.mode, Mode::Report);
        assert_eq!(own.tags["Environment"], "own");
        assert!(settings.acts_on(HUB, Some(HUB)));
        assert!(!settings.acts_on(SPOKE, Some(HUB)));
        assert_eq!(
            settings.resolve(SPOKE, "us-east-1", Some(HUB)),
            Err(Unresolved::NoSettings {
                account: SPOKE.to_string()
            })
        );
        assert_eq!(
            settings.resolve(HUB, "eu-west-1", Some(HUB)),
            Err(Unresolved::NoKeyForRegion {
                account: HUB.to_string(),
                region: "eu-west-1".to_string()
            })
        );
    }

    #[test]
    fn an_entry_overrides_default_field_by_field() {
        let settings = parse(issue_example()).unwrap();
        let spoke = settings.resolve(SPOKE, "eu-west-1", Some(HUB)).unwrap();
        assert_eq!(spoke.tags["Environment"], "spoke");
        assert_eq!(spoke.kms_key_arn, SPOKE_KEY_EU);
        assert_eq!(spoke.mode, Mode::Enforce, "mode inherited from default");
        // The entry's key map is the account's whole list: default's us-east-1 key is not used.
        assert_eq!(
            settings.resolve(SPOKE, "us-east-1", Some(HUB)),
            Err(Unresolved::NoKeyForRegion {
                account: SPOKE.to_string(),
                region: "us-east-1".to_string()
            })
        );
        // An account without an entry gets default whole; the hub too (default beats env).
        let other = settings.resolve(OTHER, "us-east-1", Some(HUB)).unwrap();
        assert_eq!(other.tags["Environment"], "prod");
        assert_eq!(other.kms_key_arn, HUB_KEY);
        assert_eq!(
            settings.resolve(HUB, "us-east-1", Some(HUB)).unwrap().mode,
            Mode::Enforce
        );
    }

    #[test]
    fn an_entry_without_mode_or_default_takes_the_functions_mode() {
        let settings = parse(json!({
            SPOKE: {"tags": tags("spoke"), "kms_key_arn": {"eu-west-1": SPOKE_KEY_EU}}
        }))
        .unwrap();
        let spoke = settings.resolve(SPOKE, "eu-west-1", Some(HUB)).unwrap();
        assert_eq!(spoke.mode, Mode::Report);
        // The own account keeps the function's settings when there is no default.
        let own = settings.resolve(HUB, "us-east-1", Some(HUB)).unwrap();
        assert_eq!(own.tags["Environment"], "own");
        let with_mode = parse(json!({
            SPOKE: {"tags": tags("spoke"), "mode": "ENFORCE",
                    "kms_key_arn": {"eu-west-1": SPOKE_KEY_EU}}
        }))
        .unwrap();
        assert_eq!(
            with_mode.resolve(SPOKE, "eu-west-1", None).unwrap().mode,
            Mode::Enforce
        );
    }

    #[test]
    fn only_listed_accounts_are_acted_on_without_a_default() {
        let listed = parse(json!({SPOKE: {"tags": tags("spoke")}})).unwrap();
        assert!(listed.acts_on(SPOKE, Some(HUB)));
        assert!(listed.acts_on(HUB, Some(HUB)));
        assert!(!listed.acts_on(OTHER, Some(HUB)));
        assert!(
            !listed.acts_on(OTHER, None),
            "own account unknown: still only listed"
        );
        let with_default = parse(issue_example()).unwrap();
        assert!(with_default.acts_on(OTHER, Some(HUB)));
        assert_eq!(
            listed.resolve(OTHER, "us-east-1", Some(HUB)),
            Err(Unresolved::NoSettings {
                account: OTHER.to_string()
            })
        );
    }

    #[test]
    fn configured_targets_list_every_account_and_region_with_a_key() {
        let settings = parse(json!({
            "default": {"tags": tags("prod"), "kms_key_arn": {"us-east-1": HUB_KEY}},
            SPOKE: {"kms_key_arn": {"eu-west-1": SPOKE_KEY_EU,
                                    "us-east-1": "arn:aws:kms:us-east-1:222233334444:key/k"}},
            OTHER: {"tags": tags("other")}
        }))
        .unwrap();
        let targets: Vec<(String, String)> =
            settings.configured_targets(Some(HUB)).into_iter().collect();
        let expected: Vec<(String, String)> = [
            (HUB, "us-east-1"),
            (SPOKE, "eu-west-1"),
            (SPOKE, "us-east-1"),
            (OTHER, "us-east-1"),
        ]
        .iter()
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
        assert_eq!(targets, expected);
    }

    #[test]
    fn settings_replace_the_functions_tags_key_and_mode() {
        let settings = parse(issue_example()).unwrap();
        let spoke = settings.resolve(SPOKE, "eu-west-1", Some(HUB)).unwrap();
        let mut base = config();
        base.key_status.aliases = vec!["alias/hub".to_string()];
        let bound = spoke.apply_to(&base);
        assert_eq!(bound.kms_key_arn, SPOKE_KEY_EU);
        assert_eq!(bound.mode, Mode::Enforce);
        assert_eq!(bound.required_tags["Environment"], "spoke");
        assert!(
            bound.key_status.aliases.is_empty(),
            "the hub key's aliases are not the spoke key's"
        );
        assert_eq!(bound.scope_patterns, base.scope_patterns);
    }

    #[test]
    fn invalid_documents_name_the_account_and_the_field() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!([1]), "<document>", "JSON object"),
            (json!({"12345": {}}), "12345", "12-digit account id"),
            (json!({"default": 3}), "default", "expected an object"),
            (
                json!({"default": {"kms_key_arn": {"us-east-1": HUB_KEY}}}),
                "default.tags",
                "missing",
            ),
            (
                json!({SPOKE: {"mode": "report"}}),
                "222233334444.tags",
                "no default",
            ),
            (
                json!({SPOKE: {"tags": {"ApplicationId": "a"}}}),
                "222233334444.tags",
                "missing Environment",
            ),
            (
                json!({SPOKE: {"tags": {"CostCenter": "x"}}}),
                "222233334444.tags",
                "\"CostCenter\" is not one of the mandatory tags",
            ),
            (
                json!({SPOKE: {"tags": {"ApplicationId": "", "Environment": "e", "Project": "p",
                                         "ServiceLine": "s", "ManagedBy": "m"}}}),
                "222233334444.tags",
                "ApplicationId: expected a non-empty string",
            ),
            (
                json!({SPOKE: {"tags": tags("x"), "mode": "dry-run"}}),
                "222233334444.mode",
                "not enforce or report",
            ),
            (
                json!({SPOKE: {"tags": tags("x"), "colour": 1}}),
                "222233334444.colour",
                "unknown field",
            ),
            (
                json!({SPOKE: {"tags": tags("x"), "kms_key_arn": {"eu-west-1": HUB_KEY}}}),
                "222233334444.kms_key_arn.eu-west-1",
                "the key is in us-east-1, not eu-west-1",
            ),
            (
                json!({SPOKE: {"tags": tags("x"), "kms_key_arn": {"us-east-1": HUB_KEY}}}),
                "222233334444.kms_key_arn.us-east-1",
                "the key is in account 111111111111, not 222233334444",
            ),
            (
                json!({SPOKE: {"tags": tags("x"),
                               "kms_key_arn": {"us-east-1": "arn:aws:kms:us-east-1:222233334444:alias/a"}}}),
                "222233334444.kms_key_arn.us-east-1",
                "not a key ARN",
            ),
            (
                json!({SPOKE: {"tags": tags("x"), "kms_key_arn": {"Europe": SPOKE_KEY_EU}}}),
                "222233334444.kms_key_arn.Europe",
                "not a region name",
            ),
            (
                json!({SPOKE: {"tags": tags("x"), "kms_key_arn": ["a"]}}),
                "222233334444.kms_key_arn",
                "region to key ARN",
            ),
        ];
        for (document, place, fragment) in cases {
            let error = parse(document.clone()).expect_err(&document.to_string());
            assert_eq!(error.place, place, "{document}: {error}");
            assert!(
                error.to_string().contains(fragment),
                "{error} lacks {fragment:?}"
            );
        }
        let error = AccountSettings::parse(Some("{"), &config(), None).unwrap_err();
        assert!(error.to_string().contains("not JSON"), "{error}");
    }

    #[test]
    fn a_default_key_may_live_in_any_account() {
        let settings = parse(json!({
            "default": {"tags": tags("prod"),
                        "kms_key_arn": {"eu-west-1": "arn:aws:kms:eu-west-1:999999999999:key/shared"}}
        }))
        .unwrap();
        assert_eq!(
            settings
                .resolve(SPOKE, "eu-west-1", Some(HUB))
                .unwrap()
                .kms_key_arn,
            "arn:aws:kms:eu-west-1:999999999999:key/shared"
        );
    }
}
