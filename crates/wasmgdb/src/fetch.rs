//! A symbol-server client: fetches debug files by build id from the
//! collector's debuginfod-style endpoint, `GET {URL}/buildid/{id}/debuginfo`,
//! keeping what it downloads in a local cache directory
//! (`{cache}/{id}/debuginfo`) so later sessions work offline.

use std::path::PathBuf;
use std::time::Duration;

use wasm_symbolicate::{DebugFileFetcher, FetchRequest, FetchedDebugFile};

/// Largest debug file accepted from a server.
const MAX_DEBUG_FILE: u64 = 1 << 30;

type FetchError = Box<dyn std::error::Error + Send + Sync>;

/// See the module docs.
pub struct SymbolServer {
    url: String,
    cache: Option<PathBuf>,
    agent: ureq::Agent,
}

impl SymbolServer {
    pub fn new(url: &str, cache: Option<PathBuf>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        SymbolServer {
            url: url.trim_end_matches('/').to_string(),
            cache,
            agent,
        }
    }

    /// The default cache: `$XDG_CACHE_HOME/wasmgdb/debuginfo` or `~/.cache/…`.
    pub fn default_cache() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("wasmgdb").join("debuginfo"))
    }
}

impl DebugFileFetcher for SymbolServer {
    fn describe(&self) -> String {
        format!("symbol server {}", self.url)
    }

    fn fetch(&self, request: &FetchRequest<'_>) -> Result<Option<FetchedDebugFile>, FetchError> {
        let Some(id) = request.build_id else {
            return Ok(None);
        };
        let hex = id.to_hex();
        let cached = self.cache.as_ref().map(|c| c.join(&hex).join("debuginfo"));
        if let Some(path) = &cached
            && let Ok(bytes) = std::fs::read(path)
        {
            return Ok(Some(FetchedDebugFile {
                bytes,
                origin: path.display().to_string(),
            }));
        }
        let url = format!("{}/buildid/{hex}/debuginfo", self.url);
        let response = match self.agent.get(&url).call() {
            Ok(r) => r,
            Err(ureq::Error::StatusCode(404)) => return Ok(None),
            Err(e) => return Err(format!("GET {url}: {e}").into()),
        };
        let mut body = response.into_body();
        let bytes = body
            .with_config()
            .limit(MAX_DEBUG_FILE)
            .read_to_vec()
            .map_err(|e| format!("GET {url}: {e}"))?;
        if let Some(path) = &cached
            && let Some(dir) = path.parent()
            && std::fs::create_dir_all(dir).is_ok()
        {
            // Write then rename, so a concurrent session never reads half a file.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, &bytes).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
        Ok(Some(FetchedDebugFile { bytes, origin: url }))
    }
}
