//! Issue 18: the README's "Run a function locally by hand", as a user runs it.
//!
//! The local AWS starts and is seeded exactly as `make local` does ([`LocalAws::start`], the
//! code of the `local` binary), and the functions get exactly the `export` lines it prints. Every
//! file in `events/` then runs through the built binaries via the Lambda Runtime API, keeping the
//! file's own ResponseURL. One difference: the emulator listens on a free port rather than 4599
//! (a user's `make local` or another test may hold that port), so only the port of each
//! ResponseURL is rewritten; host and path stay the file's. Like `cargo lambda watch`, the
//! Runtime API announces no usable invoked function ARN.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use corebound_tests::aws_calls::{self, fixtures};
use corebound_tests::http_client;
use corebound_tests::lambda_process::CARGO_LAMBDA_FUNCTION_ARN;
use corebound_tests::local::settings::{
    self, parse_export_lines, required_tags, sam_env_vars, DEFAULT_PORT,
};
use corebound_tests::local::{LocalAws, RESPONSE_PATH};
use corebound_tests::{binary_path, repo_root, with_response_url, LambdaProcess};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn files(folder: &str) -> Vec<(String, Value)> {
    let dir = repo_root().join("events").join(folder);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no events in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = format!("{folder}/{}", p.file_name().unwrap().to_string_lossy());
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// The files of one folder grouped per resource (LogicalResourceId), each group in the order
/// CloudFormation sends them: Create, Update, Delete. Every group must hold all three.
fn lifecycles(folder: &str) -> Vec<Vec<(String, Value)>> {
    let mut groups: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (name, event) in files(folder) {
        let logical = event["LogicalResourceId"].as_str().unwrap().to_string();
        groups.entry(logical).or_default().push((name, event));
    }
    let rank = |event: &Value| match event["RequestType"].as_str() {
        Some("Create") => 0,
        Some("Update") => 1,
        Some("Delete") => 2,
        other => panic!("unexpected RequestType {other:?}"),
    };
    groups
        .into_values()
        .map(|mut group| {
            group.sort_by_key(|(_, event)| rank(event));
            let types: Vec<&str> = group
                .iter()
                .map(|(_, e)| e["RequestType"].as_str().unwrap())
                .collect();
            assert_eq!(
                types,
                ["Create", "Update", "Delete"],
                "{:?}: one file per request type",
                group.iter().map(|(n, _)| n).collect::<Vec<_>>()
            );
            group
        })
        .collect()
}

/// The same URL on another port.
fn on_port(url: &str, port: u16) -> String {
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let path = &rest[rest.find('/').unwrap()..];
    format!("http://127.0.0.1:{port}{path}")
}

/// Started as `cargo lambda watch` starts it: with the printed environment, and announcing
/// no usable function ARN (so the remediator learns its account from SELF_ROLE_ARN).
fn start(binary: &str, env: &[(String, String)]) -> LambdaProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    LambdaProcess::start_as(binary_path(binary), &env, CARGO_LAMBDA_FUNCTION_ARN)
}

fn custom_resources_answer_success(local: &LocalAws, env: &[(String, String)], folder: &str) {
    let mut function = start(folder, env);
    for group in lifecycles(folder) {
        let mut physical_id = None;
        for (name, event) in group {
            let url = event["ResponseURL"].as_str().unwrap();
            assert_eq!(
                url,
                format!("http://127.0.0.1:{DEFAULT_PORT}{RESPONSE_PATH}{folder}"),
                "{name}: the ResponseURL must reach `make local`"
            );
            let url = on_port(url, local.port);
            let stack = event["StackId"].as_str().unwrap();
            assert!(
                stack.starts_with(&format!(
                    "arn:aws:cloudformation:{}:{}:stack/",
                    settings::REGION,
                    settings::ACCOUNT
                )),
                "{name}: a stack of the emulator's account and region: {stack}"
            );
            let result = function.invoke(&with_response_url(event.clone(), &url), WAIT);
            assert!(result.is_ok(), "{name}: {result:?}\n{}", function.output());
            // What the user reads back with curl.
            let answer = http_client::request("GET", &url, None)
                .unwrap_or_else(|e| panic!("{name}: GET {url}: {e}"));
            assert_eq!(
                answer["Status"],
                "SUCCESS",
                "{name}: {answer}\n{}",
                function.output()
            );
            for field in ["RequestId", "LogicalResourceId", "StackId"] {
                assert_eq!(answer[field], event[field], "{name}: {field} of the answer");
            }
            // The files of one resource agree on its physical id, as CloudFormation's would.
            let answered = answer["PhysicalResourceId"].as_str().unwrap().to_string();
            if let Some(given) = event["PhysicalResourceId"].as_str() {
                assert_eq!(answered, given, "{name}: the physical id must not change");
            }
            match &physical_id {
                None => physical_id = Some(answered),
                Some(first) => assert_eq!(&answered, first, "{name}: the Create's physical id"),
            }
        }
    }
}

