//! Who the doctor simulates: the caller STS names, as a principal `SimulatePrincipalPolicy`
//! accepts.
//!
//! STS answers an assumed-role session as `arn:aws:sts::A:assumed-role/R/S`; the simulator
//! wants the role, `arn:aws:iam::A:role/<path>R`, and the path is only known from
//! `iam:GetRole`. IAM users are simulated as they are. The account root and federated users
//! have no policies to simulate.

/// What the caller's ARN says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// An assumed-role session: `role_name` must be looked up (GetRole) for its path.
    AssumedRole {
        partition: String,
        account: String,
        role_name: String,
    },
    /// An IAM user (or role) ARN, simulated as it is.
    Principal { arn: String, account: String },
    /// Nothing to simulate; the text says why.
    Unsupported {
        account: Option<String>,
        why: String,
    },
}

impl Caller {
    pub fn parse(arn: &str) -> Caller {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", partition, service, "", account, resource] = parts.as_slice() else {
            return Caller::Unsupported {
                account: None,
                why: format!("{arn} is not an IAM or STS principal ARN"),
            };
        };
        let account = account.to_string();
        match (*service, resource.split_once('/')) {
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role_name, session)) if !role_name.is_empty() && !session.is_empty() => {
                    Caller::AssumedRole {
                        partition: partition.to_string(),
                        account,
                        role_name: role_name.to_string(),
                    }
                }
                _ => Caller::Unsupported {
                    account: Some(account),
                    why: format!("{arn} is not an assumed-role/<role>/<session> ARN"),
                },
            },
            ("sts", Some(("federated-user", _))) => Caller::Unsupported {
                account: Some(account),
                why: "a federated user's permissions are its session policy, which iam:SimulatePrincipalPolicy cannot simulate; run the doctor as the role or user that deploys".to_string(),
            },
            ("iam", Some(("user" | "role", _))) => Caller::Principal {
                arn: arn.to_string(),
                account,
            },
            ("iam", None) if *resource == "root" => Caller::Unsupported {
                account: Some(account),
                why: "the account root user is not subject to permissions boundaries; run the doctor as the role or user that deploys".to_string(),
            },
            _ => Caller::Unsupported {
                account: Some(account),
                why: format!("{arn} names no IAM role or user to simulate"),
            },
        }
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            Caller::AssumedRole { account, .. } | Caller::Principal { account, .. } => {
                Some(account)
            }
            Caller::Unsupported { account, .. } => account.as_deref(),
        }
    }

    /// The role ARN without its path, for when GetRole cannot be called: right for roles
    /// on the root path `/`, which is what corebound's templates create.
    pub fn role_arn_without_path(&self) -> Option<String> {
        match self {
            Caller::AssumedRole {
                partition,
                account,
                role_name,
            } => Some(format!("arn:{partition}:iam::{account}:role/{role_name}")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers() {
        assert_eq!(
            Caller::parse("arn:aws:sts::123456789012:assumed-role/ci-deployer/gh-1234"),
            Caller::AssumedRole {
                partition: "aws".into(),
                account: "123456789012".into(),
                role_name: "ci-deployer".into()
            }
        );
        assert_eq!(
            Caller::parse("arn:aws:sts::123456789012:assumed-role/ci-deployer/gh-1234")
                .role_arn_without_path()
                .as_deref(),
            Some("arn:aws:iam::123456789012:role/ci-deployer")
        );
        assert_eq!(
            Caller::parse("arn:aws-us-gov:iam::123456789012:user/ops/alice"),
            Caller::Principal {
                arn: "arn:aws-us-gov:iam::123456789012:user/ops/alice".into(),
                account: "123456789012".into()
            }
        );
        for (arn, why) in [
            ("arn:aws:iam::123456789012:root", "root user"),
            (
                "arn:aws:sts::123456789012:federated-user/bob",
                "federated user",
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/only-role",
                "assumed-role/<role>/<session>",
            ),
            ("not an arn", "not an IAM or STS principal ARN"),
        ] {
            match Caller::parse(arn) {
                Caller::Unsupported { why: text, .. } => {
                    assert!(text.contains(why), "{arn}: {text}")
                }
                other => panic!("{arn}: {other:?}"),
            }
        }
        assert_eq!(
            Caller::parse("arn:aws:iam::123456789012:root").account(),
            Some("123456789012")
        );
    }
}
