//! Drift events end to end (issue 12 §1): the `remediator` binary, driven through the Lambda
//! Runtime API with the drift events in events/remediator/drift-*.json, against the emulator.
//!
//! Every case creates its resource compliant (the five tags, the project CMK), applies the drift
//! with the same AWS call the event records, sends the event and checks that the resource is
//! compliant again with exactly the writes it needs, and that the same event again writes
//! nothing (the live state, not the event, decides). Then: report mode, the loop guard, opt-out,
//! scope, failed calls, calls that removed nothing that matters (no read at all), a key someone
//! chose, a bucket that must stay on SSE-S3, and the published CloudTrail records.

use std::collections::BTreeMap;

use corebound_tests::aws_calls::fixtures as aws;
use corebound_tests::aws_calls::{form_encode, json as json_call, query, rest_xml, tag_list};
use corebound_tests::remediator::*;
use corebound_tests::{emulator, event, Emulator};
use serde_json::{json, Value};

fn must<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

const TOPIC: &str = "corebound-demo-alerts";
const QUEUE: &str = "corebound-demo-jobs";
const GROUP: &str = "corebound-demo-agent-logs";
const BUCKET: &str = "corebound-demo-artifacts-123456789012";
const SECRET: &str = "corebound-demo-db-credentials";
const ROLE: &str = "LPMA_Demo_AgentRuntime";
const RUNTIME_ID: &str = "corebound_demo_agent-Ab12Cd34Ef";
const TAG: (&str, &str, &str) = ("mandatory-tags", "tagged", "ok");
const ENCRYPT: (&str, &str, &str) = ("cmk-encryption", "encrypted", "ok");

fn required() -> Vec<(&'static str, &'static str)> {
    REQUIRED.to_vec()
}

/// `required()` without `keys`.
fn without(keys: &[&str]) -> BTreeMap<String, String> {
    let mut tags = required_tags();
    for key in keys {
        tags.remove(*key);
    }
    tags
}

/// The drift event from events/, with the string at `pointer` replaced when given (random
/// ids: secret ARNs, KMS key ids).
fn drift(file: &str, pointer: Option<(&str, &str)>) -> Value {
    let event = event(&format!("remediator/{file}"));
    match pointer {
        Some((pointer, value)) => with(event, pointer, value),
        None => event,
    }
}

/// The drifted resource is fixed with exactly `writes`, the record of `decision` among the
/// run's, every record names the resource; the same event again writes nothing.
fn assert_drift_undone(
    remediator: &mut Remediator,
    event: &Value,
    resource: &str,
    writes: &[&str],
    decision_made: (&str, &str, &str),
) -> Run {
    let run = remediator.run(event);
    let summary = run.assert_ok();
    assert_eq!(summary["failures"], 0, "{summary}");
    assert_eq!(
        run.resource_writes(),
        writes,
        "{}: {:?}",
        event["detail"]["eventName"],
        run.decisions()
    );
    let (rule, action, result) = decision_made;
    assert!(
        run.decisions().contains(&decision(rule, action, result)),
        "{}: {:?}",
        event["detail"]["eventName"],
        run.decisions()
    );
    assert_records_name(&run, event, resource);
    let again = remediator.run(event);
    again.assert_ok();
    assert_eq!(
        again.resource_writes(),
        Vec::<String>::new(),
        "{}: the same event again writes nothing",
        event["detail"]["eventName"]
    );
    run
}

fn sns(emu: &Emulator, action: &str, params: &[(&str, &str)]) {
    must(query(emu, "sns", action, params));
}

fn sqs(emu: &Emulator, action: &str, body: Value) {
    must(json_call(emu, "sqs", &format!("AmazonSQS.{action}"), &body));
}

fn logs(emu: &Emulator, action: &str, body: Value) {
    must(json_call(
        emu,
        "logs",
        &format!("Logs_20140328.{action}"),
        &body,
    ));
}

fn secrets(emu: &Emulator, action: &str, body: Value) {
    must(json_call(
        emu,
        "secretsmanager",
        &format!("secretsmanager.{action}"),
        &body,
    ));
}

fn compliant_topic(emu: &Emulator, fx: &Fixture, name: &str) -> String {
    aws::create_topic(emu, name, &[("KmsMasterKeyId", &fx.cmk)], &required())
}

