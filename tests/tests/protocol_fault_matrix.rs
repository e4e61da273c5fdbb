//! The custom-resource protocol's fault matrix, end to end: a real function binary built on
//! `corebound::custom_resource`, run through a local Lambda Runtime API, answering a local
//! ResponseURL. Every case asserts exactly one accepted answer with the right Status, Reason
//! and PhysicalResourceId, delivered before the Lambda deadline.

use std::time::{Duration, Instant, SystemTime};

use corebound_tests::{
    binary_path, emulator, event, with_response_url, InvocationResult, LambdaProcess,
    ResponseCapture, SECRET_CREDENTIAL, SECRET_SIGNATURE, SECRET_TOKEN,
};
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
        "property Behavior is not a property of Custom::Fault; known properties: Behaviour, Name"
    );
    assert_eq!(
        answers[1]["Reason"],
        "property Behaviour is required but was not given; expected succeed, fail, panic, overrun, big-data or log"
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
    // Start-up lines (such as the RESPONSE_URL_ALLOWED_HOSTS warning) belong to no request.
    let records: Vec<Value> = f
        .log_records()
        .into_iter()
        .skip_while(|r| r.get("span").is_none())
        .collect();
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

/// Every secret of the capture URL, for "never in the logs" assertions.
fn assert_no_url_secrets(output: &str) {
    for secret in [
        SECRET_SIGNATURE,
        SECRET_CREDENTIAL,
        SECRET_TOKEN,
        "ASIASECRETCRED",
        "IQoJSECRETt0ken",
    ] {
        assert!(
            !output.contains(secret),
            "{secret} leaked into the logs:\n{output}"
        );
    }
}

// ---- issue 10 item 8: the ResponseURL allowlist ------------------------------------------

#[test]
fn a_response_url_outside_the_allowed_hosts_gets_no_put_and_runs_nothing() {
    let capture = ResponseCapture::start();
    // Without RESPONSE_URL_ALLOWED_HOSTS only https S3 hosts are answered.
    let mut f = start(&[("RESPONSE_URL_ALLOWED_HOSTS", "")]);
    let result = f.invoke(
        &request("Create", "panic", &capture.url()),
        Duration::from_secs(30),
    );
    assert!(
        matches!(result, InvocationResult::Error(_)),
        "the invocation fails: {result:?}"
    );
    // The same server under another name is not on the list either.
    let mut g = start(&[("RESPONSE_URL_ALLOWED_HOSTS", "127.0.0.1")]);
    let result = g.invoke(
        &request("Create", "panic", &capture.url_on_host("localhost")),
        Duration::from_secs(30),
    );
    assert!(matches!(result, InvocationResult::Error(_)), "{result:?}");
    assert!(capture.deliveries().is_empty(), "no PUT at all");
    for (process, host) in [(&f, "127.0.0.1"), (&g, "localhost")] {
        assert!(
            process.wait_for_output("is not allowed", Duration::from_secs(5)),
            "{}",
            process.output()
        );
        let output = process.output();
        assert!(output.contains(host), "the host is logged: {output}");
        assert!(
            !output.contains("cfn-response"),
            "the path is not logged: {output}"
        );
        assert_no_url_secrets(&output);
        assert!(!output.contains("panicked"), "the handler did not run");
    }
}

#[test]
fn allowed_hosts_are_answered_over_plain_http() {
    let capture = ResponseCapture::start();
    let mut f = start(&[("RESPONSE_URL_ALLOWED_HOSTS", "localhost, 127.0.0.1")]);
    f.invoke(
        &request("Create", "succeed", &capture.url_on_host("localhost")),
        Duration::from_secs(30),
    );
    assert_eq!(single_answer(&capture)["Status"], "SUCCESS");
    assert!(
        f.wait_for_output("RESPONSE_URL_ALLOWED_HOSTS is set", Duration::from_secs(5)),
        "a function with the local-only list says so at start"
    );
}

// ---- issue 10 item 5: requests the runtime library cannot parse --------------------------

/// `depth` nested JSON arrays around a number.
fn nested(depth: usize) -> Value {
    let text = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    // Build through the text: serde_json::Value's own parser stops at 128 levels.
    let mut value = json!(1);
    for _ in 0..depth {
        value = json!([value]);
    }
    assert_eq!(serde_json::to_string(&value).unwrap(), text);
    value
}

/// Serialize without serde_json's recursion limit (it has none when writing).
fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[test]
fn deeply_nested_create_is_answered_failed_and_its_rollback_delete_succeeds() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let mut create = request("Create", "succeed", &capture.url());
    create["ResourceProperties"]["Conditions"] = json!({"StringEquals": nested(140)});
    let result = f.invoke_bytes(bytes_of(&create), Duration::from_secs(30));
    assert!(
        result.is_ok(),
        "answered, so the invocation is Ok: {result:?}"
    );
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(
        answer["PhysicalResourceId"],
        "corebound-failed-create:cfn-Create-succeed"
    );
    let reason = answer["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "malformed CloudFormation request: the event nests JSON deeper than 128 levels"
        ),
        "{reason}"
    );

    // CloudFormation's rollback Delete carries the same properties and the marker id.
    let mut delete = request("Delete", "panic", &capture.url());
    delete["RequestId"] = json!("cfn-rollback");
    delete["PhysicalResourceId"] = answer["PhysicalResourceId"].clone();
    delete["ResourceProperties"]["Conditions"] = json!({"StringEquals": nested(140)});
    f.invoke_bytes(bytes_of(&delete), Duration::from_secs(30));
    let answers = capture.accepted();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1]["Status"], "SUCCESS", "{:?}", answers[1]);
    assert_eq!(answers[1]["RequestId"], "cfn-rollback");
}

