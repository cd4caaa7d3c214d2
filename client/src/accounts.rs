//! Reading paytab accounts fetched over RPC.

use anchor_lang::AccountDeserialize;
use paytab::state::{Allowance, Escrow};

/// The allowance in an account's data, if it is one (discriminator checked).
pub fn allowance(data: &[u8]) -> Option<Allowance> {
    Allowance::try_deserialize(&mut &data[..]).ok()
}

/// The escrow in an account's data, if it is one (discriminator checked).
pub fn escrow(data: &[u8]) -> Option<Escrow> {
    Escrow::try_deserialize(&mut &data[..]).ok()
}
