//! Decoding an upload: content encoding (bounded), raw or multipart bodies,
//! the metadata JSON, and scrubbing secrets out of the request context.
//!
//! # Upload formats
//!
//! - Raw: `Content-Type: application/wasm` (or `application/octet-stream`),
//!   the dump as the body. `service`, `version` and `environment` may be given
//!   as query parameters.
//! - Multipart: `Content-Type: multipart/form-data` with a `dump` part (the
//!   dump file) and an optional `metadata` part holding JSON:
//!
//! ```json
//! {
//!   "service": "checkout", "version": "1.4.2", "environment": "production",
//!   "request": {"method": "POST", "url": "/orders", "headers": {"User-Agent": "…"}},
//!   "modules": [{"index": 0, "name": "app.wasm", "build_id": "4f2c…"}],
//!   "tags": {"region": "eu"}
//! }
//! ```
//!
//! Every field is optional; fields not named here are kept as they are.
//! `modules` supplies build ids for modules the dump itself does not
//! identify (matched by `index`, else by `name`).
//!
//! Either body may be sent with `Content-Encoding: gzip` or `zstd`; it is
//! decompressed with a hard cap on the output size, so a small bomb cannot
//! expand past the dump size limit.

use std::io::Read;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use wasm_coredump::BuildId;

use crate::symbolicate::BuildIdOverrides;

/// A problem with an upload, mapped to a 4xx status by the server.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UploadError {
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    BadRequest(String),
}

/// A `Content-Encoding` the collector decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    pub fn from_header(value: Option<&str>) -> Result<Self, UploadError> {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(Encoding::Identity),
            Some(v) if v.is_empty() || v == "identity" => Ok(Encoding::Identity),
            Some(v) if v == "gzip" || v == "x-gzip" => Ok(Encoding::Gzip),
            Some(v) if v == "zstd" => Ok(Encoding::Zstd),
            Some(v) => Err(UploadError::UnsupportedMediaType(format!(
                "unsupported Content-Encoding `{v}`: send identity, gzip or zstd"
            ))),
        }
    }
}

/// Decodes `body`, refusing output larger than `max` bytes.
pub fn decode_body(body: Bytes, encoding: Encoding, max: usize) -> Result<Bytes, UploadError> {
    let too_large = || {
        UploadError::TooLarge(format!(
            "the decompressed body is larger than the limit of {max} bytes"
        ))
    };
    let read_bounded = |reader: &mut dyn Read| -> Result<Bytes, UploadError> {
        let mut out = Vec::new();
        reader
            .take(max as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| UploadError::BadRequest(format!("cannot decompress the body: {e}")))?;
        if out.len() > max {
            return Err(too_large());
        }
        Ok(out.into())
    };
    match encoding {
        Encoding::Identity => {
            if body.len() > max {
                return Err(too_large());
            }
            Ok(body)
        }
        Encoding::Gzip => read_bounded(&mut flate2::read::MultiGzDecoder::new(&body[..])),
        Encoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(&body[..])
                .map_err(|e| UploadError::BadRequest(format!("cannot decompress the body: {e}")))?;
            // Bounds the decoder's own memory too (a 128 MiB window at most).
            decoder
                .window_log_max(27)
                .map_err(|e| UploadError::BadRequest(format!("cannot decompress the body: {e}")))?;
            read_bounded(&mut decoder)
        }
    }
}

/// What the upload's body held.
#[derive(Debug, Default)]
pub struct Upload {
    pub dump: Bytes,
    pub metadata: UploadMetadata,
}

/// The metadata sent with a dump.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct UploadMetadata {
    pub service: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    #[serde(default)]
    pub modules: Vec<ModuleHint>,
    /// Everything else (request context, tags…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A build id for one of the dump's modules.
#[derive(Debug, Clone, Deserialize)]
pub struct ModuleHint {
    pub index: Option<u32>,
    pub name: Option<String>,
    pub build_id: String,
}