#[test]
fn invalid_utf8_and_wrong_json_types_are_answered_failed_naming_the_problem() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);

    let mut create = request("Create", "succeed", &capture.url());
    create["RequestId"] = json!("cfn-utf8");
    create["ResourceProperties"]["Name"] = json!("caf\u{e9}");
    let mut bytes = bytes_of(&create);
    // Turn the two-byte "é" into a lone continuation byte.
    let at = bytes.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
    bytes[at] = 0xff;
    f.invoke_bytes(bytes, Duration::from_secs(30));

    let mut wrong_type = request("Update", "succeed", &capture.url());
    wrong_type["RequestId"] = json!("cfn-wrong-type");
    wrong_type["ResourceProperties"] = json!("Behaviour=succeed");
    f.invoke(&wrong_type, Duration::from_secs(30));

    let mut wrong_field = request("Delete", "succeed", &capture.url());
    wrong_field["RequestId"] = json!("cfn-wrong-field");
    wrong_field["LogicalResourceId"] = json!(42);
    f.invoke(&wrong_field, Duration::from_secs(30));

    let answers = capture.accepted();
    assert_eq!(answers.len(), 3, "{answers:?}");
    assert_eq!(answers[0]["RequestId"], "cfn-utf8");
    assert_eq!(answers[0]["Status"], "FAILED");
    assert_eq!(
        answers[0]["Reason"],
        format!("malformed CloudFormation request: the event is not valid UTF-8 (invalid byte at offset {at}); nothing was changed")
    );
    assert_eq!(answers[1]["RequestId"], "cfn-wrong-type");
    assert_eq!(answers[1]["PhysicalResourceId"], "fault-Fault");
    assert_eq!(
        answers[1]["Reason"],
        "malformed CloudFormation request: field ResourceProperties is a string, expected a JSON object; nothing was changed"
    );
    assert_eq!(answers[2]["RequestId"], "cfn-wrong-field");
    assert_eq!(answers[2]["Status"], "FAILED");
    assert!(answers[2]["Reason"]
        .as_str()
        .unwrap()
        .contains("field LogicalResourceId is a number, expected a string"));
}

// ---- issue 10 item 6: a bad setting ------------------------------------------------------

