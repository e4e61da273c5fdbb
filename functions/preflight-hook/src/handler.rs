//! One hook invocation in, exactly one answer out, on every path: findings, a malformed
//! request, an invalid setting, an AWS or payload failure, a panic, the deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use corebound::custom_resource::handler_budget;
use serde_json::{json, Value};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::HookError;
use crate::payload::PayloadFetcher;
use crate::report;
use crate::request::{self, Action, HookRequest, Target};
use crate::response::{ErrorCode, HookResponse, CLOUD_CONTROL_MESSAGE_LIMIT, MESSAGE_LIMIT};
use crate::rules::{self, Certainty, Finding};
use crate::settings::{FailureMode, HookSettings};
use crate::stack_tags::StackTags;

/// CloudFormation waits 30 s for one invocation (contract §0). The hook answers well before:
/// at most this long after the event arrived, whatever the Lambda timeout says.
pub const OWN_LIMIT: Duration = Duration::from_secs(25);
/// Kept back before the Lambda deadline to post the answer.
const ANSWER_MARGIN: Duration = Duration::from_millis(1500);
/// CloudFormation invokes a hook at most 3 times for one target (IN_PROGRESS twice).
const LAST_INVOCATION: u32 = 3;
/// How long CloudFormation waits before calling again after IN_PROGRESS.
const CALLBACK_DELAY_SECONDS: u32 = 2;

pub struct Hook {
    settings: Result<HookSettings, String>,
    failure_mode: FailureMode,
    stacks: StackTags,
    payloads: PayloadFetcher,
}

/// What checking came to.
enum Verdict {
    /// Nothing to check (a delete, an empty template): SUCCESS.
    NothingToCheck(String),
    Checked {
        subject: String,
        findings: Vec<Finding>,
    },
}

impl Hook {
    /// A hook from its settings. An invalid setting does not stop the function: every
    /// request is then answered (per the failure mode) naming the variable. An invalid
    /// `HOOK_FAILURE_MODE` answers FAILED / InternalFailure: CloudFormation still applies
    /// the hook's own FailureMode to that.
    pub fn new(
        settings: Result<HookSettings, String>,
        failure_mode: Result<FailureMode, String>,
        cloudformation: aws_sdk_cloudformation::Client,
    ) -> Self {
        let (failure_mode, settings) = match (failure_mode, settings) {
            (Ok(mode), settings) => (mode, settings),
            (Err(problem), _) => (FailureMode::Fail, Err(problem)),
        };
        if let Err(problem) = &settings {
            tracing::error!(%problem, "invalid function setting: every request will be answered naming it until it is fixed");
        }
        let urls = settings
            .as_ref()
            .map(|s| s.payload_urls.clone())
            .unwrap_or_default();
        if !urls.extra_hosts().is_empty() {
            tracing::warn!(hosts = ?urls.extra_hosts(), "PAYLOAD_URL_ALLOWED_HOSTS is set: payloads may be fetched from these hosts over plain http; for local runs only");
        }
        Hook {
            settings,
            failure_mode,
            stacks: StackTags::new(cloudformation),
            payloads: PayloadFetcher::new(urls),
        }
    }

    /// Answer one invocation, given its raw body and Lambda deadline (epoch ms).
    pub async fn handle(self: &Arc<Self>, raw: &[u8], deadline_epoch_ms: u64) -> Value {
        let budget = handler_budget(
            deadline_epoch_ms,
            SystemTime::now(),
            ANSWER_MARGIN,
            OWN_LIMIT,
        )
        .min(OWN_LIMIT);
        let give_up_at = Instant::now() + budget;
        let request = match request::parse(raw) {
            Ok(request) => request,
            Err(malformed) => {
                tracing::error!(problem = %malformed.problem, "malformed hook request");
                let limit = limit(malformed.cloud_control);
                return self
                    .could_not_check(
                        malformed.client_request_token,
                        &HookError::Request(malformed.problem),
                        limit,
                    )
                    .to_value();
            }
        };
        let span = tracing::info_span!(
            "hook",
            token = %request.client_request_token,
            action = request.action.as_str(),
            invocation = request.invocation,
            target = %target_name(&request.target),
        );
        let response = self
            .answer(request, give_up_at, budget)
            .instrument(span.clone())
            .await;
        span.in_scope(|| {
            tracing::info!(
                hook_status = ?response.hook_status,
                error_code = ?response.error_code,
                message = %response.message,
                "answering CloudFormation"
            );
        });
        response.to_value()
    }

