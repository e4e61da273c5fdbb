//! The function's settings (environment variables), and what happens when one is invalid.
//!
//! A custom-resource function never fails at start because of a setting: a process that
//! exits answers nobody, so every stack operation would wait for CloudFormation's timeout
//! (an hour, or `ServiceTimeout`), Deletes included. Instead every problem found in the
//! protocol's own variables, and every error the function reports for its own variables
//! (passed to [`super::serve`]), is collected here, logged at start, and each request is
//! answered by [`unusable_reason`]:
//!
//! * Create and Update: FAILED, naming the variable. Nothing is changed.
//! * Delete of a failed Create's marker id: SUCCESS, as always (nothing was written).
//! * Any other Delete: FAILED, naming the variable and how to proceed. Answering SUCCESS
//!   without deleting would silently leave a grant (an Allow) behind, and deleting with
//!   settings that cannot be read (a role-name or scope rule among them) could remove
//!   something the function cannot prove it owns. The stack shows DELETE_FAILED with the
//!   reason; fixing the variable and retrying the delete finishes the job.

use std::time::Duration;

use super::response_url::{ResponseUrlPolicy, ALLOWED_HOSTS_VARIABLE};
use super::{DeliveryPolicy, RequestType};
use crate::Error;

/// Protocol settings, from the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Kept back from the Lambda deadline to deliver the answer (`COREBOUND_DEADLINE_MARGIN_MS`,
    /// default 5000).
    pub deadline_margin: Duration,
    /// Handler time when the deadline is unknown (`COREBOUND_FALLBACK_BUDGET_MS`, default 60000).
    pub fallback_budget: Duration,
    pub delivery: DeliveryPolicy,
    /// Allowed ResponseURLs (`RESPONSE_URL_ALLOWED_HOSTS` extends the default list).
    pub response_urls: ResponseUrlPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            deadline_margin: Duration::from_secs(5),
            fallback_budget: Duration::from_secs(60),
            delivery: DeliveryPolicy::default(),
            response_urls: ResponseUrlPolicy::default(),
        }
    }
}

impl Settings {
    /// Read the protocol's variables through `var`. Never fails: an invalid variable keeps
    /// its default and is returned as a problem (the function then answers every request
    /// FAILED naming it).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> (Self, Vec<Error>) {
        let mut settings = Settings::default();
        let mut problems = Vec::new();
        for (name, slot) in [
            (
                "COREBOUND_DEADLINE_MARGIN_MS",
                &mut settings.deadline_margin,
            ),
            (
                "COREBOUND_FALLBACK_BUDGET_MS",
                &mut settings.fallback_budget,
            ),
        ] {
            if let Some(raw) = var(name) {
                match raw.trim().parse::<u64>() {
                    Ok(ms) if ms <= 15 * 60 * 1000 => *slot = Duration::from_millis(ms),
                    _ => problems.push(Error::setting(
                        name,
                        &raw,
                        "a whole number of milliseconds, at most 900000 (e.g. 5000)",
                    )),
                }
            }
        }
        if let Some(raw) = var(ALLOWED_HOSTS_VARIABLE) {
            match ResponseUrlPolicy::parse_extra_hosts(&raw) {
                Ok(hosts) => settings.response_urls = ResponseUrlPolicy::with_extra_hosts(hosts),
                Err(expected) => {
                    problems.push(Error::setting(ALLOWED_HOSTS_VARIABLE, &raw, &expected))
                }
            }
        }
        (settings, problems)
    }

    pub fn from_env() -> (Self, Vec<Error>) {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

/// The FAILED Reason for a request the function cannot serve because of `problems`, or
/// `None` when there are none. A Delete of a failed Create's marker id never gets here.
pub fn unusable_reason(
    problems: &[Error],
    request_type: &str,
    logical_resource_id: &str,
) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let what = problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    Some(if request_type == RequestType::Delete.as_str() {
        format!(
            "invalid function setting: {what}. Nothing was deleted: without valid settings the function cannot tell safely what this resource owns. Fix the variable on the corebound function, then retry the delete (or continue the rollback); to give the resource up instead and leave what it created in place, delete again retaining {logical_resource_id}"
        )
    } else {
        format!(
            "invalid function setting: {what}. Nothing was changed. Fix the variable on the corebound function, then retry the stack operation"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_and_valid_values() {
        let (s, problems) = Settings::from_vars(vars(&[]));
        assert!(problems.is_empty());
        assert_eq!(s.deadline_margin, Duration::from_secs(5));
        // template.yaml declares RESPONSE_URL_ALLOWED_HOSTS empty (so sam local can set it).
        let (s, problems) = Settings::from_vars(vars(&[("RESPONSE_URL_ALLOWED_HOSTS", "")]));
        assert!(problems.is_empty());
        assert_eq!(s.response_urls, ResponseUrlPolicy::default());
        let (s, problems) = Settings::from_vars(vars(&[
            ("COREBOUND_DEADLINE_MARGIN_MS", " 1500 "),
            ("COREBOUND_FALLBACK_BUDGET_MS", "1000"),
            ("RESPONSE_URL_ALLOWED_HOSTS", "127.0.0.1"),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.deadline_margin, Duration::from_millis(1500));
        assert_eq!(s.fallback_budget, Duration::from_secs(1));
        assert_eq!(
            s.response_urls,
            ResponseUrlPolicy::with_extra_hosts(["127.0.0.1".to_string()])
        );
    }

    #[test]
    fn invalid_values_are_problems_naming_the_variable_and_keep_defaults() {
        let (s, problems) = Settings::from_vars(vars(&[
            ("COREBOUND_DEADLINE_MARGIN_MS", "5s"),
            ("RESPONSE_URL_ALLOWED_HOSTS", "http://127.0.0.1:80"),
        ]));
        assert_eq!(s.deadline_margin, Duration::from_secs(5));
        assert_eq!(s.response_urls, ResponseUrlPolicy::default());
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 2);
        assert!(
            text[0].starts_with(
                "COREBOUND_DEADLINE_MARGIN_MS is \"5s\"; expected a whole number of milliseconds"
            ),
            "{}",
            text[0]
        );
        assert!(
            text[1].starts_with("RESPONSE_URL_ALLOWED_HOSTS is \"http://127.0.0.1:80\""),
            "{}",
            text[1]
        );
    }

    #[test]
    fn reasons_for_create_and_delete() {
        assert_eq!(unusable_reason(&[], "Create", "R"), None);
        let problems = [Error::setting("COREBOUND_DEADLINE_MARGIN_MS", "5s", "ms")];
        let create = unusable_reason(&problems, "Create", "Grant").unwrap();
        assert!(
            create.contains("COREBOUND_DEADLINE_MARGIN_MS is \"5s\"")
                && create.contains("Nothing was changed")
        );
        let delete = unusable_reason(&problems, "Delete", "Grant").unwrap();
        assert!(
            delete.contains("COREBOUND_DEADLINE_MARGIN_MS")
                && delete.contains("Nothing was deleted")
                && delete.contains("retaining Grant"),
            "{delete}"
        );
    }
}
