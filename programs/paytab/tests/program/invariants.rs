//! A random sequence of deposits, withdrawals, allowance changes, receipts and
//! claims keeps every invariant (checked by the harness after each transaction),
//! pays each accepted receipt exactly up to its cumulative amount, and never
//! creates or destroys tokens.

use anchor_lang::prelude::Pubkey;
use paytab::receipt::Receipt;
use proptest::prelude::*;

use crate::harness::{Harness, Payer, Wallet, TOKEN};
use crate::ix::{self, ClaimAccounts};
use crate::terms;

const PAYERS: usize = 2;
const PROVIDERS: usize = 2;

#[derive(Debug, Clone)]
enum Step {
    Deposit {
        payer: usize,
        amount: u64,
    },
    Withdraw {
        payer: usize,
        amount: u64,
    },
    Grant {
        payer: usize,
        provider: usize,
        cap: u64,
    },
    Raise {
        payer: usize,
        provider: usize,
        extra: u64,
    },
    Reduce {
        payer: usize,
        provider: usize,
        new_cap: u64,
    },
    Close {
        payer: usize,
        provider: usize,
    },
    Advance {
        secs: i64,
    },
    Sign {
        payer: usize,
        provider: usize,
        amount: u64,
    },
    Claim {
        payer: usize,
        provider: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let who = (0..PAYERS, 0..PROVIDERS);
    prop_oneof![
        (0..PAYERS, 1..3 * TOKEN).prop_map(|(payer, amount)| Step::Deposit { payer, amount }),
        (0..PAYERS, 1..3 * TOKEN).prop_map(|(payer, amount)| Step::Withdraw { payer, amount }),
        (who.clone(), 1..3 * TOKEN).prop_map(|((payer, provider), cap)| Step::Grant {
            payer,
            provider,
            cap
        }),
        (who.clone(), 1..TOKEN).prop_map(|((payer, provider), extra)| Step::Raise {
            payer,
            provider,
            extra
        }),
        (who.clone(), 0..2 * TOKEN).prop_map(|((payer, provider), new_cap)| Step::Reduce {
            payer,
            provider,
            new_cap
        }),
        who.clone()
            .prop_map(|(payer, provider)| Step::Close { payer, provider }),
        (0i64..120).prop_map(|secs| Step::Advance { secs }),
        (who.clone(), 1..TOKEN).prop_map(|((payer, provider), amount)| Step::Sign {
            payer,
            provider,
            amount
        }),
        who.prop_map(|(payer, provider)| Step::Claim { payer, provider }),
    ]
}

/// The chain plus what the payers have signed off-chain.
struct World {
    h: Harness,
    payers: Vec<Payer>,
    providers: Vec<Wallet>,
    /// Highest cumulative each payer signed per (payer, provider), with its generation.
    signed: Vec<Vec<Option<(u64, u64)>>>,
    /// Sum of what every accepted claim added to a watermark.
    accepted: u64,
}

impl World {
    async fn new() -> Self {
        let mut h = Harness::new().await;
        let mut payers = Vec::new();
        for _ in 0..PAYERS {
            payers.push(h.payer(10 * TOKEN, 2 * TOKEN, 60).await);
        }
        let mut providers = Vec::new();
        for _ in 0..PROVIDERS {
            providers.push(h.wallet(0).await);
        }
        Self {
            h,
            payers,
            providers,
            signed: vec![vec![None; PROVIDERS]; PAYERS],
            accepted: 0,
        }
    }

    fn allowance(&self, payer: usize, provider: usize) -> Pubkey {
        paytab::pda::allowance(
            &self.payers[payer].escrow,
            &self.providers[provider].pubkey(),
        )
    }

