//! Every file in events/ is a request its function accepts: CloudFormation requests
//! deserialize with aws_lambda_events' own types and their properties pass the function's
//! validation when run through the binary; remediator events are CloudTrail events via
//! EventBridge that name a resource the remediator handles.

use std::path::PathBuf;
use std::time::Duration;

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use corebound::remediation::CreateEvent;
use corebound_tests::{
    binary_path, emulator, repo_root, with_response_url, LambdaProcess, ResponseCapture,
};
use serde_json::Value;

fn files(folder: &str) -> Vec<(PathBuf, Value)> {
    let dir = repo_root().join("events").join(folder);
    let mut files: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p, value)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!files.is_empty(), "no events in {}", dir.display());
    files
}

/// Runs every CloudFormation sample through its function and checks the answer is not a
/// rejection of the request itself (malformed, unknown or missing property).
fn custom_resource_events_are_accepted(folder: &str, binary: &str, resource_types: &[&str]) {
    let (_guard, emu) = emulator();
    let env = emu.aws_env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("REQUIRED_ROLE_PREFIX", "LPMA_"));
    env.push(("VERIFY_ATTEMPTS", "1"));
    // As events/env.json sets them for the runtime-policy function.
    env.push(("ALLOWED_PRINCIPAL_ACCOUNTS", "210987654321"));
    env.push((
        "SCOPE_PATTERNS",
        "corebound-demo-*,corebound_demo_*,LPMA_Demo_*",
    ));
    let mut function = LambdaProcess::start(binary_path(binary), &env);
    let capture = ResponseCapture::start();
    for (path, event) in files(folder) {
        let request: CloudFormationCustomResourceRequest = serde_json::from_value(event.clone())
            .unwrap_or_else(|e| panic!("{} is not a CloudFormation request: {e}", path.display()));
        let resource_type = match &request {
            CloudFormationCustomResourceRequest::Create(r) => r.resource_type.clone(),
            CloudFormationCustomResourceRequest::Update(r) => r.resource_type.clone(),
            CloudFormationCustomResourceRequest::Delete(r) => r.resource_type.clone(),
            _ => panic!("{}: unexpected request type", path.display()),
        };
        assert!(
            resource_types.contains(&resource_type.as_str()),
            "{}: {resource_type}",
            path.display()
        );

        let before = capture.accepted().len();
        let result = function.invoke(
            &with_response_url(event, &capture.url()),
            Duration::from_secs(60),
        );
        assert!(result.is_ok(), "{}: {result:?}", path.display());
        let answers = capture.accepted();
        assert_eq!(answers.len(), before + 1, "{}: one answer", path.display());
        let reason = answers[before]["Reason"].as_str().unwrap_or_default();
        for rejection in [
            "malformed",
            "is not a property of",
            "is required but was not given",
            "has value",
        ] {
            assert!(
                !reason.contains(rejection),
                "{} was rejected: {reason}",
                path.display()
            );
        }
    }
}

#[test]
fn runtime_policy_events_are_accepted() {
    custom_resource_events_are_accepted(
        "runtime-policy",
        "runtime-policy",
        &["Custom::AgentCoreRuntimePolicy"],
    );
}

#[test]
fn memory_grant_events_are_accepted() {
    custom_resource_events_are_accepted(
        "memory-grant",
        "memory-grant",
        &[
            "Custom::AgentCoreMemoryGrant",
            "Custom::AgentCoreInvokeGrant",
        ],
    );
}

#[test]
fn remediator_events_are_cloudtrail_events_it_handles() {
    for (path, event) in files("remediator") {
        let typed: EventBridgeEvent<Value> = serde_json::from_value(event.clone())
            .unwrap_or_else(|e| panic!("{} is not an EventBridge event: {e}", path.display()));
        assert_eq!(
            typed.detail_type,
            "AWS API Call via CloudTrail",
            "{}",
            path.display()
        );
        let parsed = CreateEvent::from_eventbridge(&event);
        if parsed.error_code.is_some() {
            continue; // a failed call: skipped by design, identity may be absent
        }
        assert!(
            parsed.resource.is_some(),
            "{}: no resource identified",
            path.display()
        );
    }
}
