//! Findings turned into the hook's message: each names the pattern, the resource (logical
//! id and type), what is wrong and the fix, within the message limit. What does not fit is
//! counted at the end; the function log has every finding.

use crate::response::truncate;
use crate::rules::{Certainty, Finding};

/// The message for a FAILED / NonCompliant answer (`violations` not empty).
pub fn noncompliant(subject: &str, findings: &[Finding], limit: usize) -> String {
    let violations: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.certainty == Certainty::Violation)
        .collect();
    let cannot_tell = findings.len() - violations.len();
    let mut head = format!(
        "corebound preflight: {} of {subject} break{} the account's boundary rules",
        count(violations.len(), "finding"),
        if violations.len() == 1 { "s" } else { "" },
    );
    if cannot_tell > 0 {
        head.push_str(&format!(" ({} more to check by hand)", cannot_tell));
    }
    head.push(':');
    listed(head, &violations, limit)
}

/// The message for a SUCCESS answer: compliant, with what could not be told.
pub fn compliant(subject: &str, findings: &[Finding], limit: usize) -> String {
    if findings.is_empty() {
        return format!("corebound preflight: {subject} is compliant");
    }
    let refs: Vec<&Finding> = findings.iter().collect();
    let head = format!(
        "corebound preflight: {subject} has no violation; {} cannot be told before deployment:",
        count(findings.len(), "check")
    );
    listed(head, &refs, limit)
}

fn listed(head: String, findings: &[&Finding], limit: usize) -> String {
    let mut message = head;
    for (index, finding) in findings.iter().enumerate() {
        let item = format!(" [{}] {}", index + 1, describe(finding));
        let left = findings.len() - index - 1;
        let tail = more(left + 1);
        if message.chars().count()
            + item.chars().count()
            + if left > 0 { tail.chars().count() } else { 0 }
            > limit
        {
            // What fits is shown whole; the rest is counted.
            message.push_str(&more(findings.len() - index));
            return truncate(&message, limit);
        }
        message.push_str(&item);
    }
    truncate(&message, limit)
}

fn describe(finding: &Finding) -> String {
    format!(
        "pattern {} ({}) on {} ({}): {} Fix: {}",
        finding.pattern,
        finding.rule,
        finding.logical_id,
        finding.resource_type,
        sentence(&finding.message),
        sentence(&finding.fix),
    )
}

fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

fn more(n: usize) -> String {
    format!(
        " ... and {} more (every finding is in the hook function's log)",
        n
    )
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{CLOUD_CONTROL_MESSAGE_LIMIT, MESSAGE_LIMIT};

    fn finding(n: usize, certainty: Certainty) -> Finding {
        Finding {
            pattern: "4/8".to_string(),
            rule: "customer-managed-key".to_string(),
            logical_id: format!("Topic{n}"),
            resource_type: "AWS::SNS::Topic".to_string(),
            message: "KmsMasterKeyId is not set".to_string(),
            fix: "set KmsMasterKeyId to the project key ARN".to_string(),
            certainty,
            property: Some("KmsMasterKeyId".to_string()),
            line: None,
        }
    }

    #[test]
    fn a_finding_names_pattern_resource_and_fix() {
        let message = noncompliant(
            "Topic1 (AWS::SNS::Topic)",
            &[finding(1, Certainty::Violation)],
            MESSAGE_LIMIT,
        );
        assert!(
            message.contains("1 finding of Topic1 (AWS::SNS::Topic) breaks"),
            "{message}"
        );
        assert!(message.contains("pattern 4/8 (customer-managed-key) on Topic1 (AWS::SNS::Topic): KmsMasterKeyId is not set. Fix: set KmsMasterKeyId to the project key ARN."), "{message}");
    }

    #[test]
    fn what_does_not_fit_is_counted() {
        let many: Vec<Finding> = (0..200).map(|n| finding(n, Certainty::Violation)).collect();
        for limit in [MESSAGE_LIMIT, CLOUD_CONTROL_MESSAGE_LIMIT] {
            let message = noncompliant("stack app", &many, limit);
            assert!(
                message.chars().count() <= limit,
                "{}",
                message.chars().count()
            );
            assert!(
                message.contains("more (every finding is in the hook function's log)"),
                "{message}"
            );
            assert!(message.contains("Topic0 "));
        }
    }

    #[test]
    fn compliant_messages_list_what_cannot_be_told() {
        assert_eq!(
            compliant("stack app", &[], MESSAGE_LIMIT),
            "corebound preflight: stack app is compliant"
        );
        let message = compliant(
            "stack app",
            &[finding(1, Certainty::CannotTell)],
            MESSAGE_LIMIT,
        );
        assert!(
            message.contains("1 check cannot be told") && message.contains("Topic1"),
            "{message}"
        );
    }
}
