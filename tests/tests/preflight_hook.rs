//! The preflight hook end to end: the built `preflight-hook` binary driven through the local
//! Lambda Runtime API with the requests of `events/preflight-hook/` (the documented RESOURCE,
//! STACK and Cloud Control shapes), DescribeStacks answered by the emulator, STACK payloads
//! served by a local stand-in for the presigned S3 URL. Asserts on the answer CloudFormation
//! would read and on what reached the emulated AWS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use corebound_tests::http_server::{HttpResponse, HttpServer};
use corebound_tests::{
    binary_path, emulator, event, repo_root, Emulator, InvocationResult, LambdaProcess,
};
use serde_json::{json, Value};

const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/corebound-demo-agent/7d5e1f60-8f3a-11ef-9c1d-0a1b2c3d4e5f";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/7c0b0e5d-4a1f-4e2b-9c3d-5e6f7a8b9c0d";
const WAIT: Duration = Duration::from_secs(30);
/// A credential-looking query on every payload URL: it must never reach the function's log.
const SECRET: &str = "X-Amz-Signature=0123456789abcdefPAYLOADSECRET";

fn five_tags() -> Value {
    json!({"ApplicationId": "app-0042", "Environment": "preprod", "ManagedBy": "platform-ci",
           "Project": "corebound", "ServiceLine": "platform"})
}

/// The hook with the template's settings (as events/env.json would give them) and `extra`
/// (later entries win).
fn start_hook(emu: &Emulator, extra: &[(&str, &str)]) -> LambdaProcess {
    let mut owned: Vec<(&str, String)> = emu.aws_env();
    owned.extend([
        ("REQUIRED_ROLE_PREFIX", "LPMA_".to_string()),
        ("REQUIRED_TAGS", five_tags().to_string()),
        ("KMS_KEY_ARN", KEY_ARN.to_string()),
        (
            "PERMISSIONS_BOUNDARY_ARN",
            "arn:aws:iam::123456789012:policy/LPMA_Boundary".to_string(),
        ),
        ("PAYLOAD_URL_ALLOWED_HOSTS", "127.0.0.1".to_string()),
        ("AWS_MAX_ATTEMPTS", "1".to_string()),
    ]);
    let env: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().copied())
        .collect();
    LambdaProcess::start(binary_path("preflight-hook"), &env)
}

/// The demo stack, with the five mandatory tags as stack tags.
fn seed_stack(emu: &Emulator) {
    emu.post(
        "/_corebound/cloudformation/stacks",
        &json!({"stackId": STACK_ID, "tags": five_tags()}),
    );
}

fn answer(result: InvocationResult) -> Value {
    match result {
        InvocationResult::Response(value) => value,
        InvocationResult::Error(error) => {
            panic!("the invocation failed instead of answering: {error}")
        }
    }
}

fn describe_stacks_calls(emu: &Emulator) -> usize {
    emu.operations()
        .iter()
        .filter(|o| *o == "DescribeStacks")
        .count()
}

/// Every answer follows the contract: status, error code exactly when FAILED, a message.
fn assert_contract(answer: &Value, limit: usize) {
    let status = answer["hookStatus"].as_str().unwrap_or_default();
    assert!(
        ["SUCCESS", "FAILED", "IN_PROGRESS"].contains(&status),
        "{answer}"
    );
    match status {
        "FAILED" => assert!(
            ["NonCompliant", "InternalFailure"]
                .contains(&answer["errorCode"].as_str().unwrap_or_default()),
            "{answer}"
        ),
        _ => assert!(answer.get("errorCode").is_none(), "{answer}"),
    }
    let message = answer["message"].as_str().expect("message");
    assert!(
        !message.is_empty() && message.chars().count() <= limit,
        "{} chars",
        message.chars().count()
    );
}

/// A stand-in for the presigned S3 URL of STACK payloads: serves `body` at any path, after
/// `delay`, and counts requests.
struct PayloadServer {
    server: HttpServer,
    hits: Arc<AtomicUsize>,
}

