//! Date/time utilities: the current time, parsing, formatting and arithmetic, all in UTC.
//!
//! Date/times are written the D3 way, `YYYY-MM-DD HH:MM:SS` (UTC). Inputs may also be RFC 3339
//! (`2026-01-02T03:04:05Z`, any offset), RFC 2822, a date alone, or epoch seconds (12 digits or
//! more: epoch milliseconds).

use super::{
    number_value, quote, utility, Args, Feature, ParamSpec, ParamType, Registry, UtilityContext,
};
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use std::fmt::Write as _;

const CAT: &str = "Date/Time";

/// D3's date/time format.
pub(crate) const D3_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

const UNITS: [(&str, f64); 5] = [
    ("seconds", 1.0),
    ("minutes", 60.0),
    ("hours", 3600.0),
    ("days", 86_400.0),
    ("weeks", 604_800.0),
];

fn unit_param() -> ParamSpec {
    ParamSpec::new("unit", "Unit", ParamType::Text)
        .options(&UNITS.map(|(u, _)| u))
        .default(json!("seconds"))
        .sample(json!("hours"))
}

fn datetime(name: &str, display: &str) -> ParamSpec {
    ParamSpec::new(name, display, ParamType::Datetime)
        .required()
        .sample(json!("2026-01-02 03:04:05"))
}

pub(super) fn register(r: &mut Registry) {
    utility(
        "GetUTCTimeNow",
        "Get Current UTC Time",
        CAT,
        get_utc_time_now,
    )
    .describe("Gets the current UTC time as YYYY-MM-DD HH:MM:SS.")
    .features(&[Feature::Command, Feature::Adhoc])
    .register(r);
    utility("formatDateTime", "Format Date/Time", CAT, format_date_time)
        .describe(
            "Writes a date/time (UTC) with a strftime format such as %d/%m/%Y %H:%M or \
             %Y-%m-%dT%H:%M:%SZ.",
        )
        .input(datetime("input", "Input"))
        .input(
            ParamSpec::new("format", "Format", ParamType::Text)
                .default(json!(D3_FORMAT))
                .sample(json!("%d/%m/%Y %H:%M")),
        )
        .register(r);
    utility("parseDateTime", "Parse Date/Time", CAT, parse_date_time)
        .describe(
            "Reads a date/time and writes it as YYYY-MM-DD HH:MM:SS (UTC). Without a format, \
             accepts RFC 3339, YYYY-MM-DD HH:MM:SS, RFC 2822, a date alone and epoch seconds; \
             with a strftime format, reads exactly that (times without an offset are UTC).",
        )
        .input(
            ParamSpec::new("input", "Input", ParamType::Text)
                .required()
                .sample(json!("2026-01-02T05:04:05+02:00")),
        )
        .input(ParamSpec::new("format", "Format", ParamType::Text).sample(json!("%d/%m/%Y %H:%M")))
        .register(r);
    utility("addToDateTime", "Add to Date/Time", CAT, add_to_date_time)
        .describe("Adds an amount of time (negative to subtract) to a date/time.")
        .input(datetime("input", "Input"))
        .input(
            ParamSpec::new("amount", "Amount", ParamType::Number)
                .required()
                .sample(json!(-1)),
        )
        .input(unit_param())
        .register(r);
    utility(
        "dateTimeDifference",
        "Date/Time Difference",
        CAT,
        date_time_difference,
    )
    .describe(
        "The time from the start time to the end time in a unit (negative when the end is \
             earlier; fractions kept).",
    )
    .input(datetime("start_time", "Start Time"))
    .input(datetime("end_time", "End Time").sample(json!("2026-01-02 05:04:05")))
    .input(unit_param())
    .returns("number")
    .register(r);
    utility("toEpoch", "Convert Date/Time to Epoch", CAT, to_epoch)
        .describe("The Unix time of a date/time, in whole seconds or milliseconds.")
        .input(datetime("input", "Input"))
        .input(
            ParamSpec::new("unit", "Unit", ParamType::Text)
                .options(&["seconds", "milliseconds"])
                .default(json!("seconds"))
                .sample(json!("milliseconds")),
        )
        .returns("number")
        .register(r);
}

