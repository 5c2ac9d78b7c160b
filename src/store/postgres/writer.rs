//! The append protocol of the PostgreSQL backend, on the writer's own connection.
//!
//! **Start (takeover).** Connect to a primary; take the writer lock (a session advisory lock:
//! a second writer on the same primary is "in use"); refuse to write unless a synchronous
//! standby is configured and streaming (or the URL opts into a single node); then, in one
//! transaction under the head lock, move the epoch on (fencing any earlier writer) and adopt
//! what an earlier writer committed but could not acknowledge: its COMMIT is proved on the
//! standby by this transaction's own synchronous commit, which follows it in the WAL.
//!
//! **One group, one statement.** A group is one statement in its own (implicit) transaction,
//! one round trip ([`GROUP`]): it locks the head row (`FOR UPDATE`: the one serialisation
//! point) if its epoch is this writer's and its head the one this writer left, and draws every
//! write from that lock, so a stale writer (or a head moved behind its back) writes nothing and
//! updates no row, which the writer then names (fenced, or corrupt). The statement inserts the
//! records (sequences are the ledger's), tiles, view parts, checkpoint, updates the head and
//! records the previous group as acknowledged. The group is acknowledged only when the
//! statement returned (after its commit) **and** no "canceling wait for synchronous
//! replication" notice came with it (the transaction is then committed locally but maybe not
//! on the standby: fail-stop). Then, before anyone is told, the acknowledged head is recorded
//! for readers and they are notified, on a second connection whose commits wait for nothing:
//! the records are replicated already, and if that record is lost the next group or the next
//! writer's takeover makes it.
//!
//! **Ambiguity.** A connection lost during a group (COMMIT included) leaves its outcome unknown.
//! The writer reconnects (the URL's hosts, `target_session_attrs=read-write`: the new primary
//! after a failover) for up to the failover timeout and looks the group's event ids up under the
//! head lock: all present (with the same frames) → committed, and acknowledged once that lookup's
//! own synchronous commit proves it replicated; none → the group is written again; some → never
//! (one transaction), reported as corruption.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use postgres::error::SqlState;
use postgres::{Client, NoTls, Statement, Transaction};
use proto_events::Hash;
use uuid::Uuid;

use super::schema::{CHANNEL, WRITER_LOCK};
use super::target::Target;
use super::{describe, hash_of, io, to_i64, to_u64};
use crate::store::{Group, StoreError, ViewWrite};

/// How long a starting writer waits for the writer lock, which a writer that was just killed
/// may hold until its server notices the closed connection.
const LOCK_PATIENCE: Duration = Duration::from_secs(5);
/// Pause between reconnection attempts.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// A group as one statement, in its own implicit transaction (see the module documentation).
///
/// `h` locks the head row (`FOR UPDATE`) if it is still the one this writer left, in its epoch;
/// every write draws its rows through `h`, so when the check fails (or, waiting for the lock,
/// the row changed) nothing is written and the statement updates no row. Views: a rebuild
/// (`$14`) deletes every part it does not put. The previous group's acknowledgement is
/// recorded again (readers were woken for it when it was first recorded).
const GROUP: &str = "WITH h AS (SELECT 1 FROM coopledger.head \
        WHERE epoch = $1 AND seq = $2 AND hash = $3 FOR UPDATE), \
    r AS (INSERT INTO coopledger.records \
        (seq, event_id, stream, stream_version, recorded_at, type, frame) \
        SELECT u.* FROM h, unnest($4::int8[], $5::uuid[], $6::text[], $7::int8[], \
        $8::timestamptz[], $9::text[], $10::bytea[]) AS u), \
    t AS (INSERT INTO coopledger.tiles (level, index, hashes) \
        SELECT u.* FROM h, unnest($11::int2[], $12::int8[], $13::bytea[]) AS u \
        ON CONFLICT (level, index) DO UPDATE SET hashes = EXCLUDED.hashes), \
    d AS (DELETE FROM coopledger.views WHERE EXISTS (SELECT 1 FROM h) \
        AND (($14::bool AND NOT (part = ANY($15::bytea[]))) OR part = ANY($17::bytea[]))), \
    p AS (INSERT INTO coopledger.views (part, value) \
        SELECT u.* FROM h, unnest($15::bytea[], $16::bytea[]) AS u \
        ON CONFLICT (part) DO UPDATE SET value = EXCLUDED.value), \
    c AS (INSERT INTO coopledger.checkpoints (n, tree_size, note) \
        SELECT coalesce(max(n), 0) + 1, $18::int8, $19::text FROM coopledger.checkpoints \
        HAVING $18::int8 IS NOT NULL AND EXISTS (SELECT 1 FROM h) \
        ON CONFLICT (tree_size, note) DO NOTHING) \
    UPDATE coopledger.head SET seq = $20, hash = $21, tree_size = $22, \
        acked_seq = $2, acked_hash = $3 FROM h";

