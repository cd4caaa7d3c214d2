//! Claiming single receipts, and every way a claim must fail.

use anchor_lang::prelude::Pubkey;
use anchor_lang::Discriminator;
use paytab::errors::PaytabError;
use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::Receipt;
use paytab::state::Allowance;
use solana_account::AccountSharedData;
use solana_keypair::Keypair;
use solana_signer::Signer;
use solana_transaction_error::TransactionError;

use crate::harness::{Harness, Payer, Wallet, TOKEN};
use crate::ix::{self, ClaimAccounts};
use crate::{assert_anchor_error, assert_paytab_error, assert_rejected, terms};

/// One payer with 10 tokens in escrow (notice 600 s) and one provider's allowance.
pub struct Setup {
    /// The bank.
    pub h: Harness,
    /// The payer.
    pub payer: Payer,
    /// The provider.
    pub provider: Wallet,
    /// The provider's allowance.
    pub allowance: Pubkey,
    /// Honest claim accounts for the allowance.
    pub accounts: ClaimAccounts,
}

impl Setup {
    /// Grants the provider an allowance on `args` terms.
    pub async fn new(args: GrantAllowanceArgs) -> Self {
        Self::new_at(|_| args).await
    }

    /// Grants the provider an allowance on the terms `make` gives for the bank's time.
    pub async fn new_at(make: impl FnOnce(i64) -> GrantAllowanceArgs) -> Self {
        let mut h = Harness::new().await;
        let payer = h.payer(10 * TOKEN, 10 * TOKEN, 600).await;
        let provider = h.wallet(0).await;
        let args = make(h.now().await);
        let allowance = h.grant(&payer, &provider.pubkey(), args).await.unwrap();
        let accounts = ClaimAccounts::new(&h, &payer, allowance, provider.token);
        Self {
            h,
            payer,
            provider,
            allowance,
            accounts,
        }
    }

    /// A never-expiring receipt for the allowance's current generation.
    pub async fn receipt(&mut self, cumulative: u64) -> Receipt {
        Receipt {
            allowance: self.allowance,
            generation: self.h.allowance(self.allowance).await.generation,
            cumulative,
            expires_at: 0,
        }
    }

    /// Claims `receipt` signed by `signer` with the honest accounts.
    pub async fn claim(
        &mut self,
        signer: &Keypair,
        receipt: &Receipt,
    ) -> Result<(), TransactionError> {
        let accounts = self.accounts;
        self.claim_with(signer, receipt, &accounts).await
    }

    /// Claims `receipt` signed by `signer` with the given accounts.
    pub async fn claim_with(
        &mut self,
        signer: &Keypair,
        receipt: &Receipt,
        accounts: &ClaimAccounts,
    ) -> Result<(), TransactionError> {
        let instructions = ix::signed_claim(signer, receipt, accounts);
        self.h.send(&instructions, &[]).await
    }

    /// The owner's keypair.
    pub fn owner(&self) -> Keypair {
        self.payer.keypair().insecure_clone()
    }

    /// The provider's token balance.
    pub async fn earned(&mut self) -> u64 {
        let token = self.provider.token;
        self.h.balance(token).await
    }
}

#[tokio::test]
async fn a_receipt_signed_by_the_owner_pays_the_provider() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;

    s.claim(&s.owner(), &receipt).await.unwrap();

    assert_eq!(s.earned().await, TOKEN);
    assert_eq!(s.h.balance(s.payer.vault).await, 9 * TOKEN);
    assert_eq!(s.h.allowance(s.allowance).await.claimed, TOKEN);
}

#[tokio::test]
async fn later_receipts_pay_only_the_difference_to_the_watermark() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let first = s.receipt(TOKEN).await;
    let second = s.receipt(3 * TOKEN).await;

    s.claim(&owner, &first).await.unwrap();
    s.claim(&owner, &second).await.unwrap();

    assert_eq!(s.earned().await, 3 * TOKEN);
}