#[test]
fn a_bad_setting_answers_every_request_naming_the_variable() {
    let capture = ResponseCapture::start();
    let mut f = start(&[
        ("COREBOUND_DEADLINE_MARGIN_MS", "5s"),
        ("FAULT_LIMIT", "many"),
    ]);
    for request_type in ["Create", "Update", "Delete"] {
        let result = f.invoke(
            &request(request_type, "succeed", &capture.url()),
            Duration::from_secs(30),
        );
        assert!(result.is_ok(), "{request_type}: {result:?}");
    }
    let mut rollback = request("Delete", "succeed", &capture.url());
    rollback["RequestId"] = json!("cfn-rollback");
    rollback["PhysicalResourceId"] = json!("corebound-failed-create:cfn-Create-succeed");
    f.invoke(&rollback, Duration::from_secs(30));

    let answers = capture.accepted();
    assert_eq!(answers.len(), 4, "{answers:?}");
    for answer in &answers[..3] {
        assert_eq!(answer["Status"], "FAILED", "{answer}");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(
            reason.contains("COREBOUND_DEADLINE_MARGIN_MS is \"5s\"")
                && reason.contains("FAULT_LIMIT is \"many\""),
            "{reason}"
        );
    }
    assert_eq!(
        answers[0]["PhysicalResourceId"],
        "corebound-failed-create:cfn-Create-succeed"
    );
    assert!(answers[0]["Reason"]
        .as_str()
        .unwrap()
        .contains("Nothing was changed"));
    let delete = answers[2]["Reason"].as_str().unwrap();
    assert!(
        delete.contains("Nothing was deleted") && delete.contains("retaining Fault"),
        "{delete}"
    );
    assert_eq!(
        answers[3]["Status"], "SUCCESS",
        "the rollback of the failed Create"
    );
    assert!(f.output().contains("invalid function setting"));
}

#[test]
fn the_real_functions_answer_a_bad_setting_instead_of_exiting() {
    let capture = ResponseCapture::start();
    for (binary, sample, variable, value) in [
        (
            "runtime-policy",
            "runtime-policy/create.json",
            "COREBOUND_DEADLINE_MARGIN_MS",
            "5s",
        ),
        (
            "memory-grant",
            "memory-grant/create-memory-grant.json",
            "VERIFY_ATTEMPTS",
            "lots",
        ),
        (
            "memory-grant",
            "memory-grant/delete-memory-grant.json",
            "COREBOUND_FALLBACK_BUDGET_MS",
            "-1",
        ),
    ] {
        let mut f = LambdaProcess::start(
            binary_path(binary),
            &[
                (variable, value),
                // The grant function's required setting, valid, so the bad one is the one named.
                ("REQUIRED_ROLE_PREFIX", "LPMA_"),
                // Nothing listens here: no AWS call can succeed.
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ],
        );
        let before = capture.accepted().len();
        let result = f.invoke(
            &with_response_url(event(sample), &capture.url()),
            Duration::from_secs(30),
        );
        assert!(result.is_ok(), "{binary}: {result:?}");
        let answers = capture.accepted();
        assert_eq!(answers.len(), before + 1, "{binary}: {answers:?}");
        let answer = answers.last().unwrap();
        assert_eq!(answer["Status"], "FAILED");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("{variable} is \"{value}\"")),
            "{binary}: {reason}"
        );
    }
}

#[test]
fn an_invalid_allowed_hosts_list_is_named_and_only_s3_hosts_remain() {
    let capture = ResponseCapture::start();
    let mut f = start(&[("RESPONSE_URL_ALLOWED_HOSTS", "127.0.0.1,http://bad:80")]);
    let result = f.invoke(
        &request("Create", "succeed", &capture.url()),
        Duration::from_secs(30),
    );
    assert!(matches!(result, InvocationResult::Error(_)), "{result:?}");
    assert!(capture.deliveries().is_empty());
    assert!(f.wait_for_output("is not allowed", Duration::from_secs(5)));
    assert!(f.output().contains("RESPONSE_URL_ALLOWED_HOSTS is"));
}

// ---- issue 10 item 9: log redaction -------------------------------------------------------

