//! Claiming many payers' allowances for one provider in one transaction.

use anchor_lang::prelude::Pubkey;
use paytab::errors::PaytabError;
use paytab::instructions::GrantAllowanceArgs;
use paytab::receipt::BatchAttestation;
use solana_address_lookup_table_interface::instruction as lookup_table;
use solana_keypair::Keypair;
use solana_message::AddressLookupTableAccount;
use solana_signer::Signer;
use solana_transaction_error::TransactionError;

use crate::harness::{Harness, Payer, Wallet, TOKEN};
use crate::{assert_paytab_error, ix, terms};

/// The largest serialized transaction Solana accepts.
const PACKET_DATA_SIZE: usize = 1232;
/// Accounts a transaction may lock on clusters without `increase_tx_account_lock_limit`.
const ACCOUNT_LOCK_LIMIT: usize = 64;
/// Allowances settled by the one-transaction batch test: the most that fit the
/// 64-account lock limit (2 per entry plus 9 fixed accounts).
const BATCH_SIZE: usize = 27;

/// `count` payers, each with a delegated allowance for one provider.
struct BatchSetup {
    h: Harness,
    provider: Wallet,
    delegate: Keypair,
    payers: Vec<Payer>,
    allowances: Vec<Pubkey>,
}

impl BatchSetup {
    async fn new(count: usize) -> Self {
        let mut h = Harness::new().await;
        let provider = h.wallet(0).await;
        let delegate = Keypair::new();
        let mut payers = Vec::with_capacity(count);
        let mut allowances = Vec::with_capacity(count);
        for _ in 0..count {
            let payer = h.payer(2 * TOKEN, 2 * TOKEN, 600).await;
            let args = GrantAllowanceArgs {
                delegate: Some(delegate.pubkey()),
                ..terms(TOKEN)
            };
            allowances.push(h.grant(&payer, &provider.pubkey(), args).await.unwrap());
            payers.push(payer);
        }
        Self {
            h,
            provider,
            delegate,
            payers,
            allowances,
        }
    }

    /// (allowance, generation, cumulative) for every allowance, each owed `amount(i)`.
    async fn entries(&mut self, amount: impl Fn(usize) -> u64) -> Vec<(Pubkey, u64, u64)> {
        let mut entries = Vec::with_capacity(self.allowances.len());
        for (index, allowance) in self.allowances.clone().into_iter().enumerate() {
            let generation = self.h.allowance(allowance).await.generation;
            entries.push((allowance, generation, amount(index)));
        }
        entries
    }

    /// (allowance, vault) account pairs in attestation order.
    fn pairs(&self) -> Vec<(Pubkey, Pubkey)> {
        self.allowances
            .iter()
            .zip(&self.payers)
            .map(|(allowance, payer)| (*allowance, payer.vault))
            .collect()
    }

    /// Sends a legacy transaction claiming `pairs` with an attestation over `entries`.
    async fn claim(
        &mut self,
        signer: &Keypair,
        entries: &[(Pubkey, u64, u64)],
        pairs: &[(Pubkey, Pubkey)],
    ) -> Result<(), TransactionError> {
        let message = BatchAttestation::encode(0, entries);
        let verify = ix::ed25519_verify(signer, &message);
        let claim = ix::claim_batch(&self.h, self.provider.token, pairs);
        self.h.send(&[verify, claim], &[]).await
    }

    /// Creates and fills an address lookup table with `addresses`, usable from the next slot.
    async fn lookup_table(&mut self, addresses: &[Pubkey]) -> AddressLookupTableAccount {
        self.h.advance_slots(2).await;
        let authority = self.h.ctx.payer.insecure_clone();
        let recent_slot = self.h.ctx.banks_client.get_root_slot().await.unwrap() - 1;
        let (create, table) =
            lookup_table::create_lookup_table(authority.pubkey(), authority.pubkey(), recent_slot);
        self.h.send(&[create], &[]).await.unwrap();
        for chunk in addresses.chunks(20) {
            let extend = lookup_table::extend_lookup_table(
                table,
                authority.pubkey(),
                Some(authority.pubkey()),
                chunk.to_vec(),
            );
            self.h.send(&[extend], &[]).await.unwrap();
        }
        self.h.advance_slots(1).await;
        AddressLookupTableAccount {
            key: table,
            addresses: addresses.to_vec(),
        }
    }
}