#[test]
fn sns_untag_and_key_removal_are_undone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic = compliant_topic(emu, &fx, TOPIC);
    let mut remediator = fx.start(emu, &[]);

    sns(
        emu,
        "UntagResource",
        &[
            ("ResourceArn", &topic),
            ("TagKeys.member.1", "Project"),
            ("TagKeys.member.2", "ServiceLine"),
        ],
    );
    assert_eq!(
        aws::topic_tags(emu, &topic),
        without(&["Project", "ServiceLine"])
    );
    let untag = drift("drift-sns-untag-resource.json", None);
    let run = assert_drift_undone(&mut remediator, &untag, &topic, &["TagResource"], TAG);
    assert_eq!(
        run.decisions().len(),
        2,
        "a tag event judges the tags (and the scope) only: {:?}",
        run.decisions()
    );
    assert_eq!(aws::topic_tags(emu, &topic), required_tags());

    // Someone switches the topic to the AWS-managed key.
    sns(
        emu,
        "SetTopicAttributes",
        &[
            ("TopicArn", &topic),
            ("AttributeName", "KmsMasterKeyId"),
            ("AttributeValue", "alias/aws/sns"),
        ],
    );
    let rekeyed = drift("drift-sns-set-topic-attributes.json", None);
    assert_drift_undone(
        &mut remediator,
        &rekeyed,
        &topic,
        &["SetTopicAttributes"],
        ENCRYPT,
    );
    assert_eq!(aws::topic_attributes(emu, &topic)["KmsMasterKeyId"], fx.cmk);

    // Or clears it.
    sns(
        emu,
        "SetTopicAttributes",
        &[
            ("TopicArn", &topic),
            ("AttributeName", "KmsMasterKeyId"),
            ("AttributeValue", ""),
        ],
    );
    let cleared = with(rekeyed, "/detail/requestParameters/attributeValue", "");
    let cleared = with(cleared, "/id", "drift-sns-cleared");
    assert_drift_undone(
        &mut remediator,
        &cleared,
        &topic,
        &["SetTopicAttributes"],
        ENCRYPT,
    );
    assert_eq!(aws::topic_attributes(emu, &topic)["KmsMasterKeyId"], fx.cmk);
}

#[test]
fn sqs_untag_and_key_removal_are_undone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let url = aws::create_queue(emu, QUEUE, &[("KmsMasterKeyId", &fx.cmk)], &required());
    // The emulator's URLs name its own host; the events name the queue's AWS URL, which the
    // records carry.
    let event_url = format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{QUEUE}");
    let mut remediator = fx.start(emu, &[]);

    sqs(
        emu,
        "UntagQueue",
        json!({"QueueUrl": url, "TagKeys": ["ApplicationId"]}),
    );
    let untag = drift("drift-sqs-untag-queue.json", None);
    assert_drift_undone(&mut remediator, &untag, &event_url, &["TagQueue"], TAG);
    assert_eq!(aws::queue_tags(emu, &url), required_tags());

    // Clearing the key puts the queue back on SSE-SQS (the emulator does as AWS does).
    sqs(
        emu,
        "SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"KmsMasterKeyId": ""}}),
    );
    assert_eq!(aws::queue_attributes(emu, &url).get("KmsMasterKeyId"), None);
    let cleared = drift("drift-sqs-set-queue-attributes.json", None);
    let run = assert_drift_undone(
        &mut remediator,
        &cleared,
        &event_url,
        &["SetQueueAttributes"],
        ENCRYPT,
    );
    assert_eq!(
        run.audits[0]["state_before"]["encryption"]["sqs_managed_sse_enabled"],
        true
    );
    let attributes = aws::queue_attributes(emu, &url);
    assert_eq!(attributes["KmsMasterKeyId"], fx.cmk);
    assert_eq!(attributes["SqsManagedSseEnabled"], "false");

    // Switching to SSE-SQS drops the KMS key too.
    sqs(
        emu,
        "SetQueueAttributes",
        json!({"QueueUrl": url, "Attributes": {"SqsManagedSseEnabled": "true"}}),
    );
    let mut sse_sqs = with(cleared, "/id", "drift-sqs-sse-sqs");
    sse_sqs["detail"]["requestParameters"]["attributes"] = json!({"SqsManagedSseEnabled": "true"});
    assert_drift_undone(
        &mut remediator,
        &sse_sqs,
        &event_url,
        &["SetQueueAttributes"],
        ENCRYPT,
    );
    assert_eq!(aws::queue_attributes(emu, &url)["KmsMasterKeyId"], fx.cmk);
}

