//! `corebound sweep --mode report|enforce [--report FILE]`: the scheduled sweep, run in this
//! process against the configured AWS endpoints, with the remediator's own code
//! (`remediator::sweep::run_local`: the same units, plan, fixes and report as the Lambda).
//!
//! Settings are the remediator's environment variables; each has a flag that overrides it.
//! A progress bar on a terminal (plain lines otherwise) goes to stderr; the summary table
//! by type and outcome to stdout. Exit code 0 when everything in scope is compliant, 1 when
//! non-compliant resources remain or something needs a person, 2 on an error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use corebound::remediation::{Mode, RemediationConfig};
use corebound::sweep::{Outcome, Report, SweepSettings};
use remediator::clients::Clients;
use remediator::handler::Remediator;
use remediator::retry::RetryPolicy;
use remediator::sweep::{run_local, Progress, SweepError};

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CliMode {
    /// Decide and report; write nothing to the resources.
    Report,
    /// Fix what the rules allow (the remediator's enforce mode).
    Enforce,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// report: write nothing; enforce: add the missing tags and keys.
    #[arg(long, env = "MODE", value_enum, ignore_case = true)]
    mode: CliMode,
    /// Write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The remediator's settings (boxed: the subcommand enum stays small).
    #[command(flatten)]
    settings: Box<Settings>,
}

/// The remediator's environment variables, each with a flag that overrides it.
#[derive(Debug, clap::Args)]
pub struct Settings {
    /// JSON object of the mandatory tags and their values [env: REQUIRED_TAGS].
    #[arg(long, env = "REQUIRED_TAGS", hide_env_values = true)]
    required_tags: Option<String>,
    /// The project CMK's ARN [env: KMS_KEY_ARN].
    #[arg(long, env = "KMS_KEY_ARN")]
    kms_key_arn: Option<String>,
    /// Comma-separated name globs of the resources this project owns [env: SCOPE_PATTERNS].
    #[arg(long, env = "SCOPE_PATTERNS")]
    scope_patterns: Option<String>,
    /// Role-name prefix the permissions boundary requires [env: REQUIRED_ROLE_PREFIX].
    #[arg(long, env = "REQUIRED_ROLE_PREFIX")]
    required_role_prefix: Option<String>,
    /// Tag key that opts a resource out (value `off`) [env: OPT_OUT_TAG].
    #[arg(long, env = "OPT_OUT_TAG")]
    opt_out_tag: Option<String>,
    /// Also store the report in this bucket, under the same lock as the scheduled sweep
    /// [env: REPORT_BUCKET].
    #[arg(long, env = "REPORT_BUCKET")]
    report_bucket: Option<String>,
    /// Resources per unit, 1..=1000 [env: SWEEP_PAGE_SIZE].
    #[arg(long, env = "SWEEP_PAGE_SIZE")]
    page_size: Option<String>,
    /// Organization mode: the per-account settings, a JSON document or `ssm:<parameter>`;
    /// every account and region it gives a key for is swept through the spoke role
    /// [env: ACCOUNT_SETTINGS].
    #[arg(long, env = "ACCOUNT_SETTINGS", hide_env_values = true)]
    account_settings: Option<String>,
    /// The remediation role's name in each spoke account [env: SPOKE_ROLE_NAME].
    #[arg(long, env = "SPOKE_ROLE_NAME")]
    spoke_role_name: Option<String>,
    /// The ExternalId the spoke roles require [env: SPOKE_EXTERNAL_ID].
    #[arg(long, env = "SPOKE_EXTERNAL_ID", hide_env_values = true)]
    spoke_external_id: Option<String>,
    /// Tries per AWS call [env: REMEDIATION_RETRY_ATTEMPTS].
    #[arg(long, env = "REMEDIATION_RETRY_ATTEMPTS")]
    retry_attempts: Option<String>,
    /// First backoff in milliseconds [env: REMEDIATION_RETRY_BACKOFF_MS].
    #[arg(long, env = "REMEDIATION_RETRY_BACKOFF_MS")]
    retry_backoff_ms: Option<String>,
}

