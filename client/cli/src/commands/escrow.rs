//! `paytab escrow …`, `paytab allow`, `paytab allowances`, `paytab reduce`,
//! `paytab revoke`, `paytab session-key …`: the owner's side of the program.

use std::sync::Arc;

use paytab::instructions::GrantAllowanceArgs;
use paytab::state::Allowance;
use paytab_client::program::PaytabProgram;
use paytab_client::wallet::{read_keypair, write_keypair};
use paytab_client::EscrowAccounts;
use paytab_protocol::amount::parse_units;
use paytab_protocol::clock::{parse_rfc3339, rfc3339, unix_now};
use serde_json::{json, Value};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::chain::{mint_info, tokens};
use crate::context::Context;
use crate::error::CliError;
use crate::output::emit;

/// The wallet, the program and the escrow accounts of one mint.
pub struct Owner {
    /// The owner's wallet.
    pub wallet: Arc<Keypair>,
    /// The paytab program, through anchor-client.
    pub program: PaytabProgram,
    /// The escrow's addresses and instruction builder.
    pub escrow: EscrowAccounts,
    /// The mint.
    pub mint: Pubkey,
    /// Its decimals.
    pub decimals: u8,
}

impl Owner {
    /// Loads the wallet and the mint (`--mint` or the network's USDC).
    pub async fn load(context: &Context, mint: Option<Pubkey>) -> Result<Self, CliError> {
        let wallet = Arc::new(context.wallet()?);
        let rpc = context.rpc();
        let mint = match mint {
            Some(mint) => mint,
            None => Context::default_mint(&context.network(&rpc).await?),
        };
        let (token_program, decimals) = mint_info(&rpc, &mint).await?;
        let escrow = EscrowAccounts::new(wallet.pubkey(), mint, token_program);
        let program = PaytabProgram::new(&context.rpc_url, wallet.clone())
            .map_err(|error| CliError::new(error.to_string()))?;
        Ok(Self {
            wallet,
            program,
            escrow,
            mint,
            decimals,
        })
    }

    fn amount(&self, text: &str) -> Result<u64, CliError> {
        Ok(parse_units(text, self.decimals)?)
    }

    fn tokens(&self, raw: u64) -> String {
        tokens(raw, self.decimals, &self.mint)
    }

    async fn escrow_state(&self) -> Result<Option<paytab::state::Escrow>, CliError> {
        self.program
            .escrow(self.escrow.escrow())
            .await
            .map_err(|error| CliError::new(format!("cannot read the escrow: {error}")))
    }

    async fn require_escrow(&self) -> Result<paytab::state::Escrow, CliError> {
        self.escrow_state().await?.ok_or_else(|| {
            CliError::new(format!(
                "no escrow for {} in mint {}",
                self.wallet.pubkey(),
                self.mint
            ))
            .hint("open one with `paytab escrow open --deposit 5`")
        })
    }

    async fn allowance(&self, provider: &Pubkey) -> Result<Option<Allowance>, CliError> {
        self.program
            .allowance(self.escrow.allowance(provider))
            .await
            .map_err(|error| CliError::new(format!("cannot read the allowance: {error}")))
    }

    async fn send(
        &self,
        instructions: Vec<solana_instruction::Instruction>,
    ) -> Result<String, CliError> {
        self.program
            .send(instructions)
            .await
            .map(|signature| signature.to_string())
            .map_err(|error| CliError::new(format!("the transaction failed: {error}")))
    }
}

/// `paytab escrow open`.
pub async fn open(
    context: &Context,
    owner: &Owner,
    deposit: &str,
    notice_secs: u32,
) -> Result<(), CliError> {
    if owner.escrow_state().await?.is_some() {
        return Err(CliError::new(format!(
            "the escrow {} is already open",
            owner.escrow.escrow()
        ))
        .hint("add funds with `paytab escrow deposit AMOUNT`"));
    }
    let amount = owner.amount(deposit)?;
    let mut instructions = vec![owner.escrow.open(notice_secs)];
    if amount > 0 {
        instructions.push(
            owner
                .escrow
                .deposit(owner.escrow.owner_token_account(), amount),
        );
    }
    let signature = owner.send(instructions).await?;
    emit(
        context,
        &json!({"escrow": owner.escrow.escrow().to_string(), "deposited": amount.to_string(), "signature": signature}),
        || {
            format!(
                "opened escrow {} with {} ({signature})",
                owner.escrow.escrow(),
                owner.tokens(amount)
            )
        },
    );
    Ok(())
}

