//! The collector's logic, independent of HTTP: ingest, debug files,
//! re-symbolication, retention, and the background tasks (Sentry delivery
//! lives in [`crate::sentry`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use wasm_coredump::{BuildId, CoreDump, ModuleLayout};

use crate::auth::Auth;
use crate::config::{Config, StoreConfig};
use crate::error::Error;
use crate::fingerprint::{FINGERPRINT_VERSION, fingerprint};
use crate::index::{Index, InsertOutcome, NewDump, NewGroup, Resymbolicated};
use crate::ingest::{Encoding, UploadError, UploadMetadata, decode_body, parse_upload};
use crate::metrics::{Gauges, Metrics};
use crate::model::{DebugFileRecord, IngestReply, ModuleInfo, StackTrace};
use crate::sentry::Outbox;
use crate::store::{BlobStore, LocalStore, S3Store};
use crate::symbolicate::{
    ModuleSymbols, SymbolCache, frame_variables, modules_of, symbolicate_stack,
    unsymbolicated_stack, wanted_build_ids,
};

/// The first bytes of every Wasm module (and so of every dump).
const WASM_MAGIC: &[u8; 8] = b"\0asm\x01\0\0\0";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One upload, as the HTTP layer hands it over.
#[derive(Debug, Clone, Default)]
pub struct IngestRequest {
    /// The token id the upload came with (idempotency keys are per token).
    pub scope: String,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub body: Bytes,
    /// `service`, `version`, `environment` from the query string, for raw uploads.
    pub query_metadata: UploadMetadata,
}

/// The outcome of an accepted upload.
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The reply JSON (stored verbatim for idempotent replays).
    pub reply: String,
    /// Whether this is a replay of an earlier upload with the same key.
    pub replayed: bool,
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub expired: u64,
    pub pruned: u64,
    pub idempotency_keys: u64,
}

pub(crate) struct Inner {
    pub config: Config,
    pub index: Index,
    pub store: Arc<dyn BlobStore>,
    pub symbols: SymbolCache,
    pub metrics: Metrics,
    pub auth: Auth,
    /// This instance's side of the Sentry outbox (wake-ups, claimed rows).
    pub sentry: Outbox,
    /// Serializes loading debug files into the cache (no stampede on a cold cache).
    loading: tokio::sync::Mutex<()>,
    /// One re-symbolication pass at a time in this instance.
    resymbolicating: tokio::sync::Mutex<()>,
}

/// A collector instance: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Collector {
    pub(crate) inner: Arc<Inner>,
}

struct Prepared {
    stack: StackTrace,
    values_json: String,
    modules: Vec<ModuleInfo>,
    trap_kind: String,
    trap_message: String,
    executable: Option<String>,
    sha256: String,
    /// The dump's own capture facts (`postmortem.info`).
    info: Vec<(String, String)>,
    dump: CoreDump,
}

fn prepare(bytes: &[u8], metadata: &UploadMetadata) -> Result<Prepared, Error> {
    if bytes.len() < WASM_MAGIC.len() || &bytes[..4] != b"\0asm" {
        return Err(Error::InvalidDump(
            "the body is not a WebAssembly module (no \\0asm header)".into(),
        ));
    }
    if &bytes[..8] != WASM_MAGIC {
        return Err(Error::InvalidDump(
            "the body is a WebAssembly component or an unknown version, not a core dump".into(),
        ));
    }
    let dump = CoreDump::parse(bytes).map_err(|e| Error::InvalidDump(e.to_string()))?;
    if dump.threads.is_empty() && dump.executable_name.is_none() {
        return Err(Error::InvalidDump(
            "the module has no core-dump sections (`core`, `corestack`): it is a plain module, not a dump".into(),
        ));
    }
    let modules = modules_of(&dump, &metadata.build_id_overrides());
    let (stack, values) = unsymbolicated_stack(&dump, &modules);
    let (trap_kind, trap_message) = match &dump.trap {
        Some(trap) => (trap.kind.to_string(), trap.message.clone()),
        None => ("unknown".to_string(), String::new()),
    };
    let sha256: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Prepared {
        stack,
        values_json: serde_json::to_string(&values).map_err(|e| Error::Internal(e.to_string()))?,
        modules,
        trap_kind,
        trap_message,
        executable: dump.executable_name.clone(),
        sha256,
        info: dump.info.clone(),
        dump,
    })
}

