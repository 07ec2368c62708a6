//! `kill -9` during a concurrent load loses no acknowledged dump.
//!
//! Starts the real binary on a data directory, uploads real dumps from
//! several concurrent clients, SIGKILLs the server in the middle of the load,
//! restarts it on the same directory and checks that every dump that was
//! answered `201` is listed and downloadable, byte for byte, and that
//! retrying the uploads whose outcome was unknown (same `Idempotency-Key`)
//! stores each of them exactly once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::{INGEST_TOKEN, READ_TOKEN};

/// The server process; killed on drop so a failing test leaves nothing running.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coredump-collector"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args([
                "--ingest-token",
                INGEST_TOKEN,
                "--read-token",
                READ_TOKEN,
                "--rate-limit",
                "0",
                "--max-dumps-per-group",
                "0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start coredump-collector");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("coredump-collector listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server { child, url }
    }

    /// SIGKILL, as `kill -9` does.
    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Outcomes {
    /// Idempotency key -> dump id, for every 201.
    acknowledged: BTreeMap<String, String>,
    /// Keys whose request failed without a reply (the server died under it).
    unknown: BTreeSet<String>,
}

#[test]
fn kill_9_loses_no_acknowledged_dump() {
    let fixture = support::fixture("c-O0", "abort");
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start(data.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let url = server.url.clone();
    let dump = Arc::new(fixture.dump.clone());
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let url = url.clone();
            let dump = dump.clone();
            let outcomes = outcomes.clone();
            runtime.spawn(async move {
                let http = support::client();
                // Bounded: at most 400 uploads per client, and 60 seconds.
                let deadline = Instant::now() + Duration::from_secs(60);
                for n in 0..400 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let key = format!("client{client}-upload{n}");
                    let sent = http
                        .post(format!("{url}/api/v1/dumps"))
                        .bearer_auth(INGEST_TOKEN)
                        .header("content-type", "application/wasm")
                        .header("idempotency-key", &key)
                        .body(dump.to_vec())
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == StatusCode::CREATED => {
                            match response.json::<Value>().await {
                                Ok(reply) => {
                                    let id = reply["id"].as_str().unwrap().to_string();
                                    outcomes.lock().unwrap().acknowledged.insert(key, id);
                                }
                                Err(_) => {
                                    outcomes.lock().unwrap().unknown.insert(key);
                                    break;
                                }
                            }
                        }
                        Ok(response) => panic!("unexpected status {}", response.status()),
                        Err(_) => {
                            // Connection refused or reset: the server is gone.
                            outcomes.lock().unwrap().unknown.insert(key);
                            break;
                        }
                    }
                }
            })
        })
        .collect();

    // Let the load run, then kill the server in the middle of it.
    let started = Instant::now();
    while outcomes.lock().unwrap().acknowledged.len() < 150
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill9();
    runtime.block_on(async {
        for client in clients {
            client.await.expect("client task");
        }
    });
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    assert!(
        outcomes.acknowledged.len() >= 50,
        "too few uploads were acknowledged before the kill ({}) for the test to mean anything",
        outcomes.acknowledged.len()
    );
    assert!(
        !outcomes.unknown.is_empty(),
        "the kill did not interrupt any upload"
    );
    eprintln!(
        "killed with {} uploads acknowledged and {} in flight",
        outcomes.acknowledged.len(),
        outcomes.unknown.len()
    );

    let server = Server::start(data.path());
    runtime.block_on(async {
        let http = support::client();
        let get = |path: String| {
            let http = http.clone();
            let url = server.url.clone();
            async move {
                http.get(format!("{url}{path}"))
                    .bearer_auth(READ_TOKEN)
                    .send()
                    .await
                    .unwrap()
            }
        };
        // Every acknowledged dump is there, record and file.
        for (key, id) in &outcomes.acknowledged {
            let record = get(format!("/api/v1/dumps/{id}")).await;
            assert_eq!(
                record.status(),
                StatusCode::OK,
                "acknowledged dump {id} ({key}) was lost"
            );
            let raw = get(format!("/api/v1/dumps/{id}/raw")).await;
            assert_eq!(
                raw.status(),
                StatusCode::OK,
                "the file of dump {id} was lost"
            );
            assert_eq!(
                raw.bytes().await.unwrap().to_vec(),
                fixture.dump,
                "dump {id} is corrupt"
            );
        }
        // Retrying the interrupted uploads stores each exactly once.
        for key in &outcomes.unknown {
            let response = http
                .post(format!("{}/api/v1/dumps", server.url))
                .bearer_auth(INGEST_TOKEN)
                .header("content-type", "application/wasm")
                .header("idempotency-key", key)
                .body(fixture.dump.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        // Retrying acknowledged ones replays their reply.
        if let Some((key, id)) = outcomes.acknowledged.iter().next() {
            let reply: Value = http
                .post(format!("{}/api/v1/dumps", server.url))
                .bearer_auth(INGEST_TOKEN)
                .header("content-type", "application/wasm")
                .header("idempotency-key", key)
                .body(fixture.dump.clone())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(reply["id"], id.as_str());
        }
        let expected = outcomes.acknowledged.len() + outcomes.unknown.len();
        let dumps: Value = get("/api/v1/dumps?limit=500".into())
            .await
            .json()
            .await
            .unwrap();
        let listed = dumps.as_array().unwrap().len();
        let groups: Value = get("/api/v1/groups".into()).await.json().await.unwrap();
        let counted: i64 = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["count"].as_i64().unwrap())
            .sum();
        if expected <= 500 {
            assert_eq!(listed, expected, "each upload is stored exactly once");
        }
        assert_eq!(counted as usize, expected, "group counts match the dumps");
    });
    drop(server);
}
