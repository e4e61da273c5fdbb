//! The remediator end to end: the `remediator` binary, driven through the Lambda Runtime API
//! with the CloudTrail events in events/remediator/, against the local emulator (moto for
//! SNS, SQS, Logs, S3, Secrets Manager, IAM and KMS; the project's emulations for Logs
//! AssociateKmsKey and the AgentCore control plane).
//!
//! Fixture resources are created the way a deployer would (plain AWS calls, see
//! `corebound_tests::aws_calls`); where AWS mints a random id (secret ARNs, KMS key ids) the
//! sample event is pointed at the resource that was created. Writes are counted in the
//! emulator's request log.

use std::time::Instant;

use corebound_tests::aws_calls::fixtures as aws;
use corebound_tests::remediator::*;
use corebound_tests::{emulator, event, Emulator, InvocationResult};
use serde_json::{json, Value};

#[test]
fn sns_topic_is_tagged_and_encrypted_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let event = event("remediator/create-topic.json");
    let arn = aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    assert_eq!(
        event["detail"]["responseElements"]["topicArn"],
        arn.as_str()
    );
    let mut remediator = fx.start(emu, &[]);

    let run = assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        &arn,
        &["TagResource", "SetTopicAttributes"],
        &TAGGED_AND_ENCRYPTED,
    );
    assert_eq!(run.publishes(), 0, "nothing needed a person");
    assert_eq!(aws::topic_tags(emu, &arn), required_tags());
    assert_eq!(aws::topic_attributes(emu, &arn)["KmsMasterKeyId"], fx.cmk);
    // The record carries the state before and what was done.
    let encrypted = &run.audits[1];
    assert_eq!(
        encrypted["state_before"]["encryption"]["kms_master_key_id"],
        Value::Null
    );
    assert_eq!(encrypted["detail"]["key_arn"], fx.cmk.as_str());
    assert!(fx.alerts(emu).is_empty());
}

#[test]
fn sqs_queue_is_tagged_and_moved_from_sse_sqs_to_the_cmk_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let event = event("remediator/create-queue.json");
    let url = aws::create_queue(
        emu,
        "corebound-demo-jobs",
        &[("VisibilityTimeout", "120")],
        &[],
    );
    assert_eq!(aws::queue_attributes(emu, &url).get("KmsMasterKeyId"), None);
    let mut remediator = fx.start(emu, &[]);

    let run = assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        "https://sqs.us-east-1.amazonaws.com/123456789012/corebound-demo-jobs",
        &["TagQueue", "SetQueueAttributes"],
        &TAGGED_AND_ENCRYPTED,
    );
    assert_eq!(
        run.audits[1]["state_before"]["encryption"]["sqs_managed_sse_enabled"],
        true
    );
    assert_eq!(aws::queue_tags(emu, &url), required_tags());
    assert_eq!(aws::queue_attributes(emu, &url)["KmsMasterKeyId"], fx.cmk);
}

#[test]
fn log_group_is_tagged_and_associated_with_the_cmk_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let event = event("remediator/create-log-group.json");
    aws::create_log_group(emu, "corebound-demo-agent-logs", None, &[]);
    // A longer name sharing the prefix must not be mistaken for it.
    aws::create_log_group(emu, "corebound-demo-agent-logs-archive", None, &[]);
    let mut remediator = fx.start(emu, &[]);

    assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        "corebound-demo-agent-logs",
        &["TagResource", "AssociateKmsKey"],
        &TAGGED_AND_ENCRYPTED,
    );
    assert_eq!(
        aws::log_group(emu, "corebound-demo-agent-logs")["kmsKeyId"],
        fx.cmk.as_str()
    );
    assert_eq!(
        aws::log_group_tags(emu, "corebound-demo-agent-logs"),
        required_tags()
    );
    assert_eq!(
        aws::log_group(emu, "corebound-demo-agent-logs-archive").get("kmsKeyId"),
        None
    );
    assert!(aws::log_group_tags(emu, "corebound-demo-agent-logs-archive").is_empty());
}

#[test]
fn s3_bucket_keeps_existing_tags_and_gets_the_cmk_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let event = event("remediator/create-bucket.json");
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    // Set by the team that created it: kept, never overwritten.
    aws::put_bucket_tags(
        emu,
        bucket,
        &[("Owner", "data-team"), ("Environment", "prod")],
    );
    let mut remediator = fx.start(emu, &[]);

    let run = assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        bucket,
        &["PutBucketTagging", "PutBucketEncryption"],
        &TAGGED_AND_ENCRYPTED,
    );
    let mut expected = required_tags();
    expected.insert("Owner".into(), "data-team".into());
    expected.insert("Environment".into(), "prod".into());
    assert_eq!(aws::bucket_tags(emu, bucket), expected);
    assert_eq!(
        run.audits[0]["detail"]["tags"],
        json!(expected),
        "the merged set is audited"
    );
    let encryption = aws::bucket_encryption(emu, bucket);
    assert!(
        encryption.contains("<SSEAlgorithm>aws:kms</SSEAlgorithm>"),
        "{encryption}"
    );
    assert!(
        encryption.contains(&format!("<KMSMasterKeyID>{}</KMSMasterKeyID>", fx.cmk)),
        "{encryption}"
    );
    assert!(
        encryption.contains("<BucketKeyEnabled>true</BucketKeyEnabled>"),
        "{encryption}"
    );
}

#[test]
fn secret_is_tagged_and_rekeyed_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_secret(emu, "corebound-demo-db-credentials", None, &[]);
    let event = with(
        event("remediator/create-secret.json"),
        "/detail/responseElements/aRN",
        &arn,
    );
    let mut remediator = fx.start(emu, &[]);

    assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        &arn,
        &["TagResource", "UpdateSecret"],
        &TAGGED_AND_ENCRYPTED,
    );
    let secret = aws::describe_secret(emu, &arn);
    assert_eq!(secret["KmsKeyId"], fx.cmk.as_str());
    assert_eq!(
        corebound_tests::aws_calls::tag_list(&secret["Tags"]),
        required_tags()
    );
}

#[test]
fn iam_role_is_tagged_once_and_a_name_outside_the_prefix_is_reported() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let event = event("remediator/create-role.json");
    let arn = aws::create_role(
        emu,
        "LPMA_Demo_AgentRuntime",
        &[("environment", "preprod-eu")],
    );
    assert_eq!(
        event["detail"]["responseElements"]["role"]["arn"],
        arn.as_str()
    );
    let mut remediator = fx.start(emu, &[]);

    assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        &arn,
        &["TagRole"],
        &[
            ("mandatory-tags", "tagged", "ok"),
            ("scope", "none", "ok"),
            ("role-prefix", "none", "ok"),
        ],
    );
    // IAM tag keys ignore case: the existing `environment` stands for Environment.
    let mut expected = required_tags();
    expected.remove("Environment");
    expected.insert("environment".into(), "preprod-eu".into());
    assert_eq!(aws::role_tags(emu, "LPMA_Demo_AgentRuntime"), expected);

    // In scope, but not under the prefix the boundary requires: tagged and reported.
    let other = aws::create_role(emu, "corebound-demo-helper", &[]);
    let other_event = with(
        with(event.clone(), "/detail/responseElements/role/arn", &other),
        "/detail/responseElements/role/roleName",
        "corebound-demo-helper",
    );
    let run = remediator.run(&other_event);
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["TagRole"]);
    assert_eq!(
        run.decisions(),
        [
            decision("mandatory-tags", "tagged", "ok"),
            decision("role-prefix", "reported", "ok"),
            decision("scope", "none", "ok"),
        ]
    );
    assert_eq!(run.publishes(), 1);
    let alerts = fx.alerts(emu);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains("does not start with the required prefix LPMA_"),
        "{}",
        alerts[0]
    );
}

#[test]
fn kms_key_is_tagged_once_when_its_alias_is_in_scope() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let key = aws::create_key(emu, "corebound demo data key", &[]);
    aws::create_alias(emu, "alias/corebound-demo-data", &key);
    let event = with(
        event("remediator/create-key.json"),
        "/detail/responseElements/keyMetadata/arn",
        &key,
    );
    let mut remediator = fx.start(emu, &[]);

    let run =
        assert_fixed_then_idempotent(&mut remediator, &event, &key, &["TagResource"], &TAGGED);
    assert_eq!(
        run.audits[0]["state_before"]["key_aliases"],
        json!(["alias/corebound-demo-data"])
    );
    assert_eq!(aws::key_tags(emu, &key), required_tags());

    // A key without an alias (after waiting for one) cannot be attributed: recorded as out
    // of scope, its tags never read, nobody paged.
    let orphan = aws::create_key(emu, "someone's key", &[]);
    let orphan_event = with(event, "/detail/responseElements/keyMetadata/arn", &orphan);
    let run = remediator.run(&orphan_event);
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(
        run.decisions(),
        [decision(
            "scope",
            "none",
            "skipped: out of scope: no name or alias to match SCOPE_PATTERNS"
        )]
    );
    assert_eq!(
        run.operations(),
        ["ListAliases", "ListAliases", "ListAliases"],
        "read again for each of the 3 tries, and nothing else"
    );
    assert!(aws::key_tags(emu, &orphan).is_empty());
    assert_eq!(run.publishes(), 0);
}

