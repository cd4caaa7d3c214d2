//! Opening, funding, withdrawing from and closing escrows.

use anchor_lang::solana_program::program_pack::Pack;
use paytab::errors::PaytabError;
use spl_token_2022_interface::extension::ExtensionType;

use crate::harness::{Harness, TOKEN};
use crate::{assert_anchor_error, assert_paytab_error, assert_rejected, ix, terms};

#[tokio::test]
async fn opening_an_escrow_creates_a_vault_held_by_the_vault_authority() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 0, 3600).await;

    let escrow = h.escrow(payer.escrow).await;
    assert_eq!(escrow.owner, payer.wallet.pubkey());
    assert_eq!(escrow.mint, h.mint);
    assert_eq!(escrow.vault, payer.vault);
    assert_eq!(escrow.notice_secs, 3600);
    assert_eq!((escrow.funded, escrow.committed), (0, 0));
    let vault = h.account(payer.vault).await.unwrap();
    let vault = spl_token_2022_interface::state::Account::unpack_from_slice(&vault.data).unwrap();
    assert_eq!(vault.owner, paytab::pda::vault_authority());
    assert_eq!(vault.mint, h.mint);
}

#[tokio::test]
async fn deposits_and_withdrawals_move_free_balance() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 4 * TOKEN, 0).await;
    assert_eq!(h.balance(payer.vault).await, 4 * TOKEN);
    assert_eq!(h.balance(payer.wallet.token).await, 6 * TOKEN);

    let withdraw = ix::withdraw(&h, &payer, payer.wallet.token, TOKEN);
    h.send(&[withdraw], &[payer.keypair()]).await.unwrap();

    assert_eq!(h.balance(payer.vault).await, 3 * TOKEN);
    assert_eq!(h.balance(payer.wallet.token).await, 7 * TOKEN);
    assert_eq!(h.escrow(payer.escrow).await.free_balance(), 3 * TOKEN);
}

#[tokio::test]
async fn anyone_may_top_up_an_escrow() {
    let mut h = Harness::new().await;
    let payer = h.payer(0, 0, 0).await;
    let friend = h.wallet(2 * TOKEN).await;

    let deposit = ix::deposit_from(&h, &payer, &friend.pubkey(), friend.token, 2 * TOKEN);
    h.send(&[deposit], &[&friend.keypair]).await.unwrap();

    assert_eq!(h.escrow(payer.escrow).await.funded, 2 * TOKEN);
}

#[tokio::test]
async fn withdraw_can_never_touch_reserved_funds() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 0).await;
    let provider = h.wallet(0).await;
    h.grant(&payer, &provider.pubkey(), terms(7 * TOKEN))
        .await
        .unwrap();

    let too_much = ix::withdraw(&h, &payer, payer.wallet.token, 3 * TOKEN + 1);
    let result = h.send(&[too_much], &[payer.keypair()]).await;
    assert_paytab_error(result, PaytabError::InsufficientFreeBalance);

    let all_free = ix::withdraw(&h, &payer, payer.wallet.token, 3 * TOKEN);
    h.send(&[all_free], &[payer.keypair()]).await.unwrap();
    assert_eq!(h.balance(payer.vault).await, 7 * TOKEN);
}

#[tokio::test]
async fn only_the_owner_can_withdraw() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 5 * TOKEN, 0).await;
    let thief = h.wallet(0).await;

    let mut withdraw = ix::withdraw(&h, &payer, thief.token, TOKEN);
    withdraw.accounts[0].pubkey = thief.pubkey();
    let result = h.send(&[withdraw], &[&thief.keypair]).await;

    assert_anchor_error(result, anchor_lang::error::ErrorCode::ConstraintSeeds);
    assert_eq!(h.balance(payer.vault).await, 5 * TOKEN);
}

#[tokio::test]
async fn a_deposit_from_a_token_account_of_another_mint_is_rejected() {
    let mut h = Harness::new().await;
    let payer = h.payer(0, 0, 0).await;
    let token_program = h.token_program;
    let other_mint = h.create_mint(token_program).await;
    let other = h.wallet_of(other_mint, TOKEN).await;

    let deposit = ix::deposit_from(&h, &payer, &other.pubkey(), other.token, TOKEN);
    let result = h.send(&[deposit], &[&other.keypair]).await;

    assert_anchor_error(result, anchor_lang::error::ErrorCode::ConstraintTokenMint);
}

