//! The Lambda Runtime API for custom resources: the raw bytes of each event (see
//! `crate::lambda_raw` for why the runtime library must not parse them) go to the protocol.

use std::sync::Arc;

use super::protocol::Protocol;
use super::settings::Settings;
use super::CustomResource;
use crate::Error;

/// Serve `resource` on the Lambda Runtime API until the process ends.
pub async fn run<R: CustomResource>(resource: R) -> Result<(), lambda_runtime::Error> {
    serve(Ok(resource)).await
}

/// Serve the resource a function built from its settings, or, when its settings are
/// invalid (`Err`), answer every request FAILED naming the variable (see `settings.rs`)
/// instead of exiting. The protocol's own variables (`COREBOUND_*`,
/// `RESPONSE_URL_ALLOWED_HOSTS`) are handled the same way.
///
/// ```ignore
/// let resource = MySettings::from_vars(|n| std::env::var(n).ok()).map(|s| MyResource::new(clients, s));
/// corebound::custom_resource::serve(resource).await
/// ```
pub async fn serve<R: CustomResource>(
    resource: Result<R, Error>,
) -> Result<(), lambda_runtime::Error> {
    let (settings, mut problems) = Settings::from_env();
    let resource = match resource {
        Ok(resource) => Some(resource),
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    if !settings.response_urls.extra_hosts().is_empty() {
        tracing::warn!(
            hosts = ?settings.response_urls.extra_hosts(),
            "RESPONSE_URL_ALLOWED_HOSTS is set: answers may go to these hosts over plain http; this is for local runs only and must not be set on a deployed function"
        );
    }
    for problem in &problems {
        tracing::error!(problem = %problem, "invalid function setting: every request will be answered FAILED naming it until it is fixed");
    }
    let protocol = Arc::new(Protocol::new(resource, settings, problems)?);
    crate::lambda_raw::run_raw(move |raw, context| {
        let protocol = Arc::clone(&protocol);
        async move {
            protocol.handle(&raw, context.deadline).await?;
            Ok(serde_json::Value::Null)
        }
    })
    .await
}
