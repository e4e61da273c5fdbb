//! What the remediator's end-to-end tests share (tests/tests/remediator.rs, remediator_drift.rs):
//! the project key and alert topic, the remediator binary started with the sample settings,
//! one invocation's requests and audit records, and assertions on them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::aws_calls::fixtures as aws;
use crate::{binary_path, Emulator, InvocationResult, LambdaProcess};

pub const WAIT: Duration = Duration::from_secs(60);
pub const ACCOUNT: &str = "123456789012";
pub const SCOPE: &str = "corebound-demo-*,corebound_demo_*,LPMA_Demo_*";
pub const SELF_ROLE: &str = "arn:aws:iam::123456789012:role/LPMA_Demo_corebound_Remediator";
pub const OPT_OUT_TAG: &str = "corebound:remediation";
pub const REQUIRED: [(&str, &str); 5] = [
    ("ApplicationId", "APP-0042"),
    ("Environment", "preprod"),
    ("Project", "corebound-demo"),
    ("ServiceLine", "platform"),
    ("ManagedBy", "platform-ci"),
];
pub const ALERT_QUEUE: &str = "platform-alert-inbox";

pub fn required_tags() -> BTreeMap<String, String> {
    tags(&REQUIRED)
}

pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn required_tags_json() -> String {
    json!(required_tags()).to_string()
}

