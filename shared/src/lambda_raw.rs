//! The Lambda Runtime API, with each event handed to the handler as raw bytes.
//!
//! `lambda_runtime` deserializes each event before calling the handler; an event it cannot
//! parse (deeper than serde_json's 128 levels, invalid UTF-8, not JSON) is reported as an
//! invocation error and the handler never runs, so the caller (CloudFormation waiting on a
//! custom resource or a hook) gets no answer. The simplest robust way around that keeps
//! `lambda_runtime` for what it does well (polling, posting results, the request span, X-Ray
//! ids) and takes the bytes before it parses them: a tower layer, outermost but for the
//! tracing span, moves the body of each invocation into a one-slot hand-over and gives
//! `lambda_runtime` the constant `null` to deserialize instead. The handler
//! (`LambdaEvent<IgnoredAny>`) takes the bytes from the slot and gives them to the function,
//! which parses them itself.
//!
//! The slot is safe because `Runtime::run` processes one invocation at a time (corebound
//! never uses `run_concurrent`), and it is a side effect of the same call: the layer fills it
//! synchronously right before calling the inner service that calls the handler. As a bonus,
//! `lambda_runtime`'s own TRACE log of the raw event only ever sees `null`, so a presigned
//! URL in an event cannot reach a log that way.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{
    layers::TracingLayer, service_fn, Context, LambdaEvent, LambdaInvocation, Runtime,
};
use serde::de::IgnoredAny;
use serde_json::Value;

/// Serve `handler` on the Lambda Runtime API until the process ends. The handler gets the
/// invocation's raw body and its context; its `Ok` value is the invocation's response, its
/// `Err` fails the invocation.
pub async fn run_raw<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Bytes, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, lambda_runtime::Error>> + Send,
{
    let handler = Arc::new(handler);
    let slot = RawEventSlot::default();
    let handler_slot = slot.clone();
    let service = service_fn(move |event: LambdaEvent<IgnoredAny>| {
        let raw = handler_slot.take().unwrap_or_default();
        let handler = Arc::clone(&handler);
        async move { handler(raw, event.context).await }
    });
    Runtime::new(service)
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
