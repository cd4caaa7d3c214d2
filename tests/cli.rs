//! The `paytab` binary end to end: every command run as a process against the
//! embedded localnet, with a real facilitator and gateway in front of a sample
//! API (the same in-process world `paytab demo` uses).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use paytab_cli::world::{World, QUOTE_PRICE};

use serde_json::Value;
use solana_signer::Signer;

#[path = "cli_catalog.rs"]
mod catalog;
#[path = "cli_mcp.rs"]
mod mcp;
#[path = "cli_mcp_upstream.rs"]
mod mcp_upstream;

/// One user of the CLI: a home directory, a wallet file, an RPC URL.
struct User {
    home: tempfile::TempDir,
    rpc_url: String,
    /// More environment for every command.
    env: Vec<(&'static str, String)>,
}

impl User {
    fn new(world: &World) -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            rpc_url: world.localnet.rpc_url(),
            env: Vec::new(),
        }
    }

    /// Another ledger and policy, the same wallet (a second device).
    fn second_device(&self) -> Self {
        let user = Self {
            home: tempfile::tempdir().unwrap(),
            rpc_url: self.rpc_url.clone(),
            env: self.env.clone(),
        };
        std::fs::copy(self.keypair(), user.keypair()).unwrap();
        user
    }

    fn keypair(&self) -> PathBuf {
        self.home.path().join("id.json")
    }

    fn paytab_home(&self) -> PathBuf {
        self.home.path().join("paytab")
    }

    /// Runs `paytab ARGS` with this user's settings and no terminal.
    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_paytab"))
            .args(args)
            .env("PAYTAB_RPC_URL", &self.rpc_url)
            .env("PAYTAB_KEYPAIR", self.keypair())
            .env("PAYTAB_HOME", self.paytab_home())
            .env("HOME", self.home.path())
            .envs(self.env.iter().map(|(name, value)| (*name, value)))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap()
    }

    /// Runs and expects success; returns standard output.
    async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "paytab {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs with `--json` and parses the answer.
    async fn json(&self, args: &[&str]) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with_json).await).unwrap()
    }

    /// Runs, expects failure, and returns standard error.
    async fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            !output.status.success(),
            "paytab {args:?} should have failed"
        );
        String::from_utf8(output.stderr).unwrap()
    }

    /// A wallet with SOL and 10 USDC, an escrow of 5 USDC and an allowance of
    /// 1 USDC for the world's provider.
    async fn funded_with_allowance(world: &World) -> Self {
        let user = Self::new(world);
        user.ok(&["wallet", "create"]).await;
        user.ok(&["faucet", "--sol", "1", "--usdc", "10"]).await;
        user.ok(&["escrow", "open", "--deposit", "5"]).await;
        let provider = world.provider.pubkey().to_string();
        let delegate = world.facilitator_key.pubkey().to_string();
        user.ok(&["allow", &provider, "--cap", "1", "--delegate", &delegate])
            .await;
        user
    }
}

