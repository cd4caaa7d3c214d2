//! The spending policy: the owner's soft limits, checked before every payment
//! (the on-chain allowance is the hard one). Amounts are in tokens of the
//! offered asset, as people write them (`0.25`).

use std::path::Path;

use paytab_protocol::amount::{format_units, parse_units, AmountError};
use paytab_protocol::networks::SOLANA_MAINNET;
use serde::{Deserialize, Serialize};

/// The policy file (`policy.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendingPolicy {
    /// Most paid for one request.
    pub max_per_request: String,
    /// Most paid to one host per UTC day.
    pub daily_budget_per_host: String,
    /// Above this, ask first (and refuse when nobody can be asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_above: Option<String>,
    /// When not empty, only these hosts are paid.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Hosts never paid.
    #[serde(default)]
    pub deny_hosts: Vec<String>,
    /// CAIP-2 networks payments may use; empty means any but mainnet.
    #[serde(default)]
    pub networks: Vec<String>,
}

impl Default for SpendingPolicy {
    fn default() -> Self {
        Self {
            max_per_request: "1".into(),
            daily_budget_per_host: "10".into(),
            confirm_above: None,
            allow_hosts: Vec::new(),
            deny_hosts: Vec::new(),
            networks: Vec::new(),
        }
    }
}

/// A payment the policy is asked about.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    /// The host paid.
    pub host: &'a str,
    /// CAIP-2 network.
    pub network: &'a str,
    /// Raw units.
    pub amount: u64,
    /// The token's decimals.
    pub decimals: u8,
    /// Raw units already paid to this host today.
    pub spent_today: u64,
}

/// What the policy says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pay.
    Pay,
    /// Pay only if the owner agrees (the reason to show).
    Confirm(String),
    /// Do not pay (the reason).
    Refuse(String),
}

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a policy.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A limit is not an amount.
    #[error("policy {field}: {source}")]
    Amount {
        /// Which limit.
        field: &'static str,
        /// Why.
        source: AmountError,
    },
    /// `policy set` named no such setting.
    #[error("no policy setting `{0}` (one of: max_per_request, daily_budget_per_host, confirm_above, allow_hosts, deny_hosts, networks)")]
    UnknownSetting(String),
}