#[tokio::test]
async fn a_receipt_signed_by_a_live_session_key_pays() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let agent = Keypair::new();
    let expires_at = s.h.now().await + 3600;
    let set = ix::set_session_key(&s.payer, agent.pubkey(), expires_at);
    s.h.send(&[set], &[s.payer.keypair()]).await.unwrap();
    let receipt = s.receipt(TOKEN).await;

    s.claim(&agent, &receipt).await.unwrap();

    assert_eq!(s.earned().await, TOKEN);
}

#[tokio::test]
async fn a_receipt_signed_by_the_allowances_delegate_pays() {
    let delegate = Keypair::new();
    let mut s = Setup::new(GrantAllowanceArgs {
        delegate: Some(delegate.pubkey()),
        ..terms(5 * TOKEN)
    })
    .await;
    let receipt = s.receipt(2 * TOKEN).await;

    s.claim(&delegate, &receipt).await.unwrap();

    assert_eq!(s.earned().await, 2 * TOKEN);
}

#[tokio::test]
async fn a_receipt_signed_by_anyone_else_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;

    let result = s.claim(&Keypair::new(), &receipt).await;

    assert_paytab_error(result, PaytabError::UnauthorizedSigner);
    assert_eq!(s.earned().await, 0);
}

#[tokio::test]
async fn a_receipt_signed_by_the_provider_itself_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;
    let provider = s.provider.keypair.insecure_clone();

    let result = s.claim(&provider, &receipt).await;

    assert_paytab_error(result, PaytabError::UnauthorizedSigner);
}

#[tokio::test]
async fn a_receipt_signed_by_an_expired_session_key_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let agent = Keypair::new();
    let expires_at = s.h.now().await + 60;
    let set = ix::set_session_key(&s.payer, agent.pubkey(), expires_at);
    s.h.send(&[set], &[s.payer.keypair()]).await.unwrap();
    let receipt = s.receipt(TOKEN).await;

    s.h.advance(60).await;
    let result = s.claim(&agent, &receipt).await;

    assert_paytab_error(result, PaytabError::SessionKeyExpired);
}

#[tokio::test]
async fn a_receipt_signed_by_a_cleared_session_key_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let agent = Keypair::new();
    let expires_at = s.h.now().await + 3600;
    let set = ix::set_session_key(&s.payer, agent.pubkey(), expires_at);
    let clear = ix::clear_session_key(&s.payer);
    s.h.send(&[set, clear], &[s.payer.keypair()]).await.unwrap();
    let receipt = s.receipt(TOKEN).await;

    let result = s.claim(&agent, &receipt).await;

    assert_paytab_error(result, PaytabError::UnauthorizedSigner);
}

#[tokio::test]
async fn replaying_the_same_receipt_pays_nothing() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let receipt = s.receipt(TOKEN).await;
    s.claim(&owner, &receipt).await.unwrap();

    let result = s.claim(&owner, &receipt).await;

    assert_paytab_error(result, PaytabError::NothingToClaim);
    assert_eq!(s.earned().await, TOKEN);
}

#[tokio::test]
async fn a_lower_cumulative_pays_nothing() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let high = s.receipt(3 * TOKEN).await;
    let low = s.receipt(2 * TOKEN).await;
    s.claim(&owner, &high).await.unwrap();

    let result = s.claim(&owner, &low).await;

    assert_paytab_error(result, PaytabError::NothingToClaim);
    assert_eq!(s.earned().await, 3 * TOKEN);
}

#[tokio::test]
async fn a_receipt_for_another_allowance_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let other_provider = s.h.wallet(0).await;
    let other =
        s.h.grant(&s.payer, &other_provider.pubkey(), terms(TOKEN))
            .await
            .unwrap();
    let mut receipt = s.receipt(TOKEN).await;
    receipt.allowance = other;

    let result = s.claim(&s.owner(), &receipt).await;

    assert_paytab_error(result, PaytabError::ReceiptForAnotherAllowance);
}

