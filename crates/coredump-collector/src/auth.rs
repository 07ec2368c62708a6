//! Tokens and per-token rate limits.
//!
//! Two separate token sets: ingest tokens may upload dumps and debug files,
//! read tokens may use the API, the UI and downloads. A token is sent as
//! `Authorization: Bearer <token>` or `X-Api-Key: <token>`; the web UI also
//! accepts the `collector_token` cookie set by its login form. No token is
//! 401, a token that is not valid for the endpoint is 403. When a set is
//! empty, its endpoints are open (the laptop setup).
//!
//! Tokens are compared by SHA-256 digest and never logged; a token is
//! identified in logs, rate limits and idempotency scopes by the first 16 hex
//! digits of its digest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::RateLimit;

/// The cookie the UI's login form sets.
pub const TOKEN_COOKIE: &str = "collector_token";

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Ingest,
    Read,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Denied {
    /// No token sent (401).
    Missing,
    /// A token not valid for this endpoint (403).
    Wrong,
    /// Over the token's rate limit (429); retry after this long.
    Limited(Duration),
}

/// The token sets and the rate limiter.
pub struct Auth {
    ingest: Vec<[u8; 32]>,
    read: Vec<[u8; 32]>,
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The public id of a token: 16 hex digits of its SHA-256.
pub fn token_id(token: &str) -> String {
    digest(token)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token a request carries, if any.
pub fn presented_token(headers: &HeaderMap, allow_cookie: bool) -> Option<String> {
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        if !token.is_empty() {
            return Some(token.to_string());
        }
    }
    if let Some(value) = headers.get("x-api-key").and_then(|v| v.to_str().ok())
        && !value.trim().is_empty()
    {
        return Some(value.trim().to_string());
    }
    if allow_cookie {
        for cookies in headers.get_all(axum::http::header::COOKIE) {
            let Ok(cookies) = cookies.to_str() else {
                continue;
            };
            for pair in cookies.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=')
                    && name == TOKEN_COOKIE
                    && !value.is_empty()
                {
                    return Some(value.to_string());
                }
            }
        }
    }
    None
}

impl Auth {
    pub fn new(ingest: &[String], read: &[String], limit: RateLimit) -> Self {
        Auth {
            ingest: ingest.iter().map(|t| digest(t)).collect(),
            read: read.iter().map(|t| digest(t)).collect(),
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an access kind needs a token at all.
    pub fn required(&self, access: Access) -> bool {
        match access {
            Access::Ingest => !self.ingest.is_empty(),
            Access::Read => !self.read.is_empty(),
        }
    }

    /// Checks a request; returns the scope (token id, or `anonymous`) it runs under.
    pub fn check(
        &self,
        access: Access,
        headers: &HeaderMap,
        allow_cookie: bool,
    ) -> Result<String, Denied> {
        let set = match access {
            Access::Ingest => &self.ingest,
            Access::Read => &self.read,
        };
        let scope = if set.is_empty() {
            "anonymous".to_string()
        } else {
            let token = presented_token(headers, allow_cookie).ok_or(Denied::Missing)?;
            let d = digest(&token);
            // Compare every entry, so timing does not tell which one matched.
            let matched = set
                .iter()
                .fold(false, |acc, known| acc | constant_eq(known, &d));
            if !matched {
                return Err(Denied::Wrong);
            }
            token_id(&token)
        };
        self.take(&scope)?;
        Ok(scope)
    }

    /// Whether `token` is a valid read token (for the UI login form).
    pub fn is_read_token(&self, token: &str) -> bool {
        let d = digest(token);
        self.read
            .iter()
            .fold(false, |acc, known| acc | constant_eq(known, &d))
    }

    fn take(&self, scope: &str) -> Result<(), Denied> {
        if self.limit.per_second <= 0.0 {
            return Ok(());
        }
        let burst = self.limit.burst.max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(scope.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.limit.per_second;
            Err(Denied::Limited(Duration::from_secs_f64(wait.max(0.001))))
        }
    }
}

fn constant_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn tokens_and_limits() {
        let auth = Auth::new(
            &["in".into()],
            &["out".into()],
            RateLimit {
                per_second: 0.001,
                burst: 2.0,
            },
        );
        assert_eq!(
            auth.check(Access::Ingest, &HeaderMap::new(), false),
            Err(Denied::Missing)
        );
        assert_eq!(
            auth.check(Access::Ingest, &headers("Bearer out"), false),
            Err(Denied::Wrong)
        );
        assert_eq!(
            auth.check(Access::Read, &headers("Bearer in"), false),
            Err(Denied::Wrong)
        );
        assert_eq!(
            auth.check(Access::Ingest, &headers("Bearer in"), false),
            Ok(token_id("in"))
        );
        assert!(
            auth.check(Access::Ingest, &headers("Bearer in"), false)
                .is_ok()
        );
        assert!(matches!(
            auth.check(Access::Ingest, &headers("Bearer in"), false),
            Err(Denied::Limited(_))
        ));
        // Another token has its own bucket.
        assert!(
            auth.check(Access::Read, &headers("Bearer out"), false)
                .is_ok()
        );
        let mut cookie = HeaderMap::new();
        cookie.insert(
            "cookie",
            HeaderValue::from_static("a=b; collector_token=out"),
        );
        assert_eq!(presented_token(&cookie, true).as_deref(), Some("out"));
        assert_eq!(presented_token(&cookie, false), None);
    }
}