impl UploadMetadata {
    /// Checks field sizes and build ids.
    pub fn validate(&self) -> Result<(), UploadError> {
        for (name, value) in [
            ("service", &self.service),
            ("version", &self.version),
            ("environment", &self.environment),
        ] {
            if let Some(value) = value
                && (value.len() > 200 || value.chars().any(char::is_control))
            {
                return Err(UploadError::BadRequest(format!(
                    "metadata field `{name}` must be at most 200 characters with no control characters"
                )));
            }
        }
        for hint in &self.modules {
            if BuildId::parse(&hint.build_id).is_none() {
                return Err(UploadError::BadRequest(format!(
                    "metadata build id `{}` is not hexadecimal",
                    hint.build_id.chars().take(80).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    pub fn build_id_overrides(&self) -> BuildIdOverrides {
        let mut overrides = BuildIdOverrides::default();
        for hint in &self.modules {
            let Some(id) = BuildId::parse(&hint.build_id) else {
                continue;
            };
            if let Some(index) = hint.index {
                overrides.by_index.insert(index, id.to_hex());
            }
            if let Some(name) = &hint.name {
                overrides.by_name.insert(name.clone(), id.to_hex());
            }
        }
        overrides
    }

    /// The context stored with the dump: everything sent, secrets scrubbed.
    pub fn context(&self) -> Value {
        let mut context = Map::new();
        for (key, value) in [
            ("service", &self.service),
            ("version", &self.version),
            ("environment", &self.environment),
        ] {
            if let Some(value) = value {
                context.insert(key.to_string(), Value::String(value.clone()));
            }
        }
        if !self.modules.is_empty() {
            context.insert(
                "modules".into(),
                Value::Array(
                    self.modules
                        .iter()
                        .map(|m| serde_json::json!({"index": m.index, "name": m.name, "build_id": m.build_id}))
                        .collect(),
                ),
            );
        }
        for (key, value) in &self.extra {
            context.insert(key.clone(), value.clone());
        }
        let mut context = Value::Object(context);
        scrub(&mut context);
        context
    }
}

/// Whether a content type names a raw dump.
fn is_raw_type(mime: &str) -> bool {
    mime == "application/wasm" || mime == "application/octet-stream"
}

/// Splits a decoded body into the dump and its metadata.
pub async fn parse_upload(
    content_type: Option<&str>,
    body: Bytes,
    max_metadata: usize,
) -> Result<Upload, UploadError> {
    let content_type = content_type.ok_or_else(|| {
        UploadError::UnsupportedMediaType(
            "missing Content-Type: send application/wasm or multipart/form-data".into(),
        )
    })?;
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if is_raw_type(&mime) {
        return Ok(Upload {
            dump: body,
            metadata: UploadMetadata::default(),
        });
    }
    if mime != "multipart/form-data" {
        return Err(UploadError::UnsupportedMediaType(format!(
            "unsupported Content-Type `{mime}`: send application/wasm or multipart/form-data"
        )));
    }
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| UploadError::BadRequest(format!("bad multipart Content-Type: {e}")))?;
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut dump = None;
    let mut metadata = None;
    let mut parts = 0;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| UploadError::BadRequest(format!("bad multipart body: {e}")))?
    {
        parts += 1;
        if parts > 16 {
            return Err(UploadError::BadRequest("too many multipart parts".into()));
        }
        let name = field.name().unwrap_or("").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| UploadError::BadRequest(format!("bad multipart part `{name}`: {e}")))?;
        match name.as_str() {
            "dump" | "file" | "coredump" => {
                if dump.is_some() {
                    return Err(UploadError::BadRequest("more than one dump part".into()));
                }
                dump = Some(bytes);
            }
            "metadata" => {
                if bytes.len() > max_metadata {
                    return Err(UploadError::TooLarge(format!(
                        "the metadata part is larger than the limit of {max_metadata} bytes"
                    )));
                }
                let parsed: UploadMetadata = serde_json::from_slice(&bytes).map_err(|e| {
                    UploadError::BadRequest(format!(
                        "the metadata part is not a JSON object of the expected shape: {e}"
                    ))
                })?;
                parsed.validate()?;
                metadata = Some(parsed);
            }
            _ => {}
        }
    }
    let dump = dump
        .ok_or_else(|| UploadError::BadRequest("the multipart body has no `dump` part".into()))?;
    Ok(Upload {
        dump,
        metadata: metadata.unwrap_or_default(),
    })
}

/// Names (of headers, fields, query parameters) whose values are never stored.
const SENSITIVE: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "cookie",
    "cookies",
    "setcookie",
    "xapikey",
    "apikey",
    "xauthtoken",
    "xaccesstoken",
    "xcsrftoken",
    "xxsrftoken",
    "csrftoken",
    "xamzsecuritytoken",
    "xgoogapikey",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "password",
    "passwd",
    "secret",
    "clientsecret",
    "privatekey",
    "session",
    "sessionid",
    "signature",
    "sig",
];

/// What a scrubbed value is replaced with.
pub const SCRUBBED: &str = "[scrubbed]";

/// Whether a header, field or parameter name is sensitive.
pub fn is_sensitive(name: &str) -> bool {
    let normalized: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SENSITIVE.contains(&normalized.as_str())
}

/// Replaces sensitive values in a JSON context: object fields with a
/// sensitive name, `[name, value]` pairs and `{"name": …, "value": …}`
/// entries (header lists), and sensitive query parameters in `url` strings.
pub fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("name")
                && is_sensitive(name)
                && map.contains_key("value")
            {
                map.insert("value".into(), Value::String(SCRUBBED.into()));
            }
            for (key, inner) in map.iter_mut() {
                if is_sensitive(key) {
                    *inner = Value::String(SCRUBBED.into());
                } else if let (true, Value::String(url)) = (
                    key.eq_ignore_ascii_case("url")
                        || key.eq_ignore_ascii_case("query_string")
                        || key.eq_ignore_ascii_case("query"),
                    &mut *inner,
                ) {
                    *url = scrub_query(url);
                } else {
                    scrub(inner);
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Array(pair) = item
                    && pair.len() == 2
                    && let Value::String(name) = &pair[0]
                    && is_sensitive(name)
                {
                    pair[1] = Value::String(SCRUBBED.into());
                    continue;
                }
                scrub(item);
            }
        }
        _ => {}
    }
}

