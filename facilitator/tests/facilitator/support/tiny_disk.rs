//! A tiny disk to fill up: the full-disk tests of the facilitator and the
//! gateway mount one each.

/// A tiny tmpfs of its own (root only), to fill up in tests; unmounted on drop.
pub struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    /// Mounts `kib` KiB of tmpfs; `None` where mounting is not permitted
    /// (then the caller skips, unless CI must run it).
    pub fn mount(kib: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            return Some(Self { dir });
        }
        assert!(
            std::env::var("CI").map_or(true, |ci| ci != "true"),
            "CI=true but a tmpfs cannot be mounted here: the full-disk tests need root"
        );
        eprintln!("cannot mount a tmpfs (not root?): full-disk test skipped");
        None
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Fills the disk but for about `leave` bytes.
    pub fn fill(&self, leave: u64) {
        use std::io::Write;
        let path = self.path("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_ok()
        {}
        let written = std::fs::metadata(&path).unwrap().len();
        file.set_len(written.saturating_sub(leave)).unwrap();
        file.sync_all().unwrap();
    }

    /// Frees what [`TinyDisk::fill`] took.
    pub fn free(&self) {
        std::fs::remove_file(self.path("filler")).unwrap();
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
