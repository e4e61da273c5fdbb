//! `ACCOUNT_SETTINGS` (issue 13): a JSON document, or `ssm:<parameter name>` read here, then
//! validated by `corebound::accounts`. Read once at start by the remediator and by
//! `corebound sweep`.

use std::time::{Duration, Instant};

use corebound::accounts::{AccountSettings, Source};
use corebound::remediation::RemediationConfig;

use crate::retry::RetryPolicy;

/// How long reading the SSM parameter may take (Lambda's init phase is limited to 10 s).
const READ_BUDGET: Duration = Duration::from_secs(6);

/// `ACCOUNT_SETTINGS` (`raw`, the variable's value), fetched (an `ssm:` parameter) and
/// validated; the error names the variable, and the account and field at fault. The
/// function's region is the SDK's (`AWS_REGION` in Lambda).
pub async fn load(
    sdk: &aws_config::SdkConfig,
    config: &RemediationConfig,
    retry: &RetryPolicy,
    raw: Option<&str>,
) -> Result<AccountSettings, String> {
    let region = sdk.region().map(ToString::to_string);
    let text = match Source::from_value(raw).map_err(|error| error.to_string())? {
        Source::Unset => None,
        Source::Document(text) => Some(text),
        Source::Parameter(name) => {
            let ssm = aws_sdk_ssm::Client::new(sdk);
            let init_retry = retry.until(Instant::now() + READ_BUDGET);
            let output = init_retry
                .sdk("ssm:GetParameter", || {
                    ssm.get_parameter().name(&name).with_decryption(true).send()
                })
                .await
                .map_err(|error| {
                    format!(
                        "invalid ACCOUNT_SETTINGS: the parameter {name} could not be read: {error}"
                    )
                })?;
            let value = output
                .parameter()
                .and_then(|parameter| parameter.value())
                .ok_or_else(|| {
                    format!("invalid ACCOUNT_SETTINGS: the parameter {name} has no value")
                })?;
            Some(value.to_string())
        }
    };
    AccountSettings::parse(text.as_deref(), config, region.as_deref())
        .map_err(|error| error.to_string())
}
