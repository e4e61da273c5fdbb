//! The short message for the alert topic at the end of a sweep, sent only when something
//! needs a person (a finding, a failed write, something unreadable).

use std::fmt::Write;

use super::outcome::Outcome;
use super::report::{kind_name, Report};
use crate::remediation::Mode;

/// At most this many resources are listed by name; the report has them all.
const LISTED: usize = 50;
/// SNS subjects: at most 100 printable ASCII characters.
const SUBJECT_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSummary {
    pub subject: String,
    pub message: String,
}

/// The summary of a finished sweep, or `None` when nobody needs to act. `location` says where
/// the full report is (`s3://bucket/key` or a file).
pub fn summary(report: &Report, location: &str) -> Option<SweepSummary> {
    if report.summary.needs_person == 0 {
        return None;
    }
    let mut subject = format!(
        "corebound sweep {}: {} need a person",
        report.sweep_id, report.summary.needs_person
    );
    subject.truncate(SUBJECT_MAX);
    let mode = match report.mode {
        Mode::Enforce => "enforce",
        Mode::Report => "report (nothing was changed)",
    };
    let mut message = String::new();
    let _ = writeln!(
        message,
        "The corebound sweep {} ({mode}) finished at {}.\n\
         {} in-scope resources: {} still non-compliant, {} need a person.\n\
         Full report: {location}\n",
        report.sweep_id,
        report.finished_at,
        report.summary.resources,
        report.summary.non_compliant,
        report.summary.needs_person,
    );
    for entry in &report.types {
        let counts: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|outcome| {
                let count = entry.outcomes.get(outcome).copied().unwrap_or(0);
                (count > 0).then(|| format!("{outcome} {count}"))
            })
            .collect();
        let _ = write!(
            message,
            "{}: {}",
            kind_name(entry.resource_type),
            counts.join(", ")
        );
        if let Some(error) = &entry.unreadable {
            let _ = write!(message, " — could not be listed: {error}");
        }
        message.push('\n');
    }
    message.push('\n');
    let needing: Vec<_> = report
        .resources
        .iter()
        .filter(|r| r.needs_person())
        .collect();
    for resource in needing.iter().take(LISTED) {
        let why: Vec<&str> = resource
            .findings
            .iter()
            .map(String::as_str)
            .chain(resource.error.as_deref())
            .collect();
        let _ = writeln!(
            message,
            "- {} ({}): {}",
            resource.arn,
            resource.outcome,
            why.join("; ")
        );
    }
    if needing.len() > LISTED {
        let _ = writeln!(
            message,
            "… and {} more in the report.",
            needing.len() - LISTED
        );
    }
    Some(SweepSummary { subject, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remediation::ResourceKind;
    use crate::sweep::{Manifest, Part, ResourceResult};

    #[test]
    fn only_a_sweep_that_needs_a_person_is_summarised() {
        let manifest = Manifest {
            sweep_id: "20261203T231500Z-1a2b3c4d".into(),
            mode: Mode::Enforce,
            types: vec![ResourceKind::Secret],
            started_at: "2026-12-03T23:15:00Z".into(),
            started_at_epoch: 0,
            account: None,
            region: None,
            targets: Vec::new(),
        };
        let part = |resources| Part {
            sweep_id: manifest.sweep_id.clone(),
            resource_type: ResourceKind::Secret,
            page: 0,
            last: true,
            listed: 1,
            out_of_scope: 0,
            unreadable: None,
            resources,
            account: None,
            region: None,
        };
        let gone = ResourceResult::gone(ResourceKind::Secret, "arn:s1", "deleted");
        let report = Report::assemble(&manifest, vec![part(vec![gone])], "t".into());
        assert_eq!(summary(&report, "s3://b/k"), None);

        let denied = ResourceResult::unreadable(ResourceKind::Secret, "arn:s2", "AccessDenied");
        let report = Report::assemble(&manifest, vec![part(vec![denied])], "t".into());
        let summary = summary(&report, "s3://b/k").unwrap();
        assert!(summary.subject.len() <= 100);
        assert!(
            summary
                .message
                .contains("arn:s2 (unreadable): AccessDenied"),
            "{}",
            summary.message
        );
        assert!(summary.message.contains("s3://b/k"));
        assert!(
            summary.message.contains("secret: unreadable 1"),
            "{}",
            summary.message
        );
    }
}
