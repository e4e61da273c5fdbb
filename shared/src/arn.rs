//! ARNs of the resources corebound touches, parsed and validated exactly.
//!
//! AgentCore rejects wildcard resource ARNs in resource policies, and an IAM grant scoped to
//! `memory/*` is exactly what a security review refuses, so every ARN is checked for shape
//! and for `*`/`?` before anything is written. Errors are plain rule descriptions; callers
//! wrap them with the property name and value.

use std::fmt;

/// Partitions an ARN may name.
const PARTITIONS: [&str; 5] = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"];

/// The account and place an ARN lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub partition: String,
    pub region: String,
    pub account: String,
}

/// `arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<runtime-id>`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeArn {
    pub location: Location,
    pub runtime_id: String,
}

/// `arn:<partition>:bedrock-agentcore:<region>:<account>:memory/<memory-id>`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryArn {
    pub location: Location,
    pub memory_id: String,
}

impl RuntimeArn {
    pub fn parse(arn: &str) -> Result<Self, String> {
        let (location, resource) = parse_agentcore(arn)?;
        let runtime_id = resource.strip_prefix("runtime/").ok_or_else(|| {
            format!("an AgentCore runtime ARN ends in runtime/<runtime-id>, not {resource}")
        })?;
        if runtime_id.contains('/') {
            return Err("a runtime ARN names the runtime itself; give endpoints by name in EndpointNames, not as part of the ARN".into());
        }
        if !is_runtime_id(runtime_id) {
            return Err(format!(
                "runtime id {runtime_id:?} does not match the AgentCore pattern <name>-<10 letters or digits> (name: a letter, then letters, digits or _)"
            ));
        }
        Ok(RuntimeArn {
            location,
            runtime_id: runtime_id.to_string(),
        })
    }

    /// The ARN of one of this runtime's endpoints.
    pub fn endpoint_arn(&self, endpoint_name: &str) -> String {
        format!("{self}/runtime-endpoint/{endpoint_name}")
    }
}

impl fmt::Display for RuntimeArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.location;
        write!(
            f,
            "arn:{}:bedrock-agentcore:{}:{}:runtime/{}",
            l.partition, l.region, l.account, self.runtime_id
        )
    }
}

impl MemoryArn {
    pub fn parse(arn: &str) -> Result<Self, String> {
        let (location, resource) = parse_agentcore(arn)?;
        let memory_id = resource.strip_prefix("memory/").ok_or_else(|| {
            format!("an AgentCore memory ARN ends in memory/<memory-id>, not {resource}")
        })?;
        if !is_runtime_id(memory_id) {
            return Err(format!(
                "memory id {memory_id:?} does not match the AgentCore pattern <name>-<10 letters or digits>"
            ));
        }
        Ok(MemoryArn {
            location,
            memory_id: memory_id.to_string(),
        })
    }
}

impl fmt::Display for MemoryArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.location;
        write!(
            f,
            "arn:{}:bedrock-agentcore:{}:{}:memory/{}",
            l.partition, l.region, l.account, self.memory_id
        )
    }
}

/// Check an entry of `EndpointNames` (not an ARN: callers say how to give the name instead):
/// no wildcards, and the AgentCore endpoint name pattern.
pub fn check_endpoint_name(name: &str) -> Result<(), String> {
    reject_wildcards(name)?;
    if is_endpoint_name(name) {
        Ok(())
    } else {
        Err("an endpoint name: a letter, then up to 47 letters, digits or _ (e.g. DEFAULT)".into())
    }
}

/// Whether `name` is a valid runtime endpoint name (`DEFAULT` or a name given at creation).
pub fn is_endpoint_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 48
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An IAM role given by name or ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    pub name: String,
    /// Present when given as an ARN.
    pub account: Option<String>,
}

