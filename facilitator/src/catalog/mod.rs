//! The service catalog: providers publish signed manifests, the catalog
//! probes every endpoint before listing (and again on a schedule, marking
//! listings stale with the reason), and anyone searches it.
//!
//! - [`config`]: the `[catalog]` table;
//! - [`probe`]: calling each endpoint unpaid and judging its answer;
//! - [`search`]: turning a query string into words and filters;
//! - [`views`]: the JSON a listing is shown as (catalog and x402 bazaar).

pub mod config;
pub mod probe;
pub mod search;
pub mod views;

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::http::StatusCode;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use paytab_protocol::clock::unix_now;
use paytab_protocol::manifest::{Manifest, Publication, PublicationError};
use serde_json::{json, Value};
use tokio::sync::{watch, Mutex};

use self::config::CatalogSettings;
use self::probe::{EndpointProbe, Prober};
use crate::store::{ListingRecord, ListingStatus, ListingWrite, ResourceRecord, Store, StoreError};

/// How far a publication's `publishedAt` may be from now, seconds: a signed
/// manifest cannot be replayed later to undo a newer one that was removed.
pub const PUBLICATION_WINDOW_SECS: i64 = 600;

/// Why a publication was not listed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The manifest or its signature is not acceptable.
    #[error(transparent)]
    Refused(#[from] PublicationError),
    /// `publishedAt` is too far from now.
    #[error("publishedAt {published_at} is more than {PUBLICATION_WINDOW_SECS} s from now ({now}): sign it again")]
    OutsideWindow {
        /// When it says it was signed.
        published_at: i64,
        /// Now.
        now: i64,
    },
    /// The name belongs to another provider.
    #[error("the name is listed by {signer}: choose another")]
    NameTaken {
        /// Who holds it.
        signer: String,
    },
    /// An equal or newer publication of it is listed.
    #[error("a publication signed at {published_at} is listed already: publish a newer one")]
    NotNewer {
        /// When the listed one was signed.
        published_at: i64,
    },
    /// An endpoint did not answer as its manifest says.
    #[error("the probe found endpoints that do not answer as listed: {}", .reasons.join("; "))]
    ProbeFailed {
        /// One reason per failing endpoint.
        reasons: Vec<String>,
    },
    /// Too many publications from this address.
    #[error("too many publications from this address: try again in a minute")]
    RateLimited,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PublishError {
    /// The HTTP status and error code it is answered with.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Refused(PublicationError::Malformed(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_publication")
            }
            Self::Refused(PublicationError::Manifest(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_manifest")
            }
            Self::Refused(PublicationError::BadSignature) => {
                (StatusCode::UNAUTHORIZED, "invalid_signature")
            }
            Self::Refused(PublicationError::SignerNotPayee { .. }) => {
                (StatusCode::FORBIDDEN, "signer_not_payee")
            }
            Self::OutsideWindow { .. } => (StatusCode::BAD_REQUEST, "publication_expired"),
            Self::NameTaken { .. } => (StatusCode::CONFLICT, "name_taken"),
            Self::NotNewer { .. } => (StatusCode::CONFLICT, "not_newer"),
            Self::ProbeFailed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "probe_failed"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        }
    }

    /// Details for the JSON answer: the field of a bad manifest, the probe's reasons.
    pub fn details(&self) -> Value {
        match self {
            Self::Refused(PublicationError::Manifest(error)) => json!({"field": error.field}),
            Self::ProbeFailed { reasons } => json!({"reasons": reasons}),
            _ => json!({}),
        }
    }
}

/// What one probe round found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProbeRound {
    /// Listings probed.
    pub probed: usize,
    /// Found answering as listed.
    pub live: usize,
    /// Found stale.
    pub stale: usize,
}

/// The catalog.
pub struct Catalog {
    store: Store,
    prober: Prober,
    settings: CatalogSettings,
    publishes: DefaultKeyedRateLimiter<IpAddr>,
    rounds: Mutex<()>,
}

impl Catalog {
    /// A catalog over `store`.
    pub fn new(store: Store, settings: CatalogSettings) -> Self {
        let per_minute = NonZeroU32::new(settings.publishes_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            prober: Prober::new(settings.allow_private_probes, settings.probe_timeout),
            store,
            publishes: RateLimiter::keyed(Quota::per_minute(per_minute)),
            settings,
            rounds: Mutex::new(()),
        }
    }