#[test]
fn agent_runtime_is_tagged_once_found_by_arn_or_by_name() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let seeded = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": "corebound_demo_agent-Ab12Cd34Ef"}),
    );
    let arn = seeded["agentRuntimeArn"].as_str().unwrap().to_string();
    let event = event("remediator/create-agent-runtime.json");
    assert_eq!(
        event["detail"]["responseElements"]["agentRuntimeArn"],
        arn.as_str()
    );
    let mut remediator = fx.start(emu, &[]);

    assert_fixed_then_idempotent(&mut remediator, &event, &arn, &["TagResource"], &TAGGED);
    assert_eq!(aws::agentcore_tags(emu, &arn), required_tags());

    // AgentCore may log `responseElements: null`: the runtime is looked up by name.
    let seeded = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent_v2"}),
    );
    let v2 = seeded["agentRuntimeArn"].as_str().unwrap().to_string();
    let mut by_name = with(
        event.clone(),
        "/detail/requestParameters/agentRuntimeName",
        "corebound_demo_agent_v2",
    );
    by_name["detail"]["responseElements"] = Value::Null;
    let run = remediator.run(&by_name);
    run.assert_ok();
    assert!(run.operations().contains(&"ListAgentRuntimes".to_string()));
    assert_eq!(run.resource_writes(), ["TagResource"]);
    assert_records_name(&run, &by_name, &v2);
    assert_eq!(aws::agentcore_tags(emu, &v2), required_tags());
}

#[test]
fn gateway_is_tagged_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let seeded = emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "corebound-demo-gateway", "id": "corebound-demo-gateway-k3x9q2w7zt", "authorizerType": "CUSTOM_JWT"}),
    );
    let arn = seeded["gatewayArn"].as_str().unwrap().to_string();
    let event = event("remediator/create-gateway.json");
    assert_eq!(
        event["detail"]["responseElements"]["gatewayArn"],
        arn.as_str()
    );
    let mut remediator = fx.start(emu, &[]);

    assert_fixed_then_idempotent(&mut remediator, &event, &arn, &["TagResource"], &TAGGED);
    assert_eq!(aws::agentcore_tags(emu, &arn), required_tags());
}

#[test]
fn memory_without_encryption_key_is_tagged_and_reported() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    // Created as in events/remediator/create-memory.json: no encryptionKeyArn, and the
    // CloudTrail record has `responseElements: null`, so the memory is found by name.
    let seeded = emu.post(
        "/_corebound/agentcore/memories",
        &json!({
            "name": "corebound_demo_memory",
            "memoryExecutionRoleArn": "arn:aws:iam::123456789012:role/LPMA_Demo_MemoryExecution",
            "eventExpiryDuration": 30,
            "status": "CREATING",
        }),
    );
    let arn = seeded["arn"].as_str().unwrap().to_string();
    let event = event("remediator/create-memory.json");
    let mut remediator = fx.start(emu, &[]);

    let run = assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        &arn,
        &["TagResource"],
        &[
            ("mandatory-tags", "tagged", "ok"),
            ("cmk-encryption", "reported", "ok"),
            ("scope", "none", "ok"),
        ],
    );
    for operation in ["ListMemories", "GetMemory", "ListTagsForResource"] {
        assert!(
            run.operations().contains(&operation.to_string()),
            "{operation}"
        );
    }
    assert_eq!(
        run.audits[1]["detail"],
        json!({"finding": "memory_without_cmk"})
    );
    assert_eq!(aws::agentcore_tags(emu, &arn), required_tags());
    assert_eq!(run.publishes(), 1, "one alert per event");
    let alerts = fx.alerts(emu);
    // The finding stands after the second run too: reported again, written never.
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts[0].contains(&arn), "{}", alerts[0]);
    assert!(
        alerts[0].contains("memory created without encryptionKeyArn"),
        "{}",
        alerts[0]
    );

    // A memory created with the project CMK and tagged is compliant: reads only.
    let seeded = emu.post(
        "/_corebound/agentcore/memories",
        &json!({"name": "corebound_demo_memory_cmk", "encryptionKeyArn": fx.cmk, "tags": required_tags()}),
    );
    let compliant = with(
        event,
        "/detail/requestParameters/name",
        "corebound_demo_memory_cmk",
    );
    let run = remediator.run(&compliant);
    run.assert_ok();
    assert_eq!(run.writes(), Vec::<String>::new());
    assert_records_name(&run, &compliant, seeded["arn"].as_str().unwrap());
    assert!(run
        .decisions()
        .iter()
        .all(|(_, action, _)| action == "none"));
}

#[test]
fn compliant_resources_cost_reads_only() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let all: Vec<(&str, &str)> = REQUIRED.to_vec();
    let cmk = fx.cmk.as_str();
    aws::create_topic(
        emu,
        "corebound-demo-alerts",
        &[("KmsMasterKeyId", cmk)],
        &all,
    );
    aws::create_queue(emu, "corebound-demo-jobs", &[("KmsMasterKeyId", cmk)], &all);
    aws::create_log_group(emu, "corebound-demo-agent-logs", Some(cmk), &all);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    aws::put_bucket_tags(emu, bucket, &all);
    aws::put_bucket_kms_encryption(emu, bucket, cmk);
    let secret = aws::create_secret(emu, "corebound-demo-db-credentials", Some(cmk), &all);
    aws::create_role(emu, "LPMA_Demo_AgentRuntime", &all);
    let events = [
        event("remediator/create-topic.json"),
        event("remediator/create-queue.json"),
        event("remediator/create-log-group.json"),
        event("remediator/create-bucket.json"),
        with(
            event("remediator/create-secret.json"),
            "/detail/responseElements/aRN",
            &secret,
        ),
        event("remediator/create-role.json"),
    ];
    let mut remediator = fx.start(emu, &[]);
    for event in &events {
        let run = remediator.run(event);
        let summary = run.assert_ok();
        assert_eq!(
            run.writes(),
            Vec::<String>::new(),
            "{summary}: {:?}",
            run.operations()
        );
        assert!(!run.requests.is_empty(), "the state was read");
        assert!(
            run.decisions()
                .iter()
                .all(|(_, action, result)| action == "none" && result == "ok"),
            "{:?}",
            run.decisions()
        );
    }
}

#[test]
fn report_mode_writes_nothing_and_logs_would() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic = aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    emu.post(
        "/_corebound/agentcore/memories",
        &json!({"name": "corebound_demo_memory"}),
    );
    let mut remediator = fx.start(emu, &[("MODE", Some("report"))]);

    for name in ["create-topic.json", "create-bucket.json"] {
        let run = remediator.run(&event(&format!("remediator/{name}")));
        run.assert_ok();
        assert_eq!(
            run.writes(),
            Vec::<String>::new(),
            "{name}: {:?}",
            run.operations()
        );
        assert_eq!(
            run.decisions(),
            [
                decision("mandatory-tags", "would tag", "ok"),
                decision("cmk-encryption", "would encrypt", "ok"),
                decision("scope", "none", "ok"),
            ],
            "{name}"
        );
    }
    assert!(aws::topic_tags(emu, &topic).is_empty());
    assert_eq!(
        aws::topic_attributes(emu, &topic).get("KmsMasterKeyId"),
        None
    );
    assert!(aws::bucket_tags(emu, bucket).is_empty());
    let encryption = aws::bucket_encryption(emu, bucket);
    assert!(
        encryption.contains("<SSEAlgorithm>AES256</SSEAlgorithm>")
            && !encryption.contains("aws:kms"),
        "still on SSE-S3, the default every new bucket has: {encryption}"
    );

    // Findings are still alerted in report mode; the resource is still not written.
    let run = remediator.run(&event("remediator/create-memory.json"));
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(
        run.decisions()[0],
        decision("mandatory-tags", "would tag", "ok")
    );
    assert_eq!(run.publishes(), 1);
    let alerts = fx.alerts(emu);
    assert!(
        alerts[0].contains("report (nothing was changed)"),
        "{}",
        alerts[0]
    );
}

