//! The decisions of the `memory-grant` function, which serves two resource types:
//! `Custom::AgentCoreMemoryGrant` ([`memory`]) and `Custom::AgentCoreInvokeGrant`
//! ([`invoke`]). Both write one inline policy, owned by the resource, to a role in the stack's
//! own account, and verify after writing that the role can really use it.
//!
//! Everything here is pure: dispatch on the resource type, property validation, the policy
//! document, the PhysicalResourceId ([`common`]), which policies a request may touch
//! ([`ownership`]), and turning simulator or local-evaluator
//! decisions into a verdict and a Reason ([`verification`]). The function crate only calls AWS.

pub mod common;
pub mod invoke;
pub mod memory;
pub mod ownership;
pub mod verification;

pub use common::{
    check_role, check_role_prefix, check_stored_role_name, check_target_scope,
    decode_policy_document, default_policy_name, grant_kind, parse_physical_id, physical_id,
    same_document, stack_location, Grant, GrantKind, GrantSettings, StackLocation, Target,
    GENERIC_RESOURCE_TYPE, SERVICE_PREFIX,
};
pub use verification::{
    denial_reason, simulated_evaluation, simulated_evaluations, verdict, verification_value,
    worth_rechecking, SimulatedDecision, SimulatedResult, Verdict,
};