#[tokio::test]
async fn twenty_seven_allowances_of_different_payers_settle_in_one_transaction_within_1232_bytes() {
    let mut s = BatchSetup::new(BATCH_SIZE).await;
    let entries = s.entries(|index| 1_000 + index as u64).await;
    let pairs = s.pairs();
    let mut addresses: Vec<Pubkey> = pairs.iter().flat_map(|(a, v)| [*a, *v]).collect();
    addresses.extend([
        s.h.mint,
        s.provider.token,
        paytab::pda::vault_authority(),
        s.h.token_program,
        solana_instructions_sysvar::ID,
    ]);
    let table = s.lookup_table(&addresses).await;

    let message = BatchAttestation::encode(0, &entries);
    let instructions = [
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(
            1_400_000,
        ),
        ix::ed25519_verify(&s.delegate, &message),
        ix::claim_batch(&s.h, s.provider.token, &pairs),
    ];
    let transaction = s.h.v0_transaction(&instructions, &[table]).await;
    let size = bincode::serialize(&transaction).unwrap().len();
    let locks = account_locks(&transaction);
    s.h.process(transaction).await.unwrap();

    println!("batch of {BATCH_SIZE} allowances: {size} bytes, {locks} account locks");
    assert!(
        size <= PACKET_DATA_SIZE,
        "{size} bytes exceeds {PACKET_DATA_SIZE}"
    );
    assert!(
        locks <= ACCOUNT_LOCK_LIMIT,
        "{locks} locks exceed {ACCOUNT_LOCK_LIMIT}"
    );
    assert!(entries.len() >= 25, "{} allowances settled", entries.len());
    let expected: u64 = entries.iter().map(|(_, _, cumulative)| cumulative).sum();
    assert_eq!(s.h.balance(s.provider.token).await, expected);
    for (allowance, _, cumulative) in &entries {
        assert_eq!(s.h.allowance(*allowance).await.claimed, *cumulative);
    }
}

/// Accounts the transaction locks: its static keys plus every looked-up address.
fn account_locks(transaction: &solana_transaction::versioned::VersionedTransaction) -> usize {
    let message = &transaction.message;
    let looked_up: usize = message
        .address_table_lookups()
        .unwrap_or_default()
        .iter()
        .map(|lookup| lookup.writable_indexes.len() + lookup.readonly_indexes.len())
        .sum();
    message.static_account_keys().len() + looked_up
}

#[tokio::test]
async fn a_resent_batch_pays_nothing_twice() {
    let mut s = BatchSetup::new(3).await;
    let delegate = s.delegate.insecure_clone();
    let entries = s.entries(|_| 500).await;
    let pairs = s.pairs();

    s.claim(&delegate, &entries, &pairs).await.unwrap();
    s.claim(&delegate, &entries, &pairs).await.unwrap();

    assert_eq!(s.h.balance(s.provider.token).await, 1_500);
}

#[tokio::test]
async fn a_batch_pays_only_what_each_entry_adds_to_its_watermark() {
    let mut s = BatchSetup::new(2).await;
    let delegate = s.delegate.insecure_clone();
    let pairs = s.pairs();
    let first = s.entries(|_| 500).await;
    s.claim(&delegate, &first, &pairs).await.unwrap();

    let second = s.entries(|index| if index == 0 { 500 } else { 800 }).await;
    s.claim(&delegate, &second, &pairs).await.unwrap();

    assert_eq!(s.h.balance(s.provider.token).await, 1_300);
}

#[tokio::test]
async fn a_batch_signed_by_a_key_that_is_not_the_delegate_is_rejected() {
    let mut s = BatchSetup::new(2).await;
    let entries = s.entries(|_| 500).await;
    let pairs = s.pairs();
    let owner = s.payers[0].keypair().insecure_clone();

    let result = s.claim(&owner, &entries, &pairs).await;

    assert_paytab_error(result, PaytabError::UnauthorizedSigner);
}

