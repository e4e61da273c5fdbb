//! Remediation rules: which new resources lack mandatory tags or CMK encryption, and what to do.
//!
//! The remediator Lambda (issue 5) reacts to CloudTrail create events, and to the drift
//! events of issue 12 that may remove a required tag or the CMK later ([`DRIFT_EVENTS`]). Everything it
//! decides lives here as plain functions on values, so every rule is unit-tested without
//! AWS; the handler only reads state and makes the calls a [`Plan`] lists:
//!
//! 1. [`RemediationConfig::from_env`] once at start (invalid configuration stops the function).
//! 2. [`CreateEvent::from_eventbridge`] parses the event leniently.
//! 3. [`triage`] returns the [`ResourceRef`] to act on, or a [`SkipReason`] (not authentic
//!    ([`authenticate`]), failed call, own action, unhandled, identity missing, out of scope
//!    by the name in the event) to audit with [`AuditRecord::skipped`], with no AWS call.
//!    A bucket a provisioning tool created is deferred ([`deferred_create`]).
//! 4. The handler reads the resource into an [`ObservedState`] (AgentCore resources
//!    without an ARN are looked up by name first).
//! 5. [`plan()`] decides; the handler runs the actions (enforce mode) and logs
//!    [`plan_records`], alerting on those that [`AuditRecord::needs_person`].
//!
//! Decisions where issue 5 is silent, all conservative (never overwrite, never guess):
//! - A required tag key that is present is never overwritten, even with an empty value;
//!   the empty value is reported. IAM tag keys compare ignoring case.
//! - A resource is switched to the CMK only when it has no key of its own choosing
//!   (absent, default or AWS-managed); another key, an alias or id that cannot be
//!   resolved without KMS, and S3 DSSE are reported, never replaced.
//! - KMS keys have no name: their scope is judged on their aliases (a key without a
//!   matching alias yet is reported as out of scope). Keys are tagged, never re-encrypted.
//! - Secrets are scoped on their name (ARN minus the six-character random suffix);
//!   log groups on their full name; AgentCore resources on the name in the request.
//! - Out-of-scope and opted-out resources get exactly one finding; nothing else is judged.
//! - The project key is described once per cold start ([`check_key`]); a key with a problem
//!   is never written anywhere (tags still are). Its aliases count as the key.
//! - A switch to the CMK that would stop an AWS service delivering into the resource, or
//!   that CloudWatch Logs could not use, is not made ([`guard_key_switch`]); log-delivery
//!   buckets stay on SSE-S3 (an exception, not a finding).
//! - Tags are never written past AWS's limit of 50 per resource: reported instead.

mod audit;
mod authenticity;
mod config;
mod creator;
pub mod delivery;
mod drift;
mod encryption;
mod event;
pub mod key_policy;
mod plan;
mod project_key;
mod redelivery;
mod rules;

pub use audit::{plan_records, AuditAction, AuditRecord, AuditResult, Execution, Rule};
pub use authenticity::{authenticate, Forgery, OtherAccounts, TrustedAccounts};
pub use config::{ConfigError, Mode, RemediationConfig, DEFAULT_OPT_OUT_TAG, MANDATORY_TAG_KEYS};
pub use creator::{
    deferred_create, fresh_bucket_tags, lost_tags, provisioning_tool, repaired_tags,
    restrict_to_trigger, ProvisioningTool,
};
pub use delivery::{guard_key_switch, needs_key_policy};
pub use drift::{drift_event, relevance, DriftChange, DriftEvent, DRIFT_EVENTS};
pub use encryption::{classify_key, encryption_decision, EncryptionDecision, KeyClass};
pub use event::{
    agentcore_id_from_arn, is_redacted, Actor, CreateEvent, Provenance, ResourceKind, ResourceRef,
    Trigger, HANDLED_SOURCES, REDACTION_MARKERS,
};
pub use plan::{
    plan, Action, EncryptionChange, EncryptionState, Exception, Finding, ObservedState, Plan,
    S3DefaultEncryption, TAGS_PER_RESOURCE,
};
pub use project_key::{check_key, KeyDescription, KeyProblem, KeyStatus};
pub use redelivery::{
    alert_on_failure, queue_identity, retry_delay, url_names_queue, Attempt, DeferralConfig,
    Delivery, QueuedRecord, Redelivery, RedeliveryReason, Requeued, DEFAULT_DEFERRAL_DELAY_SECONDS,
    DEFAULT_RETRY_DELAY_SECONDS, MAX_RETRIES,
};
pub use rules::{
    in_scope, is_opted_out, merged_bucket_tags, missing_tags, scope_of_names, triage, SkipReason,
};
