//! What validation reports: one [`FieldError`] per problem, gathered into [`ValidationErrors`] for an event.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One problem with an input, e.g. `current_lat: 91.2 is outside [-90, 90]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where the problem is: a field name, `[3].field` inside a batch, `[3]` or `$` for a whole element.
    pub field: String,
    /// What is wrong, in words a sender can act on.
    pub message: String,
}

impl FieldError {
    /// A problem at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in one event; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub(crate) fn new(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }

    pub(crate) fn single(error: FieldError) -> Self {
        Self(vec![error])
    }

    /// The problems, in field order.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// Takes the problems out.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    /// Prefixes every path with a batch index: `current_lat` becomes `[3].current_lat`, `$` becomes `[3]`.
    pub fn at_index(self, index: usize) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|e| {
                    let field = if e.field == "$" {
                        format!("[{index}]")
                    } else {
                        format!("[{index}].{}", e.field)
                    };
                    FieldError {
                        field,
                        message: e.message,
                    }
                })
                .collect(),
        )
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}
