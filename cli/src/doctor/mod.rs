//! `corebound doctor`: read-only diagnosis of the calling principal's account against the
//! boundary patterns. The decisions are `corebound::doctor`'s; this module reads the settings,
//! makes the AWS calls ([`aws`]) and prints the report.
//!
//! Exit codes: 0 no problem (some patterns may be "cannot tell"), 1 a pattern has a problem,
//! 2 the doctor could not run (bad setting, no credentials, STS unreachable).

mod aws;
mod counts;

use std::process::ExitCode;

use corebound::arn::Location;
use corebound::doctor::{
    answer, key_policy_check, probes, simulation_checks, simulation_unavailable, Caller,
    DoctorSettings, Principal, Report,
};

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Flags override the environment variables the functions read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Role-name prefix the permissions boundary requires (e.g. LPMA_).
    #[arg(long, env = "REQUIRED_ROLE_PREFIX")]
    role_prefix: Option<String>,
    /// ARN of the permissions boundary every created role must carry.
    #[arg(long, env = "PERMISSIONS_BOUNDARY_ARN")]
    permissions_boundary_arn: Option<String>,
    /// ARN of the project CMK (pattern 4 reads its key policy).
    #[arg(long, env = "KMS_KEY_ARN")]
    kms_key_arn: Option<String>,
    /// Comma-separated name globs of the project's resources.
    #[arg(long, env = "SCOPE_PATTERNS")]
    scope_patterns: Option<String>,
    /// The <App> of <Prefix><App>_<Purpose> (default App).
    #[arg(long = "app", env = "APP_NAME")]
    app: Option<String>,
    /// JSON object of the mandatory tags, as for the remediator (for the count of resources
    /// missing them).
    #[arg(long, env = "REQUIRED_TAGS", hide_env_values = true)]
    required_tags: Option<String>,
    /// Leave out the count of in-scope resources missing tags or the key (it lists every
    /// resource of the swept types).
    #[arg(long)]
    no_counts: bool,
    /// Services whose use of the project key pattern 4 checks (default: sns,sqs,logs,s3,secretsmanager).
    #[arg(long)]
    services: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub async fn run(args: Args) -> Result<ExitCode, CliError> {
    let settings = DoctorSettings::from_lookup(
        |name| match name {
            "REQUIRED_ROLE_PREFIX" => args.role_prefix.clone(),
            "PERMISSIONS_BOUNDARY_ARN" => args.permissions_boundary_arn.clone(),
            "KMS_KEY_ARN" => args.kms_key_arn.clone(),
            "SCOPE_PATTERNS" => args.scope_patterns.clone(),
            "APP_NAME" => args.app.clone(),
            _ => None,
        },
        args.services.as_deref(),
    )
    .map_err(|e| CliError::Settings(e.to_string()))?;
    let report = diagnose(&settings, &args).await?;
    match args.format {
        Format::Text => print!("{}", report.text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        ),
    }
    Ok(if report.has_problems() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn diagnose(settings: &DoctorSettings, args: &Args) -> Result<Report, CliError> {
    let config = corebound::aws::load_sdk_config().await;
    let region = config
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| CliError::Settings("no AWS region: set AWS_REGION".to_string()))?;
    let clients = aws::Clients::new(&config);
    let identity = clients.caller_identity().await?;
    let caller = Caller::parse(&identity.arn);
    let partition = identity.arn.split(':').nth(1).unwrap_or("aws").to_string();
    let at = Location {
        partition,
        region,
        account: identity.account.clone(),
    };
    let mut notes = Vec::new();

    let principal = clients.principal(&caller, &mut notes).await;
    let mut checks = match &principal {
        Err((why, fix)) => simulation_unavailable(why, fix.as_deref()),
        Ok(principal) => simulate(&clients, settings, &at, principal).await,
    };

    let key_check = match settings.kms_key_arn.as_deref() {
        None => key_policy_check(None, Err(""), &settings.services, None, &at),
        Some(key_arn) => {
            let policy = clients.key_policy(&config, key_arn).await;
            key_policy_check(
                Some(key_arn),
                policy.as_ref().map_err(String::as_str),
                &settings.services,
                settings.scope_patterns.as_deref(),
                &at,
            )
        }
    };
    // Report order: 1, 2, 4, 5, 6, tags.
    checks.insert(2.min(checks.len()), key_check);
    if args.no_counts {
        notes.push(
            "in-scope resources missing tags or the key were not counted (--no-counts)".to_string(),
        );
    } else {
        let count = counts::count(&config, |name| match name {
            "REQUIRED_TAGS" => args.required_tags.clone(),
            "KMS_KEY_ARN" => settings.kms_key_arn.clone(),
            "SCOPE_PATTERNS" => settings.scope_patterns.as_ref().map(|p| p.join(",")),
            "REQUIRED_ROLE_PREFIX" => Some(settings.role_prefix.clone()),
            _ => None,
        })
        .await?;
        checks.push(count);
    }
    Ok(Report {
        caller: identity.arn.clone(),
        simulated_principal: principal.ok().map(|p| p.arn),
        account: at.account.clone(),
        region: at.region.clone(),
        notes,
        checks,
    })
}

/// Patterns 1, 2, 5 and 6: one SimulatePrincipalPolicy call per probe.
async fn simulate(
    clients: &aws::Clients,
    settings: &DoctorSettings,
    at: &Location,
    principal: &Principal,
) -> Vec<corebound::doctor::Check> {
    let mut answers = Vec::new();
    for probe in probes(settings, at, principal) {
        match clients.simulate(&principal.arn, &probe).await {
            Ok(results) => answers.push((probe.kind, answer(&probe, &results, principal))),
            Err(failure) if failure.is_access_denied() => {
                return simulation_unavailable(
                    &format!(
                        "the caller may not call iam:SimulatePrincipalPolicy ({})",
                        failure.summary()
                    ),
                    Some(&format!(
                        "allow iam:SimulatePrincipalPolicy on {} to the caller (it reads, never changes)",
                        principal.arn
                    )),
                )
            }
            Err(failure) => {
                return simulation_unavailable(
                    &format!("iam:SimulatePrincipalPolicy failed ({})", failure.summary()),
                    None,
                )
            }
        }
    }
    simulation_checks(settings, at, principal, &answers)
}
