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
//! * the answer fits CloudFormation's 4096-byte limit;
//! * the presigned ResponseURL is never logged;
//! * once answered, the invocation returns `Ok`, so Lambda never replays an answered request.

mod deadline;
mod properties;
mod response;
mod response_url;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

pub use deadline::handler_budget;
pub use properties::{render_value, Properties, PropertyReader};
pub use response::{
    failed_create_id, is_failed_create_id, Response, Status, FAILED_CREATE_PREFIX,
    MAX_RESPONSE_BYTES,
};
pub use response_url::{DeliveryError, DeliveryPolicy, ResponseSender, ResponseUrl};

use crate::{Error, Result};

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

/// Protocol timing, from the environment.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Kept back from the Lambda deadline to deliver the answer (`COREBOUND_DEADLINE_MARGIN_MS`,
    /// default 5000).
    pub deadline_margin: Duration,
    /// Handler time when the deadline is unknown (`COREBOUND_FALLBACK_BUDGET_MS`, default 60000).
    pub fallback_budget: Duration,
    pub delivery: DeliveryPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            deadline_margin: Duration::from_secs(5),
            fallback_budget: Duration::from_secs(60),
            delivery: DeliveryPolicy::default(),
        }
    }
}

impl Settings {
    pub fn from_env() -> Result<Self> {
        let mut settings = Settings::default();
        if let Some(ms) = env_millis("COREBOUND_DEADLINE_MARGIN_MS")? {
            settings.deadline_margin = ms;
        }
        if let Some(ms) = env_millis("COREBOUND_FALLBACK_BUDGET_MS")? {
            settings.fallback_budget = ms;
        }
        Ok(settings)
    }
}

fn env_millis(name: &str) -> Result<Option<Duration>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| {
                Error::Config(format!(
                    "{name} is {v:?}; expected a whole number of milliseconds"
                ))
            }),
    }
}

/// Serve `resource` on the Lambda Runtime API until the process ends.
pub async fn run<R: CustomResource>(resource: R) -> Result<(), lambda_runtime::Error> {
    let protocol = Arc::new(Protocol::new(resource, Settings::from_env()?)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let protocol = Arc::clone(&protocol);
        async move { protocol.handle(event).await }
    }))
    .await
}

/// How many recent RequestIds a warm process remembers, to never answer one twice.
const REMEMBERED_REQUESTS: usize = 64;

struct Protocol<R> {
    resource: Arc<R>,
    settings: Settings,
    sender: ResponseSender,
    answered: Mutex<VecDeque<String>>,
}

/// What identifies a request and where to answer it: enough to answer FAILED even when the
/// rest of the request cannot be parsed.
struct Envelope {
    response_url: ResponseUrl,
    request_id: String,
    stack_id: String,
    logical_resource_id: String,
    request_type: String,
    physical_resource_id: Option<String>,
}

impl Envelope {
    fn from_value(payload: &Value) -> Option<Self> {
        let field = |name: &str| {
            payload
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Some(Envelope {
            response_url: ResponseUrl::new(field("ResponseURL")?),
            request_id: field("RequestId")?,
            stack_id: field("StackId").unwrap_or_default(),
            logical_resource_id: field("LogicalResourceId").unwrap_or_default(),
            request_type: field("RequestType").unwrap_or_default(),
            physical_resource_id: field("PhysicalResourceId"),
        })
    }
}

/// Convert the aws_lambda_events request into the resource's view.
fn parse_request(payload: Value) -> std::result::Result<Request, String> {
    let request: CloudFormationCustomResourceRequest =
        serde_json::from_value(payload).map_err(|e| e.to_string())?;
    Ok(match request {
        CloudFormationCustomResourceRequest::Create(r) => Request {
            request_type: RequestType::Create,
            request_id: r.request_id,
            stack_id: r.stack_id,
            logical_resource_id: r.logical_resource_id,
            resource_type: r.resource_type,
            physical_resource_id: None,
            properties: Properties::from_value(r.resource_properties),
            old_properties: None,
            deadline: None,
        },
        CloudFormationCustomResourceRequest::Update(r) => Request {
            request_type: RequestType::Update,
            request_id: r.request_id,
            stack_id: r.stack_id,
            logical_resource_id: r.logical_resource_id,
            resource_type: r.resource_type,
            physical_resource_id: Some(r.physical_resource_id),
            properties: Properties::from_value(r.resource_properties),
            old_properties: Some(Properties::from_value(r.old_resource_properties)),
            deadline: None,
        },
        CloudFormationCustomResourceRequest::Delete(r) => Request {
            request_type: RequestType::Delete,
            request_id: r.request_id,
            stack_id: r.stack_id,
            logical_resource_id: r.logical_resource_id,
            resource_type: r.resource_type,
            physical_resource_id: Some(r.physical_resource_id),
            properties: Properties::from_value(r.resource_properties),
            old_properties: None,
            deadline: None,
        },
        _ => return Err("unsupported RequestType".to_string()),
    })
}

/// What the handler came to, before it is turned into a response.
enum Conclusion {
    Created(Outcome),
    Updated(Outcome),
    Deleted,
    Failed(String),
}

impl<R: CustomResource> Protocol<R> {
    fn new(resource: R, settings: Settings) -> Result<Self> {
        let sender = ResponseSender::new(settings.delivery)
            .map_err(|e| Error::Config(format!("cannot load TLS root certificates: {e}")))?;
        Ok(Protocol {
            resource: Arc::new(resource),
            settings,
            sender,
            answered: Mutex::new(VecDeque::with_capacity(REMEMBERED_REQUESTS)),
        })
    }

