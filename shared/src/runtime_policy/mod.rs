//! `Custom::AgentCoreRuntimePolicy`: the statement corebound owns inside the resource-based
//! policy of an AgentCore runtime and its endpoints.
//!
//! CloudFormation's native resource writes the whole document, so two stacks granting access
//! to one runtime overwrite each other. Here each resource owns exactly one statement (by
//! `Sid`) in each target document and leaves every other statement untouched.
//!
//! * `spec`: the properties, validated, and the statement they describe;
//! * `settings`: the function's scope and allowed principal accounts;
//! * `ownership`: how a resource proves a Sid is its own (default Sid hash, or a tag);
//! * `document`: finding, merging and removing the statement in one target's policy;
//! * `handler`: create, update and delete against AgentCore (a [`PolicyStore`]).

mod document;
mod handler;
mod ownership;
mod settings;
mod spec;

pub use document::{
    holds_statement, revision, with_statement, without_statement, written_by, AfterRemoval,
};
pub use handler::{check_response_size, PolicyStore, RuntimePolicyHandler, WRITE_ATTEMPTS};
pub use ownership::{
    default_statement_id, owner_tag_key, Owner, SidOwner, DEFAULT_SID_PREFIX, OWNER_TAG_PREFIX,
};
pub use settings::{
    runtime_name, AllowedPrincipals, RuntimePolicySettings, ALLOWED_PRINCIPAL_ACCOUNTS_VAR,
    PRINCIPALS_PARAMETER, SCOPE_PARAMETER, SCOPE_PATTERNS_VAR,
};
pub use spec::{parse_physical_id, physical_id, Check, RuntimePolicySpec};

pub const RESOURCE_TYPE: &str = "Custom::AgentCoreRuntimePolicy";

/// AgentCore's limit on a resource policy document, in characters.
pub const MAX_POLICY_CHARS: usize = 20_480;
