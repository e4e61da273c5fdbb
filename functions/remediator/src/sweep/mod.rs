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

use corebound::sweep::SweepSettings;

use crate::clients::Clients;
use crate::handler::Remediator;
use crate::retry::{CallError, RetryPolicy};

/// What a unit works with.
pub struct Context<'a> {
    pub remediator: &'a Remediator,
    pub settings: &'a SweepSettings,
    pub retry: &'a RetryPolicy,
    /// The region swept (the clients'); `None` when the SDK has none configured.
    pub region: Option<String>,
    /// Partition and account of the project key: the sweep's account.
    pub partition: String,
    pub account: String,
    /// Audit records on stdout (the Lambda); the command writes only its report.
    pub emit_audit: bool,
}

impl<'a> Context<'a> {
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
        }
    }

    pub fn clients(&self) -> &'a Clients {
        &self.remediator.clients
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
