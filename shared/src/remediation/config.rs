//! The remediator's configuration, read once at start from the environment.
//!
//! Invalid configuration must stop the function before it touches anything, so every
//! check happens here and every error names the variable, the value received and what
//! was expected. An empty string counts as unset for the optional variables, because
//! CloudFormation passes `""` for optional parameters left blank.

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use super::project_key::KeyStatus;

/// The five tags the security scanner requires on every resource.
pub const MANDATORY_TAG_KEYS: [&str; 5] = [
    "ApplicationId",
    "Environment",
    "Project",
    "ServiceLine",
    "ManagedBy",
];

/// Tag key that opts a resource out of remediation when `OPT_OUT_TAG` is unset.
pub const DEFAULT_OPT_OUT_TAG: &str = "corebound:remediation";

/// Whether decisions are carried out or only logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Write the fixes (the default).
    #[default]
    Enforce,
    /// Decide and log `would …`, write nothing: for a first rollout.
    Report,
}

/// A configuration variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {variable}: received {received}; expected {expected}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// The value received, quoted, or `<unset>`.
    pub received: String,
    /// What a valid value looks like.
    pub expected: String,
}

/// Validated remediator configuration (see issue 5 for the variable meanings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemediationConfig {
    /// `REQUIRED_TAGS`: tag key → value applied when the key is missing. Holds at least
    /// the [`MANDATORY_TAG_KEYS`], all with non-empty values; extra keys are applied too.
    pub required_tags: BTreeMap<String, String>,
    /// `KMS_KEY_ARN`: the project CMK, always a key ARN (never an alias) because Logs
    /// `AssociateKmsKey` and the key comparisons need the ARN.
    pub kms_key_arn: String,
    /// `MODE`: `enforce` (default) or `report`, case-insensitive.
    pub mode: Mode,
    /// `SCOPE_PATTERNS`: name globs (`*`, `?`; case-sensitive) of resources this project owns.
    pub scope_patterns: Vec<String>,
    /// `ALERT_TOPIC_ARN`: SNS topic for findings that need a person.
    pub alert_topic_arn: Option<String>,
    /// `REQUIRED_ROLE_PREFIX`: role-name prefix the permissions boundary requires.
    pub required_role_prefix: Option<String>,
    /// `SELF_ROLE_ARN`: the remediator's own role (or a session of it), for the loop guard.
    pub self_role_arn: Option<String>,
    /// `OPT_OUT_TAG`: a resource carrying this key with value `off` is never modified.
    pub opt_out_tag: String,
    /// `SPOKE_ROLE_NAME` (organization mode): the remediation role the hub assumes in each
    /// spoke account; its sessions' writes are the hub's own (loop guard).
    pub spoke_role_name: Option<String>,
    /// `SPOKE_EXTERNAL_ID`: the ExternalId of every AssumeRole into a spoke; required with
    /// `SPOKE_ROLE_NAME`. Never serialised (it is a shared secret of the trust policies).
    #[serde(skip)]
    pub spoke_external_id: Option<String>,
    /// The project key as checked at start (`DescribeKey`, `ListAliases`); until then,
    /// no alias and no problem known.
    pub key_status: KeyStatus,
}

impl RemediationConfig {
    /// Reads and validates the configuration through `lookup` (normally `std::env::var(..).ok()`),
    /// so tests need not touch the process environment.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let required_tags = parse_required_tags(lookup("REQUIRED_TAGS"))?;
        let kms_key_arn = parse_kms_key_arn(lookup("KMS_KEY_ARN"))?;
        let mode = parse_mode(get("MODE"))?;
        let scope_patterns = parse_scope_patterns(lookup("SCOPE_PATTERNS"))?;
        let alert_topic_arn = get("ALERT_TOPIC_ARN")
            .map(|value| check_sns_topic_arn(value.trim()))
            .transpose()?;
        let required_role_prefix = get("REQUIRED_ROLE_PREFIX")
            .map(|value| check_role_prefix(value.trim()))
            .transpose()?;
        let self_role_arn = get("SELF_ROLE_ARN")
            .map(|value| check_self_role_arn(value.trim()))
            .transpose()?;
        let opt_out_tag = get("OPT_OUT_TAG")
            .map(|value| check_opt_out_tag(value.trim()))
            .transpose()?
            .unwrap_or_else(|| DEFAULT_OPT_OUT_TAG.to_string());
        let spoke_role_name = get("SPOKE_ROLE_NAME")
            .map(|value| check_spoke_role_name(value.trim()))
            .transpose()?;
        let spoke_external_id = get("SPOKE_EXTERNAL_ID")
            .map(|value| check_external_id(&value))
            .transpose()?;
        if spoke_role_name.is_some() && spoke_external_id.is_none() {
            return Err(error(
                "SPOKE_EXTERNAL_ID",
                None,
                "the ExternalId the spoke roles' trust requires (set with SPOKE_ROLE_NAME)",
            ));
        }

