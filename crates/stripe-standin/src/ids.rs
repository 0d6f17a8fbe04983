//! Identifiers shaped like Stripe's: a prefix, an underscore and random alphanumerics.

use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_chars(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        // A v4 UUID is sixteen random bytes from the OS generator; the modulo bias does not
        // matter for identifiers that only need to be unique.
        for byte in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == n {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
        }
    }
    out
}

/// `pi_…`, `ch_…`, `re_…`, `tr_…`, `evt_…`: 24 characters after the prefix, as Stripe's.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_chars(24))
}

/// `pi_…_secret_…`, the secret a browser confirms the intent with.
pub(crate) fn client_secret(intent_id: &str) -> String {
    format!("{intent_id}_secret_{}", random_chars(25))
}

pub(crate) fn request_id() -> String {
    format!("req_{}", random_chars(14))
}

/// Unix seconds, what Stripe's `created` fields hold.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_stripes() {
        let id = new_id("pi");
        assert!(id.starts_with("pi_"));
        assert_eq!(id.len(), 27);
        assert!(id[3..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, new_id("pi"));
        let secret = client_secret(&id);
        assert!(secret.starts_with(&format!("{id}_secret_")));
    }
}