fn history_len(history: &Value) -> usize {
    history.as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_to_completion_and_its_balances_add_up() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_paytab"))
        .arg("demo")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "[9/9] Final balances",
        "published    quotes (4 endpoints, each answered as listed)",
        "found        http://127.0.0.1:",
        "paid 0.01 USDC via escrow",
        "paid 0.01 USDC via exact",
        "paid 0.01 USDC via mpp",
        "refused, nothing paid",
        "claimed      0.03 USDC in 1 transaction(s)",
        "payer wallet   4.98 USDC",
        "Done.",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_wallet_opens_an_escrow_allows_a_provider_and_pays_a_call_by_receipt() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;

    let wallet = user.json(&["wallet"]).await;
    assert_eq!(wallet["tokens"], "5000000", "10 minted, 5 deposited");
    let status = user.json(&["escrow", "status"]).await;
    assert_eq!(status["funded"], "5000000");
    assert_eq!(status["committed"], "1000000");
    assert_eq!(status["free"], "4000000");
    let allowances = user.json(&["allowances"]).await;
    assert_eq!(
        allowances[0]["provider"],
        world.provider.pubkey().to_string()
    );
    assert_eq!(allowances[0]["cap"], "1000000");

    let body = user.ok(&["curl", &world.url("/v1/quotes/SOL")]).await;
    assert!(body.contains("\"symbol\":\"SOL\""), "{body}");
    let history = user.json(&["history"]).await;
    assert_eq!(history_len(&history), 1);
    assert_eq!(history[0]["scheme"], "escrow");
    assert_eq!(history[0]["amount"], QUOTE_PRICE);
    assert!(history[0]["proof"].as_str().is_some(), "the proof is kept");
    let text = user.ok(&["history"]).await;
    assert!(text.contains("0.01  escrow"), "{text}");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_pays_by_exact_or_mpp_when_told_and_dry_run_pays_nothing() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    let url = world.url("/v1/quotes/BTC");

    let price = user.json(&["curl", "--dry-run", &url]).await;
    assert_eq!(price["amount"], QUOTE_PRICE.to_string());
    assert_eq!(price["scheme"], "escrow", "the cheapest usable option");
    let text = user.ok(&["curl", "--dry-run", &url]).await;
    assert!(
        text.contains("costs 0.01") && text.contains("nothing was paid"),
        "{text}"
    );
    for offer in ["escrow: 0.01 of", "exact: 0.01 of", "mpp: 0.01 of"] {
        assert!(text.contains(offer), "each offer in tokens: {text}");
    }
    assert_eq!(history_len(&user.json(&["history"]).await), 0);

    for scheme in ["exact", "mpp"] {
        let answer = user.json(&["curl", "--scheme", scheme, &url]).await;
        assert_eq!(answer["status"], 200);
        assert_eq!(answer["payment"]["scheme"], scheme);
        let reference = answer["payment"]["reference"].as_str().unwrap();
        assert!(reference.len() > 80, "a transaction signature: {reference}");
    }
    let wallet = user.json(&["wallet"]).await;
    assert_eq!(wallet["tokens"], (5_000_000 - 2 * QUOTE_PRICE).to_string());
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_refuses_over_max_over_budget_denied_hosts_and_unconfirmed_payments() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    let url = world.url("/v1/quotes/SOL");
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();

    let refused = user.fails(&["curl", &world.url("/v1/report")]).await;
    assert!(refused.contains("max_per_request of 1"), "{refused}");

    user.ok(&["policy", "set", "daily_budget_per_host", "0.015"])
        .await;
    user.ok(&["curl", &url]).await;
    let refused = user.fails(&["curl", &url]).await;
    assert!(
        refused.contains("over the daily budget of 0.015"),
        "{refused}"
    );
    user.ok(&["policy", "set", "daily_budget_per_host", "10"])
        .await;

    user.ok(&["policy", "set", "deny_hosts", &host]).await;
    let refused = user.fails(&["curl", &url]).await;
    assert!(refused.contains("deny list"), "{refused}");
    user.ok(&["policy", "set", "deny_hosts", ""]).await;

    user.ok(&["policy", "set", "confirm_above", "0.001"]).await;
    let refused = user.fails(&["curl", &url]).await;
    assert!(
        refused.contains("confirmation needs a terminal"),
        "{refused}"
    );

    let bad = user
        .fails(&["policy", "set", "max_per_request", "lots"])
        .await;
    assert!(bad.contains("not an amount"), "{bad}");
    let policy = user.json(&["policy", "show"]).await;
    assert_eq!(
        policy["policy"]["max_per_request"], "1",
        "a refused value changes nothing"
    );
    assert_eq!(
        history_len(&user.json(&["history"]).await),
        1,
        "only the first call paid"
    );
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_receipt_counter_on_a_second_device_resyncs_from_the_facilitator() {
    let world = World::start().await.unwrap();
    let first = User::funded_with_allowance(&world).await;
    let url = world.url("/v1/quotes/ETH");
    first.ok(&["curl", &url]).await;
    first.ok(&["curl", &url]).await;

    let second = first.second_device();
    let answer = second.json(&["curl", &url]).await;
    assert_eq!(answer["status"], 200);
    let reference = answer["payment"]["reference"].as_str().unwrap();
    assert!(
        reference.ends_with(&format!(":{}", 3 * QUOTE_PRICE)),
        "{reference}"
    );
    // And the first device, now behind, catches up the same way.
    let answer = first.json(&["curl", &url]).await;
    assert!(answer["payment"]["reference"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{}", 4 * QUOTE_PRICE)));
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_reduces_revokes_withdraws_and_delegates_to_a_session_key() {
    let world = World::start().await.unwrap();
    let user = User::funded_with_allowance(&world).await;
    let provider = world.provider.pubkey().to_string();

    user.ok(&["reduce", &provider, "--cap", "0.5"]).await;
    let allowances = user.json(&["allowances"]).await;
    assert_eq!(allowances[0]["pendingCap"], "500000");
    let raised = user
        .json(&[
            "allow",
            &provider,
            "--cap",
            "2",
            "--delegate",
            &world.facilitator_key.pubkey().to_string(),
        ])
        .await;
    assert_eq!(raised["action"], "raised");
    user.ok(&["revoke", &provider]).await;
    assert_eq!(user.json(&["allowances"]).await[0]["pendingCap"], "0");
    let refused = user
        .fails(&["curl", &world.url("/v1/quotes/SOL"), "--scheme", "escrow"])
        .await;
    assert!(refused.contains("being revoked"), "{refused}");

    user.ok(&["escrow", "deposit", "0.5"]).await;
    assert_eq!(user.json(&["escrow", "status"]).await["funded"], "5500000");
    user.ok(&["escrow", "withdraw", "1.5"]).await;
    assert_eq!(user.json(&["escrow", "status"]).await["funded"], "4000000");
    let too_much = user.fails(&["escrow", "withdraw", "100"]).await;
    assert!(too_much.contains("the transaction failed"), "{too_much}");

    let session = user
        .json(&["session-key", "create", "--expires", "+2h"])
        .await;
    let file = Path::new(session["file"].as_str().unwrap()).to_path_buf();
    assert!(file.exists());
    let status = user.json(&["escrow", "status"]).await;
    assert_eq!(status["sessionKey"]["key"], session["sessionKey"]);
    // An agent holding only the session key pays from the owner's escrow.
    user.ok(&[
        "allow",
        &provider,
        "--cap",
        "3",
        "--delegate",
        &world.facilitator_key.pubkey().to_string(),
    ])
    .await;
    let owner = user.json(&["wallet"]).await["address"]
        .as_str()
        .unwrap()
        .to_string();
    let agent = User::new(&world);
    std::fs::copy(&file, agent.keypair()).unwrap();
    let paid = agent
        .json(&[
            "curl",
            "--scheme",
            "escrow",
            "--owner",
            &owner,
            &world.url("/v1/quotes/SOL"),
        ])
        .await;
    assert_eq!(paid["status"], 200);
    assert_eq!(paid["payment"]["scheme"], "escrow");
    user.ok(&["session-key", "revoke"]).await;
    assert!(user.json(&["escrow", "status"]).await["sessionKey"].is_null());
    assert!(!file.exists(), "the revoked key's file is removed");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_a_hint() {
    let world = World::start().await.unwrap();
    let user = User::new(&world);
    let missing = user.fails(&["wallet"]).await;
    assert!(
        missing.contains("no wallet at") && missing.contains("hint: create one"),
        "{missing}"
    );
    user.ok(&["wallet", "create"]).await;
    let again = user.fails(&["wallet", "create"]).await;
    assert!(again.contains("never overwrites"), "{again}");
    let no_escrow = user.fails(&["escrow", "status"]).await;
    assert!(no_escrow.contains("paytab escrow open"), "{no_escrow}");
    let bad_amount = user.fails(&["faucet", "--usdc", "ten"]).await;
    assert!(
        bad_amount.contains("`ten` is not an amount"),
        "{bad_amount}"
    );
    let bad_url = user.fails(&["curl", "not a url"]).await;
    assert!(bad_url.contains("is not a URL"), "{bad_url}");
    let no_allowance = user
        .fails(&["curl", "--scheme", "escrow", &world.url("/v1/quotes/SOL")])
        .await;
    assert!(
        no_allowance.contains("no allowance for") && no_allowance.contains("hint:"),
        "{no_allowance}"
    );
    let offline = User {
        home: tempfile::tempdir().unwrap(),
        rpc_url: "http://127.0.0.1:9".into(),
        env: Vec::new(),
    };
    std::fs::copy(user.keypair(), offline.keypair()).unwrap();
    let unreachable = offline.fails(&["wallet"]).await;
    assert!(
        unreachable.contains("cannot reach the Solana RPC")
            && unreachable.contains("paytab localnet"),
        "{unreachable}"
    );
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_route_signs_in_with_the_wallet_and_pays_nothing() {
    let world = World::start().await.unwrap();
    let user = User::new(&world);
    user.ok(&["wallet", "create"]).await;
    let url = world.url("/v1/account");
    let dry = user.ok(&["curl", "--dry-run", &url]).await;
    assert!(
        dry.contains("asks you to sign in") && dry.contains("nothing would be paid"),
        "{dry}"
    );

    let output = user.run(&["curl", &url]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("signed in as") && stderr.contains("nothing was paid"),
        "{stderr}"
    );
    let address = user.json(&["wallet"]).await["address"].clone();
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["signedIn"], address);
    assert_eq!(history_len(&user.json(&["history"]).await), 0);
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_sees_what_receipts_owe_it_and_has_them_claimed() {
    let world = World::start().await.unwrap();
    let payer = User::funded_with_allowance(&world).await;
    for symbol in ["SOL", "BTC", "ETH"] {
        payer
            .ok(&["curl", &world.url(&format!("/v1/quotes/{symbol}"))])
            .await;
    }
    let mut provider = User::new(&world);
    paytab_client::wallet::write_keypair(&provider.keypair(), &world.provider).unwrap();
    let facilitator = world.facilitator.url();
    let refused = provider
        .run(&["provider", "claim", "--facilitator", &facilitator])
        .await;
    assert!(!refused.status.success(), "claims are the operator's");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PAYTAB_OPERATOR_TOKEN"));
    provider
        .env
        .push(("PAYTAB_OPERATOR_TOKEN", world.operator_token.clone()));

    let before = provider
        .json(&["provider", "earnings", "--facilitator", &facilitator])
        .await;
    assert_eq!(before["allowances"], 1);
    assert_eq!(before["claimed"], "0");
    assert_eq!(before["unclaimed"], (3 * QUOTE_PRICE).to_string());
    let claimed = provider
        .json(&["provider", "claim", "--facilitator", &facilitator])
        .await;
    assert_eq!(claimed["round"]["paid"], (3 * QUOTE_PRICE).to_string());
    assert_eq!(claimed["owedAfter"], "0");
    let after = provider
        .json(&["provider", "earnings", "--facilitator", &facilitator])
        .await;
    assert_eq!(after["claimed"], (3 * QUOTE_PRICE).to_string());
    assert_eq!(after["unclaimed"], "0");
    assert_eq!(after["balance"], (1 + 3 * QUOTE_PRICE).to_string());
    let text = provider.ok(&["provider", "earnings"]).await;
    assert!(text.contains("claimed      0.03 USDC"), "{text}");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paytab_localnet_serves_a_chain_that_the_other_commands_use() {
    use tokio::io::AsyncBufReadExt;
    let mut localnet = tokio::process::Command::new(env!("CARGO_BIN_EXE_paytab"))
        .args([
            "--json",
            "localnet",
            "--bind",
            "127.0.0.1:0",
            "--slot-ms",
            "50",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = localnet.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let info: Value = serde_json::from_str(&first).unwrap();
    let user = User {
        home: tempfile::tempdir().unwrap(),
        rpc_url: info["rpcUrl"].as_str().unwrap().to_string(),
        env: Vec::new(),
    };
    user.ok(&["wallet", "create"]).await;
    user.ok(&["faucet", "--sol", "2", "--usdc", "3.5"]).await;
    let wallet = user.json(&["wallet"]).await;
    assert_eq!(wallet["lamports"], 2_000_000_000u64);
    assert_eq!(wallet["tokens"], "3500000");
    assert_eq!(wallet["mint"], info["usdcMint"]);
    localnet.kill().await.unwrap();
}
