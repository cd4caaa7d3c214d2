//! The `[catalog]` table: whether the facilitator lists services, and what a
//! publication may make it do (probes are HTTP requests the operator pays for).

use std::time::Duration;

use serde::Deserialize;

/// The `[catalog]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// Whether `/catalog/*` serves and accepts publications.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Whether probes may reach loopback, private and link-local addresses
    /// (a local stack); off, a publication naming one is refused.
    #[serde(default)]
    pub allow_private_probes: bool,
    /// Seconds between probes of every listing.
    #[serde(default = "default_probe_interval")]
    pub probe_interval_secs: u64,
    /// Longest one probe may take, seconds.
    #[serde(default = "default_probe_timeout")]
    pub probe_timeout_secs: u64,
    /// Publications accepted per minute from one address.
    #[serde(default = "default_publishes_per_minute")]
    pub publishes_per_minute: u32,
}

impl Default for CatalogFile {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private_probes: false,
            probe_interval_secs: default_probe_interval(),
            probe_timeout_secs: default_probe_timeout(),
            publishes_per_minute: default_publishes_per_minute(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_probe_interval() -> u64 {
    900
}

fn default_probe_timeout() -> u64 {
    10
}

fn default_publishes_per_minute() -> u32 {
    6
}

/// The catalog's resolved settings.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// Whether probes may reach private addresses.
    pub allow_private_probes: bool,
    /// Time between probe rounds; `None`: only on request.
    pub probe_interval: Option<Duration>,
    /// Longest one probe may take.
    pub probe_timeout: Duration,
    /// Publications per minute from one address.
    pub publishes_per_minute: u32,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogFile::default().settings().unwrap_or(Self {
            allow_private_probes: false,
            probe_interval: None,
            probe_timeout: Duration::from_secs(default_probe_timeout()),
            publishes_per_minute: default_publishes_per_minute(),
        })
    }
}

impl CatalogFile {
    /// The settings, or `None` when the catalog is off.
    pub fn settings(&self) -> Option<CatalogSettings> {
        self.enabled.then(|| CatalogSettings {
            allow_private_probes: self.allow_private_probes,
            probe_interval: (self.probe_interval_secs > 0)
                .then(|| Duration::from_secs(self.probe_interval_secs)),
            probe_timeout: Duration::from_secs(self.probe_timeout_secs.clamp(1, 60)),
            publishes_per_minute: self.publishes_per_minute.max(1),
        })
    }
}
