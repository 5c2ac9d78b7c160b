//! The storage backends as test fixtures: the same test function runs on a sled directory and
//! on a PostgreSQL database (a new one on the shared cluster, with a synchronous standby), so
//! that both keep the same promises (the conformance suite, `conformance.rs`).

#![allow(dead_code)]

use coopledger::store::{self, Location};
use coopledger::{Ledger, Options};

use crate::pg::cluster::{self, Cluster};

/// Which backend a fixture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A sled directory.
    Sled,
    /// A PostgreSQL database with a synchronous standby.
    Postgres,
}

/// A place for one ledger on one backend.
pub struct Fixture {
    /// Which backend.
    pub kind: Kind,
    /// Where the ledger lives.
    pub location: Location,
    /// The database, for PostgreSQL.
    pub database: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// A new sled directory (nothing created yet).
    pub fn sled() -> Fixture {
        let dir = crate::support::tempdir();
        Fixture {
            kind: Kind::Sled,
            location: Location::Dir(dir.path().join("ledger")),
            database: None,
            _dir: Some(dir),
        }
    }

    /// A new database on the shared cluster (nothing created yet).
    pub fn postgres() -> Fixture {
        let cluster = Cluster::shared();
        let db = cluster.database();
        Fixture {
            kind: Kind::Postgres,
            location: Location::Postgres(cluster.url(&db)),
            database: Some(db),
            _dir: None,
        }
    }

    /// The fixture of `kind`.
    pub fn of(kind: Kind) -> Fixture {
        match kind {
            Kind::Sled => Fixture::sled(),
            Kind::Postgres => Fixture::postgres(),
        }
    }

    /// `--db` for the command line.
    pub fn db_arg(&self) -> String {
        match &self.location {
            Location::Dir(dir) => dir.display().to_string(),
            Location::Postgres(url) => url.clone(),
        }
    }

    /// Creates the ledger (`coopledger init`) and opens it to write.
    pub fn create(&self) -> Ledger {
        store::create(&self.location).expect("create the ledger");
        self.open()
    }

    /// Opens the existing ledger to write.
    pub fn open(&self) -> Ledger {
        Ledger::open_at(&self.location, Options::default()).expect("open the ledger")
    }

    /// Opens the existing ledger read-only (for PostgreSQL: as a reader, beside the writer).
    pub fn open_read_only(&self) -> Ledger {
        let options = Options {
            read_only: true,
            ..Options::default()
        };
        Ledger::open_at(&self.location, options).expect("open the ledger read-only")
    }
}

/// Runs `test` on a sled fixture and, when the PostgreSQL suites are on, on a PostgreSQL one.
pub fn each(name: &str, test: impl Fn(&Fixture)) {
    test(&Fixture::sled());
    if cluster::enabled(name) {
        test(&Fixture::postgres());
    }
}