#[test]
fn own_events_and_failed_calls_are_skipped_without_a_call() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    let mut remediator = fx.start(emu, &[]);

    // The remediator's own call (its role, any session): the loop guard.
    let own = with(
        with(
            event("remediator/create-topic.json"),
            "/detail/userIdentity/arn",
            "arn:aws:sts::123456789012:assumed-role/LPMA_Demo_corebound_Remediator/remediator-7",
        ),
        "/detail/userIdentity/sessionContext/sessionIssuer/arn",
        SELF_ROLE,
    );
    let run = remediator.run(&own);
    run.assert_ok();
    assert_eq!(run.operations(), Vec::<String>::new(), "not even a read");
    assert_eq!(run.decisions().len(), 1);
    let (rule, action, result) = &run.decisions()[0];
    assert_eq!((rule.as_str(), action.as_str()), ("event-filter", "none"));
    assert!(result.starts_with("skipped: own action"), "{result}");

    // A failed CreateTopic created nothing.
    let failed = event("remediator/create-topic-failed.json");
    let run = remediator.run(&failed);
    run.assert_ok();
    assert_eq!(run.operations(), Vec::<String>::new());
    assert_eq!(
        run.decisions(),
        [decision(
            "event-filter",
            "none",
            "skipped: failed call (AuthorizationError)"
        )]
    );
    assert_records_name(&run, &failed, "sns.amazonaws.com CreateTopic");
    assert!(fx.alerts(emu).is_empty());
}

#[test]
fn out_of_scope_resource_is_recorded_never_read_nor_alerted() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_topic(emu, "payments-team-alerts", &[], &[]);
    let event = with(
        event("remediator/create-topic.json"),
        "/detail/responseElements/topicArn",
        &arn,
    );
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event);
    run.assert_ok();
    assert_eq!(
        run.requests,
        Vec::<Value>::new(),
        "another team's resource is never read"
    );
    assert_eq!(
        run.decisions(),
        [decision(
            "scope",
            "none",
            "skipped: out of scope: payments-team-alerts matches no SCOPE_PATTERNS"
        )]
    );
    assert_eq!(
        run.audits[0]["detail"],
        json!({"skip": "out_of_scope", "names": ["payments-team-alerts"]})
    );
    assert_eq!(run.audits[0]["resource"], arn.as_str());
    assert!(aws::topic_tags(emu, &arn).is_empty());
    assert!(
        fx.alerts(emu).is_empty(),
        "other teams' creates page nobody"
    );
}

#[test]
fn opted_out_resource_is_reported_not_touched() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_topic(emu, "corebound-demo-alerts", &[], &[(OPT_OUT_TAG, "off")]);
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event("remediator/create-topic.json"));
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(
        run.decisions(),
        [
            decision("opt-out", "reported", "ok"),
            decision("scope", "none", "ok")
        ]
    );
    assert_eq!(aws::topic_tags(emu, &arn), tags(&[(OPT_OUT_TAG, "off")]));
    assert_eq!(aws::topic_attributes(emu, &arn).get("KmsMasterKeyId"), None);
    assert_eq!(run.publishes(), 1);
}

#[test]
fn a_resource_not_yet_visible_or_throttled_is_retried() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    // Eventual consistency: the first two reads do not see the new topic yet.
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sns", "operation": "GetTopicAttributes", "status": 404, "code": "NotFound", "message": "Topic does not exist", "count": 2}),
    );
    // And the tag call is throttled a few times (the SDK's retries, then ours).
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sns", "operation": "TagResource", "status": 400, "code": "Throttling", "message": "Rate exceeded", "count": 3}),
    );
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event("remediator/create-topic.json"));
    run.assert_ok();
    let count = |operation: &str| {
        run.operations()
            .iter()
            .filter(|op| *op == operation)
            .count()
    };
    assert_eq!(count("GetTopicAttributes"), 3);
    assert_eq!(count("TagResource"), 4);
    assert_eq!(aws::topic_tags(emu, &arn), required_tags());
    assert_eq!(aws::topic_attributes(emu, &arn)["KmsMasterKeyId"], fx.cmk);
}

#[test]
fn a_persistent_failure_fails_the_invocation_after_doing_what_it_can() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sns", "operation": "TagResource", "status": 403, "code": "AuthorizationError", "message": "not authorized to perform: SNS:TagResource", "count": 5}),
    );
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event("remediator/create-topic.json"));
    let message = run.error_message();
    assert!(
        message.contains("sns:TagResource failed: AuthorizationError"),
        "{message}"
    );
    let count = |operation: &str| {
        run.operations()
            .iter()
            .filter(|op| *op == operation)
            .count()
    };
    assert_eq!(count("TagResource"), 1, "access denied is not retried");
    assert_eq!(
        run.decisions(),
        [
            decision(
                "mandatory-tags",
                "tagged",
                "failed: sns:TagResource failed: AuthorizationError: not authorized to perform: SNS:TagResource"
            ),
            decision("cmk-encryption", "encrypted", "ok"),
            decision("scope", "none", "ok"),
        ]
    );
    // The independent fix was still made, and a person was told.
    assert_eq!(aws::topic_attributes(emu, &arn)["KmsMasterKeyId"], fx.cmk);
    assert_eq!(run.publishes(), 1);
    let alerts = fx.alerts(emu);
    assert!(
        alerts[0].contains(
            "tagging (ApplicationId, Environment, ManagedBy, Project, ServiceLine) failed"
        ),
        "{}",
        alerts[0]
    );

    // Once the permission is fixed, Lambda's retry of the same event finishes the job.
    emu.delete("/_corebound/faults");
    let retry = remediator.run(&event("remediator/create-topic.json"));
    retry.assert_ok();
    assert_eq!(retry.resource_writes(), ["TagResource"]);
    assert_eq!(aws::topic_tags(emu, &arn), required_tags());
}

#[test]
fn an_in_scope_resource_that_never_shows_up_is_recorded_as_gone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let mut remediator = fx.start(emu, &[]);

    // Deleted within seconds (a rollback): not a failure, no retry, no alert.
    let run = remediator.run(&event("remediator/create-topic.json"));
    let summary = run.assert_ok();
    assert_eq!(summary["failures"], 0, "{summary}");
    let reads = run
        .operations()
        .iter()
        .filter(|op| *op == "GetTopicAttributes")
        .count();
    assert_eq!(reads, 3, "REMEDIATION_RETRY_ATTEMPTS tries");
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(run.audits.len(), 1);
    assert_eq!(run.audits[0]["rule"], "event-filter");
    assert_eq!(run.audits[0]["action"], "none");
    assert!(
        run.audits[0]["result"]
            .as_str()
            .unwrap()
            .starts_with("skipped: gone: the resource no longer exists (sns:GetTopicAttributes"),
        "{}",
        run.audits[0]
    );
    assert_eq!(run.audits[0]["detail"]["skip"], "gone");
    assert_eq!(run.publishes(), 0);
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_variable() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let cases: [(&str, Option<&str>); 8] = [
        ("REQUIRED_TAGS", None),
        ("REQUIRED_TAGS", Some(r#"{"ApplicationId":"APP-0042"}"#)),
        ("KMS_KEY_ARN", Some("alias/corebound-demo")),
        ("MODE", Some("fix-everything")),
        ("SCOPE_PATTERNS", Some("*")),
        ("ALERT_TOPIC_ARN", Some("platform-alerts")),
        ("SELF_ROLE_ARN", Some("LPMA_Demo_corebound_Remediator")),
        ("REMEDIATION_RETRY_ATTEMPTS", Some("0")),
    ];
    for (variable, value) in cases {
        let requests_before = emu.requests().len();
        let mut remediator = fx.start(emu, &[(variable, value)]);
        let result = remediator
            .process
            .invoke(&event("remediator/create-topic.json"), WAIT);
        let InvocationResult::Error(error) = result else {
            panic!("{variable}={value:?} must fail at start, got {result:?}");
        };
        let message = error["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(variable), "{variable}: {message}");
        assert_eq!(
            error["errorType"], "Runtime.InvalidConfiguration",
            "{error}"
        );
        assert_eq!(
            emu.requests().len(),
            requests_before,
            "{variable}: no AWS call"
        );
    }
}

#[test]
fn a_queue_a_service_delivers_to_is_not_switched_until_the_key_policy_lets_that_service_in() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let queue_arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:corebound-demo-jobs");
    let rule = format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/corebound-demo-nightly");
    // Three AWS services deliver: an EventBridge rule, S3 event notifications of a bucket,
    // and an SNS topic of another team's account (outside the scope).
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "NightlyRule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": "sqs:SendMessage", "Resource": queue_arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": rule}}},
        {"Sid": "UploadNotifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
         "Action": "SQS:SendMessage", "Resource": queue_arn,
         "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::corebound-demo-uploads"},
                       "StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "PaymentsTopic", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
         "Action": "sqs:SendMessage", "Resource": queue_arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:210987654321:payments-events"}}}]});
    let url = aws::create_queue(
        emu,
        "corebound-demo-jobs",
        &[("Policy", policy.to_string().as_str())],
        &[],
    );
    let event = event("remediator/create-queue.json");
    let mut remediator = fx.start(emu, &[]);

    // The key policy lets none of them use the key: switching would drop every message they
    // send. Tagged, not switched, one finding per service with the statement to add.
    let run = remediator.run(&event);
    run.assert_ok();
    assert_eq!(
        run.resource_writes(),
        ["TagQueue"],
        "{:?}",
        run.operations()
    );
    assert_eq!(
        count(&run, "GetKeyPolicy"),
        1,
        "the key policy is read once"
    );
    let breaking: Vec<&Value> = run
        .audits
        .iter()
        .filter(|record| record["detail"]["finding"] == "would_break_delivery")
        .collect();
    let principals: Vec<&str> = breaking
        .iter()
        .map(|record| record["detail"]["principal"].as_str().unwrap())
        .collect();
    assert_eq!(
        principals,
        [
            "events.amazonaws.com",
            "s3.amazonaws.com",
            "sns.amazonaws.com"
        ]
    );
    assert!(breaking
        .iter()
        .all(|record| record["rule"] == "cmk-encryption"));
    let statements: Vec<Value> = breaking
        .iter()
        .map(|record| record["detail"]["statement"].clone())
        .collect();
    assert_eq!(
        statements[0]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(
        aws::queue_attributes(emu, &url).get("KmsMasterKeyId"),
        None,
        "left on SSE-SQS"
    );
    let alerts = fx.alerts(emu);
    assert_eq!(alerts.len(), 1, "one alert per event: {alerts:?}");
    for principal in &principals {
        assert!(
            alerts[0].contains(&format!("would break delivery from {principal}")),
            "{}",
            alerts[0]
        );
    }

    // With only some of the statements, still not switched.
    put_key_policy(emu, &fx.cmk, &project_key_policy(&statements[..2]));
    let run = remediator.run(&event);
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(findings(&run), ["would_break_delivery"]);

    // Once the key policy has every statement the findings name, the same event switches it.
    put_key_policy(emu, &fx.cmk, &project_key_policy(&statements));
    let run = remediator.run(&event);
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["SetQueueAttributes"]);
    assert_eq!(aws::queue_attributes(emu, &url)["KmsMasterKeyId"], fx.cmk);
}

#[test]
fn a_topic_cloudwatch_alarms_publish_to_is_not_switched_without_their_statement() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic_arn = format!("arn:aws:sns:us-east-1:{ACCOUNT}:corebound-demo-alerts");
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Alarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "sns:Publish", "Resource": topic_arn,
         "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*")}}}]});
    let arn = aws::create_topic(
        emu,
        "corebound-demo-alerts",
        &[("Policy", policy.to_string().as_str())],
        &[],
    );
    let mut remediator = fx.start(emu, &[]);
    let run = remediator.run(&event("remediator/create-topic.json"));
    run.assert_ok();
    assert_eq!(
        run.resource_writes(),
        ["TagResource"],
        "{:?}",
        run.operations()
    );
    assert_eq!(findings(&run), ["would_break_delivery"]);
    let finding = run
        .audits
        .iter()
        .find(|record| record["detail"]["finding"] == "would_break_delivery")
        .unwrap();
    assert_eq!(finding["detail"]["principal"], "cloudwatch.amazonaws.com");
    assert_eq!(
        finding["detail"]["statement"]["Condition"]["ArnLike"]
            ["kms:EncryptionContext:aws:sns:topicArn"],
        arn.as_str()
    );
    assert_eq!(aws::topic_attributes(emu, &arn).get("KmsMasterKeyId"), None);
}