#[test]
fn log_group_untag_and_key_removal_are_undone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    aws::create_log_group(emu, GROUP, Some(&fx.cmk), &required());
    let group_arn = format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{GROUP}");
    let mut remediator = fx.start(emu, &[]);

    // UntagResource (by ARN) and UntagLogGroup (the older call, by name).
    logs(
        emu,
        "UntagResource",
        json!({"resourceArn": group_arn, "tagKeys": ["Environment"]}),
    );
    assert_eq!(aws::log_group_tags(emu, GROUP), without(&["Environment"]));
    let untag = drift("drift-logs-untag-resource.json", None);
    assert_drift_undone(&mut remediator, &untag, GROUP, &["TagResource"], TAG);
    assert_eq!(aws::log_group_tags(emu, GROUP), required_tags());

    logs(
        emu,
        "UntagLogGroup",
        json!({"logGroupName": GROUP, "tags": ["Environment"]}),
    );
    let untag_group = drift("drift-logs-untag-log-group.json", None);
    assert_drift_undone(&mut remediator, &untag_group, GROUP, &["TagResource"], TAG);
    assert_eq!(aws::log_group_tags(emu, GROUP), required_tags());

    logs(emu, "DisassociateKmsKey", json!({"logGroupName": GROUP}));
    assert_eq!(aws::log_group(emu, GROUP).get("kmsKeyId"), None);
    let disassociated = drift("drift-logs-disassociate-kms-key.json", None);
    assert_drift_undone(
        &mut remediator,
        &disassociated,
        GROUP,
        &["AssociateKmsKey"],
        ENCRYPT,
    );
    assert_eq!(aws::log_group(emu, GROUP)["kmsKeyId"], fx.cmk.as_str());

    // The same call by the group's ARN (resourceIdentifier).
    logs(
        emu,
        "DisassociateKmsKey",
        json!({"resourceIdentifier": group_arn}),
    );
    let mut by_arn = with(disassociated, "/id", "drift-logs-by-arn");
    by_arn["detail"]["requestParameters"] = json!({"resourceIdentifier": group_arn});
    assert_drift_undone(
        &mut remediator,
        &by_arn,
        GROUP,
        &["AssociateKmsKey"],
        ENCRYPT,
    );
    assert_eq!(aws::log_group(emu, GROUP)["kmsKeyId"], fx.cmk.as_str());
}

fn compliant_bucket(emu: &Emulator, fx: &Fixture) {
    aws::create_bucket(emu, BUCKET);
    aws::put_bucket_tags(emu, BUCKET, &required());
    aws::put_bucket_kms_encryption(emu, BUCKET, &fx.cmk);
}

fn put_sse_s3(emu: &Emulator, bucket: &str) {
    must(rest_xml(
        emu,
        "PUT",
        &format!("/{bucket}?encryption"),
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
         <SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
         </Rule></ServerSideEncryptionConfiguration>",
    ));
}

fn bucket_on_cmk(emu: &Emulator, fx: &Fixture) -> bool {
    let xml = aws::bucket_encryption(emu, BUCKET);
    xml.contains("aws:kms") && xml.contains(&fx.cmk)
}

#[test]
fn bucket_tag_and_encryption_drift_is_undone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    compliant_bucket(emu, &fx);
    let mut remediator = fx.start(emu, &[]);

    must(rest_xml(emu, "DELETE", &format!("/{BUCKET}?tagging"), ""));
    assert!(aws::bucket_tags(emu, BUCKET).is_empty());
    let deleted = drift("drift-s3-delete-bucket-tagging.json", None);
    assert_drift_undone(
        &mut remediator,
        &deleted,
        BUCKET,
        &["PutBucketTagging"],
        TAG,
    );
    assert_eq!(aws::bucket_tags(emu, BUCKET), required_tags());

    // A new tag set without ManagedBy: the other tags (CostCentre included) are kept.
    aws::put_bucket_tags(
        emu,
        BUCKET,
        &[
            ("ApplicationId", "APP-0042"),
            ("Environment", "preprod"),
            ("Project", "corebound-demo"),
            ("ServiceLine", "platform"),
            ("CostCentre", "CC-1234"),
        ],
    );
    let replaced = drift("drift-s3-put-bucket-tagging.json", None);
    assert_drift_undone(
        &mut remediator,
        &replaced,
        BUCKET,
        &["PutBucketTagging"],
        TAG,
    );
    let mut expected = required_tags();
    expected.insert("CostCentre".into(), "CC-1234".into());
    assert_eq!(aws::bucket_tags(emu, BUCKET), expected);

    must(rest_xml(
        emu,
        "DELETE",
        &format!("/{BUCKET}?encryption"),
        "",
    ));
    assert!(!bucket_on_cmk(emu, &fx));
    let unencrypted = drift("drift-s3-delete-bucket-encryption.json", None);
    assert_drift_undone(
        &mut remediator,
        &unencrypted,
        BUCKET,
        &["PutBucketEncryption"],
        ENCRYPT,
    );
    assert!(bucket_on_cmk(emu, &fx));

    put_sse_s3(emu, BUCKET);
    let sse_s3 = drift("drift-s3-put-bucket-encryption.json", None);
    assert_drift_undone(
        &mut remediator,
        &sse_s3,
        BUCKET,
        &["PutBucketEncryption"],
        ENCRYPT,
    );
    assert!(bucket_on_cmk(emu, &fx));
    assert_eq!(aws::bucket_tags(emu, BUCKET), expected, "tags untouched");
}

