//! Small helpers shared across modules: name suggestions, case conversions, a parallel map.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let cand = c.to_lowercase();
        let score = strsim::jaro_winkler(&lower, &cand);
        let edits = strsim::damerau_levenshtein(&lower, &cand);
        let close = score >= 0.85 || edits <= lower.chars().count() / 3;
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `f` over `items` on every core (scoped threads, contiguous chunks), results in order. Few
/// items run on the calling thread: a thread costs more than loading or checking a small file.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const MIN_PER_THREAD: usize = 8;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / MIN_PER_THREAD);
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                // The main thread's stack size: deeply nested YAML (up to the `yaml-depth`
                // limit) is parsed recursively, on these threads as on the main one.
                let h = std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(s, move || c.iter().map(f).collect::<Vec<R>>());
                (c, h)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(c, h)| match h {
                Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                // No thread to be had: do this chunk here.
                Err(_) => c.iter().map(f).collect(),
            })
            .collect()
    })
}

/// `Model ID` → `ModelId`, `Enrich IP` → `EnrichIp`: the internal name of a command.
pub fn pascal_case(display: &str) -> String {
    words(display)
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// `Model ID` → `model_id`, `Image Urls` → `image_urls`: the internal name of a parameter.
/// A word of digits joins the word before it (`Input 1` → `input1`), as the seed's names do.
pub fn snake_case(display: &str) -> String {
    let mut out = String::new();
    for w in words(display) {
        if !out.is_empty() && !w.chars().all(|c| c.is_ascii_digit()) {
            out.push('_');
        }
        out.push_str(&w.to_lowercase());
    }
    out
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(pascal_case("Enrich IP"), "EnrichIp");
        assert_eq!(pascal_case("List Models"), "ListModels");
        assert_eq!(snake_case("Model ID"), "model_id");
        assert_eq!(snake_case("Image Urls"), "image_urls");
        assert_eq!(snake_case("Max Words"), "max_words");
        assert_eq!(snake_case("Input 1"), "input1");
        assert_eq!(snake_case("Top 10 Results"), "top10_results");
    }

    #[test]
    fn suggestions() {
        let names = ["greaterThan", "lessThan", "equals"];
        assert_eq!(
            closest("greaterthan", names.into_iter()),
            Some("greaterThan")
        );
        assert_eq!(
            closest("greterThan", names.into_iter()),
            Some("greaterThan")
        );
        assert_eq!(closest("zzz", names.into_iter()), None);
    }
}

/// The longest wait codeless makes, in seconds: a `sleep`, a retry's delay, a task retry's.
pub const MAX_WAIT_SECONDS: f64 = 3600.0;

/// `secs` seconds as a `Duration`: negative and NaN are zero, and anything too large for a
/// `Duration` (a timeout of `1e300`) is the longest one, where `Duration::from_secs_f64` panics.
pub fn seconds(secs: f64) -> std::time::Duration {
    if secs.is_nan() || secs <= 0.0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::try_from_secs_f64(secs).unwrap_or(std::time::Duration::MAX)
}

#[cfg(test)]
mod seconds_tests {
    use super::seconds;
    use std::time::Duration;

    #[test]
    fn any_number_of_seconds_is_a_duration() {
        assert_eq!(seconds(1.5), Duration::from_millis(1500));
        assert_eq!(seconds(-3.0), Duration::ZERO);
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
        assert_eq!(seconds(1e300), Duration::MAX);
        assert_eq!(seconds(f64::INFINITY), Duration::MAX);
    }
}