    /// Checks, probes and lists a publication sent from `peer`.
    pub async fn publish(
        &self,
        body: &Value,
        peer: Option<IpAddr>,
    ) -> Result<ListingRecord, PublishError> {
        if let Some(peer) = peer {
            if self.publishes.check_key(&peer).is_err() {
                return Err(PublishError::RateLimited);
            }
        }
        let publication = Publication::verify(body)?;
        let now = unix_now();
        if (publication.published_at - now).abs() > PUBLICATION_WINDOW_SECS {
            return Err(PublishError::OutsideWindow {
                published_at: publication.published_at,
                now,
            });
        }
        // Refuse a name or a replay before spending probes on it.
        if let Some(held) = self.store.listing(&publication.manifest.name).await? {
            if held.signer != publication.signer.to_string() {
                return Err(PublishError::NameTaken {
                    signer: held.signer,
                });
            }
            if held.published_at >= publication.published_at {
                return Err(PublishError::NotNewer {
                    published_at: held.published_at,
                });
            }
        }
        let probes = self.prober.probe(&publication.manifest).await;
        let reasons: Vec<String> = probes.iter().filter_map(|p| p.failure.clone()).collect();
        if !reasons.is_empty() {
            return Err(PublishError::ProbeFailed { reasons });
        }
        let listing = record(&publication, body, &probes, now);
        match self.store.write_listing(&listing).await? {
            ListingWrite::Listed => {}
            ListingWrite::NameTaken { signer } => return Err(PublishError::NameTaken { signer }),
            ListingWrite::NotNewer { published_at } => {
                return Err(PublishError::NotNewer { published_at })
            }
        }
        for resource in resources(&publication.manifest, &probes, now) {
            self.store.upsert_resource(&resource).await?;
        }
        tracing::info!(name = %listing.name, signer = %listing.signer, "listed a service");
        Ok(listing)
    }

    /// Probes every listing once (rounds never overlap) and records what it found.
    pub async fn probe_all(&self) -> Result<ProbeRound, StoreError> {
        let _round = self.rounds.lock().await;
        let mut round = ProbeRound::default();
        for (name, published_at, body) in self.store.listings_to_probe().await? {
            let Ok(publication) = Publication::verify(&body) else {
                tracing::warn!(%name, "a stored publication no longer reads; left as it is");
                continue;
            };
            let probes = self.prober.probe(&publication.manifest).await;
            let reason = probes.iter().find_map(|probe| probe.failure.clone());
            let status = if reason.is_some() {
                round.stale += 1;
                ListingStatus::Stale
            } else {
                round.live += 1;
                ListingStatus::Live
            };
            round.probed += 1;
            self.store
                .record_probe(
                    &name,
                    published_at,
                    status,
                    reason.as_deref(),
                    &probes_json(&probes),
                    unix_now(),
                )
                .await?;
        }
        Ok(round)
    }

    /// Probes every listing on the configured interval until `stopped`.
    pub async fn run(self: std::sync::Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let Some(interval) = self.settings.probe_interval else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            match self.probe_all().await {
                Ok(round) => tracing::info!(?round, "catalog probe round"),
                Err(cause) => tracing::error!(%cause, "catalog probe round failed"),
            }
        }
    }

    /// The store it lists in.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Every endpoint's method, path and description, one per line, for search.
fn endpoints_text(manifest: &Manifest) -> String {
    manifest
        .endpoints
        .iter()
        .map(|endpoint| {
            format!(
                "{} {} {}",
                endpoint.method, endpoint.path, endpoint.description
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn probes_json(probes: &[EndpointProbe]) -> Value {
    Value::Array(
        probes
            .iter()
            .map(|probe| {
                json!({
                    "request": probe.request,
                    "ok": probe.failure.is_none(),
                    "failure": probe.failure,
                    "x402Version": probe.x402_version,
                    "accepts": probe.accepts,
                })
            })
            .collect(),
    )
}

fn record(
    publication: &Publication,
    body: &Value,
    probes: &[EndpointProbe],
    now: i64,
) -> ListingRecord {
    let manifest = &publication.manifest;
    ListingRecord {
        name: manifest.name.clone(),
        signer: publication.signer.to_string(),
        publication: body.clone(),
        title: manifest.title.clone(),
        description: manifest.description.clone(),
        use_case: manifest.use_case.clone().unwrap_or_default(),
        category: manifest.category.as_str().to_string(),
        endpoints_text: endpoints_text(manifest),
        network: manifest.network.clone(),
        asset: manifest.asset.to_string(),
        lowest_price: manifest.lowest_price(),
        probes: probes_json(probes),
        published_at: publication.published_at,
        listed_at: now,
        status: ListingStatus::Live,
        status_reason: None,
        probed_at: now,
        failures: 0,
    }
}

/// The paid endpoints as x402 discovery resources, with the terms their 402 offered.
fn resources(manifest: &Manifest, probes: &[EndpointProbe], now: i64) -> Vec<ResourceRecord> {
    manifest
        .endpoints
        .iter()
        .zip(probes)
        .filter(|(endpoint, probe)| endpoint.price().is_some() && !probe.accepts.is_empty())
        .map(|(endpoint, probe)| ResourceRecord {
            resource: format!("{}{}", manifest.service_url, endpoint.probe_path()),
            kind: "http".into(),
            x402_version: probe.x402_version,
            accepts: Value::Array(probe.accepts.clone()),
            metadata: views::endpoint_metadata(manifest, endpoint, None),
            last_updated: now,
        })
        .collect()
}
