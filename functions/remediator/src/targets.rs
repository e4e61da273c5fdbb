//! Clients bound to the (account, region) an event happened in (issue 13 §2), from a small
//! cache. This is the one place that tells the function's own account from another one.
//!
//! - The function's own account: its own credentials (Lambda's), in the event's region; the
//!   function's region is exactly today's clients.
//! - Another account: `sts:AssumeRole` of `arn:<partition>:iam::<account>:role/<SPOKE_ROLE_NAME>`
//!   with `ExternalId = SPOKE_EXTERNAL_ID` and the session name
//!   [`SPOKE_SESSION_NAME`](corebound::accounts::SPOKE_SESSION_NAME) (the loop guard knows it).
//!   One session per account, shared by its regions, re-assumed [`REFRESH_MARGIN`] before it
//!   expires; [`Targets::invalidate`] drops it when a call says the token expired or was
//!   revoked, so the handler re-assumes once mid-burst.
//! - The partition comes from the function's own ARN (`Lambda-Runtime-Invoked-Function-Arn`).
//!
//! Each (account, region, key) also has its project key checked once (`DescribeKey`,
//! `ListAliases` with the target's credentials), exactly like the function's own key at start:
//! a key the target cannot use is never written anywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use corebound::accounts::SPOKE_SESSION_NAME;
use corebound::remediation::{CreateEvent, KeyStatus};
use serde::Serialize;

use crate::clients::Clients;
use crate::retry::{CallError, FailureKind, RetryPolicy};

/// A session is re-assumed this long before STS says it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// The session length asked for (STS's default and the role's minimum maximum).
const SESSION_SECONDS: i32 = 3600;

/// Error codes meaning the credentials of the call are no longer accepted (expired, or the
/// session was revoked), across the services' protocols.
const STALE_CREDENTIAL_CODES: [&str; 6] = [
    "ExpiredToken",                // query protocols (IAM, SNS, STS), S3
    "ExpiredTokenException",       // JSON protocols (Logs, KMS, SQS, Secrets Manager)
    "InvalidClientTokenId",        // query protocols: the token is unknown
    "UnrecognizedClientException", // JSON protocols: the token is unknown
    "InvalidToken",                // S3
    "TokenRefreshRequired",        // S3
];

/// True when a call failed because its credentials were rejected.
pub fn stale_credentials(error: &CallError) -> bool {
    error
        .code
        .as_deref()
        .is_some_and(|code| STALE_CREDENTIAL_CODES.contains(&code))
}

/// Where an event happened: the account and region its resource lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    pub account: String,
    pub region: String,
}

impl Target {
    /// The event's envelope `account` and `region` (the account was authenticated by triage).
    pub fn of(event: &CreateEvent) -> Self {
        Target {
            account: event.account.clone(),
            region: event.region.clone(),
        }
    }
}

/// Why no clients could be made for a target: one finding naming the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreachable {
    pub account: String,
    /// The role assumed, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub reason: String,
    /// A transient failure (throttling, a timeout): the event is retried.
    #[serde(skip)]
    pub transient: bool,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot act in account {}: {}", self.account, self.reason)
    }
}

/// Clients for one target, and whether they act through a spoke's role.
#[derive(Clone)]
pub struct Bound {
    pub clients: Arc<Clients>,
    /// `Some(role ARN)` when the clients act through an assumed spoke role.
    pub assumed_role: Option<String>,
}

struct Session {
    credentials: Credentials,
    expires: SystemTime,
}

/// The spoke role settings (`SPOKE_ROLE_NAME`, `SPOKE_EXTERNAL_ID`).
#[derive(Clone)]
pub struct SpokeRole {
    pub name: String,
    pub external_id: String,
}

impl SpokeRole {
    /// `SPOKE_ROLE_NAME` with `SPOKE_EXTERNAL_ID`; `None` unless both are set.
    pub fn of(config: &corebound::remediation::RemediationConfig) -> Option<SpokeRole> {
        config
            .spoke_role_name
            .clone()
            .zip(config.spoke_external_id.clone())
            .map(|(name, external_id)| SpokeRole { name, external_id })
    }
}

pub struct Targets {
    /// The function's own SDK configuration (its credentials and region).
    base: SdkConfig,
    /// Today's clients: the own account in the function's region.
    own: Arc<Clients>,
    own_region: Option<String>,
    spoke: Option<SpokeRole>,
    sts: aws_sdk_sts::Client,
    /// (account, region) → clients; an assumed account's entries die with its session.
    bound: Mutex<HashMap<(String, String), Bound>>,
    /// account → its spoke session.
    sessions: Mutex<HashMap<String, Session>>,
    /// (account, region, key ARN) → the key's standing, checked once.
    keys: Mutex<HashMap<(String, String, String), KeyStatus>>,
}