impl RoleRef {
    pub fn parse(value: &str) -> Result<Self, String> {
        reject_wildcards(value)?;
        if let Some(rest) = value.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, "iam", "", account, resource] = parts.as_slice() else {
                return Err(
                    "a role ARN has the form arn:<partition>:iam::<account>:role/<name>".into(),
                );
            };
            check_partition(partition)?;
            check_account(account)?;
            let path_and_name = resource
                .strip_prefix("role/")
                .ok_or_else(|| format!("an IAM role ARN ends in role/<name>, not {resource}"))?;
            let name = path_and_name.rsplit('/').next().unwrap_or_default();
            check_role_name(name)?;
            return Ok(RoleRef {
                name: name.to_string(),
                account: Some(account.to_string()),
            });
        }
        check_role_name(value)?;
        Ok(RoleRef {
            name: value.to_string(),
            account: None,
        })
    }
}

fn check_role_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid IAM role name (1-64 letters, digits or +=,.@_-)"
        ))
    }
}

/// An account principal or role principal of a resource policy, normalised to an ARN.
pub fn principal_arn(value: &str, partition: &str) -> Result<String, String> {
    reject_wildcards(value)?;
    if value.len() == 12 && value.chars().all(|c| c.is_ascii_digit()) {
        return Ok(format!("arn:{partition}:iam::{value}:root"));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", p, "iam", "", account, resource] => {
            check_partition(p)?;
            check_account(account)?;
            if *resource == "root" {
                return Ok(value.to_string());
            }
            if let Some(name) = resource.strip_prefix("role/") {
                check_role_name(name.rsplit('/').next().unwrap_or_default())?;
                return Ok(value.to_string());
            }
            Err(format!(
                "principal resource {resource:?} is neither root nor role/<name>: only accounts and roles may be granted"
            ))
        }
        _ => Err("a principal is a 12-digit account id, arn:<partition>:iam::<account>:root, or an IAM role ARN".into()),
    }
}

/// The account id an ARN names (IAM ARNs have no region).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

fn parse_agentcore(arn: &str) -> Result<(Location, &str), String> {
    reject_wildcards(arn)?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, service, region, account, resource] = parts.as_slice() else {
        return Err(
            "an ARN has the form arn:<partition>:<service>:<region>:<account>:<resource>".into(),
        );
    };
    if *service != "bedrock-agentcore" {
        return Err(format!(
            "the ARN names service {service:?}; expected bedrock-agentcore"
        ));
    }
    check_partition(partition)?;
    check_region(region)?;
    check_account(account)?;
    Ok((
        Location {
            partition: partition.to_string(),
            region: region.to_string(),
            account: account.to_string(),
        },
        resource,
    ))
}

/// Exact ARNs only: AgentCore rejects wildcards, and a wildcard grant is broader than asked.
pub fn reject_wildcards(value: &str) -> Result<(), String> {
    if value.contains(['*', '?']) {
        Err("wildcards (* or ?) are not allowed: name the exact resource".into())
    } else {
        Ok(())
    }
}

fn check_partition(partition: &str) -> Result<(), String> {
    if PARTITIONS.contains(&partition) {
        Ok(())
    } else {
        Err(format!(
            "unknown partition {partition:?}; expected one of {}",
            PARTITIONS.join(", ")
        ))
    }
}

fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if valid {
        Ok(())
    } else {
        Err(format!("{region:?} is not an AWS region (e.g. us-east-1)"))
    }
}

fn check_account(account: &str) -> Result<(), String> {
    if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("{account:?} is not a 12-digit AWS account id"))
    }
}

