//! Solana's PubSub over WebSocket, on the RPC port + 1 as a validator serves
//! it: `signatureSubscribe`, `accountSubscribe`, `programSubscribe`,
//! `slotSubscribe`, `rootSubscribe`, `logsSubscribe` and their unsubscribes,
//! with a validator's request and notification shapes. Each connection
//! follows the chain's events ([`crate::chain::ChainEvent`]).

mod subscriptions;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::chain::Chain;
use crate::rpc::error::{self, RpcError};
use subscriptions::{LogsFilter, Notification, Options, Subscription};

/// Most subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 1_024;
/// Largest request accepted, bytes.
const MAX_MESSAGE: usize = 64 * 1024;

/// The router upgrading `GET /` to a PubSub connection; connections end
/// when `stop` turns true.
pub fn router(chain: Arc<Chain>, stop: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/", get(upgrade))
        .with_state((chain, stop))
}

async fn upgrade(
    State((chain, stop)): State<(Arc<Chain>, watch::Receiver<bool>)>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| connection(socket, chain, stop))
}

/// One client's subscriptions, by id.
#[derive(Default)]
struct Connection {
    subscriptions: HashMap<u64, Subscription>,
    next_id: u64,
}

async fn connection(mut socket: WebSocket, chain: Arc<Chain>, mut stop: watch::Receiver<bool>) {
    let mut events = chain.subscribe();
    let mut state = Connection::default();
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            }
            message = socket.recv() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                };
                let (answer, notifications) = state.request(&chain, &text);
                if send(&mut socket, answer).await.is_err() {
                    return;
                }
                for (id, notification) in notifications {
                    if send_notification(&mut socket, &mut state, id, notification).await.is_err() {
                        return;
                    }
                }
            }
            event = events.recv() => {
                let event = match event {
                    Ok(event) => event,
                    // A slow client missed events; the next ones still arrive.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let mut due = Vec::new();
                for (id, subscription) in state.subscriptions.iter_mut() {
                    for notification in subscription.on_event(&chain, &event) {
                        due.push((*id, notification));
                    }
                }
                for (id, notification) in due {
                    if send_notification(&mut socket, &mut state, id, notification).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, value: Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(value.to_string().into())).await
}

async fn send_notification(
    socket: &mut WebSocket,
    state: &mut Connection,
    id: u64,
    notification: Notification,
) -> Result<(), axum::Error> {
    if notification.last {
        state.subscriptions.remove(&id);
    }
    send(
        socket,
        json!({
            "jsonrpc": "2.0",
            "method": notification.method,
            "params": {"result": notification.result, "subscription": id},
        }),
    )
    .await
}

impl Connection {
    /// Answers one request; notifications already due follow the answer.
    fn request(&mut self, chain: &Chain, text: &str) -> (Value, Vec<(u64, Notification)>) {
        let failure = |id: Value, error: RpcError| {
            (
                json!({"jsonrpc": "2.0", "error": error.to_json(), "id": id}),
                Vec::new(),
            )
        };
        let Ok(Value::Object(mut call)) = serde_json::from_str::<Value>(text) else {
            return failure(Value::Null, RpcError::parse_error());
        };
        let id = call.remove("id").unwrap_or(Value::Null);
        let Some(Value::String(method)) = call.remove("method") else {
            return failure(id, RpcError::invalid_request());
        };
        let params = match call.remove("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(params)) => params,
            Some(_) => {
                return failure(
                    id,
                    RpcError::invalid_params("Invalid params: expected an array"),
                )
            }
        };
        match self.dispatch(chain, &method, &params) {
            Ok((result, now)) => (json!({"jsonrpc": "2.0", "result": result, "id": id}), now),
            Err(error) => failure(id, error),
        }
    }

    fn dispatch(
        &mut self,
        chain: &Chain,
        method: &str,
        params: &[Value],
    ) -> Result<(Value, Vec<(u64, Notification)>), RpcError> {
        if let Some(kind) = method.strip_suffix("Unsubscribe") {
            if !matches!(
                kind,
                "signature" | "account" | "program" | "slot" | "root" | "logs"
            ) {
                return Err(RpcError::method_not_found());
            }
            let id = params
                .first()
                .and_then(Value::as_u64)
                .ok_or_else(|| RpcError::invalid_params("Invalid params: subscription id"))?;
            return Ok((json!(self.subscriptions.remove(&id).is_some()), Vec::new()));
        }
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(RpcError::new(
                error::INVALID_REQUEST,
                format!("Too many subscriptions on this connection; max {MAX_SUBSCRIPTIONS}"),
            ));
        }
        let options: Options = match params.get(1) {
            None | Some(Value::Null) => Options::default(),
            Some(options) => serde_json::from_value(options.clone()).map_err(|problem| {
                RpcError::invalid_params(format!("Invalid params: {problem}"))
            })?,
        };
        let text = |index: usize, name: &str| -> Result<String, RpcError> {
            params
                .get(index)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| RpcError::invalid_params(format!("Invalid params: {name}")))
        };
        let (subscription, now) = match method {
            "signatureSubscribe" => {
                let signature = crate::rpc::params::parse_signature(&text(0, "signature")?)?;
                Subscription::signature(chain, signature, &options)
            }
            "accountSubscribe" => {
                let address = crate::rpc::params::parse_pubkey(&text(0, "account")?)?;
                (Subscription::account(chain, address, &options), Vec::new())
            }
            "programSubscribe" => {
                let program = crate::rpc::params::parse_pubkey(&text(0, "program id")?)?;
                (Subscription::program(chain, program, &options), Vec::new())
            }
            "slotSubscribe" => (Subscription::Slot, Vec::new()),
            "rootSubscribe" => (Subscription::Root, Vec::new()),
            "logsSubscribe" => {
                let filter = match params.first() {
                    Some(Value::String(all)) if all == "all" || all == "allWithVotes" => {
                        LogsFilter::All
                    }
                    Some(Value::Object(filter)) => {
                        let mentions = filter
                            .get("mentions")
                            .and_then(Value::as_array)
                            .filter(|mentions| mentions.len() == 1)
                            .and_then(|mentions| mentions[0].as_str())
                            .ok_or_else(|| {
                                RpcError::invalid_params(
                                    "Invalid params: mentions takes one address",
                                )
                            })?;
                        LogsFilter::Mentions(crate::rpc::params::parse_pubkey(mentions)?)
                    }
                    _ => return Err(RpcError::invalid_params("Invalid params: logs filter")),
                };
                (Subscription::logs(filter, &options), Vec::new())
            }
            _ => return Err(RpcError::method_not_found()),
        };
        self.next_id += 1;
        let id = self.next_id;
        let ends_now = now.iter().any(|notification| notification.last);
        if !ends_now {
            self.subscriptions.insert(id, subscription);
        }
        Ok((
            json!(id),
            now.into_iter()
                .map(|notification| (id, notification))
                .collect(),
        ))
    }
}
