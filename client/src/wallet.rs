//! The wallet: Solana CLI keypair files and the CLI's config file
//! (`~/.config/solana/cli/config.yml`), so a paytab user needs no new setup.

use std::path::{Path, PathBuf};

use solana_keypair::Keypair;

/// The Solana CLI's settings paytab reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SolanaCliConfig {
    /// `json_rpc_url`.
    pub json_rpc_url: Option<String>,
    /// `keypair_path`.
    pub keypair_path: Option<PathBuf>,
}

/// Why a wallet file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a keypair file (a JSON array of 64 bytes).
    #[error("{0}: not a Solana keypair file (a JSON array of 64 numbers)")]
    NotAKeypair(PathBuf),
}

/// `~/.config/solana/cli/config.yml` under `home`.
pub fn default_cli_config_path(home: &Path) -> PathBuf {
    home.join(".config/solana/cli/config.yml")
}

/// `~/.config/solana/id.json` under `home`.
pub fn default_keypair_path(home: &Path) -> PathBuf {
    home.join(".config/solana/id.json")
}

/// Reads the Solana CLI config at `path`; a missing file reads as empty.
pub fn read_cli_config(path: &Path) -> Result<SolanaCliConfig, WalletError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SolanaCliConfig::default())
        }
        Err(source) => {
            return Err(WalletError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    Ok(parse_cli_config(&text))
}

/// The two keys paytab needs from the CLI's YAML (flat `key: value` lines).
pub fn parse_cli_config(text: &str) -> SolanaCliConfig {
    let mut config = SolanaCliConfig::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if value.is_empty() {
            continue;
        }
        match key.trim() {
            "json_rpc_url" => config.json_rpc_url = Some(value.to_string()),
            "keypair_path" => config.keypair_path = Some(PathBuf::from(value)),
            _ => {}
        }
    }
    config
}

/// Reads a keypair file: a JSON array of the 64 secret-and-public bytes.
pub fn read_keypair(path: &Path) -> Result<Keypair, WalletError> {
    let text = std::fs::read_to_string(path).map_err(|source| WalletError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes: Vec<u8> =
        serde_json::from_str(&text).map_err(|_| WalletError::NotAKeypair(path.to_path_buf()))?;
    Keypair::try_from(bytes.as_slice()).map_err(|_| WalletError::NotAKeypair(path.to_path_buf()))
}

/// Writes `keypair` as a keypair file readable only by its owner, creating
/// parent directories; an existing file is never overwritten.
pub fn write_keypair(path: &Path, keypair: &Keypair) -> Result<(), WalletError> {
    let io = |source| WalletError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let text = serde_json::to_string(&keypair.to_bytes().to_vec())
        .map_err(|error| io(std::io::Error::other(error)))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use solana_signer::Signer;

    use super::*;

    #[test]
    fn the_cli_config_yields_its_url_and_keypair_path() {
        let config = parse_cli_config(
            "---\njson_rpc_url: \"http://127.0.0.1:8899\"\nwebsocket_url: \"\"\nkeypair_path: /home/a/.config/solana/id.json\ncommitment: confirmed\n",
        );
        assert_eq!(
            config.json_rpc_url.as_deref(),
            Some("http://127.0.0.1:8899")
        );
        assert_eq!(
            config.keypair_path,
            Some(PathBuf::from("/home/a/.config/solana/id.json"))
        );
    }

    #[test]
    fn a_written_keypair_reads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/id.json");
        let keypair = Keypair::new();
        write_keypair(&path, &keypair).unwrap();
        assert_eq!(read_keypair(&path).unwrap().pubkey(), keypair.pubkey());
        assert!(write_keypair(&path, &Keypair::new()).is_err());
    }

    #[test]
    fn a_file_that_is_not_a_keypair_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        std::fs::write(&path, "[1, 2, 3]").unwrap();
        let error = read_keypair(&path).unwrap_err();
        assert!(error.to_string().contains("not a Solana keypair file"));
    }
}
