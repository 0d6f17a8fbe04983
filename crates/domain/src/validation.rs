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

    /// Checks a free-text field's length in characters (after trimming).
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
        }
    }
}