impl PayloadServer {
    fn start(status: u16, body: Vec<u8>, delay: Duration) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let body = Arc::new(Mutex::new(body));
        let server = HttpServer::start(move |request| {
            counter.fetch_add(1, Ordering::SeqCst);
            assert_eq!(request.method, "GET");
            std::thread::sleep(delay);
            HttpResponse {
                status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.lock().unwrap().clone(),
            }
        });
        PayloadServer { server, hits }
    }

    fn url(&self) -> String {
        format!("{}/hooks/payload.json?{SECRET}", self.server.base_url())
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn stack_request(payload_url: &str) -> Value {
    let mut request = event("preflight-hook/stack-create.json");
    request["requestData"]["payload"] = json!(payload_url);
    request
}

fn payload_of(resources: Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"template": json!({"Resources": resources}).to_string(), "previousTemplate": ""}),
    )
    .unwrap()
}

#[test]
fn a_compliant_resource_succeeds_with_the_stack_tags_read_once() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    let mut hook = start_hook(emu, &[]);
    let request = event("preflight-hook/resource-create-topic.json");

    let first = answer(hook.invoke(&request, WAIT));
    assert_contract(&first, 4096);
    assert_eq!(first["hookStatus"], "SUCCESS", "{first}");
    assert_eq!(first["clientRequestToken"], request["clientRequestToken"]);
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("AlertsTopic (AWS::SNS::Topic) is compliant"),
        "{first}"
    );

    // A stack operation invokes the hook once per resource: the tags are read once.
    let second = answer(hook.invoke(&request, WAIT));
    assert_eq!(second["hookStatus"], "SUCCESS", "{second}");
    assert_eq!(describe_stacks_calls(emu), 1, "{:?}", emu.operations());
    assert!(
        emu.operations().iter().all(|o| o == "DescribeStacks"),
        "read-only: {:?}",
        emu.operations()
    );
}

#[test]
fn without_stack_tags_the_same_resource_is_noncompliant() {
    let (_guard, emu) = emulator();
    emu.reset();
    emu.post(
        "/_corebound/cloudformation/stacks",
        &json!({"stackId": STACK_ID, "tags": {"Project": "corebound"}}),
    );
    let mut hook = start_hook(emu, &[]);
    let reply = answer(hook.invoke(&event("preflight-hook/resource-create-topic.json"), WAIT));
    assert_contract(&reply, 4096);
    assert_eq!(reply["hookStatus"], "FAILED", "{reply}");
    assert_eq!(reply["errorCode"], "NonCompliant");
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.contains("pattern tags") && message.contains("ApplicationId"),
        "{message}"
    );
    assert!(
        !message.contains("Project,"),
        "the stack's Project tag counts: {message}"
    );
}

#[test]
fn a_violating_update_names_pattern_resource_and_fix_with_string_typed_properties() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    let mut hook = start_hook(emu, &[]);
    let request = event("preflight-hook/resource-update-queue.json");
    // Numbers and booleans arrive as strings, as in change-set contexts.
    assert_eq!(
        request["requestData"]["targetModel"]["resourceProperties"]["FifoQueue"],
        "false"
    );
    let reply = answer(hook.invoke(&request, WAIT));
    assert_contract(&reply, 4096);
    assert_eq!(reply["hookStatus"], "FAILED", "{reply}");
    assert_eq!(reply["errorCode"], "NonCompliant");
    assert_eq!(reply["clientRequestToken"], request["clientRequestToken"]);
    let message = reply["message"].as_str().unwrap();
    for needle in [
        "pattern 4/8",
        "WorkQueue",
        "AWS::SQS::Queue",
        "alias/aws/sqs",
        "Fix:",
        KEY_ARN,
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    assert!(
        !message.contains("unreadable"),
        "string-typed values must be read: {message}"
    );
    assert!(
        hook.wait_for_output("\"rule\":\"customer-managed-key\"", Duration::from_secs(5)),
        "every finding is logged"
    );
}

