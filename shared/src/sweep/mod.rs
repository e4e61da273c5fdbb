//! The scheduled sweep as values: units of work and their JSON, per-resource outcomes, the
//! report, the lock and manifest objects, the EMF metrics lines and the summary for a person.
//! No AWS call here: the remediator (`remediator::sweep`) and the `corebound sweep` command
//! do the I/O and call these functions.
//!
//! How a sweep runs (see docs/sweep.md):
//! 1. the schedule invokes the remediator with [`StartMessage`]; it takes the [`Lock`] in the
//!    report bucket (conditional write), writes the [`Manifest`] and enqueues one [`WorkUnit`]
//!    per resource type (first page);
//! 2. each unit lists one page of its type, decides every resource with the same plan as the
//!    create events (`corebound::remediation::plan`), writes a [`Part`] and enqueues the next
//!    page;
//! 3. the unit whose part completes every type ([`completion`]) assembles the [`Report`],
//!    logs the sweep's metrics and sends the [`summary`] when something needs a person.

mod fan_out;
mod lock;
mod metrics;
mod outcome;
mod report;
mod settings;
mod summary;
mod unit;

pub use fan_out::{fan_out, SweepTarget, TargetTypes};
pub use lock::{lock_decision, Lock, LockDecision, Manifest};
pub use metrics::{sweep_metrics, unit_metrics, METRICS_NAMESPACE};
pub use outcome::{classify, Outcome, ResourceResult};
pub use report::{
    completion, manual_report_key, parse_part_key, part_key, report_key, Part, PartKey, Report,
    Summary, TypeReport, LOCK_KEY, MANUAL_REPORTS_PREFIX, PARTS_PREFIX, REPORTS_PREFIX,
    REPORT_SCHEMA,
};
pub use settings::{SweepSettings, DEFAULT_LOCK_SECONDS, DEFAULT_PAGE_SIZE};
pub use summary::{summary, SweepSummary};
pub use unit::{
    new_sweep_id, parse_unit, timestamp, valid_sweep_id, StartMessage, UnitError, WorkUnit,
    SWEPT_KINDS,
};
