//! The doctor's report: one [`Check`] per pattern, printed as one line each or as JSON.

use serde::Serialize;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Problem,
    /// The doctor could not decide (a condition key it cannot supply, a call it may not make).
    CannotTell,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Problem => "PROBLEM",
            Status::CannotTell => "cannot tell",
        }
    }
}

/// One pattern's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The pattern of agentcore-boundary-patterns.txt ("1", "2", "4", "5", "6") or "tags".
    pub pattern: String,
    pub status: Status,
    pub message: String,
    /// The exact fix, for a problem (and for a cannot-tell where one helps).
    pub fix: Option<String>,
    /// Worth knowing even when the pattern is ok.
    pub notes: Vec<String>,
}

impl Check {
    pub fn new(pattern: &str, status: Status, message: impl Into<String>) -> Self {
        Check {
            pattern: pattern.to_string(),
            status,
            message: message.into(),
            fix: None,
            notes: Vec::new(),
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `pattern 1 ok: <message>. Note: <note>` / `pattern 2 PROBLEM: <message>. Fix: <fix>`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "pattern {} {}: {}",
            self.pattern,
            self.status.label(),
            self.message
        );
        if let Some(fix) = &self.fix {
            line.push_str(". Fix: ");
            line.push_str(fix);
        }
        for note in &self.notes {
            line.push_str(". Note: ");
            line.push_str(note);
        }
        line
    }
}

/// Everything the doctor found, for one caller in one account and region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The caller as STS names it.
    pub caller: String,
    /// The principal simulated (the role of an assumed-role session), when there is one.
    pub simulated_principal: Option<String>,
    pub account: String,
    pub region: String,
    /// About the run itself (a principal read without its path, a count left out).
    pub notes: Vec<String>,
    pub checks: Vec<Check>,
}

impl Report {
    /// Exit code 1 when any pattern has a problem.
    pub fn has_problems(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Problem)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "corebound doctor: {} in account {}, {}",
            self.caller, self.account, self.region
        );
        if let Some(principal) = &self.simulated_principal {
            if principal != &self.caller {
                out.push_str(&format!(" (simulated as {principal})"));
            }
        }
        out.push('\n');
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        for check in &self.checks {
            out.push_str(&check.line());
            out.push('\n');
        }
        out.push_str(&format!(
            "{} ok, {} problem(s), {} cannot tell\n",
            self.count(Status::Ok),
            self.count(Status::Problem),
            self.count(Status::CannotTell)
        ));
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "caller": self.caller,
            "simulatedPrincipal": self.simulated_principal,
            "account": self.account,
            "region": self.region,
            "notes": self.notes,
            "checks": self.checks,
            "summary": {
                "ok": self.count(Status::Ok),
                "problem": self.count(Status::Problem),
                "cannotTell": self.count(Status::CannotTell),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            caller: "arn:aws:sts::123456789012:assumed-role/ci/session".into(),
            simulated_principal: Some("arn:aws:iam::123456789012:role/ci".into()),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            notes: vec!["a note".into()],
            checks: vec![
                Check::new("1", Status::Ok, "fine").with_note("also this"),
                Check::new("2", Status::Problem, "denied").with_fix("do that"),
                Check::new("4", Status::CannotTell, "unknown"),
            ],
        }
    }

    #[test]
    fn one_line_per_pattern_and_a_summary() {
        assert_eq!(
            report().text(),
            "corebound doctor: arn:aws:sts::123456789012:assumed-role/ci/session in account 123456789012, us-east-1 (simulated as arn:aws:iam::123456789012:role/ci)\n\
             note: a note\n\
             pattern 1 ok: fine. Note: also this\n\
             pattern 2 PROBLEM: denied. Fix: do that\n\
             pattern 4 cannot tell: unknown\n\
             1 ok, 1 problem(s), 1 cannot tell\n"
        );
        assert!(report().has_problems());
    }

    #[test]
    fn json_form() {
        let value = report().json();
        assert_eq!(
            value["checks"][1],
            json!({"pattern": "2", "status": "problem", "message": "denied", "fix": "do that", "notes": []})
        );
        assert_eq!(value["checks"][2]["status"], "cannot-tell");
        assert_eq!(
            value["summary"],
            json!({"ok": 1, "problem": 1, "cannotTell": 1})
        );
        assert_eq!(
            value["simulatedPrincipal"],
            "arn:aws:iam::123456789012:role/ci"
        );
    }
}
