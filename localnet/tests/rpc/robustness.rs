//! Malformed and hostile JSON-RPC, and the chain's identity across restarts.

use std::time::Duration;

use paytab_localnet::{Localnet, LocalnetConfig};
use serde_json::{json, Value};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;

use crate::net::*;

#[tokio::test]
async fn malformed_json_rpc_gets_standard_error_objects() {
    let net = Net::start().await;

    let (_, bad_json) = net.raw_text("{not json").await;
    assert_eq!(bad_json["error"]["code"], -32700);
    let (_, unknown) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":3,"method":"getBlockProduction"}"#)
        .await;
    assert_eq!(
        (unknown["error"]["code"].clone(), unknown["id"].clone()),
        (json!(-32601), json!(3))
    );
    let (_, no_method) = net.raw_text(r#"{"jsonrpc":"2.0","id":4}"#).await;
    assert_eq!(no_method["error"]["code"], -32600);
    let (_, wrong_params) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":5,"method":"getBalance","params":["not-an-address"]}"#)
        .await;
    assert_eq!(wrong_params["error"]["code"], -32602);
    let (_, params_object) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":6,"method":"getBalance","params":{"a":1}}"#)
        .await;
    assert_eq!(params_object["error"]["code"], -32602);
    let (_, garbage_tx) = net.raw_text(r#"{"jsonrpc":"2.0","id":7,"method":"sendTransaction","params":["AAAA",{"encoding":"base64"}]}"#).await;
    assert_eq!(garbage_tx["error"]["code"], -32602);
    let (_, batch) = net.raw_text(r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","id":2,"method":"nope"}]"#).await;
    assert!(batch[0]["result"].is_u64() && batch[1]["error"]["code"] == -32601);
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":8,"method":"getSlot","params":["{}"]}}"#,
        "x".repeat(100 * 1024)
    );
    let (status, oversized) = net.raw_text(&huge).await;
    assert_eq!(
        (status, oversized["error"]["code"].clone()),
        (413, json!(-32600))
    );

    assert!(net.rpc.get_slot().await.is_ok(), "the server is still up");
}

#[tokio::test]
async fn every_method_answers_hostile_parameters_with_a_json_rpc_error_and_never_drops_the_connection(
) {
    let net = Net::start().await;
    let methods = [
        "getVersion",
        "getHealth",
        "getGenesisHash",
        "getSlot",
        "getBlockHeight",
        "getEpochInfo",
        "getLatestBlockhash",
        "isBlockhashValid",
        "getFeeForMessage",
        "getMinimumBalanceForRentExemption",
        "getBalance",
        "getAccountInfo",
        "getMultipleAccounts",
        "getProgramAccounts",
        "getTokenAccountBalance",
        "getTokenAccountsByOwner",
        "sendTransaction",
        "simulateTransaction",
        "getSignatureStatuses",
        "getTransaction",
        "requestAirdrop",
        "paytab_requestUsdc",
    ];
    let hostile = [
        json!([18_446_744_073_709_551_615u64]),
        json!([-1]),
        json!([1e308]),
        json!([
            "11111111111111111111111111111111",
            18_446_744_073_709_551_615u64
        ]),
        json!(["11111111111111111111111111111111", {"encoding": "jsonParsed", "dataSlice": {"offset": 18_446_744_073_709_551_615u64, "length": 18_446_744_073_709_551_615u64}}]),
        json!(["TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", {"filters": [{"dataSize": 18_446_744_073_709_551_615u64}, {"memcmp": {"offset": 18_446_744_073_709_551_615u64, "bytes": "1"}}]}]),
        json!([["x"]]),
        json!([{"nested": [[[[[[[[[[[]]]]]]]]]]]}]),
        json!(["", "", "", ""]),
        json!([null, null]),
        json!([true]),
        json!([std::iter::repeat_n("11111111111111111111111111111111", 500).collect::<Vec<_>>()]),
        json!(["AQ==", {"encoding": "base64", "replaceRecentBlockhash": true, "sigVerify": true}]),
    ];
    for method in methods {
        for params in &hostile {
            let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
            let response = reqwest::Client::new()
                .post(net.localnet.rpc_url())
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|error| {
                    panic!("{method} {params}: the connection dropped: {error}")
                });
            let answer: Value = response.json().await.unwrap();
            assert!(
                answer["result"].is_null() != answer["error"].is_null(),
                "{method} {params}: {answer}"
            );
            assert_eq!(answer["id"], 9, "{method} {params}: {answer}");
        }
    }
    let (_, rent) = net
        .raw_text(r#"{"jsonrpc":"2.0","id":1,"method":"getMinimumBalanceForRentExemption","params":[18446744073709551615]}"#)
        .await;
    assert_eq!(rent["error"]["code"], -32602, "{rent}");
    assert!(net.rpc.get_slot().await.is_ok(), "the server is still up");
}

#[tokio::test]
async fn the_same_genesis_seed_is_the_same_network_on_every_start_and_another_seed_another() {
    let start = |seed: &str, slot_ms: u64| {
        Localnet::start(LocalnetConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            slot_duration: Duration::from_millis(slot_ms),
            genesis_seed: seed.into(),
        })
    };
    let first = start(paytab_localnet::DEFAULT_GENESIS_SEED, SLOT_MS)
        .await
        .unwrap();
    let network = first.info().network.clone();
    let genesis = first.info().genesis_hash;
    first.shutdown().await;
    let again = start(paytab_localnet::DEFAULT_GENESIS_SEED, 400)
        .await
        .unwrap();
    assert_eq!(
        again.info().network,
        network,
        "a restart, at another pace, is the same chain"
    );
    assert_eq!(again.info().genesis_hash, genesis);
    let rpc = RpcClient::new(again.rpc_url());
    assert_eq!(rpc.get_genesis_hash().await.unwrap(), genesis);
    again.shutdown().await;
    let other = start("another chain", SLOT_MS).await.unwrap();
    assert_ne!(other.info().network, network);
    other.shutdown().await;
}