/// The statements of the append protocol, prepared once per connection.
struct Statements {
    lock_head: Statement,
    group: Statement,
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Statements, postgres::Error> {
        Ok(Statements {
            lock_head: client
                .prepare("SELECT seq, hash, epoch, tree_size FROM coopledger.head FOR UPDATE")?,
            group: client.prepare(GROUP)?,
        })
    }
}

/// The writer's connection and what it prepared on it.
struct Session {
    client: Client,
    statements: Statements,
    /// A second connection, `synchronous_commit = off`, that records acknowledgements (see
    /// [`Writer::acknowledged`]).
    acks: Client,
    record_ack: Statement,
}

/// Notices of a writer's connection that matter: the synchronous-replication warnings.
#[derive(Default)]
struct Notices(Mutex<Vec<String>>);

impl Notices {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// Whether a notice says a transaction committed locally without the standby's confirmation
/// ("canceling wait for synchronous replication due to user request", "… and terminating
/// connection due to administrator command").
fn is_sync_rep_cancel(message: &str) -> bool {
    message.contains("wait for synchronous replication")
}

/// How a failed step ended.
enum Failure {
    /// The connection is gone (or the server is no longer the primary): the outcome of what was
    /// in flight is unknown.
    Lost(postgres::Error),
    /// Anything else: fail-stop.
    Fatal(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Fatal(e)
    }
}

fn classify(what: &str, e: postgres::Error) -> Failure {
    if is_connection_loss(&e) {
        Failure::Lost(e)
    } else {
        Failure::Fatal(io(what, &e))
    }
}

/// Whether `e` means the connection (or its server's role as primary) is gone, rather than a
/// refusal of what was asked.
fn is_connection_loss(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(code) => {
            let c = code.code();
            c.starts_with("08") // connection exception
                || c.starts_with("57P") // operator intervention: shutdown, crash, cannot connect now
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION // a demoted primary
        }
    }
}

/// The single writer of a PostgreSQL ledger (see the module documentation).
pub struct Writer {
    target: Target,
    session: Option<Session>,
    notices: Arc<Notices>,
    epoch: i64,
    /// The head this writer committed last (what the head row must say).
    head: (u64, Hash),
    tree_size: u64,
    /// Why this writer stopped, when it did (fail-stop).
    stopped: Option<String>,
}

impl Writer {
    /// Connects, checks, takes the lock and takes over (see the module documentation). Returns
    /// the writer and the head it serves.
    ///
    /// # Errors
    /// [`StoreError::InUse`], [`StoreError::NoSyncStandby`], [`StoreError::NotAcknowledged`]
    /// for a takeover whose commit was not confirmed by the standby; connection errors.
    pub fn start(target: Target) -> Result<(Writer, (u64, Hash)), StoreError> {
        let notices = Arc::new(Notices::default());
        let mut writer = Writer {
            target,
            session: None,
            notices,
            epoch: 0,
            head: (0, [0; 32]),
            tree_size: 0,
            stopped: None,
        };
        let session = writer.connect(LOCK_PATIENCE).map_err(|f| match f {
            Failure::Lost(e) => io(&format!("connecting to {}", writer.target.shown), &e),
            Failure::Fatal(e) => e,
        })?;
        writer.session = Some(session);
        writer.take_over()?;
        let head = writer.head;
        Ok((writer, head))
    }

    /// The head this writer committed last.
    #[must_use]
    pub fn head(&self) -> (u64, Hash) {
        self.head
    }

