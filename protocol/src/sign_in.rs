//! The x402 `sign-in-with-x` answer for Solana: the fields a client echoes
//! from the challenge, the Sign-In-With-Solana message it signs, and the
//! `SIGN-IN-WITH-X` header that carries them (`docs/protocol.md` §7).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signature;
use serde_json::{json, Value};
use solana_pubkey::Pubkey;

/// Largest header accepted, bytes.
const MAX_HEADER_LEN: usize = 8 * 1024;

/// Why a sign-in header or challenge could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedSignIn(pub String);

/// The fields of a `SIGN-IN-WITH-X` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInFields {
    /// The site's host.
    pub domain: String,
    /// The signing wallet, base58.
    pub address: String,
    /// The URI signed in to.
    pub uri: String,
    /// `1`.
    pub version: String,
    /// CAIP-2 chain id.
    pub chain_id: String,
    /// `ed25519` for Solana.
    pub signature_type: String,
    /// The server's nonce.
    pub nonce: String,
    /// RFC 3339 issue time.
    pub issued_at: String,
    /// RFC 3339 expiry, if any.
    pub expiration_time: Option<String>,
    /// RFC 3339 start, if any.
    pub not_before: Option<String>,
    /// A human-readable purpose, if any.
    pub statement: Option<String>,
    /// A correlation id, if any.
    pub request_id: Option<String>,
    /// Resources the sign-in covers.
    pub resources: Vec<String>,
    /// The signature, base58.
    pub signature: String,
}

impl SignInFields {
    /// Fills every field from a challenge's `info` and `supportedChains[0]`
    /// for `address` (the signature is left empty).
    pub fn answering(extension: &Value, address: &Pubkey) -> Result<Self, MalformedSignIn> {
        let info = &extension["info"];
        let chain = &extension["supportedChains"][0];
        let required = |value: &Value, name: &str| -> Result<String, MalformedSignIn> {
            value[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| MalformedSignIn(format!("{name} must be a string")))
        };
        let optional = |name: &str| info[name].as_str().map(str::to_string);
        Ok(Self {
            domain: required(info, "domain")?,
            address: address.to_string(),
            uri: required(info, "uri")?,
            version: required(info, "version")?,
            chain_id: required(chain, "chainId")?,
            signature_type: required(chain, "type")?,
            nonce: required(info, "nonce")?,
            issued_at: required(info, "issuedAt")?,
            expiration_time: optional("expirationTime"),
            not_before: optional("notBefore"),
            statement: optional("statement"),
            request_id: optional("requestId"),
            resources: string_list(&info["resources"])?,
            signature: String::new(),
        })
    }

