//! Granting, raising, reducing, revoking and closing allowances; session keys.

use paytab::errors::PaytabError;
use paytab::instructions::GrantAllowanceArgs;
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::harness::{Harness, TOKEN};
use crate::{assert_paytab_error, assert_rejected, ix, terms};

#[tokio::test]
async fn granting_an_allowance_commits_its_cap() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 0).await;
    let provider = h.wallet(0).await;

    let allowance = h
        .grant(&payer, &provider.pubkey(), terms(4 * TOKEN))
        .await
        .unwrap();

    let state = h.allowance(allowance).await;
    assert_eq!(state.escrow, payer.escrow);
    assert_eq!(state.provider, provider.pubkey());
    assert_eq!(state.vault, payer.vault);
    assert_eq!((state.cap, state.claimed), (4 * TOKEN, 0));
    let escrow = h.escrow(payer.escrow).await;
    assert_eq!(escrow.committed, 4 * TOKEN);
    assert_eq!(escrow.free_balance(), 6 * TOKEN);
    assert_eq!(escrow.allowance_count, 1);
}

#[tokio::test]
async fn an_allowance_above_the_free_balance_is_rejected() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 5 * TOKEN, 0).await;
    let first = h.wallet(0).await;
    let second = h.wallet(0).await;
    h.grant(&payer, &first.pubkey(), terms(3 * TOKEN))
        .await
        .unwrap();

    let result = h
        .grant(&payer, &second.pubkey(), terms(2 * TOKEN + 1))
        .await;

    assert_paytab_error(result.map(|_| ()), PaytabError::InsufficientFreeBalance);
}

#[tokio::test]
async fn a_period_limit_without_a_limit_is_rejected() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 5 * TOKEN, 0).await;
    let provider = h.wallet(0).await;
    let args = GrantAllowanceArgs {
        period_secs: 86_400,
        period_limit: 0,
        ..terms(TOKEN)
    };

    let result = h.grant(&payer, &provider.pubkey(), args).await;

    assert_paytab_error(result.map(|_| ()), PaytabError::InvalidPeriod);
}

#[tokio::test]
async fn only_the_owner_can_grant_an_allowance() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 5 * TOKEN, 0).await;
    let stranger = h.wallet(0).await;

    let mut grant = ix::grant_allowance(&payer, &stranger.pubkey(), terms(TOKEN));
    grant.accounts[0].pubkey = stranger.pubkey();
    let result = h.send(&[grant], &[&stranger.keypair]).await;

    assert_rejected(result);
    assert_eq!(h.escrow(payer.escrow).await.committed, 0);
}

#[tokio::test]
async fn raising_an_allowance_commits_the_difference_and_cancels_a_pending_reduction() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 600).await;
    let provider = h.wallet(0).await;
    let allowance = h
        .grant(&payer, &provider.pubkey(), terms(2 * TOKEN))
        .await
        .unwrap();
    let reduce = ix::reduce_allowance(&payer, allowance, TOKEN);
    h.send(&[reduce], &[payer.keypair()]).await.unwrap();

    let raise = ix::raise_allowance(&payer, allowance, 5 * TOKEN, 0);
    h.send(&[raise], &[payer.keypair()]).await.unwrap();

    let state = h.allowance(allowance).await;
    assert_eq!(state.cap, 5 * TOKEN);
    assert_eq!(state.pending_cap, None);
    assert_eq!(h.escrow(payer.escrow).await.committed, 5 * TOKEN);
}

#[tokio::test]
async fn raising_may_not_lower_the_cap_or_shorten_the_expiry() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 0).await;
    let provider = h.wallet(0).await;
    let expires_at = h.now().await + 3600;
    let args = GrantAllowanceArgs {
        expires_at,
        ..terms(2 * TOKEN)
    };
    let allowance = h.grant(&payer, &provider.pubkey(), args).await.unwrap();

    let lower = ix::raise_allowance(&payer, allowance, TOKEN, expires_at);
    let result = h.send(&[lower], &[payer.keypair()]).await;
    assert_paytab_error(result, PaytabError::CapNotRaised);

    let shorter = ix::raise_allowance(&payer, allowance, 3 * TOKEN, expires_at - 1);
    let result = h.send(&[shorter], &[payer.keypair()]).await;
    assert_paytab_error(result, PaytabError::ExpiryShortened);
}