    /// The number of leaves the stored tiles cover.
    #[must_use]
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// A new session: connected to a primary, the writer lock taken (waiting up to `patience`),
    /// a synchronous standby checked, the group's statements prepared.
    fn connect(&self, patience: Duration) -> Result<Session, Failure> {
        let mut config = self.target.writer_config();
        let notices = Arc::clone(&self.notices);
        config.notice_callback(move |notice| {
            if is_sync_rep_cancel(notice.message()) {
                tracing::warn!(
                    notice = notice.message(),
                    "synchronous replication cancelled"
                );
                notices.0.lock().push(notice.message().to_owned());
            } else {
                tracing::info!("{}: {}", notice.severity(), notice.message());
            }
        });
        let mut client = config.connect(NoTls).map_err(Failure::Lost)?;
        client
            .batch_execute("SET synchronous_commit = on")
            .map_err(|e| classify("setting synchronous_commit", e))?;
        self.lock(&mut client, patience)?;
        self.check_standby(&mut client)?;
        let statements = Statements::prepare(&mut client).map_err(|e| classify("preparing", e))?;
        let mut acks = self.target.writer_config();
        acks.application_name("coopledger-writer-acks");
        let mut acks = acks.connect(NoTls).map_err(Failure::Lost)?;
        acks.batch_execute("SET synchronous_commit = off")
            .map_err(|e| classify("setting synchronous_commit", e))?;
        let record_ack = acks
            .prepare(&format!(
                "WITH n AS (SELECT pg_notify('{CHANNEL}', $1::int8::text)) \
                 UPDATE coopledger.head SET acked_seq = $1, acked_hash = $2 FROM n \
                 WHERE epoch = $3 AND acked_seq < $1"
            ))
            .map_err(|e| classify("preparing", e))?;
        Ok(Session {
            client,
            statements,
            acks,
            record_ack,
        })
    }

