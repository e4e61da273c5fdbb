//! `Custom::AgentCoreMemoryGrant`: an inline policy that grants a role the AgentCore Memory
//! data-plane actions, and the control-plane `GetMemory` the SDK's memory client calls, on
//! exactly one memory.

use serde_json::json;

use crate::arn::MemoryArn;
use crate::custom_resource::{render_value, Properties, Request};
use crate::grants::common::{
    quoted, read_common, Grant, GrantKind, StackLocation, Target, SERVICE_PREFIX,
};
use crate::{Error, Result};

pub const RESOURCE_TYPE: &str = "Custom::AgentCoreMemoryGrant";

/// The AgentCore Memory actions a grant may hold, in the order they appear in a written
/// policy: `GetMemory` (control plane; the AgentCore SDK's memory client calls it before using
/// a memory) and the data-plane actions. Each name is the IAM action of the same-named
/// operation, as listed in the Service Authorization Reference ("Actions, resources, and
/// condition keys for Amazon Bedrock AgentCore"); every one of them is authorized on the
/// `memory` resource type.
pub const MEMORY_ACTIONS: [&str; 16] = [
    "GetMemory",
    "CreateEvent",
    "GetEvent",
    "ListEvents",
    "DeleteEvent",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "RetrieveMemoryRecords",
    "DeleteMemoryRecord",
    "BatchCreateMemoryRecords",
    "BatchUpdateMemoryRecords",
    "BatchDeleteMemoryRecords",
    "StartMemoryExtractionJob",
    "ListMemoryExtractionJobs",
];

/// `Access: ReadOnly`: the actions that read the memory, its events, sessions, actors, records
/// and extraction jobs and change nothing (a strict subset of [`MEMORY_ACTIONS`], checked by a
/// test).
pub const READ_ONLY_ACTIONS: [&str; 9] = [
    "GetMemory",
    "GetEvent",
    "ListEvents",
    "ListSessions",
    "ListActors",
    "GetMemoryRecord",
    "ListMemoryRecords",
    "RetrieveMemoryRecords",
    "ListMemoryExtractionJobs",
];

pub(crate) fn memory_grant(
    request: &Request,
    properties: &Properties,
    stack: &StackLocation,
) -> Result<Grant> {
    let mut r = properties.reader(RESOURCE_TYPE);
    let common = read_common(&mut r, request, stack, "AgentCoreMemory")?;
    let memory_text = r.required_string(
        "MemoryArn",
        "an exact AgentCore memory ARN arn:<partition>:bedrock-agentcore:<region>:<account>:memory/<memory-id>",
    )?;
    let access = r.string("Access")?;
    let actions = r.string_list("Actions")?;
    r.finish()?;

    let memory = MemoryArn::parse(memory_text.trim())
        .map_err(|rule| Error::invalid("MemoryArn", quoted(&memory_text), rule))?;
    if memory.location.partition != stack.partition {
        return Err(Error::invalid(
            "MemoryArn",
            quoted(&memory_text),
            format!(
                "a memory in the stack's partition {}: a role cannot be granted resources of another partition",
                stack.partition
            ),
        ));
    }
    let names = match (access, actions) {
        (Some(access), Some(actions)) => {
            return Err(Error::invalid(
                "Actions",
                render_value(&json!(actions)),
                format!(
                    "either Access or Actions, not both: Access {} already chooses the actions",
                    quoted(&access)
                ),
            ))
        }
        (_, Some(actions)) => memory_actions(&actions)?,
        (Some(access), None) => access_actions(&access)?,
        (None, None) => MEMORY_ACTIONS.to_vec(),
    };
    Ok(Grant {
        kind: GrantKind::Memory,
        role_name: common.role_name,
        role_arn: common.role_arn,
        policy_name: common.policy_name,
        actions: names
            .iter()
            .map(|name| format!("{SERVICE_PREFIX}:{name}"))
            .collect(),
        resources: vec![memory.to_string()],
        verify: common.verify,
        require_ready: None,
        target: Target::new(
            "memory",
            memory.to_string(),
            &memory.memory_id,
            &memory.location,
        ),
        owner: String::new(),
        stack: stack.clone(),
    })
}

