//! The request target, canonicalised once: routes are matched against it and
//! the upstream receives exactly it, so no second URL parser can disagree with
//! the first about which path was paid for.
//!
//! A path is split at `/` and every segment percent-decoded (strictly: a `%`
//! must start a two-digit hex escape, and the result must be UTF-8). Refused
//! with a reason (400): dot segments (`.`, `..`), any encoded dot, slash or
//! backslash (`%2E`, `%2F`, `%5C`), a raw backslash, `;` (servlet containers
//! cut path parameters at it), control characters, and empty segments (`//`).
//! One trailing slash is kept in the forwarded path but ignored when matching,
//! so `/v1/report/` is priced like `/v1/report`. The canonical path re-encodes
//! each decoded segment: unreserved characters and `!$&'()*+,=:@` stay as they
//! are, everything else becomes `%XX` (upper-case hex). The query is forwarded
//! unchanged; routes never look at it.

use axum::http::uri::PathAndQuery;
use axum::http::Uri;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

/// Characters percent-encoded in a canonical segment: everything but RFC
/// 3986's unreserved characters and `!$&'()*+,=:@`.
const SEGMENT_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A canonical request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    segments: Vec<String>,
    path_and_query: PathAndQuery,
}

/// Why a request target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The target is not a path (e.g. `OPTIONS *`).
    #[error("the request target must be a path starting with '/'")]
    NotAPath,
    /// A `.` or `..` segment.
    #[error("the path has a dot segment ('.' or '..')")]
    DotSegment,
    /// `%2E`, `%2F` or `%5C`.
    #[error("the path has a percent-encoded dot, slash or backslash")]
    EncodedSeparator,
    /// A raw `\`.
    #[error("the path has a backslash")]
    Backslash,
    /// A `;` (path parameters).
    #[error("the path has a ';' (path parameters are not accepted)")]
    Semicolon,
    /// `//` or an empty segment.
    #[error("the path has an empty segment ('//')")]
    EmptySegment,
    /// A `%` not followed by two hex digits, or decoded bytes that are not UTF-8.
    #[error("the path has a malformed percent-encoding")]
    BadEncoding,
    /// A decoded control character.
    #[error("the path has a control character")]
    ControlCharacter,
}

impl Target {
    /// Canonicalises `uri`'s path (its query is kept as it is).
    pub fn parse(uri: &Uri) -> Result<Self, TargetError> {
        let path = uri.path();
        let rest = path.strip_prefix('/').ok_or(TargetError::NotAPath)?;
        let (rest, trailing_slash) = match rest.strip_suffix('/') {
            Some(stripped) if !stripped.is_empty() => (stripped, true),
            _ => (rest, false),
        };
        let mut segments = Vec::new();
        let mut canonical = String::with_capacity(path.len());
        if !rest.is_empty() {
            for raw in rest.split('/') {
                let segment = decode_segment(raw)?;
                canonical.push('/');
                canonical.extend(utf8_percent_encode(&segment, SEGMENT_ENCODE));
                segments.push(segment);
            }
        }
        if canonical.is_empty() || trailing_slash {
            canonical.push('/');
        }
        if let Some(query) = uri.query() {
            canonical.push('?');
            canonical.push_str(query);
        }
        let path_and_query = canonical
            .parse::<PathAndQuery>()
            .map_err(|_| TargetError::BadEncoding)?;
        Ok(Self {
            segments,
            path_and_query,
        })
    }

    /// The decoded path segments, without a trailing empty one.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The canonical path and query: what was matched and what is forwarded.
    pub fn path_and_query(&self) -> &PathAndQuery {
        &self.path_and_query
    }

    /// The canonical path and query as an origin-form URI.
    pub fn uri(&self) -> Uri {
        Uri::from(self.path_and_query.clone())
    }
}