impl Args {
    /// The settings by environment-variable name (flags win: clap reads the variable only
    /// when the flag is absent).
    fn lookup(&self, name: &str) -> Option<String> {
        if name == "MODE" {
            return Some(
                match self.mode {
                    CliMode::Report => "report",
                    CliMode::Enforce => "enforce",
                }
                .to_string(),
            );
        }
        self.settings.lookup(name)
    }
}

impl Settings {
    fn lookup(&self, name: &str) -> Option<String> {
        let value = match name {
            "REQUIRED_TAGS" => self.required_tags.clone(),
            "KMS_KEY_ARN" => self.kms_key_arn.clone(),
            "SCOPE_PATTERNS" => self.scope_patterns.clone(),
            "REQUIRED_ROLE_PREFIX" => self.required_role_prefix.clone(),
            "OPT_OUT_TAG" => self.opt_out_tag.clone(),
            "REPORT_BUCKET" => self.report_bucket.clone(),
            "SWEEP_PAGE_SIZE" => self.page_size.clone(),
            "REMEDIATION_RETRY_ATTEMPTS" => self.retry_attempts.clone(),
            "REMEDIATION_RETRY_BACKOFF_MS" => self.retry_backoff_ms.clone(),
            "ACCOUNT_SETTINGS" => self.account_settings.clone(),
            "SPOKE_ROLE_NAME" => self.spoke_role_name.clone(),
            "SPOKE_EXTERNAL_ID" => self.spoke_external_id.clone(),
            _ => None,
        };
        value.filter(|value| !value.trim().is_empty())
    }
}

