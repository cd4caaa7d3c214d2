//! Wiring: the store, the schemes, the claimer and the HTTP server, started
//! together and stopped gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_signer::Signer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use paytab_protocol::server::{serve, ServeOptions};

use crate::access::Access;
use crate::catalog::{Catalog, ProbeRound};
use crate::chain::ChainReader;
use crate::claimer::{ClaimError, ClaimRound, Claimer};
use crate::committer::{Committer, WriteHealth, DEFAULT_MAX_BATCH};
use crate::config::Settings;
use crate::escrow::EscrowScheme;
use crate::exact::scheme::ExactScheme;
use crate::health::Readiness;
use crate::proofs::ProofIssuer;
use crate::server::{router, AppState};
use crate::signatures::SignatureChecker;
use crate::store::{Store, StoreError};
use crate::x402::caip2_network;
use paytab_protocol::networks::check_network_label;

/// The facilitator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database {url}: {source}")]
    Store {
        /// Where.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// The chain could not be reached.
    #[error("cannot reach the Solana RPC at {url}: {message}")]
    Rpc {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// The configured network label cannot name this chain.
    #[error("network: {0}")]
    Network(paytab_protocol::networks::LabelError),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// Where.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running facilitator.
pub struct Facilitator {
    address: SocketAddr,
    network: String,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    committer_task: JoinHandle<()>,
    claimer: Claimer,
}

impl Facilitator {
    /// Opens the store, reads the network from the chain and starts serving.
    pub async fn start(settings: Settings) -> Result<Self, StartError> {
        let store = Store::open(&settings.database)
            .await
            .map_err(|source| StartError::Store {
                url: redact(&settings.database),
                source,
            })?;
        let rpc = Arc::new(RpcClient::new_with_commitment(
            settings.rpc_url.clone(),
            CommitmentConfig::confirmed(),
        ));
        let genesis = rpc
            .get_genesis_hash()
            .await
            .map_err(|error| StartError::Rpc {
                url: settings.rpc_url.clone(),
                message: error.to_string(),
            })?;
        let chain_network = caip2_network(&genesis.to_string());
        let network = match &settings.network {
            Some(label) => {
                check_network_label(label, &chain_network).map_err(StartError::Network)?;
                if *label != chain_network {
                    tracing::info!(chain = %chain_network, served_as = %label, "serving the chain under a network label");
                }
                label.clone()
            }
            None => chain_network,
        };
        let proofs = Arc::new(ProofIssuer::new(
            settings.proof_keys.clone(),
            network.clone(),
            settings.proof_ttl_secs,
        ));
        let chain = Arc::new(ChainReader::new(rpc.clone(), settings.chain_cache_ttl));
        let writes = Arc::new(WriteHealth::default());
        let (committer, committer_task) = Committer::start(
            store.clone(),
            proofs.clone(),
            DEFAULT_MAX_BATCH,
            writes.clone(),
        );
        let signatures =
            Arc::new(
                SignatureChecker::start().map_err(|source| StartError::Bind {
                    address: settings.bind,
                    source,
                })?,
            );
        let claimer = Claimer::new(
            chain.clone(),
            store.clone(),
            settings.keypair.clone(),
            settings.claimer.clone().unwrap_or_default(),
        );
        let state = Arc::new(AppState {
            network: network.clone(),
            exact: ExactScheme::new(
                rpc.clone(),
                settings.keypair.clone(),
                store.clone(),
                proofs.clone(),
                settings.exact_limits,
                settings.request_timeout,
            ),
            escrow: EscrowScheme::new(
                chain.clone(),
                store.clone(),
                committer,
                proofs.clone(),
                signatures,
                settings.keypair.pubkey(),
                settings.expiry_margin_secs,
            ),
            proofs,
            store: store.clone(),
            registration_token: settings.registration_token.clone(),
            claimer: claimer.clone(),
            access: Access::new(&settings.access),
            min_amount: settings.min_amount,
            readiness: Readiness::new(rpc.clone(), store.clone(), writes),
            catalog: settings
                .catalog
                .clone()
                .map(|catalog| Arc::new(Catalog::new(store.clone(), catalog))),
        });
        if settings.access.clients.is_empty() && settings.access.anonymous.is_none() {
            tracing::warn!(
                "no client may verify or settle: name API keys in [access] clients (or allow anonymous callers)"
            );
        }

        let listener =
            TcpListener::bind(settings.bind)
                .await
                .map_err(|source| StartError::Bind {
                    address: settings.bind,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            address: settings.bind,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let app = router(
            state.clone(),
            settings.max_body_bytes,
            settings.request_timeout,
        );
        let mut shutdown = stopped.clone();
        let options = ServeOptions {
            header_read_timeout: settings.header_read_timeout,
            max_connections: settings.max_connections,
            ..ServeOptions::default()
        };
        tasks.push(tokio::spawn(serve(listener, app, options, async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })));
        tasks.push(tokio::spawn(forget_quiet_callers(
            state.clone(),
            stopped.clone(),
        )));
        if let Some(catalog) = &state.catalog {
            tasks.push(tokio::spawn(catalog.clone().run(stopped.clone())));
        }
        if settings.claimer.is_some() {
            tasks.push(tokio::spawn(claimer.clone().run(stopped)));
        }
        tracing::info!(%address, %network, store = store.kind(), "facilitator listening");
        Ok(Self {
            address,
            network,
            state,
            stop,
            tasks,
            committer_task,
            claimer,
        })
    }

    /// Runs one claim round now (after any round in progress) and says what
    /// it paid; works whether or not the background claimer runs.
    pub async fn claim_now(&self) -> Result<ClaimRound, ClaimError> {
        self.claimer.run_once().await
    }

    /// Probes every catalog listing now and records what it found.
    pub async fn probe_catalog_now(&self) -> Option<Result<ProbeRound, StoreError>> {
        match &self.state.catalog {
            Some(catalog) => Some(catalog.probe_all().await),
            None => None,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:4020`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The CAIP-2 network served.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The store, for inspection.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Stops accepting requests, finishes those in flight, stops the claimer,
    /// commits what is queued, and closes the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let store = self.state.store.clone();
        drop(self.state);
        let _ = self.committer_task.await;
        store.close().await;
    }
}

/// Drops the rate-limit state of anonymous callers quiet for a minute, so it
/// never grows with the number of addresses ever seen.
async fn forget_quiet_callers(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => state.access.forget_quiet_callers(),
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