fn d3(t: DateTime<Utc>) -> Value {
    Value::String(t.format(D3_FORMAT).to_string())
}

/// Reads a date/time in any of the accepted forms (see the module documentation).
pub(crate) fn parse_any(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim();
    if let Some(t) = parse_epoch(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
    }
    None
}

/// Epoch seconds (`1767323045`, `1767323045.5`), or milliseconds when the integer part has 12
/// digits or more (seconds that large would be past the year 5000).
fn parse_epoch(s: &str) -> Option<DateTime<Utc>> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 18 || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let x: f64 = s.parse().ok()?;
    let millis = if int.len() >= 12 { x } else { x * 1000.0 };
    // Within ±2^53 the conversion to i64 is exact; chrono then checks its own range.
    if millis.abs() > 9.0e15 {
        return None;
    }
    DateTime::from_timestamp_millis(millis.round() as i64)
}

fn datetime_arg(a: &Args, name: &str) -> Result<DateTime<Utc>, String> {
    let text = a.text(name)?;
    parse_any(text).ok_or_else(|| {
        format!(
            "parameter `{name}` is not a date/time: {} (expected e.g. 2026-01-02 03:04:05, \
             2026-01-02T03:04:05Z or epoch seconds)",
            quote(text)
        )
    })
}

fn strftime_items<'a>(param: &str, format: &'a str) -> Result<Vec<Item<'a>>, String> {
    const MAX_FORMAT_LEN: usize = 1024;
    if format.len() > MAX_FORMAT_LEN {
        return Err(format!(
            "parameter `{param}` is longer than {MAX_FORMAT_LEN} bytes"
        ));
    }
    StrftimeItems::new(format).parse().map_err(|_| {
        format!(
            "parameter `{param}` is not a valid strftime format: {}",
            quote(format)
        )
    })
}

fn unit_seconds(a: &Args) -> Result<(&str, f64), String> {
    let unit = a.opt_text("unit")?.unwrap_or("seconds");
    UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit.trim()))
        .map(|(u, s)| (*u, *s))
        .ok_or_else(|| {
            format!(
                "parameter `unit` must be one of {}; got {}",
                UNITS.map(|(u, _)| u).join(", "),
                quote(unit)
            )
        })
}

fn get_utc_time_now(_: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    Ok(d3(ctx.now))
}

fn format_date_time(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let t = datetime_arg(a, "input")?;
    let format = a.opt_text("format")?.unwrap_or(D3_FORMAT);
    let items = strftime_items("format", format)?;
    let mut out = String::new();
    // Writing (not `to_string`) so a format chrono cannot render is an error, not a panic.
    write!(out, "{}", t.format_with_items(items.iter()))
        .map_err(|_| format!("parameter `format` cannot be rendered: {}", quote(format)))?;
    Ok(Value::String(out))
}

fn parse_date_time(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let Some(format) = a.opt_text("format")?.filter(|f| !f.is_empty()) else {
        return datetime_arg(a, "input").map(d3);
    };
    let input = a.text("input")?;
    strftime_items("format", format)?;
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_str(s, format) {
        return Ok(d3(t.with_timezone(&Utc)));
    }
    let naive = NaiveDateTime::parse_from_str(s, format);
    if let Ok(t) = naive {
        return Ok(d3(t.and_utc()));
    }
    if let Some(t) = NaiveDate::parse_from_str(s, format)
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(d3(t.and_utc()));
    }
    let why = naive.err().map(|e| e.to_string()).unwrap_or_default();
    Err(format!(
        "parameter `input` ({}) does not match the format {}: {why}",
        quote(input),
        quote(format)
    ))
}

