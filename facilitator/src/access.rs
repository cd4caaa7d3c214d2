//! Who may call what, and so who makes the facilitator spend.
//!
//! - `/verify` and `/settle`: a client presenting one of the configured API
//!   keys (`Authorization: Bearer <key>`), each named for the logs; anonymous
//!   callers only when the operator allows them, rate-limited per address, and
//!   then the fees of `exact` and MPP settlements are paid only for the payees
//!   the operator lists.
//! - `POST /claims`, `GET /claims/{provider}`, `/metrics`: the operator's token.
//! - Everything else (`/supported`, `/keys`, discovery, health) is public and
//!   costs no fees, RPC writes or storage.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::http::{HeaderMap, StatusCode};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use solana_pubkey::Pubkey;

/// The `[access]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    /// Resource servers (gateways) allowed to verify and settle.
    #[serde(default)]
    pub clients: Vec<ClientFile>,
    /// Whether callers without a key may verify and settle.
    #[serde(default)]
    pub anonymous: bool,
    /// With `anonymous`: the payees whose `exact`/MPP fees are paid for anonymous callers.
    #[serde(default)]
    pub anonymous_pay_to: Vec<String>,
    /// With `anonymous`: requests per minute from one address.
    #[serde(default = "default_per_minute")]
    pub anonymous_per_minute: u32,
    /// Environment variable holding the operator's token.
    #[serde(default)]
    pub operator_token_env: Option<String>,
}

/// One `[[access.clients]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    /// A name for logs and metrics.
    pub name: String,
    /// Environment variable holding its API key.
    pub key_env: String,
}

fn default_per_minute() -> u32 {
    120
}

/// The resolved access rules.
#[derive(Clone, Default)]
pub struct AccessSettings {
    /// Client names and their API keys.
    pub clients: Vec<(String, String)>,
    /// Anonymous callers, if allowed.
    pub anonymous: Option<AnonymousSettings>,
    /// The operator's token, if operator endpoints are on.
    pub operator_token: Option<String>,
}

impl std::fmt::Debug for AccessSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients: Vec<&str> = self.clients.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("AccessSettings")
            .field("clients", &clients)
            .field("anonymous", &self.anonymous)
            .field(
                "operator_token",
                &self.operator_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What anonymous callers may do.
#[derive(Debug, Clone)]
pub struct AnonymousSettings {
    /// Payees whose fee-paying settlements anonymous callers may ask for.
    pub pay_to: HashSet<Pubkey>,
    /// Requests per minute per address.
    pub per_minute: u32,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A configured client, by name.
    Client(String),
    /// Someone without a key, from this address.
    Anonymous(IpAddr),
}

/// Why a call is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No valid key (401).
    Unauthorized(&'static str),
    /// Not allowed (403).
    Forbidden(&'static str),
    /// Too many calls (429).
    RateLimited,
}

impl Denied {
    /// The HTTP status, error code and message.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message),
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message),
            Self::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from this address; slow down",
            ),
        }
    }
}

/// The access rules at work.
pub struct Access {
    clients: Vec<(String, [u8; 32])>,
    anonymous: Option<(HashSet<Pubkey>, DefaultKeyedRateLimiter<IpAddr>)>,
    operator: Option<[u8; 32]>,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

impl Access {
    /// The rules of `settings`.
    pub fn new(settings: &AccessSettings) -> Self {
        let anonymous = settings.anonymous.as_ref().map(|anonymous| {
            let per_minute = NonZeroU32::new(anonymous.per_minute).unwrap_or(NonZeroU32::MIN);
            (
                anonymous.pay_to.clone(),
                RateLimiter::keyed(Quota::per_minute(per_minute)),
            )
        });
        Self {
            clients: settings
                .clients
                .iter()
                .map(|(name, key)| (name.clone(), digest(key)))
                .collect(),
            anonymous,
            operator: settings.operator_token.as_deref().map(digest),
        }
    }