#[test]
fn secret_untag_and_key_switch_are_undone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let arn = aws::create_secret(emu, SECRET, Some(&fx.cmk), &required());
    let mut remediator = fx.start(emu, &[]);

    secrets(
        emu,
        "UntagResource",
        json!({"SecretId": arn, "TagKeys": ["ManagedBy"]}),
    );
    let untag = drift(
        "drift-secretsmanager-untag-resource.json",
        Some(("/detail/requestParameters/secretId", &arn)),
    );
    assert_drift_undone(&mut remediator, &untag, &arn, &["TagResource"], TAG);
    assert_eq!(
        tag_list(&aws::describe_secret(emu, &arn)["Tags"]),
        required_tags()
    );

    secrets(
        emu,
        "UpdateSecret",
        // SDKs fill ClientRequestToken (an idempotency token) themselves.
        json!({"SecretId": arn, "KmsKeyId": "alias/aws/secretsmanager",
               "ClientRequestToken": "7b3e1f0c-2a4d-4e6f-8a9b-0c1d2e3f4a5b"}),
    );
    // DescribeSecret omits KmsKeyId for the AWS-managed key.
    assert_eq!(aws::describe_secret(emu, &arn).get("KmsKeyId"), None);
    let rekeyed = drift(
        "drift-secretsmanager-update-secret.json",
        Some(("/detail/requestParameters/secretId", &arn)),
    );
    assert_drift_undone(&mut remediator, &rekeyed, &arn, &["UpdateSecret"], ENCRYPT);
    assert_eq!(aws::describe_secret(emu, &arn)["KmsKeyId"], fx.cmk.as_str());

    // The secret named by its name (secretId may be either).
    secrets(
        emu,
        "UntagResource",
        json!({"SecretId": SECRET, "TagKeys": ["ManagedBy"]}),
    );
    let by_name = drift(
        "drift-secretsmanager-untag-resource.json",
        Some(("/detail/requestParameters/secretId", SECRET)),
    );
    let run = remediator.run(&by_name);
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["TagResource"]);
    assert_eq!(
        tag_list(&aws::describe_secret(emu, &arn)["Tags"]),
        required_tags()
    );
}