    async fn handle(&self, event: LambdaEvent<Value>) -> Result<(), lambda_runtime::Error> {
        let started = Instant::now();
        let budget = handler_budget(
            event.context.deadline,
            SystemTime::now(),
            self.settings.deadline_margin,
            self.settings.fallback_budget,
        );
        let Some(envelope) = Envelope::from_value(&event.payload) else {
            // Without a ResponseURL there is nobody to answer: this is not a CloudFormation
            // custom-resource request, and failing the invocation is the only signal left.
            tracing::error!("event is not a CloudFormation custom-resource request (no ResponseURL or RequestId); ignored");
            return Err("event is not a CloudFormation custom-resource request".into());
        };
        let span = tracing::info_span!(
            "custom_resource",
            request_id = %envelope.request_id,
            logical_resource_id = %envelope.logical_resource_id,
            request_type = %envelope.request_type,
        );
        self.answer(envelope, event.payload, started, budget)
            .instrument(span)
            .await
    }

    async fn answer(
        &self,
        envelope: Envelope,
        payload: Value,
        started: Instant,
        budget: Duration,
    ) -> Result<(), lambda_runtime::Error> {
        if self.already_answered(&envelope.request_id) {
            tracing::warn!("request was already answered by this process; not answering twice");
            return Ok(());
        }
        let conclusion = match parse_request(payload) {
            Err(why) => Conclusion::Failed(format!("malformed CloudFormation request: {why}")),
            Ok(request) => {
                tracing::info!(resource_type = %request.resource_type, budget_ms = budget.as_millis() as u64, "handling request");
                self.conclude(request, budget).await
            }
        };
        let response = to_response(&envelope, conclusion);
        tracing::info!(
            status = ?response.status,
            physical_resource_id = %response.physical_resource_id,
            reason = response.reason.as_deref().unwrap_or(""),
            "answering CloudFormation"
        );
        let give_up_at = started + budget + self.settings.deadline_margin.mul_f32(0.8);
        match self
            .sender
            .deliver(&envelope.response_url, response.into_body(), give_up_at)
            .await
        {
            Ok(attempts) => {
                tracing::info!(attempts, "response delivered");
                Ok(())
            }
            Err(e) if e.is_transient() => {
                tracing::error!(error = %e, "response not delivered; failing the invocation so Lambda may retry it");
                self.forget(&envelope.request_id);
                Err(e.to_string().into())
            }
            Err(e) => {
                // Final: another attempt would be refused the same way.
                tracing::error!(error = %e, "response not delivered");
                Ok(())
            }
        }
    }

    /// Run the resource's logic under the time budget, catching panics.
    async fn conclude(&self, mut request: Request, budget: Duration) -> Conclusion {
        request.deadline = Some(Instant::now() + budget);
        let request_type = request.request_type;
        if request_type == RequestType::Delete
            && request
                .physical_resource_id
                .as_deref()
                .is_some_and(is_failed_create_id)
        {
            tracing::info!("Delete of a Create that failed: nothing was left behind, answering SUCCESS without touching AWS");
            return Conclusion::Deleted;
        }
        let resource = Arc::clone(&self.resource);
        // A spawned task turns a panic into a JoinError instead of unwinding through the
        // runtime, so the panic can still be answered.
        let mut task = tokio::spawn(
            async move {
                match request.request_type {
                    RequestType::Create => resource.create(&request).await.map(Conclusion::Created),
                    RequestType::Update => resource.update(&request).await.map(Conclusion::Updated),
                    RequestType::Delete => resource
                        .delete(&request)
                        .await
                        .map(|()| Conclusion::Deleted),
                }
            }
            .in_current_span(),
        );
        match tokio::time::timeout(budget, &mut task).await {
            Ok(Ok(Ok(conclusion))) => conclusion,
            Ok(Ok(Err(error))) => {
                tracing::warn!(error = %error, final = error.is_final(), "request failed");
                Conclusion::Failed(error.to_string())
            }
            Ok(Err(join_error)) => {
                let what = panic_message(join_error);
                tracing::error!(panic = %what, "handler panicked");
                Conclusion::Failed(format!(
                    "corebound internal error: the {} handler panicked ({what}); this is a bug, please report it",
                    request_type.as_str()
                ))
            }
            Err(_) => {
                task.abort();
                tracing::error!(budget_ms = budget.as_millis() as u64, "handler timed out");
                Conclusion::Failed(format!(
                    "timed out: the {} did not finish within {} s, the time left before the Lambda deadline minus a {} s margin to answer; the stack was answered instead of left waiting. Retry the stack operation; if it times out again, raise the function's Timeout",
                    request_type.as_str(),
                    budget.as_secs(),
                    self.settings.deadline_margin.as_secs()
                ))
            }
        }
    }