fn add_to_date_time(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let t = datetime_arg(a, "input")?;
    let amount = a.number("amount")?;
    let (unit, seconds) = unit_seconds(a)?;
    let millis = amount * seconds * 1000.0;
    let out_of_range = || {
        format!(
            "adding {amount} {unit} to {} leaves the supported date range",
            t.format(D3_FORMAT)
        )
    };
    if !millis.is_finite() || millis.abs() > 9.0e15 {
        return Err(out_of_range());
    }
    let delta = TimeDelta::try_milliseconds(millis.round() as i64).ok_or_else(out_of_range)?;
    t.checked_add_signed(delta).map(d3).ok_or_else(out_of_range)
}

fn date_time_difference(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let start = datetime_arg(a, "start_time")?;
    let end = datetime_arg(a, "end_time")?;
    let (_, seconds) = unit_seconds(a)?;
    let millis = (end - start).num_milliseconds() as f64;
    number_value(millis / 1000.0 / seconds)
}

fn to_epoch(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let t = datetime_arg(a, "input")?;
    match a.opt_text("unit")?.unwrap_or("seconds").trim() {
        u if u.eq_ignore_ascii_case("seconds") => Ok(Value::from(t.timestamp())),
        u if u.eq_ignore_ascii_case("milliseconds") => Ok(Value::from(t.timestamp_millis())),
        other => Err(format!(
            "parameter `unit` must be seconds or milliseconds; got {}",
            quote(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use serde_json::json;

    #[test]
    fn now_is_the_run_instant() {
        assert_eq!(ok("GetUTCTimeNow", json!({})), json!("2026-01-02 03:04:05"));
    }

    #[test]
    fn parsing_accepts_the_usual_forms() {
        let expect = json!("2026-01-02 03:04:05");
        for input in [
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05Z",
            "2026-01-02T05:04:05+02:00",
            "2026-01-02 03:04:05.250",
            "2026-01-01T22:04:05-05:00",
            "Fri, 2 Jan 2026 03:04:05 +0000",
            "1767323045",
            "1767323045000",
            " 2026-01-02T03:04:05.999999Z ",
        ] {
            let got = ok("parseDateTime", json!({ "input": input }));
            assert_eq!(got, expect, "{input}");
        }
        assert_eq!(
            ok("parseDateTime", json!({"input": "2026-01-02"})),
            json!("2026-01-02 00:00:00")
        );
        assert_eq!(
            ok("parseDateTime", json!({"input": 0})),
            json!("1970-01-01 00:00:00")
        );
        assert_eq!(
            ok("parseDateTime", json!({"input": "-86400"})),
            json!("1969-12-31 00:00:00")
        );
        let e = err("parseDateTime", json!({"input": "yesterday"}));
        assert!(
            e.starts_with("parameter `input` is not a date/time: \"yesterday\""),
            "{e}"
        );
        assert!(
            err("parseDateTime", json!({"input": "2026-13-45 00:00:00"}))
                .contains("is not a date/time")
        );
        assert!(err("parseDateTime", json!({"input": "99999999999999999"}))
            .contains("is not a date/time"));
    }

    #[test]
    fn parsing_with_a_format() {
        assert_eq!(
            ok(
                "parseDateTime",
                json!({"input": "02/01/2026 03:04", "format": "%d/%m/%Y %H:%M"})
            ),
            json!("2026-01-02 03:04:00")
        );
        assert_eq!(
            ok(
                "parseDateTime",
                json!({"input": "02.01.2026", "format": "%d.%m.%Y"})
            ),
            json!("2026-01-02 00:00:00")
        );
        assert_eq!(
            ok(
                "parseDateTime",
                json!({"input": "2026-01-02 05:04:05 +0200", "format": "%Y-%m-%d %H:%M:%S %z"})
            ),
            json!("2026-01-02 03:04:05")
        );
        let e = err(
            "parseDateTime",
            json!({"input": "2026-01-02", "format": "%d/%m/%Y"}),
        );
        assert!(
            e.starts_with(
                "parameter `input` (\"2026-01-02\") does not match the format \"%d/%m/%Y\""
            ),
            "{e}"
        );
        assert_eq!(
            err("parseDateTime", json!({"input": "x", "format": "%Q"})),
            "parameter `format` is not a valid strftime format: \"%Q\""
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(
            ok(
                "formatDateTime",
                json!({"input": "2026-01-02T03:04:05Z", "format": "%d/%m/%Y %H:%M"})
            ),
            json!("02/01/2026 03:04")
        );
        assert_eq!(
            ok(
                "formatDateTime",
                json!({"input": "2026-01-02T05:04:05+02:00"})
            ),
            json!("2026-01-02 03:04:05")
        );
        assert_eq!(
            ok(
                "formatDateTime",
                json!({"input": "2026-01-02 03:04:05", "format": "%Y-%m-%dT%H:%M:%S%:z %A"})
            ),
            json!("2026-01-02T03:04:05+00:00 Friday")
        );
        for bad in ["%", "%Q", "abc %-"] {
            let e = err(
                "formatDateTime",
                json!({"input": "2026-01-02", "format": bad}),
            );
            assert!(
                e.starts_with("parameter `format` is not a valid strftime format"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            err(
                "formatDateTime",
                json!({"input": "2026-01-02", "format": "%c".repeat(600)})
            ),
            "parameter `format` is longer than 1024 bytes"
        );
        let e = err("formatDateTime", json!({"input": "soon"}));
        assert!(e.starts_with("parameter `input` is not a date/time"), "{e}");
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            ok(
                "addToDateTime",
                json!({"input": "2026-01-02 03:04:05", "amount": 1, "unit": "hours"})
            ),
            json!("2026-01-02 04:04:05")
        );
        assert_eq!(
            ok(
                "addToDateTime",
                json!({"input": "2026-01-02 03:04:05", "amount": -3, "unit": "days"})
            ),
            json!("2025-12-30 03:04:05")
        );
        assert_eq!(
            ok(
                "addToDateTime",
                json!({"input": "2026-01-02 03:04:05", "amount": 1.5, "unit": "minutes"})
            ),
            json!("2026-01-02 03:05:35")
        );
        assert_eq!(
            ok(
                "addToDateTime",
                json!({"input": "2026-01-02 03:04:05", "amount": 55})
            ),
            json!("2026-01-02 03:05:00")
        );
        assert_eq!(
            err("addToDateTime", json!({"input": "2026-01-02", "amount": 1, "unit": "fortnights"})),
            "parameter `unit` must be one of seconds, minutes, hours, days, weeks; got \"fortnights\""
        );
        let e = err(
            "addToDateTime",
            json!({"input": "2026-01-02", "amount": 1e12, "unit": "weeks"}),
        );
        assert!(e.contains("leaves the supported date range"), "{e}");
        assert_eq!(
            ok(
                "dateTimeDifference",
                json!({"start_time": "2026-01-02 03:04:05", "end_time": "2026-01-02 05:34:05", "unit": "hours"})
            ),
            json!(2.5)
        );
        assert_eq!(
            ok(
                "dateTimeDifference",
                json!({"start_time": "2026-01-03", "end_time": "2026-01-02"})
            ),
            json!(-86400)
        );
        assert_eq!(
            ok("toEpoch", json!({"input": "2026-01-02 03:04:05"})),
            json!(1767323045)
        );
        assert_eq!(
            ok(
                "toEpoch",
                json!({"input": "2026-01-02T03:04:05.5Z", "unit": "milliseconds"})
            ),
            json!(1767323045500_i64)
        );
        assert!(err("toEpoch", json!({"input": "2026-01-02", "unit": "ns"}))
            .contains("seconds or milliseconds"));
    }
}