#[tokio::test]
async fn a_receipt_for_an_earlier_generation_is_rejected_after_close_and_reopen() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let old = s.receipt(TOKEN).await;
    s.h.advance(1).await;
    let revoke = ix::reduce_allowance(&s.payer, s.allowance, 0);
    s.h.send(&[revoke], &[&owner]).await.unwrap();
    s.h.advance(600).await;
    let close = ix::close_allowance(&s.payer, s.allowance);
    s.h.send(&[close], &[&owner]).await.unwrap();
    s.h.grant(&s.payer, &s.provider.pubkey(), terms(5 * TOKEN))
        .await
        .unwrap();

    let result = s.claim(&owner, &old).await;

    assert_paytab_error(result, PaytabError::GenerationMismatch);
    let fresh = s.receipt(TOKEN).await;
    s.claim(&owner, &fresh).await.unwrap();
}

#[tokio::test]
async fn an_expired_receipt_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let mut receipt = s.receipt(TOKEN).await;
    receipt.expires_at = s.h.now().await + 30;

    s.h.advance(31).await;
    let result = s.claim(&s.owner(), &receipt).await;

    assert_paytab_error(result, PaytabError::ReceiptExpired);
}

#[tokio::test]
async fn a_cumulative_above_the_cap_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(5 * TOKEN + 1).await;

    let result = s.claim(&s.owner(), &receipt).await;

    assert_paytab_error(result, PaytabError::CumulativeAboveCap);
    let exactly_the_cap = s.receipt(5 * TOKEN).await;
    s.claim(&s.owner(), &exactly_the_cap).await.unwrap();
}

#[tokio::test]
async fn claims_on_an_expired_allowance_are_rejected() {
    let mut s = Setup::new_at(|now| GrantAllowanceArgs {
        expires_at: now + 100_000,
        ..terms(5 * TOKEN)
    })
    .await;
    let receipt = s.receipt(TOKEN).await;

    s.h.advance(100_000).await;
    let result = s.claim(&s.owner(), &receipt).await;

    assert_paytab_error(result, PaytabError::AllowanceExpired);
}

#[tokio::test]
async fn the_period_limit_caps_one_window_and_the_rest_pays_in_the_next() {
    let mut s = Setup::new(GrantAllowanceArgs {
        period_secs: 86_400,
        period_limit: 2 * TOKEN,
        ..terms(5 * TOKEN)
    })
    .await;
    let owner = s.owner();
    let receipt = s.receipt(3 * TOKEN).await;

    s.claim(&owner, &receipt).await.unwrap();
    assert_eq!(s.earned().await, 2 * TOKEN, "one window pays its limit");
    let result = s.claim(&owner, &receipt).await;
    assert_paytab_error(result, PaytabError::PeriodLimitReached);

    s.h.advance(86_400).await;
    s.claim(&owner, &receipt).await.unwrap();
    assert_eq!(
        s.earned().await,
        3 * TOKEN,
        "the rest pays in the next window"
    );
}

#[tokio::test]
async fn before_a_reductions_notice_time_claims_up_to_the_old_cap_pass() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let reduce = ix::reduce_allowance(&s.payer, s.allowance, TOKEN);
    s.h.send(&[reduce], &[&owner]).await.unwrap();
    let receipt = s.receipt(4 * TOKEN).await;

    s.h.advance(599).await;
    s.claim(&owner, &receipt).await.unwrap();

    assert_eq!(s.earned().await, 4 * TOKEN);
}

#[tokio::test]
async fn after_a_reductions_notice_time_claims_above_the_new_cap_fail() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let reduce = ix::reduce_allowance(&s.payer, s.allowance, TOKEN);
    s.h.send(&[reduce], &[&owner]).await.unwrap();
    let above = s.receipt(TOKEN + 1).await;
    let within = s.receipt(TOKEN).await;

    s.h.advance(600).await;
    let result = s.claim(&owner, &above).await;

    assert_paytab_error(result, PaytabError::CumulativeAboveCap);
    s.claim(&owner, &within).await.unwrap();
    assert_eq!(s.earned().await, TOKEN);
}

