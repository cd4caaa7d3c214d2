//! A manifest as a `PAY.md` file: YAML front matter between `---` lines
//! (snake_case keys, as in Pay.sh's registry, plus paytab's payment fields),
//! then the usage notes as Markdown.
//!
//! Pay.sh's own listings are read as far as they can be: a relative endpoint
//! `path` gets its leading `/`, and a flat per-request `pricing` (one usage
//! dimension of requests, scale 1, one tier) becomes a `price` in the
//! manifest's asset. Tiered or metered pricing and `openapi:` listings are
//! refused with the reason.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

use super::fields::{Access, Manifest, ManifestError, Naming};
use crate::amount::parse_units;

/// Longest `PAY.md` read, in bytes.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

/// Reads a `PAY.md` file.
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ManifestError::new("", "the file is larger than 64 KiB"));
    }
    let (front, body) = split_front_matter(text)?;
    let documents = YamlLoader::load_from_str(front).map_err(|error| {
        ManifestError::new("", format!("the front matter is not valid YAML: {error}"))
    })?;
    let yaml = match documents.as_slice() {
        [one] => one,
        _ => {
            return Err(ManifestError::new(
                "",
                "the front matter must be one YAML mapping",
            ))
        }
    };
    let mut value = to_json(yaml, "")?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| ManifestError::new("", "the front matter must be a mapping of fields"))?;
    if object.contains_key("openapi") {
        return Err(ManifestError::new(
            "openapi",
            "listings from an OpenAPI document are not read here: list the endpoints",
        ));
    }
    if object.contains_key("usage") {
        return Err(ManifestError::new(
            "usage",
            "is the Markdown body after the front matter, not a field",
        ));
    }
    object.insert("usage".into(), Value::String(body.trim().to_string()));
    adapt_endpoints(object)?;
    Manifest::from_value(&value, Naming::Snake)
}

fn split_front_matter(text: &str) -> Result<(&str, &str), ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            ManifestError::new(
                "",
                "a PAY.md starts with a --- line opening its front matter",
            )
        })?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Ok((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(ManifestError::new(
        "",
        "the front matter is not closed by a --- line",
    ))
}

fn to_json(yaml: &Yaml, field: &str) -> Result<Value, ManifestError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(flag) => Value::Bool(*flag),
        Yaml::Integer(number) => Value::Number((*number).into()),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| ManifestError::new(field, format!("{text} is not a number")))?,
        Yaml::String(text) => Value::String(text.clone()),
        Yaml::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| to_json(item, &format!("{field}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(entries) => {
            let mut object = Map::new();
            for (key, item) in entries {
                let Yaml::String(key) = key else {
                    return Err(ManifestError::new(field, "keys must be text"));
                };
                let path = if field.is_empty() {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                object.insert(key.clone(), to_json(item, &path)?);
            }
            Value::Object(object)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(ManifestError::new(field, "aliases and tags are not read"))
        }
    })
}

/// Pay.sh's endpoint spelling: relative paths and `pricing`.
fn adapt_endpoints(object: &mut Map<String, Value>) -> Result<(), ManifestError> {
    let decimals = object
        .get("decimals")
        .and_then(Value::as_u64)
        .and_then(|decimals| u8::try_from(decimals).ok());
    let Some(Value::Array(endpoints)) = object.get_mut("endpoints") else {
        return Ok(());
    };
    for (index, endpoint) in endpoints.iter_mut().enumerate() {
        let Some(endpoint) = endpoint.as_object_mut() else {
            continue;
        };
        if let Some(Value::String(path)) = endpoint.get_mut("path") {
            if !path.starts_with('/') {
                path.insert(0, '/');
            }
        }
        endpoint.remove("resource");
        if let Some(pricing) = endpoint.remove("pricing") {
            let field = format!("endpoints[{index}].pricing");
            if endpoint.contains_key("price") {
                return Err(ManifestError::new(field, "give price or pricing, not both"));
            }
            let decimals = decimals.ok_or_else(|| {
                ManifestError::new("decimals", "is needed to read pricing in USD")
            })?;
            endpoint.insert("price".into(), flat_price(&pricing, decimals, &field)?);
        }
    }
    Ok(())
}

/// A single per-request USD price, in raw units of a USD stablecoin.
fn flat_price(pricing: &Value, decimals: u8, field: &str) -> Result<Value, ManifestError> {
    let unsupported = || {
        ManifestError::new(
            field,
            "only a flat price per request is read (one usage dimension of requests, scale 1, \
             one tier with price_usd): write price in raw units instead",
        )
    };
    let dimensions = pricing["dimensions"].as_array().ok_or_else(unsupported)?;
    let [dimension] = dimensions.as_slice() else {
        return Err(unsupported());
    };
    let flat = dimension["direction"] == "usage"
        && dimension["unit"] == "requests"
        && dimension.get("scale").is_none_or(|scale| scale == 1);
    let tiers = dimension["tiers"].as_array().ok_or_else(unsupported)?;
    let ([tier], true) = (tiers.as_slice(), flat) else {
        return Err(unsupported());
    };
    let usd = tier["price_usd"].as_f64().ok_or_else(unsupported)?;
    let raw = parse_units(&format!("{usd}"), decimals)
        .map_err(|error| ManifestError::new(field, format!("price_usd {usd}: {error}")))?;
    Ok(Value::String(raw.to_string()))
}

/// Writes `manifest` as a `PAY.md` file that [`parse`] reads back unchanged.
pub fn render(manifest: &Manifest) -> String {
    let mut out = String::from("---\n");
    let mut line = |key: &str, value: String| out.push_str(&format!("{key}: {value}\n"));
    line("name", quote(&manifest.name));
    line("title", quote(&manifest.title));
    line("description", quote(&manifest.description));
    if let Some(use_case) = &manifest.use_case {
        line("use_case", quote(use_case));
    }
    line("category", quote(manifest.category.as_str()));
    line("service_url", quote(&manifest.service_url));
    if let Some(sandbox) = &manifest.sandbox_service_url {
        line("sandbox_service_url", quote(sandbox));
    }
    line("version", quote(&manifest.version));
    line("network", quote(&manifest.network));
    line("asset", quote(&manifest.asset.to_string()));
    line("decimals", manifest.decimals.to_string());
    line("pay_to", quote(&manifest.pay_to.to_string()));
    let schemes: Vec<String> = manifest.schemes.iter().map(|s| quote(s)).collect();
    line("schemes", format!("[{}]", schemes.join(", ")));
    line("facilitator", quote(&manifest.facilitator));
    out.push_str("endpoints:\n");
    for endpoint in &manifest.endpoints {
        out.push_str(&format!("  - method: {}\n", endpoint.method));
        out.push_str(&format!("    path: {}\n", quote(&endpoint.path)));
        out.push_str(&format!(
            "    description: {}\n",
            quote(&endpoint.description)
        ));
        match endpoint.access {
            Access::Paid(price) => out.push_str(&format!("    price: {price}\n")),
            Access::Free => out.push_str("    access: free\n"),
            Access::SignIn => out.push_str("    access: sign-in\n"),
        }
        if let Some(example) = &endpoint.example_path {
            out.push_str(&format!("    example_path: {}\n", quote(example)));
        }
    }
    out.push_str("---\n");
    if !manifest.usage.is_empty() {
        out.push('\n');
        out.push_str(&manifest.usage);
        out.push('\n');
    }
    out
}

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}