#[test]
fn role_key_and_runtime_untags_are_undone() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let role = aws::create_role(emu, ROLE, &required());
    let key = aws::create_key(emu, "corebound demo data key", &required());
    aws::create_alias(emu, "alias/corebound-demo-data", &key);
    let seeded = emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": RUNTIME_ID, "tags": required_tags()}),
    );
    let runtime = seeded["agentRuntimeArn"].as_str().unwrap().to_string();
    assert_eq!(aws::agentcore_tags(emu, &runtime), required_tags());
    let mut remediator = fx.start(emu, &[]);

    must(query(
        emu,
        "iam",
        "UntagRole",
        &[("RoleName", ROLE), ("TagKeys.member.1", "ManagedBy")],
    ));
    let untag_role = drift("drift-iam-untag-role.json", None);
    assert_drift_undone(&mut remediator, &untag_role, &role, &["TagRole"], TAG);
    assert_eq!(aws::role_tags(emu, ROLE), required_tags());

    must(json_call(
        emu,
        "kms",
        "TrentService.UntagResource",
        &json!({"KeyId": key, "TagKeys": ["ServiceLine"]}),
    ));
    let untag_key = drift(
        "drift-kms-untag-resource.json",
        Some(("/detail/requestParameters/keyId", &key)),
    );
    assert_drift_undone(&mut remediator, &untag_key, &key, &["TagResource"], TAG);
    assert_eq!(aws::key_tags(emu, &key), required_tags());

    // KMS UntagResource may name the key by its bare id.
    must(json_call(
        emu,
        "kms",
        "TrentService.UntagResource",
        &json!({"KeyId": key, "TagKeys": ["ServiceLine"]}),
    ));
    let key_id = key.rsplit('/').next().unwrap();
    let by_id = with(
        with(untag_key, "/detail/requestParameters/keyId", key_id),
        "/id",
        "drift-kms-by-id",
    );
    assert_drift_undone(&mut remediator, &by_id, &key, &["TagResource"], TAG);

    must(emu.aws_rest(
        "bedrock-agentcore",
        "DELETE",
        &format!("/tags/{}?tagKeys=Project", form_encode(&runtime)),
        None,
    ));
    assert_eq!(aws::agentcore_tags(emu, &runtime), without(&["Project"]));
    let untag_runtime = drift("drift-bedrock-agentcore-untag-resource.json", None);
    assert_drift_undone(
        &mut remediator,
        &untag_runtime,
        &runtime,
        &["TagResource"],
        TAG,
    );
    assert_eq!(aws::agentcore_tags(emu, &runtime), required_tags());
}

#[test]
fn report_mode_writes_nothing_and_logs_would() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic = compliant_topic(emu, &fx, TOPIC);
    compliant_bucket(emu, &fx);
    let arn = aws::create_secret(emu, SECRET, Some(&fx.cmk), &required());
    let mut remediator = fx.start(emu, &[("MODE", Some("report"))]);

    sns(
        emu,
        "UntagResource",
        &[
            ("ResourceArn", &topic),
            ("TagKeys.member.1", "Project"),
            ("TagKeys.member.2", "ServiceLine"),
        ],
    );
    must(rest_xml(
        emu,
        "DELETE",
        &format!("/{BUCKET}?encryption"),
        "",
    ));
    secrets(
        emu,
        "UpdateSecret",
        // SDKs fill ClientRequestToken (an idempotency token) themselves.
        json!({"SecretId": arn, "KmsKeyId": "alias/aws/secretsmanager",
               "ClientRequestToken": "7b3e1f0c-2a4d-4e6f-8a9b-0c1d2e3f4a5b"}),
    );
    let cases = [
        (
            drift("drift-sns-untag-resource.json", None),
            ("mandatory-tags", "would tag", "ok"),
        ),
        (
            drift("drift-s3-delete-bucket-encryption.json", None),
            ("cmk-encryption", "would encrypt", "ok"),
        ),
        (
            drift(
                "drift-secretsmanager-update-secret.json",
                Some(("/detail/requestParameters/secretId", &arn)),
            ),
            ("cmk-encryption", "would encrypt", "ok"),
        ),
    ];
    for (event, (rule, action, result)) in cases {
        let run = remediator.run(&event);
        let summary = run.assert_ok();
        assert_eq!(summary["writes"], 0, "{summary}");
        assert_eq!(run.resource_writes(), Vec::<String>::new());
        assert!(
            run.decisions().contains(&decision(rule, action, result)),
            "{:?}",
            run.decisions()
        );
    }
    assert_eq!(
        aws::topic_tags(emu, &topic),
        without(&["Project", "ServiceLine"])
    );
    assert!(!bucket_on_cmk(emu, &fx));
    assert_eq!(aws::describe_secret(emu, &arn).get("KmsKeyId"), None);
}

/// `event` as made by the remediator's own role (a session of it).
fn by_own_role(event: Value) -> Value {
    with(
        with(
            event,
            "/detail/userIdentity/arn",
            "arn:aws:sts::123456789012:assumed-role/LPMA_Demo_corebound_Remediator/remediator-9",
        ),
        "/detail/userIdentity/sessionContext/sessionIssuer/arn",
        SELF_ROLE,
    )
}

/// A run that skipped the event without any AWS call, with one record whose result starts so.
fn assert_skipped_without_a_call(run: &Run, rule: &str, result_start: &str) {
    run.assert_ok();
    assert_eq!(run.operations(), Vec::<String>::new(), "not even a read");
    let decisions = run.decisions();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let (found_rule, action, result) = &decisions[0];
    assert_eq!((found_rule.as_str(), action.as_str()), (rule, "none"));
    assert!(result.starts_with(result_start), "{result}");
}