#[tokio::test]
async fn after_a_revocation_takes_effect_nothing_more_is_paid() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let paid = s.receipt(TOKEN).await;
    s.claim(&owner, &paid).await.unwrap();
    let revoke = ix::reduce_allowance(&s.payer, s.allowance, 0);
    s.h.send(&[revoke], &[&owner]).await.unwrap();
    let more = s.receipt(2 * TOKEN).await;

    s.h.advance(600).await;
    let result = s.claim(&owner, &more).await;

    assert_paytab_error(result, PaytabError::CumulativeAboveCap);
    assert_eq!(s.earned().await, TOKEN);
}

#[tokio::test]
async fn a_claim_into_another_owners_token_account_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let thief = s.h.wallet(0).await;
    let receipt = s.receipt(TOKEN).await;
    let accounts = ClaimAccounts {
        provider_token: thief.token,
        ..s.accounts
    };

    let result = s.claim_with(&s.owner(), &receipt, &accounts).await;

    assert_paytab_error(result, PaytabError::TokenAccountOwnerMismatch);
}

#[tokio::test]
async fn a_claim_with_a_token_account_of_another_mint_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let token_program = s.h.token_program;
    let other_mint = s.h.create_mint(token_program).await;
    let provider = s.provider.pubkey();
    let other_token = s.h.token_account(&provider, &other_mint).await;
    let receipt = s.receipt(TOKEN).await;

    let wrong_destination = ClaimAccounts {
        provider_token: other_token,
        ..s.accounts
    };
    let result = s.claim_with(&s.owner(), &receipt, &wrong_destination).await;
    assert_anchor_error(result, anchor_lang::error::ErrorCode::ConstraintTokenMint);

    let wrong_mint = ClaimAccounts {
        mint: other_mint,
        provider_token: other_token,
        ..s.accounts
    };
    let result = s.claim_with(&s.owner(), &receipt, &wrong_mint).await;
    assert_paytab_error(result, PaytabError::MintMismatch);
}

#[tokio::test]
async fn a_claim_with_the_wrong_token_program_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;
    let accounts = ClaimAccounts {
        token_program: spl_token_2022_interface::ID,
        ..s.accounts
    };

    let result = s.claim_with(&s.owner(), &receipt, &accounts).await;

    assert_rejected(result);
    assert_eq!(s.earned().await, 0);
}

#[tokio::test]
async fn a_claim_from_another_escrows_vault_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let victim = s.h.payer(10 * TOKEN, 10 * TOKEN, 0).await;
    let receipt = s.receipt(TOKEN).await;
    let accounts = ClaimAccounts {
        vault: victim.vault,
        ..s.accounts
    };

    let result = s.claim_with(&s.owner(), &receipt, &accounts).await;

    assert_paytab_error(result, PaytabError::VaultMismatch);
    assert_eq!(s.h.balance(victim.vault).await, 10 * TOKEN);
}

/// Plants a copy of `source`'s account at `address`, owned by `owner`.
async fn plant_copy(h: &mut Harness, source: Pubkey, address: Pubkey, owner: Pubkey) {
    let account = h.account(source).await.unwrap();
    let mut copy = AccountSharedData::new(account.lamports, account.data.len(), &owner);
    copy.set_data_from_slice(&account.data);
    h.ctx.set_account(&address, &copy);
}

/// Claims through a copy of the allowance planted at a fresh address, owned by `owner`.
async fn claim_through_planted_allowance(owner: Pubkey) -> Result<(), TransactionError> {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let fake = Pubkey::new_unique();
    plant_copy(&mut s.h, s.allowance, fake, owner).await;
    let mut receipt = s.receipt(TOKEN).await;
    receipt.allowance = fake;
    let accounts = ClaimAccounts {
        allowance: fake,
        ..s.accounts
    };
    s.claim_with(&s.owner(), &receipt, &accounts).await
}

#[tokio::test]
async fn an_allowance_copied_to_an_account_of_another_program_is_rejected() {
    let result = claim_through_planted_allowance(Pubkey::new_unique()).await;

    assert_anchor_error(
        result,
        anchor_lang::error::ErrorCode::AccountOwnedByWrongProgram,
    );
}

