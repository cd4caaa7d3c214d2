//! JSON-RPC error objects with the codes a Solana validator uses.

use serde_json::{json, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Preflight simulation failed (validator custom code).
pub const SEND_TRANSACTION_PREFLIGHT_FAILURE: i64 = -32002;
/// A signature did not verify (validator custom code).
pub const TRANSACTION_SIGNATURE_VERIFICATION_FAILURE: i64 = -32003;
/// The transaction's version is above what the client accepts (validator custom code).
pub const UNSUPPORTED_TRANSACTION_VERSION: i64 = -32015;
/// The block of a slot is not (or no longer) available.
pub const BLOCK_NOT_AVAILABLE: i64 = -32004;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The error code.
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Structured details, if any.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with no data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `-32602` with the given detail.
    pub fn invalid_params(detail: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, detail)
    }

    /// `-32601 Method not found`.
    pub fn method_not_found() -> Self {
        Self::new(METHOD_NOT_FOUND, "Method not found")
    }

    /// `-32600 Invalid request`.
    pub fn invalid_request() -> Self {
        Self::new(INVALID_REQUEST, "Invalid request")
    }

    /// `-32700 Parse error`.
    pub fn parse_error() -> Self {
        Self::new(PARSE_ERROR, "Parse error")
    }

    /// The error object as JSON.
    pub fn to_json(&self) -> Value {
        let mut object = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            object["data"] = data.clone();
        }
        object
    }
}
