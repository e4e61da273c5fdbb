//! One invocation in, exactly one answer out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tracing::Instrument;

use super::event::{parse_event, Envelope, Incoming};
use super::settings::{unusable_reason, Settings};
use super::{
    failed_create_id, handler_budget, is_failed_create_id, CustomResource, Outcome, Request,
    RequestType, Response, ResponseSender, Status,
};
use crate::{Error, Result};

/// How many recent RequestIds a warm process remembers, to never answer one twice.
const REMEMBERED_REQUESTS: usize = 64;

pub(crate) struct Protocol<R> {
    /// `None` when the function reported an invalid setting and has no resource to run.
    resource: Option<Arc<R>>,
    /// Invalid settings: every request is answered from these (see `settings.rs`).
    problems: Vec<Error>,
    settings: Settings,
    sender: ResponseSender,
    answered: Mutex<VecDeque<String>>,
}

/// What the handler came to, before it is turned into a response.
pub(crate) enum Conclusion {
    Created(Outcome),
    Updated(Outcome),
    Deleted,
    Failed(String),
}

impl<R: CustomResource> Protocol<R> {
    pub(crate) fn new(
        resource: Option<R>,
        settings: Settings,
        problems: Vec<Error>,
    ) -> Result<Self> {
        let sender = ResponseSender::new(settings.delivery, settings.response_urls.clone())
            .map_err(|e| Error::Config(format!("cannot load TLS root certificates: {e}")))?;
        Ok(Protocol {
            resource: resource.map(Arc::new),
            problems,
            settings,
            sender,
            answered: Mutex::new(VecDeque::with_capacity(REMEMBERED_REQUESTS)),
        })
    }

    /// Answer one invocation given its raw bytes and its deadline (epoch milliseconds).
    /// `Err` fails the invocation: only when nobody could be answered, or delivery failed
    /// in a way another invocation might fix.
    pub(crate) async fn handle(
        &self,
        raw: &[u8],
        deadline_epoch_ms: u64,
    ) -> std::result::Result<(), lambda_runtime::Error> {
        let started = Instant::now();
        let budget = handler_budget(
            deadline_epoch_ms,
            SystemTime::now(),
            self.settings.deadline_margin,
            self.settings.fallback_budget,
        );
        let (envelope, request) = match parse_event(raw) {
            Incoming::NotCustomResource(why) => {
                // Without a ResponseURL there is nobody to answer: failing the invocation is
                // the only signal left.
                tracing::error!(problem = %why, "event is not a CloudFormation custom-resource request (no ResponseURL); ignored");
                return Err(format!(
                    "event is not a CloudFormation custom-resource request: {why}"
                )
                .into());
            }
            Incoming::Malformed { envelope, problem } => (envelope, Err(problem)),
            Incoming::Request { envelope, request } => (envelope, Ok(*request)),
        };
        let span = tracing::info_span!(
            "custom_resource",
            request_id = %envelope.request_id,
            logical_resource_id = %envelope.logical_resource_id,
            request_type = %envelope.request_type,
        );
        self.answer(envelope, request, started, budget)
            .instrument(span)
            .await
    }

    async fn answer(
        &self,
        envelope: Envelope,
        request: std::result::Result<Request, String>,
        started: Instant,
        budget: Duration,
    ) -> std::result::Result<(), lambda_runtime::Error> {
        if let Err(refused) = self.sender.check(&envelope.response_url) {
            // Checked before anything runs: a request that cannot be answered changes nothing.
            tracing::error!(
                host = envelope.response_url.host().unwrap_or_default(),
                "{refused}"
            );
            return Err(refused.to_string().into());
        }
        if self.already_answered(&envelope.request_id) {
            tracing::warn!("request was already answered by this process; not answering twice");
            return Ok(());
        }
        let conclusion = self.conclude(&envelope, request, budget).await;
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

    /// Decide the answer: the rules that need no handler first, then the handler.
    async fn conclude(
        &self,
        envelope: &Envelope,
        request: std::result::Result<Request, String>,
        budget: Duration,
    ) -> Conclusion {
        // First, whatever else is wrong: the rollback of a Create that failed (for any
        // reason, including a malformed request or a bad setting) has nothing to remove.
        if envelope.request_type == RequestType::Delete.as_str()
            && envelope
                .physical_resource_id
                .as_deref()
                .is_some_and(is_failed_create_id)
        {
            tracing::info!("Delete of a Create that failed: nothing was left behind, answering SUCCESS without touching AWS");
            return Conclusion::Deleted;
        }
        let request = match request {
            Ok(request) => request,
            Err(problem) => {
                tracing::warn!(problem = %problem, "malformed request");
                return Conclusion::Failed(format!(
                    "malformed CloudFormation request: {problem}; nothing was changed"
                ));
            }
        };
        if let Some(reason) = unusable_reason(
            &self.problems,
            &envelope.request_type,
            &envelope.logical_resource_id,
        ) {
            return Conclusion::Failed(reason);
        }
        let Some(resource) = &self.resource else {
            // Unreachable: no resource means there is a problem. Answer anyway.
            return Conclusion::Failed("corebound internal error: no resource".to_string());
        };
        tracing::info!(resource_type = %request.resource_type, budget_ms = budget.as_millis() as u64, "handling request");
        run_handler(
            Arc::clone(resource),
            request,
            budget,
            self.settings.deadline_margin,
        )
        .await
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

/// Run the resource's logic under the time budget, catching panics.
async fn run_handler<R: CustomResource>(
    resource: Arc<R>,
    mut request: Request,
    budget: Duration,
    margin: Duration,
) -> Conclusion {
    request.deadline = Some(Instant::now() + budget);
    let request_type = request.request_type;
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
                margin.as_secs()
            ))
        }
    }
}

/// The text of a handler task's panic (or of its cancellation), for the FAILED answer.
pub fn panic_message(error: tokio::task::JoinError) -> String {
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
pub(crate) fn to_response(envelope: &Envelope, conclusion: Conclusion) -> Response {
    let is_create = envelope.request_type == RequestType::Create.as_str();
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
    use crate::custom_resource::ResponseUrl;

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
    fn a_malformed_request_of_unknown_type_still_gets_an_id() {
        let r = to_response(&envelope("Rename", None), Conclusion::Failed("bad".into()));
        assert_eq!(r.physical_resource_id, "corebound-failed-create:req-1");
    }

    #[test]
    fn envelope_debug_output_never_contains_the_url() {
        let e = Envelope {
            response_url: ResponseUrl::new("https://s3/x?X-Amz-Signature=s3cr3t"),
            ..envelope("Create", None)
        };
        assert!(!format!("{e:?}").contains("s3cr3t"));
    }
}
