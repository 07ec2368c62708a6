//! A throwaway PostgreSQL server for the tests.
//!
//! Finds `initdb` and `pg_ctl` (on PATH or under /usr/lib/postgresql/*/bin);
//! when there are none and the tests run as root, installs Debian's
//! `postgresql` package. Creates a cluster in a temporary directory (as the
//! `postgres` user when running as root, since PostgreSQL refuses root),
//! listening on 127.0.0.1 only on a free port, and stops it on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    run_as: Option<String>,
}

fn find_bin_dir() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PG_BINDIR") {
        let dir = PathBuf::from(path);
        if dir.join("initdb").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(found) = versions.pop() {
        return Some(found);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn install_postgres() -> Result<(), String> {
    eprintln!(
        "postgres test support: initdb/pg_ctl not found; installing Debian's postgresql package"
    );
    let run = |args: &[&str]| -> Result<(), String> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("apt-get {} failed with {status}", args.join(" ")))
        }
    };
    run(&["update", "-qq"])?;
    run(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "postgresql",
    ])
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(name)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl Postgres {
    /// Starts a server (see the module docs). Blocking.
    pub fn start() -> Result<Postgres, String> {
        let root = is_root();
        let bin = match find_bin_dir() {
            Some(bin) => bin,
            None if root => {
                install_postgres()?;
                find_bin_dir()
                    .ok_or("postgresql was installed but initdb/pg_ctl are still not found")?
            }
            None => {
                return Err("initdb and pg_ctl are not installed and the tests do not run as root to install them \
                            (apt-get install postgresql, or set PG_BINDIR)"
                    .into());
            }
        };
        let run_as = if root {
            if !user_exists("postgres") {
                let status = Command::new("useradd")
                    .args([
                        "--system",
                        "--home-dir",
                        "/var/lib/postgresql",
                        "--shell",
                        "/bin/sh",
                        "postgres",
                    ])
                    .status()
                    .map_err(|e| format!("cannot create the postgres user: {e}"))?;
                if !status.success() {
                    return Err("cannot create the postgres user".into());
                }
            }
            Some("postgres".to_string())
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("collector-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("cannot chown {} to {user}", dir.path().display()));
            }
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            listener.local_addr().map_err(|e| e.to_string())?.port()
        };
        let pg = Postgres {
            dir,
            bin,
            port,
            run_as,
        };
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
        )?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=100 -c shared_buffers=64MB",
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("postgres.log");
        if let Err(err) = pg.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        ) {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{err}\n{log}"));
        }
        Ok(pg)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let output = self
            .command(program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates a database and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.admin_url())
            .await
            .expect("connect to the test PostgreSQL server");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        let _ = conn.close().await;
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
                "stop",
            ])
            .output();
        std::thread::sleep(Duration::from_millis(50));
    }
}
