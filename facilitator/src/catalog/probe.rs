//! Probing a listing: every endpoint is called once without payment, and its
//! answer must be what the manifest says (a paid endpoint a 402 whose terms
//! are the manifest's, a sign-in endpoint a sign-in 402, a free one no 402).
//!
//! A probe is a request the operator makes on a stranger's word, so it only
//! goes where the manifest's host resolves to a public address (unless the
//! operator allows private ones), to that address only (no second lookup
//! between check and connect), follows no redirect, and reads at most 64 KiB.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::stream::{self, StreamExt};
use paytab_protocol::manifest::{Access, Endpoint, Manifest};
use paytab_protocol::networks::normalise_network;
use paytab_protocol::schemes;
use reqwest::{Method, Url};
use serde_json::Value;

/// Most bytes of an answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Endpoints of one listing probed at once.
const PARALLEL_PROBES: usize = 8;

/// What probing one endpoint showed.
#[derive(Debug, Clone)]
pub struct EndpointProbe {
    /// `GET /v1/quotes/SOL`.
    pub request: String,
    /// The x402 requirements its 402 offered (paid endpoints), else empty.
    pub accepts: Vec<Value>,
    /// The x402 version of `accepts`.
    pub x402_version: u8,
    /// Why it does not match the manifest, if it does not.
    pub failure: Option<String>,
}

/// Probes listings' endpoints.
#[derive(Debug, Clone)]
pub struct Prober {
    allow_private: bool,
    timeout: Duration,
}

