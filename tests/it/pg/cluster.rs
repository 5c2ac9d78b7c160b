//! PostgreSQL servers for the tests, started by `tests/pg/cluster.sh` on loopback: a primary
//! with synchronous standbys, in a temporary directory that a watcher removes (servers stopped)
//! once this test process is gone, so nothing outlives the run even when a test panics.
//!
//! The suites run when `COOPLEDGER_PG_TESTS=1` (`.ci/run` sets it after installing the
//! servers); otherwise each test prints a note and passes without testing anything of
//! PostgreSQL, so `cargo test` on a machine without the servers still passes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable that turns the PostgreSQL suites on.
pub const ENABLE: &str = "COOPLEDGER_PG_TESTS";

/// Whether the PostgreSQL suites run; prints the note when they do not.
pub fn enabled(test: &str) -> bool {
    if std::env::var(ENABLE).is_ok_and(|v| v == "1") {
        return true;
    }
    println!("note: {test}: PostgreSQL part skipped ({ENABLE}=1 runs it; .ci/run sets it)");
    false
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg/cluster.sh")
}

/// Runs `cluster.sh ARGS`, panicking with its output when it fails.
pub fn run_script(args: &[&str]) {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("FSYNC", "off")
        .output()
        .expect("run tests/pg/cluster.sh");
    assert!(
        out.status.success(),
        "cluster.sh {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A free port on 127.0.0.1 (free when asked; the servers take theirs right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A primary and its synchronous standbys (`s1`, `s2`, …; any one of them confirms a commit).
pub struct Cluster {
    root: PathBuf,
    /// The primary's port.
    pub primary: u16,
    /// Each standby's port.
    pub standbys: Vec<u16>,
}

impl Cluster {
    /// Starts a primary and `standbys` synchronous standbys.
    pub fn start(standbys: usize) -> Cluster {
        static N: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "coopledger-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&root).expect("cluster root");
        // The servers run as `postgres` when the tests run as root: they must reach their dirs.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let primary = free_port();
        let names: Vec<String> = (1..=standbys).map(|i| format!("s{i}")).collect();
        let sync = if names.is_empty() {
            String::new()
        } else {
            format!("ANY 1 ({})", names.join(", "))
        };
        let dir = |name: &str| root.join(name).display().to_string();
        let pid = std::process::id().to_string();
        let mut dirs = vec![dir("primary")];
        dirs.extend(names.iter().map(|n| dir(n)));
        let mut watch = vec!["watch", pid.as_str()];
        watch.extend(dirs.iter().map(String::as_str));
        run_script(&watch);
        run_script(&["primary", &dir("primary"), &primary.to_string(), &sync]);
        let mut ports = Vec::new();
        for name in &names {
            let port = free_port();
            run_script(&[
                "standby",
                &dir(name),
                &port.to_string(),
                &primary.to_string(),
                name,
            ]);
            ports.push(port);
        }
        let cluster = Cluster {
            root,
            primary,
            standbys: ports,
        };
        cluster.wait_streaming(standbys);
        cluster
    }

    /// The one cluster (a primary and one synchronous standby) most tests share, each in a
    /// database of its own.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| Cluster::start(1))
    }

    /// A server's data directory (`primary`, `s1`, …).
    pub fn dir(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    /// The superuser's URL of database `db` on the primary.
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.primary)
    }

    /// The superuser's URL of database `db` on standby `i` (0-based).
    pub fn standby_url(&self, i: usize, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.standbys[i])
    }

    /// A new, empty database on the primary; returns its name.
    pub fn database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}", N.fetch_add(1, Ordering::Relaxed));
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// Runs `sql` on the primary's database `db` with psql; returns what it printed (unaligned,
    /// tuples only).
    pub fn sql(&self, db: &str, sql: &str) -> String {
        sql_at(self.primary, db, sql)
    }

    /// Waits (bounded) until every standby has replayed the schema of database `db`: a
    /// synchronous commit waits for the standby's flush, not its replay.
    pub fn wait_schema_on_standbys(&self, db: &str) {
        let started = std::time::Instant::now();
        for port in &self.standbys {
            loop {
                // The database itself may not be there yet either.
                let out = psql(
                    *port,
                    db,
                    "SELECT to_regclass('coopledger.head') IS NOT NULL",
                );
                if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "t" {
                    break;
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(30),
                    "the standby on port {port} never replayed the schema of {db}"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }

    /// Waits (bounded) until `n` synchronous standbys stream from the primary.
    pub fn wait_streaming(&self, n: usize) {
        for _ in 0..600 {
            let count = self.sql(
                "postgres",
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' \
                 AND sync_state IN ('sync', 'quorum')",
            );
            if count.trim() == n.to_string() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{n} standbys never streamed synchronously");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for name in std::iter::once("primary".to_owned())
            .chain((1..=self.standbys.len()).map(|i| format!("s{i}")))
        {
            let _ = Command::new("bash")
                .arg(script())
                .args(["kill", &self.dir(&name)])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs `sql` with psql against 127.0.0.1:`port`, database `db`, as the superuser.
pub fn sql_at(port: u16, db: &str, sql: &str) -> String {
    let out = psql(port, db, sql);
    assert!(
        out.status.success(),
        "psql on {port}/{db} failed: {sql}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `sql` with psql and returns its whole outcome (for statements expected to fail).
pub fn psql(port: u16, db: &str, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args(["-p", &port.to_string(), "-d", db, "-c", sql])
        .output()
        .expect("run psql")
}