#[tokio::test]
async fn an_allowance_copied_to_an_address_off_its_seeds_is_rejected() {
    let result = claim_through_planted_allowance(paytab::ID).await;

    assert_anchor_error(result, anchor_lang::error::ErrorCode::ConstraintSeeds);
}

#[tokio::test]
async fn an_escrow_copied_to_an_address_off_its_seeds_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let fake = Pubkey::new_unique();
    plant_copy(&mut s.h, s.payer.escrow, fake, paytab::ID).await;
    let receipt = s.receipt(TOKEN).await;
    let accounts = ClaimAccounts {
        escrow: fake,
        ..s.accounts
    };

    let result = s.claim_with(&s.owner(), &receipt, &accounts).await;

    assert_anchor_error(result, anchor_lang::error::ErrorCode::ConstraintSeeds);
}

#[tokio::test]
async fn an_account_of_another_type_is_rejected_as_an_allowance() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;
    let accounts = ClaimAccounts {
        allowance: s.payer.escrow,
        ..s.accounts
    };

    let result = s.claim_with(&s.owner(), &receipt, &accounts).await;

    assert_anchor_error(
        result,
        anchor_lang::error::ErrorCode::AccountDiscriminatorMismatch,
    );
    assert_ne!(
        Allowance::DISCRIMINATOR,
        paytab::state::Escrow::DISCRIMINATOR
    );
}

#[tokio::test]
async fn a_claim_without_an_ed25519_instruction_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;

    let claim = s.accounts.instruction();
    let result = s.h.send(&[claim], &[]).await;

    assert_paytab_error(result, PaytabError::MissingEd25519Instruction);
}

#[tokio::test]
async fn an_ed25519_instruction_that_is_not_just_before_the_claim_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;
    let verify = ix::ed25519_verify(&s.owner(), &receipt.to_bytes());
    let spacer = solana_system_interface::instruction::transfer(
        &s.h.ctx.payer.pubkey(),
        &s.provider.pubkey(),
        1,
    );

    let result =
        s.h.send(&[verify, spacer, s.accounts.instruction()], &[])
            .await;

    assert_paytab_error(result, PaytabError::MissingEd25519Instruction);
}

#[tokio::test]
async fn an_ed25519_instruction_with_offsets_pointing_elsewhere_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let owner = s.owner();
    let honest = s.receipt(TOKEN).await;
    let forged = s.receipt(5 * TOKEN).await;
    // The precompile verifies the honest receipt, read from a second copy placed
    // after the forged one; the claim must not read the unverified forged bytes.
    let mut verify = ix::ed25519_verify(&owner, &honest.to_bytes());
    let message_offset = verify.data.len() as u16;
    verify.data.extend_from_slice(&honest.to_bytes());
    let forged_bytes = forged.to_bytes();
    verify.data[paytab::ed25519::MESSAGE_OFFSET..paytab::ed25519::MESSAGE_OFFSET + 58]
        .copy_from_slice(&forged_bytes);
    verify.data[10..12].copy_from_slice(&message_offset.to_le_bytes());

    let result = s.h.send(&[verify, s.accounts.instruction()], &[]).await;

    assert_paytab_error(result, PaytabError::NonCanonicalEd25519Instruction);
    assert_eq!(s.earned().await, 0);
}

#[tokio::test]
async fn a_signed_message_that_is_not_a_receipt_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let mut bytes = s.receipt(TOKEN).await.to_bytes().to_vec();
    bytes[1] = 0x02;
    let verify = ix::ed25519_verify(&s.owner(), &bytes);

    let result = s.h.send(&[verify, s.accounts.instruction()], &[]).await;

    assert_paytab_error(result, PaytabError::MalformedReceipt);
}

#[tokio::test]
async fn a_fake_instructions_sysvar_is_rejected() {
    let mut s = Setup::new(terms(5 * TOKEN)).await;
    let receipt = s.receipt(TOKEN).await;
    let accounts = ClaimAccounts {
        instructions: Pubkey::new_unique(),
        ..s.accounts
    };

    let result = s.claim_with(&s.owner(), &receipt, &accounts).await;

    assert_anchor_error(result, anchor_lang::error::ErrorCode::ConstraintAddress);
}