#[test]
fn a_queue_no_service_delivers_to_is_switched_without_reading_the_key_policy() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    // A team role may send: not an AWS service, it uses the key through SQS.
    let policy = json!({"Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/LPMA_Demo_Worker")},
        "Action": "sqs:SendMessage", "Resource": "*"}]});
    aws::create_queue(
        emu,
        "corebound-demo-jobs",
        &[("Policy", policy.to_string().as_str())],
        &[],
    );
    let mut remediator = fx.start(emu, &[]);
    let run = remediator.run(&event("remediator/create-queue.json"));
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["TagQueue", "SetQueueAttributes"]);
    assert_eq!(count(&run, "GetKeyPolicy"), 0);
}

#[test]
fn a_log_delivery_bucket_stays_on_sse_s3_as_a_recorded_exception() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    put_bucket_policy(
        emu,
        bucket,
        &json!({"Version": "2012-10-17", "Statement": [{"Sid": "S3ServerAccessLogs",
            "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]}),
    );
    let mut remediator = fx.start(emu, &[]);
    let run = remediator.run(&event("remediator/create-bucket.json"));
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["PutBucketTagging"]);
    let exception = run
        .audits
        .iter()
        .find(|record| record["detail"]["exception"] == "log_delivery_bucket")
        .unwrap_or_else(|| panic!("{:?}", run.audits));
    assert_eq!(exception["rule"], "cmk-encryption");
    assert_eq!(exception["action"], "none");
    assert!(
        exception["result"]
            .as_str()
            .unwrap()
            .starts_with("skipped: kept on SSE-S3: S3 server access log bucket"),
        "{exception}"
    );
    assert!(
        !aws::bucket_encryption(emu, bucket).contains("aws:kms"),
        "not switched to SSE-KMS"
    );
    assert_eq!(run.publishes(), 0, "an exception is recorded, not alerted");
}

#[test]
fn a_log_group_is_not_associated_when_the_key_policy_does_not_allow_logs() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    // The key policy of a key made without the Logs statement (the KMS default).
    put_key_policy(
        emu,
        &fx.cmk,
        &json!({"Version": "2012-10-17", "Statement": [{"Sid": "Root", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
            "Action": "kms:*", "Resource": "*"}]}),
    );
    aws::create_log_group(emu, "corebound-demo-agent-logs", None, &[]);
    let mut remediator = fx.start(emu, &[]);
    let run = remediator.run(&event("remediator/create-log-group.json"));
    run.assert_ok();
    assert_eq!(
        run.resource_writes(),
        ["TagResource"],
        "{:?}",
        run.operations()
    );
    assert_eq!(findings(&run), ["logs_not_allowed_by_key_policy"]);
    let alerts = fx.alerts(emu);
    assert!(
        alerts[0].contains("logs.us-east-1.amazonaws.com")
            && alerts[0].contains("AllowCloudWatchLogsToUseKey"),
        "{}",
        alerts[0]
    );
    assert_eq!(
        aws::log_group(emu, "corebound-demo-agent-logs").get("kmsKeyId"),
        None
    );
}

#[test]
fn an_unusable_project_key_changes_no_encryption_and_alerts_once_per_cold_start() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let disabled = aws::create_key(emu, "disabled project key", &[]);
    // moto's DisableKey takes the key id only (AWS also takes the ARN).
    let disabled_id = disabled.rsplit('/').next().unwrap();
    corebound_tests::aws_calls::json(
        emu,
        "kms",
        "TrentService.DisableKey",
        &json!({"KeyId": disabled_id}),
    )
    .unwrap();
    let asymmetric = corebound_tests::aws_calls::json(
        emu,
        "kms",
        "TrentService.CreateKey",
        &json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    )
    .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let arn = aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    fx.alerts(emu);
    for (key, problem) in [
        (disabled, "the key state is Disabled, not Enabled"),
        (
            asymmetric,
            "the key spec is RSA_2048, not SYMMETRIC_DEFAULT",
        ),
    ] {
        let mut remediator = fx.start(emu, &[("KMS_KEY_ARN", Some(key.as_str()))]);
        for _ in 0..2 {
            let run = remediator.run(&event("remediator/create-topic.json"));
            run.assert_ok();
            assert!(
                !run.operations().contains(&"SetTopicAttributes".to_string()),
                "{problem}: {:?}",
                run.operations()
            );
            let exception = run
                .audits
                .iter()
                .find(|record| record["detail"]["exception"] == "project_key_unusable")
                .unwrap_or_else(|| panic!("{problem}: {:?}", run.audits));
            assert!(exception["result"].as_str().unwrap().contains(problem));
            assert_eq!(run.publishes(), 0, "not alerted per event");
        }
        assert_eq!(
            aws::topic_tags(emu, &arn),
            required_tags(),
            "tags still applied"
        );
        assert_eq!(aws::topic_attributes(emu, &arn).get("KmsMasterKeyId"), None);
        let alerts = fx.alerts(emu);
        assert_eq!(alerts.len(), 1, "once per cold start: {alerts:?}");
        assert!(alerts[0].contains(problem), "{}", alerts[0]);
        assert!(alerts[0].contains(&key), "{}", alerts[0]);
        let cold_start: Vec<Value> = remediator
            .audit_lines()
            .into_iter()
            .filter(|line| line["event_id"] == "cold-start")
            .collect();
        assert_eq!(cold_start.len(), 1);
        assert_eq!(cold_start[0]["detail"]["finding"], "project_key_unusable");
        // Reset the topic for the next key.
        corebound_tests::aws_calls::query(
            emu,
            "sns",
            "UntagResource",
            &[
                ("ResourceArn", arn.as_str()),
                ("TagKeys.member.1", "ApplicationId"),
                ("TagKeys.member.2", "Environment"),
                ("TagKeys.member.3", "Project"),
                ("TagKeys.member.4", "ServiceLine"),
                ("TagKeys.member.5", "ManagedBy"),
            ],
        )
        .unwrap();
    }
}

