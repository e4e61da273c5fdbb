//! Which inline policies a grant may write or delete: only the ones it can prove it wrote.
//!
//! Anyone who may invoke the ServiceToken can send a request they wrote themselves, with any
//! PhysicalResourceId and properties. So the function never trusts the request's word for
//! ownership; it reads the policy from IAM and decides from what is stored there.
//!
//! Ownership is recorded where it survives in AWS: in the `Sid` of the one statement a grant
//! writes, as the kind's name followed by an owner id, a 12-hex-digit hash of the request's
//! `StackId` and `LogicalResourceId` (`AgentCoreMemoryDataPlane3f0c9a1b2d4e`). CloudFormation
//! sends the same pair on every request for one resource (Create, its retries, Updates,
//! the Delete), and no two resources share it.
//!
//! * A **Create** writes only where no policy of that name exists, or where the stored one is
//!   corebound's and carries this resource's owner id (a retried Create). A policy of another
//!   owner is FAILED naming its owner id; anything else is FAILED as someone else's.
//! * An in-place **Update** writes where a Create may, and also over a policy written before
//!   owner ids existed (Sid without them) when it is exactly the document the request's
//!   `OldResourceProperties` describe.
//! * A **Delete** removes a policy only when it has exactly corebound's shape (one statement:
//!   its Sid, `Allow`, actions of its kind's allowlist, one exact target ARN), carries this
//!   resource's owner id and names the target the request's properties name (or, for an old
//!   policy without an owner id, is exactly the document the properties describe).

use serde_json::Value;

use crate::agentcore_actions::canonical_invoke_action;
use crate::arn::{is_endpoint_name, MemoryArn, RuntimeArn};
use crate::grants::common::{decode_policy_document, same_meaning, Grant, GrantKind};
use crate::grants::memory::MEMORY_ACTIONS;
use crate::grants::SERVICE_PREFIX;
use crate::policy_document::short_hash;

/// Length of an owner id (hex digits of [`short_hash`]).
const OWNER_ID_LEN: usize = 12;

/// The owner id of the resource a request is for.
pub fn owner_id(stack_id: &str, logical_resource_id: &str) -> String {
    short_hash(&format!("{stack_id}|{logical_resource_id}"))
}

/// The Sid a kind's statement starts with (the whole Sid before owner ids were recorded).
pub fn kind_sid(kind: GrantKind) -> &'static str {
    match kind {
        GrantKind::Memory => "AgentCoreMemoryDataPlane",
        GrantKind::Invoke => "AgentCoreInvokeRuntime",
    }
}

/// The Sid a grant writes: IAM allows only letters and digits in a Sid, which both parts are.
pub fn sid(kind: GrantKind, owner: &str) -> String {
    format!("{}{owner}", kind_sid(kind))
}

/// What a stored inline policy is, as far as corebound can tell from the policy alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// corebound's shape, with the owner id in its Sid.
    Grant {
        kind: GrantKind,
        owner: String,
        resources: Vec<String>,
    },
    /// corebound's shape, written before owner ids were recorded.
    Legacy { kind: GrantKind },
    /// Not a policy corebound writes; why.
    Foreign(String),
}

/// Classify a stored document (URL-encoded as IAM returns it, or plain).
pub fn classify(text: &str) -> Stored {
    match decode_policy_document(text).and_then(|document| shape(&document)) {
        Ok(stored) => stored,
        Err(why) => Stored::Foreign(why),
    }
}

