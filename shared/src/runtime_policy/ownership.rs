//! Who wrote a statement: the record that lets a resource prove, in AWS itself, that a
//! statement with its Sid is its own.
//!
//! A resource is identified by its owner: the StackId and LogicalResourceId of its requests
//! (a retried request carries the same two). The record survives in AWS:
//! * the **default Sid** carries it: `Corebound<LogicalResourceId, first 48 letters/digits>`
//!   followed by 8 hex characters of a hash of the StackId (and of the full logical id when
//!   it was cut). Explicit `StatementId`s may not use the `Corebound` prefix, so only the
//!   owner itself ever writes a Sid of that form;
//! * an **explicit `StatementId`** is recorded in a tag on the runtime:
//!   `corebound:sid:<Sid>` = `<owner hash> <LogicalResourceId> <stack name>`. It is written
//!   before the first statement and removed after the last one.

use std::collections::BTreeMap;

use crate::policy_document::short_hash;

/// The prefix of default Sids, reserved for them.
pub const DEFAULT_SID_PREFIX: &str = "Corebound";
/// Tag key prefix of the ownership record of an explicit StatementId.
pub const OWNER_TAG_PREFIX: &str = "corebound:sid:";
/// Longest logical-id part of a default Sid.
pub const DEFAULT_SID_LOGICAL_CHARS: usize = 48;
const MAX_TAG_VALUE: usize = 256;

/// The resource a request speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// 12 hex characters of a hash of StackId and LogicalResourceId.
    pub hash: String,
    /// `<LogicalResourceId> in stack <stack name>`, for Reasons and logs.
    pub label: String,
    logical_resource_id: String,
    stack_name: String,
}

impl Owner {
    pub fn new(stack_id: &str, logical_resource_id: &str) -> Self {
        // arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>
        let stack_name = stack_id
            .split_once(":stack/")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or(stack_id)
            .to_string();
        Owner {
            hash: short_hash(&format!("{stack_id}|{logical_resource_id}")),
            label: format!("{logical_resource_id} in stack {stack_name}"),
            logical_resource_id: logical_resource_id.to_string(),
            stack_name,
        }
    }

    /// The value of the ownership tag: the hash, then who, for people reading the tags.
    pub fn tag_value(&self) -> String {
        let text = format!(
            "{} {} {}",
            self.hash, self.logical_resource_id, self.stack_name
        );
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric() || " ._:/=+@-".contains(*c))
            .take(MAX_TAG_VALUE)
            .collect()
    }
}

/// Deterministic from the stack and logical id, valid as an IAM Sid (letters and digits).
/// The logical id is cut to 48 characters; a cut one is disambiguated by hashing it too.
pub fn default_statement_id(stack_id: &str, logical_resource_id: &str) -> String {
    let alphanumeric: Vec<char> = logical_resource_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let logical: String = alphanumeric
        .iter()
        .take(DEFAULT_SID_LOGICAL_CHARS)
        .collect();
    let hash = if alphanumeric.len() > DEFAULT_SID_LOGICAL_CHARS {
        short_hash(&format!("{stack_id}|{logical_resource_id}"))
    } else {
        // Unchanged from earlier versions, so existing resources keep their Sid.
        short_hash(stack_id)
    };
    format!("{DEFAULT_SID_PREFIX}{logical}{}", &hash[..8])
}

/// What the record says about a Sid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SidOwner {
    /// The Sid is this resource's (its default Sid, or the tag names it).
    This,
    /// The tag names another resource (its label).
    Other(String),
    /// No record: an explicit Sid that nobody recorded (yet).
    Unrecorded,
}

/// Ownership of `sid` for `owner`, given the runtime's tags (`None`: not read, because the
/// Sid is the default one and carries its owner).
pub fn sid_owner(
    sid: &str,
    default_sid: &str,
    owner: &Owner,
    tags: Option<&BTreeMap<String, String>>,
) -> SidOwner {
    if sid == default_sid {
        return SidOwner::This;
    }
    match tags.and_then(|tags| tags.get(&owner_tag_key(sid))) {
        None => SidOwner::Unrecorded,
        Some(value) => {
            let mut words = value.split(' ');
            if words.next() == Some(owner.hash.as_str()) {
                SidOwner::This
            } else {
                let who: Vec<&str> = words.collect();
                SidOwner::Other(match who.as_slice() {
                    [logical, stack @ ..] if !stack.is_empty() => {
                        format!("{logical} in stack {}", stack.join(" "))
                    }
                    _ => format!("the owner recorded in tag {} ({value})", owner_tag_key(sid)),
                })
            }
        }
    }
}

pub fn owner_tag_key(sid: &str) -> String {
    format!("{OWNER_TAG_PREFIX}{sid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/pay-agent/7d5e1f60-8f3a-11ef-9c1d-0a1b2c3d4e5f";

    #[test]
    fn default_sid_is_stable_and_cut_ids_stay_distinct() {
        // The Sid the sample events carry (created by earlier versions).
        assert_eq!(
            default_statement_id(
                "arn:aws:cloudformation:us-east-1:123456789012:stack/corebound-demo-agent/7d5e1f60-8f3a-11ef-9c1d-0a1b2c3d4e5f",
                "CrossAccountInvokePolicy"
            ),
            "CoreboundCrossAccountInvokePolicy103dd844"
        );
        let long_a = format!("{}A", "X".repeat(48));
        let long_b = format!("{}B", "X".repeat(48));
        let (a, b) = (
            default_statement_id(STACK, &long_a),
            default_statement_id(STACK, &long_b),
        );
        assert_ne!(a, b);
        assert_eq!(a.len(), DEFAULT_SID_PREFIX.len() + 48 + 8);
        assert!(a.len() <= 100 && a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn tag_records_the_owner() {
        let me = Owner::new(STACK, "ProdInvoke");
        let other = Owner::new(STACK, "AuditInvoke");
        assert_eq!(me.label, "ProdInvoke in stack pay-agent");
        assert!(me.tag_value().starts_with(&me.hash));
        let tags = BTreeMap::from([(owner_tag_key("Shared"), other.tag_value())]);
        assert_eq!(
            sid_owner("Shared", "CoreboundX", &me, Some(&tags)),
            SidOwner::Other("AuditInvoke in stack pay-agent".into())
        );
        assert_eq!(
            sid_owner("Shared", "CoreboundX", &other, Some(&tags)),
            SidOwner::This
        );
        assert_eq!(
            sid_owner("Mine", "CoreboundX", &me, Some(&tags)),
            SidOwner::Unrecorded
        );
        assert_eq!(
            sid_owner("CoreboundX", "CoreboundX", &me, None),
            SidOwner::This
        );
        let odd = BTreeMap::from([(owner_tag_key("Shared"), "nonsense".to_string())]);
        assert!(matches!(
            sid_owner("Shared", "CoreboundX", &me, Some(&odd)),
            SidOwner::Other(label) if label.contains("corebound:sid:Shared")
        ));
    }

    #[test]
    fn tag_value_fits_agentcore_rules() {
        let owner = Owner::new(&format!("{STACK}{}", "é!".repeat(200)), &"L".repeat(255));
        let value = owner.tag_value();
        assert!(value.len() <= 256);
        assert!(value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._:/=+@-".contains(c)));
        assert!(owner_tag_key(&"S".repeat(100)).len() <= 128);
    }
}