        Ok(Self {
            required_tags,
            kms_key_arn,
            mode,
            scope_patterns,
            alert_topic_arn,
            required_role_prefix,
            self_role_arn,
            opt_out_tag,
            spoke_role_name,
            spoke_external_id,
            key_status: KeyStatus::default(),
        })
    }
}

fn error(
    variable: &'static str,
    received: Option<&str>,
    expected: impl Into<String>,
) -> ConfigError {
    ConfigError {
        variable,
        received: received.map_or_else(|| "<unset>".to_string(), |value| format!("{value:?}")),
        expected: expected.into(),
    }
}

fn parse_required_tags(raw: Option<String>) -> Result<BTreeMap<String, String>, ConfigError> {
    const SHAPE: &str = "a JSON object of tag key to non-empty string value, \
        including ApplicationId, Environment, Project, ServiceLine and ManagedBy";
    let fail = |expected: String| error("REQUIRED_TAGS", raw.as_deref(), expected);
    let Some(text) = raw.as_deref() else {
        return Err(fail(SHAPE.to_string()));
    };
    let tags: BTreeMap<String, String> = serde_json::from_str(text)
        .map_err(|parse| fail(format!("{SHAPE} (not such an object: {parse})")))?;
    let reserved: Vec<&str> = tags
        .keys()
        .filter(|key| key.trim().is_empty() || key.to_ascii_lowercase().starts_with("aws:"))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(fail(format!(
            "{SHAPE}; keys must be non-empty and must not start with the reserved prefix aws: \
             (offending: {reserved:?})"
        )));
    }
    let absent: Vec<&str> = MANDATORY_TAG_KEYS
        .into_iter()
        .filter(|key| tags.get(*key).is_none_or(|value| value.trim().is_empty()))
        .collect();
    if !absent.is_empty() {
        return Err(fail(format!(
            "{SHAPE} (missing or empty: {})",
            absent.join(", ")
        )));
    }
    let empty: Vec<&str> = tags
        .iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(key, _)| key.as_str())
        .collect();
    if !empty.is_empty() {
        return Err(fail(format!(
            "{SHAPE} (empty values for: {})",
            empty.join(", ")
        )));
    }
    // AWS limits: keys 128 characters, values 256; longer ones would fail every tag call.
    let too_long: Vec<&str> = tags
        .iter()
        .filter(|(key, value)| key.chars().count() > 128 || value.chars().count() > 256)
        .map(|(key, _)| key.as_str())
        .collect();
    if !too_long.is_empty() {
        return Err(fail(format!(
            "{SHAPE}; keys of at most 128 and values of at most 256 characters (too long: {})",
            too_long.join(", ")
        )));
    }
    Ok(tags)
}

/// Splits `arn:partition:service:region:account:resource` into its six parts.
pub(super) fn arn_parts(arn: &str) -> Option<[&str; 6]> {
    let mut parts = arn.splitn(6, ':');
    let mut out = [""; 6];
    for slot in &mut out {
        *slot = parts.next()?;
    }
    let [prefix, partition, ..] = out;
    (prefix == "arn" && (partition == "aws" || partition.starts_with("aws-"))).then_some(out)
}

fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|byte| byte.is_ascii_digit())
}

fn parse_kms_key_arn(raw: Option<String>) -> Result<String, ConfigError> {
    let expected = "a KMS key ARN arn:<partition>:kms:<region>:<12-digit account>:key/<key id> \
        (not an alias)";
    let valid = raw.as_deref().map(str::trim).filter(|arn| {
        arn_parts(arn).is_some_and(|[_, _, service, region, account, resource]| {
            service == "kms"
                && !region.is_empty()
                && is_account_id(account)
                && resource.strip_prefix("key/").is_some_and(|id| {
                    !id.is_empty()
                        && id
                            .bytes()
                            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                })
        })
    });
    valid
        .map(str::to_string)
        .ok_or_else(|| error("KMS_KEY_ARN", raw.as_deref(), expected))
}

fn parse_mode(raw: Option<String>) -> Result<Mode, ConfigError> {
    match raw.as_deref().map(|mode| mode.trim().to_ascii_lowercase()) {
        None => Ok(Mode::Enforce),
        Some(mode) if mode == "enforce" => Ok(Mode::Enforce),
        Some(mode) if mode == "report" => Ok(Mode::Report),
        Some(_) => Err(error(
            "MODE",
            raw.as_deref(),
            "enforce or report (unset means enforce)",
        )),
    }
}

