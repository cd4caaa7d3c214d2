//! Route patterns: a method (or `*`) and a path of literal segments, `:name`
//! segments matching any one segment, and a trailing `*` matching the rest.
//! Patterns are matched against the decoded segments of a canonical request
//! target ([`crate::target::Target`]), so literals are written decoded.

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    segments: Vec<Segment>,
    rest: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
}

/// A pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern.
    pub pattern: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl PathPattern {
    /// Parses `/v1/quotes/:symbol` or `/v1/files/*`.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let error = |reason| PatternError {
            pattern: pattern.to_string(),
            reason,
        };
        let Some(path) = pattern.strip_prefix('/') else {
            return Err(error("must start with '/'"));
        };
        let mut segments = Vec::new();
        let mut rest = false;
        let parts: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        for (index, part) in parts.iter().enumerate() {
            match *part {
                "*" if index + 1 == parts.len() => rest = true,
                "*" => return Err(error("'*' may only end a pattern")),
                "" => return Err(error("empty segment")),
                part if part.starts_with(':') && part.len() > 1 => segments.push(Segment::Any),
                part if part.contains(['*', ':', '?', '#', '%', '\\', ';']) => return Err(error(
                    "segments are literals (written decoded, without % \\ ;), :name or a final *",
                )),
                "." | ".." => return Err(error("dot segments never match")),
                part => segments.push(Segment::Literal(part.to_string())),
            }
        }
        Ok(Self {
            source: pattern.to_string(),
            segments,
            rest,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The names of its `:name` segments, in order.
    pub fn parameters(&self) -> Vec<&str> {
        self.source
            .split('/')
            .filter_map(|segment| segment.strip_prefix(':'))
            .collect()
    }

    /// Whether it matches more than one path (`:name` or a final `*`).
    pub fn is_template(&self) -> bool {
        self.rest || self.segments.contains(&Segment::Any)
    }

    /// Whether the decoded path `segments` match.
    pub fn matches(&self, segments: &[String]) -> bool {
        if segments.len() < self.segments.len()
            || (!self.rest && segments.len() != self.segments.len())
        {
            return false;
        }
        self.segments
            .iter()
            .zip(segments)
            .all(|(segment, part)| match segment {
                Segment::Literal(literal) => literal == part,
                Segment::Any => !part.is_empty(),
            })
    }
}

/// A method filter: one method, or any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodFilter {
    /// Any method.
    Any,
    /// Exactly this one (upper case).
    Only(String),
}

impl MethodFilter {
    /// `*` or a method name (any case).
    pub fn parse(text: &str) -> Self {
        match text {
            "*" => Self::Any,
            method => Self::Only(method.to_ascii_uppercase()),
        }
    }

    /// Whether `method` passes.
    pub fn allows(&self, method: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(only) => only.eq_ignore_ascii_case(method),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<String> {
        path.split('/')
            .filter(|part| !part.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn literal_parameter_and_rest_segments_match_as_written() {
        let exact = PathPattern::parse("/v1/quote").unwrap();
        assert!(exact.matches(&segments("/v1/quote")));
        assert!(!exact.matches(&segments("/v1/quote/x")));
        assert!(!exact.matches(&segments("/v1")));

        let param = PathPattern::parse("/v1/quotes/:symbol").unwrap();
        assert!(param.matches(&segments("/v1/quotes/SOL")));
        assert!(!param.matches(&segments("/v1/quotes")));
        assert!(!param.matches(&segments("/v1/quotes/SOL/history")));

        let rest = PathPattern::parse("/files/*").unwrap();
        assert!(rest.matches(&segments("/files/a/b/c")));
        assert!(rest.matches(&segments("/files")));
        assert!(!rest.matches(&segments("/other/a")));

        assert!(PathPattern::parse("/").unwrap().matches(&[]));
        let decoded = PathPattern::parse("/files/a b").unwrap();
        assert!(decoded.matches(&["files".to_string(), "a b".to_string()]));
    }

    #[test]
    fn malformed_patterns_are_refused_with_a_reason() {
        for pattern in [
            "v1", "/a/*/b", "/a//b", "/a*b", "/a?x", "/a%20b", "/a\\b", "/a;b", "/a/../b",
        ] {
            assert!(PathPattern::parse(pattern).is_err(), "{pattern}");
        }
    }

    #[test]
    fn methods_match_case_insensitively_or_anything() {
        assert!(MethodFilter::parse("get").allows("GET"));
        assert!(!MethodFilter::parse("GET").allows("POST"));
        assert!(MethodFilter::parse("*").allows("DELETE"));
    }
}
