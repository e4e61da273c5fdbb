//! `corebound check TEMPLATE...`: the preflight rules on CloudFormation / SAM templates
//! (JSON or YAML) before deployment, as text, JSON or SARIF.
//!
//! Settings come from the functions' environment variables (`REQUIRED_ROLE_PREFIX`,
//! `REQUIRED_TAGS`, `KMS_KEY_ARN`) plus `PERMISSIONS_BOUNDARY_ARN`; a flag of the same
//! meaning overrides its variable. Both go through the one parser the hook uses
//! (`PreflightSettings::from_env`). Exit codes: 0 no finding, 1 findings (cannot-tell
//! included: someone has to look), 2 a template or a setting could not be read.

mod render;
mod sarif;

use std::path::PathBuf;
use std::process::ExitCode;

use corebound::preflight::{check_template, Finding, PreflightSettings};
use corebound::template::Template;

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line: [pattern N] LogicalId (Type): problem — fix`
    Text,
    /// A JSON document with every finding (docs/reference/preflight-rules.md).
    Json,
    /// SARIF 2.1.0 for code-scanning views.
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CloudFormation or SAM templates (JSON or YAML).
    #[arg(required = true, value_name = "TEMPLATE")]
    pub templates: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Role-name prefix the boundary requires (overrides REQUIRED_ROLE_PREFIX).
    #[arg(long, value_name = "PREFIX")]
    pub required_role_prefix: Option<String>,
    /// Extra required tag keys, comma-separated or the functions' JSON object (overrides
    /// REQUIRED_TAGS); the five mandatory tags are always required.
    #[arg(long, value_name = "TAGS")]
    pub required_tags: Option<String>,
    /// The project CMK's key ARN (overrides KMS_KEY_ARN).
    #[arg(long, value_name = "ARN")]
    pub kms_key_arn: Option<String>,
    /// The permissions boundary every role must carry (overrides PERMISSIONS_BOUNDARY_ARN).
    #[arg(long, value_name = "ARN")]
    pub permissions_boundary_arn: Option<String>,
    /// A template parameter's value for this deployment (repeatable); overrides its Default.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// A stack tag of this deployment (repeatable): counts for every taggable resource.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
}

/// The findings of one template file.
pub struct FileReport {
    pub path: String,
    pub findings: Vec<Finding>,
}

pub async fn run(args: Args) -> Result<ExitCode, CliError> {
    let settings = settings(&args, |name| std::env::var(name).ok())?;
    let parameters = pairs(&args.parameters, "--parameter")?;
    let tags = pairs(&args.tags, "--tag")?;
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for path in &args.templates {
        let shown = path.display().to_string();
        match check_file(path, &settings, &parameters, &tags) {
            Ok(findings) => reports.push(FileReport {
                path: shown,
                findings,
            }),
            Err(error) => unreadable.push(format!("{shown}: {error}")),
        }
    }
    let output = match args.format {
        Format::Text => render::text(&reports),
        Format::Json => render::json(&reports),
        Format::Sarif => sarif::sarif(&reports),
    };
    print!("{output}");
    for error in &unreadable {
        eprintln!("corebound check: {error}");
    }
    Ok(if !unreadable.is_empty() {
        ExitCode::from(2)
    } else if reports.iter().any(|report| !report.findings.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn check_file(
    path: &std::path::Path,
    settings: &PreflightSettings,
    parameters: &[(String, String)],
    tags: &[(String, String)],
) -> Result<Vec<Finding>, CliError> {
    let text = std::fs::read_to_string(path)?;
    let mut template =
        Template::parse(&text).map_err(|error| CliError::Other(error.to_string()))?;
    for (key, value) in parameters {
        // A parameter meant for another of the templates given is not an error here.
        let _ = template.set_parameter(key, value);
    }
    for (key, value) in tags {
        template.add_stack_tag(key, value);
    }
    Ok(check_template(&template, settings))
}

/// Flags override the environment variables of the same meaning.
fn settings(
    args: &Args,
    env: impl Fn(&str) -> Option<String>,
) -> Result<PreflightSettings, CliError> {
    let flag = |name: &str| match name {
        "REQUIRED_ROLE_PREFIX" => args.required_role_prefix.clone(),
        "REQUIRED_TAGS" => args.required_tags.clone(),
        "KMS_KEY_ARN" => args.kms_key_arn.clone(),
        "PERMISSIONS_BOUNDARY_ARN" => args.permissions_boundary_arn.clone(),
        _ => None,
    };
    PreflightSettings::from_env(|name| flag(name).or_else(|| env(name)))
        .map_err(|error| CliError::Settings(error.to_string()))
}

fn pairs(values: &[String], flag: &str) -> Result<Vec<(String, String)>, CliError> {
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_string(), value.to_string()))
            }
            _ => Err(CliError::Settings(format!(
                "{flag} {pair:?}; expected KEY=VALUE"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_override_the_environment() {
        let cli = Cli::parse_from([
            "check",
            "t.yaml",
            "--required-role-prefix",
            "TEAM_",
            "--parameter",
            "A=b=c",
        ]);
        let env = |name: &str| match name {
            "REQUIRED_ROLE_PREFIX" => Some("LPMA_".to_string()),
            "PERMISSIONS_BOUNDARY_ARN" => {
                Some("arn:aws:iam::123456789012:policy/Boundary".to_string())
            }
            _ => None,
        };
        let settings = settings(&cli.args, env).unwrap();
        assert_eq!(settings.required_role_prefix.as_deref(), Some("TEAM_"));
        assert_eq!(
            settings.permissions_boundary_arn.as_deref(),
            Some("arn:aws:iam::123456789012:policy/Boundary")
        );
        assert_eq!(
            pairs(&cli.args.parameters, "--parameter").unwrap(),
            [("A".to_string(), "b=c".to_string())]
        );
        assert!(pairs(&["novalue".to_string()], "--tag").is_err());
        let bad = Cli::parse_from(["check", "t.yaml", "--kms-key-arn", "alias/x"]);
        assert!(
            matches!(settings_err(&bad.args), CliError::Settings(text) if text.contains("KMS_KEY_ARN"))
        );
    }

    fn settings_err(args: &Args) -> CliError {
        settings(args, |_| None).unwrap_err()
    }
}
