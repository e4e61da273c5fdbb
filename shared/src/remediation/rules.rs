//! The individual decisions: which events to act on, which resources are ours, which
//! tags are missing, and whether a resource's encryption must change.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use crate::scope::in_scope;

use super::authenticity::{authenticate, Forgery, TrustedAccounts};
use super::config::{arn_parts, RemediationConfig};
use super::creator::ProvisioningTool;
use super::drift::relevance;
use super::event::{Actor, CreateEvent, ResourceKind, ResourceRef};
use crate::accounts::SPOKE_SESSION_NAME;

/// Why an event leads to no remediation at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "skip", rename_all = "snake_case")]
pub enum SkipReason {
    /// The call failed (`errorCode` present): nothing was created.
    FailedCall { error_code: String },
    /// The remediator's own call (loop guard): its fixes must not trigger more fixes.
    OwnAction { actor: String },
    /// Not one of the create events of issue 5's table.
    Unhandled {
        event_source: String,
        event_name: String,
    },
    /// A handled event without the resource's identity: a person must look.
    ResourceNotInEvent { event_name: String },
    /// Not an AWS event of this account (see [`super::authenticity`]): nothing is read.
    NotAuthentic { forgery: Forgery },
    /// The name the event gives (or, for a KMS key, every alias) matches no
    /// `SCOPE_PATTERNS`: another team's resource, never read, never written, not alerted.
    OutOfScope { names: Vec<String> },
    /// A bucket a provisioning tool created: its own tagging and encryption calls follow
    /// (see [`super::creator`]).
    Deferred {
        tool: ProvisioningTool,
        /// When the event comes back through `DEFERRAL_QUEUE_URL`; `None` without a queue.
        recheck_after_seconds: Option<u32>,
    },
    /// The resource no longer exists (deleted within seconds, a rollback): nothing to fix.
    Gone { operation: String, error: String },
    /// A drift event that cannot have removed a required tag or the CMK (see
    /// [`super::drift::relevance`]): nothing is read.
    NoDrift { event_name: String, why: String },
    /// Organization mode: `ACCOUNT_SETTINGS` gives the event's account no settings, or no
    /// key for its region (see [`crate::accounts::Unresolved`]); nothing is read or written.
    NoSettings {
        account: String,
        region: String,
        reason: String,
    },
    /// Organization mode: the hub could not act in the account (the spoke role is missing,
    /// the ExternalId is wrong, the session was refused...); nothing is read or written.
    AccountUnreachable {
        account: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        role_arn: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<String>,
        reason: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FailedCall { error_code } => write!(f, "failed call ({error_code})"),
            Self::OwnAction { actor } => write!(f, "own action of {actor} (loop guard)"),
            Self::Unhandled {
                event_source,
                event_name,
            } => write!(f, "unhandled event {event_source} {event_name}"),
            Self::ResourceNotInEvent { event_name } => {
                write!(f, "{event_name} event does not identify the resource")
            }
            Self::NotAuthentic { forgery } => write!(f, "not an authentic AWS event: {forgery}"),
            Self::OutOfScope { names } if names.is_empty() => {
                write!(f, "out of scope: no name or alias to match SCOPE_PATTERNS")
            }
            Self::OutOfScope { names } => write!(
                f,
                "out of scope: {} matches no SCOPE_PATTERNS",
                names.join(", ")
            ),
            Self::Deferred {
                tool,
                recheck_after_seconds,
            } => {
                write!(
                    f,
                    "deferred: bucket created by {tool}, whose own PutBucketTagging / \
                     PutBucketEncryption follows"
                )?;
                match recheck_after_seconds {
                    Some(seconds) => write!(f, " (re-checked in {seconds} s)"),
                    None => Ok(()),
                }
            }
            Self::NoDrift { event_name, why } => write!(f, "no drift: {event_name} {why}"),
            Self::NoSettings { reason, .. } => write!(f, "no settings: {reason}"),
            Self::AccountUnreachable {
                account, reason, ..
            } => write!(f, "cannot act in account {account}: {reason}"),
            Self::Gone { operation, error } => {
                write!(
                    f,
                    "gone: the resource no longer exists ({operation}: {error})"
                )
            }
        }
    }
}

