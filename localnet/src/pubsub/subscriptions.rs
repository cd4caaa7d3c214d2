//! One connection's subscriptions and what each sends when the chain moves:
//! a validator's notification shapes, at the commitment each asked for.
//!
//! Commitment follows the localnet's rule: a transaction is `processed` in its
//! slot, `confirmed` one slot later and `finalized` four slots later.
//! Signature and logs notifications wait for the commitment asked for;
//! account and program notifications come when the slot that changed the
//! account closes (the localnet keeps no older bank to read from).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{json, Value};
use solana_account::{AccountSharedData, ReadableAccount};
use solana_account_decoder::{encode_ui_account, UiAccountEncoding};
use solana_commitment_config::CommitmentLevel;
use solana_pubkey::Pubkey;
use solana_rpc_client_types::filter::RpcFilterType;
use solana_signature::Signature;
use solana_transaction_error::TransactionError;

use crate::chain::{Chain, ChainEvent};

/// Depth at which a slot's work counts as finalized.
const FINALIZED_DEPTH: u64 = 4;

/// Slots after `slot` that `commitment` waits for.
fn depth(commitment: CommitmentLevel) -> u64 {
    match commitment {
        CommitmentLevel::Processed => 0,
        CommitmentLevel::Confirmed => 1,
        CommitmentLevel::Finalized => FINALIZED_DEPTH,
    }
}

/// Options most subscriptions take.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// The commitment notifications wait for (finalized by default).
    pub commitment: Option<CommitmentLevel>,
    /// How account data is encoded.
    pub encoding: Option<UiAccountEncoding>,
    /// `programSubscribe` filters.
    pub filters: Option<Vec<RpcFilterType>>,
    /// `signatureSubscribe`: also say when the transaction was received.
    pub enable_received_notification: Option<bool>,
}

impl Options {
    fn commitment(&self) -> CommitmentLevel {
        self.commitment.unwrap_or(CommitmentLevel::Finalized)
    }
}

/// Which transactions `logsSubscribe` wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogsFilter {
    /// All (`"all"`, `"allWithVotes"`: there are no votes here).
    All,
    /// Those naming this account.
    Mentions(Pubkey),
}

/// One subscription.
pub enum Subscription {
    /// `signatureSubscribe`: one notification, then it ends.
    Signature {
        signature: Signature,
        commitment: CommitmentLevel,
    },
    /// `accountSubscribe`.
    Account {
        address: Pubkey,
        encoding: UiAccountEncoding,
        last: Option<AccountSharedData>,
    },
    /// `programSubscribe`.
    Program {
        program: Pubkey,
        encoding: UiAccountEncoding,
        filters: Vec<RpcFilterType>,
        last: HashMap<Pubkey, AccountSharedData>,
    },
    /// `slotSubscribe`.
    Slot,
    /// `rootSubscribe`.
    Root,
    /// `logsSubscribe`: pending logs wait for their commitment.
    Logs {
        filter: LogsFilter,
        commitment: CommitmentLevel,
        pending: BTreeMap<u64, Vec<Value>>,
    },
}

/// A notification: its method and `result`.
pub struct Notification {
    /// e.g. `signatureNotification`.
    pub method: &'static str,
    /// The `params.result` value.
    pub result: Value,
    /// Whether the subscription ends with it.
    pub last: bool,
}

fn with_context(slot: u64, value: Value) -> Value {
    json!({"context": {"slot": slot}, "value": value})
}

fn encode(address: &Pubkey, account: &AccountSharedData, encoding: UiAccountEncoding) -> Value {
    serde_json::to_value(encode_ui_account(address, account, encoding, None, None))
        .unwrap_or(Value::Null)
}

impl Subscription {
    /// A signature subscription, answered at once if its transaction already
    /// reached the commitment (and said received when asked).
    pub fn signature(
        chain: &Chain,
        signature: Signature,
        options: &Options,
    ) -> (Self, Vec<Notification>) {
        let subscription = Self::Signature {
            signature,
            commitment: options.commitment(),
        };
        let mut now = Vec::new();
        if options.enable_received_notification == Some(true)
            && chain.transaction(&signature).is_some()
        {
            now.push(Notification {
                method: "signatureNotification",
                result: with_context(chain.bank().slot(), json!("receivedSignature")),
                last: false,
            });
        }
        now.extend(subscription.check_signature(chain));
        (subscription, now)
    }

    /// An account subscription, remembering the account as it is now.
    pub fn account(chain: &Chain, address: Pubkey, options: &Options) -> Self {
        Self::Account {
            address,
            encoding: options.encoding.unwrap_or(UiAccountEncoding::Base64),
            last: chain.bank().get_account(&address),
        }
    }

    /// A program subscription, remembering the program's accounts as they are now.
    pub fn program(chain: &Chain, program: Pubkey, options: &Options) -> Self {
        let filters = options.filters.clone().unwrap_or_default();
        let last = program_accounts(chain, &program, &filters);
        Self::Program {
            program,
            encoding: options.encoding.unwrap_or(UiAccountEncoding::Base64),
            filters,
            last,
        }
    }