fn parse_scope_patterns(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    crate::scope::parse_patterns(raw.as_deref().unwrap_or_default())
        .map_err(|expected| error("SCOPE_PATTERNS", raw.as_deref(), expected))
}

fn check_sns_topic_arn(arn: &str) -> Result<String, ConfigError> {
    let valid = arn_parts(arn).is_some_and(|[_, _, service, region, account, name]| {
        service == "sns" && !region.is_empty() && is_account_id(account) && is_topic_name(name)
    });
    if valid {
        Ok(arn.to_string())
    } else {
        Err(error(
            "ALERT_TOPIC_ARN",
            Some(arn),
            "an SNS topic ARN arn:<partition>:sns:<region>:<12-digit account>:<topic name>, \
             or unset",
        ))
    }
}

fn is_topic_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && base
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn check_role_prefix(prefix: &str) -> Result<String, ConfigError> {
    let valid = prefix.len() <= 64
        && prefix
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"+=,.@_-".contains(&byte));
    if valid {
        Ok(prefix.to_string())
    } else {
        Err(error(
            "REQUIRED_ROLE_PREFIX",
            Some(prefix),
            "a role-name prefix of letters, digits and +=,.@_- (e.g. LPMA_), or unset",
        ))
    }
}

fn check_self_role_arn(arn: &str) -> Result<String, ConfigError> {
    let valid = arn_parts(arn).is_some_and(|[_, _, service, region, account, resource]| {
        region.is_empty()
            && is_account_id(account)
            && match service {
                "iam" => resource.strip_prefix("role/").is_some_and(|path_and_name| {
                    !path_and_name
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .is_empty()
                }),
                "sts" => resource
                    .strip_prefix("assumed-role/")
                    .and_then(|rest| rest.split_once('/'))
                    .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty()),
                _ => false,
            }
    });
    if valid {
        Ok(arn.to_string())
    } else {
        Err(error(
            "SELF_ROLE_ARN",
            Some(arn),
            "an IAM role ARN arn:<partition>:iam::<account>:role/<name> or an assumed-role ARN \
             arn:<partition>:sts::<account>:assumed-role/<name>/<session>, or unset",
        ))
    }
}

/// An IAM role name (1..=64 of letters, digits and `+=,.@_-`), without a path: the spoke
/// role's ARN is built as `arn:<partition>:iam::<account>:role/<name>`.
fn check_spoke_role_name(name: &str) -> Result<String, ConfigError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"+=,.@_-".contains(&byte));
    if valid {
        Ok(name.to_string())
    } else {
        Err(error(
            "SPOKE_ROLE_NAME",
            Some(name),
            "an IAM role name of 1 to 64 letters, digits and +=,.@_- (no path), or unset",
        ))
    }
}

/// STS's ExternalId: 2..=1224 characters of letters, digits and `+=,.@:/-` and `_`. Its value
/// is never echoed in the error.
fn check_external_id(value: &str) -> Result<String, ConfigError> {
    let valid = (2..=1224).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&byte));
    if valid {
        Ok(value.to_string())
    } else {
        Err(ConfigError {
            variable: "SPOKE_EXTERNAL_ID",
            received: format!("a value of {} characters (not shown)", value.len()),
            expected: "2 to 1224 letters, digits and +=,.@:/_- (STS ExternalId)".to_string(),
        })
    }
}