/// Decides whether an event is acted on: the resource to remediate, or why not. Nothing
/// here needs a read: every skip costs no AWS call.
///
/// Checked in this order: authenticity, a failed call (which also lacks the resource), the
/// loop guard, an unhandled event, a drift event that cannot have removed a required tag or
/// the CMK ([`relevance`]), a handled event without the resource's identity, and
/// the scope when the event names the resource (KMS keys and redacted AgentCore names are
/// judged by [`scope_of_names`] once their aliases or names are read).
pub fn triage<'a>(
    event: &'a CreateEvent,
    config: &RemediationConfig,
    trusted: &TrustedAccounts,
) -> Result<&'a ResourceRef, SkipReason> {
    authenticate(event, trusted).map_err(|forgery| SkipReason::NotAuthentic { forgery })?;
    if let Some(error_code) = &event.error_code {
        return Err(SkipReason::FailedCall {
            error_code: error_code.clone(),
        });
    }
    if let Some(self_role) = &config.self_role_arn {
        if is_own_action(&event.actor, self_role) {
            return Err(SkipReason::OwnAction {
                actor: event.actor.arn.clone().unwrap_or_else(|| self_role.clone()),
            });
        }
    }
    if let Some(spoke_role) = &config.spoke_role_name {
        if let Some(actor) = spoke_session(&event.actor, spoke_role) {
            return Err(SkipReason::OwnAction { actor });
        }
    }
    if !event.is_handled() {
        return Err(SkipReason::Unhandled {
            event_source: event.event_source.clone(),
            event_name: event.event_name.clone(),
        });
    }
    if let Some(why) = event
        .drift
        .as_ref()
        .and_then(|change| relevance(change, config))
    {
        return Err(SkipReason::NoDrift {
            event_name: event.event_name.clone(),
            why,
        });
    }
    let resource = event
        .resource
        .as_ref()
        .ok_or_else(|| SkipReason::ResourceNotInEvent {
            event_name: event.event_name.clone(),
        })?;
    if let Some(name) = resource.scope_name() {
        scope_of_names(&[name], config)?;
    }
    Ok(resource)
}

/// The scope rule: in scope when any of the names (a resource's name, or a KMS key's
/// aliases without `alias/`) matches `SCOPE_PATTERNS`.
pub fn scope_of_names(names: &[String], config: &RemediationConfig) -> Result<(), SkipReason> {
    if names
        .iter()
        .any(|name| in_scope(name, &config.scope_patterns))
    {
        Ok(())
    } else {
        Err(SkipReason::OutOfScope {
            names: names.to_vec(),
        })
    }
}

/// True when the actor is the role `self_role` names (a role ARN or a session of it) or
/// any session of that role. Assumed-role ARNs drop the role's path, so roles are compared
/// by partition, account and name; IAM role names are unique ignoring case.
fn is_own_action(actor: &Actor, self_role: &str) -> bool {
    let Some((partition, account, name)) = role_identity(self_role) else {
        return false;
    };
    [&actor.arn, &actor.session_issuer_arn]
        .into_iter()
        .flatten()
        .filter_map(|arn| role_identity(arn))
        .any(|(p, a, n)| p == partition && a == account && n.eq_ignore_ascii_case(name))
}

