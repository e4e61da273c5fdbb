//! Logging set-up shared by every function.
//!
//! Two independent guards keep a presigned URL's credentials out of the logs:
//!
//! * Redaction where log lines are written ([`redact`]): every line, whatever its level,
//!   target or origin (our code, `lambda_runtime`, hyper, the AWS SDK), has the values of
//!   `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token` (and the SigV2
//!   `Signature`, `AWSAccessKeyId`) replaced before it reaches stdout. No `RUST_LOG` or
//!   `AWS_LAMBDA_LOG_LEVEL` value can turn this off.
//! * A cap on the runtime's and HTTP client's TRACE output, applied as a separate filter
//!   after the configured one, so a more specific directive such as
//!   `RUST_LOG=lambda_runtime::layers::api_response=trace` cannot lift it.
//!
//! (The custom-resource protocol also keeps raw events away from `lambda_runtime`'s own
//! TRACE log, see `custom_resource/runtime.rs`.)

use std::io::Write;

use lambda_runtime::tracing::subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::{self, MakeWriter};
use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
use lambda_runtime::tracing::subscriber::util::SubscriberInitExt;
use lambda_runtime::tracing::subscriber::{registry, Layer};

/// Targets never logged at TRACE whatever the configured filter: at TRACE they log raw
/// events and HTTP traffic.
const NEVER_TRACE: [&str; 5] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "hyper",
    "hyper_util",
    "h2",
];

/// Query parameters and header names whose values are credentials. Matched without regard
/// to letter case; `signature` also covers `X-Amz-Signature`, `credential` covers
/// `X-Amz-Credential`, `security-token` covers `X-Amz-Security-Token`.
const SECRET_KEYS: [&str; 4] = [
    "signature",
    "credential",
    "security-token",
    "awsaccesskeyid",
];

/// What a secret value is replaced with.
pub const REDACTED: &str = "REDACTED";

/// Install the `tracing` subscriber: JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's
/// advanced logging controls), human-readable text otherwise; level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (full `RUST_LOG` directives are honoured), INFO by
/// default. Lines go to stdout, where Lambda collects them.
pub fn init() {
    init_to(Stream::Stdout)
}

