//! The PostgreSQL backend against real servers (see `cluster.rs` for when these run): what only
//! PostgreSQL has to prove (the synchronous-replication edges, fencing, the append-only
//! triggers, readers on the standby, crashes of the writer process). What both backends must
//! do alike is in `conformance.rs`.

pub mod cluster;
mod example;
mod failover;
pub mod load;
mod protocol;
pub mod readers;
