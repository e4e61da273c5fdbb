//! Text and JSON renderings of the findings.

use serde::Serialize;

use super::FileReport;
use corebound::preflight::{Certainty, Finding};

/// `file:line: [pattern N] LogicalId (Type): problem — fix`, one line per finding, then a
/// summary line.
pub fn text(reports: &[FileReport]) -> String {
    let mut out = String::new();
    let mut violations = 0;
    let mut cannot_tell = 0;
    for report in reports {
        for finding in &report.findings {
            match finding.certainty {
                Certainty::Violation => violations += 1,
                Certainty::CannotTell => cannot_tell += 1,
            }
            let place = match finding.line {
                Some(line) => format!("{}:{line}", report.path),
                None => report.path.clone(),
            };
            let marker = match finding.certainty {
                Certainty::Violation => "",
                Certainty::CannotTell => " (cannot tell)",
            };
            out.push_str(&format!(
                "{place}: [pattern {}]{marker} {} ({}): {} — {}\n",
                finding.pattern,
                finding.logical_id,
                finding.resource_type,
                finding.message,
                finding.fix
            ));
        }
    }
    out.push_str(&format!(
        "{} template(s) checked: {violations} violation(s), {cannot_tell} cannot tell\n",
        reports.len()
    ));
    out
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    file: &'a str,
    #[serde(flatten)]
    finding: &'a Finding,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    findings: Vec<JsonFinding<'a>>,
    templates: Vec<&'a str>,
}

/// `{"findings": [{"file", "line", "pattern", "rule", ...}], "templates": [...]}`
pub fn json(reports: &[FileReport]) -> String {
    let report = JsonReport {
        findings: reports
            .iter()
            .flat_map(|report| {
                report.findings.iter().map(|finding| JsonFinding {
                    file: &report.path,
                    finding,
                })
            })
            .collect(),
        templates: reports.iter().map(|report| report.path.as_str()).collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).expect("findings serialise");
    text.push('\n');
    text
}