/// The actions an `Access` preset stands for.
fn access_actions(access: &str) -> Result<Vec<&'static str>> {
    match access.trim().to_ascii_lowercase().as_str() {
        "readwrite" => Ok(MEMORY_ACTIONS.to_vec()),
        "readonly" => Ok(READ_ONLY_ACTIONS.to_vec()),
        _ => Err(Error::invalid(
            "Access",
            quoted(access),
            "ReadWrite (GetMemory and all Memory data-plane actions) or ReadOnly (only those that read)",
        )),
    }
}

/// Validate an explicit `Actions` list: each item a Memory data-plane action, with or without
/// the `bedrock-agentcore:` prefix, in any letter case (IAM action names are case-insensitive).
/// The result is in the canonical order of [`MEMORY_ACTIONS`], so the written document does
/// not change when only the order of the list does.
fn memory_actions(actions: &[String]) -> Result<Vec<&'static str>> {
    if actions.is_empty() {
        return Err(Error::invalid(
            "Actions",
            "[]",
            "at least one Memory action (or leave Actions out and use Access)",
        ));
    }
    let mut chosen = Vec::new();
    for given in actions {
        let text = given.trim();
        let name = match text.split_once(':') {
            Some((service, name)) if service.eq_ignore_ascii_case(SERVICE_PREFIX) => name,
            Some(_) => {
                return Err(Error::invalid(
                    "Actions",
                    quoted(given),
                    memory_action_rule(),
                ))
            }
            None => text,
        };
        let canonical = MEMORY_ACTIONS
            .iter()
            .find(|known| known.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::invalid("Actions", quoted(given), memory_action_rule()))?;
        if !chosen.contains(canonical) {
            chosen.push(*canonical);
        }
    }
    Ok(MEMORY_ACTIONS
        .iter()
        .copied()
        .filter(|a| chosen.contains(a))
        .collect())
}

