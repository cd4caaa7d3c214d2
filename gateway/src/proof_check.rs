//! The fast path: a facilitator proof checked locally, with no network call —
//! one signature verification (one per batch for batch tokens whose root
//! verified before), a time check, the binding and the route's terms. That
//! it is used once is the reservations' job.

use paytab_protocol::keys::KeySet;
use paytab_protocol::proof::{Binding, Proof, ProofError, Scheme};
use paytab_protocol::proof_batch::VerifiedRoots;

use crate::config::{PayScheme, PaymentTerms};

/// What a paid request must have paid.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The route's terms.
    pub terms: &'a PaymentTerms,
    /// The route's price, raw units.
    pub price: u64,
    /// The request: method and absolute URL.
    pub binding: Binding,
}

/// Why a proof does not pay for this request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRefusal {
    /// Malformed, unknown key, bad signature, expired or from the future.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// It pays on another network.
    #[error("the proof is for network {0}, not this route's")]
    Network(String),
    /// It pays in another token.
    #[error("the proof pays in another asset")]
    Asset,
    /// It pays someone else.
    #[error("the proof pays another recipient")]
    PayTo,
    /// It pays another amount.
    #[error("the proof pays {found}, the price is {expected}")]
    Amount {
        /// The route's price.
        expected: u64,
        /// What the proof pays.
        found: u64,
    },
    /// It was issued for another request.
    #[error("the proof is bound to another request")]
    Binding,
    /// It was paid by a scheme the route does not accept.
    #[error("the route does not accept this payment scheme")]
    Scheme,
}

/// Checks `token`'s signature (skipped for a batch whose root is in
/// `roots`), time window and terms for the request described by `expected`
/// at `now`. The replay lookup is the caller's.
pub fn check_signed(
    token: &str,
    keys: &KeySet,
    roots: Option<&VerifiedRoots>,
    expected: &Expected,
    now: i64,
) -> Result<Proof, ProofRefusal> {
    let proof = Proof::verify_with(token, keys, now, roots)?;
    check_terms(&proof, expected)?;
    Ok(proof)
}

/// Checks what a verified proof pays for against the route and the request.
pub fn check_terms(proof: &Proof, expected: &Expected) -> Result<(), ProofRefusal> {
    let terms = expected.terms;
    let scheme = match proof.scheme {
        Scheme::Escrow => PayScheme::Escrow,
        Scheme::Exact => PayScheme::Exact,
        Scheme::MppCharge => PayScheme::Mpp,
    };
    if !terms.schemes.contains(&scheme) {
        return Err(ProofRefusal::Scheme);
    }
    if proof.network != terms.network {
        return Err(ProofRefusal::Network(proof.network.clone()));
    }
    if proof.asset != terms.asset {
        return Err(ProofRefusal::Asset);
    }
    if proof.pay_to != terms.pay_to {
        return Err(ProofRefusal::PayTo);
    }
    if proof.amount != expected.price {
        return Err(ProofRefusal::Amount {
            expected: expected.price,
            found: proof.amount,
        });
    }
    if proof.binding != expected.binding {
        return Err(ProofRefusal::Binding);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use paytab_protocol::keys::KeyId;
    use paytab_protocol::proof::Settlement;
    use solana_pubkey::Pubkey;

    const NOW: i64 = 1_790_000_000;
    const URL: &str = "https://api.example.com/v1/quotes/SOL";

    fn terms() -> PaymentTerms {
        PaymentTerms::sample(&[PayScheme::Escrow])
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn keys() -> KeySet {
        let mut keys = KeySet::default();
        keys.insert(key().verifying_key(), 0, None);
        keys
    }

    /// An honest proof for GET URL, changed by `edit`.
    fn token(edit: impl FnOnce(&mut Proof)) -> String {
        let terms = terms();
        let mut proof = Proof {
            key_id: KeyId::of(&key().verifying_key()),
            scheme: Scheme::Escrow,
            network: terms.network.clone(),
            payer: Pubkey::new_from_array([1; 32]),
            pay_to: terms.pay_to,
            asset: terms.asset,
            amount: 10_000,
            binding: Binding::request("GET", URL),
            issued_at: NOW,
            expires_at: NOW + 300,
            id: [9; 16],
            settlement: Settlement::Receipt {
                allowance: Pubkey::new_from_array([4; 32]),
                cumulative: 10_000,
            },
        };
        edit(&mut proof);
        proof.sign(&key()).unwrap()
    }

    /// A change to an honest proof.
    type Edit = Box<dyn FnOnce(&mut Proof)>;

    fn run(token: &str) -> Result<Proof, ProofRefusal> {
        let terms = terms();
        let expected = Expected {
            terms: &terms,
            price: 10_000,
            binding: Binding::request("GET", URL),
        };
        check_signed(token, &keys(), None, &expected, NOW + 1)
    }

    #[test]
    fn an_honest_proof_passes_every_check() {
        let proof = run(&token(|_| {})).unwrap();
        assert_eq!(proof.id, [9; 16]);
    }

    #[test]
    fn a_proof_for_other_terms_or_another_request_is_refused() {
        let cases: Vec<(Edit, ProofRefusal)> = vec![
            (
                Box::new(|p| p.network = "solana:other".into()),
                ProofRefusal::Network("solana:other".into()),
            ),
            (
                Box::new(|p| p.asset = Pubkey::new_from_array([8; 32])),
                ProofRefusal::Asset,
            ),
            (
                Box::new(|p| p.pay_to = Pubkey::new_from_array([8; 32])),
                ProofRefusal::PayTo,
            ),
            (
                Box::new(|p| p.amount = 9_999),
                ProofRefusal::Amount {
                    expected: 10_000,
                    found: 9_999,
                },
            ),
            (
                Box::new(|p| p.binding = Binding::request("POST", URL)),
                ProofRefusal::Binding,
            ),
            (
                Box::new(|p| p.expires_at = NOW),
                ProofRefusal::Proof(ProofError::Expired(NOW)),
            ),
            (Box::new(|p| p.scheme = Scheme::Exact), ProofRefusal::Scheme),
        ];
        for (edit, refusal) in cases {
            assert_eq!(run(&token(edit)), Err(refusal));
        }
    }

    #[test]
    fn a_tampered_or_foreign_proof_is_refused() {
        let mut bytes = token(|_| {}).into_bytes();
        let last = bytes.len() - 5;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            run(&String::from_utf8(bytes).unwrap()),
            Err(ProofRefusal::Proof(_))
        ));
        let (proof, _, _) = Proof::decode(&token(|_| {})).unwrap();
        let foreign = proof.sign(&SigningKey::from_bytes(&[8; 32])).unwrap();
        assert!(matches!(
            run(&foreign),
            Err(ProofRefusal::Proof(ProofError::UnknownKey(_)))
        ));
    }
}
