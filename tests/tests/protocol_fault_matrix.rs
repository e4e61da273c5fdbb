//! The custom-resource protocol's fault matrix, end to end: a real function binary built on
//! `corebound::custom_resource`, run through a local Lambda Runtime API, answering a local
//! ResponseURL. Every case asserts exactly one accepted answer with the right Status, Reason
//! and PhysicalResourceId, delivered before the Lambda deadline.

use std::time::{Duration, Instant, SystemTime};

use corebound_tests::{InvocationResult, LambdaProcess, ResponseCapture, SECRET_SIGNATURE};
use serde_json::{json, Value};

fn request(request_type: &str, behaviour: &str, url: &str) -> Value {
    let mut r = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:fault-resource",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/fault-matrix/0f1e2d3c",
        "RequestId": format!("cfn-{request_type}-{behaviour}"),
        "ResourceType": "Custom::Fault",
        "LogicalResourceId": "Fault",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:fault-resource",
            "Behaviour": behaviour
        }
    });
    if request_type != "Create" {
        r["PhysicalResourceId"] = json!("fault-Fault");
    }
    if request_type == "Update" {
        r["OldResourceProperties"] = json!({"Behaviour": "succeed"});
    }
    r
}

fn start(extra_env: &[(&str, &str)]) -> LambdaProcess {
    LambdaProcess::start(env!("CARGO_BIN_EXE_fault-resource"), extra_env)
}

/// The single accepted answer, asserting there is exactly one.
fn single_answer(capture: &ResponseCapture) -> Value {
    let accepted = capture.accepted();
    assert_eq!(
        accepted.len(),
        1,
        "exactly one accepted answer: {accepted:?}"
    );
    accepted.into_iter().next().unwrap()
}

#[test]
fn success_answers_success_with_id_and_data() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let result = f.invoke(
        &request("Create", "succeed", &capture.url()),
        Duration::from_secs(30),
    );
    assert!(result.is_ok(), "{result:?}");
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(answer["PhysicalResourceId"], "fault-Fault");
    assert_eq!(answer["Data"]["Answer"], "42");
    assert_eq!(answer["RequestId"], "cfn-Create-succeed");
    assert_eq!(answer["LogicalResourceId"], "Fault");
    assert!(answer["StackId"].as_str().unwrap().contains("fault-matrix"));
    assert!(answer.get("Reason").is_none());
    assert_eq!(
        capture.deliveries()[0].content_type,
        None,
        "presigned S3 URLs are signed without Content-Type"
    );
}

#[test]
fn aws_error_on_create_answers_failed_with_the_marker_id() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    assert!(f
        .invoke(
            &request("Create", "fail", &capture.url()),
            Duration::from_secs(30)
        )
        .is_ok());
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["PhysicalResourceId"],
        "corebound-failed-create:cfn-Create-fail"
    );
    assert_eq!(
        answer["Reason"],
        "PutThing failed: AccessDenied: the function's role may not call PutThing"
    );
}

#[test]
fn aws_error_on_update_keeps_the_existing_id() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    f.invoke(
        &request("Update", "fail", &capture.url()),
        Duration::from_secs(30),
    );
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["PhysicalResourceId"], "fault-Fault");
}

#[test]
fn invalid_and_unknown_properties_name_property_value_and_rule() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let mut bad = request("Create", "succeed", &capture.url());
    bad["ResourceProperties"]["Behavior"] = json!("succeed"); // American spelling: a typo here
    f.invoke(&bad, Duration::from_secs(30));
    let mut missing = request("Create", "succeed", &capture.url());
    missing["RequestId"] = json!("cfn-missing");
    missing["ResourceProperties"]
        .as_object_mut()
        .unwrap()
        .remove("Behaviour");
    f.invoke(&missing, Duration::from_secs(30));
    let answers = capture.accepted();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["Status"], "FAILED");
    assert_eq!(
        answers[0]["Reason"],
        "property Behavior (value \"succeed\") is not a property of Custom::Fault; known properties: Behaviour, Name"
    );
    assert_eq!(
        answers[1]["Reason"],
        "property Behaviour is required but was not given; expected succeed, fail, panic, overrun or big-data"
    );
}

#[test]
fn panic_is_answered_and_the_process_keeps_serving() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let result = f.invoke(
        &request("Create", "panic", &capture.url()),
        Duration::from_secs(30),
    );
    assert!(
        result.is_ok(),
        "an answered request returns Ok to Lambda: {result:?}"
    );
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["PhysicalResourceId"],
        "corebound-failed-create:cfn-Create-panic"
    );
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.contains("panicked") && reason.contains("deliberate panic"),
        "{reason}"
    );

    // The same process answers the next request: the panic did not take the runtime down.
    f.invoke(
        &request("Update", "succeed", &capture.url()),
        Duration::from_secs(30),
    );
    assert_eq!(capture.accepted().len(), 2);
    assert_eq!(capture.accepted()[1]["Status"], "SUCCESS");
}

