//! Every way a paytab instruction can fail, each with its own message.
//!
//! Codes are stable: new variants are only ever appended.

use anchor_lang::prelude::*;

/// Errors returned by the paytab program (codes start at 6000).
#[error_code]
pub enum PaytabError {
    /// 6000
    #[msg("amount must be greater than zero")]
    ZeroAmount,
    /// 6001
    #[msg("arithmetic overflow")]
    MathOverflow,
    /// 6002
    #[msg("notice period is longer than the 30-day maximum")]
    NoticePeriodTooLong,
    /// 6003
    #[msg("the escrow's free balance (deposits not committed to allowances) is too small")]
    InsufficientFreeBalance,
    /// 6004
    #[msg("the mint uses a Token-2022 extension the escrow cannot hold safely")]
    UnsupportedMintExtension,
    /// 6005
    #[msg("a period limit needs both a period length (1 s to 366 days) and a non-zero limit")]
    InvalidPeriod,
    /// 6006
    #[msg("expiry time is not in the future")]
    ExpiryInPast,
    /// 6007
    #[msg("the new cap must be greater than the current cap")]
    CapNotRaised,
    /// 6008
    #[msg("the new expiry may only extend the allowance")]
    ExpiryShortened,
    /// 6009
    #[msg("the new cap must be lower than the current cap")]
    CapNotReduced,
    /// 6010
    #[msg("the allowance has no pending reduction")]
    NoPendingReduction,
    /// 6011
    #[msg("the reduction's notice period has not elapsed yet")]
    NoticePeriodNotElapsed,
    /// 6012
    #[msg("the allowance still reserves funds: reduce it to zero and wait out the notice, or let it expire")]
    AllowanceStillReserved,
    /// 6013
    #[msg("the escrow still has open allowances")]
    EscrowHasAllowances,
    /// 6014
    #[msg("the instruction before a claim must be an Ed25519 signature check")]
    MissingEd25519Instruction,
    /// 6015
    #[msg("the Ed25519 instruction does not use the one canonical single-signature layout")]
    NonCanonicalEd25519Instruction,
    /// 6016
    #[msg("the signed message is not a well-formed paytab receipt")]
    MalformedReceipt,
    /// 6017
    #[msg("the receipt is for another allowance")]
    ReceiptForAnotherAllowance,
    /// 6018
    #[msg("the receipt is for another generation of this allowance")]
    GenerationMismatch,
    /// 6019
    #[msg("the receipt has expired")]
    ReceiptExpired,
    /// 6020
    #[msg(
        "the receipt is not signed by the owner, a live session key or the allowance's delegate"
    )]
    UnauthorizedSigner,
    /// 6021
    #[msg("the receipt is signed by a session key that has expired")]
    SessionKeyExpired,
    /// 6022
    #[msg("the allowance has expired")]
    AllowanceExpired,
    /// 6023
    #[msg("the receipt's cumulative amount is above the allowance's cap")]
    CumulativeAboveCap,
    /// 6024
    #[msg("the receipt's cumulative amount was already claimed")]
    NothingToClaim,
    /// 6025
    #[msg("the allowance's period limit is used up for the current window")]
    PeriodLimitReached,
    /// 6026
    #[msg("batch claim accounts must come as distinct (allowance, vault) pairs, 1 to 64 of them")]
    MalformedBatchAccounts,
    /// 6027
    #[msg("the batch attestation lists a different number of entries than the accounts given")]
    BatchLengthMismatch,
    /// 6028
    #[msg("the batch attestation's entries hash does not match the allowances given")]
    BatchEntriesHashMismatch,
    /// 6029
    #[msg("the allowance belongs to another provider")]
    ProviderMismatch,
    /// 6030
    #[msg("the account is not this program's allowance at its expected address")]
    InvalidAllowanceAccount,
    /// 6031
    #[msg("the vault is not the escrow's vault")]
    VaultMismatch,
    /// 6032
    #[msg("the mint is not the escrow's mint")]
    MintMismatch,
    /// 6033
    #[msg("invariant violated: commitments above funding, or claimed above cap")]
    InvariantViolated,
    /// 6034
    #[msg("the allowance's escrow does not match the escrow given")]
    EscrowMismatch,
    /// 6035
    #[msg("the session key cannot be the escrow owner")]
    SessionKeyIsOwner,
    /// 6036
    #[msg("the token account does not belong to the expected owner")]
    TokenAccountOwnerMismatch,
}
