//! What a `postgres://` location says: libpq's URL (several hosts, `target_session_attrs`,
//! `connect_timeout`, …, passed to the driver as they are) and coopledger's own options in its
//! query, which the driver never sees:
//!
//! - `coopledger_single_node=true`: write without a synchronous standby (a single-node setup;
//!   an acknowledged append then survives a crash of the server, not the loss of its disk);
//! - `coopledger_failover_timeout=SECS` (default 60): how long a writer that lost its primary
//!   keeps reconnecting (to the new primary, with `target_session_attrs=read-write`) before it
//!   gives up and stops writing.

use std::str::FromStr;
use std::time::Duration;

use postgres::config::TargetSessionAttrs;

use crate::store::{StoreError, redact};

/// How long a writer keeps reconnecting after losing its primary, unless the URL says otherwise:
/// a Patroni failover after the leader's death takes about its `ttl` (20–30 s).
pub const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed PostgreSQL location.
#[derive(Clone)]
pub struct Target {
    /// The driver's configuration (coopledger's options removed).
    pub config: postgres::Config,
    /// Writes are allowed without a synchronous standby.
    pub single_node: bool,
    /// How long a writer keeps reconnecting after losing its primary.
    pub failover_timeout: Duration,
    /// The URL for messages, its password hidden.
    pub shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.shown)
            .field("single_node", &self.single_node)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Parses `url`.
    ///
    /// # Errors
    /// [`StoreError::BadLocation`] naming what is wrong (the password is never shown).
    pub fn parse(url: &str) -> Result<Target, StoreError> {
        let shown = redact(url);
        let bad = |why: String| StoreError::BadLocation {
            location: shown.clone(),
            why,
        };
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut single_node = false;
        let mut failover_timeout = DEFAULT_FAILOVER_TIMEOUT;
        let mut kept = form_urlencoded::Serializer::new(String::new());
        let mut any_kept = false;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "coopledger_single_node" => {
                    single_node = parse_bool(&value).ok_or_else(|| {
                        bad(format!(
                            "coopledger_single_node must be true or false, not {value:?}"
                        ))
                    })?;
                }
                "coopledger_failover_timeout" => {
                    let secs: u64 = value.parse().ok().filter(|s| *s <= 3600).ok_or_else(|| {
                        bad(format!(
                            "coopledger_failover_timeout must be a number of seconds (0..=3600), not {value:?}"
                        ))
                    })?;
                    failover_timeout = Duration::from_secs(secs);
                }
                other if other.starts_with("coopledger_") => {
                    return Err(bad(format!(
                        "unknown option {other:?} (coopledger_single_node, coopledger_failover_timeout)"
                    )));
                }
                _ => {
                    kept.append_pair(&key, &value);
                    any_kept = true;
                }
            }
        }
        let driver_url = if any_kept {
            format!("{base}?{}", kept.finish())
        } else {
            base.to_owned()
        };
        let config = postgres::Config::from_str(&driver_url)
            .map_err(|e| bad(format!("not a libpq connection URL: {e}")))?;
        if config.get_hosts().is_empty() {
            return Err(bad("no host".into()));
        }
        Ok(Target {
            config,
            single_node,
            failover_timeout,
            shown,
        })
    }

    /// The configuration for a writer's connections: always to a primary.
    #[must_use]
    pub fn writer_config(&self) -> postgres::Config {
        let mut config = self.config.clone();
        config.target_session_attrs(TargetSessionAttrs::ReadWrite);
        if config.get_connect_timeout().is_none() {
            // A host that is down must not hold a reconnecting writer for the kernel's minutes.
            config.connect_timeout(Duration::from_secs(5));
        }
        config.application_name("coopledger-writer");
        config
    }

    /// The configuration for readers' connections, as the URL says.
    #[must_use]
    pub fn reader_config(&self) -> postgres::Config {
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("coopledger-reader");
        }
        config
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coopledger_options_are_taken_out_of_the_url() {
        let t = Target::parse(
            "postgresql://w:pw@127.0.0.1:5433,127.0.0.1:5434/ledger?target_session_attrs=read-write&coopledger_single_node=true&coopledger_failover_timeout=9",
        )
        .expect("parses");
        assert!(t.single_node);
        assert_eq!(t.failover_timeout, Duration::from_secs(9));
        assert_eq!(t.config.get_hosts().len(), 2);
        assert_eq!(t.config.get_ports(), &[5433, 5434]);
        assert_eq!(t.config.get_dbname(), Some("ledger"));
        assert!(!t.shown.contains("pw"), "{}", t.shown);
    }

    #[test]
    fn bad_options_are_named_and_passwords_hidden() {
        for (url, says) in [
            (
                "postgres://u:secret@h/db?coopledger_single_node=maybe",
                "coopledger_single_node",
            ),
            ("postgres://u:secret@h/db?coopledger_x=1", "coopledger_x"),
            (
                "postgres://u:secret@h/db?coopledger_failover_timeout=-1",
                "coopledger_failover_timeout",
            ),
            ("postgres://u:secret@h/db?nonsense=1", "not a libpq"),
        ] {
            let e = Target::parse(url).expect_err(url).to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("secret"), "{url}: {e}");
        }
    }
}
