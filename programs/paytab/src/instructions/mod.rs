//! One module per instruction: its accounts, checks and handler.

pub mod claim;
pub mod claim_batch;
pub mod close_allowance;
pub mod close_escrow;
pub mod deposit;
pub mod finalize_reduction;
pub mod grant_allowance;
pub mod open_escrow;
pub mod raise_allowance;
pub mod reduce_allowance;
pub mod session_key;
pub mod settlement;
pub mod withdraw;

pub use claim::*;
pub use claim_batch::*;
pub use close_allowance::*;
pub use close_escrow::*;
pub use deposit::*;
pub use finalize_reduction::*;
pub use grant_allowance::*;
pub use open_escrow::*;
pub use raise_allowance::*;
pub use reduce_allowance::*;
pub use session_key::*;
pub use withdraw::*;
