//! Writing dump files so that a reader never sees a partial one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

/// Writes `bytes` as `dir/file_name`: a temporary file in `dir`, fsync, rename,
/// then fsync of the directory. Creates `dir` if needed.
pub fn write_dump_atomically(dir: &Path, file_name: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
    let target = dir.join(file_name);
    let fail = |source| Error::WriteDump {
        path: target.clone(),
        source,
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, &target)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(fail(source));
    }
    Ok(target)
}
