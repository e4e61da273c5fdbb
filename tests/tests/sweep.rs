//! The scheduled sweep end to end: the `remediator` binary through the Lambda Runtime API
//! (the schedule's start message, then the work queue's messages fed back to it as SQS
//! batches, as the event source mapping would), and the `corebound sweep` command, against
//! the local emulator. Pages are kept small (`SWEEP_PAGE_SIZE=2`) so every type with more
//! than two resources takes several units.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use corebound_tests::aws_calls::fixtures as aws;
use corebound_tests::aws_calls::{json as aws_json, rest_xml};
use corebound_tests::{binary_path, emulator, Emulator, InvocationResult, LambdaProcess};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);
const ACCOUNT: &str = "123456789012";
const SCOPE: &str = "corebound-demo-*,corebound_demo_*,LPMA_Demo_*";
const WORK_QUEUE: &str = "platform-sweep-work";
const ALERT_QUEUE: &str = "platform-alert-inbox";
const REPORT_BUCKET: &str = "platform-sweep-reports";
const REQUIRED: [(&str, &str); 5] = [
    ("ApplicationId", "APP-0042"),
    ("Environment", "preprod"),
    ("Project", "corebound-demo"),
    ("ServiceLine", "platform"),
    ("ManagedBy", "platform-ci"),
];

