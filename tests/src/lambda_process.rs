//! Runs a built function binary exactly as Lambda (or `cargo lambda watch`, or `sam local
//! invoke`) does: as a process talking HTTP to a Lambda Runtime API, which here is a small
//! local server that hands out the events a test queues and records what comes back.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::http_server::{HttpResponse, HttpServer};

/// The functions' variable that lets them answer ResponseURLs on these hosts (local only).
pub const ALLOWED_HOSTS_VARIABLE: &str = "RESPONSE_URL_ALLOWED_HOSTS";

/// What the function posted back for one invocation.
#[derive(Clone, Debug)]
pub enum InvocationResult {
    /// `POST /invocation/{id}/response`
    Response(Value),
    /// `POST /invocation/{id}/error` (or an init error)
    Error(Value),
}

impl InvocationResult {
    pub fn is_ok(&self) -> bool {
        matches!(self, InvocationResult::Response(_))
    }
}

struct Queued {
    request_id: String,
    deadline_ms: u64,
    /// The event's bytes, exactly as the Runtime API hands them out (they need not be JSON).
    event: Vec<u8>,
}

/// A function process and its Runtime API.
pub struct LambdaProcess {
    child: Child,
    events: Sender<Queued>,
    results: Receiver<(String, InvocationResult)>,
    output: Arc<Mutex<String>>,
    _api: HttpServer,
    counter: u32,
}

/// Where cargo put the workspace binaries: beside this executable (a bin such as the demo)
/// or beside the `deps` folder holding it (a test).
pub fn binary_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{name} not found in {candidates:?}: build the functions first (`cargo build --workspace --bins`, as `make test` does)"
            )
        })
}

/// The invoked function ARN the local Runtime API announces: Lambda's form, in the emulator's
/// account.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:corebound-test";

/// What `cargo lambda watch` (1.9.2) announces instead of an ARN (measured: it sends the header
/// `lambda-runtime-invoked-function-arn: function-arn`), so a function cannot learn its account
/// from it there.
pub const CARGO_LAMBDA_FUNCTION_ARN: &str = "function-arn";

impl LambdaProcess {
    /// Start `binary` with the given extra environment (the AWS endpoints, function settings).
    ///
    /// `RESPONSE_URL_ALLOWED_HOSTS=127.0.0.1` is set by default, so the functions answer the
    /// local ResponseURL stand-ins (they answer only https S3 URLs otherwise); `env` may
    /// override it.
    pub fn start(binary: impl Into<PathBuf>, env: &[(&str, &str)]) -> Self {
        Self::start_as(binary, env, FUNCTION_ARN)
    }

    /// Like [`start`](Self::start), announcing `invoked_function_arn` in every invocation's
    /// `Lambda-Runtime-Invoked-Function-Arn` header, e.g. [`CARGO_LAMBDA_FUNCTION_ARN`].
    pub fn start_as(
        binary: impl Into<PathBuf>,
        env: &[(&str, &str)],
        invoked_function_arn: &str,
    ) -> Self {
        let invoked_function_arn = invoked_function_arn.to_string();
        let (event_tx, event_rx) = mpsc::channel::<Queued>();
        let (result_tx, result_rx) = mpsc::channel();
        let event_rx = Arc::new(Mutex::new(event_rx));
        let api = HttpServer::start(move |request| {
            let path = request.path.as_str();
            if request.method == "GET" && path.ends_with("/runtime/invocation/next") {
                // Long-poll, as the real API does, until a test queues an event.
                let Ok(next) = event_rx.lock().unwrap().recv() else {
                    return HttpResponse::status(500);
                };
                let mut response = HttpResponse {
                    status: 200,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: next.event,
                };
                response.headers.extend([
                    ("Lambda-Runtime-Aws-Request-Id".into(), next.request_id),
                    (
                        "Lambda-Runtime-Deadline-Ms".into(),
                        next.deadline_ms.to_string(),
                    ),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn".into(),
                        invoked_function_arn.clone(),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id".into(),
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                ]);
                return response;
            }
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match segments.as_slice() {
                [_, "runtime", "invocation", id, "response"] => {
                    let _ = result_tx.send((id.to_string(), InvocationResult::Response(body)));
                }
                [_, "runtime", "invocation", id, "error"] => {
                    let _ = result_tx.send((id.to_string(), InvocationResult::Error(body)));
                }
                [_, "runtime", "init", "error"] => {
                    let _ = result_tx.send(("init".to_string(), InvocationResult::Error(body)));
                }
                _ => return HttpResponse::status(404),
            }
            HttpResponse::status(202)
        });

        let mut command = Command::new(binary.into());
        command
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "corebound-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/corebound-test")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_MAX_ATTEMPTS", "2")
            .env(ALLOWED_HOSTS_VARIABLE, "127.0.0.1")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn function binary");
        let output = Arc::new(Mutex::new(String::new()));
        for mut stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&output);
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        LambdaProcess {
            child,
            events: event_tx,
            results: result_rx,
            output,
            _api: api,
            counter: 0,
        }
    }

    /// Invoke with an event and a deadline `timeout` from now; wait for the result.
    pub fn invoke(&mut self, event: &Value, timeout: Duration) -> InvocationResult {
        let deadline_ms = (SystemTime::now() + timeout)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.invoke_with_deadline_ms(event, deadline_ms, timeout + Duration::from_secs(10))
    }

    /// Invoke with a raw deadline header (e.g. `600000`, as `cargo lambda watch` sends), waiting
    /// at most `wait` for the result.
    pub fn invoke_with_deadline_ms(
        &mut self,
        event: &Value,
        deadline_ms: u64,
        wait: Duration,
    ) -> InvocationResult {
        self.invoke_bytes_with_deadline_ms(serde_json::to_vec(event).unwrap(), deadline_ms, wait)
    }

    /// Invoke with raw event bytes (not necessarily valid JSON or UTF-8) and a deadline
    /// `timeout` from now.
    pub fn invoke_bytes(&mut self, event: Vec<u8>, timeout: Duration) -> InvocationResult {
        let deadline_ms = (SystemTime::now() + timeout)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        self.invoke_bytes_with_deadline_ms(event, deadline_ms, timeout + Duration::from_secs(10))
    }

    fn invoke_bytes_with_deadline_ms(
        &mut self,
        event: Vec<u8>,
        deadline_ms: u64,
        wait: Duration,
    ) -> InvocationResult {
        self.counter += 1;
        let request_id = format!("lambda-request-{}", self.counter);
        self.events
            .send(Queued {
                request_id: request_id.clone(),
                deadline_ms,
                event,
            })
            .unwrap();
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.results.recv_timeout(left) {
                Ok((id, result)) if id == request_id || id == "init" => return result,
                Ok(_) => continue,
                Err(_) => panic!(
                    "no invocation result within {wait:?}; function output:\n{}",
                    self.output()
                ),
            }
        }
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Wait until the output contains `needle`: log lines travel through a pipe and may
    /// arrive a moment after the invocation result. Returns whether it appeared in time.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            if self.output().contains(needle) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The JSON log lines written so far.
    pub fn log_records(&self) -> Vec<Value> {
        self.output()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