#[test]
fn every_event_file_runs_against_make_local() {
    let local = LocalAws::start("127.0.0.1", 0, Stdio::null());
    let env = parse_export_lines(&local.export_lines());
    assert!(
        env.iter()
            .any(|(k, v)| k == "AWS_ENDPOINT_URL" && *v == local.endpoint),
        "{env:?}"
    );

    // Custom resources: SUCCESS for every file, Delete included, readable with GET.
    let runtime_arn = |id: &str| {
        format!(
            "arn:aws:bedrock-agentcore:{}:{}:runtime/{id}",
            settings::REGION,
            settings::ACCOUNT
        )
    };
    custom_resources_answer_success(&local, &env, "runtime-policy");
    let policies = local.emulator.resource_policies();
    assert!(
        policies
            .get(&runtime_arn(corebound_tests::local::seed::RUNTIME_IDS[0]))
            .is_none_or(|p| p["Statement"].as_array().is_none_or(Vec::is_empty)),
        "the Delete removed the statement: {policies:?}"
    );
    custom_resources_answer_success(&local, &env, "memory-grant");
    let listed = aws_calls::query(
        &local.emulator,
        "iam",
        "ListRolePolicies",
        &[("RoleName", corebound_tests::local::seed::GRANT_ROLE)],
    )
    .unwrap();
    assert!(
        !listed.contains("AgentCoreMemory-") && !listed.contains("AgentCoreInvoke-"),
        "the Deletes removed the grants: {listed}"
    );
    let stored =
        http_client::request("GET", &format!("{}{RESPONSE_PATH}", local.endpoint), None).unwrap();
    assert_eq!(
        stored["responses"],
        serde_json::json!(["memory-grant", "runtime-policy"])
    );

    // The remediator: every file handled without an error, and every resource it reports
    // (seeded as its creator left it) now carries the mandatory tags.
    let mut remediator = start("remediator", &env);
    for (name, event) in files("remediator") {
        // The remediator acts only on events from its own account: the emulator's.
        assert_eq!(event["account"], settings::ACCOUNT, "{name}: account");
        assert_eq!(event["region"], settings::REGION, "{name}: region");
        let result = remediator.invoke(&event, WAIT);
        assert!(
            result.is_ok(),
            "{name}: {result:?}\n{}",
            remediator.output()
        );
    }
    let emu = &local.emulator;
    let expected: BTreeMap<String, String> = required_tags()
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let account = settings::ACCOUNT;
    let region = settings::REGION;
    let agentcore = |kind: &str, id: &str| {
        fixtures::agentcore_tags(
            emu,
            &format!("arn:aws:bedrock-agentcore:{region}:{account}:{kind}/{id}"),
        )
    };
    let secret = fixtures::describe_secret(
        emu,
        &format!(
            "arn:aws:secretsmanager:{region}:{account}:secret:corebound-demo-db-credentials-Xy3AbC"
        ),
    );
    let tagged: Vec<(&str, BTreeMap<String, String>)> = vec![
        (
            "topic",
            fixtures::topic_tags(
                emu,
                &format!("arn:aws:sns:{region}:{account}:corebound-demo-alerts"),
            ),
        ),
        (
            "queue",
            fixtures::queue_tags(
                emu,
                &format!("{}/{account}/corebound-demo-jobs", local.endpoint),
            ),
        ),
        (
            "bucket",
            fixtures::bucket_tags(emu, &format!("corebound-demo-artifacts-{account}")),
        ),
        ("secret", aws_calls::tag_list(&secret["Tags"])),
        (
            "log group",
            fixtures::log_group_tags(emu, "corebound-demo-agent-logs"),
        ),
        ("role", fixtures::role_tags(emu, "LPMA_Demo_AgentRuntime")),
        (
            "data key",
            fixtures::key_tags(emu, "0f2c3d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
        ),
        (
            "runtime",
            agentcore("runtime", "corebound_demo_agent-Ab12Cd34Ef"),
        ),
        (
            "memory",
            agentcore("memory", corebound_tests::local::seed::MEMORY_ID),
        ),
        (
            "gateway",
            agentcore("gateway", "corebound-demo-gateway-k3x9q2w7zt"),
        ),
    ];
    for (what, tags) in tagged {
        for (key, value) in &expected {
            assert_eq!(
                tags.get(key),
                Some(value),
                "{what}: tag {key} after the remediator ran: {tags:?}\n{}",
                remediator.output()
            );
        }
    }
    // The failed CreateTopic (create-topic-failed.json) created nothing and nothing was made up.
    let topics = aws_calls::query(emu, "sns", "ListTopics", &[]).unwrap();
    assert!(!topics.contains("corebound-demo-audit"), "{topics}");

    // The preflight hook: every request answered per the contract, its token echoed, the
    // STACK payload fetched from the local S3 and the stack tags read from the seeded stack.
    let mut hook = start("preflight-hook", &env);
    for (name, mut request) in files("preflight-hook") {
        if let Some(url) = request["requestData"]["payload"].as_str() {
            request["requestData"]["payload"] = Value::String(on_port(url, local.port));
        }
        let answer = match hook.invoke(&request, WAIT) {
            corebound_tests::InvocationResult::Response(answer) => answer,
            other => panic!("{name}: {other:?}\n{}", hook.output()),
        };
        assert_eq!(
            answer["clientRequestToken"], request["clientRequestToken"],
            "{name}"
        );
        let status = answer["hookStatus"].as_str().unwrap_or_default();
        assert!(["SUCCESS", "FAILED"].contains(&status), "{name}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("could not check"),
            "{name}: {answer}\n{}",
            hook.output()
        );
    }
}

/// `events/env.json` is what `local --sam-env-vars` prints: the settings `make local` prints,
/// reaching the emulator through host.docker.internal.
#[test]
fn sam_env_vars_file_matches_the_printed_settings() {
    let path = repo_root().join("events/env.json");
    let text = std::fs::read_to_string(&path).expect("events/env.json");
    let file: Value = serde_json::from_str(&text).expect("events/env.json is JSON");
    assert_eq!(
        file,
        sam_env_vars(DEFAULT_PORT),
        "regenerate with `cargo run -p corebound-tests --bin local -- --sam-env-vars > events/env.json`"
    );
}

/// The variables template.yaml sets on one function (`Environment: Variables:` keys), without
/// those of organization mode (`!If [OrganizationMode, ..., !Ref AWS::NoValue]`): they are absent
/// unless `OrganizationId` is set (tests/template/test_organization.py), so a single-account
/// local run has none of them either.
fn template_variables(template: &str, logical_id: &str) -> Vec<String> {
    let header = format!("  {logical_id}:");
    let mut lines = template.lines().skip_while(|line| *line != header).skip(1);
    // The resource's own lines: up to the next resource (two spaces) or section (none).
    let resource: Vec<&str> = lines
        .by_ref()
        .take_while(|line| {
            let depth = line.len() - line.trim_start().len();
            line.trim().is_empty() || line.trim_start().starts_with('#') || depth > 2
        })
        .collect();
    assert!(!resource.is_empty(), "{logical_id} not in template.yaml");
    let Some(at) = resource.iter().position(|line| line.trim() == "Variables:") else {
        return Vec::new();
    };
    let depth_of = |line: &str| line.len() - line.trim_start().len();
    let variables_depth = depth_of(resource[at]);
    // (name, the text of its value), the value possibly spread over the following lines.
    let mut variables: Vec<(String, String)> = Vec::new();
    let mut indent = None;
    for line in &resource[at + 1..] {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let depth = depth_of(line);
        if depth <= variables_depth {
            break;
        }
        if *indent.get_or_insert(depth) == depth {
            if let Some((name, value)) = trimmed.split_once(':') {
                variables.push((name.to_string(), value.to_string()));
            }
        } else if let Some((_, value)) = variables.last_mut() {
            value.push_str(trimmed);
        }
    }
    let mut names: Vec<String> = variables
        .into_iter()
        .filter(|(_, value)| {
            let value = value.trim_start();
            !(value.starts_with("!If") && value.contains("OrganizationMode"))
        })
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
}

/// `make local` gives each function every variable template.yaml gives it (with local values),
/// so a setting added to the template reaches the local run too. Except
/// `RESPONSE_URL_ALLOWED_HOSTS`: the template declares it empty (unset: it must never be set in
/// AWS) only so that `sam local --env-vars` may override it, and `make local` sets it.
#[test]
fn printed_settings_cover_what_the_template_sets() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    for function in settings::functions("127.0.0.1") {
        let mut local: Vec<String> = function
            .settings
            .iter()
            .map(|(name, _)| name.to_string())
            .filter(|name| name != "RESPONSE_URL_ALLOWED_HOSTS")
            .collect();
        local.sort();
        let declared: Vec<String> = template_variables(&template, function.logical_id)
            .into_iter()
            .filter(|name| name != "RESPONSE_URL_ALLOWED_HOSTS")
            .collect();
        assert_eq!(
            local,
            declared,
            "{}: the variables template.yaml sets, and those `make local` prints (tests/src/local/settings.rs)",
            function.logical_id
        );
    }
}
