//! The opaque paging cursor: where the next page starts, tied to the query it came from so that
//! a cursor reused with other filters is refused rather than silently paging something else.
//! Clients must not read it; its spelling may change between releases. Callers that filter
//! hits further (core-api's `available_on`) make a cursor at the exact offset where their page
//! ended, from the `fingerprint` of the checked query.

/// A position in the hits of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Hits before the next page.
    pub offset: usize,
    /// The hash of the query the cursor continues.
    pub fingerprint: u64,
}

impl Cursor {
    /// The cursor at `offset` of the query hashed to `fingerprint`.
    pub fn new(offset: usize, fingerprint: u64) -> Self {
        Self {
            offset,
            fingerprint,
        }
    }

    /// URL-safe text: `<offset>.<fingerprint>` in lowercase hexadecimal.
    pub fn encode(&self) -> String {
        format!("{:x}.{:x}", self.offset, self.fingerprint)
    }

    /// The cursor, or `None` when the text is not one this module wrote.
    pub fn decode(text: &str) -> Option<Self> {
        let (offset, fingerprint) = text.split_once('.')?;
        Some(Self {
            offset: usize::from_str_radix(offset, 16).ok()?,
            fingerprint: u64::from_str_radix(fingerprint, 16).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor::new(40, 0xdead_beef);
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("40"), None);
        assert_eq!(Cursor::decode("zz.1"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
