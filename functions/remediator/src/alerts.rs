//! Findings that need a person, published to `ALERT_TOPIC_ARN`: one SNS message per event,
//! summarising every record of that event that [`AuditRecord::needs_person`].
//!
//! The subject names the resource; the body lists one line per problem followed by the
//! audit records themselves (JSON), so the message can be acted on without the logs.
//! Alerts are sent in report mode too: findings are what a report-mode rollout is for.

use corebound::remediation::{AuditRecord, Mode};

use crate::retry::{CallError, RetryPolicy};

/// SNS subjects: at most 100 printable ASCII characters, no line breaks.
const SUBJECT_MAX: usize = 100;
/// SNS messages are limited to 256 KiB; stay well below with room for the JSON.
const MESSAGE_MAX: usize = 200 * 1024;

/// What one event's alert says.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub subject: String,
    pub message: String,
}

impl Alert {
    /// The alert for one event, or `None` when nothing needs a person. `lines` are the
    /// human-readable problems (finding texts, failures), in record order.
    pub fn compose(
        event_id: &str,
        resource: &str,
        mode: Mode,
        lines: &[String],
        records: &[AuditRecord],
    ) -> Option<Alert> {
        let records: Vec<&AuditRecord> = records
            .iter()
            .filter(|record| record.needs_person())
            .collect();
        if records.is_empty() && lines.is_empty() {
            return None;
        }
        let count = lines.len().max(records.len());
        let subject = subject(&format!(
            "corebound remediator: {count} finding{} for {resource}",
            if count == 1 { "" } else { "s" }
        ));
        let mode = match mode {
            Mode::Enforce => "enforce",
            Mode::Report => "report (nothing was changed)",
        };
        let mut message = format!(
            "The corebound remediator needs a person to look at {resource}.\n\
             Event: {event_id}\nMode: {mode}\n\n"
        );
        for line in lines {
            message.push_str("- ");
            message.push_str(line);
            message.push('\n');
        }
        let json = serde_json::to_string_pretty(&records).unwrap_or_default();
        if message.len() + json.len() < MESSAGE_MAX {
            message.push_str("\nAudit records:\n");
            message.push_str(&json);
            message.push('\n');
        } else {
            message
                .push_str("\nAudit records: too long for this message, see the function's log.\n");
        }
        Some(Alert { subject, message })
    }

    /// Publishes to a standard or FIFO topic. A FIFO topic (`.fifo`) requires a message
    /// group (one for all alerts: they stay in order) and, without content-based
    /// deduplication, a deduplication id: the hash of the alert, so a retried invocation
    /// that has the same thing to say within SNS's 5-minute window is delivered once.
    pub async fn publish(
        &self,
        sns: &aws_sdk_sns::Client,
        retry: &RetryPolicy,
        topic_arn: &str,
    ) -> Result<(), CallError> {
        let fifo = fifo_ids(topic_arn, &self.subject, &self.message);
        retry
            .sdk("sns:Publish", || {
                sns.publish()
                    .topic_arn(topic_arn)
                    .subject(&self.subject)
                    .message(&self.message)
                    .set_message_group_id(fifo.as_ref().map(|(group, _)| group.clone()))
                    .set_message_deduplication_id(fifo.as_ref().map(|(_, id)| id.clone()))
                    .send()
            })
            .await?;
        Ok(())
    }
}

/// The message group of every alert on a FIFO topic.
const FIFO_GROUP: &str = "corebound-remediator";

/// `(MessageGroupId, MessageDeduplicationId)` for a FIFO topic, `None` for a standard one.
fn fifo_ids(topic_arn: &str, subject: &str, message: &str) -> Option<(String, String)> {
    topic_arn.ends_with(".fifo").then(|| {
        let digest = corebound::policy_document::short_hash(&format!("{subject}\n{message}"));
        (FIFO_GROUP.to_string(), format!("alert-{digest}"))
    })
}

fn subject(text: &str) -> String {
    let printable: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if printable.len() <= SUBJECT_MAX {
        printable
    } else {
        format!("{}...", &printable[..SUBJECT_MAX - 3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corebound::remediation::{AuditAction, AuditResult, Rule};
    use serde_json::{json, Value};

    fn record(action: AuditAction, result: AuditResult) -> AuditRecord {
        AuditRecord {
            event_id: "e-1".into(),
            resource: "arn:aws:sns:us-east-1:123456789012:t".into(),
            rule: Rule::Scope,
            state_before: Value::Null,
            action,
            result,
            detail: json!({"finding": "out_of_scope"}),
        }
    }

    #[test]
    fn nothing_to_say_means_no_alert() {
        let records = [record(AuditAction::Tagged, AuditResult::Ok)];
        assert_eq!(
            Alert::compose("e-1", "r", Mode::Enforce, &[], &records),
            None
        );
    }

    #[test]
    fn the_alert_lists_lines_and_records() {
        let records = [
            record(AuditAction::Tagged, AuditResult::Ok),
            record(AuditAction::Reported, AuditResult::Ok),
        ];
        let lines = ["out of scope: t matches no SCOPE_PATTERNS".to_string()];
        let alert = Alert::compose("e-1", "arn:t", Mode::Report, &lines, &records).unwrap();
        assert_eq!(alert.subject, "corebound remediator: 1 finding for arn:t");
        assert!(alert.message.contains("- out of scope: t matches"));
        assert!(alert.message.contains("report (nothing was changed)"));
        assert!(alert.message.contains("\"action\": \"reported\""));
        assert!(!alert.message.contains("\"action\": \"tagged\""));
    }

    #[test]
    fn fifo_topics_get_a_group_and_a_content_deduplication_id() {
        assert_eq!(
            fifo_ids("arn:aws:sns:us-east-1:123456789012:alerts", "s", "m"),
            None
        );
        let fifo = "arn:aws:sns:us-east-1:123456789012:alerts.fifo";
        let (group, id) = fifo_ids(fifo, "s", "m").unwrap();
        assert_eq!(group, FIFO_GROUP);
        assert_eq!(
            fifo_ids(fifo, "s", "m").unwrap().1,
            id,
            "same alert, same id"
        );
        assert_ne!(fifo_ids(fifo, "s", "other").unwrap().1, id);
        // SNS: up to 128 alphanumeric or punctuation characters.
        assert!(
            id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()),
            "{id}"
        );
    }

    #[test]
    fn subjects_are_short_printable_ascii() {
        let long = format!("x\n{}é", "y".repeat(200));
        let subject = subject(&long);
        assert_eq!(subject.len(), SUBJECT_MAX);
        assert!(subject.starts_with("x?y"));
        assert!(subject.ends_with("..."));
    }
}
