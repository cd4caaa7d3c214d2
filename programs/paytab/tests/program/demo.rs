//! The life of an escrow, printed step by step: the README's demo until the CLI exists.
//!
//! `cargo test -p paytab --test program demo -- --nocapture`

use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::Receipt;
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::harness::{Harness, TOKEN};
use crate::ix::{self, ClaimAccounts};
use crate::terms;

fn usdc(raw: u64) -> String {
    format!("{}.{:06} USDC", raw / TOKEN, raw % TOKEN)
}

#[tokio::test]
async fn demo_an_escrow_from_open_to_close() {
    let mut h = Harness::new().await;
    println!("paytab program {} on a native Agave bank", paytab::ID);

    let payer = h.payer(25 * TOKEN, 20 * TOKEN, 600).await;
    println!(
        "1. payer {} opened escrow {} (notice 600 s) and deposited {}",
        payer.wallet.pubkey(),
        payer.escrow,
        usdc(h.balance(payer.vault).await)
    );

    let api = h.wallet(0).await;
    let agent = Keypair::new();
    let grant = GrantAllowanceArgs {
        period_secs: 86_400,
        period_limit: 5 * TOKEN,
        ..terms(10 * TOKEN)
    };
    let allowance = h.grant(&payer, &api.pubkey(), grant).await.unwrap();
    let expires_at = h.now().await + 3_600;
    let set = ix::set_session_key(&payer, agent.pubkey(), expires_at);
    h.send(&[set], &[payer.keypair()]).await.unwrap();
    let escrow = h.escrow(payer.escrow).await;
    println!(
        "2. granted provider {} an allowance of {} (at most {} a day); free balance now {}",
        api.pubkey(),
        usdc(10 * TOKEN),
        usdc(5 * TOKEN),
        usdc(escrow.free_balance())
    );
    println!(
        "   agent session key {} may sign receipts for an hour",
        agent.pubkey()
    );

    let generation = h.allowance(allowance).await.generation;
    let mut receipt = Receipt {
        allowance,
        generation,
        cumulative: 0,
        expires_at: 0,
    };
    for call in 1..=3 {
        receipt.cumulative += 10_000;
        let signature = agent.sign_message(&receipt.to_bytes());
        println!(
            "3. paid call {call}: agent signs a receipt for cumulative {} ({}...)",
            usdc(receipt.cumulative),
            &signature.to_string()[..16]
        );
    }
    let accounts = ClaimAccounts::new(&h, &payer, allowance, api.token);
    h.send(&ix::signed_claim(&agent, &receipt, &accounts), &[])
        .await
        .unwrap();
    println!(
        "4. provider claimed the latest receipt: earned {}, vault {}",
        usdc(h.balance(api.token).await),
        usdc(h.balance(payer.vault).await)
    );

    let revoke = ix::reduce_allowance(&payer, allowance, 0);
    h.send(&[revoke], &[payer.keypair()]).await.unwrap();
    h.advance(600).await;
    let close = ix::close_allowance(&payer, allowance);
    h.send(&[close], &[payer.keypair()]).await.unwrap();
    println!("5. payer revoked the allowance; after the 600 s notice it was closed");

    let close = ix::close_escrow(&h, &payer, payer.wallet.token);
    h.send(&[close], &[payer.keypair()]).await.unwrap();
    println!(
        "6. payer closed the escrow: wallet {}, provider {}",
        usdc(h.balance(payer.wallet.token).await),
        usdc(h.balance(api.token).await)
    );
    assert_eq!(h.balance(api.token).await, 30_000);
    assert_eq!(h.balance(payer.wallet.token).await, 25 * TOKEN - 30_000);
}
