//! Delivering the answer to CloudFormation's presigned ResponseURL.
//!
//! The URL is a credential (anyone holding it can answer for the stack), so it lives in a
//! type whose `Debug` and `Display` never show it. Delivery retries connection errors and
//! 5xx with backoff, because a 503 from S3 is not an answer CloudFormation has received; a
//! 4xx is final (the URL expired or was altered) and retrying cannot help.
//!
//! Only CloudFormation's own kind of ResponseURL is used: `https` to an S3 host under
//! `amazonaws.com` or `amazonaws.com.cn` ([`ResponseUrlPolicy`]). Anyone who may invoke the
//! function could otherwise make it PUT to any host (an internal service, the instance
//! metadata endpoint). `RESPONSE_URL_ALLOWED_HOSTS` extends the list for local tests only.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
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

    /// The URL itself, for building the one request that uses it (the hook's payload
    /// fetch). Never log or format what this returns.
    pub fn expose_for_request(&self) -> &str {
        &self.0
    }

    /// The host name alone (lower-cased), safe to log; `None` when the URL has none.
    pub fn host(&self) -> Option<String> {
        let uri: hyper::Uri = self.0.parse().ok()?;
        uri.host().map(str::to_ascii_lowercase)
    }
}

/// The variable that extends the allowed ResponseURL hosts (local tests only).
pub const ALLOWED_HOSTS_VARIABLE: &str = "RESPONSE_URL_ALLOWED_HOSTS";

/// Which ResponseURLs the function will PUT to.
///
/// Allowed by default: `https` (port 443) to an S3 endpoint host under `amazonaws.com` or
/// `amazonaws.com.cn`, which is where CloudFormation's presigned URLs point
/// (`<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com`, the legacy
/// `s3-<region>` and `s3-external-1`, FIPS and dual-stack forms). Hosts listed in
/// `RESPONSE_URL_ALLOWED_HOSTS` are also allowed, over `http` or `https` on any port: that is
/// for local tests (`127.0.0.1`) and must not be set in AWS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseUrlPolicy {
    extra_hosts: Vec<String>,
}

/// Why a ResponseURL is not used. Names the host only, never the URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the ResponseURL {what} is not allowed: corebound answers only https URLs on S3 hosts under amazonaws.com or amazonaws.com.cn (RESPONSE_URL_ALLOWED_HOSTS extends the list for local tests); the request was not answered and nothing was changed")]
pub struct RefusedUrl {
    what: String,
}