#[test]
fn own_failed_unrelated_and_foreign_drift_events_are_skipped_without_a_call() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic = compliant_topic(emu, &fx, TOPIC);
    compliant_bucket(emu, &fx);
    let mut remediator = fx.start(emu, &[]);
    let untag = drift("drift-sns-untag-resource.json", None);

    // The loop guard: the remediator's own writes are drift events too (it tags buckets with
    // PutBucketTagging, re-keys topics with SetTopicAttributes, secrets with UpdateSecret).
    for own in [
        by_own_role(untag.clone()),
        by_own_role(drift("drift-s3-put-bucket-tagging.json", None)),
        by_own_role(drift("drift-sns-set-topic-attributes.json", None)),
        by_own_role(drift("drift-secretsmanager-update-secret.json", None)),
    ] {
        let run = remediator.run(&own);
        assert_skipped_without_a_call(&run, "event-filter", "skipped: own action");
    }

    // A failed call changed nothing (the rule pattern drops them; a crafted one is skipped).
    let mut failed = with(untag.clone(), "/id", "drift-failed");
    failed["detail"]["errorCode"] = json!("AuthorizationError");
    failed["detail"]["errorMessage"] =
        json!("User is not authorized to perform: SNS:UntagResource");
    let run = remediator.run(&failed);
    assert_skipped_without_a_call(
        &run,
        "event-filter",
        "skipped: failed call (AuthorizationError)",
    );

    // Calls that cannot have removed a required tag or the key: recorded, nothing read.
    let mut other_keys = with(untag.clone(), "/id", "drift-other-keys");
    other_keys["detail"]["requestParameters"]["tagKeys"] = json!(["Owner", "CostCentre"]);
    let mut display_name = drift("drift-sns-set-topic-attributes.json", None);
    display_name["detail"]["requestParameters"] =
        json!({"topicArn": topic, "attributeName": "DisplayName", "attributeValue": "Alerts"});
    let mut description = drift("drift-secretsmanager-update-secret.json", None);
    description["detail"]["requestParameters"] = json!({
        "secretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:corebound-demo-db-credentials-Xy3AbC",
        "description": "rotated by hand"});
    let mut visibility = drift("drift-sqs-set-queue-attributes.json", None);
    visibility["detail"]["requestParameters"]["attributes"] = json!({"VisibilityTimeout": "100"});
    let to_the_cmk = with(
        drift("drift-sns-set-topic-attributes.json", None),
        "/detail/requestParameters/attributeValue",
        &fx.cmk,
    );
    let mut full_set = drift("drift-s3-put-bucket-tagging.json", None);
    full_set["detail"]["requestParameters"]["Tagging"]["TagSet"]["Tag"] = json!(REQUIRED
        .iter()
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect::<Vec<_>>());
    for (event, why) in [
        (
            &other_keys,
            "skipped: no drift: UntagResource removed no required tag (removed: Owner, CostCentre)",
        ),
        (
            &display_name,
            "skipped: no drift: SetTopicAttributes set DisplayName, not KmsMasterKeyId",
        ),
        (
            &description,
            "skipped: no drift: UpdateSecret did not set KmsKeyId",
        ),
        (
            &visibility,
            "skipped: no drift: SetQueueAttributes set neither KmsMasterKeyId",
        ),
        (
            &to_the_cmk,
            "skipped: no drift: SetTopicAttributes set the project CMK",
        ),
        (
            &full_set,
            "skipped: no drift: PutBucketTagging kept every required tag with a value",
        ),
    ] {
        let run = remediator.run(event);
        assert_skipped_without_a_call(&run, "event-filter", why);
        assert_eq!(run.publishes(), 0);
    }

    // Another team's topic: recorded as out of scope, never read.
    let foreign = with(
        untag.clone(),
        "/detail/requestParameters/resourceArn",
        "arn:aws:sns:us-east-1:123456789012:payments-alerts",
    );
    let run = remediator.run(&foreign);
    assert_skipped_without_a_call(&run, "scope", "skipped: out of scope: payments-alerts");

    // A forged event (not from AWS) is never acted on.
    let forged = with(untag, "/source", "corebound.forged");
    let run = remediator.run(&forged);
    assert_skipped_without_a_call(&run, "event-filter", "skipped: not an authentic AWS event");

    assert!(fx.alerts(emu).is_empty(), "nothing here needs a person");
    assert_eq!(aws::topic_tags(emu, &topic), required_tags());
}

