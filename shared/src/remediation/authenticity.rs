//! Which events are authentic: the one place that decides whether an event may lead to any
//! read or write (issue 16, "authentic events only").
//!
//! EventBridge reserves sources that begin with `aws.` for AWS itself, so anyone with
//! `events:PutEvents` can put a look-alike "AWS API Call via CloudTrail" event on the bus,
//! but never with an `aws.` source. For AWS events EventBridge sets `source` from the
//! CloudTrail `eventSource` (`aws.<service>` for `<service>.amazonaws.com`) and `account` to
//! the account the call was made in. An event is acted on only when
//!
//! 1. `source` starts with `aws.`;
//! 2. `detail.eventSource` is that service's: `aws.s3` ↔ `s3.amazonaws.com`;
//! 3. `account` is one of the [`TrustedAccounts`]: the function's own account, and in
//!    organization mode the accounts `ACCOUNT_SETTINGS` covers
//!    ([`crate::accounts::AccountSettings::other_accounts`] decides which).
//!
//! Anything else is audited as [`SkipReason::NotAuthentic`](super::SkipReason) with no AWS
//! call at all. Organization mode (a hub account receiving other accounts' events through
//! its own rule) extends [`TrustedAccounts`], not the checks.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::config::arn_parts;
use super::event::CreateEvent;

/// The accounts whose events the function acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrustedAccounts {
    /// The function's own account; `None` when it could not be learned (then only the
    /// listed [`OtherAccounts`] are trusted).
    pub own: Option<String>,
    /// Other accounts (organization mode); none by default.
    pub others: OtherAccounts,
    /// The function's partition (`aws`, `aws-cn`...), learned with its account: the spoke
    /// roles' ARNs are built in it.
    pub partition: Option<String>,
}

/// The accounts besides the function's own that a hub acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherAccounts {
    /// Single-account deployment.
    #[default]
    None,
    /// Only these (accounts with an entry in `ACCOUNT_SETTINGS`).
    Listed(BTreeSet<String>),
    /// Any account (`ACCOUNT_SETTINGS` has a `default`; AWS bounds them to the organization).
    Any,
}

impl TrustedAccounts {
    /// The function's own account, learned from what AWS (not the event) says about the
    /// function, in this order:
    /// 1. the invoked function ARN in the Lambda context (`Lambda-Runtime-Invoked-Function-Arn`,
    ///    set by Lambda on every invocation);
    /// 2. `SELF_ROLE_ARN` (the function's own role, set by the template).
    ///
    /// `KMS_KEY_ARN` is not used: a project key may live in another (security) account.
    pub fn learn(invoked_function_arn: Option<&str>, self_role_arn: Option<&str>) -> Self {
        let arn = [invoked_function_arn, self_role_arn]
            .into_iter()
            .flatten()
            .find(|arn| account_of(arn).is_some());
        Self {
            own: arn.and_then(account_of),
            others: OtherAccounts::None,
            partition: arn
                .and_then(|arn| arn_parts(arn.trim()))
                .map(|[_, partition, ..]| partition.to_string()),
        }
    }

    /// The same, also trusting `others`.
    pub fn with_others(self, others: OtherAccounts) -> Self {
        Self { others, ..self }
    }

    pub fn trusts(&self, account: &str) -> bool {
        if self.own.as_deref() == Some(account) {
            return true;
        }
        match &self.others {
            OtherAccounts::None => false,
            OtherAccounts::Listed(accounts) => accounts.contains(account),
            OtherAccounts::Any => is_account_id(account),
        }
    }

    fn organization(&self) -> bool {
        self.others != OtherAccounts::None
    }
}

/// The 12-digit account of an ARN (`arn:aws:lambda:us-east-1:123456789012:function:f`,
/// `arn:aws:iam::123456789012:role/r`).
fn account_of(arn: &str) -> Option<String> {
    let [_, _, _, _, account, _] = arn_parts(arn.trim())?;
    is_account_id(account).then(|| account.to_string())
}

fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// Why an event is not taken as AWS's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "forgery", rename_all = "snake_case")]
pub enum Forgery {
    /// `source` absent or not `aws.…`: anyone may send such an event.
    SourceNotAws { source: Option<String> },
    /// `detail.eventSource` is not the service `source` names.
    EventSourceMismatch {
        source: String,
        event_source: Option<String>,
    },
    /// `account` absent or not trusted.
    ForeignAccount {
        account: Option<String>,
        own: Option<String>,
        /// Organization mode: the account is outside `ACCOUNT_SETTINGS`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        organization: bool,
    },
}

impl fmt::Display for Forgery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SourceNotAws { source } => write!(
                f,
                "source {} does not start with aws. (only AWS can send aws. events)",
                source.as_deref().unwrap_or("<absent>")
            ),
            Self::EventSourceMismatch {
                source,
                event_source,
            } => write!(
                f,
                "detail.eventSource {} does not belong to source {source}",
                event_source.as_deref().unwrap_or("<absent>")
            ),
            Self::ForeignAccount {
                account,
                own,
                organization: false,
            } => write!(
                f,
                "account {} is not this function's account {}",
                account.as_deref().unwrap_or("<absent>"),
                own.as_deref().unwrap_or("<unknown>")
            ),
            Self::ForeignAccount {
                account,
                own,
                organization: true,
            } => write!(
                f,
                "account {} is outside the organization's settings (ACCOUNT_SETTINGS) of the \
                 hub in account {}",
                account.as_deref().unwrap_or("<absent>"),
                own.as_deref().unwrap_or("<unknown>")
            ),
        }
    }
}