#[test]
fn a_delete_has_nothing_to_check_and_calls_nothing() {
    let (_guard, emu) = emulator();
    emu.reset();
    let mut hook = start_hook(emu, &[("HOOK_FAILURE_MODE", "FAIL")]);
    let request = event("preflight-hook/resource-delete-role.json");
    let reply = answer(hook.invoke(&request, WAIT));
    assert_contract(&reply, 4096);
    assert_eq!(reply["hookStatus"], "SUCCESS", "{reply}");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("nothing to check on delete"));
    assert_eq!(emu.operations(), Vec::<String>::new());
}

#[test]
fn a_stack_target_checks_the_template_behind_the_payload_url_without_logging_it() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    let payload =
        std::fs::read(repo_root().join("events/preflight-hook/payloads/stack-create.json"))
            .unwrap();
    let server = PayloadServer::start(200, payload, Duration::ZERO);
    let mut hook = start_hook(emu, &[]);
    let request = stack_request(&server.url());
    let reply = answer(hook.invoke(&request, WAIT));
    assert_contract(&reply, 4096);
    assert_eq!(reply["hookStatus"], "FAILED", "{reply}");
    assert_eq!(reply["errorCode"], "NonCompliant");
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains("stack corebound-demo-agent"), "{message}");
    assert!(
        message.contains("WorkQueue") && !message.contains("on AlertsTopic"),
        "{message}"
    );
    assert_eq!(server.hits(), 1);
    assert_eq!(describe_stacks_calls(emu), 1);
    assert!(
        !hook.output().contains("PAYLOADSECRET"),
        "the presigned URL reached the log"
    );
    assert!(!reply.to_string().contains("PAYLOADSECRET"));

    // delete-stack: the payload's template is empty.
    let empty = PayloadServer::start(
        200,
        br#"{"template": "", "previousTemplate": ""}"#.to_vec(),
        Duration::ZERO,
    );
    let reply = answer(hook.invoke(&stack_request(&empty.url()), WAIT));
    assert_eq!(reply["hookStatus"], "SUCCESS", "{reply}");
}

#[test]
fn cloud_control_requests_have_no_stack_and_a_shorter_message() {
    let (_guard, emu) = emulator();
    emu.reset();
    let mut hook = start_hook(emu, &[]);
    let request = event("preflight-hook/cloud-control-create-bucket.json");
    assert_eq!(request["stackId"], "");
    let reply = answer(hook.invoke(&request, WAIT));
    assert_contract(&reply, 1024);
    assert_eq!(reply["hookStatus"], "FAILED", "{reply}");
    assert_eq!(reply["errorCode"], "NonCompliant");
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("corebound-demo-data"));
    assert_eq!(describe_stacks_calls(emu), 0, "no stack to read");
}

#[test]
fn oversized_findings_are_cut_to_the_limit() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    let mut resources = serde_json::Map::new();
    for n in 0..300 {
        resources.insert(format!("UnencryptedQueue{n:03}"), json!({"Type": "AWS::SQS::Queue", "Properties": {"QueueName": format!("corebound-demo-q{n}")}}));
    }
    let server = PayloadServer::start(200, payload_of(Value::Object(resources)), Duration::ZERO);
    let mut hook = start_hook(emu, &[]);
    let reply = answer(hook.invoke(&stack_request(&server.url()), WAIT));
    assert_contract(&reply, 4096);
    assert_eq!(reply["errorCode"], "NonCompliant", "{reply}");
    let message = reply["message"].as_str().unwrap();
    assert!(
        message.chars().count() > 3000,
        "the limit is used, not wasted: {}",
        message.chars().count()
    );
    assert!(
        message.contains("more (every finding is in the hook function's log)"),
        "{message}"
    );
    assert!(
        hook.wait_for_output("UnencryptedQueue299", Duration::from_secs(5)),
        "every finding is logged"
    );
}

