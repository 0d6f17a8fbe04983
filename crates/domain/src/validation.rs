//! Field-level validation errors, collected rather than stopping at the first, so a client can
//! show every problem of a form at once.

use serde::Serialize;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `email` or `social_accounts[1].handle`.
    pub field: String,
    /// Stable machine-readable code, e.g. `too_short`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// Every problem found in one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("invalid input: {} field error(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Checks a free-text field: its length in characters (after trimming), no control
    /// characters but newlines, no bidirectional overrides or isolates (they make text display
    /// in an order other than the one it is stored in), and not only invisible characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let length = value.trim().chars().count();
        if length < min {
            if min == 1 {
                self.add(field, "required", "must not be empty");
            } else {
                self.add(
                    field,
                    "too_short",
                    format!("must be at least {min} characters"),
                );
            }
        } else if length > max {
            self.add(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
        }
        if value.chars().any(|c| c.is_control() && c != '\n') {
            self.add(
                field,
                "invalid_characters",
                "must not contain control characters",
            );
        } else if value.chars().any(is_bidi_control) {
            self.add(
                field,
                "invalid_characters",
                "must not contain bidirectional override or isolate characters",
            );
        }
        let trimmed = value.trim();
        if !trimmed.is_empty() && trimmed.chars().all(is_invisible) {
            self.add(field, "invisible_only", "must contain visible characters");
        }
    }
}

/// Bidirectional embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069). Plain
/// right-to-left text needs none of them (the Unicode algorithm orders it by itself); the
/// marks U+200E, U+200F and U+061C, which some RTL writers use, stay allowed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing by themselves: whitespace, format characters (zero-width
/// spaces and joiners, directional marks, the byte order mark, tags) and the fillers and
/// selectors that render as blanks. Text made only of these looks empty to a reader.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(field: &str, value: &str, min: usize) -> Vec<&'static str> {
        let mut errors = ValidationErrors::default();
        errors.text(field, value, min, 80);
        assert!(errors.0.iter().all(|e| e.field == field), "{errors:?}");
        errors.0.into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn text_in_any_script_with_emoji_sequences_is_accepted() {
        for text in [
            "Ana Silva",
            "José Müller-Łukasiewicz",
            "مرحبا بالعالم",
            "שלום עולם",
            "Café \u{200F}مرحبا\u{200F} 2026",
            "東京の旅",
            "नमस्ते",
            "Family 👨\u{200D}👩\u{200D}👧\u{200D}👦 and coder 👩🏽\u{200D}💻",
            "Rainbow 🏳\u{FE0F}\u{200D}🌈",
            "Bio line one\nline two",
        ] {
            assert_eq!(
                codes("display_name", text, 1),
                Vec::<&str>::new(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bidirectional_overrides_and_isolates_are_refused_anywhere() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            for text in [format!("{c}Ana"), format!("An{c}a"), format!("Ana{c}")] {
                assert_eq!(
                    codes("title", &text, 3),
                    vec!["invalid_characters"],
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn text_of_invisible_characters_only_is_refused_even_where_empty_is_allowed() {
        for text in [
            "\u{200B}",
            "\u{200C}\u{200D}",
            " \u{2060} ",
            "\u{FEFF}",
            "\u{200B}\u{00A0}\u{3000}\u{200B}",
            "\u{E0041}\u{E0042}",
            "\u{3164}\u{3164}",
        ] {
            assert_eq!(codes("bio", text, 0), vec!["invisible_only"], "{text:?}");
            assert!(
                codes("display_name", text, 1).contains(&"invisible_only"),
                "{text:?}"
            );
        }
        assert_eq!(codes("bio", "", 0), Vec::<&str>::new());
    }

    #[test]
    fn control_characters_other_than_newlines_are_refused() {
        assert_eq!(codes("title", "Ana\u{0007}", 1), vec!["invalid_characters"]);
        assert_eq!(codes("title", "Ana\tSilva", 1), vec!["invalid_characters"]);
    }
}