/// As [`init`], with the lines on stderr: the `corebound` command prints its results (text,
/// JSON, SARIF) on stdout, which a log line must never corrupt.
pub fn init_cli() {
    init_to(Stream::Stderr)
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

fn init_to(stream: Stream) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let configured = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let never_trace = filter_fn(|meta| {
        *meta.level() != lambda_runtime::tracing::Level::TRACE
            || !NEVER_TRACE
                .iter()
                .any(|t| meta.target() == *t || meta.target().starts_with(&format!("{t}::")))
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(RedactingWriter(stream));
    let layer = if json {
        layer
            .json()
            .with_filter(configured)
            .with_filter(never_trace)
            .boxed()
    } else {
        layer
            .with_filter(configured)
            .with_filter(never_trace)
            .boxed()
    };
    let _ = registry().with(layer).try_init();
}

/// A `MakeWriter` for stdout or stderr whose writers redact each log line before writing it.
struct RedactingWriter(Stream);

impl<'a> MakeWriter<'a> for RedactingWriter {
    type Writer = RedactingLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine {
            buffer: Vec::new(),
            stream: self.0,
        }
    }
}

/// Collects one formatted event (the subscriber makes one writer per event) and writes it
/// redacted when dropped.
struct RedactingLine {
    buffer: Vec<u8>,
    stream: Stream,
}

impl Write for RedactingLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactingLine {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.buffer));
        match self.stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            Stream::Stderr => {
                let mut out = std::io::stderr().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

/// Replace the value following any [`SECRET_KEYS`] name with [`REDACTED`], in any of the
/// forms a URL or header takes in a log line: `key=value` (a query string), `key%3Dvalue`
/// (a URL-encoded URL, also double-encoded), `"key": "value"` / `key: value` (a header map,
/// JSON, JSON inside JSON).
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let lower = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // bytes of `text` already in `out`
    let mut i = 0;
    while i < bytes.len() {
        let Some(key) = SECRET_KEYS
            .iter()
            .find(|k| lower[i..].starts_with(k.as_bytes()))
        else {
            i += 1;
            continue;
        };
        let after_key = i + key.len();
        let Some(value_start) = separator_end(lower, after_key) else {
            i = after_key;
            continue;
        };
        let value_end = value_start
            + bytes[value_start..]
                .iter()
                .take_while(|b| is_value_byte(**b))
                .count();
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(REDACTED);
            copied = value_end;
        }
        i = value_end.max(after_key);
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the value starts, if `at` begins a separator between a key and its value: up to 256
/// separator characters, each `"`, `\`, `:`, space or `=`, raw or percent-encoded any
/// number of times (`%3d`, `%253d`, `%22`, ...), holding at least one `=` or `:`. That covers
/// query strings, header maps, and either of them inside JSON or URLs, nested.
fn separator_end(lower: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    let mut assigns = false;
    for _ in 0..256 {
        let Some((character, len)) = separator_char(&lower[i..]) else {
            break;
        };
        assigns |= matches!(character, b'=' | b':');
        i += len;
    }
    (assigns && i > at).then_some(i)
}

/// The separator character at the start of `bytes` and its encoded length.
fn separator_char(bytes: &[u8]) -> Option<(u8, usize)> {
    match bytes.first()? {
        c @ (b'"' | b'\\' | b':' | b' ' | b'=') => Some((*c, 1)),
        b'%' => {
            let mut i = 1;
            while bytes[i..].starts_with(b"25") {
                i += 2;
            }
            let character = match bytes.get(i..i + 2)? {
                b"22" => b'"',
                b"5c" => b'\\',
                b"3a" => b':',
                b"20" => b' ',
                b"3d" => b'=',
                _ => return None,
            };
            Some((character, i + 2))
        }
        _ => None,
    }
}

/// Bytes a presigned URL's credential values are made of (hex, base64, percent-encoding,
/// the `/`-separated credential scope).
fn is_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'%' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const CRED: &str = "ASIAEXAMPLE%2F20261202%2Fus-east-1%2Fs3%2Faws4_request";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE%2B%2Fabc%3D%3D";

    fn presigned() -> String {
        format!("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261202T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential={CRED}&X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIG}")
    }

    fn assert_clean(line: &str) {
        let red = redact(line);
        for secret in [SIG, CRED, TOKEN, "ASIAEXAMPLE", "IQoJb3JpZ2luX2VjEXAMPLE"] {
            assert!(!red.contains(secret), "{secret} left in {red}");
        }
        assert!(red.contains(REDACTED), "{red}");
    }

    #[test]
    fn query_strings_are_redacted() {
        let red = redact(&format!("url={} rest", presigned()));
        assert_clean(&red);
        assert!(red.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{red}");
        assert!(red.contains("X-Amz-Signature=REDACTED rest"), "{red}");
        assert!(red.contains("X-Amz-Credential=REDACTED&"), "{red}");
    }

    #[test]
    fn json_encoded_and_url_encoded_forms_are_redacted() {
        let event = serde_json::json!({"ResponseURL": presigned()}).to_string();
        assert_clean(&event);
        // A JSON event logged inside a JSON log line (escaped twice).
        let line = serde_json::json!({"fields": {"body": event}}).to_string();
        assert_clean(&line);
        // The URL percent-encoded (once or more) as a parameter of another URL.
        let once: String = presigned().replace('&', "%26").replace('=', "%3D");
        assert_clean(&once);
        assert_clean(&once.replace('%', "%25"));
        assert_clean(&once.replace('%', "%2525"));
        // JSON inside JSON inside JSON.
        let header = serde_json::json!({"X-Amz-Security-Token": TOKEN, "X-Amz-Signature": SIG, "X-Amz-Credential": CRED});
        let twice = serde_json::json!({"m": header.to_string()}).to_string();
        assert_clean(&serde_json::json!({"m": twice}).to_string());
        // Header maps.
        assert_clean(&format!("{{\"x-amz-security-token\": \"{TOKEN}\", \"X-Amz-Signature\": \"{SIG}\", \"x-amz-credential\": \"{CRED}\"}}"));
        assert_clean(&format!(
            "X-Amz-Security-Token: {TOKEN}\nX-AMZ-SIGNATURE: {SIG}\nX-Amz-Credential: {CRED}"
        ));
    }

    #[test]
    fn regressions_found_by_make_fuzz() {
        // A JSON header map percent-encoded: the separator is `%22:%22`.
        assert_clean(&format!(
            "x{{%22x-amz-credential%22:%22{CRED}%22,%22X-Amz-Signature%22:%22{SIG}%22,%22x-amz-security-token%22:%22{TOKEN}%22}}"
        ));
        // A header map JSON-encoded four times: 15 backslashes before each quote.
        let mut text = serde_json::json!({"X-Amz-Security-Token": TOKEN, "X-Amz-Signature": SIG, "X-Amz-Credential": CRED}).to_string();
        for _ in 0..4 {
            text = serde_json::json!(text).to_string();
        }
        assert_clean(&text);
    }

    #[test]
    fn sigv2_urls_are_redacted() {
        let red = redact("https://b.s3.amazonaws.com/x?AWSAccessKeyId=AKIAEXAMPLE&Expires=1&Signature=abc%2Bdef%3D");
        assert!(
            !red.contains("AKIAEXAMPLE") && !red.contains("abc%2Bdef"),
            "{red}"
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for line in [
            "{\"level\":\"INFO\",\"fields\":{\"message\":\"answering CloudFormation\",\"status\":\"Success\"}}",
            "the signature of the credentials provider is fine",
            "credentials loaded; signature verified",
            "é unicode ✓ signature",
            "",
            "signature=",
        ] {
            assert_eq!(redact(line), line);
        }
    }
}
