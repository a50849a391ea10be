//! Validation errors: a list of `{field, message}` naming the field and the rule.

use serde::{Deserialize, Serialize};

/// One broken rule: which field (JSON path in camelCase, e.g. `gatewayIps[1]`) and what rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON field that broke the rule, e.g. `peerCidr` or `records[0].value`.
    pub field: String,
    /// What the rule is and how to satisfy it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every rule a request broke (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} validation error(s): {}", .0.len(), summary(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// Whether some error names exactly this field.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

/// Most errors reported for one request (a list of 100 000 bad CIDRs answers with 100).
pub const MAX_ERRORS: usize = 100;

/// Collects errors while parsing a request, so the client sees every broken rule at once.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record the error of `result` under `field`; return the value when it parsed.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(value())` when no rule was broken. `value` only runs when every field parsed, so
    /// it may unwrap the `Option`s returned by [`Validator::check`] through `?`-free helpers.
    pub fn finish<T>(mut self, value: impl FnOnce() -> Option<T>) -> Result<T, ValidationErrors> {
        if !self.errors.is_empty() {
            if self.errors.len() > MAX_ERRORS {
                let more = self.errors.len() - MAX_ERRORS;
                self.errors.truncate(MAX_ERRORS);
                self.errors
                    .push(FieldError::new("", format!("… and {more} more errors")));
            }
            return Err(ValidationErrors(self.errors));
        }
        value().ok_or_else(|| {
            ValidationErrors::single("", "internal validation inconsistency: a field was missing")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_capped() {
        let mut v = Validator::new();
        for i in 0..1000 {
            v.push(format!("cidrs[{i}]"), "bad");
        }
        let e = v.finish(|| Some(())).unwrap_err();
        assert_eq!(e.0.len(), MAX_ERRORS + 1);
        assert!(e.0[MAX_ERRORS].message.contains("900 more"));
        assert!(Validator::new().finish(|| Some(1)).is_ok());
    }
}
