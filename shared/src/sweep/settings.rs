//! The sweep's settings, read once at start like the rest of the remediator's configuration.

use serde::Serialize;

use crate::remediation::ConfigError;

/// Default `SWEEP_PAGE_SIZE`: resources per unit (a unit then takes seconds).
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Default `SWEEP_LOCK_SECONDS`: 55 minutes, so with an hourly schedule the start after a
/// dead sweep's takes its lock over.
pub const DEFAULT_LOCK_SECONDS: u64 = 3300;

/// `SWEEP_QUEUE_URL`, `REPORT_BUCKET`, `SWEEP_PAGE_SIZE`, `SWEEP_LOCK_SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepSettings {
    /// The work queue; `None`: the function does not sweep (a start message is answered
    /// "disabled"). The `corebound` command needs no queue.
    pub queue_url: Option<String>,
    /// Where the lock, the parts and the reports go; `None` as for the queue.
    pub report_bucket: Option<String>,
    /// Resources listed per unit, 1..=1000 (each service's own maximum applies too).
    pub page_size: u32,
    pub lock_seconds: u64,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            queue_url: None,
            report_bucket: None,
            page_size: DEFAULT_PAGE_SIZE,
            lock_seconds: DEFAULT_LOCK_SECONDS,
        }
    }
}

impl SweepSettings {
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let queue_url = get("SWEEP_QUEUE_URL")
            .map(|url| {
                crate::remediation::queue_identity(&url)
                    .is_some()
                    .then_some(url.clone())
                    .ok_or(ConfigError {
                        variable: "SWEEP_QUEUE_URL",
                        received: format!("{url:?}"),
                        expected: "an SQS queue URL https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>".into(),
                    })
            })
            .transpose()?;
        let report_bucket = get("REPORT_BUCKET")
            .map(|bucket| {
                valid_bucket_name(&bucket)
                    .then_some(bucket.clone())
                    .ok_or(ConfigError {
                    variable: "REPORT_BUCKET",
                    received: format!("{bucket:?}"),
                    expected:
                        "an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
                            .into(),
                })
            })
            .transpose()?;
        let number = |variable: &'static str, low: u64, high: u64, default: u64| match get(variable)
        {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|value| (low..=high).contains(value))
                .ok_or(ConfigError {
                    variable,
                    received: format!("{raw:?}"),
                    expected: format!("an integer from {low} to {high}, or unset ({default})"),
                }),
        };
        Ok(SweepSettings {
            queue_url,
            report_bucket,
            page_size: number("SWEEP_PAGE_SIZE", 1, 1000, u64::from(DEFAULT_PAGE_SIZE))? as u32,
            lock_seconds: number("SWEEP_LOCK_SECONDS", 60, 86_400, DEFAULT_LOCK_SECONDS)?,
        })
    }
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<SweepSettings, ConfigError> {
        SweepSettings::from_env(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_and_validation() {
        assert_eq!(settings(&[]).unwrap(), SweepSettings::default());
        let set = settings(&[
            (
                "SWEEP_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/corebound-sweep",
            ),
            ("REPORT_BUCKET", "corebound-reports-123"),
            ("SWEEP_PAGE_SIZE", "5"),
        ])
        .unwrap();
        assert_eq!(set.page_size, 5);
        assert_eq!(set.report_bucket.as_deref(), Some("corebound-reports-123"));
        for (variable, value) in [
            ("SWEEP_QUEUE_URL", "not a url"),
            ("REPORT_BUCKET", "Upper_Case"),
            ("SWEEP_PAGE_SIZE", "0"),
            ("SWEEP_PAGE_SIZE", "1001"),
            ("SWEEP_LOCK_SECONDS", "5"),
        ] {
            let error = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
        }
    }
}