/// One SQS message (as `ReceiveMessage` answers it) as the record an event source mapping
/// delivers to Lambda from the queue `queue_arn`.
pub fn sqs_record(message: &Value, queue_arn: &str) -> Value {
    let region = queue_arn.split(':').nth(3).unwrap_or_default();
    json!({
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

/// Operations that change something (everything else the remediator calls is a read).
pub fn is_write(operation: &str) -> bool {
    [
        "Tag",
        "Untag",
        "Put",
        "Set",
        "Create",
        "Delete",
        "Update",
        "Associate",
        "Disassociate",
        "Publish",
    ]
    .iter()
    .any(|prefix| operation.starts_with(prefix))
}

/// The project key and the alert topic (with a queue subscribed, to read the alerts).
pub struct Fixture {
    pub cmk: String,
    pub alert_topic: String,
    pub alert_queue: String,
}

/// The project key's policy as the template writes it for the scope family: the account,
/// and CloudWatch Logs for the family's log groups (without it AssociateKmsKey fails).
pub fn project_key_policy(extra: &[Value]) -> Value {
    let mut statements = vec![
        json!({"Sid": "AccountAdministersAndDelegatesToIam", "Effect": "Allow",
               "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
               "Action": "kms:*", "Resource": "*"}),
        json!({"Sid": "LogsForScopeFamily", "Effect": "Allow",
               "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
               "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                          "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
               "Resource": "*",
               "Condition": {
                   "ArnLike": {"kms:EncryptionContext:aws:logs:arn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*")},
                   "StringLike": {"kms:EncryptionContext:aws:logs:arn": ["arn:*:logs:*:*:log-group:corebound-demo-*"]}}}),
    ];
    statements.extend(extra.iter().cloned());
    json!({"Version": "2012-10-17", "Statement": statements})
}

pub fn put_key_policy(emu: &Emulator, key: &str, policy: &Value) {
    crate::aws_calls::json(
        emu,
        "kms",
        "TrentService.PutKeyPolicy",
        &json!({"KeyId": key, "PolicyName": "default", "Policy": policy.to_string()}),
    )
    .unwrap_or_else(|error| panic!("{error}"));
}

pub fn put_bucket_policy(emu: &Emulator, bucket: &str, policy: &Value) {
    crate::aws_calls::rest_xml(
        emu,
        "PUT",
        &format!("/{bucket}?policy"),
        &policy.to_string(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
}

/// `count` tags `team:<i>=x` (to bring a resource near AWS's limit of 50).
pub fn many_tags(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| (format!("team:{i:02}"), "x".to_string()))
        .collect()
}

impl Fixture {
    pub fn new(emu: &Emulator) -> Self {
        let cmk = aws::create_key(emu, "corebound demo project key", &[]);
        put_key_policy(emu, &cmk, &project_key_policy(&[]));
        let alert_topic = aws::create_topic(emu, "platform-remediation-alerts", &[], &[]);
        let alert_queue = aws::create_queue(emu, ALERT_QUEUE, &[], &[]);
        aws::subscribe_queue(
            emu,
            &alert_topic,
            &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{ALERT_QUEUE}"),
        );
        Fixture {
            cmk,
            alert_topic,
            alert_queue,
        }
    }

    /// The remediator's environment; `overrides` replace (or, with `None`, remove) variables.
    pub fn env(&self, emu: &Emulator, overrides: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = emu
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let settings = [
            ("REQUIRED_TAGS", required_tags_json()),
            ("KMS_KEY_ARN", self.cmk.clone()),
            ("MODE", "enforce".to_string()),
            ("SCOPE_PATTERNS", SCOPE.to_string()),
            ("ALERT_TOPIC_ARN", self.alert_topic.clone()),
            ("REQUIRED_ROLE_PREFIX", "LPMA_".to_string()),
            ("SELF_ROLE_ARN", SELF_ROLE.to_string()),
            ("OPT_OUT_TAG", OPT_OUT_TAG.to_string()),
            ("REMEDIATION_RETRY_ATTEMPTS", "3".to_string()),
            ("REMEDIATION_RETRY_BACKOFF_MS", "20".to_string()),
        ];
        env.extend(settings.map(|(k, v)| (k.to_string(), v)));
        for (name, value) in overrides {
            env.retain(|(k, _)| k != name);
            if let Some(value) = value {
                env.push((name.to_string(), value.to_string()));
            }
        }
        env
    }

    pub fn start(&self, emu: &'static Emulator, overrides: &[(&str, Option<&str>)]) -> Remediator {
        let env = self.env(emu, overrides);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let process = LambdaProcess::start(binary_path("remediator"), &env);
        // The key check at start makes AWS calls (and may alert): let it finish, so a run
        // counts only its own requests. An invalid configuration stops before any call.
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            let output = process.output();
            if output.contains("remediator ready") || output.contains("\"variable\"") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Remediator { process, emu }
    }

    /// The alert messages delivered since the last call (the SNS `Message` texts).
    pub fn alerts(&self, emu: &Emulator) -> Vec<String> {
        aws::receive_messages(emu, &self.alert_queue, 0)
            .iter()
            .filter_map(|message| {
                let body: Value = serde_json::from_str(message["Body"].as_str()?).ok()?;
                Some(body["Message"].as_str()?.to_string())
            })
            .collect()
    }
}

pub struct Remediator {
    pub process: LambdaProcess,
    pub emu: &'static Emulator,
}

/// One invocation: its result, the AWS requests it made and its audit records.
pub struct Run {
    pub result: InvocationResult,
    pub requests: Vec<Value>,
    pub audits: Vec<Value>,
}

impl Run {
    pub fn operations(&self) -> Vec<String> {
        self.requests
            .iter()
            .filter_map(|r| r["operation"].as_str().map(str::to_string))
            .collect()
    }

    pub fn writes(&self) -> Vec<String> {
        self.operations()
            .into_iter()
            .filter(|op| is_write(op))
            .collect()
    }

    /// Writes to the resource (the alert's Publish excluded).
    pub fn resource_writes(&self) -> Vec<String> {
        self.writes()
            .into_iter()
            .filter(|op| op != "Publish")
            .collect()
    }

    pub fn publishes(&self) -> usize {
        self.operations()
            .iter()
            .filter(|op| *op == "Publish")
            .count()
    }

    /// (rule, action, result) of every audit record, in order.
    pub fn decisions(&self) -> Vec<(String, String, String)> {
        self.audits
            .iter()
            .map(|record| {
                let text = |field: &str| record[field].as_str().unwrap_or_default().to_string();
                (text("rule"), text("action"), text("result"))
            })
            .collect()
    }

    pub fn assert_ok(&self) -> &Value {
        match &self.result {
            InvocationResult::Response(summary) => summary,
            InvocationResult::Error(error) => panic!("invocation failed: {error}"),
        }
    }

    pub fn error_message(&self) -> String {
        match &self.result {
            InvocationResult::Error(error) => error["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            InvocationResult::Response(summary) => panic!("expected a failure, got {summary}"),
        }
    }
}

pub fn decision(rule: &str, action: &str, result: &str) -> (String, String, String) {
    (rule.to_string(), action.to_string(), result.to_string())
}

impl Remediator {
    pub fn audit_lines(&self) -> Vec<Value> {
        self.process
            .log_records()
            .into_iter()
            .filter(|line| line["type"] == "audit")
            .collect()
    }

    pub fn run(&mut self, event: &Value) -> Run {
        let requests_before = self.emu.requests().len();
        let audits_before = self.audit_lines().len();
        let result = self.process.invoke(event, WAIT);
        // The records are written before the result is posted; give the pipe reader a moment.
        let expected = match &result {
            InvocationResult::Response(summary) => {
                summary["records"].as_u64().unwrap_or(1) as usize
            }
            InvocationResult::Error(_) => 1,
        };
        let until = Instant::now() + Duration::from_secs(5);
        while self.audit_lines().len() < audits_before + expected && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        Run {
            result,
            requests: self.emu.requests()[requests_before..].to_vec(),
            audits: self.audit_lines()[audits_before..].to_vec(),
        }
    }
}

/// `event` with the string at `pointer` replaced.
pub fn with(mut event: Value, pointer: &str, value: &str) -> Value {
    *event
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the event")) = json!(value);
    event
}

/// Every record of a run names the event and the resource.
pub fn assert_records_name(run: &Run, event: &Value, resource: &str) {
    assert!(!run.audits.is_empty(), "no audit record");
    for record in &run.audits {
        assert_eq!(record["event_id"], event["id"], "{record}");
        assert_eq!(record["resource"], resource, "{record}");
    }
}

/// A fresh untagged resource: the first run fixes it with exactly `writes`, the same event
/// again writes nothing.
pub fn assert_fixed_then_idempotent(
    remediator: &mut Remediator,
    event: &Value,
    resource: &str,
    writes: &[&str],
    decisions: &[(&str, &str, &str)],
) -> Run {
    let first = remediator.run(event);
    first.assert_ok();
    assert_eq!(first.resource_writes(), writes, "{:?}", first.operations());
    let expected: Vec<_> = decisions
        .iter()
        .map(|(rule, action, result)| decision(rule, action, result))
        .collect();
    assert_eq!(first.decisions(), expected);
    assert_records_name(&first, event, resource);

    let second = remediator.run(event);
    let summary = second.assert_ok();
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(
        second.resource_writes(),
        Vec::<String>::new(),
        "the same event again writes nothing: {:?}",
        second.operations()
    );
    first
}

pub const TAGGED_AND_ENCRYPTED: [(&str, &str, &str); 3] = [
    ("mandatory-tags", "tagged", "ok"),
    ("cmk-encryption", "encrypted", "ok"),
    ("scope", "none", "ok"),
];
pub const TAGGED: [(&str, &str, &str); 2] =
    [("mandatory-tags", "tagged", "ok"), ("scope", "none", "ok")];

/// The findings' (rule, action) rows and the finding names of a run.
pub fn findings(run: &Run) -> Vec<String> {
    run.audits
        .iter()
        .filter(|record| record["action"] == "reported")
        .filter_map(|record| record["detail"]["finding"].as_str().map(str::to_string))
        .collect()
}

pub fn count(run: &Run, operation: &str) -> usize {
    run.operations()
        .iter()
        .filter(|op| *op == operation)
        .count()
}

/// A file of tests/fixtures/cloudtrail/ as an EventBridge event in the emulator's account and
/// region (see the README there for the provenance and the choices made).
pub fn published(file: &str) -> Value {
    let path = crate::repo_root()
        .join("tests/fixtures/cloudtrail")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let record: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let event = if record.get("detail").is_some() {
        record
    } else {
        // A bare CloudTrail record: the envelope EventBridge adds.
        let service = record["eventSource"]
            .as_str()
            .unwrap()
            .trim_end_matches(".amazonaws.com")
            .to_string();
        json!({
            "version": "0",
            "id": format!("replay-{file}"),
            "detail-type": "AWS API Call via CloudTrail",
            "source": format!("aws.{service}"),
            "account": record["recipientAccountId"].as_str().or(record["userIdentity"]["accountId"].as_str()),
            "time": record["eventTime"],
            "region": record["awsRegion"],
            "resources": [],
            "detail": record,
        })
    };
    // Moved to the emulator's account and region.
    let region = event["region"].as_str().unwrap().to_string();
    let account = event["account"].as_str().unwrap().to_string();
    let moved = event
        .to_string()
        .replace(&region, "us-east-1")
        .replace(&account, ACCOUNT);
    serde_json::from_str(&moved).unwrap()
}