fn memory_action_rule() -> String {
    format!(
        "Memory actions only (no wildcards), each one of: {}",
        MEMORY_ACTIONS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::common::test_support::{grant, MEMORY, ROLE, STACK};
    use crate::policy_document::short_hash;
    use serde_json::{json, Value};

    #[test]
    fn get_memory_is_in_both_presets() {
        assert!(MEMORY_ACTIONS.contains(&"GetMemory"));
        assert!(READ_ONLY_ACTIONS.contains(&"GetMemory"));
    }

    #[test]
    fn read_only_is_a_strict_subset_of_read_write() {
        assert!(READ_ONLY_ACTIONS.iter().all(|a| MEMORY_ACTIONS.contains(a)));
        assert!(READ_ONLY_ACTIONS.len() < MEMORY_ACTIONS.len());
        for write in [
            "CreateEvent",
            "DeleteEvent",
            "DeleteMemoryRecord",
            "BatchCreateMemoryRecords",
            "BatchUpdateMemoryRecords",
            "BatchDeleteMemoryRecords",
            "StartMemoryExtractionJob",
        ] {
            assert!(
                !READ_ONLY_ACTIONS.contains(&write),
                "{write} changes the memory"
            );
        }
        let mut unique = MEMORY_ACTIONS.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), MEMORY_ACTIONS.len());
    }

    #[test]
    fn memory_grant_defaults() {
        let g = grant(
            json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "RoleName": ROLE, "MemoryArn": MEMORY}),
        )
        .unwrap();
        assert_eq!(g.kind, GrantKind::Memory);
        assert_eq!(g.role_name, ROLE);
        assert_eq!(
            g.policy_name,
            format!("AgentCoreMemory-MemoryGrant-{}", short_hash(STACK))
        );
        assert_eq!(g.actions.len(), 16);
        assert_eq!(g.actions[0], "bedrock-agentcore:GetMemory");
        assert_eq!(g.resources, vec![MEMORY.to_string()]);
        assert!(g.verify);
        assert_eq!(g.physical_id(), format!("{ROLE}|{}", g.policy_name));
        assert_eq!(
            g.assumed_role_arn(),
            format!("arn:aws:iam::123456789012:role/{ROLE}")
        );
        assert_eq!(g.requests().len(), 16);
        let owner = crate::grants::ownership::owner_id(STACK, "MemoryGrant");
        assert_eq!(
            g.document(),
            json!({"Version": "2012-10-17", "Statement": [{"Sid": format!("AgentCoreMemoryDataPlane{owner}"),
                "Effect": "Allow", "Action": g.actions, "Resource": MEMORY}]})
        );
        assert_eq!(g.target.name, "demo_memory");
    }

    #[test]
    fn access_presets_and_explicit_actions() {
        let cases: &[(Value, std::result::Result<Vec<&str>, &str>)] = &[
            (
                json!({"Access": "ReadOnly"}),
                Ok(READ_ONLY_ACTIONS.to_vec()),
            ),
            (json!({"Access": "readwrite"}), Ok(MEMORY_ACTIONS.to_vec())),
            (
                json!({"Actions": ["GetMemory", "bedrock-agentcore:getmemory"]}),
                Ok(vec!["GetMemory"]),
            ),
            (
                json!({"Access": "Admin"}),
                Err("property Access has value \"Admin\"; expected ReadWrite"),
            ),
            (
                json!({"Actions": ["bedrock-agentcore:ListEvents", "createevent", "CreateEvent"]}),
                Ok(vec!["CreateEvent", "ListEvents"]),
            ),
            (json!({"Actions": "[\"GetEvent\"]"}), Ok(vec!["GetEvent"])),
            (
                json!({"Actions": ["bedrock-agentcore:*"]}),
                Err("Memory actions only (no wildcards)"),
            ),
            (
                json!({"Actions": ["InvokeAgentRuntime"]}),
                Err("\"InvokeAgentRuntime\""),
            ),
            (
                json!({"Actions": ["s3:GetObject"]}),
                Err("\"s3:GetObject\""),
            ),
            (json!({"Actions": []}), Err("at least one Memory action")),
            (
                json!({"Actions": ["GetEvent"], "Access": "ReadOnly"}),
                Err("either Access or Actions, not both"),
            ),
        ];
        for (extra, expected) in cases {
            let mut properties = json!({"RoleName": ROLE, "MemoryArn": MEMORY});
            properties
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            match (grant(properties), expected) {
                (Ok(g), Ok(names)) => {
                    let want: Vec<String> = names
                        .iter()
                        .map(|n| format!("bedrock-agentcore:{n}"))
                        .collect();
                    assert_eq!(g.actions, want, "{extra}");
                    assert_eq!(g.actions_value(), want.join(","));
                }
                (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{extra}: {e}"),
                (got, want) => panic!("{extra}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn invalid_properties_name_property_value_and_rule() {
        let cases: &[(Value, &str)] = &[
            (json!({"MemoryArn": MEMORY}), "property RoleName is required but was not given"),
            (json!({"RoleName": ROLE}), "property MemoryArn is required but was not given"),
            (json!({"RoleName": ROLE, "MemoryArn": "arn:aws:bedrock-agentcore:us-east-1:123456789012:memory/*"}), "wildcards"),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY.replace("memory/", "runtime/")}), "memory/<memory-id>"),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY.replace("arn:aws:", "arn:aws-cn:")}), "the stack's partition aws"),
            (json!({"RoleName": "LPMA_*", "MemoryArn": MEMORY}), "property RoleName has value \"LPMA_*\""),
            (json!({"RoleName": "arn:aws:iam::210987654321:role/LPMA_Other", "MemoryArn": MEMORY}), "the stack's own account 123456789012"),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "has space"}), "property PolicyName has value \"has space\""),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY, "Verify": "maybe"}), "property Verify has value \"maybe\""),
            (json!({"RoleName": ROLE, "MemoryArn": MEMORY, "RuntimeArn": "x"}), "property RuntimeArn is not a property of Custom::AgentCoreMemoryGrant"),
            (json!({"RoleName": "Other_Role", "MemoryArn": MEMORY}), "property RoleName has value \"Other_Role\"; expected a role whose name starts with LPMA_: the permissions boundary only lets this team manage roles named LPMA_*"),
        ];
        for (properties, text) in cases {
            let e = grant(properties.clone()).unwrap_err().to_string();
            assert!(e.contains(text), "{properties}: {e}");
        }
    }

    #[test]
    fn role_given_as_arn_keeps_its_arn() {
        let arn = format!("arn:aws:iam::123456789012:role/service/{ROLE}");
        let g = grant(
            json!({"RoleName": arn, "MemoryArn": MEMORY, "Verify": "false", "PolicyName": "Mine"}),
        )
        .unwrap();
        assert_eq!(g.role_name, ROLE);
        assert_eq!(g.assumed_role_arn(), arn);
        assert_eq!(g.physical_id(), format!("{ROLE}|Mine"));
        assert!(!g.verify);
    }
}
