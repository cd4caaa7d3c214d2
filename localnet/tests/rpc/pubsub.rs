//! PubSub on the RPC port + 1, through `solana-pubsub-client`'s
//! `PubsubClient`, so the notifications are checked against the official
//! client's types.

use std::time::Duration;

use futures_util::StreamExt;
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client_types::config::{
    RpcAccountInfoConfig, RpcSignatureSubscribeConfig, RpcTransactionLogsConfig,
    RpcTransactionLogsFilter,
};
use solana_rpc_client_types::response::RpcSignatureResult;
use solana_signer::Signer;

use crate::net::*;

/// The next item of `stream`, within a few seconds.
async fn next<T>(stream: &mut (impl futures_util::Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a notification within 10 s")
        .expect("the stream is open")
}

#[tokio::test]
async fn pubsub_on_the_next_port_notifies_signatures_accounts_programs_slots_roots_and_logs() {
    let net = Net::start().await;
    let rpc_port: u16 = net
        .localnet
        .rpc_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(net
        .localnet
        .ws_url()
        .ends_with(&format!(":{}", rpc_port + 1)));
    let pubsub = PubsubClient::new(&net.localnet.ws_url()).await.unwrap();

    let (mut slots, unsubscribe_slots) = pubsub.slot_subscribe().await.unwrap();
    let first = next(&mut slots).await;
    let second = next(&mut slots).await;
    assert_eq!(second.slot, first.slot + 1);
    assert_eq!(second.parent, first.slot);
    unsubscribe_slots().await;
    let (mut roots, unsubscribe_roots) = pubsub.root_subscribe().await.unwrap();
    let root = next(&mut roots).await;
    assert!(root < net.rpc.get_slot().await.unwrap() + 1);
    unsubscribe_roots().await;

    let payer = net.wallet(0).await;
    let payee = solana_keypair::Keypair::new();
    let (mut account, _unsubscribe_account) = pubsub
        .account_subscribe(
            &payee.pubkey(),
            Some(RpcAccountInfoConfig {
                commitment: Some(CommitmentConfig::confirmed()),
                encoding: Some(solana_account_decoder::UiAccountEncoding::Base64),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let (mut logs, _unsubscribe_logs) = pubsub
        .logs_subscribe(
            RpcTransactionLogsFilter::Mentions(vec![payee.pubkey().to_string()]),
            RpcTransactionLogsConfig {
                commitment: Some(CommitmentConfig::confirmed()),
            },
        )
        .await
        .unwrap();
    let (mut programs, _unsubscribe_program) = pubsub
        .program_subscribe(&solana_sdk_ids::system_program::ID, None)
        .await
        .unwrap();

    let blockhash = net.rpc.get_latest_blockhash().await.unwrap();
    let transfer = solana_transaction::Transaction::new_signed_with_payer(
        &[solana_system_interface::instruction::transfer(
            &payer.pubkey(),
            &payee.pubkey(),
            1_000_000,
        )],
        Some(&payer.pubkey()),
        &[&payer],
        blockhash,
    );
    let signature = transfer.signatures[0];
    let (mut signatures, _unsubscribe_signature) = pubsub
        .signature_subscribe(
            &signature,
            Some(RpcSignatureSubscribeConfig {
                commitment: Some(CommitmentConfig::confirmed()),
                enable_received_notification: Some(false),
            }),
        )
        .await
        .unwrap();
    net.rpc.send_transaction(&transfer).await.unwrap();

    let confirmed = next(&mut signatures).await;
    assert!(matches!(
        confirmed.value,
        RpcSignatureResult::ProcessedSignature(ref result) if result.err.is_none()
    ));
    assert!(
        net.rpc.confirm_transaction(&signature).await.unwrap(),
        "notified no earlier than confirmed"
    );
    let changed = next(&mut account).await;
    assert_eq!(changed.value.lamports, 1_000_000);
    let logged = next(&mut logs).await;
    assert_eq!(logged.value.signature, signature.to_string());
    assert!(logged.value.err.is_none());
    let mut saw_payee = false;
    for _ in 0..10 {
        let keyed = next(&mut programs).await;
        if keyed.value.pubkey == payee.pubkey().to_string() {
            saw_payee = true;
            break;
        }
    }
    assert!(saw_payee, "the new system account was announced");

    // A signature already confirmed is answered at once, then the subscription ends.
    let (mut again, _) = pubsub.signature_subscribe(&signature, None).await.unwrap();
    let finalized = next(&mut again).await;
    assert!(matches!(
        finalized.value,
        RpcSignatureResult::ProcessedSignature(_)
    ));
}

/// Sends one text frame and reads its answer as JSON.
async fn ask<S>(socket: &mut S, text: &str) -> serde_json::Value
where
    S: futures_util::Sink<tokio_tungstenite::tungstenite::Message>
        + futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
    <S as futures_util::Sink<tokio_tungstenite::tungstenite::Message>>::Error: std::fmt::Debug,
{
    use futures_util::SinkExt;
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(text))
        .await
        .unwrap();
    loop {
        match next(socket).await.unwrap() {
            tokio_tungstenite::tungstenite::Message::Text(text) => {
                let answer: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                // Notifications of earlier subscriptions may come first.
                if answer.get("method").is_none() {
                    return answer;
                }
            }
            tokio_tungstenite::tungstenite::Message::Close(_) => panic!("closed"),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn malformed_pubsub_requests_get_json_rpc_errors_and_a_connection_holds_a_bounded_number_of_subscriptions(
) {
    let net = Net::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(net.localnet.ws_url())
        .await
        .unwrap();

    let unparsable = ask(&mut socket, "{not json").await;
    assert_eq!(unparsable["error"]["code"], -32700);
    assert!(unparsable["id"].is_null());
    let unknown = ask(
        &mut socket,
        r#"{"jsonrpc":"2.0","id":1,"method":"voteSubscribe"}"#,
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32601);
    assert_eq!(unknown["id"], 1);
    let bad_address = ask(
        &mut socket,
        r#"{"jsonrpc":"2.0","id":2,"method":"accountSubscribe","params":["not-an-address"]}"#,
    )
    .await;
    assert_eq!(bad_address["error"]["code"], -32602);
    let bad_options = ask(
        &mut socket,
        r#"{"jsonrpc":"2.0","id":3,"method":"slotSubscribe","params":[null,{"commitment":7}]}"#,
    )
    .await;
    assert_eq!(bad_options["error"]["code"], -32602);
    let nothing_to_end = ask(
        &mut socket,
        r#"{"jsonrpc":"2.0","id":4,"method":"slotUnsubscribe","params":[99]}"#,
    )
    .await;
    assert_eq!(nothing_to_end["result"], false);

    let mut refused = None;
    for id in 0..1_100 {
        let request = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"rootSubscribe"}}"#);
        let answer = ask(&mut socket, &request).await;
        if answer.get("error").is_some() {
            refused = Some((id, answer));
            break;
        }
    }
    let (at, refusal) = refused.expect("a cap on subscriptions");
    assert_eq!(at, 1_024);
    assert_eq!(refusal["error"]["code"], -32600);
}