/// The hub's own session in a spoke (organization mode): the caller is the session
/// [`SPOKE_SESSION_NAME`] of the role `SPOKE_ROLE_NAME`, in any account. Only the hub's role
/// may assume that role (its trust policy), and the hub always names its session so: such a
/// write is a fix of the hub's, which must not trigger another fix. The same role under another
/// session name is not the hub's remediation (never skipped).
fn spoke_session(actor: &Actor, spoke_role: &str) -> Option<String> {
    let arn = actor.arn.as_deref()?;
    let [_, _, service, _, _, resource] = arn_parts(arn)?;
    let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (service == "sts" && role.eq_ignore_ascii_case(spoke_role) && session == SPOKE_SESSION_NAME)
        .then(|| arn.to_string())
}

/// `(partition, account, role name)` of a role ARN or an assumed-role session ARN.
fn role_identity(arn: &str) -> Option<(&str, &str, &str)> {
    let [_, partition, service, _, account, resource] = arn_parts(arn)?;
    let name = match service {
        "iam" => resource.strip_prefix("role/")?.rsplit('/').next()?,
        "sts" => resource.strip_prefix("assumed-role/")?.split('/').next()?,
        _ => return None,
    };
    (!name.is_empty()).then_some((partition, account, name))
}

/// The required tags whose key is absent from `current`.
///
/// A key that is present is never overwritten, whatever its value, even an empty one:
/// someone set it (the plan reports empty required values instead). Keys are compared
/// exactly, as SNS, SQS, Logs, S3, Secrets Manager, KMS and AgentCore tags are
/// case-sensitive; IAM is handled by the plan (its tag keys are not).
pub fn missing_tags(
    current: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    required
        .iter()
        .filter(|(key, _)| !current.contains_key(*key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The complete tag set to send to S3 `PutBucketTagging`, which replaces the whole set:
/// every current tag unchanged plus the missing required ones, so nothing is ever dropped.
pub fn merged_bucket_tags(
    current: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged = current.clone();
    merged.extend(missing_tags(current, required));
    merged
}

/// True when the resource carries `opt_out_tag` with value `off` (any case, trimmed).
/// IAM tag keys are case-insensitive, so on a role the key matches in any case, like the
/// other IAM keys; every other service compares keys exactly.
pub fn is_opted_out(
    kind: ResourceKind,
    tags: &BTreeMap<String, String>,
    opt_out_tag: &str,
) -> bool {
    let off = |value: &String| value.trim().eq_ignore_ascii_case("off");
    match kind {
        ResourceKind::IamRole => tags
            .iter()
            .any(|(key, value)| key.eq_ignore_ascii_case(opt_out_tag) && off(value)),
        _ => tags.get(opt_out_tag).is_some_and(off),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::config::tests::{sample, SELF_ROLE};
    use crate::remediation::event::tests::fixture;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn with_actor(arn: Option<&str>, issuer: Option<&str>) -> CreateEvent {
        let mut event = fixture("create-topic.json");
        event.actor = Actor {
            arn: arn.map(str::to_string),
            session_issuer_arn: issuer.map(str::to_string),
            ..Actor::default()
        };
        event
    }

    fn trusted() -> TrustedAccounts {
        TrustedAccounts::learn(Some(SELF_ROLE), None)
    }

    #[test]
    fn forged_events_are_skipped_before_anything_else() {
        let mut forged = fixture("create-topic-failed.json");
        forged.authenticity.source = Some("corebound.forged".to_string());
        assert!(matches!(
            triage(&forged, &sample(), &trusted()),
            Err(SkipReason::NotAuthentic {
                forgery: Forgery::SourceNotAws { .. }
            })
        ));
        let event = fixture("create-topic.json");
        let foreign = TrustedAccounts::learn(Some("arn:aws:iam::210987654321:role/x"), None);
        let skipped = triage(&event, &sample(), &foreign).unwrap_err();
        assert!(
            skipped
                .to_string()
                .starts_with("not an authentic AWS event: account 123456789012 is not"),
            "{skipped}"
        );
    }

    #[test]
    fn out_of_scope_names_are_skipped_before_any_read() {
        let config = sample();
        let mut event = fixture("create-bucket.json");
        event.resource = Some(ResourceRef::S3Bucket {
            name: "payments-ledger".to_string(),
        });
        let skipped = triage(&event, &config, &trusted()).unwrap_err();
        assert_eq!(
            skipped,
            SkipReason::OutOfScope {
                names: vec!["payments-ledger".to_string()]
            }
        );
        assert_eq!(
            skipped.to_string(),
            "out of scope: payments-ledger matches no SCOPE_PATTERNS"
        );
        // A key (no name) and a redacted AgentCore name go on to be read.
        assert!(triage(&fixture("create-key.json"), &config, &trusted()).is_ok());
        let mut redacted = fixture("create-gateway.json");
        redacted.resource = Some(ResourceRef::Gateway {
            name: None,
            arn: Some(
                "arn:aws:bedrock-agentcore:us-east-1:123456789012:gateway/x-abcdefghij".into(),
            ),
        });
        assert!(triage(&redacted, &config, &trusted()).is_ok());
        assert_eq!(
            scope_of_names(&["corebound-demo-data".to_string()], &config),
            Ok(())
        );
        assert!(scope_of_names(&[], &config).is_err());
    }

    #[test]
    fn triage_acts_on_every_successful_fixture() {
        let config = sample();
        for name in [
            "create-topic.json",
            "create-queue.json",
            "create-log-group.json",
            "create-bucket.json",
            "create-secret.json",
            "create-role.json",
            "create-key.json",
            "create-agent-runtime.json",
            "create-memory.json",
            "create-gateway.json",
        ] {
            let event = fixture(name);
            assert_eq!(
                triage(&event, &config, &trusted()),
                Ok(event.resource.as_ref().unwrap()),
                "{name}"
            );
        }
    }

    #[test]
    fn triage_skips_failed_calls() {
        let event = fixture("create-topic-failed.json");
        assert_eq!(
            triage(&event, &sample(), &trusted()),
            Err(SkipReason::FailedCall {
                error_code: "AuthorizationError".to_string()
            })
        );
    }

    #[test]
    fn loop_guard_recognises_the_own_role_and_its_sessions() {
        let session =
            "arn:aws:sts::123456789012:assumed-role/LPMA_Demo_Remediator/corebound-remediator";
        // (case, actor arn, session issuer arn, self role override, own action?)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            bool,
        );
        let cases: &[Case<'_>] = &[
            (
                "session issuer is the role",
                Some(session),
                Some(SELF_ROLE),
                None,
                true,
            ),
            (
                "assumed-role session without issuer (path dropped)",
                Some(session),
                None,
                None,
                true,
            ),
            ("the role ARN itself", Some(SELF_ROLE), None, None, true),
            (
                "role name differs only in case",
                Some("arn:aws:sts::123456789012:assumed-role/lpma_demo_remediator/x"),
                None,
                None,
                true,
            ),
            (
                "self given as a session ARN, other session",
                Some("arn:aws:sts::123456789012:assumed-role/LPMA_Demo_Remediator/other"),
                None,
                Some(session),
                true,
            ),
            (
                "deployer role",
                Some("arn:aws:sts::123456789012:assumed-role/LPMA_Demo_Deployer/ci"),
                Some("arn:aws:iam::123456789012:role/LPMA_Demo_Deployer"),
                None,
                false,
            ),
            (
                "same role name in another account",
                Some("arn:aws:sts::210987654321:assumed-role/LPMA_Demo_Remediator/x"),
                None,
                None,
                false,
            ),
            (
                "role name with the own name as prefix",
                Some("arn:aws:sts::123456789012:assumed-role/LPMA_Demo_RemediatorX/x"),
                None,
                None,
                false,
            ),
            (
                "IAM user of the same name",
                Some("arn:aws:iam::123456789012:user/LPMA_Demo_Remediator"),
                None,
                None,
                false,
            ),
            ("no identity", None, None, None, false),
        ];
        for (case, arn, issuer, self_role, own) in cases {
            let mut config = sample();
            if let Some(self_role) = self_role {
                config.self_role_arn = Some(self_role.to_string());
            }
            let event = with_actor(*arn, *issuer);
            let result = triage(&event, &config, &trusted());
            assert_eq!(
                matches!(result, Err(SkipReason::OwnAction { .. })),
                *own,
                "{case}: {result:?}"
            );
        }
    }

    #[test]
    fn loop_guard_recognises_the_hubs_sessions_in_every_spoke() {
        let mut config = sample();
        config.spoke_role_name = Some("LPMA_Corebound_Remediation".to_string());
        let cases = [
            (
                "hub session in a spoke",
                "arn:aws:sts::222233334444:assumed-role/LPMA_Corebound_Remediation/corebound-remediator",
                true,
            ),
            (
                "role name in another case (IAM names ignore case)",
                "arn:aws:sts::555566667777:assumed-role/lpma_corebound_remediation/corebound-remediator",
                true,
            ),
            (
                "the spoke role under another session name",
                "arn:aws:sts::222233334444:assumed-role/LPMA_Corebound_Remediation/console",
                false,
            ),
            (
                "another role with the hub's session name",
                "arn:aws:sts::222233334444:assumed-role/LPMA_Deployer/corebound-remediator",
                false,
            ),
            (
                "a role of the spoke role's name as prefix",
                "arn:aws:sts::222233334444:assumed-role/LPMA_Corebound_RemediationX/corebound-remediator",
                false,
            ),
            (
                "an IAM user",
                "arn:aws:iam::222233334444:user/LPMA_Corebound_Remediation",
                false,
            ),
        ];
        for (case, arn, own) in cases {
            let event = with_actor(Some(arn), None);
            let result = triage(&event, &config, &trusted());
            assert_eq!(
                matches!(result, Err(SkipReason::OwnAction { .. })),
                own,
                "{case}: {result:?}"
            );
        }
        // Without SPOKE_ROLE_NAME (single account) no spoke session is recognised.
        let event = with_actor(
            Some("arn:aws:sts::222233334444:assumed-role/LPMA_Corebound_Remediation/corebound-remediator"),
            None,
        );
        assert!(triage(&event, &sample(), &trusted()).is_ok());
    }

    #[test]
    fn loop_guard_is_off_without_self_role() {
        let mut config = sample();
        config.self_role_arn = None;
        let event = with_actor(Some(SELF_ROLE), None);
        assert!(triage(&event, &config, &trusted()).is_ok());
    }

    #[test]
    fn triage_skips_unhandled_events_and_events_without_identity() {
        let config = sample();
        let mut unhandled = fixture("create-topic.json");
        unhandled.event_name = "DeleteTopic".to_string();
        unhandled.resource = None;
        assert_eq!(
            triage(&unhandled, &config, &trusted()),
            Err(SkipReason::Unhandled {
                event_source: "sns.amazonaws.com".to_string(),
                event_name: "DeleteTopic".to_string()
            })
        );
        let mut anonymous = fixture("create-topic.json");
        anonymous.resource = None;
        assert_eq!(
            triage(&anonymous, &config, &trusted()),
            Err(SkipReason::ResourceNotInEvent {
                event_name: "CreateTopic".to_string()
            })
        );
    }

    #[test]
    fn skip_reasons_read_well() {
        let cases = [
            (
                SkipReason::FailedCall {
                    error_code: "AccessDenied".into(),
                },
                "failed call (AccessDenied)",
            ),
            (
                SkipReason::OwnAction {
                    actor: "arn:x".into(),
                },
                "own action of arn:x (loop guard)",
            ),
            (
                SkipReason::Unhandled {
                    event_source: "sns.amazonaws.com".into(),
                    event_name: "Publish".into(),
                },
                "unhandled event sns.amazonaws.com Publish",
            ),
            (
                SkipReason::ResourceNotInEvent {
                    event_name: "CreateTopic".into(),
                },
                "CreateTopic event does not identify the resource",
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn scope_uses_any_pattern() {
        let patterns = sample().scope_patterns;
        let cases = [
            ("corebound-demo-alerts", true),
            ("corebound_demo_agent", true),
            ("LPMA_Demo_AgentRuntime", true),
            ("other-team-alerts", false),
            ("corebound-demo", false),
        ];
        for (name, expected) in cases {
            assert_eq!(in_scope(name, &patterns), expected, "{name}");
        }
    }

    #[test]
    fn missing_tags_never_overwrites_present_values() {
        let required = sample().required_tags;
        let cases = [
            (
                "untagged",
                tags(&[]),
                vec![
                    "ApplicationId",
                    "Environment",
                    "ManagedBy",
                    "Project",
                    "ServiceLine",
                ],
            ),
            (
                "someone's own values stay",
                tags(&[("Environment", "prod"), ("Project", "other")]),
                vec!["ApplicationId", "ManagedBy", "ServiceLine"],
            ),
            (
                "empty value counts as set",
                tags(&[("ServiceLine", "")]),
                vec!["ApplicationId", "Environment", "ManagedBy", "Project"],
            ),
            (
                "keys are case-sensitive",
                tags(&[("environment", "prod")]),
                vec![
                    "ApplicationId",
                    "Environment",
                    "ManagedBy",
                    "Project",
                    "ServiceLine",
                ],
            ),
            ("complete", required.clone(), vec![]),
        ];
        for (case, current, keys) in cases {
            let missing = missing_tags(&current, &required);
            assert_eq!(
                missing.keys().map(String::as_str).collect::<Vec<_>>(),
                keys,
                "{case}"
            );
            for (key, value) in &missing {
                assert_eq!(
                    value, &required[key],
                    "{case}: values come from REQUIRED_TAGS"
                );
            }
        }
    }

    #[test]
    fn bucket_tag_merge_keeps_every_existing_tag() {
        let required = sample().required_tags;
        let current = tags(&[
            ("Environment", "prod"),
            ("DataClass", "confidential"),
            ("Owner", ""),
        ]);
        let merged = merged_bucket_tags(&current, &required);
        for (key, value) in &current {
            assert_eq!(merged.get(key), Some(value), "{key} kept unchanged");
        }
        for key in ["ApplicationId", "Project", "ServiceLine", "ManagedBy"] {
            assert_eq!(merged[key], required[key]);
        }
        assert_eq!(merged.len(), current.len() + 4);
        assert_eq!(
            merged_bucket_tags(&merged, &required),
            merged,
            "merging is idempotent"
        );
    }

    #[test]
    fn opt_out_needs_the_value_off_in_any_case() {
        let key = "corebound:remediation";
        let cases = [
            (tags(&[(key, "off")]), true),
            (tags(&[(key, "OFF")]), true),
            (tags(&[(key, " Off ")]), true),
            (tags(&[(key, "on")]), false),
            (tags(&[(key, "")]), false),
            (tags(&[("Corebound:Remediation", "off")]), false),
            (tags(&[]), false),
        ];
        for (current, expected) in cases {
            assert_eq!(
                is_opted_out(ResourceKind::SnsTopic, &current, key),
                expected,
                "{current:?}"
            );
        }
    }

    #[test]
    fn opt_out_key_on_roles_ignores_case_like_every_iam_key() {
        let key = "corebound:remediation";
        for (current, expected) in [
            (tags(&[("Corebound:Remediation", "off")]), true),
            (tags(&[("COREBOUND:REMEDIATION", " Off")]), true),
            (tags(&[("corebound:remediation", "off")]), true),
            (tags(&[("Corebound:Remediation", "on")]), false),
            (tags(&[("Corebound:Remediation2", "off")]), false),
        ] {
            assert_eq!(
                is_opted_out(ResourceKind::IamRole, &current, key),
                expected,
                "{current:?}"
            );
        }
    }
}
