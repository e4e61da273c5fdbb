//! What the functions need to run against the local AWS: the connection (endpoint, region,
//! dummy credentials, the ResponseURL hosts they may answer) and each function's own settings,
//! with values that match what `seed` creates. Printed by `make local` as `export` lines and
//! written to `events/env.json` for `sam local invoke --env-vars`.

use serde_json::{json, Map, Value};

/// The emulator's account (moto's) and the region of every resource the events name.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// The port `make local` listens on unless `LOCAL_PORT` says otherwise; the events' ResponseURLs
/// point at it.
pub const DEFAULT_PORT: u16 = 4599;

/// The application as the template would name it: `AppName` Demo, roles `LPMA_Demo_*`.
pub const ROLE_PREFIX: &str = "LPMA_";
pub const SCOPE_PATTERNS: &str = "corebound-demo-*,corebound_demo_*,LPMA_Demo_*";
/// The account the sample runtime policy lets invoke (events/runtime-policy/*.json).
pub const PRINCIPAL_ACCOUNTS: &str = "210987654321";
/// The project CMK (a fixed id, so `events/env.json` can name it) and the alert topic, named as
/// template.yaml names them for AppName `Demo`.
pub const PROJECT_KEY_ID: &str = "7c0b0e5d-4a1f-4e2b-9c3d-5e6f7a8b9c0d";
pub const PROJECT_KEY_ALIAS: &str = "alias/Demo-corebound";
pub const ALERT_TOPIC: &str = "Demo-corebound-alerts";
pub const REMEDIATOR_ROLE: &str = "LPMA_Demo_Remediator";
/// The remediator's queue of events to look at again later (template.yaml `DeferralQueue`).
pub const DEFERRAL_QUEUE: &str = "Demo-corebound-deferral";
/// The sweep's work queue and report bucket (template.yaml `SweepQueue`, `ReportBucket`; in AWS
/// the bucket's name is generated, here a fixed one).
pub const SWEEP_QUEUE: &str = "Demo-corebound-sweep";
pub const REPORT_BUCKET: &str = "demo-corebound-reports";

/// The permissions boundary the preflight rules expect on every role (the demo's).
pub fn boundary_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{ROLE_PREFIX}Boundary")
}

/// Dummy credentials: the emulator accepts any, the SDK refuses to sign without some.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

pub fn project_key_arn() -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{PROJECT_KEY_ID}")
}

pub fn alert_topic_arn() -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:{ALERT_TOPIC}")
}

/// In AWS's form: the SDK sends SQS calls to the endpoint and the emulator finds the queue by
/// its account and name, so one URL serves every endpoint (loopback, host.docker.internal).
pub fn deferral_queue_url() -> String {
    format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{DEFERRAL_QUEUE}")
}

pub fn sweep_queue_url() -> String {
    format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{SWEEP_QUEUE}")
}

/// The five mandatory tags, as the template's REQUIRED_TAGS builds them from its parameters.
pub fn required_tags() -> Value {
    json!({"ApplicationId": "app-0042", "Environment": "preprod", "Project": "corebound",
           "ServiceLine": "platform", "ManagedBy": "platform-ci"})
}

/// One function: its cargo package (what `cargo lambda invoke` names), its logical id in
/// template.yaml (what `sam local invoke` names) and its settings.
pub struct Function {
    pub package: &'static str,
    pub logical_id: &'static str,
    pub settings: Vec<(&'static str, String)>,
}

/// Every function's own settings, as template.yaml sets them (with the local values). The
/// custom resources may answer CloudFormation at `response_host` (where `make local` keeps the
/// answers) besides S3.
pub fn functions(response_host: &str) -> Vec<Function> {
    vec![
        Function {
            package: "runtime-policy",
            logical_id: "RuntimePolicyFunction",
            settings: vec![
                ("RESPONSE_URL_ALLOWED_HOSTS", response_host.into()),
                ("SCOPE_PATTERNS", SCOPE_PATTERNS.into()),
                ("ALLOWED_PRINCIPAL_ACCOUNTS", PRINCIPAL_ACCOUNTS.into()),
            ],
        },
        Function {
            package: "memory-grant",
            logical_id: "MemoryGrantFunction",
            settings: vec![
                ("RESPONSE_URL_ALLOWED_HOSTS", response_host.into()),
                ("REQUIRED_ROLE_PREFIX", ROLE_PREFIX.into()),
                ("SCOPE_PATTERNS", SCOPE_PATTERNS.into()),
            ],
        },
        Function {
            package: "remediator",
            logical_id: "RemediatorFunction",
            settings: vec![
                ("REQUIRED_TAGS", required_tags().to_string()),
                ("KMS_KEY_ARN", project_key_arn()),
                ("MODE", "enforce".into()),
                ("SCOPE_PATTERNS", SCOPE_PATTERNS.into()),
                ("ALERT_TOPIC_ARN", alert_topic_arn()),
                ("REQUIRED_ROLE_PREFIX", ROLE_PREFIX.into()),
                (
                    "SELF_ROLE_ARN",
                    format!("arn:aws:iam::{ACCOUNT}:role/{REMEDIATOR_ROLE}"),
                ),
                ("OPT_OUT_TAG", "corebound:remediation".into()),
                ("DEFERRAL_QUEUE_URL", deferral_queue_url()),
                // The template's default. Nothing drains the queue locally (no event source
                // mapping): a deferred event waits there.
                ("DEFERRAL_DELAY_SECONDS", "120".into()),
                // A sweep started locally enqueues its units here; nothing drains the queue
                // locally either (`corebound sweep` runs the units in-process).
                ("SWEEP_QUEUE_URL", sweep_queue_url()),
                ("REPORT_BUCKET", REPORT_BUCKET.into()),
            ],
        },
        Function {
            package: "preflight-hook",
            logical_id: "PreflightHookFunction",
            settings: vec![
                ("REQUIRED_ROLE_PREFIX", ROLE_PREFIX.into()),
                ("REQUIRED_TAGS", required_tags().to_string()),
                ("KMS_KEY_ARN", project_key_arn()),
                ("PERMISSIONS_BOUNDARY_ARN", boundary_arn()),
                ("HOOK_FAILURE_MODE", "WARN".into()),
                // The STACK payload lives in the local S3 (seed.rs), on the emulator's host.
                ("PAYLOAD_URL_ALLOWED_HOSTS", response_host.into()),
            ],
        },
    ]
}

/// How every function reaches the local AWS at `endpoint`.
pub fn connection(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
    ]
}