#[test]
fn an_opted_out_resource_is_reported_not_touched() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let mut tags = required();
    tags.push((OPT_OUT_TAG, "off"));
    let topic = aws::create_topic(emu, TOPIC, &[("KmsMasterKeyId", &fx.cmk)], &tags);
    let mut remediator = fx.start(emu, &[]);

    sns(
        emu,
        "UntagResource",
        &[("ResourceArn", &topic), ("TagKeys.member.1", "Project")],
    );
    let run = remediator.run(&drift("drift-sns-untag-resource.json", None));
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert!(
        findings(&run).contains(&"opted_out".to_string()),
        "{:?}",
        run.decisions()
    );
    assert!(!aws::topic_tags(emu, &topic).contains_key("Project"));

    // Removing the opt-out tag itself is drift: the topic is ours to fix again.
    sns(
        emu,
        "UntagResource",
        &[("ResourceArn", &topic), ("TagKeys.member.1", OPT_OUT_TAG)],
    );
    let mut opted_in = with(
        drift("drift-sns-untag-resource.json", None),
        "/id",
        "opt-in",
    );
    opted_in["detail"]["requestParameters"]["tagKeys"] = json!([OPT_OUT_TAG]);
    let run = remediator.run(&opted_in);
    run.assert_ok();
    assert_eq!(run.resource_writes(), ["TagResource"]);
    assert_eq!(aws::topic_tags(emu, &topic), required_tags());
}

