//! `corebound check` end to end: the built binary on the fixture templates of
//! `tests/fixtures/preflight/`, compared exactly with each `<name>.expected.json`.
//!
//! Every fixture runs with the same settings (flags below, environment variables removed)
//! plus the extra arguments of its `<name>.args` (one per line: stack tags). `clean.yaml`
//! must produce no finding; each other fixture violates one rule family. After a deliberate
//! rule change, `UPDATE_EXPECTED=1 cargo test -p corebound-tests --test preflight_check`
//! rewrites the expected files: review their diff like code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use corebound_tests::{binary_path, repo_root};
use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/preflight";
const SETTINGS: [&str; 6] = [
    "--required-role-prefix",
    "LPMA_",
    "--permissions-boundary-arn",
    "arn:aws:iam::123456789012:policy/BoundaryForLPMA",
    "--kms-key-arn",
    "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
];
const VARIABLES: [&str; 4] = [
    "REQUIRED_ROLE_PREFIX",
    "REQUIRED_TAGS",
    "KMS_KEY_ARN",
    "PERMISSIONS_BOUNDARY_ARN",
];

fn corebound(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary_path("corebound"));
    command.current_dir(repo_root()).args(args);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("corebound runs")
}

fn fixtures() -> Vec<PathBuf> {
    let mut templates: Vec<PathBuf> = std::fs::read_dir(repo_root().join(FIXTURES))
        .expect("fixture folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            ) && !path.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    templates.sort();
    templates
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .expect("inside the repository")
        .to_string_lossy()
        .into_owned()
}

fn extra_args(template: &Path) -> Vec<String> {
    let args = template.with_extension("args");
    std::fs::read_to_string(args)
        .map(|text| text.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

fn run_fixture(template: &Path, format: &str) -> Output {
    let path = relative(template);
    let extra = extra_args(template);
    let mut args: Vec<&str> = vec!["check", &path, "--format", format];
    args.extend(SETTINGS);
    args.extend(extra.iter().map(String::as_str));
    corebound(&args, &[])
}

#[test]
fn every_fixture_produces_exactly_the_expected_findings() {
    let templates = fixtures();
    assert!(templates.len() >= 6, "fixtures: {templates:?}");
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    for template in templates {
        let output = run_fixture(&template, "json");
        let stdout = String::from_utf8(output.stdout).expect("UTF-8");
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|error| panic!("{}: not JSON ({error}): {stdout}", template.display()));
        let findings = report["findings"].as_array().expect("findings list");
        let clean = template.file_stem().and_then(|s| s.to_str()) == Some("clean");
        assert_eq!(
            output.status.code(),
            Some(if clean { 0 } else { 1 }),
            "{}: {stdout}",
            template.display()
        );
        assert_eq!(
            clean,
            findings.is_empty(),
            "{}: {stdout}",
            template.display()
        );
        let name = template.file_stem().unwrap().to_string_lossy().into_owned();
        let expected_path = template.with_file_name(format!("{name}.expected.json"));
        if update {
            std::fs::write(&expected_path, &stdout).expect("write expected");
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .expect("expected file is JSON");
        assert_eq!(report, expected, "{}", template.display());
    }
}

/// Our own templates pass our own preflight, with the settings `make check-templates` uses:
/// once with the project key the stack creates, once with a key supplied (the second run takes
/// `templates/`, whose KmsKeyArn has no default).
#[test]
fn our_own_templates_pass_our_own_preflight() {
    let root = repo_root();
    let args: Vec<String> =
        std::fs::read_to_string(root.join("tests/fixtures/preflight-own-templates.args"))
            .expect("settings file")
            .lines()
            .map(str::to_string)
            .collect();
    let yaml_in = |dir: &str| -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
            .map(|entries| {
                entries
                    .map(|entry| entry.expect("entry").path())
                    .filter(|path| path.extension().and_then(|e| e.to_str()) == Some("yaml"))
                    .map(|path| relative(&path))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    let runs = [
        (vec!["template.yaml".to_string()], yaml_in("examples"), vec![]),
        (
            vec!["template.yaml".to_string()],
            yaml_in("templates"),
            vec![
                "--parameter".to_string(),
                "KmsKeyArn=arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789".to_string(),
            ],
        ),
    ];
    for (mut files, more, extra) in runs {
        files.extend(more);
        let mut command: Vec<&str> = vec!["check"];
        command.extend(files.iter().map(String::as_str));
        command.extend(args.iter().map(String::as_str));
        command.extend(extra.iter().map(String::as_str));
        let output = corebound(&command, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "corebound check {files:?} (see `make check-templates`):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn text_output_names_file_line_pattern_resource_problem_and_fix() {
    let template = repo_root().join(FIXTURES).join("encryption.yaml");
    let output = run_fixture(&template, "text");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let first = stdout.lines().next().unwrap();
    assert_eq!(
        first,
        "tests/fixtures/preflight/encryption.yaml:8: [pattern 4/8] Unencrypted (AWS::SNS::Topic): no KmsMasterKeyId: the resource is not encrypted with a customer-managed key — set KmsMasterKeyId: arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789 (the project CMK)"
    );
    assert!(
        stdout.lines().any(|line| line.contains("(cannot tell)")),
        "{stdout}"
    );
    assert!(stdout.ends_with("cannot tell\n"), "{stdout}");
}

#[test]
fn sarif_output_has_the_required_fields_and_one_result_per_finding() {
    let template = repo_root().join(FIXTURES).join("roles.yaml");
    let json: Value = serde_json::from_slice(&run_fixture(&template, "json").stdout).expect("json");
    let output = run_fixture(&template, "sarif");
    assert_eq!(output.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&output.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "corebound");
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    for (result, finding) in results.iter().zip(findings) {
        assert_eq!(result["ruleId"], finding["rule"]);
        assert!(rule_ids.contains(&result["ruleId"].as_str().unwrap()));
        assert!(result["message"]["text"]
            .as_str()
            .unwrap()
            .contains(finding["message"].as_str().unwrap()));
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            location["artifactLocation"]["uri"],
            "tests/fixtures/preflight/roles.yaml"
        );
        assert_eq!(location["region"]["startLine"], finding["line"]);
    }
}

#[test]
fn settings_come_from_the_environment_and_flags_override_them() {
    let path = format!("{FIXTURES}/roles.yaml");
    let prefixes = |output: Output| -> Vec<String> {
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["rule"] == "role-prefix")
            .map(|finding| finding["logical_id"].as_str().unwrap().to_string())
            .collect()
    };
    let from_env = corebound(
        &["check", &path, "--format", "json"],
        &[("REQUIRED_ROLE_PREFIX", "LPMA_")],
    );
    let env_ids = prefixes(from_env);
    assert!(env_ids.contains(&"WrongPrefix".to_string()), "{env_ids:?}");
    // A flag overrides the variable: with prefix CrossAccount-, WrongPrefix is fine.
    let overridden = corebound(
        &[
            "check",
            &path,
            "--format",
            "json",
            "--required-role-prefix",
            "CrossAccount-",
        ],
        &[("REQUIRED_ROLE_PREFIX", "LPMA_")],
    );
    assert!(!prefixes(overridden).contains(&"WrongPrefix".to_string()));
    // An invalid setting is an error (exit 2) naming the variable.
    let bad = corebound(&["check", &path], &[("KMS_KEY_ARN", "alias/aws/sns")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("KMS_KEY_ARN"));
}

#[test]
fn unreadable_templates_exit_2_and_the_others_are_still_reported() {
    let dir = std::env::temp_dir().join(format!("corebound-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "Resources: [unclosed\n").unwrap();
    let clean = format!("{FIXTURES}/clean.yaml");
    let output = corebound(
        &[
            "check",
            &clean,
            broken.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.yaml") && stderr.contains("not a JSON or YAML template"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["templates"], serde_json::json!([clean]));
    let missing = corebound(&["check", "does-not-exist.yaml"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    std::fs::remove_dir_all(dir).ok();
}
