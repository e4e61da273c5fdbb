//! Every resource the files in `events/` name, created in the local AWS as they would exist
//! in the account when those events happen:
//! - what the custom resources act on exists and is ready: the runtimes (with their DEFAULT
//!   endpoint), the memory, the role `LPMA_Demo_AgentCoreRuntime` with its permissions boundary
//!   (and IAM's simulator answering for that boundary);
//! - what the remediator events report as just created exists as its creator left it: untagged,
//!   without the project CMK (the topic, queue, bucket, secret, log group, role, data key,
//!   AgentCore runtime, memory and gateway);
//! - the remediator's own resources: the project CMK (tagged, with the template's key policy for
//!   the services it encrypts for) and the alert topic (tagged, encrypted).
//!
//! - what the preflight hook's requests name: the demo stack with the mandatory tags as stack
//!   tags (DescribeStacks), and the STACK payload in a local S3 bucket behind the request's
//!   presigned-style URL.
//!
//! Identifiers are the events' own (fixed runtime, memory and gateway ids, the data key's id,
//! the secret's ARN suffix), so the files in `events/` work unchanged.

use serde_json::{json, Value};

use super::settings::{
    alert_topic_arn, project_key_arn, required_tags, ACCOUNT, ALERT_TOPIC, DEFERRAL_QUEUE,
    PROJECT_KEY_ALIAS, PROJECT_KEY_ID, REGION, REMEDIATOR_ROLE, REPORT_BUCKET, SCOPE_PATTERNS,
    SWEEP_QUEUE,
};
use crate::aws_calls::{self, fixtures};
use crate::emulator::Emulator;

pub const BOUNDARY: &str = "LPMA_Demo_Boundary";
/// Target of the memory and invoke grants (events/memory-grant/*.json).
pub const GRANT_ROLE: &str = "LPMA_Demo_AgentCoreRuntime";
/// Runtime of the runtime policy and the invoke grant; the invoke grant's Update moves to the second.
pub const RUNTIME_IDS: [&str; 2] = [
    "corebound_demo_agent-AbCdE12345",
    "corebound_demo_agent-ZyXwV98765",
];
pub const MEMORY_ID: &str = "corebound_demo_memory-a1B2c3D4e5";