/// Parses a build id from a URL path: hex (2 to 128 digits, even count) or a
/// hyphenated UUID. Returns it as lower-case hex.
pub fn parse_build_id_path(text: &str) -> Result<String, Error> {
    let shown: String = text.chars().take(80).collect();
    let ok_chars = text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    let hex_len = text.bytes().filter(u8::is_ascii_hexdigit).count();
    if !ok_chars || !(2..=128).contains(&hex_len) || text.len() > 160 {
        return Err(Error::InvalidBuildId(format!(
            "`{shown}`: a build id is 2 to 128 hexadecimal digits (or a hyphenated UUID)"
        )));
    }
    if text.contains('-') && !(text.len() == 36 && uuid::Uuid::parse_str(text).is_ok()) {
        return Err(Error::InvalidBuildId(format!(
            "`{shown}`: hyphens are only allowed in a UUID"
        )));
    }
    BuildId::parse(text).map(|id| id.to_hex()).ok_or_else(|| {
        Error::InvalidBuildId(format!("`{shown}`: an odd number of hexadecimal digits"))
    })
}

fn dump_key(id: &str) -> String {
    let shard = &id[id.len().saturating_sub(2)..];
    format!("dumps/{shard}/{id}.wasm")
}

fn debug_file_key(build_id: &str) -> String {
    format!("debug/{build_id}.wasm")
}