    async fn run(&mut self, step: Step) {
        // Failures are expected for many random steps; invariants are what matter.
        match step {
            Step::Deposit { payer, amount } => {
                let deposit = ix::deposit(&self.h, &self.payers[payer], amount);
                let _ = self
                    .h
                    .send(&[deposit], &[self.payers[payer].keypair()])
                    .await;
            }
            Step::Withdraw { payer, amount } => {
                let p = &self.payers[payer];
                let withdraw = ix::withdraw(&self.h, p, p.wallet.token, amount);
                let _ = self.h.send(&[withdraw], &[p.keypair()]).await;
            }
            Step::Grant {
                payer,
                provider,
                cap,
            } => {
                let provider_key = self.providers[provider].pubkey();
                if self
                    .h
                    .grant(&self.payers[payer], &provider_key, terms(cap))
                    .await
                    .is_ok()
                {
                    self.signed[payer][provider] = None;
                }
            }
            Step::Raise {
                payer,
                provider,
                extra,
            } => {
                let allowance = self.allowance(payer, provider);
                if let Some(state) = self
                    .h
                    .try_account::<paytab::state::Allowance>(allowance)
                    .await
                {
                    let raise =
                        ix::raise_allowance(&self.payers[payer], allowance, state.cap + extra, 0);
                    let _ = self.h.send(&[raise], &[self.payers[payer].keypair()]).await;
                }
            }
            Step::Reduce {
                payer,
                provider,
                new_cap,
            } => {
                let reduce = ix::reduce_allowance(
                    &self.payers[payer],
                    self.allowance(payer, provider),
                    new_cap,
                );
                let _ = self
                    .h
                    .send(&[reduce], &[self.payers[payer].keypair()])
                    .await;
            }
            Step::Close { payer, provider } => {
                let close =
                    ix::close_allowance(&self.payers[payer], self.allowance(payer, provider));
                let _ = self.h.send(&[close], &[self.payers[payer].keypair()]).await;
            }
            Step::Advance { secs } => self.h.advance(secs).await,
            Step::Sign {
                payer,
                provider,
                amount,
            } => {
                let allowance = self.allowance(payer, provider);
                if let Some(state) = self
                    .h
                    .try_account::<paytab::state::Allowance>(allowance)
                    .await
                {
                    let last = match self.signed[payer][provider] {
                        Some((generation, cumulative)) if generation == state.generation => {
                            cumulative
                        }
                        _ => state.claimed,
                    };
                    self.signed[payer][provider] = Some((state.generation, last + amount));
                }
            }
            Step::Claim { payer, provider } => self.claim(payer, provider).await,
        }
    }

    async fn claim(&mut self, payer: usize, provider: usize) {
        let Some((generation, cumulative)) = self.signed[payer][provider] else {
            return;
        };
        let allowance = self.allowance(payer, provider);
        let Some(before) = self
            .h
            .try_account::<paytab::state::Allowance>(allowance)
            .await
        else {
            return;
        };
        let provider_token = self.providers[provider].token;
        let earned_before = self.h.balance(provider_token).await;
        let receipt = Receipt {
            allowance,
            generation,
            cumulative,
            expires_at: 0,
        };
        let accounts = ClaimAccounts::new(&self.h, &self.payers[payer], allowance, provider_token);
        let owner = self.payers[payer].keypair().insecure_clone();
        let result = self
            .h
            .send(&ix::signed_claim(&owner, &receipt, &accounts), &[])
            .await;
        let after = self.h.allowance(allowance).await;
        let earned = self.h.balance(provider_token).await - earned_before;
        match result {
            Ok(()) => {
                assert_eq!(
                    after.claimed, cumulative,
                    "an accepted receipt pays up to its cumulative"
                );
                assert_eq!(
                    earned,
                    cumulative - before.claimed,
                    "the provider gets exactly the increment"
                );
                self.accepted += earned;
            }
            Err(_) => {
                assert_eq!(
                    after.claimed, before.claimed,
                    "a rejected receipt moves nothing"
                );
                assert_eq!(earned, 0, "a rejected receipt pays nothing");
            }
        }
    }

    async fn total_tokens(&mut self) -> u64 {
        let mut accounts: Vec<Pubkey> = self
            .payers
            .iter()
            .flat_map(|p| [p.wallet.token, p.vault])
            .collect();
        accounts.extend(self.providers.iter().map(|p| p.token));
        let mut total = 0;
        for account in accounts {
            total += self.h.balance(account).await;
        }
        total
    }

    async fn total_paid(&mut self) -> u64 {
        let mut paid = 0;
        for provider in 0..PROVIDERS {
            let token = self.providers[provider].token;
            paid += self.h.balance(token).await;
        }
        paid
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_escrow_activity_keeps_every_invariant_and_pays_exactly_the_accepted_receipts(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut world = World::new().await;
            let tokens_at_start = world.total_tokens().await;
            for step in steps {
                world.run(step).await;
            }
            world.h.assert_invariants().await;
            assert_eq!(world.total_tokens().await, tokens_at_start, "tokens are conserved");
            assert_eq!(world.total_paid().await, world.accepted, "payouts equal accepted receipts");
        });
    }
}