#[test]
fn describe_stacks_denied_is_answered_per_failure_mode() {
    let (_guard, emu) = emulator();
    for (mode, status) in [("WARN", "SUCCESS"), ("FAIL", "FAILED")] {
        emu.reset();
        seed_stack(emu);
        emu.post(
            "/_corebound/faults",
            &json!({"service": "cloudformation", "operation": "DescribeStacks", "status": 403,
                    "code": "AccessDenied", "message": "not authorized to perform: cloudformation:DescribeStacks", "count": 5}),
        );
        let mut hook = start_hook(emu, &[("HOOK_FAILURE_MODE", mode)]);
        let request = event("preflight-hook/resource-create-topic.json");
        let reply = answer(hook.invoke(&request, WAIT));
        assert_contract(&reply, 4096);
        assert_eq!(reply["hookStatus"], status, "{mode}: {reply}");
        assert_eq!(reply["clientRequestToken"], request["clientRequestToken"]);
        let message = reply["message"].as_str().unwrap();
        assert!(
            message.contains("cloudformation:DescribeStacks") && message.contains("AccessDenied"),
            "{message}"
        );
        if mode == "FAIL" {
            assert_eq!(reply["errorCode"], "InternalFailure");
        } else {
            assert!(message.starts_with("WARNING"), "{message}");
        }
    }
}

#[test]
fn throttling_asks_cloudformation_to_call_again_until_the_last_invocation() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    emu.post(
        "/_corebound/faults",
        &json!({"service": "cloudformation", "operation": "DescribeStacks", "status": 400,
                "code": "Throttling", "message": "Rate exceeded", "count": 10}),
    );
    let mut hook = start_hook(emu, &[("HOOK_FAILURE_MODE", "FAIL")]);
    let mut request = event("preflight-hook/resource-create-topic.json");
    let reply = answer(hook.invoke(&request, WAIT));
    assert_contract(&reply, 4096);
    assert_eq!(reply["hookStatus"], "IN_PROGRESS", "{reply}");
    assert!(
        reply["callbackContext"].is_object() && reply["callbackDelaySeconds"].as_u64().is_some(),
        "{reply}"
    );
    request["requestContext"] =
        json!({"invocation": 3, "callbackContext": reply["callbackContext"]});
    let last = answer(hook.invoke(&request, WAIT));
    assert_eq!(last["hookStatus"], "FAILED", "{last}");
    assert_eq!(last["errorCode"], "InternalFailure");
}

#[test]
fn a_slow_payload_is_answered_before_the_deadline() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    let server = PayloadServer::start(200, payload_of(json!({})), Duration::from_secs(20));
    let mut hook = start_hook(emu, &[("HOOK_FAILURE_MODE", "FAIL")]);
    let mut request = stack_request(&server.url());
    let deadline_in = Duration::from_secs(5);
    let deadline_ms = (SystemTime::now() + deadline_in)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let started = Instant::now();
    let reply = answer(hook.invoke_with_deadline_ms(&request, deadline_ms, WAIT));
    assert!(
        started.elapsed() < deadline_in,
        "answered after the deadline: {:?}",
        started.elapsed()
    );
    assert_contract(&reply, 4096);
    assert_eq!(reply["hookStatus"], "IN_PROGRESS", "{reply}");

    request["requestContext"]["invocation"] = json!(3);
    let deadline_ms = (SystemTime::now() + deadline_in)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let started = Instant::now();
    let last = answer(hook.invoke_with_deadline_ms(&request, deadline_ms, WAIT));
    assert!(started.elapsed() < deadline_in);
    assert_eq!(last["hookStatus"], "FAILED", "{last}");
    assert_eq!(last["errorCode"], "InternalFailure");
    assert!(
        last["message"].as_str().unwrap().contains("did not finish"),
        "{last}"
    );
}