impl Prober {
    /// A prober with these limits.
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        Self {
            allow_private,
            timeout,
        }
    }

    /// Probes every endpoint of `manifest`, in order.
    pub async fn probe(&self, manifest: &Manifest) -> Vec<EndpointProbe> {
        let client = match self.client_for(&manifest.service_url).await {
            Ok(client) => client,
            Err(reason) => {
                return manifest
                    .endpoints
                    .iter()
                    .map(|endpoint| EndpointProbe {
                        request: request_line(endpoint),
                        accepts: Vec::new(),
                        x402_version: 2,
                        failure: Some(reason.clone()),
                    })
                    .collect()
            }
        };
        let probes: Vec<_> = manifest
            .endpoints
            .iter()
            .map(|endpoint| self.probe_endpoint(&client, manifest, endpoint))
            .collect();
        stream::iter(probes)
            .buffered(PARALLEL_PROBES)
            .collect()
            .await
    }

    /// A client pinned to the address `service_url`'s host resolves to now,
    /// if that address may be probed.
    async fn client_for(&self, service_url: &str) -> Result<reqwest::Client, String> {
        let url = Url::parse(service_url).map_err(|error| format!("serviceUrl: {error}"))?;
        let host = url
            .host_str()
            .ok_or("serviceUrl names no host")?
            .trim_matches(['[', ']'])
            .to_string();
        let port = url
            .port_or_known_default()
            .ok_or("serviceUrl names no port")?;
        let address = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|error| format!("{host} does not resolve: {error}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        if !self.allow_private && !is_public(address.ip()) {
            return Err(format!(
                "{host} resolves to {}, a private address this catalog does not probe",
                address.ip()
            ));
        }
        reqwest::Client::builder()
            .resolve(&host, SocketAddr::new(address.ip(), port))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .user_agent("paytab-catalog-probe/1")
            .build()
            .map_err(|error| format!("probe client: {error}"))
    }

    async fn probe_endpoint(
        &self,
        client: &reqwest::Client,
        manifest: &Manifest,
        endpoint: &Endpoint,
    ) -> EndpointProbe {
        let request = request_line(endpoint);
        let mut x402_version = 2;
        let (accepts, failure) = match self.call(client, manifest, endpoint).await {
            Ok(answer) => {
                x402_version = answer
                    .payment_required
                    .as_ref()
                    .and_then(|required| required["x402Version"].as_u64())
                    .and_then(|version| u8::try_from(version).ok())
                    .unwrap_or(2);
                match judge(manifest, endpoint, &answer) {
                    Ok(accepts) => (accepts, None),
                    Err(reason) => (Vec::new(), Some(reason)),
                }
            }
            Err(reason) => (Vec::new(), Some(reason)),
        };
        EndpointProbe {
            failure: failure.map(|reason| format!("{request}: {reason}")),
            request,
            accepts,
            x402_version,
        }
    }

    async fn call(
        &self,
        client: &reqwest::Client,
        manifest: &Manifest,
        endpoint: &Endpoint,
    ) -> Result<Answer, String> {
        let url = format!("{}{}", manifest.service_url, endpoint.probe_path());
        let method = Method::from_bytes(endpoint.method.as_bytes())
            .map_err(|_| format!("method {} cannot be sent", endpoint.method))?;
        let mut response = client
            .request(method, &url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|error| format!("no answer ({})", without_url(error)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| format!("the answer broke off ({})", without_url(error)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let payment_required = headers
            .get("payment-required")
            .and_then(|value| value.to_str().ok())
            .and_then(|text| STANDARD.decode(text.trim()).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .or_else(|| {
                serde_json::from_slice::<Value>(&body)
                    .ok()
                    .filter(|value| value["x402Version"] == 1)
            });
        let offers_mpp = headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|text| text.len() > 8 && text[..8].eq_ignore_ascii_case("payment "));
        Ok(Answer {
            status,
            payment_required,
            offers_mpp,
        })
    }
}

/// What an endpoint answered.
struct Answer {
    status: u16,
    payment_required: Option<Value>,
    offers_mpp: bool,
}

fn request_line(endpoint: &Endpoint) -> String {
    format!("{} {}", endpoint.method, endpoint.probe_path())
}

/// A transport error without the URL reqwest repeats in it.
fn without_url(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else {
        error.without_url().to_string()
    }
}

/// Whether the answer is what the manifest promises; the requirements offered.
fn judge(manifest: &Manifest, endpoint: &Endpoint, answer: &Answer) -> Result<Vec<Value>, String> {
    match endpoint.access {
        Access::Free if answer.status == 402 => Err("answered 402, but is listed as free".into()),
        Access::Free if answer.status >= 500 => Err(format!(
            "answered {}: the service is failing",
            answer.status
        )),
        Access::Free => Ok(Vec::new()),
        Access::SignIn => {
            let signs_in = answer.status == 402
                && answer
                    .payment_required
                    .as_ref()
                    .is_some_and(|required| required["extensions"]["sign-in-with-x"].is_object());
            if signs_in {
                Ok(Vec::new())
            } else {
                Err(format!(
                    "answered {} without a sign-in-with-x challenge, but is listed as sign-in",
                    answer.status
                ))
            }
        }
        Access::Paid(price) => {
            if answer.status != 402 {
                return Err(format!(
                    "answered {} to an unpaid request, but is listed at {price}",
                    answer.status
                ));
            }
            let required = answer
                .payment_required
                .as_ref()
                .ok_or("answered 402 without x402 terms (PAYMENT-REQUIRED or a v1 body)")?;
            judge_terms(manifest, price, required, answer.offers_mpp)
        }
    }
}

fn judge_terms(
    manifest: &Manifest,
    price: u64,
    required: &Value,
    offers_mpp: bool,
) -> Result<Vec<Value>, String> {
    let accepts = required["accepts"]
        .as_array()
        .filter(|accepts| !accepts.is_empty())
        .ok_or("answered 402 offering no payment requirements")?;
    for accept in accepts {
        let scheme = accept["scheme"].as_str().unwrap_or("?");
        let amount = accept["amount"]
            .as_str()
            .or_else(|| accept["maxAmountRequired"].as_str())
            .unwrap_or("?");
        if amount != price.to_string() {
            return Err(format!(
                "asks {amount} ({scheme}), but the manifest lists {price}"
            ));
        }
        let network = normalise_network(accept["network"].as_str().unwrap_or("?"));
        if network != manifest.network {
            return Err(format!(
                "is paid on {network} ({scheme}), but the manifest says {}",
                manifest.network
            ));
        }
        if accept["asset"].as_str() != Some(manifest.asset.to_string().as_str()) {
            return Err(format!(
                "asks for asset {} ({scheme}), but the manifest says {}",
                accept["asset"], manifest.asset
            ));
        }
        if accept["payTo"].as_str() != Some(manifest.pay_to.to_string().as_str()) {
            return Err(format!(
                "pays {} ({scheme}), but the manifest says {}",
                accept["payTo"], manifest.pay_to
            ));
        }
    }
    for scheme in &manifest.schemes {
        let offered = match scheme.as_str() {
            "mpp" => offers_mpp,
            "escrow" => accepts
                .iter()
                .any(|a| a["scheme"] == schemes::PAYTAB_ESCROW),
            other => accepts.iter().any(|a| a["scheme"] == other),
        };
        if !offered {
            return Err(format!("does not offer {scheme}, which the manifest lists"));
        }
    }
    Ok(accepts.clone())
}

/// Whether `ip` is on the public internet (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_public_addresses_are_probed() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