/// `[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}`
fn is_runtime_id(id: &str) -> bool {
    let Some((name, suffix)) = id.rsplit_once('-') else {
        return false;
    };
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && suffix.len() == 10
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";

    #[test]
    fn runtime_arns() {
        let arn = RuntimeArn::parse(RUNTIME).unwrap();
        assert_eq!(arn.runtime_id, "demo_agent-AbCdE12345");
        assert_eq!(arn.to_string(), RUNTIME);
        assert_eq!(
            arn.endpoint_arn("DEFAULT"),
            format!("{RUNTIME}/runtime-endpoint/DEFAULT")
        );
        let rejected = [
            (
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/*",
                "wildcards",
            ),
            (
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo-AbCdE1234?",
                "wildcards",
            ),
            (
                "arn:aws:bedrock-agentcore:us-east-1:12345:runtime/demo_agent-AbCdE12345",
                "12-digit",
            ),
            (
                "arn:aws:bedrock:us-east-1:123456789012:runtime/demo_agent-AbCdE12345",
                "bedrock-agentcore",
            ),
            (
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/demo_agent-AbCdE12345",
                "runtime/<runtime-id>",
            ),
            (
                "arn:aws:bedrock-agentcore:useast1:123456789012:runtime/demo_agent-AbCdE12345",
                "region",
            ),
            (
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent",
                "pattern",
            ),
            (
                &format!("{RUNTIME}/runtime-endpoint/DEFAULT"),
                "EndpointNames",
            ),
            (
                "arn:moon:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345",
                "partition",
            ),
            ("not-an-arn", "arn:<partition>"),
        ];
        for (arn, rule) in rejected {
            let e = RuntimeArn::parse(arn).unwrap_err();
            assert!(e.contains(rule), "{arn}: {e}");
        }
    }

    #[test]
    fn memory_arns() {
        let m = "arn:aws:bedrock-agentcore:eu-west-1:123456789012:memory/demo_memory-0123456789";
        assert_eq!(MemoryArn::parse(m).unwrap().to_string(), m);
        assert!(
            MemoryArn::parse("arn:aws:bedrock-agentcore:eu-west-1:123456789012:memory/*")
                .unwrap_err()
                .contains("wildcards")
        );
    }

    #[test]
    fn principals() {
        assert_eq!(
            principal_arn("210987654321", "aws").unwrap(),
            "arn:aws:iam::210987654321:root"
        );
        for ok in [
            "arn:aws:iam::210987654321:root",
            "arn:aws:iam::210987654321:role/LPMA_App_CrossAccountInvoke",
            "arn:aws:iam::210987654321:role/path/to/Role",
        ] {
            assert_eq!(principal_arn(ok, "aws").unwrap(), ok);
        }
        for (bad, rule) in [
            ("*", "wildcards"),
            ("arn:aws:iam::210987654321:role/LPMA_*", "wildcards"),
            (
                "arn:aws:iam::210987654321:user/alice",
                "neither root nor role",
            ),
            ("21098765432", "12-digit account id"),
            (
                "arn:aws:sts::210987654321:assumed-role/R/s",
                "12-digit account id, arn",
            ),
        ] {
            let e = principal_arn(bad, "aws").unwrap_err();
            assert!(e.contains(rule), "{bad}: {e}");
        }
    }

    #[test]
    fn roles_by_name_or_arn() {
        assert_eq!(
            RoleRef::parse("LPMA_App_Runtime").unwrap().name,
            "LPMA_App_Runtime"
        );
        let r = RoleRef::parse("arn:aws:iam::123456789012:role/service/LPMA_App_Runtime").unwrap();
        assert_eq!(
            (r.name.as_str(), r.account.as_deref()),
            ("LPMA_App_Runtime", Some("123456789012"))
        );
        assert!(RoleRef::parse("LPMA_*").is_err());
        assert!(RoleRef::parse("arn:aws:iam::123456789012:user/x").is_err());
        assert!(RoleRef::parse("has space").is_err());
    }

    #[test]
    fn endpoint_names() {
        assert!(is_endpoint_name("DEFAULT"));
        assert!(is_endpoint_name("prod_v2"));
        assert!(!is_endpoint_name("2prod"));
        assert!(!is_endpoint_name("a-b"));
        assert!(!is_endpoint_name(""));
    }
}