/// Decodes one raw segment, refusing the forms a second parser could read
/// differently.
fn decode_segment(raw: &str) -> Result<String, TargetError> {
    if raw.is_empty() {
        return Err(TargetError::EmptySegment);
    }
    if raw.contains('\\') {
        return Err(TargetError::Backslash);
    }
    if raw.contains(';') {
        return Err(TargetError::Semicolon);
    }
    let bytes = raw.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte != b'%' {
            continue;
        }
        let escape = bytes
            .get(index + 1..index + 3)
            .filter(|digits| digits.iter().all(u8::is_ascii_hexdigit))
            .ok_or(TargetError::BadEncoding)?;
        if matches!(
            escape.to_ascii_uppercase().as_slice(),
            b"2E" | b"2F" | b"5C" | b"3B"
        ) {
            return Err(if escape.eq_ignore_ascii_case(b"3B") {
                TargetError::Semicolon
            } else {
                TargetError::EncodedSeparator
            });
        }
    }
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| TargetError::BadEncoding)?;
    if decoded.chars().any(char::is_control) {
        return Err(TargetError::ControlCharacter);
    }
    if decoded == "." || decoded == ".." {
        return Err(TargetError::DotSegment);
    }
    Ok(decoded.into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(target: &str) -> Result<Target, TargetError> {
        Target::parse(&target.parse::<Uri>().unwrap())
    }

    fn canonical(target: &str) -> String {
        parse(target).unwrap().path_and_query().as_str().to_string()
    }

    #[test]
    fn plain_paths_are_their_own_canonical_form() {
        for target in [
            "/",
            "/v1/quotes/SOL",
            "/v1/a-b_c.d~e",
            "/x?y=1&z=%2F",
            "/v1/report/",
        ] {
            assert_eq!(canonical(target), target);
        }
        assert_eq!(parse("/v1/report/").unwrap().segments(), ["v1", "report"]);
        assert!(parse("/").unwrap().segments().is_empty());
    }

    #[test]
    fn encoded_unreserved_characters_are_decoded_and_the_rest_encoded_upper_case() {
        assert_eq!(canonical("/v1/premium/%72eport"), "/v1/premium/report");
        assert_eq!(canonical("/files/a%20b%c3%a9"), "/files/a%20b%C3%A9");
        assert_eq!(canonical("/f/%40x:y"), "/f/@x:y");
        assert_eq!(parse("/files/a%20b").unwrap().segments(), ["files", "a b"]);
    }

    #[test]
    fn forms_another_parser_reads_differently_are_refused() {
        for (target, refusal) in [
            ("/public/../v1/premium", TargetError::DotSegment),
            ("/public/./x", TargetError::DotSegment),
            ("/public/%2e%2e/v1", TargetError::EncodedSeparator),
            ("/public/.%2E/v1", TargetError::EncodedSeparator),
            ("/a%2Fb", TargetError::EncodedSeparator),
            ("/a%5cb", TargetError::EncodedSeparator),
            ("/public/..%5Cv1", TargetError::EncodedSeparator),
            ("/public\\..\\v1", TargetError::Backslash),
            ("/v1//premium", TargetError::EmptySegment),
            ("//v1/premium", TargetError::EmptySegment),
            ("/v1/premium/report;x=1", TargetError::Semicolon),
            ("/v1/report%3b", TargetError::Semicolon),
            ("/a%zz", TargetError::BadEncoding),
            ("/a%4", TargetError::BadEncoding),
            ("/a%ff", TargetError::BadEncoding),
            ("/a%00b", TargetError::ControlCharacter),
            ("/a%0d%0ab", TargetError::ControlCharacter),
            ("*", TargetError::NotAPath),
        ] {
            assert_eq!(parse(target), Err(refusal.clone()), "{target}");
        }
    }

    #[test]
    fn the_canonical_path_survives_a_url_parser_unchanged() {
        for target in [
            "/v1/quotes/SOL",
            "/files/a%20b%C3%A9",
            "/f/@x:y!$&'()*+,=",
            "/v1/report/",
        ] {
            let path = canonical(target);
            let url = reqwest::Url::parse(&format!("http://upstream.test{path}")).unwrap();
            assert_eq!(url.path(), path, "{target}");
        }
    }
}