impl Collector {
    /// Opens the index and the store and makes the collector ready to serve.
    pub async fn open(config: Config) -> Result<Self, Error> {
        if config.limits.max_dump == 0 || config.limits.max_body == 0 {
            return Err(Error::Config("size limits must be positive".into()));
        }
        for origin in &config.cors_origins {
            crate::config::parse_cors_origin(origin)
                .map_err(|e| Error::Config(format!("CORS origin: {e}")))?;
        }
        let store: Arc<dyn BlobStore> = match &config.store {
            StoreConfig::Local(dir) => Arc::new(Arc::new(LocalStore::open(dir).map_err(|e| {
                Error::Config(format!(
                    "cannot use {} as the object store: {e}",
                    dir.display()
                ))
            })?)),
            StoreConfig::S3(options) => Arc::new(S3Store::open(options)?.0),
        };
        if let Some(parent) = config
            .database_url
            .strip_prefix("sqlite://")
            .map(|p| std::path::Path::new(p.split('?').next().unwrap_or(p)).to_path_buf())
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&parent)
                .map_err(|e| Error::Config(format!("cannot create {}: {e}", parent.display())))?;
        }
        let index = Index::open(&config.database_url).await?;
        let auth = Auth::new(
            &config.ingest_tokens,
            &config.read_tokens,
            config.rate_limit.clone(),
        );
        tracing::info!(
            index = index.describe(),
            store = store.describe(),
            ingest_tokens = config.ingest_tokens.len(),
            read_tokens = config.read_tokens.len(),
            "collector ready"
        );
        if config.ingest_tokens.is_empty() {
            tracing::warn!("no --ingest-token: anyone who can reach the collector can upload");
        }
        if config.read_tokens.is_empty() {
            tracing::warn!("no --read-token: anyone who can reach the collector can read dumps");
        }
        if let Some(sentry) = &config.sentry {
            tracing::info!(endpoint = %sentry.dsn.envelope_url(), "forwarding new dumps to Sentry");
        }
        Ok(Collector {
            inner: Arc::new(Inner {
                symbols: SymbolCache::new(config.symbol_cache_size),
                config,
                index,
                store,
                metrics: Metrics::default(),
                auth,
                sentry: Outbox::default(),
                loading: tokio::sync::Mutex::new(()),
                resymbolicating: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn index(&self) -> &Index {
        &self.inner.index
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Receives one dump: decodes, validates, symbolicates, groups, stores
    /// the file durably and then indexes it.
    pub async fn ingest(&self, request: IngestRequest) -> Result<Ingested, Error> {
        let started = Instant::now();
        let inner = &self.inner;
        if let Some(key) = &request.idempotency_key
            && let Some(reply) = inner.index.idempotent_reply(&request.scope, key).await?
        {
            inner
                .metrics
                .dumps_duplicate
                .fetch_add(1, Ordering::Relaxed);
            return Ok(Ingested {
                reply,
                replayed: true,
            });
        }
        let encoding = Encoding::from_header(request.content_encoding.as_deref())?;
        let max_dump = inner.config.limits.max_dump;
        let body = request.body;
        // Room for a multipart envelope and its metadata part around the dump.
        let max_decoded = max_dump.saturating_add(inner.config.limits.max_metadata + 64 * 1024);
        let decoded = if encoding == Encoding::Identity {
            decode_body(body, encoding, max_decoded)?
        } else {
            tokio::task::spawn_blocking(move || decode_body(body, encoding, max_decoded)).await??
        };
        let mut upload = parse_upload(
            request.content_type.as_deref(),
            decoded,
            inner.config.limits.max_metadata,
        )
        .await?;
        if upload.dump.len() > max_dump {
            return Err(UploadError::TooLarge(format!(
                "the dump is {} bytes, larger than the limit of {max_dump} bytes",
                upload.dump.len()
            ))
            .into());
        }
        let query = request.query_metadata;
        upload.metadata.service = upload.metadata.service.or(query.service);
        upload.metadata.version = upload.metadata.version.or(query.version);
        upload.metadata.environment = upload.metadata.environment.or(query.environment);
        upload.metadata.validate()?;

        let dump_bytes = upload.dump.clone();
        let metadata = upload.metadata.clone();
        let prepared =
            tokio::task::spawn_blocking(move || prepare(&dump_bytes, &metadata)).await??;
        let Prepared {
            mut stack,
            values_json,
            mut modules,
            trap_kind,
            trap_message,
            executable,
            sha256,
            info,
            dump,
        } = prepared;

        let wanted = wanted_build_ids(&stack);
        let symbols = self.symbols_for(&wanted).await;
        for module in &mut modules {
            module.has_debug_file = module
                .build_id
                .as_ref()
                .is_some_and(|id| symbols.contains_key(id));
        }
        let mut variables = None;
        if !symbols.is_empty() {
            let symbolicated = Instant::now();
            (stack, variables) = tokio::task::spawn_blocking(move || {
                symbolicate_stack(&mut stack, &symbols);
                let variables = frame_variables(&stack, &dump, &symbols);
                (stack, variables)
            })
            .await?;
            inner
                .metrics
                .symbolication_duration
                .observe(symbolicated.elapsed());
        }
        let fp = fingerprint(&trap_kind, &stack);

        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let key = dump_key(&id);
        let size = upload.dump.len() as i64;
        let put_started = Instant::now();
        inner.store.put(&key, upload.dump).await?;
        inner
            .metrics
            .store_put_duration
            .observe(put_started.elapsed());

        let mut context = upload.metadata.context();
        if !info.is_empty()
            && let Some(map) = context.as_object_mut()
        {
            let mut capture: serde_json::Map<String, serde_json::Value> = info
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            let mut value = serde_json::Value::Object(std::mem::take(&mut capture));
            crate::ingest::scrub(&mut value);
            map.insert("capture".into(), value);
        }
        let new = NewDump {
            id: id.clone(),
            received_at: now_ms(),
            blob_key: key.clone(),
            size,
            sha256,
            service: upload.metadata.service.clone(),
            version: upload.metadata.version.clone(),
            environment: upload.metadata.environment.clone(),
            trap_kind: trap_kind.clone(),
            trap_message,
            executable,
            symbolication: stack.state,
            top_frame: fp.top_frame.clone(),
            stack_json: serde_json::to_string(&stack)
                .map_err(|e| Error::Internal(e.to_string()))?,
            values_json,
            variables_json: variables.map(|v| serde_json::to_string(&v).unwrap_or_default()),
            modules_json: serde_json::to_string(&modules)
                .map_err(|e| Error::Internal(e.to_string()))?,
            context_json: context.to_string(),
            waiting_for: stack.missing_build_ids.clone(),
            group: NewGroup {
                id: fp.group_id.clone(),
                fingerprint: fp.text.clone(),
                fingerprint_version: FINGERPRINT_VERSION,
                title: fp.title.clone(),
                trap_kind,
                top_frame: fp.top_frame.clone(),
            },
            idempotency: request.idempotency_key.map(|k| (request.scope.clone(), k)),
            forward_to_sentry: inner.config.sentry.is_some(),
        };
        let state = stack.state;
        let outcome = inner
            .index
            .insert_dump(&new, |new_group| {
                serde_json::to_string(&IngestReply {
                    id: id.clone(),
                    group_id: fp.group_id.clone(),
                    new_group,
                    symbolication: state,
                    url: format!("/api/v1/dumps/{id}"),
                })
                .unwrap_or_default()
            })
            .await;
        match outcome {
            Ok(InsertOutcome::Inserted { new_group, reply }) => {
                let m = &inner.metrics;
                m.dumps_received.fetch_add(1, Ordering::Relaxed);
                m.dump_bytes_received
                    .fetch_add(size as u64, Ordering::Relaxed);
                if new_group {
                    m.groups_created.fetch_add(1, Ordering::Relaxed);
                }
                m.ingest_duration.observe(started.elapsed());
                tracing::info!(dump = %id, group = %fp.group_id, new_group, size, symbolication = state.as_str(), "dump stored");
                if new.forward_to_sentry {
                    inner.sentry.wake();
                }
                Ok(Ingested {
                    reply,
                    replayed: false,
                })
            }
            Ok(InsertOutcome::Duplicate { reply }) => {
                // A concurrent upload with the same key won; ours was never indexed.
                let _ = inner.store.delete(&key).await;
                inner
                    .metrics
                    .dumps_duplicate
                    .fetch_add(1, Ordering::Relaxed);
                Ok(Ingested {
                    reply,
                    replayed: true,
                })
            }
            Err(err) => {
                let _ = inner.store.delete(&key).await;
                Err(err.into())
            }
        }
    }

    /// Opened debug files for the build ids that have one.
    pub(crate) async fn symbols_for(
        &self,
        build_ids: &BTreeSet<String>,
    ) -> HashMap<String, Arc<ModuleSymbols>> {
        let inner = &self.inner;
        let mut found = HashMap::new();
        for id in build_ids {
            if let Some(symbols) = inner.symbols.get(id) {
                found.insert(id.clone(), symbols);
                continue;
            }
            let _loading = inner.loading.lock().await;
            if let Some(symbols) = inner.symbols.get(id) {
                found.insert(id.clone(), symbols);
                continue;
            }
            match self.load_debug_file(id).await {
                Ok(Some(symbols)) => {
                    inner.symbols.insert(id, symbols.clone());
                    found.insert(id.clone(), symbols);
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(build_id = %id, error = %err, "cannot open debug file"),
            }
        }
        found
    }

    async fn load_debug_file(&self, build_id: &str) -> Result<Option<Arc<ModuleSymbols>>, Error> {
        let Some((_, key)) = self.inner.index.debug_file(build_id).await? else {
            return Ok(None);
        };
        let Some(bytes) = self.inner.store.get(&key).await? else {
            return Ok(None);
        };
        let name = format!("debug-{build_id}.wasm");
        let symbols = tokio::task::spawn_blocking(move || {
            ModuleSymbols::from_debug_file(bytes.to_vec(), &name)
        })
        .await?
        .map_err(Error::InvalidDebugFile)?;
        Ok(Some(Arc::new(symbols)))
    }

    /// Validates and stores a debug file for `build_id` (from the URL path),
    /// then re-symbolicates the dumps waiting for it in the background.
    /// Returns the record and whether it is new.
    pub async fn put_debug_file(
        &self,
        build_id: &str,
        body: Bytes,
    ) -> Result<(DebugFileRecord, bool), Error> {
        let build_id = parse_build_id_path(build_id)?;
        if body.len() < 8 || &body[..8] != WASM_MAGIC {
            return Err(Error::InvalidDebugFile(
                "the body is not a WebAssembly module".into(),
            ));
        }
        let bytes = body.clone();
        let name = format!("debug-{build_id}.wasm");
        let expected = build_id.clone();
        let symbols = tokio::task::spawn_blocking(move || -> Result<ModuleSymbols, Error> {
            let layout = ModuleLayout::parse(&bytes)
                .map_err(|e| Error::InvalidDebugFile(format!("not a valid WebAssembly module: {e}")))?;
            if !layout.has_dwarf() {
                return Err(Error::InvalidDebugFile(
                    "the module carries no DWARF (.debug_info section): upload the debug file, not the stripped module".into(),
                ));
            }
            match layout.build_id() {
                None => {
                    return Err(Error::InvalidDebugFile(
                        "the module has no build_id section, so it cannot be matched to dumps".into(),
                    ));
                }
                Some(id) if id.to_hex() != expected => {
                    return Err(Error::InvalidDebugFile(format!(
                        "the module's build id is {}, not {expected} as the URL says",
                        id.to_hex()
                    )));
                }
                Some(_) => {}
            }
            ModuleSymbols::from_debug_file(bytes.to_vec(), &name).map_err(Error::InvalidDebugFile)
        })
        .await??;
        let record = DebugFileRecord {
            build_id: build_id.clone(),
            size: body.len() as i64,
            sha256: Sha256::digest(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            uploaded_at: now_ms(),
            waiting_dumps: 0,
        };
        let key = debug_file_key(&build_id);
        self.inner.store.put(&key, body).await?;
        let created = self.inner.index.upsert_debug_file(&record, &key).await?;
        self.inner.symbols.insert(&build_id, Arc::new(symbols));
        self.inner
            .metrics
            .debug_files_uploaded
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(build_id = %build_id, size = record.size, created, "debug file stored");
        let this = self.clone();
        let id = build_id.clone();
        tokio::spawn(async move {
            if let Err(err) = this.resymbolicate(&id).await {
                tracing::warn!(build_id = %id, error = %err, "re-symbolication failed; the periodic sweep will retry");
            }
        });
        Ok((record, created))
    }

    /// The bytes of a stored debug file.
    pub async fn debug_file_bytes(&self, build_id: &str) -> Result<Bytes, Error> {
        let build_id = parse_build_id_path(build_id)?;
        let (_, key) = self
            .inner
            .index
            .debug_file(&build_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("debug file {build_id}")))?;
        self.inner.store.get(&key).await?.ok_or_else(|| {
            Error::Internal(format!(
                "debug file {build_id} is indexed but missing from the store"
            ))
        })
    }

    /// The bytes of a stored dump.
    pub async fn dump_bytes(&self, id: &str) -> Result<Bytes, Error> {
        let (_, key) = self
            .inner
            .index
            .dump(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("dump {id}")))?;
        let key = key.ok_or_else(|| {
            Error::Gone(format!(
                "the file of dump {id} was removed by retention (per-group cap); its record remains"
            ))
        })?;
        self.inner.store.get(&key).await?.ok_or_else(|| {
            Error::Internal(format!("dump {id} is indexed but missing from the store"))
        })
    }

    /// Symbolicates again the dumps waiting for `build_id`, moving them to
    /// their new groups. Returns how many were updated.
    pub async fn resymbolicate(&self, build_id: &str) -> Result<usize, Error> {
        let _one_at_a_time = self.inner.resymbolicating.lock().await;
        let ids: BTreeSet<String> = [build_id.to_string()].into();
        if self.symbols_for(&ids).await.is_empty() {
            return Ok(0);
        }
        let mut updated = 0;
        // Bounded: each pass removes the rows it handled.
        for _ in 0..10_000 {
            let rows = self.inner.index.waiting_dumps(build_id, 100).await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let mut stack: StackTrace = match serde_json::from_str(&row.stack_json) {
                    Ok(stack) => stack,
                    Err(err) => {
                        tracing::warn!(dump = %row.id, error = %err, "unreadable stack record; not waiting any more");
                        self.inner.index.forget_waiting(build_id, &row.id).await?;
                        continue;
                    }
                };
                let before = wanted_build_ids(&stack);
                let symbols = self.symbols_for(&before).await;
                // Variables need the dump itself (memory, globals), while it is stored.
                let dump_bytes = match &row.blob_key {
                    Some(key) => self.inner.store.get(key).await.ok().flatten(),
                    None => None,
                };
                let started = Instant::now();
                let (new_stack, variables) = tokio::task::spawn_blocking(move || {
                    symbolicate_stack(&mut stack, &symbols);
                    let variables = dump_bytes
                        .and_then(|bytes| CoreDump::parse(&bytes).ok())
                        .and_then(|dump| frame_variables(&stack, &dump, &symbols));
                    (stack, variables)
                })
                .await?;
                stack = new_stack;
                self.inner
                    .metrics
                    .symbolication_duration
                    .observe(started.elapsed());
                let after = wanted_build_ids(&stack);
                let mut resolved: Vec<String> = before.difference(&after).cloned().collect();
                if !after.contains(build_id) && !resolved.iter().any(|r| r == build_id) {
                    resolved.push(build_id.to_string());
                }
                let fp = fingerprint(&row.trap_kind, &stack);
                let new = Resymbolicated {
                    variables_json: variables
                        .map(|v| serde_json::to_string(&v).unwrap_or_default()),
                    stack_json: serde_json::to_string(&stack)
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    symbolication: stack.state,
                    top_frame: fp.top_frame.clone(),
                    group: NewGroup {
                        id: fp.group_id.clone(),
                        fingerprint: fp.text.clone(),
                        fingerprint_version: FINGERPRINT_VERSION,
                        title: fp.title.clone(),
                        trap_kind: row.trap_kind.clone(),
                        top_frame: fp.top_frame.clone(),
                    },
                    resolved,
                };
                if self.inner.index.apply_resymbolication(&row, &new).await? {
                    updated += 1;
                    self.inner
                        .metrics
                        .dumps_resymbolicated
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(dump = %row.id, from = %row.group_id, to = %fp.group_id, "dump re-symbolicated");
                }
            }
        }
        Ok(updated)
    }

    /// Re-symbolicates every dump whose debug file is now stored (covers
    /// uploads to other instances and races with ingest).
    pub async fn resymbolicate_ready(&self) -> Result<usize, Error> {
        let mut total = 0;
        for build_id in self.inner.index.ready_build_ids().await? {
            total += self.resymbolicate(&build_id).await?;
        }
        Ok(total)
    }

    /// One retention pass: expire old dumps, prune files beyond the
    /// per-group cap, forget old idempotency keys.
    pub async fn run_retention(&self) -> Result<RetentionReport, Error> {
        let inner = &self.inner;
        let retention = &inner.config.retention;
        let mut report = RetentionReport::default();
        let now = now_ms();
        if let Some(max_age) = retention.max_age {
            let cutoff = now - max_age.as_millis() as i64;
            loop {
                let expired = inner.index.expired_dumps(cutoff, 500).await?;
                if expired.is_empty() {
                    break;
                }
                let pairs: Vec<(String, String)> = expired
                    .iter()
                    .map(|(id, g, _)| (id.clone(), g.clone()))
                    .collect();
                report.expired += inner.index.delete_dumps(&pairs).await?;
                for (_, _, key) in expired {
                    if let Some(key) = key {
                        inner.store.delete(&key).await?;
                    }
                }
            }
        }
        if let Some(cap) = retention.max_dumps_per_group {
            let cap = cap as i64;
            for group in inner.index.groups_over_cap(cap).await? {
                loop {
                    let extra = inner.index.dumps_beyond_cap(&group, cap, 500).await?;
                    if extra.is_empty() {
                        break;
                    }
                    let ids: Vec<String> = extra.iter().map(|(id, _)| id.clone()).collect();
                    inner.index.mark_pruned(&ids).await?;
                    report.pruned += ids.len() as u64;
                    for (_, key) in extra {
                        inner.store.delete(&key).await?;
                    }
                }
            }
        }
        report.idempotency_keys = inner
            .index
            .forget_idempotency_keys_before(now - retention.idempotency_ttl.as_millis() as i64)
            .await?;
        inner
            .metrics
            .dumps_expired
            .fetch_add(report.expired, Ordering::Relaxed);
        inner
            .metrics
            .dumps_pruned
            .fetch_add(report.pruned, Ordering::Relaxed);
        if report != RetentionReport::default() {
            tracing::info!(
                expired = report.expired,
                pruned = report.pruned,
                keys = report.idempotency_keys,
                "retention pass"
            );
        }
        Ok(report)
    }

    /// Runs retention and the re-symbolication sweep periodically, and the
    /// Sentry worker when forwarding is on, until the collector is dropped
    /// or the task is aborted.
    pub fn spawn_background_tasks(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        let retention_every = self
            .inner
            .config
            .retention
            .interval
            .max(Duration::from_millis(100));
        let sweep_every = self
            .inner
            .config
            .resymbolicate_interval
            .max(Duration::from_millis(100));
        let sentry = crate::sentry::worker(Arc::downgrade(&self.inner));
        let periodic = async move {
            // The first passes come one period after start, not at once.
            let start = tokio::time::Instant::now();
            let mut retention = tokio::time::interval_at(start + retention_every, retention_every);
            let mut sweep = tokio::time::interval_at(start + sweep_every, sweep_every);
            retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let which = tokio::select! {
                    _ = retention.tick() => 0,
                    _ = sweep.tick() => 1,
                };
                let Some(inner) = weak.upgrade() else { break };
                let collector = Collector { inner };
                let result = if which == 0 {
                    collector.run_retention().await.map(|_| ())
                } else {
                    collector.resymbolicate_ready().await.map(|_| ())
                };
                if let Err(err) = result {
                    tracing::warn!(error = %err, task = if which == 0 { "retention" } else { "re-symbolication" }, "background task failed");
                }
            }
        };
        // One task: aborting it stops both.
        tokio::spawn(async move {
            tokio::join!(periodic, sentry);
        })
    }

    /// Gauges for `/metrics`.
    pub async fn gauges(&self) -> Gauges {
        let mut gauges = Gauges {
            symbol_cache: self.inner.symbols.len(),
            ..Gauges::default()
        };
        if let Ok([dumps, stored, groups, debug_files, waiting, sentry_outbox]) =
            self.inner.index.totals().await
        {
            gauges.dumps = dumps;
            gauges.stored = stored;
            gauges.groups = groups;
            gauges.debug_files = debug_files;
            gauges.waiting = waiting;
            gauges.sentry_outbox = sentry_outbox;
            gauges.up = true;
        }
        gauges
    }

    /// Releases the Sentry events this instance was still sending (so a
    /// restart or another instance takes them at once), then closes the
    /// database pools.
    pub async fn close(&self) {
        let claimed = self.inner.sentry.take_claimed();
        if !claimed.is_empty()
            && let Err(err) = self.inner.index.release_sentry_events(&claimed).await
        {
            tracing::warn!(error = %err, "cannot release Sentry events; they wait for their lease to end");
        }
        self.inner.index.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_paths() {
        assert_eq!(parse_build_id_path("ABCDEF01").unwrap(), "abcdef01");
        assert_eq!(
            parse_build_id_path("10213243-5465-7687-98a9-bacbdcedfe0f").unwrap(),
            "10213243546576879".to_string() + "8a9bacbdcedfe0f"
        );
        for bad in [
            "",
            "a",
            "abc",
            "../etc/passwd",
            "..%2f",
            "zz",
            "ab-cd",
            &"a".repeat(130),
        ] {
            assert!(
                matches!(parse_build_id_path(bad), Err(Error::InvalidBuildId(_))),
                "{bad}"
            );
        }
    }
}