    async fn answer(
        self: &Arc<Self>,
        request: HookRequest,
        give_up_at: Instant,
        budget: Duration,
    ) -> HookResponse {
        let token = Some(request.client_request_token.clone());
        let limit = limit(request.is_cloud_control());
        let invocation = request.invocation;
        let hook = Arc::clone(self);
        // A spawned task turns a panic into a JoinError, which is answered like any error.
        let mut task =
            tokio::spawn(async move { hook.check(&request, give_up_at).await }.in_current_span());
        match tokio::time::timeout_at(give_up_at, &mut task).await {
            Ok(Ok(Ok(Verdict::NothingToCheck(why)))) => {
                HookResponse::success(token, format!("corebound preflight: {why}"), limit)
            }
            Ok(Ok(Ok(Verdict::Checked { subject, findings }))) => {
                for finding in &findings {
                    tracing::warn!(
                        pattern = %finding.pattern,
                        rule = %finding.rule,
                        logical_id = %finding.logical_id,
                        resource_type = %finding.resource_type,
                        certainty = ?finding.certainty,
                        message = %finding.message,
                        fix = %finding.fix,
                        "finding"
                    );
                }
                if findings.iter().any(|f| f.certainty == Certainty::Violation) {
                    HookResponse::failed(
                        ErrorCode::NonCompliant,
                        token,
                        report::noncompliant(&subject, &findings, limit),
                        limit,
                    )
                } else {
                    HookResponse::success(
                        token,
                        report::compliant(&subject, &findings, limit),
                        limit,
                    )
                }
            }
            Ok(Ok(Err(error))) => {
                tracing::error!(%error, transient = error.is_transient(), "could not check");
                if error.is_transient() && invocation < LAST_INVOCATION {
                    return self.call_again(token, invocation, &error.to_string(), limit);
                }
                self.could_not_check(token, &error, limit)
            }
            Ok(Err(join_error)) => {
                let what = corebound::custom_resource::panic_message(join_error);
                tracing::error!(panic = %what, "the hook panicked");
                let error = format!("corebound internal error: the hook panicked ({what}); this is a bug, please report it");
                self.could_not_check_text(token, &error, limit)
            }
            Err(_) => {
                task.abort();
                let why = format!("the check did not finish within {} ms", budget.as_millis());
                tracing::error!("{why}");
                if invocation < LAST_INVOCATION {
                    return self.call_again(token, invocation, &why, limit);
                }
                self.could_not_check_text(
                    token,
                    &format!(
                        "{why}, on the last of CloudFormation's {LAST_INVOCATION} invocations"
                    ),
                    limit,
                )
            }
        }
    }

    async fn check(
        &self,
        request: &HookRequest,
        give_up_at: Instant,
    ) -> Result<Verdict, HookError> {
        let settings = self
            .settings
            .as_ref()
            .map_err(|p| HookError::Setting(p.clone()))?;
        if request.action == Action::Delete {
            return Ok(Verdict::NothingToCheck(format!(
                "nothing to check on delete ({})",
                target_name(&request.target)
            )));
        }
        match &request.target {
            Target::Resource(target) => {
                let properties = async {
                    match &target.payload {
                        None => Ok(target.properties.clone()),
                        Some(url) => {
                            let model = self.payloads.fetch_json(url, give_up_at).await?;
                            Ok(model
                                .get("resourceProperties")
                                .filter(|p| p.is_object())
                                .cloned()
                                .unwrap_or_else(|| json!({})))
                        }
                    }
                };
                let (properties, tags) = tokio::join!(properties, self.stack_tags(request));
                let (properties, tags) = (properties?, tags?);
                Ok(Verdict::Checked {
                    subject: format!("{} ({})", target.logical_id, target.resource_type),
                    findings: rules::check_resource(
                        &target.logical_id,
                        &target.resource_type,
                        &properties,
                        &tags,
                        &settings.rules,
                    ),
                })
            }
            Target::Stack { payload, .. } | Target::ChangeSet { payload } => {
                let subject = match &request.target {
                    Target::Stack { stack_name, .. } => format!("stack {stack_name}"),
                    _ => "the change set".to_string(),
                };
                let (payload, tags) = tokio::join!(
                    self.payloads.fetch_template(payload, give_up_at),
                    self.stack_tags(request)
                );
                let payload = payload?;
                if payload.template.trim().is_empty() {
                    return Ok(Verdict::NothingToCheck(format!(
                        "{subject} has no template to check (delete-stack)"
                    )));
                }
                let findings = rules::check_template(&payload.template, &tags?, &settings.rules)?;
                Ok(Verdict::Checked { subject, findings })
            }
        }
    }

    /// The stack's tags, or none for Cloud Control API operations (no stack).
    async fn stack_tags(
        &self,
        request: &HookRequest,
    ) -> Result<BTreeMap<String, String>, HookError> {
        match &request.stack_id {
            Some(stack_id) => self.stacks.get(stack_id, &request.account).await,
            None => Ok(BTreeMap::new()),
        }
    }

    fn call_again(
        &self,
        token: Option<String>,
        invocation: u32,
        why: &str,
        limit: usize,
    ) -> HookResponse {
        HookResponse::in_progress(
            token,
            format!("corebound preflight will try again: {why}"),
            json!({"corebound": "retry", "after": invocation}),
            CALLBACK_DELAY_SECONDS,
            limit,
        )
    }

    fn could_not_check(
        &self,
        token: Option<String>,
        error: &HookError,
        limit: usize,
    ) -> HookResponse {
        self.could_not_check_text(token, &error.to_string(), limit)
    }

    /// InternalFailure under FAIL; SUCCESS with the reason as a warning under WARN.
    fn could_not_check_text(&self, token: Option<String>, why: &str, limit: usize) -> HookResponse {
        match self.failure_mode {
            FailureMode::Fail => HookResponse::failed(
                ErrorCode::InternalFailure,
                token,
                format!("corebound preflight could not check: {why}"),
                limit,
            ),
            FailureMode::Warn => HookResponse::success(
                token,
                format!("WARNING: corebound preflight could not check, and let the operation continue because HookFailureMode is WARN: {why}"),
                limit,
            ),
        }
    }
}

fn limit(cloud_control: bool) -> usize {
    if cloud_control {
        CLOUD_CONTROL_MESSAGE_LIMIT
    } else {
        MESSAGE_LIMIT
    }
}

fn target_name(target: &Target) -> String {
    match target {
        Target::Resource(r) => format!("{} ({})", r.logical_id, r.resource_type),
        Target::Stack { stack_name, .. } => format!("stack {stack_name}"),
        Target::ChangeSet { .. } => "change set".to_string(),
    }
}
