//! Reading positional JSON-RPC parameters.

use serde::de::DeserializeOwned;
use serde_json::Value;
use solana_pubkey::Pubkey;
use solana_signature::Signature;

use super::error::RpcError;

/// The positional parameters of one call.
pub struct Params(Vec<Value>);

impl Params {
    /// Wraps `params`, which must be absent or an array.
    pub fn new(params: Option<Value>) -> Result<Self, RpcError> {
        match params {
            None | Some(Value::Null) => Ok(Self(Vec::new())),
            Some(Value::Array(values)) => Ok(Self(values)),
            Some(_) => Err(RpcError::invalid_params(
                "Invalid params: expected an array",
            )),
        }
    }

    /// Parameter `index`, required.
    pub fn required<T: DeserializeOwned>(&self, index: usize, name: &str) -> Result<T, RpcError> {
        let value = self
            .0
            .get(index)
            .ok_or_else(|| RpcError::invalid_params(format!("missing parameter: {name}")))?;
        serde_json::from_value(value.clone())
            .map_err(|error| RpcError::invalid_params(format!("Invalid params: {name}: {error}")))
    }

    /// Parameter `index`, or the default when absent or null.
    pub fn optional<T: DeserializeOwned + Default>(
        &self,
        index: usize,
        name: &str,
    ) -> Result<T, RpcError> {
        match self.0.get(index) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(_) => self.required(index, name),
        }
    }

    /// Parameter `index` as a base58 address.
    pub fn pubkey(&self, index: usize, name: &str) -> Result<Pubkey, RpcError> {
        parse_pubkey(&self.required::<String>(index, name)?)
    }

    /// Parameter `index` as a base58 signature.
    pub fn signature(&self, index: usize, name: &str) -> Result<Signature, RpcError> {
        parse_signature(&self.required::<String>(index, name)?)
    }
}

/// A base58 address, or `Invalid param: Invalid`.
pub fn parse_pubkey(text: &str) -> Result<Pubkey, RpcError> {
    text.parse()
        .map_err(|_| RpcError::invalid_params(format!("Invalid param: Invalid pubkey {text}")))
}

/// A base58 signature, or an invalid-params error.
pub fn parse_signature(text: &str) -> Result<Signature, RpcError> {
    text.parse()
        .map_err(|_| RpcError::invalid_params(format!("Invalid param: Invalid signature {text}")))
}
