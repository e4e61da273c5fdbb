//! The scheduled sweep's effects (issue 12): the start, the work-queue consumer, one unit of
//! work, the report bucket, and the in-process run of `corebound sweep`. The values (units,
//! outcomes, report, metrics, lock) and every decision are in `corebound::sweep` and
//! `corebound::remediation`; a resource that needs a fix goes through
//! [`Remediator::fix`](crate::handler::Remediator::fix), the events' own path.

mod entry;
mod evaluate;
pub mod list;
pub mod local;
pub mod queue;
pub mod store;
pub mod unit;

pub use entry::{dispatch, InvocationFailed};
pub use local::{run_local, Progress};
pub use queue::{consume, is_sweep_batch, start};

use std::sync::Arc;

use corebound::remediation::RemediationConfig;
use corebound::sweep::{SweepSettings, SweepTarget};

use crate::clients::Clients;
use crate::handler::Remediator;
use crate::retry::{CallError, FailureKind, RetryPolicy};
use crate::targets::{stale_credentials, Target, Unreachable};

/// What a unit works with: the account and region it sweeps, their clients and settings.
pub struct Context<'a> {
    pub remediator: &'a Remediator,
    pub settings: &'a SweepSettings,
    pub retry: &'a RetryPolicy,
    /// The region swept (the clients'); `None` when the SDK has none configured.
    pub region: Option<String>,
    /// Partition and account swept (the function's own: its project key's).
    pub partition: String,
    pub account: String,
    /// Audit records on stdout (the Lambda); the command writes only its report.
    pub emit_audit: bool,
    /// Clients acting in the account and region swept (through the spoke's role for another
    /// account).
    pub clients: Arc<Clients>,
    /// The rules' settings there: `ACCOUNT_SETTINGS` applied for a hub's target.
    pub config: RemediationConfig,
    /// The hub's target; `None`: the function's own account and region (single-account).
    pub target: Option<SweepTarget>,
}

impl<'a> Context<'a> {
    /// The function's own account and region.
    pub fn new(
        remediator: &'a Remediator,
        settings: &'a SweepSettings,
        retry: &'a RetryPolicy,
        emit_audit: bool,
    ) -> Self {
        let key = &remediator.config.kms_key_arn;
        // `arn:partition:kms:region:account:key/id` (validated at start).
        let parts: Vec<&str> = key.splitn(6, ':').collect();
        let part = |index: usize| parts.get(index).copied().unwrap_or_default().to_string();
        let (partition, key_region, account) = (part(1), part(3), part(4));
        let region = remediator
            .clients
            .s3
            .config()
            .region()
            .map(|region| region.to_string())
            .or((!key_region.is_empty()).then_some(key_region));
        Context {
            remediator,
            settings,
            retry,
            region,
            partition,
            account,
            emit_audit,
            clients: Arc::new(remediator.clients.clone()),
            config: remediator.config.clone(),
            target: None,
        }
    }

    /// `target` of a hub's sweep: its settings from `ACCOUNT_SETTINGS`, and clients from the
    /// same cache as the events (the spoke's role for another account). `Err` names the
    /// account and why it cannot be acted in (`transient`: try the unit again later).
    pub async fn for_target(
        remediator: &'a Remediator,
        settings: &'a SweepSettings,
        retry: &'a RetryPolicy,
        emit_audit: bool,
        target: &SweepTarget,
    ) -> Result<Context<'a>, Unreachable> {
        let own = Context::new(remediator, settings, retry, emit_audit);
        let unreachable = |reason: String| Unreachable {
            account: target.account.clone(),
            role_arn: None,
            error_code: None,
            reason,
            transient: false,
        };
        let resolved = remediator
            .accounts
            .resolve(&target.account, &target.region, Some(&own.account))
            .map_err(|unresolved| unreachable(unresolved.to_string()))?;
        let bound = remediator
            .targets
            .clients(
                &Target {
                    account: target.account.clone(),
                    region: target.region.clone(),
                },
                Some(&own.account),
                &own.partition,
                retry,
            )
            .await?;
        let mut config = resolved.apply_to(&remediator.config);
        if bound.assumed_role.is_some() || config.kms_key_arn != remediator.config.kms_key_arn {
            config.key_status = remediator
                .targets
                .key_status(
                    &Target {
                        account: target.account.clone(),
                        region: target.region.clone(),
                    },
                    &bound.clients,
                    &config.kms_key_arn,
                    retry,
                )
                .await;
        }
        Ok(Context {
            region: Some(target.region.clone()),
            account: target.account.clone(),
            clients: bound.clients,
            config,
            target: Some(target.clone()),
            ..own
        })
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// An ARN in the sweep's partition, region and account.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition,
            self.region.as_deref().unwrap_or_default(),
            self.account
        )
    }

    /// A call refused because the spoke session expired or was revoked: see
    /// [`Self::session_refused`].
    pub fn stale(&self, error: &CallError) -> Option<CallError> {
        if !stale_credentials(error) {
            return None;
        }
        self.session_refused(&error.to_string())
    }

    /// In another account, the session is dropped (the retried unit assumes the role again)
    /// and the unit fails transiently; `None` in the function's own account.
    pub fn session_refused(&self, what: &str) -> Option<CallError> {
        let target = self.target.as_ref()?;
        if target.account == self.remediator_account() {
            return None;
        }
        self.remediator.targets.invalidate(&target.account);
        Some(CallError {
            operation: "sts:AssumeRole".to_string(),
            code: None,
            kind: FailureKind::Transient,
            message: format!(
                "the session in account {} was refused ({what}): the unit is retried with a new one",
                target.account
            ),
        })
    }

    fn remediator_account(&self) -> String {
        self.remediator
            .config
            .kms_key_arn
            .split(':')
            .nth(4)
            .unwrap_or_default()
            .to_string()
    }
}

/// Why a sweep (or one of its units) could not go on.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Throttling or a server fault outlasted the retries: the unit is tried again later.
    #[error("{0}")]
    Call(#[from] CallError),
    #[error("another sweep is running: {sweep_id}")]
    AlreadyRunning { sweep_id: String },
    #[error("{0}")]
    Invalid(String),
}