/// One line per seeded resource, for `make local` to show.
pub type Summary = Vec<(&'static str, String)>;

fn must<T>(what: &str, result: Result<T, String>) -> T {
    result.unwrap_or_else(|error| panic!("seeding {what}: {error}"))
}

fn iam(emu: &Emulator, action: &str, params: &[(&str, &str)]) -> String {
    must(action, aws_calls::query(emu, "iam", action, params))
}

fn tag_pairs(tags: &Value) -> Vec<(String, String)> {
    tags.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Seed `emu` (freshly started or reset) and describe what was created.
pub fn seed(emu: &Emulator) -> Summary {
    let mut summary = Summary::new();
    seed_project_resources(emu, &mut summary);
    seed_iam(emu, &mut summary);
    seed_agentcore(emu, &mut summary);
    seed_preflight_hook(emu, &mut summary);
    seed_remediation_subjects(emu, &mut summary);
    summary
}

/// The project CMK, the alert topic, the deferral queue and the sweep's work queue and report
/// bucket, as the template creates them.
fn seed_project_resources(emu: &Emulator, summary: &mut Summary) {
    let tags = required_tags();
    emu.post(
        "/_corebound/kms/keys",
        &json!({"id": PROJECT_KEY_ID, "description": format!("corebound project CMK for Demo ({SCOPE_PATTERNS})"),
                "policy": project_key_policy().to_string(), "tags": tags}),
    );
    fixtures::create_alias(emu, PROJECT_KEY_ALIAS, &project_key_arn());
    summary.push((
        "project CMK",
        format!("{} ({PROJECT_KEY_ALIAS})", project_key_arn()),
    ));
    let pairs = tag_pairs(&tags);
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let topic = fixtures::create_topic(
        emu,
        ALERT_TOPIC,
        &[("KmsMasterKeyId", &project_key_arn())],
        &borrowed,
    );
    assert_eq!(topic, alert_topic_arn());
    summary.push(("alert topic", topic));
    fixtures::create_queue(
        emu,
        DEFERRAL_QUEUE,
        &[
            ("VisibilityTimeout", "360"),
            ("MessageRetentionPeriod", "86400"),
            ("KmsMasterKeyId", &project_key_arn()),
        ],
        &borrowed,
    );
    summary.push(("deferral queue", DEFERRAL_QUEUE.to_string()));
    fixtures::create_queue(
        emu,
        SWEEP_QUEUE,
        &[
            ("VisibilityTimeout", "360"),
            ("MessageRetentionPeriod", "86400"),
            ("KmsMasterKeyId", &project_key_arn()),
        ],
        &borrowed,
    );
    summary.push(("sweep work queue", SWEEP_QUEUE.to_string()));
    fixtures::create_bucket(emu, REPORT_BUCKET);
    fixtures::put_bucket_kms_encryption(emu, REPORT_BUCKET, &project_key_arn());
    fixtures::put_bucket_tags(emu, REPORT_BUCKET, &borrowed);
    summary.push(("sweep report bucket", REPORT_BUCKET.to_string()));
}

/// The template's key policy for the project CMK, for this account, region and scope.
fn project_key_policy() -> Value {
    let family = |prefix: &str, suffix: &str| -> Vec<String> {
        SCOPE_PATTERNS
            .split(',')
            .map(|p| format!("{prefix}{p}{suffix}"))
            .collect()
    };
    let via = |service: &str, actions: &[&str], context_key: &str, arns: Vec<String>| {
        json!({"Sid": format!("{}ViaServiceForScopeFamily", service_title(service)), "Effect": "Allow",
               "Principal": {"AWS": "*"}, "Action": actions, "Resource": "*",
               "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT,
                                               "kms:ViaService": format!("{service}.{REGION}.amazonaws.com")},
                             "StringLike": {context_key: arns}}})
    };
    let logs_actions = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ];
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministersAndDelegatesToIam", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
             "Action": ["kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
                        "kms:GenerateDataKey", "kms:GetKeyPolicy", "kms:ListResourceTags", "kms:PutKeyPolicy",
                        "kms:TagResource", "kms:UntagResource"],
             "Resource": "*"},
            {"Sid": "SnsServiceForScopeFamily", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                           "ArnLike": {"aws:SourceArn": family("arn:*:sns:*:*:", "")}}},
            via("sns", &["kms:Decrypt", "kms:GenerateDataKey"], "kms:EncryptionContext:aws:sns:topicArn",
                family("arn:*:sns:*:*:", "")),
            via("sqs", &["kms:Decrypt", "kms:GenerateDataKey"], "kms:EncryptionContext:aws:sqs:arn",
                family("arn:*:sqs:*:*:", "")),
            {"Sid": "LogsForScopeFamily", "Effect": "Allow",
             "Principal": {"Service": format!("logs.{REGION}.amazonaws.com")},
             "Action": logs_actions, "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*")},
                           "StringLike": {"kms:EncryptionContext:aws:logs:arn": family("arn:*:logs:*:*:log-group:", "")}}},
            via("secretsmanager", &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "kms:EncryptionContext:SecretARN", family("arn:*:secretsmanager:*:*:secret:", "-??????")),
            via("s3", &logs_actions[..], "kms:EncryptionContext:aws:s3:arn",
                [family("arn:*:s3:::", ""), family("arn:*:s3:::", "/*")].concat()),
        ]
    })
}

fn service_title(service: &str) -> &'static str {
    match service {
        "sns" => "Sns",
        "sqs" => "Sqs",
        "secretsmanager" => "SecretsManager",
        "s3" => "S3",
        _ => "Service",
    }
}