/// `paytab escrow deposit` / `withdraw`.
pub async fn move_funds(
    context: &Context,
    owner: &Owner,
    amount: &str,
    deposit: bool,
) -> Result<(), CliError> {
    owner.require_escrow().await?;
    let raw = owner.amount(amount)?;
    let account = owner.escrow.owner_token_account();
    let instruction = if deposit {
        owner.escrow.deposit(account, raw)
    } else {
        owner.escrow.withdraw(account, raw)
    };
    let signature = owner.send(vec![instruction]).await?;
    let verb = if deposit { "deposited" } else { "withdrew" };
    emit(
        context,
        &json!({"escrow": owner.escrow.escrow().to_string(), verb: raw.to_string(), "signature": signature}),
        || format!("{verb} {} ({signature})", owner.tokens(raw)),
    );
    Ok(())
}

/// `paytab escrow status`.
pub async fn status(context: &Context, owner: &Owner) -> Result<(), CliError> {
    let escrow = owner.require_escrow().await?;
    let session = escrow.session_key.map(
        |key| json!({"key": key.to_string(), "expiresAt": rfc3339(escrow.session_expires_at)}),
    );
    emit(
        context,
        &json!({
            "escrow": owner.escrow.escrow().to_string(),
            "mint": owner.mint.to_string(),
            "funded": escrow.funded.to_string(),
            "committed": escrow.committed.to_string(),
            "free": escrow.free_balance().to_string(),
            "allowances": escrow.allowance_count,
            "noticeSecs": escrow.notice_secs,
            "sessionKey": session,
        }),
        || {
            let session = match escrow.session_key {
                Some(key) => format!("{key} until {}", rfc3339(escrow.session_expires_at)),
                None => "none".into(),
            };
            format!(
                "escrow       {}\nfunded       {}\ncommitted    {} to {} allowance(s)\nfree         {}\nnotice       {} s before a reduction takes effect\nsession key  {session}",
                owner.escrow.escrow(),
                owner.tokens(escrow.funded),
                owner.tokens(escrow.committed),
                escrow.allowance_count,
                owner.tokens(escrow.free_balance()),
                escrow.notice_secs,
            )
        },
    );
    Ok(())
}

/// What `paytab allow` grants.
pub struct AllowTerms<'a> {
    /// The provider paid.
    pub provider: Pubkey,
    /// Cap, in tokens.
    pub cap: &'a str,
    /// Spending per day, in tokens.
    pub per_day: Option<&'a str>,
    /// A custom period, seconds (with `limit`).
    pub period: Option<u32>,
    /// Spending per custom period, in tokens.
    pub limit: Option<&'a str>,
    /// Expiry: RFC 3339 or `+30d` / `+12h`.
    pub expires: Option<&'a str>,
    /// The facilitator key that may attest receipts.
    pub delegate: Pubkey,
}

/// `paytab allow`: grants an allowance, or raises an existing one.
pub async fn allow(
    context: &Context,
    owner: &Owner,
    terms: &AllowTerms<'_>,
) -> Result<(), CliError> {
    owner.require_escrow().await?;
    let cap = owner.amount(terms.cap)?;
    let (period_secs, period_limit) = match (terms.per_day, terms.period, terms.limit) {
        (Some(per_day), None, None) => (86_400, owner.amount(per_day)?),
        (None, Some(period), Some(limit)) if period > 0 => (period, owner.amount(limit)?),
        (None, None, None) => (0, 0),
        _ => {
            return Err(CliError::new(
                "give either --per-day AMOUNT, or --period SECONDS with --limit AMOUNT",
            ))
        }
    };
    let expires_at = match terms.expires {
        Some(text) => expiry(text)?,
        None => 0,
    };
    let (signature, action) = match owner.allowance(&terms.provider).await? {
        None => {
            let args = GrantAllowanceArgs {
                cap,
                period_secs,
                period_limit,
                expires_at,
                delegate: Some(terms.delegate),
            };
            (
                owner
                    .send(vec![owner.escrow.grant(&terms.provider, args)])
                    .await?,
                "granted",
            )
        }
        Some(existing) if cap > existing.cap => (
            owner
                .send(vec![owner.escrow.raise(&terms.provider, cap, expires_at)])
                .await?,
            "raised",
        ),
        Some(existing) => {
            return Err(CliError::new(format!(
                "{} already has an allowance of {}",
                terms.provider,
                owner.tokens(existing.cap)
            ))
            .hint("lower it with `paytab reduce PROVIDER --cap AMOUNT`"))
        }
    };
    emit(
        context,
        &json!({"allowance": owner.escrow.allowance(&terms.provider).to_string(), "cap": cap.to_string(), "action": action, "signature": signature}),
        || {
            format!(
                "{action}: {} may be paid up to {} ({signature})",
                terms.provider,
                owner.tokens(cap)
            )
        },
    );
    Ok(())
}

/// Unix seconds of `+30d`, `+12h`, `+90m` or an RFC 3339 instant.
fn expiry(text: &str) -> Result<i64, CliError> {
    if let Some(relative) = text.strip_prefix('+') {
        let (number, unit) = relative.split_at(relative.len().saturating_sub(1));
        let scale = match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            _ => 0,
        };
        if let (Ok(count), true) = (number.parse::<i64>(), scale > 0) {
            return Ok(unix_now().saturating_add(count.saturating_mul(scale)));
        }
    }
    parse_rfc3339(text).ok_or_else(|| {
        CliError::new(format!(
            "--expires `{text}` is neither +30d/+12h/+90m nor an RFC 3339 time"
        ))
    })
}