#[test]
fn no_log_filter_prints_a_presigned_url_credential() {
    // (RUST_LOG, whether it lets the fault resource's own log lines through)
    for (rust_log, handler_logs) in [
        // Before: lambda_runtime printed each raw event, ResponseURL included.
        ("lambda_runtime::layers::api_response=trace", false),
        ("trace", true),
        (
            "lambda_runtime=trace,lambda_runtime_api_client=trace,hyper=trace,hyper_util=trace,fault_resource=trace",
            true,
        ),
        ("debug", true),
        ("info", true),
    ] {
        let capture = ResponseCapture::scripted(&[500]);
        let mut f = start(&[("RUST_LOG", rust_log)]);
        let mut logs_it = request("Create", "log", &capture.url());
        // A handler that logs a value holding a presigned URL, at every level.
        logs_it["ResourceProperties"]["Name"] = json!(capture.url());
        f.invoke(&logs_it, Duration::from_secs(30));
        f.invoke(
            &request("Update", "fail", &capture.url()),
            Duration::from_secs(30),
        );
        assert_eq!(capture.accepted().len(), 2, "{rust_log}");
        if handler_logs {
            assert!(
                f.wait_for_output("X-Amz-Signature=REDACTED", Duration::from_secs(5)),
                "{rust_log}: the logged value was redacted, not dropped:\n{}",
                f.output()
            );
        }
        // Let the last lines through the pipe before looking for secrets.
        std::thread::sleep(Duration::from_millis(200));
        assert_no_url_secrets(&f.output());
    }
}

// ---- issue 10 item 10: echoed values ------------------------------------------------------

#[test]
fn reasons_name_unknown_properties_without_their_values_and_hide_dynamic_references() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let mut misspelt = request("Create", "succeed", &capture.url());
    misspelt["ResourceProperties"]["Pasword"] = json!("hunter2-very-secret");
    f.invoke(&misspelt, Duration::from_secs(30));

    let mut dynamic = request("Update", "succeed", &capture.url());
    dynamic["ResourceProperties"]["Behaviour"] =
        json!("{{resolve:secretsmanager:prod/db:SecretString:password}}");
    f.invoke(&dynamic, Duration::from_secs(30));

    let mut long = request("Delete", "succeed", &capture.url());
    long["ResourceProperties"]["Behaviour"] = json!(format!("oops-{}", "x".repeat(500)));
    f.invoke(&long, Duration::from_secs(30));

    let answers = capture.accepted();
    assert_eq!(answers.len(), 3);
    assert_eq!(
        answers[0]["Reason"],
        "property Pasword is not a property of Custom::Fault; known properties: Behaviour, Name"
    );
    let reason = answers[1]["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("property Behaviour has value (a dynamic reference, not shown)"),
        "{reason}"
    );
    let reason = answers[2]["Reason"].as_str().unwrap();
    assert!(
        reason.contains("\"oops-xxx") && reason.contains('…'),
        "{reason}"
    );
    assert!(reason.len() < 300, "a short excerpt: {reason}");
    let output = f.output();
    for secret in ["hunter2", "secretsmanager:prod", &"x".repeat(150)] {
        assert!(!output.contains(secret), "{secret} in the logs");
    }
}

// ---- issue 17 item 2: ServiceTimeout ------------------------------------------------------

#[test]
fn service_timeout_is_accepted_and_ignored() {
    let capture = ResponseCapture::start();
    let mut f = start(&[]);
    let mut create = request("Create", "succeed", &capture.url());
    create["ResourceProperties"]["ServiceTimeout"] = json!("300");
    f.invoke(&create, Duration::from_secs(30));
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
}

#[test]
fn the_runtime_policy_function_accepts_service_timeout() {
    let (_guard, emu) = emulator();
    emu.reset();
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": "corebound_demo_agent-AbCdE12345", "endpoints": ["DEFAULT"]}),
    );
    let env = emu.aws_env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The sample grants account 210987654321, which the function allows only when listed.
    env.push(("ALLOWED_PRINCIPAL_ACCOUNTS", "210987654321"));
    let mut f = LambdaProcess::start(binary_path("runtime-policy"), &env);
    let capture = ResponseCapture::start();
    let mut create = with_response_url(event("runtime-policy/create.json"), &capture.url());
    create["ResourceProperties"]["ServiceTimeout"] = json!("600");
    f.invoke(&create, Duration::from_secs(60));
    let answer = single_answer(&capture);
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
}