pub async fn run(args: Args) -> Result<ExitCode, CliError> {
    let lookup = |name: &str| args.lookup(name);
    let settings_error =
        |error: corebound::remediation::ConfigError| CliError::Settings(error.to_string());
    let mut config = RemediationConfig::from_env(lookup).map_err(settings_error)?;
    let retry = RetryPolicy::from_env(lookup).map_err(settings_error)?;
    let settings = SweepSettings::from_env(lookup).map_err(settings_error)?;
    let sdk = corebound::aws::load_sdk_config().await;
    let clients = Clients::new(&sdk);
    let region = sdk.region().map(ToString::to_string);
    // The Lambda's start-up check: a project key with a problem is never switched to.
    config.key_status =
        remediator::project_key::check(&clients, &retry, &config.kms_key_arn, region.as_deref())
            .await;
    if !config.key_status.usable() {
        eprintln!(
            "corebound: the project key {} cannot be used ({}): no encryption is changed",
            config.kms_key_arn,
            config.key_status.describe_problems()
        );
    }
    let mode = config.mode;
    let raw = lookup(corebound::accounts::ACCOUNT_SETTINGS);
    let accounts = remediator::account_settings::load(&sdk, &config, &retry, raw.as_deref())
        .await
        .map_err(CliError::Settings)?;
    let remediator = Remediator::for_command(config, retry, &sdk, clients, Some(accounts))
        .map_err(settings_error)?;
    let mut bar = Bar::new();
    let result = run_local(&remediator, &settings, &retry, |progress| {
        bar.show(progress)
    })
    .await;
    bar.finish();
    let (report, stored) = match result {
        Ok(done) => done,
        Err(SweepError::AlreadyRunning { sweep_id }) => {
            return Err(CliError::Other(format!(
                "another sweep is running ({sweep_id}); try again when it has finished"
            )))
        }
        Err(error) => return Err(CliError::Other(error.to_string())),
    };
    if let Some(path) = &args.report {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|error| CliError::Other(error.to_string()))?;
        std::fs::write(path, text + "\n")?;
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{}", table(&report))?;
    if let Some(path) = &args.report {
        writeln!(out, "Report: {}", path.display())?;
    }
    if let Some(location) = &stored {
        writeln!(out, "Report: {location}")?;
    }
    let summary = &report.summary;
    writeln!(
        out,
        "{} in-scope resources ({}): {} still non-compliant, {} need a person.",
        summary.resources,
        match mode {
            Mode::Report => "report mode, nothing changed",
            Mode::Enforce => "enforce mode",
        },
        summary.non_compliant,
        summary.needs_person
    )?;
    Ok(if summary.non_compliant > 0 || summary.needs_person > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The summary table: one row per type, one column per outcome, then the totals.
fn table(report: &Report) -> String {
    let mut headers = vec!["type".to_string()];
    headers.extend(Outcome::ALL.iter().map(|outcome| outcome.to_string()));
    headers.push("out-of-scope".to_string());
    let mut rows = Vec::new();
    for entry in &report.types {
        let mut row = vec![serde_json::to_value(entry.resource_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()];
        row.extend(Outcome::ALL.iter().map(|outcome| {
            entry
                .outcomes
                .get(outcome)
                .copied()
                .unwrap_or(0)
                .to_string()
        }));
        row.push(entry.out_of_scope.to_string());
        // A hub's sweep: one row per type in each account and region.
        if let (Some(account), Some(region)) = (&entry.account, &entry.region) {
            row[0].push_str(&format!(" {account}/{region}"));
        }
        if entry.unreadable.is_some() {
            row[0].push_str(" (unreadable)");
        }
        rows.push(row);
    }
    let mut total = vec!["total".to_string()];
    total.extend(Outcome::ALL.iter().map(|outcome| {
        report
            .summary
            .outcomes
            .get(outcome)
            .copied()
            .unwrap_or(0)
            .to_string()
    }));
    total.push(report.summary.out_of_scope.to_string());
    rows.push(total);
    let widths: Vec<usize> = (0..headers.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].len())
                .chain([headers[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column == 0 {
                text.push_str(&format!("{cell:<width$}", width = widths[column]));
            } else {
                text.push_str(&format!("  {cell:>width$}", width = widths[column]));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut text = line(&headers);
    for row in &rows {
        text.push_str(&line(row));
    }
    text
}

/// Progress on stderr: a bar redrawn in place on a terminal, a line per unit otherwise.
struct Bar {
    terminal: bool,
    started: Instant,
    drawn: bool,
}

impl Bar {
    fn new() -> Self {
        Bar {
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            drawn: false,
        }
    }

    fn show(&mut self, progress: Progress<'_>) {
        let part = progress.part;
        let kind = serde_json::to_value(part.resource_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let total = progress.done + progress.waiting;
            let width = 30;
            let filled = (progress.done * width)
                .checked_div(total.max(1))
                .unwrap_or(0);
            let _ = write!(
                err,
                "\r[{}{}] {} units, {} resources, {}s  {kind} page {}   ",
                "#".repeat(filled),
                "-".repeat(width - filled.min(width)),
                progress.done,
                progress.resources,
                self.started.elapsed().as_secs(),
                part.page + 1,
            );
            self.drawn = true;
        } else {
            let _ = writeln!(
                err,
                "swept {kind} page {}: {} listed, {} in scope, {} out of scope",
                part.page + 1,
                part.listed,
                part.resources.len(),
                part.out_of_scope
            );
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corebound::remediation::ResourceKind;
    use corebound::sweep::{Manifest, Part, ResourceResult};

    #[test]
    fn the_table_has_a_row_per_type_and_the_totals() {
        let manifest = Manifest {
            sweep_id: "20261203T231500Z-1a2b3c4d".into(),
            mode: Mode::Report,
            types: vec![ResourceKind::SnsTopic, ResourceKind::Secret],
            started_at: "t".into(),
            started_at_epoch: 0,
            account: None,
            region: None,
            targets: Vec::new(),
        };
        let part = Part {
            sweep_id: manifest.sweep_id.clone(),
            resource_type: ResourceKind::Secret,
            page: 0,
            last: true,
            listed: 2,
            out_of_scope: 1,
            unreadable: None,
            resources: vec![ResourceResult::gone(ResourceKind::Secret, "arn:s", "x")],
            account: None,
            region: None,
        };
        let text = table(&Report::assemble(&manifest, vec![part], "t".into()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("type") && lines[0].ends_with("out-of-scope"));
        assert!(lines[2].starts_with("secret"));
        assert!(lines[3].starts_with("total"));
        assert!(lines[3].ends_with('1'), "{text}");
    }
}
