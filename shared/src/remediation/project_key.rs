//! The project CMK as checked once at start (issue 17 items 8 and 9).
//!
//! SNS, SQS and S3 accept a key setting without using the key, so a wrong-region, disabled
//! or asymmetric key would be "applied" and then make every publish, send or put fail. The
//! remediator therefore describes `KMS_KEY_ARN` once per cold start (`kms:DescribeKey`) and
//! learns its aliases (`kms:ListAliases`), and [`check_key`] decides whether it may be
//! used. A key with a problem is never written anywhere: tags are still applied, every
//! planned switch becomes an exception, and one finding is alerted per cold start.

use std::fmt;

use serde::Serialize;

use super::config::arn_parts;

/// What `DescribeKey` says about the key (`KeyMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyDescription {
    pub arn: String,
    /// `KeyState`: `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub key_state: String,
    /// `KeySpec` (`SYMMETRIC_DEFAULT`, `RSA_2048`, ...).
    pub key_spec: String,
    /// `KeyUsage` (`ENCRYPT_DECRYPT`, `SIGN_VERIFY`, ...).
    pub key_usage: String,
}

/// Why the project key must not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum KeyProblem {
    /// A KMS key serves its own region only.
    WrongRegion {
        key_region: String,
        function_region: String,
    },
    NotEnabled {
        key_state: String,
    },
    NotSymmetric {
        key_spec: String,
    },
    WrongUsage {
        key_usage: String,
    },
    /// `DescribeKey` failed (missing key, no permission...): the key cannot be vouched for.
    NotDescribed {
        error: String,
    },
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongRegion {
                key_region,
                function_region,
            } => write!(
                f,
                "the key is in {key_region}, the function in {function_region} \
                 (a KMS key serves its own region only)"
            ),
            Self::NotEnabled { key_state } => {
                write!(f, "the key state is {key_state}, not Enabled")
            }
            Self::NotSymmetric { key_spec } => {
                write!(f, "the key spec is {key_spec}, not SYMMETRIC_DEFAULT")
            }
            Self::WrongUsage { key_usage } => {
                write!(f, "the key usage is {key_usage}, not ENCRYPT_DECRYPT")
            }
            Self::NotDescribed { error } => write!(f, "the key could not be described: {error}"),
        }
    }
}

/// The project key's standing for this cold start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct KeyStatus {
    /// The key's aliases (`alias/NAME`): a topic or queue naming the key by one of them
    /// uses the project key.
    pub aliases: Vec<String>,
    /// Empty when the key may be used.
    pub problems: Vec<KeyProblem>,
}

impl KeyStatus {
    pub fn usable(&self) -> bool {
        self.problems.is_empty()
    }

    /// One line for findings and logs.
    pub fn describe_problems(&self) -> String {
        self.problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The problems of the configured key `key_arn` for a function running in
/// `function_region`, given `DescribeKey`'s answer (or its error).
pub fn check_key(
    key_arn: &str,
    function_region: Option<&str>,
    description: Result<&KeyDescription, &str>,
) -> Vec<KeyProblem> {
    let mut problems = Vec::new();
    let key_region = arn_parts(key_arn).map(|[_, _, _, region, _, _]| region);
    if let (Some(key_region), Some(function_region)) = (key_region, function_region) {
        if key_region != function_region {
            problems.push(KeyProblem::WrongRegion {
                key_region: key_region.to_string(),
                function_region: function_region.to_string(),
            });
        }
    }
    match description {
        Err(error) => problems.push(KeyProblem::NotDescribed {
            error: error.to_string(),
        }),
        Ok(key) => {
            if key.key_state != "Enabled" {
                problems.push(KeyProblem::NotEnabled {
                    key_state: key.key_state.clone(),
                });
            }
            if key.key_spec != "SYMMETRIC_DEFAULT" {
                problems.push(KeyProblem::NotSymmetric {
                    key_spec: key.key_spec.clone(),
                });
            }
            if key.key_usage != "ENCRYPT_DECRYPT" {
                problems.push(KeyProblem::WrongUsage {
                    key_usage: key.key_usage.clone(),
                });
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMK: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn good() -> KeyDescription {
        KeyDescription {
            arn: CMK.to_string(),
            key_state: "Enabled".to_string(),
            key_spec: "SYMMETRIC_DEFAULT".to_string(),
            key_usage: "ENCRYPT_DECRYPT".to_string(),
        }
    }

    #[test]
    fn a_good_key_has_no_problem() {
        assert!(check_key(CMK, Some("us-east-1"), Ok(&good())).is_empty());
        assert!(
            check_key(CMK, None, Ok(&good())).is_empty(),
            "region unknown"
        );
    }

    #[test]
    fn each_problem_is_named() {
        let with = |change: fn(&mut KeyDescription)| {
            let mut key = good();
            change(&mut key);
            key
        };
        let cases: Vec<(KeyDescription, &str, &str)> = vec![
            (
                good(),
                "eu-west-1",
                "the key is in us-east-1, the function in eu-west-1",
            ),
            (
                with(|k| k.key_state = "Disabled".into()),
                "us-east-1",
                "the key state is Disabled, not Enabled",
            ),
            (
                with(|k| k.key_state = "PendingDeletion".into()),
                "us-east-1",
                "the key state is PendingDeletion, not Enabled",
            ),
            (
                with(|k| k.key_spec = "RSA_2048".into()),
                "us-east-1",
                "the key spec is RSA_2048, not SYMMETRIC_DEFAULT",
            ),
            (
                with(|k| k.key_usage = "GENERATE_VERIFY_MAC".into()),
                "us-east-1",
                "the key usage is GENERATE_VERIFY_MAC, not ENCRYPT_DECRYPT",
            ),
        ];
        for (key, region, text) in cases {
            let problems = check_key(CMK, Some(region), Ok(&key));
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].to_string().starts_with(text), "{}", problems[0]);
        }
        let problems = check_key(
            CMK,
            Some("us-east-1"),
            Err("NotFoundException: no such key"),
        );
        assert_eq!(
            problems,
            [KeyProblem::NotDescribed {
                error: "NotFoundException: no such key".into()
            }]
        );
        let status = KeyStatus {
            aliases: vec![],
            problems,
        };
        assert!(!status.usable());
        assert_eq!(
            status.describe_problems(),
            "the key could not be described: NotFoundException: no such key"
        );
    }
}
