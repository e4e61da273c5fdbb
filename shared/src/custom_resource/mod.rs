//! The CloudFormation custom-resource protocol.
//!
//! A function implements a resource type as plain [`CustomResource::create`], `update` and
//! `delete` logic and hands it to [`run`]. Everything CloudFormation needs beyond that lives
//! here, because getting it wrong hangs a stack for an hour:
//!
//! * exactly one answer reaches the ResponseURL for every request, on every path: success,
//!   error, invalid properties, a panic in the handler, and the Lambda deadline approaching;
//! * a Create that failed is answered with a marker PhysicalResourceId, and the Delete that
//!   rolls it back is answered SUCCESS without touching AWS (no ROLLBACK_FAILED);
//! * the answer fits CloudFormation's 4096-byte limit, and a handler can tell before its
//!   first write whether its answer will ([`Request::check_response_fits`]);
//! * a request the runtime library could not parse (deep nesting, invalid UTF-8, a field of
//!   the wrong JSON type) is still answered, FAILED naming the problem (`event.rs`);
//! * an invalid setting does not stop the function: every request is answered, FAILED
//!   naming the variable (`settings.rs`);
//! * only https ResponseURLs on S3 hosts are answered (`response_url.rs`); the presigned
//!   ResponseURL is never logged;
//! * once answered, the invocation returns `Ok`, so Lambda never replays an answered request.
//!
//! Files: `event.rs` (raw bytes to a request), `protocol.rs` (one request to one answer),
//! `runtime.rs` (the Lambda Runtime API), `settings.rs`, `properties.rs`, `response.rs`,
//! `response_url.rs`, `deadline.rs`.

mod deadline;
mod event;
mod properties;
mod protocol;
mod response;
mod response_url;
mod runtime;
mod settings;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use deadline::handler_budget;
pub use event::{parse_event, Envelope, Incoming};
pub use properties::{excerpt, render_value, Properties, PropertyReader, IGNORED_PROPERTIES};
pub use protocol::panic_message;
pub use response::{
    failed_create_id, is_failed_create_id, Response, Status, FAILED_CREATE_PREFIX,
    MAX_RESPONSE_BYTES,
};
pub use response_url::{
    DeliveryError, DeliveryPolicy, RefusedUrl, ResponseSender, ResponseUrl, ResponseUrlPolicy,
    ALLOWED_HOSTS_VARIABLE,
};
pub use runtime::{run, serve};
pub use settings::{unusable_reason, Settings};

use crate::Result;

/// A resource type implemented as plain create/update/delete logic.
///
/// Contract for implementors:
/// * `create` returns the PhysicalResourceId, which must identify everything `delete` needs;
///   if it fails after writing anything, it undoes its own writes before returning `Err`.
/// * `update` returning a different PhysicalResourceId is a replacement: CloudFormation then
///   sends a Delete for the old id.
/// * `delete` removes what the PhysicalResourceId identifies, treats "already gone" as
///   success, and must not fail because today's properties are invalid.
pub trait CustomResource: Send + Sync + 'static {
    fn create(&self, request: &Request) -> impl Future<Output = Result<Outcome>> + Send;
    fn update(&self, request: &Request) -> impl Future<Output = Result<Outcome>> + Send;
    fn delete(&self, request: &Request) -> impl Future<Output = Result<()>> + Send;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// A request as the resource sees it: typed, and without the ResponseURL.
#[derive(Clone, Debug)]
pub struct Request {
    pub request_type: RequestType,
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    pub resource_type: String,
    /// Present on Update and Delete.
    pub physical_resource_id: Option<String>,
    pub properties: Properties,
    /// Present on Update.
    pub old_properties: Option<Properties>,
    /// When the protocol stops waiting for the handler and answers FAILED "timed out" on its
    /// behalf (the Lambda deadline minus the delivery margin). Handlers that wait or retry
    /// stop in time to undo their own writes before it. `None` outside a running protocol.
    pub deadline: Option<Instant>,
}

impl Request {
    /// Time left before [`Request::deadline`]; `None` when there is no deadline.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// A successful Create or Update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub physical_resource_id: String,
    /// Return values for `Fn::GetAtt`.
    pub data: BTreeMap<String, String>,
    /// Ask CloudFormation to mask the return values in its output.
    pub no_echo: bool,
}

impl Outcome {
    pub fn new(physical_resource_id: impl Into<String>) -> Self {
        Outcome {
            physical_resource_id: physical_resource_id.into(),
            ..Default::default()
        }
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(name.into(), value.into());
        self
    }
}

impl Request {
    /// The size in bytes of the SUCCESS body `outcome` would be answered with.
    pub fn success_response_len(&self, outcome: &Outcome) -> usize {
        response::success_body_len(self, outcome)
    }

    /// Whether `outcome` fits CloudFormation's 4096-byte response limit for this request
    /// (the StackId, RequestId and LogicalResourceId are part of the body). Call it before
    /// the first write with the PhysicalResourceId and Data the handler will return: an
    /// answer that does not fit is turned into FAILED after the writes were made. The error
    /// names the size, the limit and what to do.
    pub fn check_response_fits(&self, outcome: &Outcome) -> Result<()> {
        let len = self.success_response_len(outcome);
        if len <= MAX_RESPONSE_BYTES {
            return Ok(());
        }
        Err(crate::Error::Rule(format!(
            "the response would be {len} bytes, more than the {MAX_RESPONSE_BYTES} bytes CloudFormation accepts (the return values in Data are too long); nothing was changed. Split the resource into smaller ones (for example fewer endpoints per resource)"
        )))
    }
}