fn shape(document: &Value) -> Result<Stored, String> {
    let object = document.as_object().ok_or("it is not a JSON object")?;
    if let Some(key) = object.keys().find(|k| *k != "Version" && *k != "Statement") {
        return Err(format!(
            "it has the element {key:?}, which corebound never writes"
        ));
    }
    if object.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
        return Err("its Version is not 2012-10-17".into());
    }
    let statement = match object.get("Statement") {
        Some(Value::Array(items)) if items.len() == 1 => &items[0],
        Some(Value::Object(_)) => &object["Statement"],
        _ => return Err("it does not have exactly one statement".into()),
    };
    let statement = statement
        .as_object()
        .ok_or("its statement is not an object")?;
    let mut keys: Vec<&str> = statement.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["Action", "Effect", "Resource", "Sid"] {
        return Err(format!(
            "its statement has the elements {}, not exactly Sid, Effect, Action and Resource",
            keys.join(", ")
        ));
    }
    if statement["Effect"] != "Allow" {
        return Err("its statement is not an Allow".into());
    }
    let sid = statement["Sid"].as_str().ok_or("its Sid is not a string")?;
    let (kind, owner) = [GrantKind::Memory, GrantKind::Invoke]
        .into_iter()
        .find_map(|kind| {
            let rest = sid.strip_prefix(kind_sid(kind))?;
            let is_owner = rest.len() == OWNER_ID_LEN
                && rest
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
            match rest {
                "" => Some((kind, None)),
                _ if is_owner => Some((kind, Some(rest.to_string()))),
                _ => None,
            }
        })
        .ok_or_else(|| format!("its Sid {sid:?} is not one corebound writes"))?;
    let actions = strings(&statement["Action"]).ok_or("its Action is not a list of names")?;
    for action in &actions {
        if !allowed_action(kind, action) {
            return Err(format!(
                "its action {action} is not one a {} grants",
                kind.resource_type()
            ));
        }
    }
    let resources = strings(&statement["Resource"]).ok_or("its Resource is not a list of ARNs")?;
    check_resources(kind, &resources)?;
    Ok(match owner {
        Some(owner) => Stored::Grant {
            kind,
            owner,
            resources,
        },
        None => Stored::Legacy { kind },
    })
}

/// A string or a non-empty list of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn allowed_action(kind: GrantKind, action: &str) -> bool {
    match kind {
        GrantKind::Memory => action.split_once(':').is_some_and(|(service, name)| {
            service.eq_ignore_ascii_case(SERVICE_PREFIX)
                && MEMORY_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(name))
        }),
        GrantKind::Invoke => canonical_invoke_action(action).is_some(),
    }
}

/// One exact target: a memory ARN, or a runtime ARN with endpoints of that runtime only.
fn check_resources(kind: GrantKind, resources: &[String]) -> Result<(), String> {
    match kind {
        GrantKind::Memory => match resources {
            [one] if MemoryArn::parse(one).is_ok() => Ok(()),
            _ => Err("its Resource is not exactly one memory ARN".into()),
        },
        GrantKind::Invoke => {
            let runtimes: Vec<&String> = resources
                .iter()
                .filter(|r| RuntimeArn::parse(r).is_ok())
                .collect();
            let [runtime] = runtimes.as_slice() else {
                return Err("its Resource does not name exactly one runtime".into());
            };
            let endpoint_prefix = format!("{runtime}/runtime-endpoint/");
            let foreign = resources.iter().find(|r| {
                *r != *runtime
                    && !r
                        .strip_prefix(&endpoint_prefix)
                        .is_some_and(is_endpoint_name)
            });
            match foreign {
                Some(r) => Err(format!(
                    "its Resource {r} is not the runtime {runtime} or one of its endpoints"
                )),
                None => Ok(()),
            }
        }
    }
}

/// Whether a Create or Update may write `grant` where `stored` is (`None`: no such policy).
/// `previous` is the grant the request's OldResourceProperties describe (in-place Updates
/// only). The error is the Reason.
pub fn may_write(
    stored: Option<&str>,
    grant: &Grant,
    previous: Option<&Grant>,
) -> Result<(), String> {
    let Some(text) = stored else {
        return Ok(());
    };
    let name_taken = |why: &str| {
        format!(
            "property PolicyName has value {:?}; expected a name not already used on role {}: an inline policy of that name exists there and is not this resource's ({why}); choose another PolicyName (or leave it out for a generated one)",
            grant.policy_name, grant.role_name
        )
    };
    match classify(text) {
        Stored::Grant { kind, owner, .. } if kind == grant.kind && owner == grant.owner => Ok(()),
        Stored::Grant { kind, owner, .. } => Err(name_taken(&format!(
            "it is the {} of another corebound resource, owner id {owner} (the OwnerId return value of that resource; this one's is {})",
            kind.resource_type(),
            grant.owner
        ))),
        Stored::Legacy { kind } => match previous {
            Some(previous)
                if kind == grant.kind
                    && decode_policy_document(text).is_ok_and(|stored| {
                        same_meaning(&stored, &previous.legacy_document(), &grant.stack.partition)
                    }) =>
            {
                Ok(())
            }
            _ => Err(name_taken(
                "it was written by a corebound version that did not record its owner, and it is not the document this request's OldResourceProperties describe",
            )),
        },
        Stored::Foreign(why) => Err(name_taken(&format!("not corebound's shape: {why}"))),
    }
}

