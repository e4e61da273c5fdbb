//! What `corebound doctor` checks against: the same variables the functions read
//! (`REQUIRED_ROLE_PREFIX`, `PERMISSIONS_BOUNDARY_ARN`, `KMS_KEY_ARN`, `SCOPE_PATTERNS`), plus
//! `APP_NAME` for the probe names. The command line resolves flags over the environment and
//! hands the result here by variable name, so a bad value is reported under the variable's
//! name whichever way it came.

use crate::doctor::key_statements::KeyService;
use crate::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorSettings {
    /// `REQUIRED_ROLE_PREFIX`: role names the boundary lets the team create start with it.
    pub role_prefix: String,
    /// `PERMISSIONS_BOUNDARY_ARN`: the boundary every created role must carry; supplied to the
    /// simulator as `iam:PermissionsBoundary`. `None`: the key is left out of the context.
    pub boundary_arn: Option<String>,
    /// `KMS_KEY_ARN`: the project CMK whose key policy pattern 4 reads.
    pub kms_key_arn: Option<String>,
    /// `SCOPE_PATTERNS`: name globs of the project's resources (probe names, key-policy scope).
    pub scope_patterns: Option<Vec<String>>,
    /// `APP_NAME`: the `<App>` of `<Prefix><App>_<Purpose>` (default `App`).
    pub app: String,
    /// The services whose use of the key pattern 4 checks.
    pub services: Vec<KeyService>,
}

const DEFAULT_APP: &str = "App";

impl DoctorSettings {
    /// `lookup(variable)` is the flag or environment value of each variable; `services` the
    /// comma-separated list of `--services` (`None`: every service pattern 4 knows).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        services: Option<&str>,
    ) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let prefix_raw = lookup("REQUIRED_ROLE_PREFIX").unwrap_or_default();
        let role_prefix = prefix_raw.trim().to_string();
        let prefix_ok = !role_prefix.is_empty()
            && role_prefix.len() <= 32
            && role_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !prefix_ok {
            return Err(Error::setting(
                "REQUIRED_ROLE_PREFIX",
                &prefix_raw,
                "the role-name prefix the boundary requires (1-32 letters, digits or +=,.@_-), e.g. LPMA_",
            ));
        }
        let boundary_arn = match get("PERMISSIONS_BOUNDARY_ARN") {
            None => None,
            Some(raw) => Some(check_arn(
                "PERMISSIONS_BOUNDARY_ARN",
                raw.trim(),
                "iam",
                "policy/",
                "an IAM managed policy ARN, arn:<partition>:iam::<account>:policy/<name>",
            )?),
        };
        let kms_key_arn = match get("KMS_KEY_ARN") {
            None => None,
            Some(raw) => Some(check_arn(
                "KMS_KEY_ARN",
                raw.trim(),
                "kms",
                "key/",
                "a KMS key ARN, arn:<partition>:kms:<region>:<account>:key/<key-id> (not an alias)",
            )?),
        };
        let scope_patterns = match get("SCOPE_PATTERNS") {
            None => None,
            Some(raw) => Some(
                crate::scope::parse_patterns(&raw)
                    .map_err(|expected| Error::setting("SCOPE_PATTERNS", &raw, expected))?,
            ),
        };
        let app = match get("APP_NAME") {
            None => DEFAULT_APP.to_string(),
            Some(raw) => {
                let app = raw.trim().to_string();
                let valid = app.len() <= 32
                    && app.starts_with(|c: char| c.is_ascii_alphabetic())
                    && app.chars().all(|c| c.is_ascii_alphanumeric());
                if !valid {
                    return Err(Error::setting(
                        "APP_NAME",
                        &raw,
                        "the <App> of the naming convention: 1-32 letters and digits, starting with a letter",
                    ));
                }
                app
            }
        };
        let services = match services.map(str::trim) {
            None | Some("") => KeyService::ALL.to_vec(),
            Some(list) => {
                let mut parsed = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let service = KeyService::parse(name).ok_or_else(|| {
                        Error::setting("--services", list, KeyService::expected())
                    })?;
                    if !parsed.contains(&service) {
                        parsed.push(service);
                    }
                }
                parsed
            }
        };
        Ok(DoctorSettings {
            role_prefix,
            boundary_arn,
            kms_key_arn,
            scope_patterns,
            app,
            services,
        })
    }

    /// The boundary policy's name (the last part of its ARN), for messages.
    pub fn boundary_name(&self) -> Option<&str> {
        self.boundary_arn
            .as_deref()
            .map(|arn| arn.rsplit('/').next().unwrap_or(arn))
    }
}

