//! Keyset paging, the same for every list: a page of 1 to 100 items (20 unless asked), a cursor
//! that is the last id of the previous page, and a next cursor only after a full page.

use noillin_domain::{MAX_ID_LEN, ValidationErrors};

/// Items in a page unless the client asks for another size.
const DEFAULT_PAGE: u32 = 20;
/// Most items a page may hold.
const MAX_PAGE: u32 = 100;

/// A list request's page: its size, checked, and the cursor it continues after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl Page {
    /// Checks the size asked for and the cursor; `cursor_field` names the cursor in errors.
    pub fn read(
        limit: Option<u32>,
        cursor_field: &str,
        cursor: Option<String>,
    ) -> Result<Self, ValidationErrors> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        let mut errors = ValidationErrors::default();
        if !(1..=MAX_PAGE).contains(&limit) {
            errors.add("limit", "out_of_range", "must be between 1 and 100");
        } else if cursor.as_ref().is_some_and(|c| c.len() > MAX_ID_LEN) {
            errors.add(
                cursor_field,
                "invalid",
                "must be an id from a previous page",
            );
        }
        errors.into_result(Self { limit, cursor })
    }

    /// The cursor of the page after `items`: its last id when the page is full (a full last
    /// page costs the client one more, empty, request).
    pub fn next<T, I>(&self, items: &[T], id: impl Fn(&T) -> I) -> Option<I> {
        items
            .last()
            .filter(|_| items.len() >= self.limit as usize)
            .map(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_page_is_one_to_a_hundred_items_twenty_unless_asked() {
        assert_eq!(Page::read(None, "after", None).unwrap().limit, 20);
        assert_eq!(Page::read(Some(100), "after", None).unwrap().limit, 100);
        for refused in [0, 101, u32::MAX] {
            let errors = Page::read(Some(refused), "after", None).unwrap_err();
            assert_eq!(fields(&errors), vec!["limit"], "{refused}");
        }
    }

    #[test]
    fn a_cursor_longer_than_any_id_is_refused_under_its_own_name() {
        let longest = "x".repeat(MAX_ID_LEN);
        assert!(Page::read(None, "before", Some(longest.clone())).is_ok());
        let errors = Page::read(None, "before", Some(longest + "x")).unwrap_err();
        assert_eq!(fields(&errors), vec!["before"]);
    }

    #[test]
    fn only_a_full_page_has_a_next_cursor() {
        let page = Page::read(Some(2), "after", None).unwrap();
        assert_eq!(page.next(&[1, 2], |n| n * 10), Some(20));
        assert_eq!(page.next(&[1], |n| n * 10), None);
        assert_eq!(page.next(&[] as &[i32], |n| n * 10), None);
    }
}