#[test]
fn deadline_overrun_is_answered_before_the_deadline() {
    let capture = ResponseCapture::start();
    let mut f = start(&[("COREBOUND_DEADLINE_MARGIN_MS", "1500")]);
    let started = Instant::now();
    let deadline = SystemTime::now() + Duration::from_secs(4);
    let result = f.invoke(
        &request("Create", "overrun", &capture.url()),
        Duration::from_secs(4),
    );
    assert!(result.is_ok(), "{result:?}");
    let answer = single_answer(&capture);
    let answered_at = capture.deliveries()[0].at;
    assert!(
        answered_at.duration_since(started) < Duration::from_secs(4),
        "answered {:?} after start, deadline was 4 s",
        answered_at.duration_since(started)
    );
    assert!(SystemTime::now() < deadline + Duration::from_secs(1));
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["PhysicalResourceId"],
        "corebound-failed-create:cfn-Create-overrun"
    );
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.starts_with("timed out"), "{reason}");
}

#[test]
fn unknown_deadline_falls_back_to_the_configured_budget() {
    // `cargo lambda watch` sends a deadline of 600000 ms (1970): not "already late".
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let result = f.invoke_with_deadline_ms(
        &request("Create", "succeed", &capture.url()),
        600_000,
        Duration::from_secs(30),
    );
    assert!(result.is_ok());
    assert_eq!(single_answer(&capture)["Status"], "SUCCESS");
}

#[test]
fn server_errors_at_the_response_url_are_retried_until_accepted() {
    let capture = ResponseCapture::scripted(&[500, 500]);
    let mut f = start(&[]);
    let result = f.invoke(
        &request("Create", "succeed", &capture.url()),
        Duration::from_secs(30),
    );
    assert!(result.is_ok());
    let statuses: Vec<u16> = capture
        .deliveries()
        .iter()
        .map(|d| d.status_answered)
        .collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    assert_eq!(single_answer(&capture)["Status"], "SUCCESS");
}

#[test]
fn a_4xx_at_the_response_url_is_final() {
    let capture = ResponseCapture::scripted(&[403]);
    let mut f = start(&[]);
    let result = f.invoke(
        &request("Create", "succeed", &capture.url()),
        Duration::from_secs(30),
    );
    assert!(
        result.is_ok(),
        "retrying the invocation cannot help: {result:?}"
    );
    assert_eq!(capture.deliveries().len(), 1, "a 403 is not retried");
    assert!(capture.accepted().is_empty());
    assert!(
        f.wait_for_output("HTTP 403", Duration::from_secs(5)),
        "the refusal is logged"
    );
}

#[test]
fn delete_of_a_failed_create_succeeds_without_running_the_handler() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let mut delete = request("Delete", "panic", &capture.url());
    delete["PhysicalResourceId"] = json!("corebound-failed-create:cfn-Create-fail");
    f.invoke(&delete, Duration::from_secs(30));
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "SUCCESS");
    assert_eq!(
        answer["PhysicalResourceId"],
        "corebound-failed-create:cfn-Create-fail"
    );
    assert!(!f.output().contains("panicked"), "the handler was not run");
}

#[test]
fn oversized_return_values_fail_clearly_within_the_size_limit() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    f.invoke(
        &request("Create", "big-data", &capture.url()),
        Duration::from_secs(30),
    );
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "FAILED");
    assert!(answer["Reason"].as_str().unwrap().contains("4096 bytes"));
    assert!(serde_json::to_vec(&answer).unwrap().len() <= 4096);
}

#[test]
fn the_same_request_is_never_answered_twice() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let create = request("Create", "succeed", &capture.url());
    f.invoke(&create, Duration::from_secs(30));
    f.invoke(&create, Duration::from_secs(30));
    single_answer(&capture);
}

#[test]
fn an_event_that_is_not_a_custom_resource_request_fails_the_invocation() {
    let mut f = start(&[]);
    let result = f.invoke(&json!({"hello": "world"}), Duration::from_secs(30));
    assert!(matches!(result, InvocationResult::Error(_)), "{result:?}");
}

#[test]
fn logs_never_contain_the_response_url_even_at_trace_level() {
    // At TRACE, lambda_runtime itself would log each raw event, ResponseURL included.
    let capture = ResponseCapture::scripted(&[500]);
    let mut f = start(&[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]);
    for behaviour in ["succeed", "fail", "panic"] {
        f.invoke(
            &request("Create", behaviour, &capture.url()),
            Duration::from_secs(30),
        );
    }
    let output = f.output();
    assert!(output.lines().count() > 10, "TRACE logging is on");
    assert!(
        !output.contains(SECRET_SIGNATURE),
        "the ResponseURL leaked into the logs"
    );
    assert!(
        !output.contains("cfn-response/stack"),
        "the ResponseURL path leaked into the logs"
    );
}

#[test]
fn every_log_line_of_a_request_carries_its_identity() {
    let capture = ResponseCapture::scripted(&[500]);
    let mut f = start(&[]);
    for behaviour in ["succeed", "fail", "panic"] {
        f.invoke(
            &request("Create", behaviour, &capture.url()),
            Duration::from_secs(30),
        );
    }
    // Log lines travel through a pipe: wait until all three deliveries are logged.
    let until = Instant::now() + Duration::from_secs(5);
    while f.output().matches("response delivered").count() < 3 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let records = f.log_records();
    let answers = records
        .iter()
        .filter(|r| r["fields"]["message"] == "answering CloudFormation")
        .count();
    assert_eq!(answers, 3, "one answer logged per request");
    assert!(records.len() >= 9, "{records:?}");
    for record in &records {
        let span = &record["span"];
        assert!(
            span["request_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("cfn-Create-")),
            "{record}"
        );
        assert_eq!(span["logical_resource_id"], "Fault", "{record}");
        assert_eq!(span["request_type"], "Create", "{record}");
    }
}
