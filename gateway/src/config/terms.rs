//! Payment terms: what `[payment]` and `[facilitator]` say, completed at
//! start by what the facilitator's `GET /supported` says it serves.
//!
//! The network and the fee payer may be left out of the file: the gateway
//! takes them from the facilitator. When the file names them, they must be
//! what the facilitator serves, or the gateway does not start.

use paytab_protocol::networks::parse_network_label;
use paytab_protocol::schemes::{EXACT, PAYTAB_ESCROW, PAYTAB_PROGRAM_ID};
use solana_pubkey::Pubkey;

use super::file::{FacilitatorFile, PayScheme, PaymentFile};
use super::{address, invalid, ConfigError};
use crate::facilitator::Supported;
use crate::mpp::CHARGE_SCHEME;

/// SPL Token, the default token program of the asset.
pub const SPL_TOKEN: Pubkey = Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/// Token-2022.
pub const TOKEN_2022: Pubkey =
    Pubkey::from_str_const("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");

/// Payment terms shared by every priced route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTerms {
    /// CAIP-2 network.
    pub network: String,
    /// The mint.
    pub asset: Pubkey,
    /// The mint's token program (SPL Token or Token-2022).
    pub token_program: Pubkey,
    /// Who is paid.
    pub pay_to: Pubkey,
    /// Decimals of the asset.
    pub decimals: u8,
    /// Accepted schemes, preferred first.
    pub schemes: Vec<PayScheme>,
    /// How long a client has to pay.
    pub max_timeout_seconds: u64,
    /// The facilitator's fee payer (`exact`, MPP).
    pub fee_payer: Option<Pubkey>,
    /// The facilitator's claim delegate (`paytab-escrow`).
    pub delegate: Option<Pubkey>,
    /// Whether the facilitator settles MPP charges by the draft's rules
    /// (`paytab-mpp-charge`); a standard one settles them as x402 `exact`.
    pub settles_charges: bool,
}

#[cfg(test)]
impl PaymentTerms {
    /// Terms for unit tests: devnet, asset `[3; 32]` (SPL Token), payee
    /// `[2; 32]`, 6 decimals, 60 s to pay, and `[9; 32]` as fee payer and delegate.
    pub(crate) fn sample(schemes: &[PayScheme]) -> Self {
        let facilitator = Pubkey::new_from_array([9; 32]);
        Self {
            network: paytab_protocol::networks::SOLANA_DEVNET.into(),
            asset: Pubkey::new_from_array([3; 32]),
            token_program: SPL_TOKEN,
            pay_to: Pubkey::new_from_array([2; 32]),
            decimals: 6,
            schemes: schemes.to_vec(),
            max_timeout_seconds: 60,
            fee_payer: Some(facilitator),
            delegate: Some(facilitator),
            settles_charges: true,
        }
    }
}

/// `[payment]` and the facilitator's keys as configured: checked, not yet
/// completed by the facilitator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentConfig {
    /// CAIP-2 network, if named.
    pub network: Option<String>,
    /// The mint.
    pub asset: Pubkey,
    /// The mint's token program.
    pub token_program: Pubkey,
    /// Who is paid.
    pub pay_to: Pubkey,
    /// Decimals of the asset.
    pub decimals: u8,
    /// Accepted schemes, preferred first.
    pub schemes: Vec<PayScheme>,
    /// How long a client has to pay.
    pub max_timeout_seconds: u64,
    /// The facilitator's fee payer, if named.
    pub fee_payer: Option<Pubkey>,
    /// The facilitator's claim delegate, if named.
    pub delegate: Option<Pubkey>,
}

/// The facilitator does not serve these terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    /// The configured network is not one the facilitator serves.
    #[error("payment.network is {configured}, but the facilitator serves {served}: set payment.network = \"{served}\" (or leave it out), or run the facilitator on the {configured} chain (or with network = \"{configured}\" if its chain goes by that name)")]
    NetworkMismatch {
        /// What the file says.
        configured: String,
        /// What the facilitator serves.
        served: String,
    },
    /// No network was configured and the facilitator serves none, or several.
    #[error("the facilitator serves {0}: set payment.network to the one to sell on")]
    WhichNetwork(String),
    /// A configured scheme is not served on the network.
    #[error("payment.schemes has {scheme}, but the facilitator does not serve x402 v2 `{wire}` on {network}: remove it from payment.schemes")]
    SchemeNotServed {
        /// The configured scheme.
        scheme: &'static str,
        /// Its x402 name.
        wire: &'static str,
        /// The network.
        network: String,
    },
    /// The configured fee payer is not one of the facilitator's.
    #[error("facilitator.fee_payer is {configured}, but the facilitator pays fees with {served}: set facilitator.fee_payer = \"{served}\" (or leave it out)")]
    FeePayerMismatch {
        /// What the file says.
        configured: Pubkey,
        /// What the facilitator says.
        served: String,
    },
    /// `exact` or MPP is offered but the facilitator names no fee payer.
    #[error("the facilitator's `exact` kind names no extra.feePayer: set facilitator.fee_payer")]
    NoFeePayer,
}

