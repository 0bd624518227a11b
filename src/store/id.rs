//! Run ids: 26 characters of Crockford base32, a 48-bit millisecond time then 80 random bits (the
//! ULID layout), so text order is creation order. Ids made by one process in the same millisecond
//! count up from the first one's random part, so they sort in the order they were made.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::StoreError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 26;
const RANDOM_BITS: u32 = 80;

/// A run's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// A new id, greater than every id this process made before.
    pub fn generate() -> RunId {
        static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));
        let now = now_ms();
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (ms, random) = if now <= last.0 {
            // The same millisecond (or a clock set back): count up from the last id.
            (last.0, (last.1 + 1) & random_mask())
        } else {
            (now, random_bits())
        };
        *last = (ms, random);
        RunId(encode((u128::from(ms) << RANDOM_BITS) | random))
    }

    /// An id as text, checked to be one (any case; stored in upper case).
    pub fn parse(text: &str) -> Result<RunId, StoreError> {
        let upper = text.to_ascii_uppercase();
        let valid = upper.len() == LEN
            && upper.bytes().all(|b| ALPHABET.contains(&b))
            // 26 base32 digits hold 130 bits: the first may only be 0-7.
            && upper.as_bytes()[0] <= b'7';
        if valid {
            Ok(RunId(upper))
        } else {
            Err(StoreError::BadRunId(text.chars().take(64).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn encode(mut value: u128) -> String {
    let mut out = [b'0'; LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        & ((1 << 48) - 1)
}

fn random_mask() -> u128 {
    (1u128 << RANDOM_BITS) - 1
}

/// 80 unpredictable bits without a new dependency: std's `RandomState` is keyed from the OS's
/// random source once per thread; a counter and the time make each draw differ. Not for secrets.
fn random_bits() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let draw = || {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    };
    ((u128::from(draw()) << 64) | u128::from(draw())) & random_mask()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_the_order_they_were_made_and_parse_back() {
        let ids: Vec<RunId> = (0..1000).map(|_| RunId::generate()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        for id in &ids {
            assert_eq!(id.as_str().len(), 26);
            assert_eq!(&RunId::parse(&id.as_str().to_lowercase()).unwrap(), id);
        }
    }

    #[test]
    fn text_that_is_no_id_is_refused() {
        for bad in [
            "",
            "01ARZ3NDEKTSV4RRFFQ69G5FA",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
            "../../etc/passwd00000000000",
            "81ARZ3NDEKTSV4RRFFQ69G5FAV",
            "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        ] {
            assert_eq!(
                RunId::parse(bad),
                Err(StoreError::BadRunId(bad.to_string())),
                "{bad}"
            );
        }
        assert!(RunId::parse("01ARZ3NDEKTSV4RRFFQ69G5FAV").is_ok());
    }
}
