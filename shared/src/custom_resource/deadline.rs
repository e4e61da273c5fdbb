//! How long a handler may run before the protocol must answer on its behalf.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lambda's maximum timeout is 15 minutes: a deadline further away than this (plus slack for
/// clock skew) is not a real Lambda deadline.
const LONGEST_PLAUSIBLE: Duration = Duration::from_secs(15 * 60 + 60);

/// The time the handler gets, given the invocation deadline (epoch milliseconds, as in
/// `lambda_runtime::Context::deadline`).
///
/// The answer must reach CloudFormation before Lambda kills the process, so `margin` is kept
/// back for delivering it. A deadline in the past or absurdly far away is what local runners
/// send (`cargo lambda watch` sends `600000`, i.e. 1970): it means "unknown", and the handler
/// gets `fallback` instead of being failed at once.
pub fn handler_budget(
    deadline_epoch_ms: u64,
    now: SystemTime,
    margin: Duration,
    fallback: Duration,
) -> Duration {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_epoch_ms);
    match deadline.duration_since(now) {
        Ok(remaining) if remaining > LONGEST_PLAUSIBLE => fallback,
        Ok(remaining) if remaining > margin => remaining - margin,
        // A real but very short deadline: share what is left between work and delivery.
        Ok(remaining) if !remaining.is_zero() => remaining / 2,
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: Duration = Duration::from_secs(5);
    const FALLBACK: Duration = Duration::from_secs(60);

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn budgets() {
        let now_ms = 1_800_000_000_000u64;
        let cases = [
            // (deadline, expected budget)
            (now_ms + 120_000, Duration::from_secs(115)),
            (now_ms + 6_000, Duration::from_secs(1)),
            (now_ms + 4_000, Duration::from_secs(2)),
            (600_000, FALLBACK),            // cargo lambda watch
            (now_ms - 1, FALLBACK),         // in the past
            (now_ms, FALLBACK),             // exactly now: unknown, not zero
            (now_ms + 3_600_000, FALLBACK), // beyond Lambda's 15 minutes
            (now_ms + 900_000, Duration::from_secs(895)),
        ];
        for (deadline, expected) in cases {
            assert_eq!(
                handler_budget(deadline, at(now_ms), MARGIN, FALLBACK),
                expected,
                "deadline {deadline}"
            );
        }
    }
}