#[tokio::test]
async fn a_reduction_waits_for_the_notice_period_then_releases_its_reservation() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 600).await;
    let provider = h.wallet(0).await;
    let allowance = h
        .grant(&payer, &provider.pubkey(), terms(4 * TOKEN))
        .await
        .unwrap();

    let reduce = ix::reduce_allowance(&payer, allowance, TOKEN);
    h.send(&[reduce], &[payer.keypair()]).await.unwrap();
    let early = ix::finalize_reduction(&payer, allowance);
    let result = h.send(&[early], &[payer.keypair()]).await;
    assert_paytab_error(result, PaytabError::NoticePeriodNotElapsed);
    assert_eq!(h.escrow(payer.escrow).await.committed, 4 * TOKEN);

    h.advance(600).await;
    let finalize = ix::finalize_reduction(&payer, allowance);
    h.send(&[finalize], &[payer.keypair()]).await.unwrap();

    assert_eq!(h.allowance(allowance).await.cap, TOKEN);
    assert_eq!(h.escrow(payer.escrow).await.committed, TOKEN);
}

#[tokio::test]
async fn revoking_then_closing_returns_the_rent_and_the_reservation() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 60).await;
    let provider = h.wallet(0).await;
    let allowance = h
        .grant(&payer, &provider.pubkey(), terms(4 * TOKEN))
        .await
        .unwrap();
    let revoke = ix::reduce_allowance(&payer, allowance, 0);
    h.send(&[revoke], &[payer.keypair()]).await.unwrap();

    let too_early = ix::close_allowance(&payer, allowance);
    let result = h.send(&[too_early], &[payer.keypair()]).await;
    assert_paytab_error(result, PaytabError::AllowanceStillReserved);

    h.advance(60).await;
    let close = ix::close_allowance(&payer, allowance);
    h.send(&[close], &[payer.keypair()]).await.unwrap();

    assert!(!h.exists(allowance).await);
    let escrow = h.escrow(payer.escrow).await;
    assert_eq!((escrow.committed, escrow.allowance_count), (0, 0));
    assert_eq!(escrow.free_balance(), 10 * TOKEN);
}

#[tokio::test]
async fn an_expired_allowance_can_be_closed_and_releases_its_reservation() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 3600).await;
    let provider = h.wallet(0).await;
    let args = GrantAllowanceArgs {
        expires_at: h.now().await + 100,
        ..terms(4 * TOKEN)
    };
    let allowance = h.grant(&payer, &provider.pubkey(), args).await.unwrap();

    h.advance(100).await;
    let close = ix::close_allowance(&payer, allowance);
    h.send(&[close], &[payer.keypair()]).await.unwrap();

    assert_eq!(h.escrow(payer.escrow).await.committed, 0);
}

#[tokio::test]
async fn generations_never_repeat_when_an_allowance_is_reopened() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 10 * TOKEN, 0).await;
    let provider = h.wallet(0).await;
    let allowance = h
        .grant(&payer, &provider.pubkey(), terms(TOKEN))
        .await
        .unwrap();
    let first = h.allowance(allowance).await.generation;

    let revoke = ix::reduce_allowance(&payer, allowance, 0);
    let close = ix::close_allowance(&payer, allowance);
    h.send(&[revoke, close], &[payer.keypair()]).await.unwrap();
    let reopened = h
        .grant(&payer, &provider.pubkey(), terms(TOKEN))
        .await
        .unwrap();

    assert_eq!(reopened, allowance, "same address");
    assert!(h.allowance(reopened).await.generation > first);
}

#[tokio::test]
async fn session_keys_are_set_and_cleared_by_the_owner_only() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 0, 0).await;
    let agent = Keypair::new();
    let expires_at = h.now().await + 3600;

    let set = ix::set_session_key(&payer, agent.pubkey(), expires_at);
    h.send(&[set], &[payer.keypair()]).await.unwrap();
    let escrow = h.escrow(payer.escrow).await;
    assert_eq!(escrow.session_key, Some(agent.pubkey()));
    assert_eq!(escrow.session_expires_at, expires_at);

    let mut hijack = ix::clear_session_key(&payer);
    hijack.accounts[0].pubkey = agent.pubkey();
    let result = h.send(&[hijack], &[&agent]).await;
    assert_rejected(result);

    let clear = ix::clear_session_key(&payer);
    h.send(&[clear], &[payer.keypair()]).await.unwrap();
    assert_eq!(h.escrow(payer.escrow).await.session_key, None);
}

#[tokio::test]
async fn a_session_key_expiring_in_the_past_is_rejected() {
    let mut h = Harness::new().await;
    let payer = h.payer(10 * TOKEN, 0, 0).await;
    let now = h.now().await;

    let set = ix::set_session_key(&payer, Keypair::new().pubkey(), now);
    let result = h.send(&[set], &[payer.keypair()]).await;

    assert_paytab_error(result, PaytabError::ExpiryInPast);
}
