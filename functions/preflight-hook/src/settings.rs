//! The hook's settings: the preflight rules' variables (the same as `corebound check`:
//! `REQUIRED_ROLE_PREFIX`, `REQUIRED_TAGS`, `KMS_KEY_ARN`, `PERMISSIONS_BOUNDARY_ARN`), the
//! failure mode, and the hosts payload URLs may point to.

use corebound::custom_resource::ResponseUrlPolicy;

use crate::rules::RuleSettings;

/// `HookFailureMode` of the template, passed to the function as `HOOK_FAILURE_MODE`.
pub const FAILURE_MODE_VARIABLE: &str = "HOOK_FAILURE_MODE";
/// Extra hosts the presigned payload URL may name (local tests only, like
/// `RESPONSE_URL_ALLOWED_HOSTS` for custom resources); by default only https S3 hosts.
pub const PAYLOAD_HOSTS_VARIABLE: &str = "PAYLOAD_URL_ALLOWED_HOSTS";

/// What the hook answers when it could not check (a bad request, a setting, AWS, a bug).
///
/// This mirrors the hook's own `FailureMode`: with WARN, CloudFormation only warns on
/// FAILED anyway, and answering SUCCESS with the reason makes the warning say what
/// happened instead of looking like a finding. With FAIL the operation stops with
/// InternalFailure. Findings (NonCompliant) are answered FAILED in both modes: the mode
/// CloudFormation applies decides whether they stop the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureMode {
    Warn,
    Fail,
}

impl FailureMode {
    /// Unset or empty: WARN, the template's default. Anything else but WARN/FAIL is refused.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::trim).unwrap_or("") {
            "" | "WARN" => Ok(FailureMode::Warn),
            "FAIL" => Ok(FailureMode::Fail),
            other => Err(format!(
                "{FAILURE_MODE_VARIABLE} is {:?}: it must be WARN or FAIL (the template's HookFailureMode)",
                other.chars().take(32).collect::<String>()
            )),
        }
    }
}

/// Settings the hook checks with. Built once at start.
#[derive(Debug)]
pub struct HookSettings {
    pub rules: RuleSettings,
    pub payload_urls: ResponseUrlPolicy,
}

impl HookSettings {
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let rules = crate::rules::settings_from_env(&lookup)?;
        let hosts = lookup(PAYLOAD_HOSTS_VARIABLE).unwrap_or_default();
        let hosts = ResponseUrlPolicy::parse_extra_hosts(&hosts)
            .map_err(|valid| format!("{PAYLOAD_HOSTS_VARIABLE} is invalid: {valid}"))?;
        Ok(HookSettings {
            rules,
            payload_urls: ResponseUrlPolicy::with_extra_hosts(hosts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_mode_defaults_to_warn_and_refuses_others() {
        assert_eq!(FailureMode::parse(None), Ok(FailureMode::Warn));
        assert_eq!(FailureMode::parse(Some("")), Ok(FailureMode::Warn));
        assert_eq!(FailureMode::parse(Some("FAIL")), Ok(FailureMode::Fail));
        let error = FailureMode::parse(Some("fail")).unwrap_err();
        assert!(error.contains(FAILURE_MODE_VARIABLE) && error.contains("WARN or FAIL"));
    }
}