fn check_opt_out_tag(key: &str) -> Result<String, ConfigError> {
    if key.len() <= 128 && !key.to_ascii_lowercase().starts_with("aws:") {
        Ok(key.to_string())
    } else {
        Err(error(
            "OPT_OUT_TAG",
            Some(key),
            "a tag key of at most 128 characters not starting with aws:, or unset \
             (default corebound:remediation)",
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const TAGS: &str = r#"{"ApplicationId":"APP-0042","Environment":"preprod","Project":"corebound-demo","ServiceLine":"platform","ManagedBy":"platform-ci"}"#;
    pub(crate) const CMK: &str =
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    pub(crate) const SELF_ROLE: &str =
        "arn:aws:iam::123456789012:role/service-role/LPMA_Demo_Remediator";

    fn base(name: &str) -> Option<String> {
        match name {
            "REQUIRED_TAGS" => Some(TAGS.to_string()),
            "KMS_KEY_ARN" => Some(CMK.to_string()),
            "SCOPE_PATTERNS" => Some("corebound-demo-*, corebound_demo_*,LPMA_Demo_*".to_string()),
            "REQUIRED_ROLE_PREFIX" => Some("LPMA_".to_string()),
            "SELF_ROLE_ARN" => Some(SELF_ROLE.to_string()),
            _ => None,
        }
    }

    /// The configuration the rule and plan tests share.
    pub(crate) fn sample() -> RemediationConfig {
        RemediationConfig::from_env(base).expect("sample configuration is valid")
    }

    fn with(overrides: &[(&str, Option<&str>)]) -> Result<RemediationConfig, ConfigError> {
        RemediationConfig::from_env(
            |name| match overrides.iter().find(|(key, _)| *key == name) {
                Some((_, value)) => value.map(str::to_string),
                None => base(name),
            },
        )
    }

    #[test]
    fn parses_a_full_configuration_with_defaults() {
        let config = sample();
        assert_eq!(config.required_tags.len(), 5);
        assert_eq!(config.required_tags["Environment"], "preprod");
        assert_eq!(config.kms_key_arn, CMK);
        assert_eq!(config.mode, Mode::Enforce);
        assert_eq!(
            config.scope_patterns,
            ["corebound-demo-*", "corebound_demo_*", "LPMA_Demo_*"]
        );
        assert_eq!(config.alert_topic_arn, None);
        assert_eq!(config.required_role_prefix.as_deref(), Some("LPMA_"));
        assert_eq!(config.self_role_arn.as_deref(), Some(SELF_ROLE));
        assert_eq!(config.opt_out_tag, DEFAULT_OPT_OUT_TAG);
    }

    #[test]
    fn accepts_valid_optional_values() {
        let cases: &[(&str, &str)] = &[
            ("MODE", "Report"),
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:corebound-demo-alerts",
            ),
            (
                "ALERT_TOPIC_ARN",
                "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alerts.fifo",
            ),
            (
                "SELF_ROLE_ARN",
                "arn:aws:sts::123456789012:assumed-role/LPMA_Demo_Remediator/fn",
            ),
            (
                "SELF_ROLE_ARN",
                "arn:aws:iam::123456789012:role/LPMA_Demo_Remediator",
            ),
            ("OPT_OUT_TAG", "myapp:remediation"),
            (
                "KMS_KEY_ARN",
                "arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            ),
        ];
        for (variable, value) in cases {
            let config = with(&[(variable, Some(value))])
                .unwrap_or_else(|err| panic!("{variable}={value}: {err}"));
            match *variable {
                "MODE" => assert_eq!(config.mode, Mode::Report),
                "ALERT_TOPIC_ARN" => assert_eq!(config.alert_topic_arn.as_deref(), Some(*value)),
                "SELF_ROLE_ARN" => assert_eq!(config.self_role_arn.as_deref(), Some(*value)),
                "OPT_OUT_TAG" => assert_eq!(config.opt_out_tag, *value),
                _ => assert_eq!(config.kms_key_arn, *value),
            }
        }
    }

    #[test]
    fn empty_optional_values_mean_unset() {
        let config = with(&[
            ("MODE", Some("")),
            ("ALERT_TOPIC_ARN", Some(" ")),
            ("REQUIRED_ROLE_PREFIX", Some("")),
            ("SELF_ROLE_ARN", Some("")),
            ("OPT_OUT_TAG", Some("")),
        ])
        .unwrap();
        assert_eq!(config.mode, Mode::Enforce);
        assert_eq!(config.alert_topic_arn, None);
        assert_eq!(config.required_role_prefix, None);
        assert_eq!(config.self_role_arn, None);
        assert_eq!(config.opt_out_tag, DEFAULT_OPT_OUT_TAG);
    }

    #[test]
    fn a_spoke_role_needs_its_external_id() {
        let error = with(&[("SPOKE_ROLE_NAME", Some("LPMA_Corebound_Remediation"))]).unwrap_err();
        assert_eq!(error.variable, "SPOKE_EXTERNAL_ID");
        let config = with(&[
            ("SPOKE_ROLE_NAME", Some("LPMA_Corebound_Remediation")),
            ("SPOKE_EXTERNAL_ID", Some("corebound-4f1c")),
        ])
        .unwrap();
        assert_eq!(
            config.spoke_role_name.as_deref(),
            Some("LPMA_Corebound_Remediation")
        );
        let shown = serde_json::to_string(&config).unwrap();
        assert!(!shown.contains("corebound-4f1c"), "{shown}");
    }

    #[test]
    fn extra_required_tags_are_kept() {
        let tags = TAGS.replace('}', r#","CostCenter":"CC-1"}"#);
        let config = with(&[("REQUIRED_TAGS", Some(&tags))]).unwrap();
        assert_eq!(config.required_tags["CostCenter"], "CC-1");
    }

    #[test]
    fn invalid_values_name_the_variable_the_value_and_the_expectation() {
        let no_project = TAGS.replace(r#""Project":"corebound-demo","#, "");
        let empty_env = TAGS.replace("preprod", " ");
        let aws_key = TAGS.replace('}', r#","aws:cloudformation:stack-name":"x"}"#);
        let empty_extra = TAGS.replace('}', r#","CostCenter":""}"#);
        let long_value = TAGS.replace("preprod", &"p".repeat(257));
        // (variable, value, expected fragments of the message)
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            ("REQUIRED_TAGS", None, &["<unset>", "JSON object"]),
            (
                "REQUIRED_TAGS",
                Some("[1,2]"),
                &["\"[1,2]\"", "not such an object"],
            ),
            (
                "REQUIRED_TAGS",
                Some(r#"{"Project":7}"#),
                &["not such an object"],
            ),
            (
                "REQUIRED_TAGS",
                Some(&no_project),
                &["missing or empty: Project"],
            ),
            (
                "REQUIRED_TAGS",
                Some(&empty_env),
                &["missing or empty: Environment"],
            ),
            ("REQUIRED_TAGS", Some(&aws_key), &["reserved prefix aws:"]),
            (
                "REQUIRED_TAGS",
                Some(&empty_extra),
                &["empty values for: CostCenter"],
            ),
            (
                "REQUIRED_TAGS",
                Some(&long_value),
                &["too long: Environment"],
            ),
            ("KMS_KEY_ARN", None, &["<unset>", "KMS key ARN"]),
            (
                "KMS_KEY_ARN",
                Some("alias/corebound-demo"),
                &["\"alias/corebound-demo\"", "not an alias"],
            ),
            (
                "KMS_KEY_ARN",
                Some("arn:aws:kms:us-east-1:123456789012:alias/corebound"),
                &["KMS key ARN"],
            ),
            (
                "KMS_KEY_ARN",
                Some("arn:aws:kms:us-east-1:1234:key/abc"),
                &["12-digit account"],
            ),
            (
                "KMS_KEY_ARN",
                Some("arn:aws:sns:us-east-1:123456789012:key/abc"),
                &["KMS key ARN"],
            ),
            (
                "KMS_KEY_ARN",
                Some("1234abcd-12ab-34cd-56ef-1234567890ab"),
                &["KMS key ARN"],
            ),
            (
                "MODE",
                Some("dry-run"),
                &["\"dry-run\"", "enforce or report"],
            ),
            ("SCOPE_PATTERNS", None, &["<unset>", "at least one"]),
            ("SCOPE_PATTERNS", Some(""), &["\"\"", "at least one"]),
            (
                "SCOPE_PATTERNS",
                Some(" , ,"),
                &["\" , ,\"", "at least one"],
            ),
            ("SCOPE_PATTERNS", Some("myapp-*,*"), &["only of wildcards"]),
            (
                "ALERT_TOPIC_ARN",
                Some("arn:aws:sqs:us-east-1:123456789012:q"),
                &["SNS topic ARN"],
            ),
            (
                "REQUIRED_ROLE_PREFIX",
                Some("LPMA/"),
                &["\"LPMA/\"", "role-name prefix"],
            ),
            (
                "SELF_ROLE_ARN",
                Some("arn:aws:iam::123456789012:user/ci"),
                &["IAM role ARN"],
            ),
            (
                "SELF_ROLE_ARN",
                Some("arn:aws:sts::123456789012:assumed-role/x"),
                &["assumed-role ARN"],
            ),
            (
                "SELF_ROLE_ARN",
                Some("LPMA_Demo_Remediator"),
                &["IAM role ARN"],
            ),
            (
                "OPT_OUT_TAG",
                Some("aws:remediation"),
                &["\"aws:remediation\"", "aws:"],
            ),
            (
                "SPOKE_ROLE_NAME",
                Some("path/LPMA_Remediation"),
                &["\"path/LPMA_Remediation\"", "no path"],
            ),
            (
                "SPOKE_EXTERNAL_ID",
                Some("secret value!"),
                &["13 characters (not shown)", "ExternalId"],
            ),
        ];
        for (variable, value, fragments) in cases {
            let err = with(&[(variable, *value)]).expect_err(&format!("{variable}={value:?}"));
            assert_eq!(err.variable, *variable);
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("invalid {variable}: received ")),
                "{message}"
            );
            for fragment in *fragments {
                assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
            }
        }
    }
}