impl SpendingPolicy {
    /// Reads `path`; a missing file is the default policy.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default())
            }
            Err(source) => {
                return Err(PolicyError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let policy: Self = toml::from_str(&text).map_err(|error| PolicyError::Invalid {
            path: path.display().to_string(),
            message: error.message().to_string(),
        })?;
        policy.check()?;
        Ok(policy)
    }

    /// Writes the policy to `path` (creating its directory).
    pub fn save(&self, path: &Path) -> Result<(), PolicyError> {
        let io = |source| PolicyError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let text = toml::to_string_pretty(self).map_err(|error| PolicyError::Invalid {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        std::fs::write(path, text).map_err(io)
    }

    /// Changes one setting; lists are comma-separated (`""` empties them). A
    /// refused value leaves the policy as it was.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), PolicyError> {
        let list = || -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut changed = self.clone();
        match name {
            "max_per_request" => changed.max_per_request = value.trim().into(),
            "daily_budget_per_host" => changed.daily_budget_per_host = value.trim().into(),
            "confirm_above" => {
                changed.confirm_above =
                    Some(value.trim().to_string()).filter(|text| !text.is_empty())
            }
            "allow_hosts" => changed.allow_hosts = list(),
            "deny_hosts" => changed.deny_hosts = list(),
            "networks" => changed.networks = list(),
            other => return Err(PolicyError::UnknownSetting(other.to_string())),
        }
        changed.check()?;
        *self = changed;
        Ok(())
    }

    /// Every limit is a decimal amount.
    fn check(&self) -> Result<(), PolicyError> {
        let limits = [
            ("max_per_request", Some(&self.max_per_request)),
            ("daily_budget_per_host", Some(&self.daily_budget_per_host)),
            ("confirm_above", self.confirm_above.as_ref()),
        ];
        for (field, limit) in limits {
            if let Some(limit) = limit {
                parse_units(limit, 9).map_err(|source| PolicyError::Amount { field, source })?;
            }
        }
        Ok(())
    }

    /// Judges a payment.
    pub fn judge(&self, spend: &Spend) -> Result<Verdict, PolicyError> {
        let limit = |field: &'static str, text: &str| {
            parse_units(text, spend.decimals)
                .map_err(|source| PolicyError::Amount { field, source })
        };
        let tokens = |raw: u64| format_units(raw, spend.decimals);
        let host = spend.host.to_ascii_lowercase();
        if self
            .deny_hosts
            .iter()
            .any(|denied| denied.eq_ignore_ascii_case(&host))
        {
            return Ok(Verdict::Refuse(format!("{host} is on the deny list")));
        }
        if !self.allow_hosts.is_empty()
            && !self
                .allow_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(&host))
        {
            return Ok(Verdict::Refuse(format!("{host} is not on the allow list")));
        }
        let network_allowed = if self.networks.is_empty() {
            spend.network != SOLANA_MAINNET
        } else {
            self.networks.iter().any(|network| network == spend.network)
        };
        if !network_allowed {
            return Ok(Verdict::Refuse(format!(
                "network {} is not allowed by the policy (networks = {:?})",
                spend.network, self.networks
            )));
        }
        let max = limit("max_per_request", &self.max_per_request)?;
        if spend.amount > max {
            return Ok(Verdict::Refuse(format!(
                "{} is over the policy's max_per_request of {}",
                tokens(spend.amount),
                tokens(max)
            )));
        }
        let budget = limit("daily_budget_per_host", &self.daily_budget_per_host)?;
        if spend.spent_today.saturating_add(spend.amount) > budget {
            return Ok(Verdict::Refuse(format!(
                "{} more would take today's spending at {host} to {}, over the daily budget of {}",
                tokens(spend.amount),
                tokens(spend.spent_today.saturating_add(spend.amount)),
                tokens(budget)
            )));
        }
        if let Some(threshold) = &self.confirm_above {
            let threshold = limit("confirm_above", threshold)?;
            if spend.amount > threshold {
                return Ok(Verdict::Confirm(format!(
                    "pay {} to {host}? (over confirm_above = {})",
                    tokens(spend.amount),
                    tokens(threshold)
                )));
            }
        }
        Ok(Verdict::Pay)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DEVNET: &str = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1";

    fn spend(amount: u64, spent_today: u64) -> Spend<'static> {
        Spend {
            host: "api.example.com",
            network: DEVNET,
            amount,
            decimals: 6,
            spent_today,
        }
    }

    fn refused(verdict: Verdict) -> String {
        match verdict {
            Verdict::Refuse(reason) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_payment_within_every_limit_is_paid() {
        assert_eq!(
            SpendingPolicy::default().judge(&spend(10_000, 0)).unwrap(),
            Verdict::Pay
        );
    }

    #[test]
    fn a_payment_over_the_per_request_max_is_refused() {
        let reason = refused(
            SpendingPolicy::default()
                .judge(&spend(2_000_000, 0))
                .unwrap(),
        );
        assert_eq!(reason, "2 is over the policy's max_per_request of 1");
    }

    #[test]
    fn a_payment_over_the_daily_budget_is_refused() {
        let reason = refused(
            SpendingPolicy::default()
                .judge(&spend(500_000, 9_600_000))
                .unwrap(),
        );
        assert!(reason.contains("over the daily budget of 10"), "{reason}");
    }

    #[test]
    fn denied_and_unlisted_hosts_are_refused() {
        let mut policy = SpendingPolicy::default();
        policy.set("deny_hosts", "API.example.com").unwrap();
        assert!(refused(policy.judge(&spend(1, 0)).unwrap()).contains("deny list"));
        let mut policy = SpendingPolicy::default();
        policy
            .set("allow_hosts", "other.example.com, third.example.com")
            .unwrap();
        assert!(refused(policy.judge(&spend(1, 0)).unwrap()).contains("allow list"));
    }

    #[test]
    fn mainnet_is_refused_unless_pinned_and_pinning_refuses_the_rest() {
        let mainnet = Spend {
            network: SOLANA_MAINNET,
            ..spend(1, 0)
        };
        assert!(refused(SpendingPolicy::default().judge(&mainnet).unwrap()).contains("network"));
        let mut pinned = SpendingPolicy::default();
        pinned.set("networks", SOLANA_MAINNET).unwrap();
        assert_eq!(pinned.judge(&mainnet).unwrap(), Verdict::Pay);
        assert!(refused(pinned.judge(&spend(1, 0)).unwrap()).contains("network"));
    }

    #[test]
    fn a_payment_above_the_threshold_asks_first() {
        let mut policy = SpendingPolicy::default();
        policy.set("confirm_above", "0.5").unwrap();
        assert!(matches!(
            policy.judge(&spend(600_000, 0)).unwrap(),
            Verdict::Confirm(_)
        ));
        assert_eq!(policy.judge(&spend(400_000, 0)).unwrap(), Verdict::Pay);
    }

    #[test]
    fn bad_settings_are_refused_and_the_file_round_trips() {
        let mut policy = SpendingPolicy::default();
        assert!(policy.set("max_per_request", "lots").is_err());
        assert_eq!(
            policy,
            SpendingPolicy::default(),
            "a refused value changes nothing"
        );
        assert!(matches!(
            policy.set("budget", "1"),
            Err(PolicyError::UnknownSetting(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        assert_eq!(
            SpendingPolicy::load(&path).unwrap(),
            SpendingPolicy::default()
        );
        policy.set("confirm_above", "0.25").unwrap();
        policy.save(&path).unwrap();
        assert_eq!(SpendingPolicy::load(&path).unwrap(), policy);
        std::fs::write(&path, "max_per_request = 5\n").unwrap();
        assert!(SpendingPolicy::load(&path).is_err());
    }
}
