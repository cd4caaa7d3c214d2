//! Seeds and limits shared by every instruction.

/// Seed prefix of an escrow PDA: `["escrow", owner, mint]`.
pub const ESCROW_SEED: &[u8] = b"escrow";
/// Seed prefix of an escrow's vault token account: `["vault", escrow]`.
pub const VAULT_SEED: &[u8] = b"vault";
/// Seed of the one PDA that is the authority of every vault.
pub const VAULT_AUTHORITY_SEED: &[u8] = b"vault_authority";
/// Seed prefix of an allowance PDA: `["allowance", escrow, provider]`.
pub const ALLOWANCE_SEED: &[u8] = b"allowance";

/// Longest notice period an escrow may set for allowance reductions (30 days).
pub const MAX_NOTICE_SECS: u32 = 30 * 24 * 60 * 60;
/// Longest spending window an allowance may set (366 days).
pub const MAX_PERIOD_SECS: u32 = 366 * 24 * 60 * 60;
/// Most allowances one `claim_batch` instruction settles; bounds its loop.
pub const MAX_BATCH_ENTRIES: usize = 64;
/// Accounts `claim_batch` expects per entry: allowance, vault.
pub const BATCH_ACCOUNTS_PER_ENTRY: usize = 2;
