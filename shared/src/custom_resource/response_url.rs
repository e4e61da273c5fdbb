//! Delivering the answer to CloudFormation's presigned ResponseURL.
//!
//! The URL is a credential (anyone holding it can answer for the stack), so it lives in a
//! type whose `Debug` and `Display` never show it. Delivery retries connection errors and
//! 5xx with backoff, because a 503 from S3 is not an answer CloudFormation has received; a
//! 4xx is final (the URL expired or was altered) and retrying cannot help.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// A presigned ResponseURL. Displayed only as `<redacted ResponseURL>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        ResponseUrl(url.into())
    }

    /// The URL itself, for the one place that sends to it.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted ResponseURL>")
    }
}

impl fmt::Display for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted ResponseURL>")
    }
}

/// Why a response could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the ResponseURL refused the response with HTTP {status}; not retried (a 4xx is final: the presigned URL may have expired)")]
    Rejected { status: u16 },
    #[error("no attempt succeeded after {attempts} attempts; last error: {last}")]
    Exhausted { attempts: u32, last: String },
    #[error("the ResponseURL is not a valid http(s) URL")]
    InvalidUrl,
}

impl DeliveryError {
    /// Whether invoking the function again could still deliver the answer.
    pub fn is_transient(&self) -> bool {
        matches!(self, DeliveryError::Exhausted { .. })
    }
}

/// How hard to try.
#[derive(Clone, Copy, Debug)]
pub struct DeliveryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub attempt_timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_millis(200),
            attempt_timeout: Duration::from_secs(3),
        }
    }
}

/// Sends response bodies with PUT. Cheap to clone (connection pool shared).
#[derive(Clone)]
pub struct ResponseSender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    policy: DeliveryPolicy,
}

impl ResponseSender {
    pub fn new(policy: DeliveryPolicy) -> std::io::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(ResponseSender { client, policy })
    }

    /// PUT `body` to `url`, retrying transient failures until `give_up_at`. Returns the
    /// number of attempts made.
    pub async fn deliver(
        &self,
        url: &ResponseUrl,
        body: Vec<u8>,
        give_up_at: Instant,
    ) -> Result<u32, DeliveryError> {
        let uri: hyper::Uri = url
            .expose()
            .parse()
            .map_err(|_| DeliveryError::InvalidUrl)?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) {
            return Err(DeliveryError::InvalidUrl);
        }
        let body = Bytes::from(body);
        let mut backoff = self.policy.first_backoff;
        let mut last = String::new();
        for attempt in 1..=self.policy.max_attempts {
            match self.put_once(&uri, body.clone(), give_up_at).await {
                Ok(status) if (200..300).contains(&status) => return Ok(attempt),
                Ok(status) if (400..500).contains(&status) => {
                    return Err(DeliveryError::Rejected { status });
                }
                Ok(status) => last = format!("HTTP {status}"),
                Err(e) => last = e,
            }
            tracing::warn!(attempt, error = %last, "delivering the response failed; retrying");
            if Instant::now() + backoff >= give_up_at {
                return Err(DeliveryError::Exhausted {
                    attempts: attempt,
                    last,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        Err(DeliveryError::Exhausted {
            attempts: self.policy.max_attempts,
            last,
        })
    }

    async fn put_once(
        &self,
        uri: &hyper::Uri,
        body: Bytes,
        give_up_at: Instant,
    ) -> Result<u16, String> {
        // S3 presigned URLs are signed without a Content-Type: send none.
        let request = hyper::Request::put(uri.clone())
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let timeout = self
            .policy
            .attempt_timeout
            .min(give_up_at.saturating_duration_since(Instant::now()));
        let response = tokio::time::timeout(timeout, async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            // Drain the body so the connection can be reused.
            let _ = response.into_body().collect().await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        })
        .await;
        match response {
            Ok(Ok(status)) => Ok(status),
            // hyper's errors never contain the request URI, only the connect/IO cause.
            Ok(Err(e)) => Err(format!("connection error: {e}")),
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_url_never_shows_itself() {
        let url = ResponseUrl::new("https://bucket.s3.amazonaws.com/x?X-Amz-Signature=secret");
        assert_eq!(format!("{url}"), "<redacted ResponseURL>");
        assert_eq!(format!("{url:?}"), "<redacted ResponseURL>");
        assert!(!format!("{:?}", Some(&url)).contains("secret"));
    }
}