/// The permissions boundary every `LPMA_` role carries, the roles the events name, and IAM's
/// policy simulator answering what IAM would for roles under that boundary.
fn seed_iam(emu: &Emulator, summary: &mut Summary) {
    let boundary = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AgentCore", "Effect": "Allow", "Action": ["bedrock-agentcore:*"], "Resource": "*"},
            {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}
        ]
    });
    iam(
        emu,
        "CreatePolicy",
        &[
            ("PolicyName", BOUNDARY),
            ("PolicyDocument", &boundary.to_string()),
        ],
    );
    let boundary_arn = format!("arn:aws:iam::{ACCOUNT}:policy/{BOUNDARY}");
    let trust = |service: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
        .to_string()
    };
    let roles = [
        // Grants target (events/memory-grant/*): an existing execution role.
        (GRANT_ROLE, "bedrock-agentcore.amazonaws.com"),
        // Just created, untagged (events/remediator/create-role.json).
        ("LPMA_Demo_AgentRuntime", "bedrock-agentcore.amazonaws.com"),
        // Named by the memory and gateway the remediator events report.
        (
            "LPMA_Demo_MemoryExecution",
            "bedrock-agentcore.amazonaws.com",
        ),
        ("LPMA_Demo_Gateway", "bedrock-agentcore.amazonaws.com"),
        // The remediator's own role (SELF_ROLE_ARN).
        (REMEDIATOR_ROLE, "lambda.amazonaws.com"),
    ];
    for (role, service) in roles {
        iam(
            emu,
            "CreateRole",
            &[
                ("RoleName", role),
                ("AssumeRolePolicyDocument", &trust(service)),
                ("PermissionsBoundary", &boundary_arn),
            ],
        );
    }
    summary.push((
        "roles",
        format!("{} (boundary {BOUNDARY})", roles.map(|(r, _)| r).join(", ")),
    ));

    // The boundary allows bedrock-agentcore:* on everything, so the simulator allows every
    // action a grant can write, on any resource.
    let mut actions: Vec<String> = corebound::grants::memory::MEMORY_ACTIONS
        .iter()
        .map(|a| format!("bedrock-agentcore:{a}"))
        .collect();
    actions.extend(
        corebound::agentcore_actions::INVOKE_FAMILY
            .iter()
            .map(|(action, _)| action.to_string()),
    );
    let decisions: Vec<Value> = actions
        .iter()
        .map(|action| json!({"action": action, "decision": "allowed",
                             "matchedStatements": [{"sourcePolicyId": BOUNDARY, "sourcePolicyType": "user-managed"}]}))
        .collect();
    emu.put(
        "/_corebound/iam/simulation",
        &json!({"mode": "scripted", "decisions": decisions}),
    );
}

/// Runtimes, memory and gateway with the ids the events name.
fn seed_agentcore(emu: &Emulator, summary: &mut Summary) {
    let role = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    for id in RUNTIME_IDS {
        emu.post(
            "/_corebound/agentcore/runtimes",
            &json!({"name": "corebound_demo_agent", "id": id, "endpoints": ["DEFAULT"],
                    "roleArn": role(GRANT_ROLE), "tags": required_tags()}),
        );
    }
    summary.push((
        "runtimes",
        format!("{} (READY, endpoint DEFAULT)", RUNTIME_IDS.join(", ")),
    ));
    // Just created (events/remediator/create-agent-runtime.json): untagged.
    let created = "corebound_demo_agent-Ab12Cd34Ef";
    emu.post(
        "/_corebound/agentcore/runtimes",
        &json!({"name": "corebound_demo_agent", "id": created, "endpoints": ["DEFAULT"],
                "roleArn": role("LPMA_Demo_AgentRuntime")}),
    );
    summary.push(("runtime", format!("{created} (untagged)")));
    // Both the grants' memory and the one events/remediator/create-memory.json reports (by name).
    emu.post(
        "/_corebound/agentcore/memories",
        &json!({"name": "corebound_demo_memory", "id": MEMORY_ID, "eventExpiryDuration": 30,
                "memoryExecutionRoleArn": role("LPMA_Demo_MemoryExecution")}),
    );
    summary.push(("memory", format!("{MEMORY_ID} (untagged, no CMK)")));
    let gateway = "corebound-demo-gateway-k3x9q2w7zt";
    emu.post(
        "/_corebound/agentcore/gateways",
        &json!({"name": "corebound-demo-gateway", "id": gateway, "authorizerType": "CUSTOM_JWT",
                "roleArn": role("LPMA_Demo_Gateway")}),
    );
    summary.push(("gateway", format!("{gateway} (untagged)")));
}

