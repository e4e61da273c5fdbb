//! The preflight's settings: the same environment variables as the functions
//! (`REQUIRED_ROLE_PREFIX`, `REQUIRED_TAGS`, `KMS_KEY_ARN`) plus `PERMISSIONS_BOUNDARY_ARN`.
//! `corebound check` flags of the same meaning override them.
//!
//! Unset means "not configured": the prefix and the exact boundary ARN are then not
//! checked (a role must still carry *a* boundary), any customer-managed key is accepted.
//! The five mandatory tags are always required; `REQUIRED_TAGS` adds keys to them. It is
//! either the functions' JSON object (`{"Project": "x", ...}`: its keys) or a comma list.

use crate::remediation::MANDATORY_TAG_KEYS;

/// A setting whose value cannot be used; names the variable, the value and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is {value:?}; expected {expected}")]
pub struct SettingsError {
    pub variable: String,
    pub value: String,
    pub expected: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightSettings {
    /// `REQUIRED_ROLE_PREFIX`: every role name must start with it.
    pub required_role_prefix: Option<String>,
    /// The tag keys every taggable resource needs (the five mandatory ones included).
    pub required_tags: Vec<String>,
    /// `KMS_KEY_ARN`: the project CMK.
    pub kms_key_arn: Option<String>,
    /// `PERMISSIONS_BOUNDARY_ARN`: the managed policy every role carries as boundary.
    pub permissions_boundary_arn: Option<String>,
}

impl Default for PreflightSettings {
    fn default() -> Self {
        Self {
            required_role_prefix: None,
            required_tags: MANDATORY_TAG_KEYS
                .iter()
                .map(|key| key.to_string())
                .collect(),
            kms_key_arn: None,
            permissions_boundary_arn: None,
        }
    }
}

impl PreflightSettings {
    /// Read the four variables through `lookup` (`std::env::var(..).ok()`, or a test map).
    /// An empty value counts as unset (CloudFormation passes `""` for blank parameters).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let mut settings = Self::default();
        settings.set_role_prefix(get("REQUIRED_ROLE_PREFIX"))?;
        settings.set_required_tags(get("REQUIRED_TAGS"))?;
        settings.set_kms_key_arn(get("KMS_KEY_ARN"))?;
        settings.set_permissions_boundary_arn(get("PERMISSIONS_BOUNDARY_ARN"))?;
        Ok(settings)
    }

    pub fn set_role_prefix(&mut self, value: Option<String>) -> Result<(), SettingsError> {
        if let Some(prefix) = &value {
            let valid = prefix.len() <= 64
                && prefix
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"+=,.@_-".contains(&byte));
            if !valid {
                return Err(error(
                    "REQUIRED_ROLE_PREFIX",
                    prefix,
                    "the start of an IAM role name: up to 64 letters, digits or +=,.@_- (e.g. LPMA_)",
                ));
            }
        }
        self.required_role_prefix = value;
        Ok(())
    }

    pub fn set_required_tags(&mut self, value: Option<String>) -> Result<(), SettingsError> {
        let mut keys: Vec<String> = MANDATORY_TAG_KEYS
            .iter()
            .map(|key| key.to_string())
            .collect();
        if let Some(text) = &value {
            let extra: Vec<String> = if text.trim_start().starts_with('{') {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text).map_err(|parse| {
                        error(
                            "REQUIRED_TAGS",
                            text,
                            &format!("a JSON object of tag key to value, or a comma-separated list of tag keys ({parse})"),
                        )
                    })?;
                object.keys().cloned().collect()
            } else {
                text.split(',')
                    .map(|key| key.trim().to_string())
                    .filter(|key| !key.is_empty())
                    .collect()
            };
            if let Some(bad) = extra
                .iter()
                .find(|key| key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:"))
            {
                return Err(error(
                    "REQUIRED_TAGS",
                    text,
                    &format!("tag keys of at most 128 characters, not starting with aws: (offending: {bad})"),
                ));
            }
            for key in extra {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        self.required_tags = keys;
        Ok(())
    }

    pub fn set_kms_key_arn(&mut self, value: Option<String>) -> Result<(), SettingsError> {
        if let Some(arn) = &value {
            let valid = arn.split(':').count() == 6
                && arn.starts_with("arn:")
                && arn.split(':').nth(2) == Some("kms")
                && arn.contains(":key/");
            if !valid {
                return Err(error(
                    "KMS_KEY_ARN",
                    arn,
                    "a KMS key ARN arn:<partition>:kms:<region>:<account>:key/<key id> (not an alias)",
                ));
            }
        }
        self.kms_key_arn = value;
        Ok(())
    }

    pub fn set_permissions_boundary_arn(
        &mut self,
        value: Option<String>,
    ) -> Result<(), SettingsError> {
        if let Some(arn) = &value {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let valid = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && parts[5].starts_with("policy/")
                && parts[5].len() > "policy/".len();
            if !valid {
                return Err(error(
                    "PERMISSIONS_BOUNDARY_ARN",
                    arn,
                    "a managed policy ARN arn:<partition>:iam::<account>:policy/<name>",
                ));
            }
        }
        self.permissions_boundary_arn = value;
        Ok(())
    }
}

fn error(variable: &str, value: &str, expected: &str) -> SettingsError {
    SettingsError {
        variable: variable.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<PreflightSettings, SettingsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PreflightSettings::from_env(|name| {
            vars.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    }

    #[test]
    fn unset_means_not_configured_and_the_five_tags_stay_required() {
        let settings = from(&[("REQUIRED_ROLE_PREFIX", " ")]).unwrap();
        assert_eq!(settings, PreflightSettings::default());
        assert_eq!(settings.required_tags.len(), 5);
    }

    #[test]
    fn reads_every_variable() {
        let settings = from(&[
            ("REQUIRED_ROLE_PREFIX", "LPMA_"),
            ("REQUIRED_TAGS", r#"{"Project": "p", "CostCenter": "42"}"#),
            (
                "KMS_KEY_ARN",
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab",
            ),
            (
                "PERMISSIONS_BOUNDARY_ARN",
                "arn:aws:iam::123456789012:policy/BoundaryForLPMA",
            ),
        ])
        .unwrap();
        assert_eq!(settings.required_role_prefix.as_deref(), Some("LPMA_"));
        assert_eq!(settings.required_tags.len(), 6);
        assert_eq!(settings.required_tags[5], "CostCenter");
        assert!(from(&[("REQUIRED_TAGS", "Owner, Project")])
            .unwrap()
            .required_tags
            .contains(&"Owner".to_string()));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (variable, value) in [
            ("REQUIRED_ROLE_PREFIX", "LPMA*"),
            ("REQUIRED_TAGS", "{not json"),
            ("REQUIRED_TAGS", "aws:cloudformation:x"),
            ("KMS_KEY_ARN", "alias/project"),
            (
                "PERMISSIONS_BOUNDARY_ARN",
                "arn:aws:iam::123456789012:role/x",
            ),
        ] {
            let error = from(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().starts_with(variable), "{error}");
        }
    }
}
