//! Which allowances go in which claim transaction: those whose addresses
//! the lookup tables serve (ordered by table) and those they do not yet.

use std::collections::{HashMap, HashSet};

use solana_message::AddressLookupTableAccount;
use solana_pubkey::Pubkey;

use super::transactions::entry_addresses;
use crate::store::Unclaimed;

/// Splits `entries` into those whose allowance and vault `tables` both hold
/// (ordered by table, so that a batch needs few tables) and the rest.
pub(super) fn by_table(
    entries: Vec<Unclaimed>,
    tables: &[AddressLookupTableAccount],
) -> (Vec<Unclaimed>, Vec<Unclaimed>) {
    let index: HashMap<Pubkey, usize> = tables
        .iter()
        .enumerate()
        .flat_map(|(at, table)| table.addresses.iter().map(move |address| (*address, at)))
        .collect();
    let (mut covered, rest): (Vec<_>, Vec<_>) = entries.into_iter().partition(|entry| {
        index.contains_key(&entry.allowance) && index.contains_key(&entry.vault)
    });
    covered.sort_by_key(|entry| index.get(&entry.allowance).copied());
    (covered, rest)
}

/// The tables among `tables` holding any address of `entries`.
pub(super) fn tables_holding(
    entries: &[Unclaimed],
    tables: &[AddressLookupTableAccount],
) -> Vec<AddressLookupTableAccount> {
    let needed: HashSet<Pubkey> = entry_addresses(entries).collect();
    tables
        .iter()
        .filter(|table| {
            table
                .addresses
                .iter()
                .any(|address| needed.contains(address))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Unclaimed {
        Unclaimed {
            allowance: Pubkey::new_unique(),
            generation: 1,
            accepted: 10,
            claimed: 0,
            escrow: Pubkey::new_unique(),
            provider: Pubkey::new_unique(),
            mint: Pubkey::new_unique(),
            vault: Pubkey::new_unique(),
        }
    }

    #[test]
    fn an_allowance_whose_addresses_are_not_active_in_any_table_is_claimed_legacy() {
        let (held, half, absent) = (entry(), entry(), entry());
        // A table as usable now: the allowance of `half` is active, its vault not yet.
        let table = AddressLookupTableAccount {
            key: Pubkey::new_unique(),
            addresses: vec![held.allowance, held.vault, half.allowance],
        };
        let (covered, rest) = by_table(vec![held, half, absent], &[table]);
        assert_eq!(covered, [held]);
        assert_eq!(rest, [half, absent]);
    }

    #[test]
    fn a_batch_names_only_the_tables_holding_its_addresses() {
        let (one, two) = (entry(), entry());
        let tables = [
            AddressLookupTableAccount {
                key: Pubkey::new_unique(),
                addresses: vec![one.allowance, one.vault],
            },
            AddressLookupTableAccount {
                key: Pubkey::new_unique(),
                addresses: vec![two.allowance, two.vault],
            },
        ];
        let used = tables_holding(&[two], &tables);
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].key, tables[1].key);
    }
}
