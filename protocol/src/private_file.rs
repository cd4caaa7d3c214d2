//! Files only their owner may read: the databases that hold payment records,
//! receipts and used payments (SQLite gives its `-wal` and `-shm` files the
//! main file's permissions).

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Creates `path` (and its missing parent directories) if needed, and makes it
/// readable and writable by its owner only (`0600` on Unix).
pub fn create(path: &Path) -> io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        options.open(path).map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_new_or_existing_file_ends_up_owner_only() {
        let dir = std::env::temp_dir().join(format!("paytab-private-{}", std::process::id()));
        let path = dir.join("nested").join("ledger.db");
        create(&path).unwrap();
        std::fs::write(&path, b"kept").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            create(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"kept", "contents are kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
