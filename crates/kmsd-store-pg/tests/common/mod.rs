//! A throwaway PostgreSQL cluster for the tests (`scripts/pg-throwaway.sh`: initdb in a
//! temporary directory, a free port, never the system cluster).
#![allow(
    clippy::unwrap_used,
    dead_code,
    reason = "test code: a failed expectation panics; not every test binary uses every helper"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kmsd_store_pg::PgStore;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-throwaway.sh")
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: String,
}

impl Cluster {
    pub fn start() -> Option<Cluster> {
        Cluster::start_with(&[])
    }

    /// Starts a cluster with these environment variables for the script (e.g. the TLS
    /// certificate, `PG_TLS_CERT` / `PG_TLS_KEY`).
    pub fn start_with(env: &[(&str, &Path)]) -> Option<Cluster> {
        let ok = Command::new(script()).arg("bindir").output().unwrap();
        if !ok.status.success() {
            println!("SKIPPED: PostgreSQL binaries (initdb, pg_ctl) are not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot start PostgreSQL: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Some(Cluster { dir, port })
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        let admin =
            PgStore::admin_execute(&self.url("postgres"), &format!("CREATE DATABASE {name}"));
        admin.unwrap();
        self.url(name)
    }

    /// Stops the server (fast shutdown); [`Cluster::restart`] brings it back on its port.
    pub fn stop(&self) {
        let stop = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(stop.success());
    }

    pub fn restart(&self) {
        let restart = Command::new(script())
            .arg("restart")
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            restart.status.success(),
            "{}",
            String::from_utf8_lossy(&restart.stderr)
        );
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://kmsd@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