#[test]
fn the_project_key_by_its_alias_is_not_a_foreign_key() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_alias(emu, "alias/corebound-demo-corebound", &fx.cmk);
    let all: Vec<(&str, &str)> = REQUIRED.to_vec();
    let topic = aws::create_topic(
        emu,
        "corebound-demo-alerts",
        &[("KmsMasterKeyId", "alias/corebound-demo-corebound")],
        &all,
    );
    aws::create_queue(
        emu,
        "corebound-demo-jobs",
        &[(
            "KmsMasterKeyId",
            format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/corebound-demo-corebound").as_str(),
        )],
        &all,
    );
    let mut remediator = fx.start(emu, &[]);
    for name in ["create-topic.json", "create-queue.json"] {
        let run = remediator.run(&event(&format!("remediator/{name}")));
        run.assert_ok();
        assert_eq!(run.writes(), Vec::<String>::new(), "{name}");
        assert!(
            run.decisions()
                .iter()
                .all(|(_, action, result)| action == "none" && result == "ok"),
            "{name}: {:?}",
            run.decisions()
        );
    }
    assert_eq!(
        aws::topic_attributes(emu, &topic)["KmsMasterKeyId"],
        "alias/corebound-demo-corebound"
    );
}

#[test]
fn an_opted_out_role_is_not_touched_whatever_the_case_of_the_tag_key() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_role(
        emu,
        "LPMA_Demo_AgentRuntime",
        &[("Corebound:Remediation", "off")],
    );
    let mut remediator = fx.start(emu, &[]);
    let run = remediator.run(&event("remediator/create-role.json"));
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(
        run.decisions(),
        [
            decision("opt-out", "reported", "ok"),
            decision("scope", "none", "ok")
        ]
    );
}

#[test]
fn conflicts_and_internal_errors_are_retried() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    aws::create_role(emu, "LPMA_Demo_AgentRuntime", &[]);
    let key = aws::create_key(emu, "corebound demo data key", &[]);
    aws::create_alias(emu, "alias/corebound-demo-data", &key);
    emu.post(
        "/_corebound/faults",
        &json!({"service": "s3", "operation": "PutBucketTagging", "status": 409, "code": "OperationAborted",
                "message": "A conflicting conditional operation is currently in progress against this resource.", "count": 2}),
    );
    emu.post(
        "/_corebound/faults",
        &json!({"service": "iam", "operation": "TagRole", "status": 409, "code": "ConcurrentModification",
                "message": "Rate exceeded for concurrent modifications", "count": 2}),
    );
    emu.post(
        "/_corebound/faults",
        &json!({"service": "kms", "operation": "TagResource", "status": 400, "code": "KMSInternalException",
                "message": "internal error", "count": 2}),
    );
    let mut remediator = fx.start(emu, &[]);
    let events = [
        (
            "create-bucket.json".to_string(),
            event("remediator/create-bucket.json"),
            "PutBucketTagging",
        ),
        (
            "create-role.json".to_string(),
            event("remediator/create-role.json"),
            "TagRole",
        ),
        (
            "create-key.json".to_string(),
            with(
                event("remediator/create-key.json"),
                "/detail/responseElements/keyMetadata/arn",
                &key,
            ),
            "TagResource",
        ),
    ];
    for (name, event, operation) in events {
        let run = remediator.run(&event);
        run.assert_ok();
        assert_eq!(
            count(&run, operation),
            3,
            "{name}: two failures, then success"
        );
    }
    assert_eq!(aws::bucket_tags(emu, bucket), required_tags());
    assert_eq!(
        aws::role_tags(emu, "LPMA_Demo_AgentRuntime"),
        required_tags()
    );
    assert_eq!(aws::key_tags(emu, &key), required_tags());
}

#[test]
fn a_resource_at_the_tag_limit_gets_a_finding_not_a_retry_cycle() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let tags = many_tags(46);
    let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    aws::create_log_group(emu, "corebound-demo-agent-logs", None, &tags);
    let mut remediator = fx.start(emu, &[]);
    let run = remediator.run(&event("remediator/create-log-group.json"));
    run.assert_ok();
    assert_eq!(
        run.resource_writes(),
        ["AssociateKmsKey"],
        "{:?}",
        run.operations()
    );
    assert_eq!(findings(&run), ["tag_limit_reached"]);
    let alerts = fx.alerts(emu);
    assert!(
        alerts[0].contains("AWS's limit of 50 tags per resource"),
        "{}",
        alerts[0]
    );
    assert_eq!(
        aws::log_group_tags(emu, "corebound-demo-agent-logs").len(),
        46
    );
}

#[test]
fn a_fifo_alert_topic_receives_the_alerts() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let fifo_topic = aws::create_topic(
        emu,
        "platform-remediation-alerts.fifo",
        &[("FifoTopic", "true")],
        &[],
    );
    let inbox = aws::create_queue(
        emu,
        "platform-alert-inbox.fifo",
        &[("FifoQueue", "true")],
        &[],
    );
    aws::subscribe_queue(
        emu,
        &fifo_topic,
        &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:platform-alert-inbox.fifo"),
    );
    // A finding a person must see (an out-of-scope resource is no longer one).
    aws::create_topic(emu, "corebound-demo-alerts", &[], &[(OPT_OUT_TAG, "off")]);
    let event = event("remediator/create-topic.json");
    let mut remediator = fx.start(emu, &[("ALERT_TOPIC_ARN", Some(fifo_topic.as_str()))]);
    let run = remediator.run(&event);
    run.assert_ok();
    assert_eq!(run.publishes(), 1);
    let messages = aws::receive_messages(emu, &inbox, 0);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0]["Body"]
            .as_str()
            .unwrap()
            .contains("opted out by tag corebound:remediation=off"),
        "{}",
        messages[0]
    );
}

/// A benchmark, not a test: a burst of 1 000 create events (five kinds, 200 each) handled by
/// four function processes at once, as Lambda would scale out. Reports events lost, writes
/// and reads per event and events per second.
///
/// `cargo test -p corebound-tests --test remediator -- --ignored --nocapture burst`
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn benchmark_burst_of_1000_create_events() {
    const EVENTS: usize = 1000;
    const FUNCTIONS: usize = 4;
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);

    let setup = Instant::now();
    let mut events = Vec::with_capacity(EVENTS);
    let mut checks = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let name = format!("corebound-demo-burst-{i:04}");
        let (event, check) = match i % 5 {
            0 => {
                let arn = aws::create_topic(emu, &name, &[], &[]);
                let event = with(
                    event("remediator/create-topic.json"),
                    "/detail/responseElements/topicArn",
                    &arn,
                );
                (event, (0, arn))
            }
            1 => {
                let url = aws::create_queue(emu, &name, &[], &[]);
                let event = with(
                    event("remediator/create-queue.json"),
                    "/detail/responseElements/queueUrl",
                    &url,
                );
                (event, (1, url))
            }
            2 => {
                aws::create_log_group(emu, &name, None, &[]);
                let event = with(
                    event("remediator/create-log-group.json"),
                    "/detail/requestParameters/logGroupName",
                    &name,
                );
                (event, (2, name))
            }
            3 => {
                aws::create_bucket(emu, &name);
                let event = with(
                    event("remediator/create-bucket.json"),
                    "/detail/requestParameters/bucketName",
                    &name,
                );
                (event, (3, name))
            }
            _ => {
                let arn = aws::create_secret(emu, &name, None, &[]);
                let event = with(
                    event("remediator/create-secret.json"),
                    "/detail/responseElements/aRN",
                    &arn,
                );
                (event, (4, arn))
            }
        };
        events.push(with(event, "/id", &format!("burst-{i:04}")));
        checks.push(check);
    }
    let setup = setup.elapsed();

    let requests_before = emu.requests().len();
    let queue = std::sync::Mutex::new(events);
    let started = Instant::now();
    let results: Vec<InvocationResult> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..FUNCTIONS)
            .map(|_| {
                scope.spawn(|| {
                    let mut function = fx.start(emu, &[]);
                    let mut results = Vec::new();
                    loop {
                        let next = queue.lock().unwrap().pop();
                        let Some(event) = next else { break };
                        results.push(function.process.invoke(&event, WAIT));
                    }
                    results
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("worker"))
            .collect()
    });
    let elapsed = started.elapsed();
    let requests = emu.requests()[requests_before..].to_vec();

    let handled = results
        .iter()
        .filter(|result| matches!(result, InvocationResult::Response(s) if s["writes"] == 2))
        .count();
    let failed: Vec<&InvocationResult> = results.iter().filter(|r| !r.is_ok()).collect();
    let operations: Vec<&str> = requests
        .iter()
        .filter_map(|request| request["operation"].as_str())
        .collect();
    let writes = operations.iter().filter(|op| is_write(op)).count();
    let reads = operations.len() - writes;

    // None lost: every resource ended tagged (and the invocation said so).
    let untagged: Vec<&String> = checks
        .iter()
        .filter(|(kind, id)| {
            let found = match kind {
                0 => aws::topic_tags(emu, id),
                1 => aws::queue_tags(emu, id),
                2 => aws::log_group_tags(emu, id),
                3 => aws::bucket_tags(emu, id),
                _ => corebound_tests::aws_calls::tag_list(&aws::describe_secret(emu, id)["Tags"]),
            };
            found != required_tags()
        })
        .map(|(_, id)| id)
        .collect();

    println!(
        "burst: {EVENTS} create events (SNS, SQS, Logs, S3, Secrets Manager; 200 each), \
         {FUNCTIONS} function processes, emulator setup {:.1} s",
        setup.as_secs_f64()
    );
    println!(
        "burst: handled {handled}/{EVENTS} with 2 writes each, failed invocations {}, \
         resources left untagged {}",
        failed.len(),
        untagged.len()
    );
    println!(
        "burst: {:.1} s, {:.0} events/s, {:.2} writes/event, {:.2} reads/event",
        elapsed.as_secs_f64(),
        EVENTS as f64 / elapsed.as_secs_f64(),
        writes as f64 / EVENTS as f64,
        reads as f64 / EVENTS as f64,
    );
    assert_eq!(results.len(), EVENTS);
    assert!(failed.is_empty(), "{failed:?}");
    assert!(untagged.is_empty(), "{untagged:?}");
    assert_eq!(handled, EVENTS);
    assert_eq!(writes, 2 * EVENTS);
}