    fn lock(&self, client: &mut Client, patience: Duration) -> Result<(), Failure> {
        let started = Instant::now();
        loop {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK])
                .map_err(|e| classify("taking the writer lock", e))?;
            if row.get::<_, bool>(0) {
                return Ok(());
            }
            if started.elapsed() >= patience {
                return Err(Failure::Fatal(StoreError::InUse(
                    self.target.shown.clone().into(),
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn check_standby(&self, client: &mut Client) -> Result<(), Failure> {
        if self.target.single_node {
            return Ok(());
        }
        let row = client
            .query_one(
                "SELECT current_setting('synchronous_standby_names'), \
                 (SELECT count(*) FROM pg_stat_replication \
                  WHERE sync_state IN ('sync', 'quorum') AND state = 'streaming')",
                &[],
            )
            .map_err(|e| classify("checking the synchronous standby", e))?;
        let names: String = row.get(0);
        let streaming: i64 = row.get(1);
        if names.trim().is_empty() || streaming == 0 {
            let found = if names.trim().is_empty() {
                "synchronous_standby_names is empty".to_owned()
            } else {
                format!(
                    "synchronous_standby_names is {names:?} but no synchronous standby is streaming \
                     (or this role may not see pg_stat_replication: grant it pg_monitor)"
                )
            };
            return Err(Failure::Fatal(StoreError::NoSyncStandby {
                location: self.target.shown.clone(),
                found,
            }));
        }
        Ok(())
    }

    /// The takeover transaction (see the module documentation).
    fn take_over(&mut self) -> Result<(), StoreError> {
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| StoreError::Io("no session".into()))?;
        let lost = |e: postgres::Error| io("taking over as the writer", &e);
        let mut tx = session.client.transaction().map_err(lost)?;
        let row = tx
            .query_one(
                "SELECT seq, hash, acked_seq, epoch, tree_size FROM coopledger.head FOR UPDATE",
                &[],
            )
            .map_err(lost)?;
        let seq = to_u64("the head's sequence", row.get(0))?;
        let hash = hash_of("the head's hash", row.get(1))?;
        let acked = to_u64("the acknowledged sequence", row.get(2))?;
        let epoch: i64 = row.get::<_, i64>(3) + 1;
        let tree_size = to_u64("the tree size", row.get(4))?;
        tx.execute(
            "UPDATE coopledger.head SET epoch = $1, acked_seq = seq, acked_hash = hash",
            &[&epoch],
        )
        .map_err(lost)?;
        self.notices.take();
        tx.commit().map_err(lost)?;
        if let Some(notice) = self.notices.take().into_iter().next() {
            return Err(StoreError::NotAcknowledged(format!(
                "taking over as the writer: {notice}"
            )));
        }
        if seq > acked {
            tracing::warn!(
                from = acked + 1,
                to = seq,
                "adopted records an earlier writer committed but did not acknowledge (now replicated)"
            );
        }
        tracing::info!(epoch, head = seq, "writer started");
        self.epoch = epoch;
        self.head = (seq, hash);
        self.tree_size = tree_size;
        Ok(())
    }

    /// Commits `group` (see the module documentation). Returns the time COMMIT took.
    ///
    /// # Errors
    /// [`StoreError::Fenced`], [`StoreError::NotAcknowledged`], a failover that did not end
    /// within the timeout, database errors. After any error this writer writes nothing more.
    pub fn commit(&mut self, group: &Group<'_>) -> Result<Duration, StoreError> {
        if let Some(why) = &self.stopped {
            return Err(StoreError::Io(format!(
                "the writer stopped after an earlier failure and writes nothing more: {why}"
            )));
        }
        if let Some(first) = group.records.first() {
            assert_eq!(
                first.seq,
                self.head.0 + 1,
                "group starts at {} after head {}",
                first.seq,
                self.head.0
            );
        }
        let result = self.commit_resolving(group);
        if let Err(e) = &result {
            self.stopped = Some(e.to_string());
        }
        result
    }

    fn commit_resolving(&mut self, group: &Group<'_>) -> Result<Duration, StoreError> {
        let mut deadline: Option<Instant> = None;
        let mut ambiguous = false;
        loop {
            if self.session.is_none() {
                let until =
                    *deadline.get_or_insert_with(|| Instant::now() + self.target.failover_timeout);
                self.reconnect(until)?;
                if ambiguous {
                    match self.resolve(group) {
                        Ok(Resolution::Committed(took)) => return self.acknowledged(group, took),
                        Ok(Resolution::Absent) => {}
                        Err(Failure::Lost(e)) => {
                            tracing::warn!(error = %describe(&e), "lost the primary again while resolving");
                            self.session = None;
                            continue;
                        }
                        Err(Failure::Fatal(e)) => return Err(e),
                    }
                }
            }
            match self.write(group) {
                Ok(took) => {
                    if let Some(notice) = self.notices.take().into_iter().next() {
                        return Err(StoreError::NotAcknowledged(notice));
                    }
                    return self.acknowledged(group, took);
                }
                Err(Failure::Lost(e)) => {
                    tracing::warn!(error = %describe(&e), "lost the primary during a group; resolving its outcome");
                    self.notices.take();
                    self.session = None;
                    ambiguous = true;
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    /// Reconnects until `until`.
    fn reconnect(&mut self, until: Instant) -> Result<(), StoreError> {
        let started = Instant::now();
        loop {
            let patience = until.saturating_duration_since(Instant::now());
            match self.connect(patience.min(LOCK_PATIENCE)) {
                Ok(session) => {
                    tracing::info!(
                        ms = started.elapsed().as_millis() as u64,
                        "writer reconnected"
                    );
                    self.session = Some(session);
                    return Ok(());
                }
                Err(failure) => {
                    let why = match &failure {
                        Failure::Lost(e) => describe(e),
                        Failure::Fatal(e) => e.to_string(),
                    };
                    if Instant::now() >= until {
                        return Err(StoreError::Io(format!(
                            "lost the primary of {} and found none within {} s: {why}",
                            self.target.shown,
                            self.target.failover_timeout.as_secs()
                        )));
                    }
                    tracing::debug!(why, "no primary yet");
                    std::thread::sleep(RECONNECT_PAUSE);
                }
            }
        }
    }

    /// One attempt at writing `group`: its statement (see [`GROUP`]), committed on its own.
    /// Returns the time it took, the standby's confirmation included.
    fn write(&mut self, group: &Group<'_>) -> Result<Duration, Failure> {
        let head = self.head;
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| Failure::Fatal(StoreError::Io("no session".into())))?;
        let columns = Columns::of(group);
        let (seq, hash) = group.head.unwrap_or(head);
        let size = group.tree_size.unwrap_or(self.tree_size);
        let checkpoint = group
            .checkpoint
            .as_ref()
            .map(|(size, note)| (to_i64(*size), note.as_str()));
        self.notices.take();
        let started = Instant::now();
        let updated = session
            .client
            .execute(
                &session.statements.group,
                &[
                    &self.epoch,
                    &to_i64(head.0),
                    &head.1.as_slice(),
                    &columns.seqs,
                    &columns.ids,
                    &columns.streams,
                    &columns.versions,
                    &columns.times,
                    &columns.types,
                    &columns.frames,
                    &columns.levels,
                    &columns.indices,
                    &columns.hashes,
                    &columns.clear,
                    &columns.parts,
                    &columns.values,
                    &columns.deleted,
                    &checkpoint.map(|(size, _)| size),
                    &checkpoint.map(|(_, note)| note),
                    &to_i64(seq),
                    &hash.as_slice(),
                    &to_i64(size),
                ],
            )
            .map_err(|e| classify("writing the group", e))?;
        let took = started.elapsed();
        if updated == 1 {
            return Ok(took);
        }
        // Nothing was written: say why.
        let row = session
            .client
            .query_one("SELECT seq, epoch FROM coopledger.head", &[])
            .map_err(|e| classify("reading the head", e))?;
        let found_seq = to_u64("the head's sequence", row.get(0))?;
        let found_epoch: i64 = row.get(1);
        if found_epoch != self.epoch {
            return Err(Failure::Fatal(StoreError::Fenced {
                location: self.target.shown.clone(),
                epoch: self.epoch,
                found: found_epoch,
            }));
        }
        Err(Failure::Fatal(StoreError::Corrupt(format!(
            "the head row says record {found_seq} but this writer left it at {}: something \
             wrote to the ledger without taking over",
            head.0
        ))))
    }

    /// After a reconnection: whether the group in flight was committed (see the module
    /// documentation).
    fn resolve(&mut self, group: &Group<'_>) -> Result<Resolution, Failure> {
        let head = self.head;
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| Failure::Fatal(StoreError::Io("no session".into())))?;
        let statements = &session.statements;
        let mut tx = session
            .client
            .transaction()
            .map_err(|e| classify("begin", e))?;
        let (seq, hash, _) = lock_head(&self.target, self.epoch, &mut tx, statements)?;
        let Some(last) = group.records.last() else {
            // Tiles, views and checkpoints only: writing them again is harmless.
            return Ok(Resolution::Absent);
        };
        let ids: Vec<Uuid> = group.records.iter().map(|r| r.event_id).collect();
        let rows = tx
            .query(
                "SELECT seq, frame FROM coopledger.records WHERE event_id = ANY($1) ORDER BY seq",
                &[&ids],
            )
            .map_err(|e| classify("looking up the group's event ids", e))?;
        if rows.is_empty() {
            if (seq, hash) != head {
                return Err(Failure::Fatal(StoreError::Corrupt(format!(
                    "after a reconnection the head row says record {seq}, but this writer left it \
                     at {} and its group is not there",
                    head.0
                ))));
            }
            tracing::warn!(
                first = group.records[0].seq,
                "the group in flight was not committed; writing it again"
            );
            return Ok(Resolution::Absent);
        }
        let complete = rows.len() == group.records.len()
            && rows.iter().zip(&group.records).all(|(row, ours)| {
                row.get::<_, i64>(0) == to_i64(ours.seq) && row.get::<_, &[u8]>(1) == ours.frame
            });
        if !complete {
            return Err(Failure::Fatal(StoreError::Corrupt(format!(
                "after a reconnection {} of the {} records of the group in flight are stored, or \
                 differ from what was written",
                rows.len(),
                group.records.len()
            ))));
        }
        tracing::warn!(
            first = group.records[0].seq,
            last = last.seq,
            "the group in flight was committed; acknowledging it once replicated"
        );
        let new_hash = group.head.map_or(hash, |(_, h)| h);
        tx.execute(
            "UPDATE coopledger.head SET acked_seq = $1, acked_hash = $2",
            &[&to_i64(last.seq), &new_hash.as_slice()],
        )
        .map_err(|e| classify("acknowledging", e))?;
        self.notices.take();
        let started = Instant::now();
        tx.commit().map_err(|e| classify("commit", e))?;
        let took = started.elapsed();
        if let Some(notice) = self.notices.take().into_iter().next() {
            return Err(Failure::Fatal(StoreError::NotAcknowledged(notice)));
        }
        Ok(Resolution::Committed(took))
    }

    /// A group's commit was confirmed: the writer's state moves on and the acknowledged head
    /// is recorded for readers, before anyone is told, on the connection that waits for
    /// nothing: the records are on the standby already; if the record is lost (a crash of the
    /// primary), the next group or the next takeover records it.
    fn acknowledged(&mut self, group: &Group<'_>, took: Duration) -> Result<Duration, StoreError> {
        if let Some(head) = group.head {
            self.head = head;
        }
        if let Some(size) = group.tree_size {
            self.tree_size = size;
        }
        if group.records.is_empty() {
            return Ok(took);
        }
        let (seq, hash) = self.head;
        if let Some(session) = self.session.as_mut()
            && let Err(e) = session.acks.execute(
                &session.record_ack,
                &[&to_i64(seq), &hash.as_slice(), &self.epoch],
            )
        {
            // The group is committed and replicated: it stays acknowledged. The next group (or
            // the next takeover) records it for readers.
            tracing::warn!(error = %describe(&e), "could not record the acknowledged head");
            if is_connection_loss(&e) {
                self.session = None;
            }
        }
        Ok(took)
    }
}

/// Locks the head row and checks that it is this writer's epoch (a stale writer writes nothing).
/// Returns the stored head and tree size.
fn lock_head(
    target: &Target,
    mine: i64,
    tx: &mut Transaction<'_>,
    statements: &Statements,
) -> Result<(u64, Hash, u64), Failure> {
    let row = tx
        .query_one(&statements.lock_head, &[])
        .map_err(|e| classify("locking the head", e))?;
    let seq = to_u64("the head's sequence", row.get(0))?;
    let hash = hash_of("the head's hash", row.get(1))?;
    let epoch: i64 = row.get(2);
    let tree_size = to_u64("the tree size", row.get(3))?;
    if epoch != mine {
        return Err(Failure::Fatal(StoreError::Fenced {
            location: target.shown.clone(),
            epoch: mine,
            found: epoch,
        }));
    }
    Ok((seq, hash, tree_size))
}

/// The outcome of a group found ambiguous.
enum Resolution {
    /// It was committed (and is now known replicated); COMMIT of the resolution took this long.
    Committed(Duration),
    /// It was not: write it again.
    Absent,
}

/// A group's rows as the arrays of its statement's parameters.
struct Columns<'g> {
    seqs: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<String>,
    versions: Vec<i64>,
    times: Vec<SystemTime>,
    types: Vec<&'static str>,
    frames: Vec<&'g [u8]>,
    levels: Vec<i16>,
    indices: Vec<i64>,
    hashes: Vec<&'g [u8]>,
    /// A rebuild: every part not in `parts` is deleted.
    clear: bool,
    parts: Vec<&'g [u8]>,
    values: Vec<&'g [u8]>,
    deleted: Vec<&'g [u8]>,
}

impl<'g> Columns<'g> {
    fn of(group: &'g Group<'_>) -> Columns<'g> {
        let n = group.records.len();
        let mut c = Columns {
            seqs: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            streams: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            times: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            frames: Vec::with_capacity(n),
            levels: Vec::new(),
            indices: Vec::new(),
            hashes: Vec::new(),
            clear: false,
            parts: Vec::new(),
            values: Vec::new(),
            deleted: Vec::new(),
        };
        for row in &group.records {
            c.seqs.push(to_i64(row.seq));
            c.ids.push(row.event_id);
            c.streams.push(row.stream.to_string());
            c.versions.push(to_i64(row.stream_version));
            c.times.push(system_time(row.recorded_at));
            c.types.push(row.event_type.name());
            c.frames.push(row.frame);
        }
        // The last write of a tile or a part wins (a statement may not touch a row twice).
        let mut tiles = std::collections::BTreeMap::new();
        for tile in &group.tiles {
            tiles.insert(
                (i16::from(tile.level), to_i64(tile.index)),
                tile.hashes.as_slice(),
            );
        }
        for ((level, index), hashes) in tiles {
            c.levels.push(level);
            c.indices.push(index);
            c.hashes.push(hashes);
        }
        let mut last: std::collections::BTreeMap<&[u8], Option<&[u8]>> = Default::default();
        for write in &group.views {
            match write {
                ViewWrite::ClearAll => {
                    c.clear = true;
                    last.clear();
                }
                ViewWrite::Put(part, value) => {
                    last.insert(part, Some(value));
                }
                ViewWrite::Delete(part) => {
                    last.insert(part, None);
                }
            }
        }
        for (part, value) in last {
            match value {
                Some(value) => {
                    c.parts.push(part);
                    c.values.push(value);
                }
                None => c.deleted.push(part),
            }
        }
        c
    }
}

/// A recording time as the driver writes a `timestamptz` (microseconds: the column is for
/// people reading SQL; the frame holds the exact time).
fn system_time(t: proto_events::Timestamp) -> SystemTime {
    let nanos = t.as_nanosecond();
    match u64::try_from(nanos) {
        Ok(after) => SystemTime::UNIX_EPOCH + Duration::from_nanos(after),
        Err(_) => {
            SystemTime::UNIX_EPOCH - Duration::from_nanos(u64::try_from(-nanos).unwrap_or(u64::MAX))
        }
    }
}