    /// Who is asking to verify or settle, if they may.
    pub fn caller(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Caller, Denied> {
        if let Some(key) = bearer(headers) {
            let presented = digest(key);
            return self
                .clients
                .iter()
                .find(|(_, known)| *known == presented)
                .map(|(name, _)| Caller::Client(name.clone()))
                .ok_or(Denied::Unauthorized(
                    "the API key is not one of this facilitator's",
                ));
        }
        let Some((_, limiter)) = &self.anonymous else {
            return Err(Denied::Unauthorized(
                "this facilitator serves its configured clients only: send Authorization: Bearer <API key>",
            ));
        };
        let address = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip());
        limiter
            .check_key(&address)
            .map_err(|_| Denied::RateLimited)?;
        Ok(Caller::Anonymous(address))
    }

    /// Whether the facilitator pays the fees of settling a payment to
    /// `pay_to` for `caller`: always for its clients, for anonymous callers
    /// only for listed payees.
    pub fn pays_fees_for(&self, caller: &Caller, pay_to: &Pubkey) -> bool {
        match (caller, &self.anonymous) {
            (Caller::Client(_), _) => true,
            (Caller::Anonymous(_), Some((payees, _))) => payees.contains(pay_to),
            (Caller::Anonymous(_), None) => false,
        }
    }

    /// Whether the request carries the operator's token.
    pub fn operator(&self, headers: &HeaderMap) -> Result<(), Denied> {
        let Some(token) = &self.operator else {
            return Err(Denied::Forbidden(
                "operator endpoints are off: set [access] operator_token_env",
            ));
        };
        match bearer(headers) {
            Some(presented) if digest(presented) == *token => Ok(()),
            _ => Err(Denied::Unauthorized("the operator's token is required")),
        }
    }

    /// Forgets rate-limit state of addresses quiet for a while.
    pub fn forget_quiet_callers(&self) {
        if let Some((_, limiter)) = &self.anonymous {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(token: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        headers
    }

    fn settings(anonymous: Option<AnonymousSettings>) -> AccessSettings {
        AccessSettings {
            clients: vec![("gateway".into(), "k3y".into())],
            anonymous,
            operator_token: Some("op".into()),
        }
    }

    #[test]
    fn only_configured_clients_verify_and_settle_by_default() {
        let access = Access::new(&settings(None));
        assert_eq!(
            access.caller(&headers(Some("k3y")), None),
            Ok(Caller::Client("gateway".into()))
        );
        assert!(matches!(
            access.caller(&headers(Some("wrong")), None),
            Err(Denied::Unauthorized(_))
        ));
        assert!(matches!(
            access.caller(&headers(None), None),
            Err(Denied::Unauthorized(_))
        ));
    }

    #[test]
    fn anonymous_callers_are_rate_limited_and_pay_fees_only_for_listed_payees() {
        let listed = Pubkey::new_unique();
        let access = Access::new(&settings(Some(AnonymousSettings {
            pay_to: [listed].into(),
            per_minute: 2,
        })));
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let caller = access.caller(&headers(None), Some(peer)).unwrap();
        assert!(access.pays_fees_for(&caller, &listed));
        assert!(!access.pays_fees_for(&caller, &Pubkey::new_unique()));
        assert!(access.caller(&headers(None), Some(peer)).is_ok());
        assert_eq!(
            access.caller(&headers(None), Some(peer)),
            Err(Denied::RateLimited)
        );
        let other: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        assert!(
            access.caller(&headers(None), Some(other)).is_ok(),
            "limits are per address"
        );
    }

    #[test]
    fn operator_endpoints_need_the_operator_token() {
        let access = Access::new(&settings(None));
        assert!(access.operator(&headers(Some("op"))).is_ok());
        assert!(access.operator(&headers(Some("k3y"))).is_err());
        assert!(access.operator(&headers(None)).is_err());
        let closed = Access::new(&AccessSettings::default());
        assert!(matches!(
            closed.operator(&headers(Some("op"))),
            Err(Denied::Forbidden(_))
        ));
    }
}