#[tokio::test]
async fn a_batch_whose_accounts_are_not_in_the_attested_order_is_rejected() {
    let mut s = BatchSetup::new(2).await;
    let delegate = s.delegate.insecure_clone();
    let entries = s.entries(|index| 100 * (index as u64 + 1)).await;
    let mut pairs = s.pairs();
    pairs.swap(0, 1);

    let result = s.claim(&delegate, &entries, &pairs).await;

    assert_paytab_error(result, PaytabError::BatchEntriesHashMismatch);
}

#[tokio::test]
async fn a_batch_with_an_allowance_of_another_provider_is_rejected() {
    let mut s = BatchSetup::new(2).await;
    let delegate = s.delegate.insecure_clone();
    let other_provider = s.h.wallet(0).await;
    let args = GrantAllowanceArgs {
        delegate: Some(delegate.pubkey()),
        ..terms(TOKEN)
    };
    let payer = s.h.payer(2 * TOKEN, 2 * TOKEN, 0).await;
    let foreign =
        s.h.grant(&payer, &other_provider.pubkey(), args)
            .await
            .unwrap();
    s.allowances[1] = foreign;
    s.payers[1] = payer;
    let entries = s.entries(|_| 500).await;
    let pairs = s.pairs();

    let result = s.claim(&delegate, &entries, &pairs).await;

    assert_paytab_error(result, PaytabError::ProviderMismatch);
}

#[tokio::test]
async fn a_batch_listing_one_allowance_twice_is_rejected() {
    let mut s = BatchSetup::new(2).await;
    let delegate = s.delegate.insecure_clone();
    let entries = s.entries(|_| 500).await;
    let entries = vec![entries[0], entries[0]];
    let pairs = s.pairs();
    let pairs = vec![pairs[0], pairs[0]];

    let result = s.claim(&delegate, &entries, &pairs).await;

    assert_paytab_error(result, PaytabError::MalformedBatchAccounts);
    assert_eq!(s.h.balance(s.provider.token).await, 0);
}

#[tokio::test]
async fn a_batch_paying_from_another_allowances_vault_is_rejected() {
    let mut s = BatchSetup::new(2).await;
    let delegate = s.delegate.insecure_clone();
    let entries = s.entries(|_| 500).await;
    let mut pairs = s.pairs();
    pairs[0].1 = pairs[1].1;

    let result = s.claim(&delegate, &entries, &pairs).await;

    assert_paytab_error(result, PaytabError::VaultMismatch);
}

#[tokio::test]
async fn a_batch_attesting_more_entries_than_accounts_given_is_rejected() {
    let mut s = BatchSetup::new(2).await;
    let delegate = s.delegate.insecure_clone();
    let entries = s.entries(|_| 500).await;
    let pairs = s.pairs();

    let result = s.claim(&delegate, &entries, &pairs[..1]).await;

    assert_paytab_error(result, PaytabError::BatchLengthMismatch);
}

#[tokio::test]
async fn a_batch_with_an_escrow_in_place_of_an_allowance_is_rejected() {
    let mut s = BatchSetup::new(1).await;
    let delegate = s.delegate.insecure_clone();
    let escrow = s.payers[0].escrow;
    let vault = s.payers[0].vault;
    let entries = vec![(escrow, 0, 500)];

    let result = s.claim(&delegate, &entries, &[(escrow, vault)]).await;

    assert_paytab_error(result, PaytabError::InvalidAllowanceAccount);
}

#[tokio::test]
async fn an_expired_batch_attestation_is_rejected() {
    let mut s = BatchSetup::new(1).await;
    let entries = s.entries(|_| 500).await;
    let expires_at = s.h.now().await + 10;
    let message = BatchAttestation::encode(expires_at, &entries);
    let verify = ix::ed25519_verify(&s.delegate, &message);
    let claim = ix::claim_batch(&s.h, s.provider.token, &s.pairs());

    s.h.advance(11).await;
    let result = s.h.send(&[verify, claim], &[]).await;

    assert_paytab_error(result, PaytabError::ReceiptExpired);
}