impl Targets {
    pub fn new(base: &SdkConfig, own: Clients, spoke: Option<SpokeRole>) -> Self {
        let own_region = base.region().map(|region| region.as_ref().to_string());
        Targets {
            base: base.clone(),
            own: Arc::new(own),
            own_region,
            spoke,
            sts: aws_sdk_sts::Client::new(base),
            bound: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The clients for `target`. `own_account` is the function's account (from Lambda),
    /// `partition` the function's partition.
    pub async fn clients(
        &self,
        target: &Target,
        own_account: Option<&str>,
        partition: &str,
        retry: &RetryPolicy,
    ) -> Result<Bound, Unreachable> {
        if own_account == Some(target.account.as_str()) {
            return Ok(self.own_clients(&target.region));
        }
        let key = (target.account.clone(), target.region.clone());
        let now = SystemTime::now();
        let session_fresh = |account: &str| {
            self.sessions.lock().ok().is_some_and(|sessions| {
                sessions
                    .get(account)
                    .is_some_and(|session| session.expires > now + REFRESH_MARGIN)
            })
        };
        if session_fresh(&target.account) {
            if let Some(bound) = self.bound.lock().ok().and_then(|b| b.get(&key).cloned()) {
                return Ok(bound);
            }
        }
        let spoke = self.spoke.as_ref().ok_or_else(|| Unreachable {
            account: target.account.clone(),
            role_arn: None,
            error_code: None,
            reason: "SPOKE_ROLE_NAME is not set, so no role can be assumed there".to_string(),
            transient: false,
        })?;
        let role_arn = format!(
            "arn:{partition}:iam::{}:role/{}",
            target.account, spoke.name
        );
        let credentials = if session_fresh(&target.account) {
            self.sessions
                .lock()
                .ok()
                .and_then(|sessions| sessions.get(&target.account).map(|s| s.credentials.clone()))
                .ok_or_else(|| Unreachable {
                    account: target.account.clone(),
                    role_arn: Some(role_arn.clone()),
                    error_code: None,
                    reason: "the session cache is unavailable".to_string(),
                    transient: true,
                })?
        } else {
            self.assume(&target.account, &role_arn, spoke, retry)
                .await?
        };
        let config = self
            .base
            .to_builder()
            .region(Region::new(target.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        let bound = Bound {
            clients: Arc::new(Clients::new(&config)),
            assumed_role: Some(role_arn),
        };
        if let Ok(mut cache) = self.bound.lock() {
            cache.insert(key, bound.clone());
        }
        Ok(bound)
    }

    fn own_clients(&self, region: &str) -> Bound {
        if self.own_region.as_deref() == Some(region) || region.is_empty() {
            return Bound {
                clients: self.own.clone(),
                assumed_role: None,
            };
        }
        let key = (String::new(), region.to_string());
        if let Some(bound) = self.bound.lock().ok().and_then(|b| b.get(&key).cloned()) {
            return bound;
        }
        let config = self
            .base
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        let bound = Bound {
            clients: Arc::new(Clients::new(&config)),
            assumed_role: None,
        };
        if let Ok(mut cache) = self.bound.lock() {
            cache.insert(key, bound.clone());
        }
        bound
    }

    async fn assume(
        &self,
        account: &str,
        role_arn: &str,
        spoke: &SpokeRole,
        retry: &RetryPolicy,
    ) -> Result<Credentials, Unreachable> {
        let unreachable = |error: CallError| Unreachable {
            account: account.to_string(),
            role_arn: Some(role_arn.to_string()),
            transient: error.kind == FailureKind::Transient,
            reason: format!("AssumeRole of {role_arn} failed: {}", error.message),
            error_code: error.code,
        };
        let output = retry
            .sdk("sts:AssumeRole", || {
                self.sts
                    .assume_role()
                    .role_arn(role_arn)
                    .role_session_name(SPOKE_SESSION_NAME)
                    .external_id(&spoke.external_id)
                    .duration_seconds(SESSION_SECONDS)
                    .send()
            })
            .await
            .map_err(unreachable)?;
        let Some(issued) = output.credentials() else {
            return Err(unreachable(CallError::invalid(
                "sts:AssumeRole",
                "no Credentials in the answer",
            )));
        };
        let expires = SystemTime::try_from(*issued.expiration())
            .unwrap_or_else(|_| SystemTime::now() + REFRESH_MARGIN);
        let credentials = Credentials::new(
            issued.access_key_id(),
            issued.secret_access_key(),
            Some(issued.session_token().to_string()),
            Some(expires),
            "corebound-spoke-role",
        );
        tracing::info!(account, role = role_arn, "assumed the spoke role");
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(
                account.to_string(),
                Session {
                    credentials: credentials.clone(),
                    expires,
                },
            );
        }
        // Clients made with the previous session's credentials are stale now.
        if let Ok(mut bound) = self.bound.lock() {
            bound.retain(|(bound_account, _), _| bound_account != account);
        }
        Ok(credentials)
    }

    /// Forgets `account`'s session (expired or revoked mid-burst): the next call re-assumes.
    pub fn invalidate(&self, account: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(account);
        }
        if let Ok(mut bound) = self.bound.lock() {
            bound.retain(|(bound_account, _), _| bound_account != account);
        }
    }

    /// The project key's standing in `target`, checked once per (account, region, key) with
    /// the target's own credentials.
    pub async fn key_status(
        &self,
        target: &Target,
        clients: &Clients,
        key_arn: &str,
        retry: &RetryPolicy,
    ) -> KeyStatus {
        let key = (
            target.account.clone(),
            target.region.clone(),
            key_arn.to_string(),
        );
        if let Some(status) = self.keys.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return status;
        }
        let status = crate::project_key::check(clients, retry, key_arn, Some(&target.region)).await;
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(key, status.clone());
        }
        status
    }

    /// The function's own clients (alerts, the deferral queue).
    pub fn own(&self) -> &Clients {
        &self.own
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_revoked_tokens_are_recognised() {
        let error = |code: &str| CallError {
            operation: "sns:TagResource".to_string(),
            code: Some(code.to_string()),
            kind: FailureKind::Final,
            message: code.to_string(),
        };
        for code in STALE_CREDENTIAL_CODES {
            assert!(stale_credentials(&error(code)), "{code}");
        }
        assert!(!stale_credentials(&error("AccessDenied")));
        assert!(!stale_credentials(&error("AuthorizationError")));
    }
}