/// `arn:<partition>:<service>:<region?>:<account>:<kind>...`, without wildcards.
fn check_arn(
    variable: &str,
    value: &str,
    service: &str,
    kind: &str,
    expected: &str,
) -> Result<String, Error> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let valid = match parts.as_slice() {
        ["arn", partition, s, region, account, resource] => {
            !partition.is_empty()
                && *s == service
                && (service != "kms" || !region.is_empty())
                && (service != "iam" || region.is_empty())
                && (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
                    || (service == "iam" && *account == "aws"))
                && resource.len() > kind.len()
                && resource.starts_with(kind)
                && !value.contains(['*', '?'])
        }
        _ => false,
    };
    if valid {
        Ok(value.to_string())
    } else {
        Err(Error::setting(variable, value, expected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/BoundaryForLPMA";
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn settings(vars: &[(&str, &str)], services: Option<&str>) -> Result<DoctorSettings, Error> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DoctorSettings::from_lookup(
            |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            services,
        )
    }

    #[test]
    fn reads_every_variable() {
        let s = settings(
            &[
                ("REQUIRED_ROLE_PREFIX", "LPMA_"),
                ("PERMISSIONS_BOUNDARY_ARN", BOUNDARY),
                ("KMS_KEY_ARN", KEY),
                ("SCOPE_PATTERNS", "demo-*, LPMA_Demo_*"),
                ("APP_NAME", "Demo"),
            ],
            Some("sns, logs,sns"),
        )
        .unwrap();
        assert_eq!(s.role_prefix, "LPMA_");
        assert_eq!(s.boundary_arn.as_deref(), Some(BOUNDARY));
        assert_eq!(s.boundary_name(), Some("BoundaryForLPMA"));
        assert_eq!(s.kms_key_arn.as_deref(), Some(KEY));
        assert_eq!(
            s.scope_patterns,
            Some(vec!["demo-*".to_string(), "LPMA_Demo_*".to_string()])
        );
        assert_eq!(s.app, "Demo");
        assert_eq!(s.services, vec![KeyService::Sns, KeyService::Logs]);
    }

    #[test]
    fn only_the_prefix_is_required() {
        let s = settings(
            &[("REQUIRED_ROLE_PREFIX", "LPMA_"), ("KMS_KEY_ARN", " ")],
            None,
        )
        .unwrap();
        assert_eq!(s.boundary_arn, None);
        assert_eq!(s.kms_key_arn, None);
        assert_eq!(s.scope_patterns, None);
        assert_eq!(s.app, "App");
        assert_eq!(s.services, KeyService::ALL.to_vec());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let base = ("REQUIRED_ROLE_PREFIX", "LPMA_");
        // (variables, --services, expected in the error)
        type Case<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>, &'a str);
        let cases: Vec<Case> = vec![
            (vec![], None, "REQUIRED_ROLE_PREFIX is \"\""),
            (
                vec![("REQUIRED_ROLE_PREFIX", "LP*")],
                None,
                "REQUIRED_ROLE_PREFIX",
            ),
            (
                vec![base, ("PERMISSIONS_BOUNDARY_ARN", "BoundaryForLPMA")],
                None,
                "PERMISSIONS_BOUNDARY_ARN",
            ),
            (
                vec![
                    base,
                    (
                        "PERMISSIONS_BOUNDARY_ARN",
                        "arn:aws:iam::123456789012:role/x",
                    ),
                ],
                None,
                "PERMISSIONS_BOUNDARY_ARN",
            ),
            (
                vec![
                    base,
                    ("KMS_KEY_ARN", "arn:aws:kms:us-east-1:123456789012:alias/x"),
                ],
                None,
                "not an alias",
            ),
            (vec![base, ("SCOPE_PATTERNS", "*")], None, "SCOPE_PATTERNS"),
            (vec![base, ("APP_NAME", "my-app")], None, "APP_NAME"),
            (vec![base], Some("sns,ec2"), "--services"),
        ];
        for (vars, services, expected) in cases {
            let error = settings(&vars, services).unwrap_err().to_string();
            assert!(error.contains(expected), "{vars:?}: {error}");
        }
        assert!(settings(
            &[
                base,
                (
                    "PERMISSIONS_BOUNDARY_ARN",
                    "arn:aws:iam::aws:policy/PowerUserAccess"
                )
            ],
            None
        )
        .is_ok());
    }
}
