//! The Lambda Runtime API, with the event taken as raw bytes.
//!
//! `lambda_runtime` deserializes each event before calling the handler; an event it cannot
//! parse (deeper than serde_json's 128 levels, invalid UTF-8) is reported as an invocation
//! error and the handler never runs, so CloudFormation is never answered. The simplest
//! robust way around that keeps `lambda_runtime` for what it does well (polling, posting
//! results, the request span, X-Ray ids) and takes the bytes before it parses them: a tower
//! layer, outermost but for the tracing span, moves the body of each invocation into a
//! one-slot hand-over and gives `lambda_runtime` the constant `null` to deserialize instead.
//! The handler (`LambdaEvent<IgnoredAny>`) takes the bytes from the slot and hands them to
//! the protocol, which parses them itself (`event.rs`).
//!
//! The slot is safe because `Runtime::run` processes one invocation at a time (this crate
//! never uses `run_concurrent`), and it is a side effect of the same call: the layer fills
//! it synchronously right before calling the inner service that calls the handler. As a
//! bonus, `lambda_runtime`'s own TRACE log of the raw event only ever sees `null`, so the
//! ResponseURL cannot reach a log that way.

use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{layers::TracingLayer, service_fn, LambdaEvent, LambdaInvocation, Runtime};
use serde::de::IgnoredAny;

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
    let slot = RawEventSlot::default();
    let handler_slot = slot.clone();
    let handler = service_fn(move |event: LambdaEvent<IgnoredAny>| {
        let protocol = Arc::clone(&protocol);
        let raw = handler_slot.take();
        async move {
            let raw = raw.unwrap_or_default();
            protocol.handle(&raw, event.context.deadline).await
        }
    });
    Runtime::new(handler)
        .layer(TakeRawEventLayer { slot })
        .layer(TracingLayer::new())
        .run()
        .await
}

/// The raw body of the invocation being processed.
#[derive(Clone, Default)]
struct RawEventSlot(Arc<Mutex<Option<Bytes>>>);

impl RawEventSlot {
    fn put(&self, body: Bytes) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(body);
    }

    fn take(&self) -> Option<Bytes> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

struct TakeRawEventLayer {
    slot: RawEventSlot,
}

impl<S> Layer<S> for TakeRawEventLayer {
    type Service = TakeRawEvent<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TakeRawEvent {
            inner,
            slot: self.slot.clone(),
        }
    }
}

struct TakeRawEvent<S> {
    inner: S,
    slot: RawEventSlot,
}

impl<S> Service<LambdaInvocation> for TakeRawEvent<S>
where
    S: Service<LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
{
    type Response = ();
    type Error = lambda_runtime::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let raw = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.slot.put(raw);
        self.inner.call(invocation)
    }
}
