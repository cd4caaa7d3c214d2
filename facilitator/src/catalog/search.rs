//! A search request: free text turned into words a full-text engine matches
//! (any word may match; the engine ranks), plus filters and a page.

use paytab_protocol::manifest::Category;
use paytab_protocol::networks::normalise_network;
use serde::Deserialize;
use solana_pubkey::Pubkey;

use crate::store::ListingQuery;

/// Most words of a query used.
const MAX_WORDS: usize = 16;
/// Results per page by default, and at most.
const DEFAULT_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 50;

/// Words too common to say anything about a service.
const STOPWORDS: [&str; 24] = [
    "a", "an", "and", "api", "apis", "are", "at", "by", "for", "from", "i", "in", "is", "it", "me",
    "need", "of", "on", "or", "service", "the", "to", "want", "with",
];

/// The query string of `GET /catalog/search`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// Free text.
    #[serde(default)]
    pub q: Option<String>,
    /// One category.
    pub category: Option<String>,
    /// A network (CAIP-2 or v1 name).
    pub network: Option<String>,
    /// A mint.
    pub asset: Option<String>,
    /// Highest acceptable price, raw units.
    pub max_price: Option<u64>,
    /// Results per page (1–50, default 10).
    pub limit: Option<u32>,
    /// Results skipped.
    pub offset: Option<u32>,
}

/// Lower-case alphanumeric words of `text`, without stopwords and repeats.
pub fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|word| word.chars().count() > 1 && !STOPWORDS.contains(&word.as_str()))
    {
        if !words.contains(&word) && words.len() < MAX_WORDS {
            words.push(word);
        }
    }
    words
}

impl SearchParams {
    /// The store query, or which parameter is wrong.
    pub fn query(&self) -> Result<ListingQuery, String> {
        if let Some(category) = &self.category {
            if Category::parse(category).is_none() {
                return Err(format!("category {category:?} is not a catalog category"));
            }
        }
        if let Some(asset) = &self.asset {
            asset
                .parse::<Pubkey>()
                .map_err(|_| format!("asset {asset:?} is not a mint address"))?;
        }
        let text = self.q.as_deref().unwrap_or_default();
        if text.len() > 512 {
            return Err("q is longer than 512 bytes".into());
        }
        Ok(ListingQuery {
            words: words(text),
            category: self.category.clone(),
            network: self.network.as_deref().map(normalise_network),
            asset: self.asset.clone(),
            max_price: self.max_price,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
            offset: self.offset.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_becomes_distinct_lower_case_words_without_stopwords() {
        assert_eq!(
            words("I need a WEATHER api for Paris, weather-forecast!"),
            vec!["weather", "paris", "forecast"]
        );
        assert_eq!(
            words("\"; DROP TABLE listings; --"),
            vec!["drop", "table", "listings"]
        );
        assert!(words("").is_empty());
    }

    #[test]
    fn unknown_categories_and_assets_are_refused_naming_the_parameter() {
        let params = SearchParams {
            category: Some("weather".into()),
            ..SearchParams::default()
        };
        assert!(params.query().unwrap_err().starts_with("category"));
        let params = SearchParams {
            asset: Some("usdc".into()),
            ..SearchParams::default()
        };
        assert!(params.query().unwrap_err().starts_with("asset"));
    }
}