#[test]
fn malformed_requests_are_answered_and_change_nothing() {
    let (_guard, emu) = emulator();
    for (mode, status) in [("WARN", "SUCCESS"), ("FAIL", "FAILED")] {
        emu.reset();
        let mut hook = start_hook(emu, &[("HOOK_FAILURE_MODE", mode)]);
        // Not JSON (cut short): the token is still echoed.
        let text =
            serde_json::to_string(&event("preflight-hook/resource-create-topic.json")).unwrap();
        let cut = text.as_bytes()[..text.len() / 2].to_vec();
        let reply = answer(hook.invoke_bytes(cut, WAIT));
        assert_contract(&reply, 4096);
        assert_eq!(reply["hookStatus"], status, "{reply}");
        assert_eq!(
            reply["clientRequestToken"],
            "3b9e2a55-0c41-4f7e-9a1d-6e2f0c8b7a01"
        );
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains("not valid JSON"),
            "{reply}"
        );
        if mode == "FAIL" {
            assert_eq!(reply["errorCode"], "InternalFailure");
        }
        // Deeper than any parser allows.
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let reply = answer(hook.invoke_bytes(deep.into_bytes(), WAIT));
        assert_eq!(reply["hookStatus"], status, "{reply}");
        // Valid JSON, wrong shape: named.
        let mut request = event("preflight-hook/resource-update-queue.json");
        request["actionInvocationPoint"] = json!("UPDATE");
        let reply = answer(hook.invoke(&request, WAIT));
        assert_eq!(reply["hookStatus"], status, "{reply}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains("actionInvocationPoint"),
            "{reply}"
        );
        // A stack of another account is not read.
        let mut request = event("preflight-hook/resource-create-topic.json");
        request["awsAccountId"] = json!("210987654321");
        let reply = answer(hook.invoke(&request, WAIT));
        assert_eq!(reply["hookStatus"], status, "{reply}");
        assert_eq!(
            emu.operations(),
            Vec::<String>::new(),
            "nothing reached AWS"
        );
    }
}

#[test]
fn payload_urls_off_the_allow_list_are_not_fetched() {
    let (_guard, emu) = emulator();
    emu.reset();
    seed_stack(emu);
    let server = PayloadServer::start(200, payload_of(json!({})), Duration::ZERO);
    // Without PAYLOAD_URL_ALLOWED_HOSTS only https S3 hosts are fetched.
    let mut hook = start_hook(
        emu,
        &[
            ("PAYLOAD_URL_ALLOWED_HOSTS", ""),
            ("HOOK_FAILURE_MODE", "FAIL"),
        ],
    );
    let reply = answer(hook.invoke(&stack_request(&server.url()), WAIT));
    assert_eq!(reply["hookStatus"], "FAILED", "{reply}");
    assert_eq!(reply["errorCode"], "InternalFailure");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("host 127.0.0.1 is not allowed"),
        "{reply}"
    );
    assert_eq!(server.hits(), 0);
    assert!(!hook.output().contains("PAYLOADSECRET"));
}

#[test]
fn an_invalid_setting_is_answered_naming_the_variable() {
    let (_guard, emu) = emulator();
    emu.reset();
    let mut hook = start_hook(emu, &[("HOOK_FAILURE_MODE", "fail-closed")]);
    let reply = answer(hook.invoke(&event("preflight-hook/resource-create-topic.json"), WAIT));
    assert_eq!(reply["hookStatus"], "FAILED", "{reply}");
    assert_eq!(reply["errorCode"], "InternalFailure");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("HOOK_FAILURE_MODE"),
        "{reply}"
    );

    let mut hook = start_hook(emu, &[("KMS_KEY_ARN", "alias/project")]);
    let reply = answer(hook.invoke(&event("preflight-hook/resource-create-topic.json"), WAIT));
    assert_eq!(reply["hookStatus"], "SUCCESS", "WARN by default: {reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("KMS_KEY_ARN"),
        "{reply}"
    );
    assert_eq!(emu.operations(), Vec::<String>::new());
}

#[test]
fn the_template_hook_targets_default_is_every_type_the_rules_know() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let section = &template[template
        .find("  HookTargets:\n")
        .expect("HookTargets parameter")..];
    let default = section
        .lines()
        .find_map(|line| line.trim().strip_prefix("Default: "))
        .expect("HookTargets has a Default");
    let listed: Vec<&str> = default.trim_matches('\'').split(',').collect();
    assert_eq!(listed, corebound::preflight::hook_target_types());
    assert!(
        listed.len() <= 50,
        "TargetFilters.TargetNames takes at most 50"
    );
}
