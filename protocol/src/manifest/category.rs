//! The catalog's fixed list of categories.

use std::fmt;

/// The fixed list of categories (Pay.sh's registry uses the same 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Models, inference, embeddings.
    AiMl,
    /// Cloud infrastructure.
    Cloud,
    /// Compute jobs.
    Compute,
    /// Datasets and data feeds.
    Data,
    /// Developer tools.
    Devtools,
    /// Markets, prices, payments.
    Finance,
    /// Identity and verification.
    Identity,
    /// Maps and places.
    Maps,
    /// Images, audio, video.
    Media,
    /// Email, SMS, chat.
    Messaging,
    /// Anything else.
    Other,
    /// Documents, calendars, office work.
    Productivity,
    /// Web and document search.
    Search,
    /// Security tools.
    Security,
    /// Commerce.
    Shopping,
    /// Files and objects.
    Storage,
    /// Translation.
    Translation,
}

impl Category {
    /// Every category, in the order of their names.
    pub const ALL: [Category; 17] = [
        Self::AiMl,
        Self::Cloud,
        Self::Compute,
        Self::Data,
        Self::Devtools,
        Self::Finance,
        Self::Identity,
        Self::Maps,
        Self::Media,
        Self::Messaging,
        Self::Other,
        Self::Productivity,
        Self::Search,
        Self::Security,
        Self::Shopping,
        Self::Storage,
        Self::Translation,
    ];

    /// Its name on the wire (`ai_ml`, `finance`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AiMl => "ai_ml",
            Self::Cloud => "cloud",
            Self::Compute => "compute",
            Self::Data => "data",
            Self::Devtools => "devtools",
            Self::Finance => "finance",
            Self::Identity => "identity",
            Self::Maps => "maps",
            Self::Media => "media",
            Self::Messaging => "messaging",
            Self::Other => "other",
            Self::Productivity => "productivity",
            Self::Search => "search",
            Self::Security => "security",
            Self::Shopping => "shopping",
            Self::Storage => "storage",
            Self::Translation => "translation",
        }
    }

    /// The category named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
