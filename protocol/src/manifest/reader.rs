//! Reading a manifest's fields from JSON-like values, one error per
//! problem naming the field as its author spelt it; and the URL and path
//! rules they must follow.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use solana_pubkey::Pubkey;

use super::fields::ManifestError;

/// How field names are spelt: `camelCase` in JSON, `snake_case` in `PAY.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `serviceUrl`.
    Camel,
    /// `service_url`.
    Snake,
}

impl Naming {
    /// `camel` in this naming.
    pub fn key(self, camel: &str) -> String {
        match self {
            Self::Camel => camel.to_string(),
            Self::Snake => camel
                .chars()
                .flat_map(|c| {
                    let lower = c.to_ascii_lowercase();
                    let underscore = c.is_ascii_uppercase().then_some('_');
                    underscore.into_iter().chain(std::iter::once(lower))
                })
                .collect(),
        }
    }
}

/// Reads one object's fields, naming each as its author spelt it.
pub(super) struct Reader<'a> {
    object: &'a Map<String, Value>,
    naming: Naming,
    prefix: String,
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        value: &'a Value,
        naming: Naming,
        prefix: String,
        known: &[&str],
    ) -> Result<Self, ManifestError> {
        let object = value
            .as_object()
            .ok_or_else(|| ManifestError::new(prefix.clone(), "must be a mapping of fields"))?;
        let reader = Self {
            object,
            naming,
            prefix,
        };
        let names: BTreeSet<String> = known.iter().map(|field| naming.key(field)).collect();
        if let Some(unknown) = object.keys().find(|key| !names.contains(*key)) {
            return Err(ManifestError::new(
                reader.field_name(unknown),
                "is not a manifest field",
            ));
        }
        Ok(reader)
    }

    fn field_name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub(super) fn field(&self, camel: &str) -> String {
        self.field_name(&self.naming.key(camel))
    }

    pub(super) fn get(&self, camel: &str) -> Option<&'a Value> {
        self.object
            .get(&self.naming.key(camel))
            .filter(|value| !value.is_null())
    }

    pub(super) fn text(
        &self,
        camel: &str,
        min: usize,
        max: usize,
    ) -> Result<String, ManifestError> {
        let value = self
            .get(camel)
            .ok_or_else(|| ManifestError::new(self.field(camel), "is missing"))?;
        self.check_text(camel, value, min, max)
    }

    pub(super) fn optional_text(
        &self,
        camel: &str,
        max: usize,
    ) -> Result<Option<String>, ManifestError> {
        self.get(camel)
            .map(|value| self.check_text(camel, value, 1, max))
            .transpose()
    }

    fn check_text(
        &self,
        camel: &str,
        value: &Value,
        min: usize,
        max: usize,
    ) -> Result<String, ManifestError> {
        let text = value
            .as_str()
            .ok_or_else(|| ManifestError::new(self.field(camel), "must be text"))?
            .trim();
        let length = text.chars().count();
        if length < min || length > max {
            return Err(ManifestError::new(
                self.field(camel),
                format!("must be {min} to {max} characters long, not {length}"),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ManifestError::new(
                self.field(camel),
                "must not contain control characters",
            ));
        }
        Ok(text.to_string())
    }

    pub(super) fn url(&self, camel: &str, required: bool) -> Result<Option<String>, ManifestError> {
        let Some(value) = self.get(camel) else {
            return if required {
                Err(ManifestError::new(self.field(camel), "is missing"))
            } else {
                Ok(None)
            };
        };
        let text = self.check_text(camel, value, 1, 2048)?;
        check_url(&text).map_err(|message| ManifestError::new(self.field(camel), message))?;
        Ok(Some(text.trim_end_matches('/').to_string()))
    }

    pub(super) fn key(&self, camel: &str) -> Result<Pubkey, ManifestError> {
        self.text(camel, 32, 44)?
            .parse()
            .map_err(|_| ManifestError::new(self.field(camel), "must be a base58 Solana address"))
    }

    pub(super) fn unsigned(&self, camel: &str) -> Result<Option<u64>, ManifestError> {
        let Some(value) = self.get(camel) else {
            return Ok(None);
        };
        let parsed = match value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                text.parse().ok()
            }
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            ManifestError::new(
                self.field(camel),
                "must be a whole number of raw token units (e.g. 10000)",
            )
        })
    }
}

/// An http(s) URL with a host and no credentials, query or fragment.
fn check_url(text: &str) -> Result<(), &'static str> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("must be an http:// or https:// URL")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err("must name a host");
    }
    if authority.contains('@') {
        return Err("must not carry credentials");
    }
    if text.contains(['?', '#']) || text.chars().any(char::is_whitespace) {
        return Err("must not have a query, fragment or spaces");
    }
    Ok(())
}

/// Checks a path pattern: `/`, literal segments, `:name`, an optional final `*`.
pub(super) fn check_pattern(path: &str) -> Result<(), &'static str> {
    let rest = path.strip_prefix('/').ok_or("must start with /")?;
    if rest.is_empty() {
        return Ok(());
    }
    let segments: Vec<&str> = rest.split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "" => return Err("must not have empty segments"),
            "*" if index + 1 == segments.len() => {}
            "*" => return Err("may have * only as its last segment"),
            "." | ".." => return Err("must not have dot segments"),
            _ if segment.starts_with(':') && segment.len() > 1 => {}
            _ if segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)) => {}
            _ => return Err("segments must be literals of letters, digits and -._~, :name or *"),
        }
    }
    Ok(())
}

/// Whether the concrete `path` is one the `pattern` matches.
pub fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut patterns = pattern.trim_start_matches('/').split('/');
    let mut segments = path.trim_start_matches('/').split('/');
    loop {
        match (patterns.next(), segments.next()) {
            (None, None) => return true,
            (Some("*"), _) => return true,
            (Some(want), Some(got)) if want.starts_with(':') => {
                if got.is_empty() {
                    return false;
                }
            }
            (Some(want), Some(got)) if want == got => {}
            _ => return false,
        }
    }
}
