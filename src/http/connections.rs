//! Admission of connections: a cap on the connections open at once, overall and per client
//! address, checked at accept before anything is read. A refused connection gets a 503 problem
//! (when the socket takes it at once) and is closed; refusals are counted for `/metrics`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The server holds `max_connections` already.
    Total,
    /// This client address holds `max_connections_per_address` already.
    PerAddress,
}

impl Refused {
    /// The label of the refusal in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Total => "total",
            Refused::PerAddress => "per_address",
        }
    }
}

/// The connections open, and the counters of what happened to connections.
pub struct Connections {
    total: Arc<Semaphore>,
    max_total: usize,
    max_per_address: usize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Connections admitted since start.
    pub accepted: AtomicU64,
    /// Connections refused because of the overall cap.
    pub refused_total: AtomicU64,
    /// Connections refused because of the per-address cap.
    pub refused_per_address: AtomicU64,
    /// Connections closed because a request's headers (or the next request on a keep-alive
    /// connection) did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Connections closed because the client stopped reading a response.
    pub write_stalls: AtomicU64,
}

/// One admitted connection; dropping it frees its places.
pub struct Admitted {
    _total: OwnedSemaphorePermit,
    address: IpAddr,
    connections: Arc<Connections>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_address = self.connections.per_address.lock();
        if let Some(n) = per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                per_address.remove(&self.address);
            }
        }
    }
}

impl Connections {
    /// Caps of `max_total` connections, `max_per_address` of them from one address.
    pub fn new(max_total: usize, max_per_address: usize) -> Connections {
        Connections {
            total: Arc::new(Semaphore::new(max_total)),
            max_total,
            max_per_address,
            per_address: Mutex::new(HashMap::new()),
            accepted: AtomicU64::new(0),
            refused_total: AtomicU64::new(0),
            refused_per_address: AtomicU64::new(0),
            header_timeouts: AtomicU64::new(0),
            write_stalls: AtomicU64::new(0),
        }
    }

    /// Admits a connection from `address`, or says why not (and counts the refusal).
    ///
    /// # Errors
    /// When a cap is reached.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Admitted, Refused> {
        let refused = |why: Refused| {
            match why {
                Refused::Total => &self.refused_total,
                Refused::PerAddress => &self.refused_per_address,
            }
            .fetch_add(1, Ordering::Relaxed);
            why
        };
        let mut per_address = self.per_address.lock();
        let open = per_address.get(&address).copied().unwrap_or(0);
        if open >= self.max_per_address {
            return Err(refused(Refused::PerAddress));
        }
        let total = Arc::clone(&self.total)
            .try_acquire_owned()
            .map_err(|_| refused(Refused::Total))?;
        per_address.insert(address, open + 1);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            _total: total,
            address,
            connections: Arc::clone(self),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max_total - self.total.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_overall_and_per_address_and_frees_places_on_drop() {
        let connections = Arc::new(Connections::new(3, 2));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = connections.admit(a).expect("first of a");
        let _second = connections.admit(a).expect("second of a");
        assert_eq!(connections.admit(a).err(), Some(Refused::PerAddress));
        let _third = connections.admit(b).expect("first of b");
        assert_eq!(connections.admit(b).err(), Some(Refused::Total));
        assert_eq!(connections.open(), 3);
        drop(first);
        assert_eq!(connections.open(), 2);
        let _again = connections.admit(a).expect("a place was freed");
        assert_eq!(
            (
                connections.refused_per_address.load(Ordering::Relaxed),
                connections.refused_total.load(Ordering::Relaxed),
                connections.accepted.load(Ordering::Relaxed),
            ),
            (1, 1, 4)
        );
    }
}
