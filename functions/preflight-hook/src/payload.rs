//! Fetching the template of a STACK (or CHANGE_SET) request from its presigned S3 URL.
//!
//! The URL is a credential: it is held in `ResponseUrl`, which never displays itself, and
//! errors name the host only. Like the custom resources' ResponseURL, only https URLs on S3
//! hosts are fetched (`PAYLOAD_URL_ALLOWED_HOSTS` adds hosts for local tests), so whoever
//! may invoke the function cannot make it GET an internal address. Connection errors and
//! 5xx are retried (as the CloudFormation CLI plugins do: 3 attempts) within the time left.

use std::time::Duration;

use bytes::Bytes;
use corebound::custom_resource::{ResponseUrl, ResponseUrlPolicy};
use corebound::http::{https_connector, HttpsClient};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::HookError;

/// A template is at most 1 MB (S3 template URL); the payload holds it and the previous one.
const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

pub struct PayloadFetcher {
    client: HttpsClient<Empty<Bytes>>,
    urls: ResponseUrlPolicy,
}

/// The templates a STACK or CHANGE_SET payload holds.
#[derive(Debug, PartialEq)]
pub struct Payload {
    /// Empty on delete-stack.
    pub template: String,
}

impl PayloadFetcher {
    pub fn new(urls: ResponseUrlPolicy) -> Self {
        PayloadFetcher {
            client: Client::builder(TokioExecutor::new())
                .build(https_connector(Some(ATTEMPT_TIMEOUT))),
            urls,
        }
    }

    /// The JSON document behind `url`, fetched before `give_up_at`.
    pub async fn fetch_json(
        &self,
        url: &ResponseUrl,
        give_up_at: Instant,
    ) -> Result<Value, HookError> {
        let body = self.fetch(url, give_up_at).await?;
        serde_json::from_slice(&body).map_err(|e| HookError::Payload {
            transient: false,
            detail: format!("the payload is not JSON ({e})"),
        })
    }

    /// The template of a STACK / CHANGE_SET payload (`{"template": "...", ...}`).
    pub async fn fetch_template(
        &self,
        url: &ResponseUrl,
        give_up_at: Instant,
    ) -> Result<Payload, HookError> {
        parse_payload(&self.fetch_json(url, give_up_at).await?)
    }

    async fn fetch(&self, url: &ResponseUrl, give_up_at: Instant) -> Result<Bytes, HookError> {
        let host = url.host().unwrap_or_else(|| "(no host)".to_string());
        if self.urls.check(url).is_err() {
            return Err(HookError::Payload {
                transient: false,
                detail: format!(
                    "the payload URL on host {host} is not allowed: only https URLs on S3 hosts under amazonaws.com or amazonaws.com.cn are fetched"
                ),
            });
        }
        let uri: hyper::Uri = url
            .expose_for_request()
            .parse()
            .map_err(|_| HookError::Payload {
                transient: false,
                detail: "the payload URL is not a valid URL".to_string(),
            })?;
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.get_once(&uri, give_up_at).await {
                Ok(body) => return Ok(body),
                Err(Attempt::Final(detail)) => {
                    return Err(HookError::Payload {
                        transient: false,
                        detail: format!("{detail} (host {host})"),
                    })
                }
                Err(Attempt::Retry(detail)) => last = detail,
            }
            tracing::warn!(attempt, error = %last, host = %host, "fetching the hook payload failed");
            if attempt == ATTEMPTS || Instant::now() + backoff >= give_up_at {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        Err(HookError::Payload {
            transient: true,
            detail: format!("{last} (host {host})"),
        })
    }

    async fn get_once(&self, uri: &hyper::Uri, give_up_at: Instant) -> Result<Bytes, Attempt> {
        let request = hyper::Request::get(uri.clone())
            .body(Empty::new())
            .map_err(|e| Attempt::Final(e.to_string()))?;
        let timeout = ATTEMPT_TIMEOUT.min(give_up_at.saturating_duration_since(Instant::now()));
        let answer = tokio::time::timeout(timeout, async {
            let response = self
                .client
                .request(request)
                .await
                // hyper's errors name the cause, never the URI.
                .map_err(|e| Attempt::Retry(format!("connection error: {e}")))?;
            let status = response.status().as_u16();
            if (500..600).contains(&status) {
                return Err(Attempt::Retry(format!("HTTP {status}")));
            }
            if !(200..300).contains(&status) {
                return Err(Attempt::Final(format!(
                    "HTTP {status} (a presigned URL that expired or was altered answers 403)"
                )));
            }
            let body = Limited::new(response.into_body(), MAX_PAYLOAD_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Attempt::Final(format!(
                            "the payload is larger than {MAX_PAYLOAD_BYTES} bytes"
                        ))
                    } else {
                        Attempt::Retry(format!("reading the payload failed: {e}"))
                    }
                })?;
            Ok(body.to_bytes())
        })
        .await;
        match answer {
            Ok(result) => result,
            Err(_) => Err(Attempt::Retry(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }
}

enum Attempt {
    Retry(String),
    Final(String),
}

/// `{"template": String, "previousTemplate": String}` (STACK) or `{"template": String,
/// "changedResources": [...]}` (CHANGE_SET). `template` is empty or null on delete-stack.
pub fn parse_payload(value: &Value) -> Result<Payload, HookError> {
    let bad = |detail: &str| HookError::Payload {
        transient: false,
        detail: detail.to_string(),
    };
    let Value::Object(object) = value else {
        return Err(bad("the payload is not a JSON object"));
    };
    match object.get("template") {
        None => Err(bad("the payload has no template field")),
        Some(Value::Null) => Ok(Payload {
            template: String::new(),
        }),
        Some(Value::String(template)) => Ok(Payload {
            template: template.clone(),
        }),
        Some(_) => Err(bad("the payload's template is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_shapes() {
        let stack = json!({"template": "{\"Resources\":{}}", "previousTemplate": ""});
        assert_eq!(
            parse_payload(&stack).unwrap().template,
            "{\"Resources\":{}}"
        );
        let deleted = json!({"template": null, "previousTemplate": null});
        assert_eq!(parse_payload(&deleted).unwrap().template, "");
        assert!(parse_payload(&json!({"template": 5})).is_err());
        assert!(parse_payload(&json!({})).is_err());
        assert!(parse_payload(&json!([1])).is_err());
    }

    #[tokio::test]
    async fn urls_outside_the_allow_list_are_not_fetched_and_never_shown() {
        let fetcher = PayloadFetcher::new(ResponseUrlPolicy::default());
        let url =
            ResponseUrl::new("http://169.254.169.254/latest/meta-data?X-Amz-Signature=s3cr3t");
        let error = fetcher
            .fetch(&url, Instant::now() + Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("169.254.169.254") && error.contains("not allowed"),
            "{error}"
        );
        assert!(
            !error.contains("s3cr3t") && !error.contains("meta-data"),
            "{error}"
        );
    }
}