#[test]
fn a_key_someone_chose_is_reported_and_a_log_bucket_stays_on_sse_s3() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let topic = compliant_topic(emu, &fx, TOPIC);
    let team_key = aws::create_key(emu, "another team's key", &[]);
    aws::create_bucket(emu, BUCKET);
    aws::put_bucket_tags(emu, BUCKET, &required());
    put_bucket_policy(
        emu,
        BUCKET,
        &json!({"Version": "2012-10-17", "Statement": [{"Sid": "S3ServerAccessLogs",
            "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}]}),
    );
    let mut remediator = fx.start(emu, &[]);

    // Switched to another customer-managed key: reported, never replaced.
    sns(
        emu,
        "SetTopicAttributes",
        &[
            ("TopicArn", &topic),
            ("AttributeName", "KmsMasterKeyId"),
            ("AttributeValue", &team_key),
        ],
    );
    let switched = with(
        drift("drift-sns-set-topic-attributes.json", None),
        "/detail/requestParameters/attributeValue",
        &team_key,
    );
    let run = remediator.run(&switched);
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert_eq!(findings(&run), ["encrypted_with_foreign_key"]);
    assert_eq!(
        aws::topic_attributes(emu, &topic)["KmsMasterKeyId"],
        team_key
    );
    let alerts = fx.alerts(emu);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains(&team_key), "{}", alerts[0]);

    // A server-access-log bucket put back on SSE-S3 is respected (AWS requires it there).
    put_sse_s3(emu, BUCKET);
    let run = remediator.run(&drift("drift-s3-put-bucket-encryption.json", None));
    run.assert_ok();
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert!(
        run.audits
            .iter()
            .any(|record| record["detail"]["exception"] == "log_delivery_bucket"),
        "{:?}",
        run.decisions()
    );
    assert!(aws::bucket_encryption(emu, BUCKET).contains("AES256"));
}

#[test]
fn published_drift_records_replay_against_the_emulator() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let key = aws::create_key(emu, "replayed UntagResource", &required());
    aws::create_alias(emu, "alias/corebound-demo-replayed", &key);
    let url = aws::create_queue(emu, "MyQueue", &[("KmsMasterKeyId", &fx.cmk)], &required());
    let mut remediator = fx.start(emu, &[("SCOPE_PATTERNS", Some("corebound-demo-*,MyQueue"))]);

    // AWS KMS Developer Guide: UntagResource of the tag "Dept", which is not required: skipped
    // without a read. Key ids are random in the emulator: the record is pointed at the key made.
    let published_untag = published("kms-untag-resource.aws-docs.json");
    let published_key = published_untag["detail"]["requestParameters"]["keyId"]
        .as_str()
        .unwrap()
        .to_string();
    let untag =
        serde_json::from_str::<Value>(&published_untag.to_string().replace(&published_key, &key))
            .unwrap();
    let run = remediator.run(&untag);
    let (_, action, result) = &run.decisions()[0];
    assert_eq!(action, "none");
    assert_eq!(
        result,
        "skipped: no drift: UntagResource removed no required tag (removed: Dept)"
    );
    assert_eq!(run.operations(), Vec::<String>::new());

    // The same record removing a required tag that is really gone.
    must(json_call(
        emu,
        "kms",
        "TrentService.UntagResource",
        &json!({"KeyId": key, "TagKeys": ["Project"]}),
    ));
    let mut project = with(untag, "/id", "replay-kms-project");
    project["detail"]["requestParameters"]["tagKeys"] = json!(["Project"]);
    assert_drift_undone(&mut remediator, &project, &key, &["TagResource"], TAG);
    assert_eq!(aws::key_tags(emu, &key), required_tags());

    // Amazon SQS Developer Guide: SetQueueAttributes of VisibilityTimeout only.
    let visibility = published("sqs-set-queue-attributes.aws-docs.json");
    let run = remediator.run(&visibility);
    assert_eq!(run.operations(), Vec::<String>::new());
    assert!(run.decisions()[0].2.starts_with("skipped: no drift"));
    assert_eq!(aws::queue_attributes(emu, &url)["KmsMasterKeyId"], fx.cmk);
}

#[test]
fn redacted_keys_are_read_and_a_role_name_is_not_judged_again() {
    let (_guard, emu) = emulator();
    let fx = Fixture::new(emu);
    let legacy = "corebound-demo-legacy-role";
    let role = aws::create_role(emu, legacy, &required());
    let gateway_id = "corebound-demo-gateway-k3x9q2w7zt";
    let seeded = emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "corebound-demo-gateway", "id": gateway_id, "authorizerType": "CUSTOM_JWT"}),
    );
    let gateway = seeded["gatewayArn"].as_str().unwrap().to_string();
    must(emu.aws_rest(
        "bedrock-agentcore",
        "POST",
        &format!("/tags/{}", form_encode(&gateway)),
        Some(&json!({"tags": required_tags()})),
    ));
    let mut remediator = fx.start(emu, &[]);

    // CloudTrail may redact tagKeys: the event cannot tell, so the role is read. Its name is
    // outside REQUIRED_ROLE_PREFIX (reported when it was created): a tag event does not
    // report it again.
    must(query(
        emu,
        "iam",
        "UntagRole",
        &[("RoleName", legacy), ("TagKeys.member.1", "Project")],
    ));
    let mut redacted = with(
        drift("drift-iam-untag-role.json", None),
        "/detail/requestParameters/roleName",
        legacy,
    );
    redacted["detail"]["requestParameters"]["tagKeys"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
    let run = assert_drift_undone(&mut remediator, &redacted, &role, &["TagRole"], TAG);
    assert_eq!(findings(&run), Vec::<String>::new());
    assert_eq!(aws::role_tags(emu, legacy), required_tags());

    // A gateway named by its ARN only: its name (for the scope) comes from GetGateway.
    must(emu.aws_rest(
        "bedrock-agentcore",
        "DELETE",
        &format!("/tags/{}?tagKeys=ManagedBy", form_encode(&gateway)),
        None,
    ));
    let untag_gateway = with(
        drift("drift-bedrock-agentcore-untag-resource.json", None),
        "/detail/requestParameters/resourceArn",
        &gateway,
    );
    let untag_gateway = with(untag_gateway, "/id", "drift-gateway");
    let run = assert_drift_undone(
        &mut remediator,
        &untag_gateway,
        &gateway,
        &["TagResource"],
        TAG,
    );
    assert!(run.operations().contains(&"GetGateway".to_string()));
    assert_eq!(aws::agentcore_tags(emu, &gateway), required_tags());

    // A queue deleted since: recorded as gone, no failure, nobody paged.
    let run = remediator.run(&drift("drift-sqs-untag-queue.json", None));
    let summary = run.assert_ok();
    assert_eq!(summary["failures"], 0, "{summary}");
    assert_eq!(run.resource_writes(), Vec::<String>::new());
    assert!(
        run.decisions()[0].2.starts_with("skipped: gone"),
        "{:?}",
        run.decisions()
    );
    assert!(fx.alerts(emu).is_empty());
}
