//! The local AWS emulator (tests/emulator/corebound_emulator.py: moto plus the operations
//! moto lacks), started per test binary on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

use serde_json::Value;

pub struct Emulator {
    child: Mutex<Child>,
    url: String,
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

static SHARED: OnceLock<Emulator> = OnceLock::new();
static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Exclusive use of this test binary's emulator, reset to an empty state. Tests in one binary
/// run in parallel threads, so they take turns on the one emulator.
pub fn emulator() -> (MutexGuard<'static, ()>, &'static Emulator) {
    let guard = EXCLUSIVE.lock().unwrap_or_else(|p| p.into_inner());
    let emulator = SHARED.get_or_init(Emulator::start);
    emulator.reset();
    (guard, emulator)
}

impl Emulator {
    /// On a free loopback port, its error output discarded.
    pub fn start() -> Self {
        Self::start_at("127.0.0.1", 0, Stdio::null())
    }

    /// On `host:port` (port 0: a free one), its error output (tracebacks) sent to `stderr`.
    pub fn start_at(host: &str, port: u16, stderr: Stdio) -> Self {
        let python = std::env::var("COREBOUND_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = repo_root().join("tests/emulator/corebound_emulator.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--host", host, "--port", &port.to_string(), "--exit-with-stdin"])
            // The emulator exits when this pipe closes, i.e. when the test process ends.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator with {python}: {e} (set COREBOUND_PYTHON to the venv python, as `make test` does)"));
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("READY ") {
                        break url.trim().to_string();
                    }
                }
                _ => panic!(
                    "the emulator exited before it was ready (is moto installed for {python}? is port {port} free?)"
                ),
            }
        };
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Emulator {
            child: Mutex::new(child),
            url,
        }
    }

    /// Wait until the emulator process exits (e.g. on Ctrl-C); returns whether it exited cleanly.
    pub fn wait(&self) -> bool {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        // `Child::wait` closes stdin first, which would tell the emulator to exit: keep it open.
        let _stdin = child.stdin.take();
        child.wait().is_ok_and(|status| status.success())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Environment that points a function at this emulator for every AWS service.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url.clone()),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
                self.url.clone(),
            ),
        ]
    }

    pub fn reset(&self) {
        self.post("/_corebound/reset", &Value::Null);
    }

    pub fn post(&self, path: &str, body: &Value) -> Value {
        self.call("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> Value {
        self.call("PUT", path, Some(body))
    }

    pub fn get(&self, path: &str) -> Value {
        self.call("GET", path, None)
    }

    pub fn delete(&self, path: &str) -> Value {
        self.call("DELETE", path, None)
    }

    /// Every AWS request the emulator served since the last reset.
    pub fn requests(&self) -> Vec<Value> {
        self.get("/_corebound/requests")["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Names of the operations served since the last reset, in order.
    pub fn operations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["operation"].as_str().map(str::to_string))
            .collect()
    }

    /// Call an AWS REST-JSON operation directly, as a third party would (unsigned; the
    /// credential scope in the Authorization header routes it to `service`).
    pub fn aws_rest(
        &self,
        service: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        // The default caller, or the account and region `aws_calls::as_caller` set.
        let authorization = crate::aws_calls::authorization(service);
        crate::http_client::request_with_headers(
            method,
            &format!("{}{}", self.url, path),
            body,
            &[("Authorization", &authorization)],
        )
    }

    /// Write a resource policy on an AgentCore resource, as another stack or a person would.
    pub fn put_resource_policy(&self, arn: &str, policy: &Value) {
        let body = serde_json::json!({"policy": policy.to_string()});
        self.aws_rest(
            "bedrock-agentcore",
            "PUT",
            &format!("/resourcepolicy/{}", crate::aws_calls::form_encode(arn)),
            Some(&body),
        )
        .unwrap_or_else(|e| panic!("PutResourcePolicy {arn}: {e}"));
    }

    /// Every stored AgentCore resource policy, parsed: ARN to document.
    pub fn resource_policies(&self) -> serde_json::Map<String, Value> {
        let stored = self.get("/_corebound/agentcore/policies");
        stored
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(arn, text)| {
                let doc = text
                    .as_str()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or(text);
                (arn, doc)
            })
            .collect()
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        crate::http_client::request(method, &format!("{}{}", self.url, path), body)
            .unwrap_or_else(|e| panic!("emulator {method} {path}: {e}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