#[tokio::test]
async fn a_withdrawal_from_a_fake_vault_is_rejected() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 5 * TOKEN, 0).await;
    let victim = h.payer(10 * TOKEN, 5 * TOKEN, 0).await;

    let mut withdraw = ix::withdraw(&h, &payer, payer.wallet.token, TOKEN);
    withdraw.accounts[3].pubkey = victim.vault;
    let result = h.send(&[withdraw], &[payer.keypair()]).await;

    assert_paytab_error(result, PaytabError::VaultMismatch);
    assert_eq!(h.balance(victim.vault).await, 5 * TOKEN);
}

#[tokio::test]
async fn an_escrow_with_the_wrong_token_program_is_rejected() {
    let mut h = Harness::new().await;
    let owner = h.wallet(0).await;

    let open = ix::open_escrow(&owner.pubkey(), &h.mint, &spl_token_2022_interface::ID, 0);
    let result = h.send(&[open], &[&owner.keypair]).await;

    assert_rejected(result);
    assert!(
        !h.exists(paytab::pda::escrow(&owner.pubkey(), &h.mint))
            .await
    );
}

#[tokio::test]
async fn a_token_2022_mint_with_a_permanent_delegate_is_refused() {
    let mut h = Harness::with_token_program(spl_token_2022_interface::ID).await;
    let drainer = h.wallet(0).await.pubkey();
    let mint = h
        .create_mint_with(
            spl_token_2022_interface::ID,
            &[ExtensionType::PermanentDelegate],
            |mint| {
                vec![
                    spl_token_2022_interface::instruction::initialize_permanent_delegate(
                        &spl_token_2022_interface::ID,
                        mint,
                        &drainer,
                    )
                    .unwrap(),
                ]
            },
        )
        .await;
    let owner = h.wallet(0).await;

    let open = ix::open_escrow(&owner.pubkey(), &mint, &spl_token_2022_interface::ID, 0);
    let result = h.send(&[open], &[&owner.keypair]).await;

    assert_paytab_error(result, PaytabError::UnsupportedMintExtension);
}

#[tokio::test]
async fn a_notice_period_above_thirty_days_is_rejected() {
    let mut h = Harness::new().await;
    let owner = h.wallet(0).await;

    let open = ix::open_escrow(&owner.pubkey(), &h.mint, &h.token_program, 30 * 86_400 + 1);
    let result = h.send(&[open], &[&owner.keypair]).await;

    assert_paytab_error(result, PaytabError::NoticePeriodTooLong);
}

#[tokio::test]
async fn escrows_work_with_token_2022_mints() {
    let mut h = Harness::with_token_program(spl_token_2022_interface::ID).await;
    let payer = h.payer(5 * TOKEN, 5 * TOKEN, 0).await;
    let provider = h.wallet(0).await;
    h.grant(&payer, &provider.pubkey(), terms(TOKEN))
        .await
        .unwrap();

    assert_eq!(h.owner_of(&payer.vault).await, spl_token_2022_interface::ID);
    assert_eq!(h.balance(payer.vault).await, 5 * TOKEN);
}

#[tokio::test]
async fn closing_an_escrow_sweeps_the_vault_and_returns_rent() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 4 * TOKEN, 0).await;
    let lamports_before = h
        .ctx
        .banks_client
        .get_balance(payer.wallet.pubkey())
        .await
        .unwrap();

    let close = ix::close_escrow(&h, &payer, payer.wallet.token);
    h.send(&[close], &[payer.keypair()]).await.unwrap();

    assert!(!h.exists(payer.escrow).await);
    assert!(!h.exists(payer.vault).await);
    assert_eq!(h.balance(payer.wallet.token).await, 10 * TOKEN);
    let lamports_after = h
        .ctx
        .banks_client
        .get_balance(payer.wallet.pubkey())
        .await
        .unwrap();
    assert!(
        lamports_after > lamports_before,
        "rent of both accounts returned"
    );
}

#[tokio::test]
async fn an_escrow_with_open_allowances_cannot_be_closed() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 4 * TOKEN, 0).await;
    let provider = h.wallet(0).await;
    h.grant(&payer, &provider.pubkey(), terms(TOKEN))
        .await
        .unwrap();

    let close = ix::close_escrow(&h, &payer, payer.wallet.token);
    let result = h.send(&[close], &[payer.keypair()]).await;

    assert_paytab_error(result, PaytabError::EscrowHasAllowances);
}