    fn already_answered(&self, request_id: &str) -> bool {
        let mut answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        if answered.iter().any(|id| id == request_id) {
            return true;
        }
        if answered.len() == REMEMBERED_REQUESTS {
            answered.pop_front();
        }
        answered.push_back(request_id.to_string());
        false
    }

    fn forget(&self, request_id: &str) {
        let mut answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        answered.retain(|id| id != request_id);
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic payload".to_string()),
        Err(e) => e.to_string(),
    }
}

/// Turn a conclusion into the one response for this request.
fn to_response(envelope: &Envelope, conclusion: Conclusion) -> Response {
    let is_create = envelope.request_type == "Create";
    let existing_id = || {
        envelope
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| failed_create_id(&envelope.request_id))
    };
    let (status, reason, physical_resource_id, data, no_echo) = match conclusion {
        Conclusion::Created(o) | Conclusion::Updated(o) => (
            Status::Success,
            None,
            o.physical_resource_id,
            o.data,
            o.no_echo,
        ),
        Conclusion::Deleted => (Status::Success, None, existing_id(), BTreeMap::new(), false),
        Conclusion::Failed(reason) => {
            let id = if is_create {
                failed_create_id(&envelope.request_id)
            } else {
                existing_id()
            };
            (Status::Failed, Some(reason), id, BTreeMap::new(), false)
        }
    };
    Response {
        status,
        reason,
        physical_resource_id,
        stack_id: envelope.stack_id.clone(),
        request_id: envelope.request_id.clone(),
        logical_resource_id: envelope.logical_resource_id.clone(),
        no_echo,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(request_type: &str, physical: Option<&str>) -> Envelope {
        Envelope {
            response_url: ResponseUrl::new("http://127.0.0.1:1/x"),
            request_id: "req-1".into(),
            stack_id: "stack".into(),
            logical_resource_id: "Res".into(),
            request_type: request_type.into(),
            physical_resource_id: physical.map(str::to_string),
        }
    }

    #[test]
    fn failed_create_answers_the_marker_id() {
        let r = to_response(&envelope("Create", None), Conclusion::Failed("bad".into()));
        assert_eq!(r.status, Status::Failed);
        assert_eq!(r.physical_resource_id, "corebound-failed-create:req-1");
        assert_eq!(r.reason.as_deref(), Some("bad"));
    }

    #[test]
    fn failed_update_keeps_the_existing_id() {
        let r = to_response(
            &envelope("Update", Some("old")),
            Conclusion::Failed("bad".into()),
        );
        assert_eq!(r.physical_resource_id, "old");
    }

    #[test]
    fn success_carries_outcome_id_and_data() {
        let outcome = Outcome::new("new").with("Arn", "a");
        let r = to_response(
            &envelope("Update", Some("old")),
            Conclusion::Updated(outcome),
        );
        assert_eq!(r.status, Status::Success);
        assert_eq!(r.physical_resource_id, "new");
        assert_eq!(r.data.get("Arn").map(String::as_str), Some("a"));
    }

    #[test]
    fn delete_answers_its_own_id() {
        let r = to_response(&envelope("Delete", Some("pid")), Conclusion::Deleted);
        assert_eq!(
            (r.status, r.physical_resource_id.as_str()),
            (Status::Success, "pid")
        );
    }

    #[test]
    fn requests_parse_into_the_resource_view() {
        let r = parse_request(json!({
            "RequestType": "Update", "ServiceToken": "arn", "ResponseURL": "http://x",
            "StackId": "s", "RequestId": "r", "LogicalResourceId": "L",
            "PhysicalResourceId": "p", "ResourceType": "Custom::T",
            "ResourceProperties": {"ServiceToken": "arn", "A": "1"},
            "OldResourceProperties": {"ServiceToken": "arn", "A": "0"}
        }))
        .unwrap();
        assert_eq!(r.request_type, RequestType::Update);
        assert_eq!(r.physical_resource_id.as_deref(), Some("p"));
        assert_eq!(r.properties.get("A"), Some(&json!("1")));
        assert!(!r.properties.contains("ServiceToken"));
        assert_eq!(r.old_properties.unwrap().get("A"), Some(&json!("0")));
    }

    #[test]
    fn unknown_request_type_is_malformed_but_envelope_still_answers() {
        let payload = json!({"RequestType": "Rename", "ResponseURL": "http://x", "RequestId": "r"});
        assert!(parse_request(payload.clone()).is_err());
        let e = Envelope::from_value(&payload).unwrap();
        assert_eq!(e.request_id, "r");
    }

    #[test]
    fn envelope_debug_output_never_contains_the_url() {
        let e = Envelope::from_value(
            &json!({"ResponseURL": "https://s3/x?X-Amz-Signature=s3cr3t", "RequestId": "r"}),
        )
        .unwrap();
        assert!(!format!("{:?}", e.response_url).contains("s3cr3t"));
    }
}