    /// A logs subscription.
    pub fn logs(filter: LogsFilter, options: &Options) -> Self {
        Self::Logs {
            filter,
            commitment: options.commitment(),
            pending: BTreeMap::new(),
        }
    }

    /// What this subscription sends on `event`.
    pub fn on_event(&mut self, chain: &Chain, event: &ChainEvent) -> Vec<Notification> {
        match (self, event) {
            (subscription @ Self::Signature { .. }, _) => {
                subscription.check_signature(chain).into_iter().collect()
            }
            (Self::Slot, ChainEvent::Slot { slot, parent, root }) => vec![Notification {
                method: "slotNotification",
                result: json!({"parent": parent, "root": root, "slot": slot}),
                last: false,
            }],
            (Self::Root, ChainEvent::Slot { root, .. }) => vec![Notification {
                method: "rootNotification",
                result: json!(root),
                last: false,
            }],
            (
                Self::Logs {
                    filter,
                    commitment,
                    pending,
                },
                event,
            ) => logs_on_event(filter, *commitment, pending, event),
            (
                Self::Account {
                    address,
                    encoding,
                    last,
                    ..
                },
                ChainEvent::Slot { slot, .. },
            ) => {
                // Reads see the newest state: a change shows when its slot closes.
                let now = chain.bank().get_account(address);
                if now == *last {
                    return Vec::new();
                }
                *last = now.clone();
                let value = now.map_or(Value::Null, |account| encode(address, &account, *encoding));
                vec![Notification {
                    method: "accountNotification",
                    result: with_context(slot.saturating_sub(1), value),
                    last: false,
                }]
            }
            (
                Self::Program {
                    program,
                    encoding,
                    filters,
                    last,
                },
                ChainEvent::Slot { slot, .. },
            ) => {
                let now = program_accounts(chain, program, filters);
                let changed: Vec<Notification> = now
                    .iter()
                    .filter(|(address, account)| last.get(*address) != Some(*account))
                    .map(|(address, account)| Notification {
                        method: "programNotification",
                        result: with_context(
                            slot.saturating_sub(1),
                            json!({"pubkey": address.to_string(), "account": encode(address, account, *encoding)}),
                        ),
                        last: false,
                    })
                    .collect();
                *last = now;
                changed
            }
            _ => Vec::new(),
        }
    }

    /// For a signature subscription: its one notification, once the
    /// transaction reached the commitment.
    pub fn check_signature(&self, chain: &Chain) -> Option<Notification> {
        let Self::Signature {
            signature,
            commitment,
        } = self
        else {
            return None;
        };
        let stored = chain.transaction(signature)?;
        let current = chain.bank().slot();
        if current < stored.slot.saturating_add(depth(*commitment)) {
            return None;
        }
        Some(Notification {
            method: "signatureNotification",
            result: with_context(current, json!({"err": stored.meta.status.clone().err()})),
            last: true,
        })
    }
}

/// Logs of processed transactions, released once deep enough.
fn logs_on_event(
    filter: &LogsFilter,
    commitment: CommitmentLevel,
    pending: &mut BTreeMap<u64, Vec<Value>>,
    event: &ChainEvent,
) -> Vec<Notification> {
    let current = match event {
        ChainEvent::Processed {
            signature,
            slot,
            err,
            logs,
            accounts,
        } => {
            let wanted = match filter {
                LogsFilter::All => true,
                LogsFilter::Mentions(address) => accounts.contains(address),
            };
            if wanted {
                pending.entry(*slot).or_default().push(json!({
                    "signature": signature.to_string(),
                    "err": err.as_ref().map(transaction_error),
                    "logs": logs,
                }));
            }
            *slot
        }
        ChainEvent::Slot { slot, .. } => *slot,
    };
    let ready: Vec<u64> = pending
        .keys()
        .copied()
        .filter(|slot| current >= slot.saturating_add(depth(commitment)))
        .collect();
    let mut notifications = Vec::new();
    for slot in ready {
        for value in pending.remove(&slot).unwrap_or_default() {
            notifications.push(Notification {
                method: "logsNotification",
                result: with_context(slot, value),
                last: false,
            });
        }
    }
    notifications
}

fn transaction_error(error: &TransactionError) -> Value {
    serde_json::to_value(error).unwrap_or(Value::Null)
}

fn program_accounts(
    chain: &Chain,
    program: &Pubkey,
    filters: &[RpcFilterType],
) -> HashMap<Pubkey, AccountSharedData> {
    let keep = |account: &AccountSharedData| {
        filters.iter().all(|filter| match filter {
            RpcFilterType::DataSize(size) => account.data().len() as u64 == *size,
            RpcFilterType::Memcmp(compare) => compare.bytes_match(account.data()),
            RpcFilterType::TokenAccountState => true,
        })
    };
    chain
        .bank()
        .get_filtered_program_accounts(program, keep, &Default::default())
        .map(|accounts| accounts.into_iter().collect())
        .unwrap_or_default()
}
