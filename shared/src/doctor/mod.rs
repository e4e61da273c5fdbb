//! `corebound doctor`: the calling principal's account against the boundary patterns
//! (agentcore-boundary-patterns.txt), read-only. Everything here is pure; the command line
//! (`cli/src/doctor/`) makes the AWS calls and hands the answers in.
//!
//! - [`caller`]: the STS caller as a principal the IAM simulator accepts;
//! - [`simulation`]: patterns 1, 2, 5 and 6, the probes and the meaning of the answers;
//! - [`key_statements`]: pattern 4, with the remediator's key-policy rule;
//! - [`counts`]: in-scope resources missing tags or the key, from the sweep's report mode;
//! - [`settings`]: the variables the functions read, flags over environment;
//! - [`report`]: one line (or JSON object) per pattern, and the exit status.

pub mod caller;
pub mod counts;
pub mod key_statements;
pub mod report;
pub mod settings;
pub mod simulation;

pub use caller::Caller;
pub use counts::{counts_check, counts_unavailable};
pub use key_statements::{key_policy_check, KeyService};
pub use report::{Check, Report, Status};
pub use settings::DoctorSettings;
pub use simulation::{
    answer, probes, simulation_checks, simulation_unavailable, Answer, Denial, Names, Principal,
    Probe, ProbeKind,
};