// ---- Authentic events, scope before reading, alerts once (issue 16 items 2-4) -------------

#[test]
fn forged_events_are_ignored_without_any_call() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    let mut remediator = fx.start(emu, &[]);
    let real = event("remediator/create-topic.json");

    // (case, event, start of the skip reason)
    let cases = [
        (
            "anyone's PutEvents: a source outside aws.",
            with(real.clone(), "/source", "corebound.forged"),
            "skipped: not an authentic AWS event: source corebound.forged does not start with aws. (only AWS can send aws. events)",
        ),
        (
            "an event of another account",
            with(real.clone(), "/account", "210987654321"),
            "skipped: not an authentic AWS event: account 210987654321 is not this function's account 123456789012",
        ),
        (
            "an aws. source that is not the event's service",
            with(real.clone(), "/source", "aws.s3"),
            "skipped: not an authentic AWS event: detail.eventSource sns.amazonaws.com does not belong to source aws.s3",
        ),
    ];
    for (case, forged, reason) in cases {
        let run = remediator.run(&forged);
        run.assert_ok();
        assert_eq!(
            run.requests,
            Vec::<Value>::new(),
            "{case}: no read, no write"
        );
        assert_eq!(
            run.decisions(),
            [decision("event-filter", "none", reason)],
            "{case}"
        );
        assert_eq!(run.audits[0]["detail"]["skip"], "not_authentic", "{case}");
    }
    assert!(fx.alerts(emu).is_empty());
    assert!(aws::topic_tags(
        emu,
        real["detail"]["responseElements"]["topicArn"]
            .as_str()
            .unwrap()
    )
    .is_empty());
}

#[test]
fn an_out_of_scope_bucket_whose_reads_are_denied_is_recorded_and_succeeds() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "payments-ledger-123456789012";
    aws::create_bucket(emu, bucket);
    // Another team's bucket policy denies everyone else.
    for operation in ["GetBucketTagging", "GetBucketEncryption"] {
        emu.post(
            "/_corebound/faults",
            &json!({"service": "s3", "operation": operation, "status": 403, "code": "AccessDenied", "message": "Access Denied", "count": 10, "match": bucket}),
        );
    }
    let event = with(
        event("remediator/create-bucket.json"),
        "/detail/requestParameters/bucketName",
        bucket,
    );
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event);
    let summary = run.assert_ok();
    assert_eq!(summary["failures"], 0, "{summary}");
    assert_eq!(run.requests, Vec::<Value>::new(), "never read");
    assert_eq!(
        run.decisions(),
        [decision(
            "scope",
            "none",
            "skipped: out of scope: payments-ledger-123456789012 matches no SCOPE_PATTERNS"
        )]
    );
    assert!(fx.alerts(emu).is_empty());
}

/// A Lambda-style SQS batch of the messages waiting in `queue_url` (as the event source
/// mapping of the deferral queue delivers them).
fn queue_batch(emu: &Emulator, queue_url: &str, queue_name: &str) -> Value {
    let records: Vec<Value> = aws::receive_messages(emu, queue_url, 0)
        .iter()
        .map(|message| {
            sqs_record(
                message,
                &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{queue_name}"),
            )
        })
        .collect();
    json!({ "Records": records })
}

fn queued_bodies(batch: &Value) -> Vec<Value> {
    batch["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| serde_json::from_str(record["body"].as_str().unwrap()).unwrap())
        .collect()
}

const DEFERRAL_QUEUE: &str = "corebound-demo-deferral";

#[test]
fn a_failing_event_retried_twice_is_alerted_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sns", "operation": "TagResource", "status": 403, "code": "AuthorizationError", "message": "not authorized", "count": 100}),
    );
    let queue = aws::create_queue(emu, DEFERRAL_QUEUE, &[], &[]);
    let mut remediator = fx.start(
        emu,
        &[
            ("DEFERRAL_QUEUE_URL", Some(queue.as_str())),
            ("DEFERRAL_RETRY_DELAY_SECONDS", Some("0")),
        ],
    );
    let event = event("remediator/create-topic.json");

    // First attempt (from EventBridge): alerted, handed to the queue as retry 1.
    let first = remediator.run(&event);
    let summary = first.assert_ok();
    assert_eq!(summary["failures"], 1, "{summary}");
    assert_eq!(summary["retry_in_seconds"], 0, "{summary}");
    assert_eq!(first.publishes(), 1);
    let batch = queue_batch(emu, &queue, DEFERRAL_QUEUE);
    let bodies = queued_bodies(&batch);
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0]["corebound"],
        json!({"reason": "retry", "failures": 1})
    );
    assert_eq!(bodies[0]["event"], event);

    // Retry 1 (from the queue): recorded, not alerted, handed on as retry 2.
    let second = remediator.run(&batch);
    assert_eq!(second.assert_ok(), &json!({"batchItemFailures": []}));
    assert_eq!(second.publishes(), 0);
    assert!(second
        .audits
        .iter()
        .any(|r| r["result"].as_str().unwrap().starts_with("failed: ")));
    let batch = queue_batch(emu, &queue, DEFERRAL_QUEUE);
    assert_eq!(
        queued_bodies(&batch)[0]["corebound"],
        json!({"reason": "retry", "failures": 2})
    );

    // Retry 2, the last: not alerted; the message stays for the queue's dead-letter queue.
    let third = remediator.run(&batch);
    let message_id = batch["Records"][0]["messageId"].clone();
    assert_eq!(
        third.assert_ok(),
        &json!({"batchItemFailures": [{"itemIdentifier": message_id}]})
    );
    assert_eq!(third.publishes(), 0);
    assert!(
        aws::receive_messages(emu, &queue, 0).is_empty(),
        "no retry 3"
    );
    assert_eq!(fx.alerts(emu).len(), 1, "one alert for the event");
}

#[test]
fn without_the_queue_lambda_retries_of_a_failing_event_are_alerted_once() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    emu.post(
        "/_corebound/faults",
        &json!({"service": "sns", "operation": "TagResource", "status": 403, "code": "AuthorizationError", "message": "not authorized", "count": 100}),
    );
    let mut remediator = fx.start(emu, &[]);
    let event = event("remediator/create-topic.json");
    // Lambda's asynchronous retries deliver the same event (same id) again.
    let publishes: Vec<usize> = (0..3)
        .map(|_| {
            let run = remediator.run(&event);
            assert!(run.error_message().contains("sns:TagResource failed"));
            run.publishes()
        })
        .collect();
    assert_eq!(publishes, [1, 0, 0]);
    assert_eq!(fx.alerts(emu).len(), 1);
}

// ---- Real event shapes (issue 11 items 5-8) --------------------------------------------------

