//! The store's times: RFC 3339 UTC with milliseconds and a `Z`, one fixed width, so comparing the
//! text compares the times (prune's `updated_at < cutoff` is a text comparison).

use chrono::{DateTime, SecondsFormat, Utc};

/// `2026-12-04T18:47:50.123Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A time the store wrote; `None` when the text is not RFC 3339.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Now, at the store's precision (so a time read back equals the one written).
pub(crate) fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// `t` at the store's precision.
pub(crate) fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
    parse_time(&format_time(t)).unwrap_or(t)
}