/// `paytab allowances`.
pub async fn list(context: &Context, owner: &Owner) -> Result<(), CliError> {
    owner.require_escrow().await?;
    let mut rows = owner
        .program
        .allowances_of_escrow(&owner.escrow.escrow())
        .await
        .map_err(|error| CliError::new(format!("cannot list allowances: {error}")))?;
    rows.sort_by_key(|(_, allowance)| allowance.provider.to_string());
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|(address, allowance)| {
            json!({
                "allowance": address.to_string(),
                "provider": allowance.provider.to_string(),
                "cap": allowance.cap.to_string(),
                "claimed": allowance.claimed.to_string(),
                "pendingCap": allowance.pending_cap.map(|cap| cap.to_string()),
                "delegate": allowance.delegate.map(|key| key.to_string()),
                "expiresAt": (allowance.expires_at > 0).then(|| rfc3339(allowance.expires_at)),
            })
        })
        .collect();
    emit(context, &Value::Array(json_rows), || {
        if rows.is_empty() {
            return "no allowances (grant one with `paytab allow PROVIDER --cap AMOUNT --delegate KEY`)".into();
        }
        rows.iter()
            .map(|(_, allowance)| {
                let pending = allowance
                    .pending_cap
                    .map(|cap| format!(", reducing to {}", owner.tokens(cap)))
                    .unwrap_or_default();
                format!(
                    "{}  cap {}  claimed {}{pending}",
                    allowance.provider,
                    owner.tokens(allowance.cap),
                    owner.tokens(allowance.claimed)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// `paytab reduce` (`cap = 0` revokes).
pub async fn reduce(
    context: &Context,
    owner: &Owner,
    provider: &Pubkey,
    cap: u64,
) -> Result<(), CliError> {
    let Some(allowance) = owner.allowance(provider).await? else {
        return Err(CliError::new(format!("no allowance for {provider}")));
    };
    if cap >= allowance.cap {
        return Err(CliError::new(format!(
            "the cap is already {}; raise it with `paytab allow`",
            owner.tokens(allowance.cap)
        )));
    }
    let signature = owner.send(vec![owner.escrow.reduce(provider, cap)]).await?;
    let escrow = owner.require_escrow().await?;
    let action = if cap == 0 { "revoked" } else { "reduced" };
    emit(
        context,
        &json!({"provider": provider.to_string(), "cap": cap.to_string(), "action": action, "noticeSecs": escrow.notice_secs, "signature": signature}),
        || {
            format!(
            "{action}: {provider} to {}; takes effect after the escrow's notice of {} s ({signature})",
            owner.tokens(cap),
            escrow.notice_secs
        )
        },
    );
    Ok(())
}

/// `paytab session-key create`: a receipt signer for an agent, kept in its own file.
pub async fn session_key_create(
    context: &Context,
    owner: &Owner,
    expires: &str,
) -> Result<(), CliError> {
    owner.require_escrow().await?;
    let expires_at = expiry(expires)?;
    let path = context.session_key_path(&owner.wallet.pubkey());
    // The new key replaces the old file only once the chain has it.
    let pending = path.with_extension("pending.json");
    let _ = std::fs::remove_file(&pending);
    let session = Keypair::new();
    write_keypair(&pending, &session)?;
    let signature = owner
        .send(vec![owner
            .escrow
            .set_session_key(session.pubkey(), expires_at)])
        .await?;
    std::fs::rename(&pending, &path)?;
    emit(
        context,
        &json!({"sessionKey": session.pubkey().to_string(), "file": path.display().to_string(), "expiresAt": rfc3339(expires_at), "signature": signature}),
        || {
            format!(
                "session key {} until {} in {} ({signature})",
                session.pubkey(),
                rfc3339(expires_at),
                path.display()
            )
        },
    );
    Ok(())
}

/// `paytab session-key revoke`.
pub async fn session_key_revoke(context: &Context, owner: &Owner) -> Result<(), CliError> {
    let escrow = owner.require_escrow().await?;
    if escrow.session_key.is_none() {
        return Err(CliError::new("this escrow has no session key"));
    }
    let signature = owner.send(vec![owner.escrow.clear_session_key()]).await?;
    let path = context.session_key_path(&owner.wallet.pubkey());
    if let Ok(session) = read_keypair(&path) {
        if Some(session.pubkey()) == escrow.session_key {
            let _ = std::fs::remove_file(&path);
        }
    }
    emit(
        context,
        &json!({"revoked": true, "signature": signature}),
        || format!("session key revoked ({signature})"),
    );
    Ok(())
}