impl PaymentConfig {
    /// Checks `[payment]` and the keys named in `[facilitator]`.
    pub fn check(
        payment: &PaymentFile,
        facilitator: &FacilitatorFile,
    ) -> Result<Self, ConfigError> {
        let network = payment
            .network
            .as_deref()
            .map(|text| {
                parse_network_label(text)
                    .map_err(|error| invalid("payment.network", error.to_string()))
            })
            .transpose()?;
        if payment.schemes.is_empty() {
            return Err(invalid("payment.schemes", "name at least one scheme"));
        }
        let token_program = match payment.token_program.as_deref() {
            None => SPL_TOKEN,
            Some(text) => {
                let program = address("payment.token_program", text)?;
                if program != SPL_TOKEN && program != TOKEN_2022 {
                    return Err(invalid(
                        "payment.token_program",
                        format!("must be SPL Token ({SPL_TOKEN}) or Token-2022 ({TOKEN_2022})"),
                    ));
                }
                program
            }
        };
        let key =
            |field: &str, text: Option<&str>| text.map(|text| address(field, text)).transpose();
        Ok(Self {
            network,
            asset: address("payment.asset", &payment.asset)?,
            token_program,
            pay_to: address("payment.pay_to", &payment.pay_to)?,
            decimals: payment.decimals,
            schemes: payment.schemes.clone(),
            max_timeout_seconds: payment.max_timeout_seconds,
            fee_payer: key("facilitator.fee_payer", facilitator.fee_payer.as_deref())?,
            delegate: key("facilitator.delegate", facilitator.delegate.as_deref())?,
        })
    }

    /// The terms, completed by what the facilitator serves (x402 v2 kinds).
    pub fn terms(&self, served: &Supported) -> Result<PaymentTerms, TermsError> {
        let network = self.network_served(served)?;
        let kind_extra = |scheme: &str| served.kind(2, scheme, &network).map(|kind| &kind.extra);
        for &scheme in &self.schemes {
            let (name, wire) = match scheme {
                PayScheme::Escrow => ("escrow", PAYTAB_ESCROW),
                PayScheme::Exact => ("exact", EXACT),
                PayScheme::Mpp => ("mpp", EXACT),
            };
            let served_here = match kind_extra(wire) {
                None => false,
                // Escrow offers name the program; another program's escrow is not ours.
                Some(extra) if scheme == PayScheme::Escrow => extra["programId"]
                    .as_str()
                    .is_none_or(|id| id == PAYTAB_PROGRAM_ID),
                Some(_) => true,
            };
            if !served_here {
                return Err(TermsError::SchemeNotServed {
                    scheme: name,
                    wire,
                    network,
                });
            }
        }
        let fee_payer = self.fee_payer_served(served, &network)?;
        let delegate = self.delegate.or_else(|| {
            kind_extra(PAYTAB_ESCROW)
                .and_then(|extra| extra["delegate"].as_str())
                .and_then(|text| text.parse().ok())
        });
        let settles_charges = served.kind(2, CHARGE_SCHEME, &network).is_some();
        Ok(PaymentTerms {
            network,
            asset: self.asset,
            token_program: self.token_program,
            pay_to: self.pay_to,
            decimals: self.decimals,
            schemes: self.schemes.clone(),
            max_timeout_seconds: self.max_timeout_seconds,
            delegate: delegate.or(fee_payer),
            fee_payer,
            settles_charges,
        })
    }

    fn network_served(&self, served: &Supported) -> Result<String, TermsError> {
        let networks = served.solana_networks(2);
        match &self.network {
            Some(configured) if networks.contains(configured) => Ok(configured.clone()),
            Some(configured) => Err(TermsError::NetworkMismatch {
                configured: configured.clone(),
                served: describe(&networks),
            }),
            None if networks.len() == 1 => Ok(networks[0].clone()),
            None => Err(TermsError::WhichNetwork(describe(&networks))),
        }
    }

    fn fee_payer_served(
        &self,
        served: &Supported,
        network: &str,
    ) -> Result<Option<Pubkey>, TermsError> {
        let pays_fees =
            self.schemes.contains(&PayScheme::Exact) || self.schemes.contains(&PayScheme::Mpp);
        let offered = served
            .kind(2, EXACT, network)
            .and_then(|kind| kind.extra["feePayer"].as_str())
            .map(str::to_string);
        match (self.fee_payer, offered) {
            (Some(configured), Some(offered))
                if configured.to_string() != offered
                    && !served.signs_with(network, &configured) =>
            {
                Err(TermsError::FeePayerMismatch {
                    configured,
                    served: offered,
                })
            }
            (Some(configured), _) => Ok(Some(configured)),
            (None, Some(offered)) => offered
                .parse()
                .map(Some)
                .map_err(|_| TermsError::NoFeePayer),
            (None, None) if pays_fees => Err(TermsError::NoFeePayer),
            (None, None) => Ok(None),
        }
    }
}

fn describe(networks: &[String]) -> String {
    match networks {
        [] => "no Solana network".into(),
        [one] => one.clone(),
        many => many.join(", "),
    }
}
