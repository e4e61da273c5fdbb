//! The doctor's AWS calls, all reads: STS GetCallerIdentity, IAM GetRole / GetUser and
//! SimulatePrincipalPolicy, KMS GetKeyPolicy.

use aws_config::SdkConfig;
use corebound::aws::AwsFailure;
use corebound::doctor::{Caller, Principal, Probe};
use corebound::grants::SimulatedResult;

use crate::error::CliError;

pub struct Clients {
    sts: aws_sdk_sts::Client,
    iam: aws_sdk_iam::Client,
}

pub struct Identity {
    pub arn: String,
    pub account: String,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Clients {
            sts: aws_sdk_sts::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
        }
    }

    pub async fn caller_identity(&self) -> Result<Identity, CliError> {
        let output = self.sts.get_caller_identity().send().await.map_err(|e| {
            CliError::Other(format!(
                "cannot identify the caller with sts:GetCallerIdentity: {}",
                AwsFailure::from_sdk(&e).summary()
            ))
        })?;
        match (output.arn(), output.account()) {
            (Some(arn), Some(account)) => Ok(Identity {
                arn: arn.to_string(),
                account: account.to_string(),
            }),
            _ => Err(CliError::Other(
                "sts:GetCallerIdentity answered without Arn or Account".to_string(),
            )),
        }
    }

    /// The principal to simulate, or why there is none (and the fix, when there is one).
    /// Reading the role or user gives its path, tags and boundary; when that read is refused
    /// the role is simulated without a path, and a note says so.
    pub async fn principal(
        &self,
        caller: &Caller,
        notes: &mut Vec<String>,
    ) -> Result<Principal, (String, Option<String>)> {
        let role_name = match caller {
            Caller::Unsupported { why, .. } => return Err((why.clone(), None)),
            Caller::AssumedRole { role_name, .. } => role_name.clone(),
            Caller::Principal { arn, .. } => {
                let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
                let name = resource.rsplit('/').next().unwrap_or_default().to_string();
                if resource.starts_with("user/") {
                    return Ok(self.user(arn, &name, notes).await);
                }
                name
            }
        };
        match self.iam.get_role().role_name(&role_name).send().await {
            Ok(output) => {
                let Some(role) = output.role() else {
                    return Err(("iam:GetRole answered without a role".to_string(), None));
                };
                Ok(Principal {
                    arn: role.arn().to_string(),
                    tags: role
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                    boundary_name: role
                        .permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(boundary_name),
                })
            }
            Err(e) => {
                let failure = AwsFailure::from_sdk(&e);
                let Some(arn) = caller.role_arn_without_path() else {
                    return Err((
                        format!("iam:GetRole of {role_name} failed ({})", failure.summary()),
                        None,
                    ));
                };
                notes.push(format!(
                    "iam:GetRole of {role_name} failed ({}): simulated as {arn}, which is right only for a role on the path /, and without its tags or boundary name",
                    failure.summary()
                ));
                Ok(Principal {
                    arn,
                    ..Principal::default()
                })
            }
        }
    }

    async fn user(&self, arn: &str, name: &str, notes: &mut Vec<String>) -> Principal {
        match self.iam.get_user().user_name(name).send().await {
            Ok(output) => {
                let user = output.user();
                Principal {
                    arn: arn.to_string(),
                    tags: user
                        .map(|u| {
                            u.tags()
                                .iter()
                                .map(|t| (t.key().to_string(), t.value().to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    boundary_name: user
                        .and_then(|u| u.permissions_boundary())
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(boundary_name),
                }
            }
            Err(e) => {
                notes.push(format!(
                    "iam:GetUser of {name} failed ({}): simulated without its tags or boundary name",
                    AwsFailure::from_sdk(&e).summary()
                ));
                Principal {
                    arn: arn.to_string(),
                    ..Principal::default()
                }
            }
        }
    }

    /// One SimulatePrincipalPolicy call for one probe, every page, as
    /// (action, resource) results.
    pub async fn simulate(
        &self,
        principal_arn: &str,
        probe: &Probe,
    ) -> Result<Vec<SimulatedResult>, AwsFailure> {
        memory_grant::simulation::simulate_principal_policy(
            &self.iam,
            principal_arn,
            std::slice::from_ref(&probe.action),
            std::slice::from_ref(&probe.resource),
            &probe.context,
        )
        .await
    }

    /// The key's policy (`default`, the only name KMS has), from the key's own region.
    pub async fn key_policy(
        &self,
        config: &SdkConfig,
        key_arn: &str,
    ) -> Result<serde_json::Value, String> {
        let region = key_arn.split(':').nth(3).unwrap_or_default().to_string();
        let kms_config = aws_sdk_kms::config::Builder::from(config)
            .region(aws_sdk_kms::config::Region::new(region))
            .build();
        let kms = aws_sdk_kms::Client::from_conf(kms_config);
        let output = kms
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk(&e).summary())?;
        let text = output
            .policy()
            .ok_or_else(|| "kms:GetKeyPolicy answered without a policy".to_string())?;
        serde_json::from_str(text).map_err(|e| format!("the key policy is not JSON: {e}"))
    }
}

fn boundary_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}
