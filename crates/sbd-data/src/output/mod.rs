//! Dataset output: Parquet shards ([`parquet`]), the dataset card ([`card`]), trainer
//! exports ([`export`]) and the quantity report against the requirements ([`quantity`]).
pub mod card;
pub mod export;
pub mod parquet;
pub mod quantity;

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// renamed over the target, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), crate::Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    let tmp = tmp_path(path);
    let mut f = std::fs::File::create(&tmp).map_err(|e| crate::Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| crate::Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| crate::Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| crate::Error::io(path, e))
}

/// The temporary name used while `path` is being written.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}
