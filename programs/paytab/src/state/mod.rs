//! The program's accounts: one file per account type.

pub mod allowance;
pub mod escrow;
pub mod vault_authority;

pub use allowance::*;
pub use escrow::*;
pub use vault_authority::*;