/// One environment for every function, as `cargo lambda watch` gives them (it serves the whole
/// workspace from one shell): the connection, then each setting once, with the functions that
/// read it. Panics if two functions want different values for one variable.
pub fn shared_environment(endpoint: &str, response_host: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = connection(endpoint)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v, "every function".to_string()))
        .collect();
    for function in functions(response_host) {
        for (name, value) in function.settings {
            match out.iter_mut().find(|(k, _, _)| k == name) {
                Some((_, existing, readers)) => {
                    assert_eq!(
                        existing, &value,
                        "{name}: one shell cannot give two functions different values"
                    );
                    readers.push_str(&format!(", {}", function.package));
                }
                None => out.push((name.to_string(), value, function.package.to_string())),
            }
        }
    }
    out
}

/// `export NAME=value` lines to paste into a shell, under comments naming the functions that
/// read them.
pub fn export_lines(endpoint: &str, response_host: &str) -> String {
    let mut out = String::new();
    let mut last_readers = String::new();
    for (name, value, readers) in shared_environment(endpoint, response_host) {
        if readers != last_readers {
            out.push_str(&format!("# {readers}\n"));
            last_readers = readers;
        }
        out.push_str(&format!("export {name}={}\n", shell_quote(&value)));
    }
    out
}

/// Quote for a POSIX shell when needed (single quotes; the values hold none).
pub fn shell_quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.:/,@%+=".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_string()
    } else {
        assert!(!value.contains('\''), "{value}: no single quotes expected");
        format!("'{value}'")
    }
}

/// The inverse of [`export_lines`]: `(name, value)` for every `export` line in `text`.
pub fn parse_export_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('=')?;
            let value = match rest.strip_prefix('\'') {
                Some(quoted) => quoted.split_once('\'')?.0.to_string(),
                None => rest.split_whitespace().next().unwrap_or("").to_string(),
            };
            Some((name.to_string(), value))
        })
        .collect()
}

/// `events/env.json`: for `sam local invoke --env-vars`, one entry per function (by logical id),
/// reaching the emulator on the host at `port` through `host.docker.internal`.
pub fn sam_env_vars(port: u16) -> Value {
    let endpoint = format!("http://host.docker.internal:{port}");
    let mut file = Map::new();
    for function in functions("host.docker.internal") {
        let mut variables = Map::new();
        for (name, value) in connection(&endpoint)
            .into_iter()
            // SAM sets the region and the credentials itself (--region, the host's credentials),
            // and Lambda reserves these names: the template cannot declare them.
            .filter(|(name, _)| !name.starts_with("AWS_") || *name == "AWS_ENDPOINT_URL")
            .chain(function.settings)
        {
            variables.insert(name.to_string(), Value::String(value));
        }
        file.insert(function.logical_id.to_string(), Value::Object(variables));
    }
    Value::Object(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_round_trip() {
        let text = export_lines("http://127.0.0.1:4599", "127.0.0.1");
        let parsed = parse_export_lines(&text);
        let expected: Vec<(String, String)> =
            shared_environment("http://127.0.0.1:4599", "127.0.0.1")
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect();
        assert_eq!(parsed, expected);
        assert!(text.contains("export REQUIRED_TAGS='{\"ApplicationId\":\"app-0042\""));
    }

    #[test]
    fn every_function_has_the_connection_in_the_sam_file() {
        let file = sam_env_vars(4599);
        for function in functions("host.docker.internal") {
            let vars = &file[function.logical_id];
            assert_eq!(vars["AWS_ENDPOINT_URL"], "http://host.docker.internal:4599");
            assert!(vars.get("AWS_ACCESS_KEY_ID").is_none());
        }
        assert_eq!(
            file["RuntimePolicyFunction"]["RESPONSE_URL_ALLOWED_HOSTS"],
            "host.docker.internal"
        );
        assert!(file["RemediatorFunction"]
            .get("RESPONSE_URL_ALLOWED_HOSTS")
            .is_none());
    }
}