/// What the remediator events report as just created, as their creators left it.
fn seed_remediation_subjects(emu: &Emulator, summary: &mut Summary) {
    let topic = fixtures::create_topic(emu, "corebound-demo-alerts", &[], &[]);
    summary.push(("topic", format!("{topic} (untagged, no CMK)")));
    let queue = fixtures::create_queue(
        emu,
        "corebound-demo-jobs",
        &[
            ("VisibilityTimeout", "120"),
            ("MessageRetentionPeriod", "345600"),
        ],
        &[],
    );
    summary.push(("queue", format!("{queue} (untagged, SSE-SQS)")));
    let bucket = format!("corebound-demo-artifacts-{ACCOUNT}");
    fixtures::create_bucket(emu, &bucket);
    summary.push(("bucket", format!("{bucket} (untagged, SSE-S3)")));
    let secret = emu.post(
        "/_corebound/secretsmanager/secrets",
        &json!({"name": "corebound-demo-db-credentials", "suffix": "Xy3AbC",
                "description": "Database credentials for the corebound demo agent"}),
    );
    summary.push((
        "secret",
        format!(
            "{} (untagged, AWS-managed key)",
            secret["ARN"].as_str().unwrap_or_default()
        ),
    ));
    fixtures::create_log_group(emu, "corebound-demo-agent-logs", None, &[]);
    summary.push((
        "log group",
        "corebound-demo-agent-logs (untagged, no CMK)".into(),
    ));
    let key = emu.post(
        "/_corebound/kms/keys",
        &json!({"id": "0f2c3d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "description": "corebound demo data key"}),
    );
    let key_arn = key["Arn"].as_str().unwrap_or_default().to_string();
    fixtures::create_alias(emu, "alias/corebound-demo-data", &key_arn);
    summary.push((
        "data key",
        format!("{key_arn} (alias/corebound-demo-data, untagged)"),
    ));
}

/// The stack of events/preflight-hook/*.json.
pub const HOOK_STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/corebound-demo-agent/7d5e1f60-8f3a-11ef-9c1d-0a1b2c3d4e5f";
/// Where events/preflight-hook/stack-create.json's payload URL points (path-style, local S3).
pub const HOOK_PAYLOAD_BUCKET: &str = "corebound-demo-hook-payloads";
pub const HOOK_PAYLOAD_KEY: &str = "stack-create.json";

fn seed_preflight_hook(emu: &Emulator, summary: &mut Summary) {
    emu.post(
        "/_corebound/cloudformation/stacks",
        &json!({"stackId": HOOK_STACK_ID, "tags": required_tags()}),
    );
    summary.push((
        "stack",
        format!("{HOOK_STACK_ID} (the five tags as stack tags)"),
    ));
    let payload = std::fs::read_to_string(
        crate::repo_root().join("events/preflight-hook/payloads/stack-create.json"),
    )
    .unwrap_or_else(|e| panic!("seeding the hook payload: {e}"));
    fixtures::create_bucket(emu, HOOK_PAYLOAD_BUCKET);
    must(
        "the hook payload",
        aws_calls::rest_xml(
            emu,
            "PUT",
            &format!("/{HOOK_PAYLOAD_BUCKET}/{HOOK_PAYLOAD_KEY}"),
            &payload,
        ),
    );
    summary.push((
        "hook payload",
        format!("s3://{HOOK_PAYLOAD_BUCKET}/{HOOK_PAYLOAD_KEY} (events/preflight-hook/stack-create.json)"),
    ));
}