    /// Parses a header value: base64 of the JSON object.
    pub fn parse(header: &str) -> Result<Self, MalformedSignIn> {
        let malformed = |reason: &str| MalformedSignIn(reason.to_string());
        if header.len() > MAX_HEADER_LEN {
            return Err(malformed("header longer than 8 KiB"));
        }
        let bytes = STANDARD
            .decode(header.trim())
            .map_err(|_| malformed("not base64"))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| malformed("not base64 of JSON"))?;
        let required = |name: &str| -> Result<String, MalformedSignIn> {
            value[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| MalformedSignIn(format!("{name} must be a string")))
        };
        let optional = |name: &str| -> Result<Option<String>, MalformedSignIn> {
            match &value[name] {
                Value::Null => Ok(None),
                Value::String(text) => Ok(Some(text.clone())),
                _ => Err(MalformedSignIn(format!("{name} must be a string"))),
            }
        };
        Ok(Self {
            domain: required("domain")?,
            address: required("address")?,
            uri: required("uri")?,
            version: required("version")?,
            chain_id: required("chainId")?,
            signature_type: required("type")?,
            nonce: required("nonce")?,
            issued_at: required("issuedAt")?,
            expiration_time: optional("expirationTime")?,
            not_before: optional("notBefore")?,
            statement: optional("statement")?,
            request_id: optional("requestId")?,
            resources: string_list(&value["resources"])?,
            signature: required("signature")?,
        })
    }

    /// The header value: base64 of the JSON object.
    pub fn header_value(&self) -> String {
        let mut value = json!({
            "domain": self.domain,
            "address": self.address,
            "uri": self.uri,
            "version": self.version,
            "chainId": self.chain_id,
            "type": self.signature_type,
            "nonce": self.nonce,
            "issuedAt": self.issued_at,
            "signatureScheme": "siws",
            "signature": self.signature,
        });
        let optional = [
            ("expirationTime", &self.expiration_time),
            ("notBefore", &self.not_before),
            ("statement", &self.statement),
            ("requestId", &self.request_id),
        ];
        for (name, field) in optional {
            if let Some(text) = field {
                value[name] = json!(text);
            }
        }
        if !self.resources.is_empty() {
            value["resources"] = json!(self.resources);
        }
        STANDARD.encode(value.to_string())
    }

    /// The Sign-In-With-Solana message the signature covers.
    pub fn message(&self) -> String {
        let mut lines = vec![
            format!(
                "{} wants you to sign in with your Solana account:",
                self.domain
            ),
            self.address.clone(),
            String::new(),
        ];
        if let Some(statement) = self.statement.as_deref().filter(|text| !text.is_empty()) {
            lines.push(statement.to_string());
            lines.push(String::new());
        }
        let chain_reference = self
            .chain_id
            .split_once(':')
            .map_or(self.chain_id.as_str(), |(_, reference)| reference);
        lines.push(format!("URI: {}", self.uri));
        lines.push(format!("Version: {}", self.version));
        lines.push(format!("Chain ID: {chain_reference}"));
        lines.push(format!("Nonce: {}", self.nonce));
        lines.push(format!("Issued At: {}", self.issued_at));
        let optional = [
            ("Expiration Time", &self.expiration_time),
            ("Not Before", &self.not_before),
            ("Request ID", &self.request_id),
        ];
        for (label, field) in optional {
            if let Some(text) = field.as_deref().filter(|text| !text.is_empty()) {
                lines.push(format!("{label}: {text}"));
            }
        }
        if !self.resources.is_empty() {
            lines.push("Resources:".into());
            lines.extend(
                self.resources
                    .iter()
                    .map(|resource| format!("- {resource}")),
            );
        }
        lines.join("\n")
    }

    /// The signing wallet.
    pub fn address_key(&self) -> Result<Pubkey, MalformedSignIn> {
        self.address
            .parse()
            .map_err(|_| MalformedSignIn("address is not a base58 Solana address".into()))
    }

    /// The signature.
    pub fn signature(&self) -> Result<Signature, MalformedSignIn> {
        let bytes: [u8; 64] = bs58::decode(&self.signature)
            .into_vec()
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| MalformedSignIn("signature is not 64 bytes of base58".into()))?;
        Ok(Signature::from_bytes(&bytes))
    }
}

fn string_list(value: &Value) -> Result<Vec<String>, MalformedSignIn> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| MalformedSignIn("resources must be strings".into()))
            })
            .collect(),
        _ => Err(MalformedSignIn("resources must be a list".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_follows_the_sign_in_with_solana_layout() {
        let fields = SignInFields {
            domain: "api.example.com".into(),
            address: "BSmWDgE9ex6dZYbiTsJGcwMEgFp8q4aWh92hdErQPeVW".into(),
            uri: "https://api.example.com/premium-data".into(),
            version: "1".into(),
            chain_id: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".into(),
            signature_type: "ed25519".into(),
            nonce: "a1b2c3d4e5f67890a1b2c3d4e5f67890".into(),
            issued_at: "2024-01-15T10:30:00.000Z".into(),
            expiration_time: Some("2024-01-15T10:35:00.000Z".into()),
            statement: Some("Sign in to access premium data".into()),
            resources: vec!["https://api.example.com/premium-data".into()],
            ..SignInFields::default()
        };
        assert_eq!(
            fields.message(),
            "api.example.com wants you to sign in with your Solana account:\n\
             BSmWDgE9ex6dZYbiTsJGcwMEgFp8q4aWh92hdErQPeVW\n\
             \n\
             Sign in to access premium data\n\
             \n\
             URI: https://api.example.com/premium-data\n\
             Version: 1\n\
             Chain ID: 5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp\n\
             Nonce: a1b2c3d4e5f67890a1b2c3d4e5f67890\n\
             Issued At: 2024-01-15T10:30:00.000Z\n\
             Expiration Time: 2024-01-15T10:35:00.000Z\n\
             Resources:\n\
             - https://api.example.com/premium-data"
        );
    }

    #[test]
    fn a_header_reads_back_as_written() {
        let fields = SignInFields {
            domain: "api.example.com".into(),
            address: Pubkey::new_from_array([5; 32]).to_string(),
            uri: "https://api.example.com/v1/account".into(),
            version: "1".into(),
            chain_id: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1".into(),
            signature_type: "ed25519".into(),
            nonce: "00112233445566778899aabbccddeeff".into(),
            issued_at: "2026-09-21T14:13:20Z".into(),
            not_before: Some("2026-09-21T14:13:20Z".into()),
            signature: "sig".into(),
            ..SignInFields::default()
        };
        assert_eq!(SignInFields::parse(&fields.header_value()), Ok(fields));
        assert!(SignInFields::parse("%%%").is_err());
    }
}
