//! The hook's answer, exactly as the Lambda Hooks contract has it.
//!
//! `hookStatus` SUCCESS | FAILED | IN_PROGRESS; `errorCode` NonCompliant | InternalFailure,
//! present exactly when FAILED; `message` never empty and at most 4096 characters for
//! CloudFormation operations, 1024 for Cloud Control API ones (longer ones are truncated by
//! CloudFormation; truncating here keeps the end of the message under our control);
//! `clientRequestToken` echoed. (`/work/shared/reference/lambda-hook-contract.md` §3.)

use serde::Serialize;
use serde_json::Value;

/// Message limits, in characters.
pub const MESSAGE_LIMIT: usize = 4096;
pub const CLOUD_CONTROL_MESSAGE_LIMIT: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    Success,
    Failed,
    InProgress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    NonCompliant,
    InternalFailure,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookResponse {
    pub hook_status: HookStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    pub message: String,
    /// Absent only when the request had none to echo (it was not CloudFormation's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_context: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_delay_seconds: Option<u32>,
}

impl HookResponse {
    pub fn success(token: Option<String>, message: String, limit: usize) -> Self {
        Self::new(HookStatus::Success, None, token, message, limit)
    }

    pub fn failed(code: ErrorCode, token: Option<String>, message: String, limit: usize) -> Self {
        Self::new(HookStatus::Failed, Some(code), token, message, limit)
    }

    /// Ask CloudFormation to call again (at most 3 calls in all), carrying `context`.
    pub fn in_progress(
        token: Option<String>,
        message: String,
        context: Value,
        delay_seconds: u32,
        limit: usize,
    ) -> Self {
        let mut response = Self::new(HookStatus::InProgress, None, token, message, limit);
        response.callback_context = Some(context);
        response.callback_delay_seconds = Some(delay_seconds);
        response
    }

    fn new(
        status: HookStatus,
        code: Option<ErrorCode>,
        token: Option<String>,
        message: String,
        limit: usize,
    ) -> Self {
        HookResponse {
            hook_status: status,
            error_code: code,
            message: truncate(&message, limit),
            client_request_token: token,
            callback_context: None,
            callback_delay_seconds: None,
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Marker appended to a cut message.
const CUT: &str = " [...]";

/// `message` cut to at most `limit` characters (never empty: the API's status reason is 1+).
pub fn truncate(message: &str, limit: usize) -> String {
    let message = if message.trim().is_empty() {
        "no details"
    } else {
        message
    };
    if message.chars().count() <= limit {
        return message.to_string();
    }
    let keep = limit.saturating_sub(CUT.chars().count());
    let mut cut: String = message.chars().take(keep).collect();
    cut.push_str(CUT);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_follow_the_contract() {
        let ok = HookResponse::success(Some("t".into()), "compliant".into(), MESSAGE_LIMIT);
        assert_eq!(
            ok.to_value(),
            json!({"hookStatus": "SUCCESS", "message": "compliant", "clientRequestToken": "t"})
        );
        let failed = HookResponse::failed(
            ErrorCode::NonCompliant,
            Some("t".into()),
            "bad".into(),
            MESSAGE_LIMIT,
        );
        assert_eq!(
            failed.to_value(),
            json!({"hookStatus": "FAILED", "errorCode": "NonCompliant", "message": "bad", "clientRequestToken": "t"})
        );
        let again = HookResponse::in_progress(
            Some("t".into()),
            "later".into(),
            json!({"attempt": 1}),
            2,
            MESSAGE_LIMIT,
        );
        assert_eq!(
            again.to_value(),
            json!({"hookStatus": "IN_PROGRESS", "message": "later", "clientRequestToken": "t",
                   "callbackContext": {"attempt": 1}, "callbackDelaySeconds": 2})
        );
        let internal =
            HookResponse::failed(ErrorCode::InternalFailure, None, "x".into(), MESSAGE_LIMIT);
        assert_eq!(internal.to_value()["errorCode"], "InternalFailure");
        assert!(internal.to_value().get("clientRequestToken").is_none());
    }

    #[test]
    fn messages_are_cut_by_characters_and_never_empty() {
        let long = "é".repeat(5000);
        let cut = truncate(&long, MESSAGE_LIMIT);
        assert_eq!(cut.chars().count(), MESSAGE_LIMIT);
        assert!(cut.ends_with(CUT));
        assert_eq!(
            truncate(&long, CLOUD_CONTROL_MESSAGE_LIMIT).chars().count(),
            1024
        );
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("  ", 10), "no details");
    }
}