#[test]
fn a_secret_whose_event_has_no_response_is_found_by_name() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_secret(emu, "corebound-demo-db-credentials", None, &[]);
    let mut event = event("remediator/create-secret.json");
    // As in AWS's own documented CreateSecret record.
    event["detail"]["responseElements"] = Value::Null;
    let mut remediator = fx.start(emu, &[]);

    let run = assert_fixed_then_idempotent(
        &mut remediator,
        &event,
        &arn,
        &["TagResource", "UpdateSecret"],
        &TAGGED_AND_ENCRYPTED,
    );
    assert!(run.operations().contains(&"DescribeSecret".to_string()));
    let secret = aws::describe_secret(emu, &arn);
    assert_eq!(secret["KmsKeyId"], fx.cmk.as_str());

    // Modern events: `responseElements.arn` in lower case.
    let other = aws::create_secret(emu, "corebound-demo-api-token", None, &[]);
    let mut modern = event.clone();
    modern["detail"]["requestParameters"]["name"] = json!("corebound-demo-api-token");
    modern["detail"]["responseElements"] = json!({"arn": other});
    let run = remediator.run(&modern);
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["TagResource", "UpdateSecret"]);
    assert_records_name(&run, &modern, &other);
}

#[test]
fn a_redacted_gateway_name_with_capitals_is_read_with_get_gateway() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    // Gateway ids are the lower-cased name: only GetGateway tells the real name.
    let seeded = emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "Orders-Gateway", "authorizerType": "CUSTOM_JWT"}),
    );
    let arn = seeded["gatewayArn"].as_str().unwrap().to_string();
    assert!(arn.contains(":gateway/orders-gateway-"), "{arn}");
    let mut remediator = fx.start(
        emu,
        &[(
            "SCOPE_PATTERNS",
            Some("corebound-demo-*,corebound_demo_*,Orders-*"),
        )],
    );
    for marker in ["***", "HIDDEN_DUE_TO_SECURITY_REASONS"] {
        let mut redacted = event("remediator/create-gateway.json");
        redacted["detail"]["requestParameters"]["name"] = json!(marker);
        redacted["detail"]["responseElements"]["name"] = json!(marker);
        redacted["detail"]["responseElements"]["gatewayArn"] = json!(arn);
        let run = remediator.run(&redacted);
        run.assert_ok();
        assert!(
            run.operations().contains(&"GetGateway".to_string()),
            "{marker}: {:?}",
            run.operations()
        );
        assert_records_name(&run, &redacted, &arn);
        if marker == "***" {
            assert_eq!(run.resource_writes(), ["TagResource"]);
        } else {
            assert_eq!(
                run.resource_writes(),
                Vec::<String>::new(),
                "already tagged"
            );
        }
    }
    assert_eq!(aws::agentcore_tags(emu, &arn), required_tags());

    // Another team's gateway, name redacted: read by GetGateway, then left alone.
    let other = emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "Payments-Gateway"}),
    );
    let mut redacted = event("remediator/create-gateway.json");
    redacted["detail"]["requestParameters"]["name"] = json!("***");
    redacted["detail"]["responseElements"]["name"] = json!("***");
    redacted["detail"]["responseElements"]["gatewayArn"] = other["gatewayArn"].clone();
    let run = remediator.run(&redacted);
    run.assert_ok();
    assert_eq!(run.operations(), ["GetGateway"]);
    assert_eq!(
        run.decisions(),
        [decision(
            "scope",
            "none",
            "skipped: out of scope: Payments-Gateway matches no SCOPE_PATTERNS"
        )]
    );
    // A name that is not the ARN's (the id starts with the lower-cased name) is not trusted
    // for the scope: the name comes from GetGateway, and the gateway is left alone.
    redacted["detail"]["responseElements"]["name"] = json!("corebound-demo-gateway");
    let run = remediator.run(&redacted);
    run.assert_ok();
    assert_eq!(run.operations(), ["GetGateway"]);
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert!(aws::agentcore_tags(emu, other["gatewayArn"].as_str().unwrap()).is_empty());
}

#[test]
fn memory_tags_the_service_refuses_become_one_finding_not_a_failure() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let mut remediator = fx.start(emu, &[]);
    for (mode, name) in [
        ("unsupported", "corebound_demo_memory_a"),
        ("read-only", "corebound_demo_memory_b"),
    ] {
        emu.put(
            "/_corebound/agentcore/settings",
            &json!({"memoryTags": mode}),
        );
        let seeded = emu.post(
            "/_corebound/agentcore/memories",
            &json!({"name": name, "encryptionKeyArn": fx.cmk}),
        );
        let arn = seeded["arn"].as_str().unwrap().to_string();
        let event = with(
            event("remediator/create-memory.json"),
            "/detail/requestParameters/name",
            name,
        );
        let run = remediator.run(&event);
        let summary = run.assert_ok();
        assert_eq!(summary["failures"], 0, "{mode}: {summary}");
        let finding = run
            .audits
            .iter()
            .find(|r| r["detail"]["finding"] == "memory_tags_at_creation")
            .unwrap_or_else(|| panic!("{mode}: {:?}", run.decisions()));
        assert_eq!(finding["action"], "reported", "{mode}");
        assert_eq!(finding["rule"], "mandatory-tags", "{mode}");
        assert_eq!(run.publishes(), 1, "{mode}");
        let alerts = fx.alerts(emu);
        assert!(
            alerts[0].contains("memory tags can only be set at creation: add them to CreateMemory"),
            "{mode}: {}",
            alerts[0]
        );
        assert!(
            !run.audits
                .iter()
                .any(|r| r["result"].as_str().unwrap().starts_with("failed")),
            "{mode}"
        );
        assert_records_name(&run, &event, &arn);
    }
}

// ---- The S3 creator race (issue 15) ------------------------------------------------------

fn cloudformation(mut event: Value) -> Value {
    event["detail"]["userIdentity"]["invokedBy"] = json!("cloudformation.amazonaws.com");
    event["detail"]["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
    event["detail"]["userAgent"] = json!("cloudformation.amazonaws.com");
    event
}

/// The tool's own configuration call on the bucket, as CloudTrail records it.
fn bucket_call(create: &Value, event_name: &str, id: &str) -> Value {
    let mut call = create.clone();
    call["id"] = json!(id);
    call["detail"]["eventName"] = json!(event_name);
    call["detail"]["eventID"] = json!(id);
    call
}

#[test]
fn a_cloudformation_bucket_is_deferred_and_merged_on_its_own_tagging_call() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "corebound-demo-artifacts-123456789012";
    let queue = aws::create_queue(emu, DEFERRAL_QUEUE, &[], &[]);
    let mut remediator = fx.start(
        emu,
        &[
            ("DEFERRAL_QUEUE_URL", Some(queue.as_str())),
            ("DEFERRAL_DELAY_SECONDS", Some("0")),
        ],
    );
    let create = cloudformation(event("remediator/create-bucket.json"));
    aws::create_bucket(emu, bucket);

    // CreateBucket by CloudFormation: nothing read, nothing written, the event waits.
    let run = remediator.run(&create);
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert!(
        !run.operations()
            .iter()
            .any(|op| op.starts_with("GetBucket")),
        "{:?}",
        run.operations()
    );
    assert_eq!(
        run.decisions(),
        [decision(
            "event-filter",
            "none",
            "skipped: deferred: bucket created by CloudFormation, whose own PutBucketTagging / PutBucketEncryption follows (re-checked in 0 s)"
        )]
    );
    let deferred = queue_batch(emu, &queue, DEFERRAL_QUEUE);
    assert_eq!(
        queued_bodies(&deferred)[0]["corebound"],
        json!({"reason": "deferred", "failures": 0})
    );

    // CloudFormation tags the bucket from the template; its PutBucketTagging event merges.
    let template = [
        ("Owner", "data-team"),
        ("CostCenter", "4711"),
        ("Environment", "prod"),
    ];
    aws::put_bucket_tags(emu, bucket, &template);
    let tagging = bucket_call(
        &create,
        "PutBucketTagging",
        "7c1e0a8e-3f7b-4f0e-9a55-1d2c3b4a5f60",
    );
    let run = remediator.run(&tagging);
    run.assert_ok();
    assert_eq!(
        run.resource_writes(),
        ["PutBucketTagging"],
        "the tagging call judges the tags only: CloudFormation may set the key next"
    );
    let mut expected = required_tags();
    expected.extend(tags(&template));
    assert_eq!(
        aws::bucket_tags(emu, bucket),
        expected,
        "the template's tags plus the five"
    );

    // The deferred create comes back: tags are complete, the encryption is fixed now.
    let run = remediator.run(&deferred);
    assert_eq!(run.assert_ok(), &json!({"batchItemFailures": []}));
    assert_eq!(run.resource_writes(), ["PutBucketEncryption"]);
    assert_eq!(aws::bucket_tags(emu, bucket), expected, "nothing lost");
    assert!(aws::receive_messages(emu, &queue, 0).is_empty());

    // A bucket created by a person is still remediated on its create event.
    let person = "corebound-demo-scratch-123456789012";
    aws::create_bucket(emu, person);
    let by_person = with(
        event("remediator/create-bucket.json"),
        "/detail/requestParameters/bucketName",
        person,
    );
    let run = remediator.run(&by_person);
    run.assert_ok();
    assert_eq!(
        run.resource_writes(),
        ["PutBucketTagging", "PutBucketEncryption"]
    );
    assert!(
        aws::receive_messages(emu, &queue, 0).is_empty(),
        "not deferred"
    );
}