/// Whether a Delete may remove `stored`, the policy the request's PhysicalResourceId names,
/// for `grant`, what the request's properties describe. The error says why it is kept.
pub fn may_delete(stored: &str, grant: &Grant) -> Result<(), String> {
    match classify(stored) {
        Stored::Grant {
            kind,
            owner,
            resources,
        } => {
            if kind != grant.kind {
                return Err(format!(
                    "it is a {}, not a {}",
                    kind.resource_type(),
                    grant.kind.resource_type()
                ));
            }
            if owner != grant.owner {
                return Err(format!(
                    "it belongs to another corebound resource (owner id {owner}, not {})",
                    grant.owner
                ));
            }
            let mut stored_resources = resources;
            let mut expected = grant.resources.clone();
            stored_resources.sort();
            expected.sort();
            if stored_resources != expected {
                return Err(format!(
                    "it names {}, not what the request's properties name ({})",
                    stored_resources.join(", "),
                    expected.join(", ")
                ));
            }
            Ok(())
        }
        Stored::Legacy { .. } => {
            let same = decode_policy_document(stored).is_ok_and(|document| {
                same_meaning(&document, &grant.legacy_document(), &grant.stack.partition)
            });
            if same {
                Ok(())
            } else {
                Err(
                    "it has no owner id and is not the document the request's properties describe"
                        .into(),
                )
            }
        }
        Stored::Foreign(why) => Err(format!("it is not a policy corebound writes: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::common::test_support::{grant, request, settings, MEMORY, ROLE, STACK};
    use crate::grants::invoke;
    use serde_json::json;

    const RUNTIME: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo_agent-AbCdE12345";

    fn mine() -> Grant {
        grant(json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "P"})).unwrap()
    }

    fn other_owner() -> Grant {
        let mut r = request(
            crate::grants::memory::RESOURCE_TYPE,
            json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "P"}),
        );
        r.logical_resource_id = "SomeoneElse".into();
        Grant::from_request(&r, &settings("LPMA_")).unwrap()
    }

    #[test]
    fn owner_ids_tell_resources_apart_and_fit_a_sid() {
        let a = owner_id(STACK, "Grant");
        assert_eq!(a.len(), OWNER_ID_LEN);
        assert_ne!(a, owner_id(STACK, "Grant2"));
        assert_ne!(a, owner_id(&STACK.replace("demo", "other"), "Grant"));
        assert!(sid(GrantKind::Memory, &a)
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(
            mine().sid(),
            format!("AgentCoreMemoryDataPlane{}", mine().owner)
        );
    }

    #[test]
    fn classification_of_stored_documents() {
        let g = mine();
        let encoded = percent_encoding::utf8_percent_encode(
            &g.document_text(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert_eq!(
            classify(&encoded),
            Stored::Grant {
                kind: GrantKind::Memory,
                owner: g.owner.clone(),
                resources: vec![MEMORY.into()]
            }
        );
        assert_eq!(
            classify(&g.legacy_document().to_string()),
            Stored::Legacy {
                kind: GrantKind::Memory
            }
        );
        let statement = |extra: serde_json::Value| {
            let mut s = json!({"Sid": g.sid(), "Effect": "Allow",
                "Action": "bedrock-agentcore:GetEvent", "Resource": MEMORY});
            s.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"Version": "2012-10-17", "Statement": [s]}).to_string()
        };
        let foreign = [
            (statement(json!({"Effect": "Deny"})), "not an Allow"),
            (statement(json!({"Sid": "SecurityGuardrailDeny"})), "Sid"),
            (statement(json!({"Sid": format!("{}X", g.sid())})), "Sid"),
            (statement(json!({"Action": "iam:PassRole"})), "iam:PassRole"),
            (
                statement(json!({"Action": "bedrock-agentcore:*"})),
                "bedrock-agentcore:*",
            ),
            (
                statement(json!({"Resource": "*"})),
                "exactly one memory ARN",
            ),
            (
                statement(
                    json!({"Resource": [MEMORY, MEMORY.replace("0123456789", "9876543210")]}),
                ),
                "exactly one memory ARN",
            ),
            (
                statement(json!({"Condition": {"Bool": {"aws:SecureTransport": "true"}}})),
                "Condition",
            ),
            (
                json!({"Version": "2012-10-17", "Statement": []}).to_string(),
                "exactly one statement",
            ),
            ("not json".to_string(), "not a JSON policy document"),
        ];
        for (text, why) in foreign {
            match classify(&text) {
                Stored::Foreign(reason) => assert!(reason.contains(why), "{text}: {reason}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // An invoke grant: one runtime and its own endpoints only.
        let invoke_statement = |resources: serde_json::Value| {
            json!({"Version": "2012-10-17", "Statement": [{"Sid": format!("AgentCoreInvokeRuntime{}", g.owner),
                "Effect": "Allow", "Action": ["bedrock-agentcore:InvokeAgentRuntime", "bedrock-agentcore:GetAgentCard"],
                "Resource": resources}]})
            .to_string()
        };
        assert!(matches!(
            classify(&invoke_statement(json!([
                RUNTIME,
                format!("{RUNTIME}/runtime-endpoint/DEFAULT")
            ]))),
            Stored::Grant {
                kind: GrantKind::Invoke,
                ..
            }
        ));
        let other_runtime = RUNTIME.replace("AbCdE12345", "ZzZzZ99999");
        for resources in [
            json!([RUNTIME, format!("{other_runtime}/runtime-endpoint/DEFAULT")]),
            json!([RUNTIME, other_runtime]),
            json!(format!("{RUNTIME}/runtime-endpoint/DEFAULT")),
        ] {
            assert!(
                matches!(
                    classify(&invoke_statement(resources.clone())),
                    Stored::Foreign(_)
                ),
                "{resources}"
            );
        }
    }

    #[test]
    fn creates_write_only_where_nothing_or_their_own_policy_is() {
        let g = mine();
        assert_eq!(may_write(None, &g, None), Ok(()));
        assert_eq!(
            may_write(Some(&g.document_text()), &g, None),
            Ok(()),
            "a retried Create"
        );
        let theirs = other_owner();
        let e = may_write(Some(&theirs.document_text()), &g, None).unwrap_err();
        assert!(
            e.starts_with(&format!("property PolicyName has value \"P\"; expected a name not already used on role {ROLE}"))
                && e.contains(&format!("another corebound resource, owner id {}", theirs.owner)),
            "{e}"
        );
        let e = may_write(Some(&g.legacy_document().to_string()), &g, None).unwrap_err();
        assert!(e.contains("did not record its owner"), "{e}");
        let guardrail = json!({"Version": "2012-10-17", "Statement": [{"Sid": "SecurityGuardrailDeny",
            "Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert!(may_write(Some(&guardrail.to_string()), &g, None)
            .unwrap_err()
            .contains("not corebound's shape"));
        // An in-place Update adopts an owner-less policy that is exactly its old document.
        let old = grant(
            json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "P", "Access": "ReadOnly"}),
        )
        .unwrap();
        assert_eq!(
            may_write(Some(&old.legacy_document().to_string()), &g, Some(&old)),
            Ok(())
        );
        assert!(may_write(Some(&g.legacy_document().to_string()), &g, Some(&old)).is_err());
    }

    #[test]
    fn deletes_remove_only_this_resources_policy_for_this_target() {
        let g = mine();
        assert_eq!(may_delete(&g.document_text(), &g), Ok(()));
        let read_only = grant(
            json!({"RoleName": ROLE, "MemoryArn": MEMORY, "PolicyName": "P", "Access": "ReadOnly"}),
        )
        .unwrap();
        assert_eq!(
            may_delete(&read_only.document_text(), &g),
            Ok(()),
            "the actions may differ"
        );
        assert!(may_delete(&other_owner().document_text(), &g)
            .unwrap_err()
            .contains("another corebound resource"));
        let elsewhere = grant(json!({"RoleName": ROLE, "PolicyName": "P",
            "MemoryArn": MEMORY.replace("0123456789", "9876543210")}))
        .unwrap();
        assert!(may_delete(&elsewhere.document_text(), &g)
            .unwrap_err()
            .contains("not what the request's properties name"));
        assert_eq!(may_delete(&g.legacy_document().to_string(), &g), Ok(()));
        assert!(may_delete(&read_only.legacy_document().to_string(), &g).is_err());
        let guardrail = json!({"Version": "2012-10-17", "Statement": [{"Sid": "SecurityGuardrailDeny",
            "Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert!(may_delete(&guardrail.to_string(), &g)
            .unwrap_err()
            .starts_with("it is not a policy corebound writes"));
        let invoke = Grant::from_request(
            &request(
                invoke::RESOURCE_TYPE,
                json!({"RoleName": ROLE, "RuntimeArn": RUNTIME, "PolicyName": "P", "RequireReady": "false"}),
            ),
            &settings("LPMA_"),
        )
        .unwrap();
        assert!(may_delete(&invoke.document_text(), &g)
            .unwrap_err()
            .contains("not a Custom::AgentCoreMemoryGrant"));
    }
}