/// Replaces the values of sensitive query parameters in a URL or query string.
pub fn scrub_query(url: &str) -> String {
    let (head, query, fragment) = match url.split_once('?') {
        Some((head, rest)) => match rest.split_once('#') {
            Some((q, f)) => (Some(head), q, Some(f)),
            None => (Some(head), rest, None),
        },
        None if url.contains('=') && !url.contains('/') => (None, url, None),
        None => return url.to_string(),
    };
    let scrubbed: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_sensitive(name) => format!("{name}={SCRUBBED}"),
            _ => pair.to_string(),
        })
        .collect();
    let mut out = String::new();
    if let Some(head) = head {
        out.push_str(head);
        out.push('?');
    }
    out.push_str(&scrubbed.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Validates an `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn valid_idempotency_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| (0x21..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn bounded_gzip_and_zstd() {
        let data = vec![0u8; 1 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        let gz = Bytes::from(gz.finish().unwrap());
        assert_eq!(
            decode_body(gz.clone(), Encoding::Gzip, 1 << 20)
                .unwrap()
                .len(),
            1 << 20
        );
        assert!(matches!(
            decode_body(gz, Encoding::Gzip, 1000),
            Err(UploadError::TooLarge(_))
        ));
        let zs = Bytes::from(zstd::encode_all(&data[..], 3).unwrap());
        assert_eq!(
            decode_body(zs.clone(), Encoding::Zstd, 1 << 20)
                .unwrap()
                .len(),
            1 << 20
        );
        assert!(matches!(
            decode_body(zs, Encoding::Zstd, 1000),
            Err(UploadError::TooLarge(_))
        ));
        assert!(matches!(
            decode_body(Bytes::from_static(b"not gzip"), Encoding::Gzip, 1000),
            Err(UploadError::BadRequest(_))
        ));
        assert!(Encoding::from_header(Some("br")).is_err());
    }

    #[test]
    fn scrubbing() {
        let mut v = serde_json::json!({
            "request": {
                "url": "/pay?card=1&token=abc&x=2",
                "headers": {"Authorization": "Bearer s3cr3t", "Cookie": "a=b", "User-Agent": "ua", "X-Api-Key": "k"},
                "header_list": [["set-cookie", "x"], ["accept", "*/*"]],
                "pairs": [{"name": "Proxy-Authorization", "value": "Basic x"}, {"name": "Accept", "value": "y"}]
            },
            "password": "hunter2"
        });
        scrub(&mut v);
        let text = v.to_string();
        for secret in [
            "s3cr3t", "a=b", "\"k\"", "hunter2", "abc", "Basic x", "\"x\"",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(text.contains("\"ua\""));
        assert!(text.contains("card=1"));
        assert!(text.contains("*/*"));
    }
}