impl ResponseUrlPolicy {
    /// The default list plus `extra_hosts` (exact host names, any letter case).
    pub fn with_extra_hosts(extra_hosts: impl IntoIterator<Item = String>) -> Self {
        ResponseUrlPolicy {
            extra_hosts: extra_hosts
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Parse `RESPONSE_URL_ALLOWED_HOSTS`: comma-separated host names (no scheme, port or
    /// path). Empty entries are ignored. The error says what a valid value looks like.
    pub fn parse_extra_hosts(raw: &str) -> Result<Vec<String>, String> {
        let hosts: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let valid_host = |h: &String| {
            h.len() <= 253
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && !h.starts_with('.')
                && !h.ends_with('.')
        };
        match hosts.iter().find(|h| !valid_host(h)) {
            None => Ok(hosts),
            Some(_) => Err(
                "comma-separated host names without scheme, port or path (e.g. 127.0.0.1,localhost); for local tests only"
                    .to_string(),
            ),
        }
    }

    /// The hosts added by `RESPONSE_URL_ALLOWED_HOSTS`.
    pub fn extra_hosts(&self) -> &[String] {
        &self.extra_hosts
    }

    /// Accept `url` or say why not (naming only the host).
    pub fn check(&self, url: &ResponseUrl) -> Result<(), RefusedUrl> {
        let refused = |what: String| Err(RefusedUrl { what });
        let Ok(uri) = url.expose().parse::<hyper::Uri>() else {
            return refused("(not a URL)".to_string());
        };
        let Some(authority) = uri.authority() else {
            return refused("(no host)".to_string());
        };
        let host = authority.host().to_ascii_lowercase();
        if authority.as_str().contains('@') {
            // user-info can hide the real host from a reader: never accepted.
            return refused(format!("on host {host} (with user-info)"));
        }
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        if self.extra_hosts.contains(&host) && matches!(scheme.as_str(), "http" | "https") {
            return Ok(());
        }
        if scheme != "https" {
            return refused(format!("on host {host} (scheme {scheme:?}, not https)"));
        }
        if !matches!(authority.port_u16(), None | Some(443)) {
            return refused(format!("on host {host} (port not 443)"));
        }
        if !is_s3_host(&host) {
            return refused(format!("on host {host}"));
        }
        Ok(())
    }
}

/// An S3 endpoint host under `amazonaws.com` / `amazonaws.com.cn`: one of its labels
/// before that suffix is `s3`, `s3-fips`, `s3-external-1` or `s3-<region>`, and there is at
/// least one label before it (the bucket, or `s3` itself for path-style URLs).
fn is_s3_host(host: &str) -> bool {
    let Some(rest) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let labels: Vec<&str> = rest.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !labels.iter().all(label_ok) {
        return false;
    }
    labels.iter().any(|label| {
        matches!(*label, "s3" | "s3-fips" | "s3-external-1")
            || label.strip_prefix("s3-").is_some_and(is_region)
    })
}

/// `us-east-1`, `cn-north-1`, `us-gov-west-1`, `ap-southeast-3`, ...: a two-letter area
/// first (so `s3-website-us-east-1`, a website endpoint that takes no PUT, is not one).
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
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
    #[error(transparent)]
    Refused(#[from] RefusedUrl),
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
    client: crate::http::HttpsClient<Full<Bytes>>,
    policy: DeliveryPolicy,
    urls: ResponseUrlPolicy,
}

impl ResponseSender {
    /// Connects with the process's one TLS configuration ([`crate::http::client_config`]),
    /// the same the AWS SDK uses: the system trust store is not read a second time.
    pub fn new(policy: DeliveryPolicy, urls: ResponseUrlPolicy) -> std::io::Result<Self> {
        let connector = crate::http::https_connector(Some(policy.attempt_timeout));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(ResponseSender {
            client,
            policy,
            urls,
        })
    }

    /// Whether `url` may be answered at all (checked before the handler runs).
    pub fn check(&self, url: &ResponseUrl) -> Result<(), RefusedUrl> {
        self.urls.check(url)
    }

    /// PUT `body` to `url`, retrying transient failures until `give_up_at`. Returns the
    /// number of attempts made.
    pub async fn deliver(
        &self,
        url: &ResponseUrl,
        body: Vec<u8>,
        give_up_at: Instant,
    ) -> Result<u32, DeliveryError> {
        self.urls.check(url)?;
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

    fn allowed(policy: &ResponseUrlPolicy, url: &str) -> bool {
        policy.check(&ResponseUrl::new(url)).is_ok()
    }

    #[test]
    fn only_https_s3_hosts_are_allowed_by_default() {
        let p = ResponseUrlPolicy::default();
        for url in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/x?X-Amz-Signature=1",
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
            "https://bucket.s3-us-west-2.amazonaws.com/x",
            "https://bucket.s3-external-1.amazonaws.com/x",
            "https://bucket.s3.dualstack.us-east-1.amazonaws.com/x",
            "https://bucket.s3-fips.us-gov-west-1.amazonaws.com/x",
            "https://s3.amazonaws.com/bucket/x",
            "HTTPS://Bucket.S3.Amazonaws.com:443/x",
        ] {
            assert!(allowed(&p, url), "{url}");
        }
        for url in [
            "http://bucket.s3.amazonaws.com/x",               // plain http
            "https://bucket.s3.amazonaws.com:8443/x",         // another port
            "https://bucket.s3.amazonaws.com.evil.example/x", // suffix trick
            "https://s3.amazonaws.com@evil.example/x",        // user-info trick
            "https://evil.example/s3.amazonaws.com/x",        // path, not host
            "https://sqs.us-east-1.amazonaws.com/x",          // not S3
            "https://bucket.s3-website-us-east-1.amazonaws.com/x", // website endpoint
            "https://amazonaws.com/x",
            "https://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:4599/cloudformation-response",
            "ftp://bucket.s3.amazonaws.com/x",
            "not a url",
            "",
        ] {
            assert!(!allowed(&p, url), "{url}");
        }
    }

    #[test]
    fn extra_hosts_allow_http_on_any_port() {
        let hosts = ResponseUrlPolicy::parse_extra_hosts(" 127.0.0.1, ,LocalHost ").unwrap();
        assert_eq!(
            hosts,
            vec!["127.0.0.1".to_string(), "localhost".to_string()]
        );
        let p = ResponseUrlPolicy::with_extra_hosts(hosts);
        assert!(allowed(
            &p,
            "http://127.0.0.1:4599/cloudformation-response/x"
        ));
        assert!(allowed(&p, "https://localhost/x"));
        assert!(!allowed(&p, "http://127.0.0.2:4599/x"));
        assert!(allowed(&p, "https://bucket.s3.amazonaws.com/x"));
        for bad in ["http://127.0.0.1", "127.0.0.1:80", "a/b", "x y"] {
            assert!(ResponseUrlPolicy::parse_extra_hosts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_name_the_host_only() {
        let p = ResponseUrlPolicy::default();
        let e = p
            .check(&ResponseUrl::new(
                "http://evil.example:81/path?X-Amz-Signature=s3cr3t",
            ))
            .unwrap_err()
            .to_string();
        assert!(e.contains("evil.example"), "{e}");
        assert!(!e.contains("s3cr3t") && !e.contains("path"), "{e}");
    }
}