fn required_tags() -> BTreeMap<String, String> {
    REQUIRED
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Operations that change a resource (the sweep's own queue and report-bucket traffic apart).
fn resource_writes(requests: &[Value]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !is_sweep_infrastructure(r))
        .filter_map(|r| r["operation"].as_str())
        .filter(|op| corebound_tests::remediator::is_write(op))
        .map(str::to_string)
        .collect()
}

/// The sweep's own calls: the work queue, the report bucket, the alert topic.
fn is_sweep_infrastructure(request: &Value) -> bool {
    let op = request["operation"].as_str().unwrap_or_default();
    let path = request["path"].as_str().unwrap_or_default();
    matches!(
        op,
        "SendMessage" | "ReceiveMessage" | "DeleteMessage" | "Publish"
    ) || path.starts_with(&format!("/{REPORT_BUCKET}"))
}

struct Fixture {
    cmk: String,
    work_queue: String,
    alert_queue: String,
    alert_topic: String,
}

impl Fixture {
    fn new(emu: &Emulator) -> Self {
        let cmk = aws::create_key(emu, "corebound demo project key", &[]);
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]});
        aws_json(
            emu,
            "kms",
            "TrentService.PutKeyPolicy",
            &json!({"KeyId": cmk, "PolicyName": "default", "Policy": policy.to_string()}),
        )
        .unwrap();
        // Delivered at once and visible again at once when a batch item fails: the test
        // plays the event source mapping (and its retries) by hand.
        let work_queue = aws::create_queue(emu, WORK_QUEUE, &[("VisibilityTimeout", "0")], &[]);
        let alert_topic = aws::create_topic(emu, "platform-remediation-alerts", &[], &[]);
        let alert_queue = aws::create_queue(emu, ALERT_QUEUE, &[], &[]);
        aws::subscribe_queue(
            emu,
            &alert_topic,
            &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{ALERT_QUEUE}"),
        );
        aws::create_bucket(emu, REPORT_BUCKET);
        Fixture {
            cmk,
            work_queue,
            alert_queue,
            alert_topic,
        }
    }

    fn env(&self, emu: &Emulator, mode: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = emu
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for (k, v) in [
            ("REQUIRED_TAGS", json!(required_tags()).to_string()),
            ("KMS_KEY_ARN", self.cmk.clone()),
            ("MODE", mode.to_string()),
            ("SCOPE_PATTERNS", SCOPE.to_string()),
            ("ALERT_TOPIC_ARN", self.alert_topic.clone()),
            ("REQUIRED_ROLE_PREFIX", "LPMA_".to_string()),
            ("REMEDIATION_RETRY_ATTEMPTS", "2".to_string()),
            ("REMEDIATION_RETRY_BACKOFF_MS", "10".to_string()),
            ("AWS_MAX_ATTEMPTS", "1".to_string()),
            ("SWEEP_QUEUE_URL", self.work_queue.clone()),
            ("REPORT_BUCKET", REPORT_BUCKET.to_string()),
            ("SWEEP_PAGE_SIZE", "2".to_string()),
            (
                "AWS_LAMBDA_FUNCTION_NAME",
                "corebound-remediator".to_string(),
            ),
        ] {
            env.push((k.to_string(), v));
        }
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    fn start(&self, emu: &Emulator, mode: &str, extra: &[(&str, &str)]) -> LambdaProcess {
        let env = self.env(emu, mode, extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let process = LambdaProcess::start(binary_path("remediator"), &env);
        assert!(
            process.wait_for_output("remediator ready", Duration::from_secs(15)),
            "{}",
            process.output()
        );
        process
    }

    fn alerts(&self, emu: &Emulator) -> Vec<String> {
        aws::receive_messages(emu, &self.alert_queue, 0)
            .iter()
            .filter_map(|message| {
                let body: Value = serde_json::from_str(message["Body"].as_str()?).ok()?;
                Some(body["Message"].as_str()?.to_string())
            })
            .collect()
    }
}

fn sqs_record(message: &Value) -> Value {
    corebound_tests::remediator::sqs_record(
        message,
        &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{WORK_QUEUE}"),
    )
}

fn response(result: InvocationResult) -> Value {
    match result {
        InvocationResult::Response(value) => value,
        InvocationResult::Error(error) => panic!("invocation failed: {error}"),
    }
}

/// What feeding the work queue to the function did.
#[derive(Default)]
struct Drained {
    invocations: usize,
    /// Batch items the function failed (they came back, as SQS redelivers them).
    failed_items: usize,
}

/// Plays the event source mapping: batches of up to 10 queued units to the function, the
/// succeeded ones deleted, the failed ones left for redelivery, until the queue is empty.
fn drain(process: &mut LambdaProcess, emu: &Emulator, fx: &Fixture) -> Drained {
    let mut drained = Drained::default();
    for _ in 0..200 {
        let messages = aws::receive_messages(emu, &fx.work_queue, 0);
        if messages.is_empty() {
            return drained;
        }
        let batch = json!({"Records": messages.iter().map(sqs_record).collect::<Vec<_>>()});
        let answer = response(process.invoke(&batch, WAIT));
        drained.invocations += 1;
        let failed: Vec<String> = answer["batchItemFailures"]
            .as_array()
            .unwrap_or_else(|| panic!("not a batch answer: {answer}"))
            .iter()
            .map(|item| item["itemIdentifier"].as_str().unwrap().to_string())
            .collect();
        drained.failed_items += failed.len();
        for message in &messages {
            if !failed.iter().any(|id| message["MessageId"] == *id) {
                aws::delete_message(emu, &fx.work_queue, message);
            }
        }
    }
    panic!("the work queue never emptied");
}

fn start_sweep(process: &mut LambdaProcess) -> Value {
    response(process.invoke(&json!({"corebound": "sweep-start"}), WAIT))
}

fn report(emu: &Emulator, sweep_id: &str) -> Value {
    let text = rest_xml(
        emu,
        "GET",
        &format!("/{REPORT_BUCKET}/sweeps/{sweep_id}/report.json"),
        "",
    )
    .unwrap_or_else(|error| panic!("no report for {sweep_id}: {error}"));
    serde_json::from_str(&text).unwrap()
}

fn lock_exists(emu: &Emulator) -> bool {
    rest_xml(emu, "GET", &format!("/{REPORT_BUCKET}/sweep-lock.json"), "").is_ok()
}

/// The report's entry for the resource whose ARN (or URL, or name) ends with `suffix`.
fn entry<'a>(report: &'a Value, suffix: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["arn"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {:#}", report["resources"]))
}

fn all_tags() -> Vec<(&'static str, &'static str)> {
    REQUIRED.to_vec()
}

/// A small account: per type some compliant and some non-compliant in-scope resources, and
/// other teams' resources (the sweep's own queue and bucket among them).
struct Account {
    bare_queues: Vec<String>,
    compliant_queue: String,
    bare_secret: String,
    compliant_secret: String,
    bare_topic: String,
    foreign_key_topic: String,
    other_team_queue: String,
}

fn seed(emu: &Emulator, fx: &Fixture) -> Account {
    let tags = all_tags();
    let cmk = fx.cmk.as_str();
    let bare_queues = (1..=2)
        .map(|i| aws::create_queue(emu, &format!("corebound-demo-q{i}"), &[], &[]))
        .collect();
    let compliant_queue =
        aws::create_queue(emu, "corebound-demo-q0", &[("KmsMasterKeyId", cmk)], &tags);
    let other_team_queue = aws::create_queue(emu, "payments-ledger", &[], &[]);
    let bare_secret = aws::create_secret(emu, "corebound-demo-db", None, &[]);
    let compliant_secret = aws::create_secret(emu, "corebound-demo-api", Some(cmk), &tags);
    aws::create_secret(emu, "payments-db", None, &[]);
    let bare_topic = aws::create_topic(emu, "corebound-demo-events", &[], &[]);
    let foreign_key = aws::create_key(emu, "someone else's key", &[]);
    let foreign_key_topic = aws::create_topic(
        emu,
        "corebound-demo-audit",
        &[("KmsMasterKeyId", foreign_key.as_str())],
        &tags,
    );
    aws::create_log_group(emu, "corebound-demo-app", Some(cmk), &tags);
    aws::create_log_group(emu, "corebound-demo-worker", None, &[]);
    aws::create_log_group(emu, "/aws/lambda/payments", None, &[]);
    aws::create_bucket(emu, "corebound-demo-data");
    aws::put_bucket_tags(emu, "corebound-demo-data", &tags);
    aws::put_bucket_kms_encryption(emu, "corebound-demo-data", cmk);
    aws::create_role(emu, "LPMA_Demo_app", &[]);
    aws::create_role(emu, "LPMA_Demo_tagged", &tags);
    let demo_key = aws::create_key(emu, "demo data key", &[]);
    aws::create_alias(emu, "alias/corebound-demo-data", &demo_key);
    Account {
        bare_queues,
        compliant_queue,
        bare_secret,
        compliant_secret,
        bare_topic,
        foreign_key_topic,
        other_team_queue,
    }
}

#[test]
fn report_mode_sweeps_every_page_writes_nothing_and_reports_every_resource() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let account = seed(emu, &fx);
    let mut process = fx.start(emu, "report", &[]);

    let started = start_sweep(&mut process);
    assert_eq!(started["sweep"], "started", "{started}");
    assert_eq!(started["units"], 10);
    let sweep_id = started["sweep_id"].as_str().unwrap().to_string();
    assert!(lock_exists(emu), "the running sweep holds the lock");

    let before = emu.requests().len();
    let drained = drain(&mut process, emu, &fx);
    let requests = emu.requests()[before..].to_vec();
    assert_eq!(drained.failed_items, 0);
    assert_eq!(
        resource_writes(&requests),
        Vec::<String>::new(),
        "report mode writes nothing"
    );

    let report = report(emu, &sweep_id);
    assert_eq!(report["schema"], "corebound-sweep-report/1");
    assert_eq!(report["mode"], "report");
    let types: BTreeMap<String, Value> = report["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["type"].as_str().unwrap().to_string(), t.clone()))
        .collect();
    assert_eq!(types.len(), 10);
    // 6 queues (3 of this project, the other team's, the work queue, the alert inbox).
    assert_eq!(types["sqs_queue"]["listed"], 6);
    assert_eq!(types["sqs_queue"]["pages"], 3, "two per page");
    assert_eq!(types["sqs_queue"]["out_of_scope"], 3);
    assert_eq!(types["secret"]["pages"], 2);
    assert_eq!(types["log_group"]["pages"], 2);

    for queue in &account.bare_queues {
        let queue = entry(&report, queue);
        assert_eq!(queue["outcome"], "would-fix", "{queue}");
        assert!(queue["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("cmk-encryption")));
        assert!(queue["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("tag:Project")));
    }
    assert_eq!(
        entry(&report, &account.compliant_queue)["outcome"],
        "compliant"
    );
    assert_eq!(entry(&report, &account.bare_secret)["outcome"], "would-fix");
    assert_eq!(
        entry(&report, &account.compliant_secret)["outcome"],
        "compliant"
    );
    assert_eq!(entry(&report, &account.bare_topic)["outcome"], "would-fix");
    let foreign = entry(&report, &account.foreign_key_topic);
    assert_eq!(foreign["outcome"], "exception");
    assert!(foreign["findings"][0]
        .as_str()
        .unwrap()
        .contains("not the project CMK"));
    assert_eq!(entry(&report, "corebound-demo-app")["outcome"], "compliant");
    assert_eq!(
        entry(&report, "corebound-demo-worker")["outcome"],
        "would-fix"
    );
    assert_eq!(
        entry(&report, "corebound-demo-data")["outcome"],
        "compliant"
    );
    assert_eq!(
        entry(&report, ":role/LPMA_Demo_app")["outcome"],
        "would-fix"
    );
    assert_eq!(
        entry(&report, ":role/LPMA_Demo_tagged")["outcome"],
        "compliant"
    );
    // The demo key (alias in scope) lacks the tags; the project key has no alias: out of scope.
    assert_eq!(types["kms_key"]["outcomes"]["would-fix"], 1);
    assert!(report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !r["arn"]
            .as_str()
            .unwrap()
            .ends_with(&account.other_team_queue)));
    assert_eq!(report["summary"]["needs_person"], 1, "the foreign key");
    assert!(!lock_exists(emu), "the lock is released at the end");

    // One metrics line per unit and one for the sweep, in EMF (the sweep's is the last line
    // written; log lines may trail the invocation's answer).
    assert!(process.wait_for_output("\"SweepNonCompliant\"", Duration::from_secs(10)));
    let metrics: Vec<Value> = process
        .log_records()
        .into_iter()
        .filter(|line| line["type"] == "sweep-metrics")
        .collect();
    let units: usize = types
        .values()
        .map(|t| t["pages"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(metrics.len(), units + 1);
    let last = metrics.last().unwrap();
    assert_eq!(
        last["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "corebound/sweep"
    );
    assert_eq!(
        last["SweepNonCompliant"],
        report["summary"]["non_compliant"]
    );
    // Audit records as for events, with the sweep as their event.
    let audits = process
        .log_records()
        .into_iter()
        .filter(|line| line["type"] == "audit")
        .filter(|line| line["event_id"] == format!("sweep:{sweep_id}"))
        .count();
    assert!(audits >= report["summary"]["resources"].as_u64().unwrap() as usize);

    // The summary goes to the alert topic: something needs a person.
    let alerts = fx.alerts(emu);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains("corebound-demo-audit"), "{}", alerts[0]);
    assert!(alerts[0].contains(&format!(
        "s3://{REPORT_BUCKET}/sweeps/{sweep_id}/report.json"
    )));
}

#[test]
fn enforce_mode_fixes_and_a_second_sweep_reads_without_writing() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let account = seed(emu, &fx);
    let mut process = fx.start(emu, "enforce", &[]);

    let first = start_sweep(&mut process)["sweep_id"]
        .as_str()
        .unwrap()
        .to_string();
    drain(&mut process, emu, &fx);
    let report1 = report(emu, &first);
    for queue in &account.bare_queues {
        assert_eq!(entry(&report1, queue)["outcome"], "fixed");
        assert_eq!(aws::queue_tags(emu, queue), required_tags());
        assert_eq!(aws::queue_attributes(emu, queue)["KmsMasterKeyId"], fx.cmk);
    }
    assert_eq!(
        aws::queue_tags(emu, &account.other_team_queue),
        BTreeMap::new()
    );
    assert_eq!(
        aws::describe_secret(emu, &account.bare_secret)["KmsKeyId"],
        fx.cmk
    );
    assert_eq!(aws::role_tags(emu, "LPMA_Demo_app"), required_tags());
    assert_eq!(
        aws::log_group_tags(emu, "corebound-demo-worker"),
        required_tags()
    );
    assert_eq!(
        report1["summary"]["outcomes"]["fixed"], 7,
        "{:#}",
        report1["summary"]
    );

    let second = start_sweep(&mut process)["sweep_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    let before = emu.requests().len();
    drain(&mut process, emu, &fx);
    let requests = emu.requests()[before..].to_vec();
    assert_eq!(resource_writes(&requests), Vec::<String>::new());
    let report2 = report(emu, &second);
    assert_eq!(report2["summary"]["outcomes"]["fixed"], 0);
    assert_eq!(
        report2["summary"]["non_compliant"], 1,
        "only the topic on someone else's key"
    );
    let resources = report2["summary"]["resources"].as_u64().unwrap() as f64;
    let reads = requests
        .iter()
        .filter(|r| !is_sweep_infrastructure(r))
        .count() as f64;
    // Listing overhead dominates an account this small (ten types, two per page): the
    // 10 000-resource bench measures the per-resource figure; here only a loose bound on the
    // total, and an exact one on the reads per resource beside the listing and the batched
    // tag reads: at most one each (a compliant secret or log group costs none).
    assert!(
        reads / resources < 3.0,
        "{reads} reads for {resources} resources"
    );
    let per_resource = requests
        .iter()
        .filter(|r| !is_sweep_infrastructure(r))
        .filter_map(|r| r["operation"].as_str())
        .filter(|op| {
            !op.starts_with("List") && !op.starts_with("Describe") && *op != "GetResources"
                || *op == "ListRoleTags"
        })
        .count() as f64;
    assert!(
        per_resource <= resources,
        "{per_resource} reads for {resources} resources beside the listing"
    );
}

#[test]
fn a_throttled_unit_is_retried_by_the_queue_and_a_vanished_resource_is_gone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic = aws::create_topic(emu, "corebound-demo-events", &[], &[]);
    let queue = aws::create_queue(emu, "corebound-demo-q1", &[], &[]);
    let mut process = fx.start(emu, "report", &[]);
    let sweep_id = start_sweep(&mut process)["sweep_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Throttled past the retries (2 tries, no SDK retries) the first time the queue unit runs.
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sqs", "operation": "ListQueues", "status": 400, "code": "ThrottlingException", "message": "Rate exceeded", "count": 2}),
    );
    // The topic was deleted between the listing and the read.
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sns", "operation": "GetTopicAttributes", "status": 404, "code": "NotFound", "message": "Topic does not exist", "count": 10}),
    );
    let drained = drain(&mut process, emu, &fx);
    assert_eq!(drained.failed_items, 1, "the throttled unit, once");
    assert!(process.wait_for_output(
        "sweep unit failed: the queue retries it",
        Duration::from_secs(10)
    ));
    let report = report(emu, &sweep_id);
    assert_eq!(entry(&report, &queue)["outcome"], "would-fix");
    let gone = entry(&report, &topic);
    assert_eq!(gone["outcome"], "gone");
    assert!(gone["error"].as_str().unwrap().contains("NotFound"));
    assert_eq!(report["summary"]["needs_person"], 0);
}

#[test]
fn malformed_and_stale_units_change_nothing() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_queue(emu, "corebound-demo-q1", &[], &[]);
    let mut process = fx.start(emu, "enforce", &[]);
    let message =
        |id: &str, body: &str| json!({"MessageId": id, "ReceiptHandle": "r", "Body": body});
    let batch = json!({"Records": [
        sqs_record(&message("m-malformed", "{\"sweep_id\": \"x\"")),
        sqs_record(&message("m-unknown-field", r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sqs_queue", "page": 0, "mode": "enforce"}"#)),
        sqs_record(&message("m-stale", r#"{"sweep_id": "20261203T231500Z-1a2b3c4d", "resource_type": "sqs_queue", "page": 0}"#)),
    ]});
    let before = emu.requests().len();
    let answer = response(process.invoke(&batch, WAIT));
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-malformed"}, {"itemIdentifier": "m-unknown-field"}]})
    );
    // Log lines travel through a pipe and may trail the invocation's answer.
    for needle in [
        "sweep unit rejected",
        "unknown field",
        "does not hold the lock",
    ] {
        assert!(
            process.wait_for_output(needle, Duration::from_secs(10)),
            "{needle}: {}",
            process.output()
        );
    }
    let operations: Vec<String> = emu.requests()[before..]
        .iter()
        .filter_map(|r| r["operation"].as_str().map(str::to_string))
        .collect();
    assert_eq!(operations, ["GetObject"], "only the lock was read");
}

#[test]
fn a_start_while_a_sweep_runs_enqueues_nothing() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let mut process = fx.start(emu, "enforce", &[]);
    let first = start_sweep(&mut process);
    assert_eq!(first["sweep"], "started");
    let second = start_sweep(&mut process);
    assert_eq!(
        second,
        json!({"sweep": "already-running", "sweep_id": first["sweep_id"]})
    );
    let queued = aws::queue_attributes(emu, &fx.work_queue);
    assert_eq!(
        queued["ApproximateNumberOfMessages"], "10",
        "one sweep's units"
    );
    // Without the queue or the bucket, the function does not sweep.
    let mut disabled = fx.start(emu, "enforce", &[("REPORT_BUCKET", "")]);
    assert_eq!(start_sweep(&mut disabled)["sweep"], "disabled");
}

#[test]
fn the_corebound_command_reports_then_enforces() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let queue = aws::create_queue(emu, "corebound-demo-q1", &[], &[]);
    let secret = aws::create_secret(emu, "corebound-demo-db", None, &[]);
    aws::create_log_group(emu, "corebound-demo-app", None, &[]);
    let dir = std::env::temp_dir().join(format!("corebound-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |mode: &str, file: &str| {
        let mut command = Command::new(binary_path("corebound"));
        command
            .args(["sweep", "--mode", mode, "--report"])
            .arg(dir.join(file));
        for (k, v) in fx.env(emu, "enforce", &[("MODE", ""), ("REPORT_BUCKET", "")]) {
            command.env(k, v);
        }
        command
            .env_remove("MODE")
            .env_remove("AWS_PROFILE")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        let started = Instant::now();
        let output = command.output().unwrap();
        assert!(started.elapsed() < WAIT);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        (output, report)
    };

    let before = emu.requests().len();
    let (output, report) = run("report", "report.json");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(
        resource_writes(&emu.requests()[before..]),
        Vec::<String>::new()
    );
    assert_eq!(report["mode"], "report");
    assert_eq!(entry(&report, &queue)["outcome"], "would-fix");
    assert_eq!(entry(&report, &secret)["outcome"], "would-fix");
    assert!(
        stdout.lines().any(|l| l.starts_with("sqs_queue")),
        "{stdout}"
    );
    assert!(stdout.contains("would-fix"), "{stdout}");
    assert!(
        stderr.contains("swept sqs_queue page 1"),
        "plain lines off a terminal: {stderr}"
    );

    let (output, report) = run("enforce", "enforce.json");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(report["summary"]["outcomes"]["fixed"], 3);
    assert_eq!(aws::queue_tags(emu, &queue), required_tags());
    assert_eq!(aws::describe_secret(emu, &secret)["KmsKeyId"], fx.cmk);

    let (output, report) = run("report", "after.json");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(report["summary"]["non_compliant"], 0);

    // With REPORT_BUCKET: the scheduled sweep's lock, and the report beside (not among) the
    // scheduled sweeps' reports.
    let bucket_run = || {
        let mut command = Command::new(binary_path("corebound"));
        command.args([
            "sweep",
            "--mode",
            "report",
            "--report-bucket",
            REPORT_BUCKET,
        ]);
        for (k, v) in fx.env(emu, "report", &[("REPORT_BUCKET", "")]) {
            command.env(k, v);
        }
        command
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let output = bucket_run();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let location = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Report: s3://"))
        .unwrap_or_else(|| panic!("no report location in {stdout}"));
    let key = location.strip_prefix(&format!("{REPORT_BUCKET}/")).unwrap();
    assert!(key.starts_with("manual-sweeps/"), "{key}");
    let stored: Value = serde_json::from_str(
        &rest_xml(emu, "GET", &format!("/{REPORT_BUCKET}/{key}"), "").unwrap(),
    )
    .unwrap();
    assert_eq!(stored["summary"]["resources"], 3);
    assert!(!lock_exists(emu));
    // A scheduled sweep holds the lock: the command does not run beside it.
    let mut process = fx.start(emu, "report", &[]);
    assert_eq!(start_sweep(&mut process)["sweep"], "started");
    let before = emu.requests().len();
    let output = bucket_run();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("another sweep is running"));
    assert!(
        emu.requests()[before..].iter().all(|r| r["path"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("/{REPORT_BUCKET}"))
            || r["operation"] == "DescribeKey"
            || r["operation"] == "ListAliases"),
        "nothing swept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_longer_than_its_lock_keeps_it_while_its_units_run() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    seed(emu, &fx);
    let mut process = fx.start(emu, "report", &[]);
    let started = start_sweep(&mut process);
    let sweep_id = started["sweep_id"].as_str().unwrap().to_string();
    // Time passes (as in a sweep of a large organization): two seconds of the lock are left.
    let epoch = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let lock_path = format!("/{REPORT_BUCKET}/sweep-lock.json");
    let mut lock: Value =
        serde_json::from_str(&rest_xml(emu, "GET", &lock_path, "").unwrap()).unwrap();
    assert_eq!(lock["sweep_id"], sweep_id.as_str());
    lock["expires_at_epoch"] = json!(epoch() + 2);
    rest_xml(emu, "PUT", &lock_path, &lock.to_string()).unwrap();

    // The sweep's next unit renews it for SWEEP_LOCK_SECONDS (default 3300) from now.
    let message = aws::receive_messages(emu, &fx.work_queue, 0)
        .into_iter()
        .next()
        .unwrap();
    let answer = response(process.invoke(&json!({"Records": [sqs_record(&message)]}), WAIT));
    assert_eq!(answer, json!({"batchItemFailures": []}));
    aws::delete_message(emu, &fx.work_queue, &message);
    let renewed: Value =
        serde_json::from_str(&rest_xml(emu, "GET", &lock_path, "").unwrap()).unwrap();
    assert_eq!(renewed["sweep_id"], sweep_id.as_str());
    assert_eq!(renewed["started_at_epoch"], lock["started_at_epoch"]);
    assert!(
        renewed["expires_at_epoch"].as_u64().unwrap() >= epoch() + 3300 - 5,
        "{renewed}"
    );

    // Past the old expiry, the next scheduled start still finds the sweep running...
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        start_sweep(&mut process),
        json!({"sweep": "already-running", "sweep_id": sweep_id})
    );
    // ...and the sweep finishes with its report.
    drain(&mut process, emu, &fx);
    assert_eq!(report(emu, &sweep_id)["sweep_id"], sweep_id.as_str());
    assert!(!lock_exists(emu));
}

#[test]
fn an_expired_lock_is_taken_over_and_units_for_other_accounts_are_refused() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    // A sweep that died an hour ago (a unit in the dead-letter queue) still holds the lock.
    let stale = json!({"sweep_id": "20261203T221500Z-00000000", "mode": "enforce",
        "started_at": "2026-12-03T22:15:00Z", "started_at_epoch": 1, "expires_at_epoch": 2});
    rest_xml(
        emu,
        "PUT",
        &format!("/{REPORT_BUCKET}/sweep-lock.json"),
        &stale.to_string(),
    )
    .unwrap();
    let mut process = fx.start(emu, "report", &[]);
    let started = start_sweep(&mut process);
    assert_eq!(started["sweep"], "started", "{started}");
    assert!(process.wait_for_output("took over the expired lock", Duration::from_secs(5)));
    let sweep_id = started["sweep_id"].as_str().unwrap();

    let foreign = json!({"MessageId": "m-foreign", "ReceiptHandle": "r", "Body": json!({
        "sweep_id": sweep_id, "resource_type": "sqs_queue", "page": 0, "account": "210987654321",
        "region": "us-east-1"}).to_string()});
    let before = emu.requests().len();
    let answer = response(process.invoke(&json!({"Records": [sqs_record(&foreign)]}), WAIT));
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m-foreign"}]})
    );
    assert!(process.wait_for_output(
        "not an account and region ACCOUNT_SETTINGS configures",
        Duration::from_secs(5)
    ));
    assert!(emu.requests()[before..].is_empty(), "nothing read");
}

#[test]
fn agentcore_resources_are_swept_and_a_refused_listing_makes_its_type_unreadable() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let runtime = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent"}),
    )["agentRuntimeArn"]
        .as_str()
        .unwrap()
        .to_string();
    let gateway = emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "corebound-demo-gateway", "authorizerType": "CUSTOM_JWT"}),
    )["gatewayArn"]
        .as_str()
        .unwrap()
        .to_string();
    let bare_memory = emu.post(
        "/_corebound/agentcore/memories",
        &json!({"name": "corebound_demo_memory"}),
    )["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let keyed_memory = emu.post(
        "/_corebound/agentcore/memories",
        &json!({"name": "corebound_demo_memory_cmk", "encryptionKeyArn": fx.cmk, "tags": required_tags()}),
    )["arn"]
        .as_str()
        .unwrap()
        .to_string();
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "payments_agent"}),
    );
    emu.post(
        "/_corebound/faults",
        &json!({"service": "iam", "operation": "ListRoles", "status": 403, "code": "AccessDenied", "message": "not authorized to perform: iam:ListRoles", "count": 10}),
    );
    let mut process = fx.start(emu, "enforce", &[]);
    let sweep_id = start_sweep(&mut process)["sweep_id"]
        .as_str()
        .unwrap()
        .to_string();
    drain(&mut process, emu, &fx);
    let report = report(emu, &sweep_id);
    assert_eq!(entry(&report, &runtime)["outcome"], "fixed");
    assert_eq!(entry(&report, &gateway)["outcome"], "fixed");
    assert_eq!(aws::agentcore_tags(emu, &runtime), required_tags());
    assert_eq!(aws::agentcore_tags(emu, &gateway), required_tags());
    let memory = entry(&report, &bare_memory);
    assert_eq!(memory["outcome"], "exception", "{memory}");
    assert!(memory["findings"][0]
        .as_str()
        .unwrap()
        .contains("without encryptionKeyArn"));
    assert_eq!(entry(&report, &keyed_memory)["outcome"], "compliant");
    let types = report["types"].as_array().unwrap();
    let runtimes = types.iter().find(|t| t["type"] == "agent_runtime").unwrap();
    assert_eq!(runtimes["out_of_scope"], 1);
    let roles = types.iter().find(|t| t["type"] == "iam_role").unwrap();
    assert!(roles["unreadable"]
        .as_str()
        .unwrap()
        .contains("AccessDenied"));
    assert_eq!(report["summary"]["unreadable_types"], json!(["iam_role"]));
    // The memory's finding and the unreadable roles need a person: one summary says so.
    assert_eq!(report["summary"]["needs_person"], 2);
    let alerts = fx.alerts(emu);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].contains("iam_role: ") && alerts[0].contains("could not be listed"));
}
