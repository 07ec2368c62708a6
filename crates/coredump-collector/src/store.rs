//! Where dump and debug files live: a local directory (the embedded default)
//! or any S3-compatible bucket (through `object_store`).
//!
//! `put` returns only once the bytes are durable: for the local store the
//! file is written under a temporary name, fsync'd, renamed into place and
//! its directory fsync'd; for S3 the PUT has completed. Keys are relative
//! paths made of `[a-z0-9._-]` segments, built by the collector itself.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[error("object store {store}: {operation} {key}: {message}")]
pub struct StoreError {
    pub store: String,
    pub operation: &'static str,
    pub key: String,
    pub message: String,
}

/// Durable blob storage.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` under `key`, replacing any previous value; durable on return.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError>;
    /// The bytes under `key`, `None` when there are none.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError>;
    /// Removes `key`; removing a missing key succeeds.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// A round trip to the store, for health checks.
    async fn check(&self) -> Result<(), StoreError>;
    /// For logs and `/healthz`, e.g. `file:///var/lib/collector/objects`.
    fn describe(&self) -> String;
}

/// Whether `key` is a safe relative key.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        })
}

/// Files under a directory.
pub struct LocalStore {
    root: PathBuf,
    made_dirs: Mutex<HashSet<PathBuf>>,
}

impl LocalStore {
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join(".tmp"))?;
        // Temporary files of writes cut short by a crash.
        if let Ok(entries) = std::fs::read_dir(root.join(".tmp")) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(LocalStore {
            root,
            made_dirs: Mutex::new(HashSet::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn error(&self, operation: &'static str, key: &str, message: impl ToString) -> StoreError {
        StoreError {
            store: format!("file://{}", self.root.display()),
            operation,
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    fn path_of(&self, operation: &'static str, key: &str) -> Result<PathBuf, StoreError> {
        if !valid_key(key) {
            return Err(self.error(operation, key, "invalid key"));
        }
        Ok(self.root.join(key))
    }

    fn put_sync(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path_of("put", key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        let known = self
            .made_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&dir);
        if !known {
            std::fs::create_dir_all(&dir).map_err(|e| self.error("put", key, e))?;
            // Make the new directories' own entries durable, up to the root.
            let mut parent = dir.parent();
            while let Some(p) = parent {
                sync_dir(p).map_err(|e| self.error("put", key, e))?;
                if p == self.root {
                    break;
                }
                parent = p.parent();
            }
            self.made_dirs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(dir.clone());
        }
        let tmp = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let result = (|| -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &path)?;
            sync_dir(&dir)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| self.error("put", key, e))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[async_trait::async_trait]
impl BlobStore for Arc<LocalStore> {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let this = self.clone();
        let key = key.to_string();
        let key2 = key.clone();
        tokio::task::spawn_blocking(move || this.put_sync(&key, &bytes))
            .await
            .map_err(|e| self.error("put", &key2, e))?
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path_of("get", key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error("get", key, e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of("delete", key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error("delete", key, e)),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        tokio::fs::metadata(&self.root)
            .await
            .map(|_| ())
            .map_err(|e| self.error("check", "", e))
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }
}

/// An S3-compatible bucket.
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    url: String,
}

/// How to reach an S3-compatible store. Unset fields come from the usual
/// `AWS_*` environment variables.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// e.g. `http://127.0.0.1:9000` for MinIO or another local server.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow plain-HTTP endpoints (set automatically for `http://` endpoints).
    pub allow_http: bool,
    /// Use `bucket.endpoint` host names instead of `endpoint/bucket` paths.
    pub virtual_hosted_style: bool,
}

impl S3Store {
    pub fn open(options: &S3Options) -> Result<(Self, String), StoreError> {
        let err = |message: String| StoreError {
            store: options.url.clone(),
            operation: "open",
            key: String::new(),
            message,
        };
        let rest = options
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| err("the store URL must start with s3://".into()))?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((bucket, prefix)) => (bucket, prefix.trim_matches('/')),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(err("the store URL names no bucket".into()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &options.endpoint {
            builder = builder.with_endpoint(endpoint);
            if endpoint.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
        }
        if options.allow_http {
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_virtual_hosted_style_request(options.virtual_hosted_style);
        if let Some(region) = &options.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &options.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &options.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|e| err(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok((
            S3Store {
                store,
                url: options.url.clone(),
            },
            prefix.to_string(),
        ))
    }

    fn error(&self, operation: &'static str, key: &str, message: impl ToString) -> StoreError {
        StoreError {
            store: self.url.clone(),
            operation,
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    fn path(&self, operation: &'static str, key: &str) -> Result<ObjectPath, StoreError> {
        if !valid_key(key) {
            return Err(self.error(operation, key, "invalid key"));
        }
        Ok(ObjectPath::from(key))
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let path = self.path("put", key)?;
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.error("put", key, e))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path("get", key)?;
        match self.store.get(&path).await {
            Ok(result) => result
                .bytes()
                .await
                .map(Some)
                .map_err(|e| self.error("get", key, e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("get", key, e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path("delete", key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, e)),
        }
    }

    async fn check(&self) -> Result<(), StoreError> {
        let path = ObjectPath::from("healthz/probe");
        match self.store.head(&path).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("check", "healthz/probe", e)),
        }
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(valid_key("dumps/ab/0190-ab.wasm"));
        assert!(!valid_key("../etc/passwd"));
        assert!(!valid_key("dumps//x"));
        assert!(!valid_key("/abs"));
        assert!(!valid_key("Dumps/x"));
        assert!(!valid_key(""));
    }

    #[tokio::test]
    async fn local_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::open(dir.path()).unwrap());
        store
            .put("a/b.bin", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(
            store.get("a/b.bin").await.unwrap().unwrap(),
            Bytes::from_static(b"hello")
        );
        store.delete("a/b.bin").await.unwrap();
        store.delete("a/b.bin").await.unwrap();
        assert!(store.get("a/b.bin").await.unwrap().is_none());
        assert!(store.put("../x", Bytes::new()).await.is_err());
    }
}