#[test]
fn a_terraform_bucket_encryption_call_judges_the_encryption_only() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    let queue = aws::create_queue(emu, DEFERRAL_QUEUE, &[], &[]);
    let mut remediator = fx.start(emu, &[("DEFERRAL_QUEUE_URL", Some(queue.as_str()))]);
    let mut create = event("remediator/create-bucket.json");
    create["detail"]["userAgent"] = json!(
        "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.5 os/linux lang/go#1.23.3 api/s3#1.69.0"
    );
    let run = remediator.run(&create);
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert!(run.audits[0]["result"]
        .as_str()
        .unwrap()
        .contains("created by Terraform"));

    let encryption = bucket_call(
        &create,
        "PutBucketEncryption",
        "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a",
    );
    let run = remediator.run(&encryption);
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["PutBucketEncryption"]);
    assert!(
        aws::bucket_tags(emu, bucket).is_empty(),
        "tags are the tool's next call"
    );
}

#[test]
fn a_tag_write_between_our_read_and_our_write_is_kept() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    // The tool writes its tags right after our first read.
    emu.post(
        "/_corebound/s3/races",
        &json!({"bucket": bucket, "after": "GetBucketTagging", "nth": 1, "tags": {"Owner": "data-team", "CostCenter": "4711"}}),
    );
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event("remediator/create-bucket.json"));
    run.assert_ok();
    let mut expected = required_tags();
    expected.insert("Owner".into(), "data-team".into());
    expected.insert("CostCenter".into(), "4711".into());
    assert_eq!(aws::bucket_tags(emu, bucket), expected, "no tag lost");
    assert_eq!(
        emu.get("/_corebound/s3/races")["fired"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let tagged = &run.audits[0];
    assert_eq!(tagged["action"], "tagged");
    assert_eq!(
        tagged["detail"]["read_before_write"],
        json!({"Owner": "data-team", "CostCenter": "4711"}),
        "the set was computed from the re-read"
    );
}

#[test]
fn a_tag_write_right_after_ours_is_detected_and_repaired() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let bucket = "corebound-demo-artifacts-123456789012";
    aws::create_bucket(emu, bucket);
    aws::put_bucket_tags(emu, bucket, &[("Team", "data")]);
    // Another writer replaces the whole set just after our PutBucketTagging.
    emu.post(
        "/_corebound/s3/races",
        &json!({"bucket": bucket, "after": "PutBucketTagging", "nth": 1, "tags": {"Owner": "data-team"}}),
    );
    let mut remediator = fx.start(emu, &[]);

    let run = remediator.run(&event("remediator/create-bucket.json"));
    run.assert_ok();
    let puts = run
        .operations()
        .iter()
        .filter(|op| *op == "PutBucketTagging")
        .count();
    assert_eq!(
        puts,
        2,
        "written, then written back: {:?}",
        run.operations()
    );
    let mut expected = required_tags();
    expected.insert("Team".into(), "data".into());
    expected.insert("Owner".into(), "data-team".into());
    assert_eq!(aws::bucket_tags(emu, bucket), expected, "nobody's tag lost");
    let detail = &run.audits[0]["detail"];
    assert_eq!(detail["concurrent_write_detected"], true, "{detail}");
    assert_eq!(detail["restored"], json!({"Team": "data"}), "{detail}");
}

// ---- Events published by others (issue 11 item 12) -----------------------------------------

#[test]
fn published_cloudtrail_events_replay_against_the_emulator() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let scope = "hello*,MyQueue,/aws/lambda/*,custodian-*,cwe-*,MyDatabaseSecret,TestRole,new-role,corpus-*,Test-OpenAPI-*";
    // The key policy lets CloudWatch Logs use the key for the replayed log group's family too.
    put_key_policy(
        emu,
        &fx.cmk,
        &project_key_policy(&[json!({"Sid": "LogsForReplayedGroups", "Effect": "Allow",
            "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/*")}}})]),
    );
    let mut remediator = fx.start(
        emu,
        &[
            ("SCOPE_PATTERNS", Some(scope)),
            ("REQUIRED_ROLE_PREFIX", None),
        ],
    );
    let tag_and_encrypt = ["TagResource", "SetTopicAttributes"];

    // (file, how the resource is created, expected writes, expected audited resource)
    let topic = aws::create_topic(emu, "hello-topic", &[], &[]);
    let queue = aws::create_queue(emu, "MyQueue", &[], &[]);
    aws::create_log_group(emu, "/aws/lambda/echoapi", None, &[]);
    aws::create_bucket(emu, "custodian-create-bucket-v4");
    aws::create_bucket(emu, "cwe-test");
    let secret = aws::create_secret(emu, "MyDatabaseSecret", None, &[]);
    let role = aws::create_role(emu, "TestRole", &[]);
    let new_role = aws::create_role(emu, "new-role", &[]);
    let key = aws::create_key(emu, "replayed CreateKey", &[]);
    aws::create_alias(emu, "alias/corpus-imported-key", &key);
    let gateway_id = "test-openapi-gateway-9c8f7109-8fb4mo6pqx";
    let gateway = emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "Test-OpenAPI-Gateway-9c8f7109", "id": gateway_id, "authorizerType": "CUSTOM_JWT"}),
    );
    let gateway_arn = gateway["gatewayArn"].as_str().unwrap().to_string();

    let mut key_event = published("kms-create-key.aws-docs.json");
    key_event["detail"]["responseElements"]["keyMetadata"]["arn"] = json!(key);
    let mut gateway_event = published("bedrock-agentcore-create-gateway.aws-docs.json");
    // The published record names three different ids; gatewayId is taken as the truth.
    gateway_event["detail"]["responseElements"]["gatewayArn"] = json!(gateway_arn);
    gateway_event["detail"]["resources"][0]["ARN"] = json!(gateway_arn);

    let cases: Vec<(&str, Value, Vec<&str>, String)> = vec![
        (
            "sns",
            published("sns-create-topic.aws-docs.json"),
            tag_and_encrypt.to_vec(),
            topic.clone(),
        ),
        (
            "sqs",
            published("sqs-create-queue.aws-docs.json"),
            vec!["TagQueue", "SetQueueAttributes"],
            "https://sqs.us-east-1.amazon.com/123456789012/MyQueue".to_string(),
        ),
        (
            "logs (made by CloudFormation)",
            published("logs-create-log-group.userverless-overwatch.json"),
            vec!["TagResource", "AssociateKmsKey"],
            "/aws/lambda/echoapi".to_string(),
        ),
        (
            "s3 (root, console)",
            published("s3-create-bucket.cloud-custodian.json"),
            vec!["PutBucketTagging", "PutBucketEncryption"],
            "custodian-create-bucket-v4".to_string(),
        ),
        (
            "s3 (assumed role)",
            published("s3-create-bucket-assumed-role.cloud-custodian.json"),
            vec!["PutBucketTagging", "PutBucketEncryption"],
            "cwe-test".to_string(),
        ),
        (
            "secret (responseElements null)",
            published("secretsmanager-create-secret.aws-docs.json"),
            vec!["TagResource", "UpdateSecret"],
            secret.clone(),
        ),
        (
            "iam",
            published("iam-create-role.aws-docs.json"),
            vec!["TagRole"],
            role.clone(),
        ),
        (
            "iam (responseElements null)",
            published("iam-create-role.panther-analysis.json"),
            vec!["TagRole"],
            new_role.clone(),
        ),
        ("kms", key_event, vec!["TagResource"], key.clone()),
        (
            "agentcore gateway (name redacted)",
            gateway_event,
            vec!["TagResource"],
            gateway_arn.clone(),
        ),
    ];
    for (case, event, writes, resource) in cases {
        assert_eq!(event["account"], ACCOUNT, "{case}");
        assert_eq!(event["region"], "us-east-1", "{case}");
        let run = remediator.run(&event);
        let summary = run.assert_ok();
        assert_eq!(summary["failures"], 0, "{case}: {summary}");
        assert_eq!(
            run.resource_writes(),
            writes,
            "{case}: {:?}",
            run.decisions()
        );
        assert_records_name(&run, &event, &resource);
        // Replayed again: compliant now, reads only.
        let again = remediator.run(&event);
        again.assert_ok();
        assert_eq!(again.resource_writes(), Vec::<String>::new(), "{case}");
    }
    assert_eq!(aws::topic_tags(emu, &topic), required_tags());
    assert_eq!(aws::queue_tags(emu, &queue), required_tags());
    assert_eq!(aws::agentcore_tags(emu, &gateway_arn), required_tags());
}
