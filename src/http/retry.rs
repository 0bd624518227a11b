//! When and how long to wait before retrying an HTTP request.

use crate::model::RetryPolicy;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Delay before retry number `n` (0-based): `Retry-After` when the policy honours it and the
/// server sent one, else exponential (or constant) backoff with jitter; capped at `max_delay`.
pub fn delay(policy: &RetryPolicy, n: u32, retry_after: Option<&str>) -> Duration {
    // Whatever `max_delay` says, no wait is longer than an hour.
    let cap = policy.max_delay.clamp(0.0, crate::util::MAX_WAIT_SECONDS);
    if policy.respect_retry_after {
        if let Some(secs) = retry_after.and_then(parse_retry_after) {
            return crate::util::seconds(secs.clamp(0.0, cap));
        }
    }
    let base = if policy.exponential {
        policy.base_delay * 2f64.powi(n.min(30) as i32)
    } else {
        policy.base_delay
    };
    let capped = base.min(cap);
    // "Equal jitter": half fixed, half random, so retries from many tasks spread out.
    crate::util::seconds(capped * (0.5 + 0.5 * random_unit()))
}

/// `Retry-After` as seconds from now: a number of seconds, or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s);
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs =
        (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0;
    Some(secs.max(0.0))
}

fn random_unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base_delay: 1.0,
            max_delay: 8.0,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn retry_after_seconds_and_dates_are_honoured_and_capped() {
        assert_eq!(delay(&policy(), 0, Some("3")), Duration::from_secs(3));
        assert_eq!(delay(&policy(), 0, Some("120")), Duration::from_secs(8));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc2822();
        let d = delay(&policy(), 0, Some(&soon)).as_secs_f64();
        assert!((3.5..=5.1).contains(&d), "{d}");
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(0.0)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    /// Huge delays from the integration or the server wait an hour at most, and never panic
    /// (`Duration::from_secs_f64` does on 1e20).
    #[test]
    fn huge_delays_are_capped_at_an_hour() {
        let huge = RetryPolicy {
            base_delay: 1e20,
            max_delay: 1e300,
            respect_retry_after: true,
            ..RetryPolicy::default()
        };
        let hour = Duration::from_secs(3600);
        assert!(delay(&huge, 0, None) <= hour);
        assert!(delay(&huge, 0, None) >= hour / 2);
        assert_eq!(delay(&huge, 3, Some("1e300")), hour);
        assert_eq!(delay(&huge, 3, Some("99999999")), hour);
    }

    #[test]
    fn exponential_backoff_with_jitter_stays_in_bounds() {
        for n in 0..6 {
            let d = delay(&policy(), n, None).as_secs_f64();
            let full = (2f64.powi(n as i32)).min(8.0);
            assert!(d >= full * 0.5 - 1e-9 && d <= full + 1e-9, "retry {n}: {d}");
        }
        let constant = RetryPolicy {
            exponential: false,
            ..policy()
        };
        assert!(delay(&constant, 5, None).as_secs_f64() <= 1.0);
    }
}
