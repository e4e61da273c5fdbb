//! One unit of work: list one page of one type, decide (and in enforce mode fix) every
//! in-scope resource on it, and say where the next page starts.

use corebound::sweep::{Part, ResourceResult, WorkUnit};

use crate::retry::{CallError, FailureKind};

use super::evaluate::evaluate_page;
use super::list::list_page;
use super::Context;

/// What a unit did.
#[derive(Debug, Clone)]
pub struct UnitRun {
    pub part: Part,
    /// The unit for the next page, if there is one.
    pub next: Option<WorkUnit>,
}

/// The `event_id` of a sweep's audit records: `sweep:<sweep id>`.
pub fn audit_event_id(sweep_id: &str) -> String {
    format!("sweep:{sweep_id}")
}

/// Runs `unit`. A listing refused for good (access denied) makes the type unreadable (a
/// finding) and ends it; `Err` is throttling or a server fault that outlasted the retries.
pub async fn run_unit(context: &Context<'_>, unit: &WorkUnit) -> Result<UnitRun, CallError> {
    let kind = unit.resource_type;
    let listing = list_page(
        context,
        kind,
        unit.page_token.as_deref(),
        context.settings.page_size,
    )
    .await;
    let page = match listing {
        Ok(page) => page,
        Err(error) if error.kind == FailureKind::Transient => return Err(error),
        Err(error) => {
            if let Some(stale) = context.stale(&error) {
                return Err(stale);
            }
            let reason = match &unit.target() {
                Some(target) => format!("in {target}: {error}"),
                None => error.to_string(),
            };
            tracing::warn!(error = %reason, resource_type = ?kind, "cannot list: the type is unreadable");
            return Ok(unreadable(unit, reason));
        }
    };
    let listed = page.items.len();
    let (resources, out_of_scope) =
        evaluate_page(context, &audit_event_id(&unit.sweep_id), page.items).await?;
    // A token equal to the one this page started from would loop for ever.
    let next = page
        .next
        .filter(|token| unit.page_token.as_deref() != Some(token.as_str()))
        .map(|token| unit.next(token));
    Ok(UnitRun {
        part: Part {
            sweep_id: unit.sweep_id.clone(),
            resource_type: kind,
            page: unit.page,
            last: next.is_none(),
            listed,
            out_of_scope,
            unreadable: None,
            resources,
            account: unit.account.clone(),
            region: unit.region.clone(),
        },
        next,
    })
}

/// The part of a unit whose type cannot be read (the listing was refused, or the account
/// cannot be acted in): a finding with `reason`, and the type ends.
pub fn unreadable(unit: &WorkUnit, reason: String) -> UnitRun {
    UnitRun {
        part: Part {
            sweep_id: unit.sweep_id.clone(),
            resource_type: unit.resource_type,
            page: unit.page,
            last: true,
            listed: 0,
            out_of_scope: 0,
            unreadable: Some(reason),
            resources: Vec::<ResourceResult>::new(),
            account: unit.account.clone(),
            region: unit.region.clone(),
        },
        next: None,
    }
}