/// Checks the three rules of the module docs, in order.
pub fn authenticate(event: &CreateEvent, trusted: &TrustedAccounts) -> Result<(), Forgery> {
    let provenance = &event.authenticity;
    let Some(service) = provenance
        .source
        .as_deref()
        .and_then(|source| source.strip_prefix("aws."))
        .filter(|service| !service.is_empty())
    else {
        return Err(Forgery::SourceNotAws {
            source: provenance.source.clone(),
        });
    };
    if provenance.event_source.as_deref() != Some(&format!("{service}.amazonaws.com")) {
        return Err(Forgery::EventSourceMismatch {
            source: format!("aws.{service}"),
            event_source: provenance.event_source.clone(),
        });
    }
    match provenance.account.as_deref() {
        Some(account) if trusted.trusts(account) => Ok(()),
        account => Err(Forgery::ForeignAccount {
            account: account.map(str::to_string),
            own: trusted.own.clone(),
            organization: trusted.organization(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::event::tests::{fixture, FIXTURES};
    use crate::remediation::event::HANDLED_SOURCES;
    use serde_json::Value;

    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:corebound-remediator";

    fn own() -> TrustedAccounts {
        TrustedAccounts::learn(Some(FUNCTION), None)
    }

    #[test]
    fn the_own_account_comes_from_the_function_then_the_role() {
        assert_eq!(own().own.as_deref(), Some("123456789012"));
        let role = "arn:aws:iam::210987654321:role/LPMA_X";
        assert_eq!(
            TrustedAccounts::learn(None, Some(role)).own.as_deref(),
            Some("210987654321")
        );
        assert_eq!(
            TrustedAccounts::learn(Some(FUNCTION), Some(role))
                .own
                .as_deref(),
            Some("123456789012"),
            "Lambda's own word first"
        );
        assert_eq!(
            TrustedAccounts::learn(Some("not-an-arn"), None).own,
            None,
            "nothing learned, nothing trusted"
        );
        assert!(!TrustedAccounts::default().trusts("123456789012"));
        assert_eq!(own().partition.as_deref(), Some("aws"));
        let china = "arn:aws-cn:lambda:cn-north-1:123456789012:function:f";
        assert_eq!(
            TrustedAccounts::learn(Some(china), None)
                .partition
                .as_deref(),
            Some("aws-cn")
        );
    }

    #[test]
    fn every_fixture_is_authentic() {
        for (name, _) in FIXTURES {
            assert_eq!(authenticate(&fixture(name), &own()), Ok(()), "{name}");
        }
    }

    #[test]
    fn every_handled_source_pairs_with_its_event_source() {
        for (source, event_source) in HANDLED_SOURCES {
            let mut event = fixture("create-topic.json");
            event.authenticity.source = Some(source.to_string());
            event.authenticity.event_source = Some(event_source.to_string());
            assert_eq!(authenticate(&event, &own()), Ok(()), "{source}");
        }
    }

    #[test]
    fn organization_mode_trusts_the_other_accounts_it_is_given() {
        let listed = own().with_others(OtherAccounts::Listed(
            ["222233334444".to_string()].into_iter().collect(),
        ));
        assert!(listed.trusts("123456789012"));
        assert!(listed.trusts("222233334444"));
        assert!(!listed.trusts("555566667777"));
        let any = own().with_others(OtherAccounts::Any);
        assert!(any.trusts("555566667777"));
        assert!(!any.trusts("5555"), "never a malformed account");
        let mut event = fixture("create-topic.json");
        event.authenticity.account = Some("555566667777".to_string());
        let forgery = authenticate(&event, &listed).unwrap_err();
        assert_eq!(
            forgery.to_string(),
            "account 555566667777 is outside the organization's settings (ACCOUNT_SETTINGS) \
             of the hub in account 123456789012"
        );
        // Without the own account, only the listed ones.
        let unknown_own = TrustedAccounts::default().with_others(OtherAccounts::Listed(
            ["222233334444".to_string()].into_iter().collect(),
        ));
        assert!(!unknown_own.trusts("123456789012"));
    }

    #[test]
    fn forged_events_are_named() {
        let base = fixture("create-topic.json");
        let set = |source: Option<&str>, event_source: Option<&str>, account: Option<&str>| {
            let mut event = base.clone();
            event.authenticity.source = source.map(str::to_string);
            event.authenticity.event_source = event_source.map(str::to_string);
            event.authenticity.account = account.map(str::to_string);
            event
        };
        let sns = Some("sns.amazonaws.com");
        let own_account = Some("123456789012");
        let cases = [
            (
                set(Some("corebound.forged"), sns, own_account),
                "source corebound.forged does not start with aws.",
            ),
            (set(None, sns, own_account), "source <absent> does not"),
            (set(Some("aws."), sns, own_account), "source aws. does not"),
            (
                set(Some("aws.s3"), sns, own_account),
                "detail.eventSource sns.amazonaws.com does not belong to source aws.s3",
            ),
            (
                set(Some("aws.sns"), None, own_account),
                "detail.eventSource <absent> does not",
            ),
            (
                set(Some("aws.sns"), Some("sns.amazonaws.com.evil"), own_account),
                "does not belong",
            ),
            (
                set(Some("aws.sns"), sns, Some("210987654321")),
                "account 210987654321 is not this function's account 123456789012",
            ),
            (set(Some("aws.sns"), sns, None), "account <absent> is not"),
        ];
        for (event, text) in cases {
            let forgery = authenticate(&event, &own()).expect_err(text);
            assert!(forgery.to_string().contains(text), "{forgery} / {text}");
        }
        // The lenient parser's fallbacks never count: an envelope without `account` is
        // not authenticated by `detail.recipientAccountId`.
        let value: Value = serde_json::json!({
            "source": "aws.logs", "id": "x",
            "detail": {"eventSource": "logs.amazonaws.com", "recipientAccountId": "123456789012",
                       "eventName": "CreateLogGroup", "requestParameters": {"logGroupName": "g"}}
        });
        let event = CreateEvent::from_eventbridge(&value);
        assert_eq!(event.account, "123456789012");
        assert!(matches!(
            authenticate(&event, &own()),
            Err(Forgery::ForeignAccount { account: None, .. })
        ));
    }
}
