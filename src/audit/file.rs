//! Small files that must survive a crash whole: written to a temporary file beside them,
//! synced, renamed over the old one, and the directory synced, so that after a crash the file
//! holds either the old text or the new one, never part of either.

use std::io::Write;
use std::path::Path;

/// Replaces the file at `path` with `bytes`, durably (see the module documentation).
///
/// # Errors
/// The I/O error, with the file it concerns.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a path without a file name",
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp_name = name.to_owned();
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    let context = |what: &str, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", temp.display()))
    };
    {
        let mut file = std::fs::File::create(&temp).map_err(|e| context("cannot create", e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| context("cannot write", e))?;
    }
    std::fs::rename(&temp, path).map_err(|e| context("cannot rename", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot sync {}: {e}", dir.display())))
}
