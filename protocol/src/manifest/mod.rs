//! The provider manifest: what a provider publishes to a catalog about its
//! service (name, description, category, endpoints and prices, and paytab's
//! payment facts), and the signed publication that carries it.
//!
//! - [`fields`]: the manifest and its validation, every error naming its
//!   field (read by `reader`; categories in `category`);
//! - [`pay_md`]: reading and writing it as a `PAY.md` file (YAML front matter,
//!   usage notes as the Markdown body), the layout of Pay.sh's registry;
//! - [`publication`]: the canonical JSON a provider signs, and its check.
//!
//! `docs/protocol.md` §9 specifies the format with a test vector.

mod category;
pub mod fields;
pub mod pay_md;
pub mod publication;
mod reader;

pub use fields::{Access, Category, Endpoint, Manifest, ManifestError};
pub use publication::{Publication, PublicationError};

#[cfg(test)]
mod tests;
