//! Starting the localnet: the chain, its slot clock and the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use paytab_protocol::server::{serve, ServeOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chain::{Chain, ChainInfo};
use crate::{pubsub, rpc};

/// The genesis seed of the default localnet.
pub const DEFAULT_GENESIS_SEED: &str = "paytab localnet";

/// How to run a localnet.
#[derive(Debug, Clone)]
pub struct LocalnetConfig {
    /// Address to serve JSON-RPC on; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Length of a slot.
    pub slot_duration: Duration,
    /// Seeds the genesis: the same seed gives the same genesis hash, and so
    /// the same CAIP-2 network id, on every start.
    pub genesis_seed: String,
}

impl Default for LocalnetConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8899)),
            slot_duration: Duration::from_millis(400),
            genesis_seed: DEFAULT_GENESIS_SEED.into(),
        }
    }
}

/// A running localnet; dropping it (or calling [`Localnet::shutdown`]) stops it.
pub struct Localnet {
    /// The chain, for in-process use.
    pub chain: Arc<Chain>,
    address: SocketAddr,
    pubsub_address: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Localnet {
    /// Builds the chain and starts serving it.
    pub async fn start(config: LocalnetConfig) -> std::io::Result<Self> {
        let slot_duration = config.slot_duration;
        let seed = config.genesis_seed.clone();
        let chain = tokio::task::spawn_blocking(move || Arc::new(Chain::new(&seed)))
            .await
            .map_err(std::io::Error::other)?;
        let (listener, pubsub_listener) = bind_pair(config.bind).await?;
        let address = listener.local_addr()?;
        let pubsub_address = pubsub_listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);

        let clock = tokio::spawn(run_slot_clock(
            chain.clone(),
            slot_duration,
            stopped.clone(),
        ));
        let mut shutdown = stopped.clone();
        let app = rpc::router(chain.clone());
        let server = tokio::spawn(serve(listener, app, ServeOptions::default(), async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        }));
        let mut shutdown = stopped.clone();
        let pubsub = tokio::spawn(serve(
            pubsub_listener,
            pubsub::router(chain.clone(), stopped),
            ServeOptions::default(),
            async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            },
        ));
        Ok(Self {
            chain,
            address,
            pubsub_address,
            stop,
            tasks: vec![clock, server, pubsub],
        })
    }

    /// The PubSub (WebSocket) URL: the RPC port + 1, as a validator serves it.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.pubsub_address)
    }

    /// The JSON-RPC URL.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// What the localnet announces about itself.
    pub fn info(&self) -> &ChainInfo {
        self.chain.info()
    }

    /// Stops serving and waits for the server and clock to finish.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Stops serving (JSON-RPC and the slot clock) and waits for both; the
    /// chain stays readable in-process. Clients then find nothing listening.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds the JSON-RPC port and PubSub on the next one. With port 0, pairs are
/// tried until two free neighbours are found.
async fn bind_pair(bind: SocketAddr) -> std::io::Result<(TcpListener, TcpListener)> {
    let mut last_error = None;
    for _ in 0..32 {
        let rpc = TcpListener::bind(bind).await?;
        let address = rpc.local_addr()?;
        let Some(next) = address.port().checked_add(1) else {
            continue;
        };
        match TcpListener::bind(SocketAddr::new(address.ip(), next)).await {
            Ok(pubsub) => return Ok((rpc, pubsub)),
            Err(error) if bind.port() == 0 => last_error = Some(error),
            Err(error) => {
                return Err(std::io::Error::new(
                    error.kind(),
                    format!("PubSub port {next} (RPC port + 1): {error}"),
                ))
            }
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no two free neighbouring ports")))
}

/// Advances one slot per `slot_duration` until stopped.
async fn run_slot_clock(
    chain: Arc<Chain>,
    slot_duration: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(slot_duration);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let chain = chain.clone();
                if tokio::task::spawn_blocking(move || chain.advance_slot()).await.is_err() {
                    tracing::error!("advancing the slot failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
