//! One unit of work: list one page of one type, decide (and in enforce mode fix) every
//! in-scope resource on it, and say where the next page starts.

use corebound::remediation::Mode;
use corebound::sweep::{fan_out, Part, ResourceResult, TargetTypes, WorkUnit, SWEPT_KINDS};

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

/// The first unit of every type a sweep covers, and the targets they are in: in a hub, every
/// (account, region) `ACCOUNT_SETTINGS` gives a key for, the hub's own included, with IAM once
/// per account; otherwise the function's own account and region (no targets, units without
/// an account). The scheduled start and `corebound sweep` both begin here.
pub fn first_units(own: &Context<'_>, sweep_id: &str) -> (Vec<TargetTypes>, Vec<WorkUnit>) {
    let covered = fan_out(
        &own.remediator
            .accounts
            .configured_targets(Some(&own.account)),
        (&own.account, own.region.as_deref()),
    )
    .unwrap_or_default();
    let units = if covered.is_empty() {
        SWEPT_KINDS
            .iter()
            .map(|kind| WorkUnit::first(sweep_id, *kind))
            .collect()
    } else {
        covered
            .iter()
            .flat_map(|target| {
                let at = target.target();
                target
                    .types
                    .iter()
                    .map(move |kind| WorkUnit::first_in(sweep_id, *kind, Some(&at)))
            })
            .collect()
    };
    (covered, units)
}

/// Runs `unit` where it belongs: in the function's own account, or in its target through the
/// spoke's role with that account's settings. A target that cannot be acted in (no role, a
/// refused AssumeRole) makes the type unreadable, a finding naming the account and the role,
/// and the other targets go on. Returns the run and the mode it ran in; `Err` is transient
/// (throttling, an expired session): the unit is tried again.
pub async fn run_where_it_belongs(
    own: &Context<'_>,
    unit: &WorkUnit,
) -> Result<(UnitRun, Mode), CallError> {
    let Some(target) = unit.target() else {
        return Ok((run_unit(own, unit).await?, own.config.mode));
    };
    match Context::for_target(
        own.remediator,
        own.settings,
        own.retry,
        own.emit_audit,
        &target,
    )
    .await
    {
        Ok(context) => Ok((run_unit(&context, unit).await?, context.config.mode)),
        Err(unreachable) if unreachable.transient => Err(CallError {
            operation: "sts:AssumeRole".to_string(),
            code: unreachable.error_code.clone(),
            kind: FailureKind::Transient,
            message: unreachable.to_string(),
        }),
        Err(unreachable) => {
            tracing::warn!(
                account = %unreachable.account,
                region = %target.region,
                role = ?unreachable.role_arn,
                error_code = ?unreachable.error_code,
                reason = %unreachable.reason,
                "cannot sweep the account"
            );
            Ok((
                unreadable(unit, unreachable.to_string()),
                own.remediator.config.mode,
            ))
        }
    }
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
