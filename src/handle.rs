//! The async edge of the ledger: a handle shared by many tokio tasks.
//!
//! The synchronous writer runs on two threads of its own. Appends queue on a bounded channel; the
//! writer thread takes every pending request at once and stages them as one group; the commit
//! thread writes the group as one store commit, syncs once and answers each request (group
//! commit). While a group commits, the writer thread stages the next one over it, and hands it
//! over once the commit has returned (a pipeline one group deep). Reads go straight to a
//! [`Reader`]. Subscriptions deliver history from a sequence and then live appends, with no gap and no duplicate at the switch; history is read
//! a page at a time on tokio's blocking threads, at most [`REPLAY_READERS`] pages at once, so
//! replays never hold up the async workers nor each other's readers.
//!
//! A read-only node ([`LedgerHandle::follow`]) runs a follower thread instead of the writer: it
//! waits for records another process appended (a PostgreSQL notification, or polling), reads
//! and checks them ([`Ledger::catch_up`]), and publishes them to readers and subscribers exactly
//! as the writer publishes its commits. It refuses every write with [`Error::ReadOnly`]; a lost
//! connection (a failover) is retried from its own head, so subscribers see no gap and no
//! duplicate.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use proto_events::{NewEvent, RecordedEvent};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};

use crate::audit::checkpoint::Key;
use crate::error::Error;
use crate::ledger::{Ledger, Reader, Receipt, Request, ViewName, Views};

/// Requests that may wait for the writer before appends are refused with backpressure.
pub const QUEUE_DEPTH: usize = 1024;
/// The most events one group commit takes.
pub const GROUP_MAX_EVENTS: usize = 20_000;
/// Records a subscription reads from history at a time.
const HISTORY_PAGE: usize = 512;
/// History pages read at once across every subscription of a handle: replays share the cores
/// with the async workers that serve everything else, so they take a bounded share.
pub const REPLAY_READERS: usize = 2;
/// How many committed groups a live subscriber may fall behind before it is dropped.
pub const FEED_CAPACITY: usize = 4096;

/// How long a follower waits for new records before it looks at its queue again (a close is
/// answered within it).
const FOLLOW_WAIT: Duration = Duration::from_millis(250);
/// How long a follower waits after a storage failure (a failover) before it tries again.
const FOLLOW_RETRY: Duration = Duration::from_secs(1);

/// The live feed: every committed group, once durable.
type Feed = broadcast::Sender<Arc<Vec<RecordedEvent>>>;

/// Where the answer to one append goes.
type Reply = oneshot::Sender<Result<Vec<Receipt>, Error>>;

enum Job {
    Append(Request, Reply),
    Rebuild(ViewName, oneshot::Sender<Result<u64, Error>>),
    Checkpoint(Arc<Key>, oneshot::Sender<Result<String, Error>>),
    /// Stop after every job queued before this one.
    Stop,
}

/// A cloneable async handle to one open ledger. See the module documentation.
#[derive(Clone)]
pub struct LedgerHandle {
    jobs: mpsc::Sender<Job>,
    reader: Reader,
    feed: Feed,
    replay: Arc<Semaphore>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl LedgerHandle {
    /// Starts the writer thread for `ledger`.
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    #[must_use]
    pub fn start(ledger: Ledger) -> LedgerHandle {
        Self::start_with(ledger, FEED_CAPACITY)
    }

    /// Starts the writer thread for `ledger`; live subscribers that fall more than
    /// `feed_capacity` committed groups behind are dropped.
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    #[must_use]
    pub fn start_with(ledger: Ledger, feed_capacity: usize) -> LedgerHandle {
        Self::spawn(ledger, feed_capacity, "coopledger-writer", writer_loop)
    }

    fn spawn(
        mut ledger: Ledger,
        feed_capacity: usize,
        name: &str,
        body: fn(Ledger, mpsc::Receiver<Job>),
    ) -> LedgerHandle {
        let (jobs, rx) = mpsc::channel(QUEUE_DEPTH);
        let reader = ledger.reader();
        let (feed, _) = broadcast::channel(feed_capacity.max(1));
        let live = feed.clone();
        // Subscribers see only durable, committed records. A send error only means that no one
        // is subscribed.
        ledger.set_commit_listener(Box::new(move |records| {
            let _ = live.send(records);
        }));
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(ledger, rx))
            .expect("spawn the ledger's thread");
        LedgerHandle {
            jobs,
            reader,
            feed,
            replay: Arc::new(Semaphore::new(REPLAY_READERS)),
            thread: Arc::new(Mutex::new(Some(thread))),
        }
    }

    /// Starts a follower thread for `ledger`, opened read-only on a log another process writes
    /// (see the module documentation).
    ///
    /// # Panics
    /// If the operating system cannot start a thread.
    #[must_use]
    pub fn follow(ledger: Ledger) -> LedgerHandle {
        Self::spawn(ledger, FEED_CAPACITY, "coopledger-follower", follower_loop)
    }

    /// Opens the existing ledger in `dir` and starts its writer.
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open(dir: impl AsRef<std::path::Path>) -> Result<LedgerHandle, Error> {
        Ok(Self::start(Ledger::open(dir)?))
    }

    /// Opens the ledger in `dir`, creating it when missing or empty, and starts its writer.
    ///
    /// # Errors
    /// As [`Ledger::create`].
    pub fn create(dir: impl AsRef<std::path::Path>) -> Result<LedgerHandle, Error> {
        Ok(Self::start(Ledger::create(dir)?))
    }

    /// The reader.
    #[must_use]
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// Appends `events` as one atomic batch; resolves once they are durable.
    ///
    /// # Errors
    /// As [`Ledger::append`]; [`Error::Closed`] once the writer has stopped.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Receipt>, Error> {
        self.submit(Request::append(events)).await
    }

    /// Appends one request.
    ///
    /// # Errors
    /// As [`LedgerHandle::append`].
    pub async fn submit(&self, request: Request) -> Result<Vec<Receipt>, Error> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Append(request, tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Rebuilds a view on the writer thread.
    ///
    /// # Errors
    /// As [`Ledger::rebuild_views`].
    pub async fn rebuild(&self, which: ViewName) -> Result<u64, Error> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Rebuild(which, tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Signs and stores a checkpoint of the head on the writer thread.
    ///
    /// # Errors
    /// As [`crate::audit::sign::sign_checkpoint`].
    pub async fn sign_checkpoint(&self, key: Arc<Key>) -> Result<String, Error> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Checkpoint(key, tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// History from sequence `from` (1-based), then live appends.
    #[must_use]
    pub fn subscribe(&self, from: u64) -> Subscription {
        Subscription {
            live: self.feed.subscribe(),
            reader: self.reader.clone(),
            replay: Arc::clone(&self.replay),
            next: from.max(1),
            buffer: VecDeque::new(),
            ended: false,
        }
    }

    /// Stops accepting appends, lets the writer finish what is queued, and waits for it. Other
    /// clones of the handle get [`Error::Closed`] afterwards, whether or not they are still
    /// held (a task that outlived its server does not keep the writer running).
    pub async fn close(self) {
        let LedgerHandle { jobs, thread, .. } = self;
        // The writer stops after every job queued before this one; a failed send means it has
        // stopped already.
        let _ = jobs.send(Job::Stop).await;
        drop(jobs);
        let handle = thread.lock().take();
        if let Some(handle) = handle {
            // Joining is blocking, so it runs off the async threads. A panic in the writer has already been reported by the panic
            // hook, so there is nothing more to do with it here.
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

fn writer_loop(mut ledger: Ledger, mut rx: mpsc::Receiver<Job>) {
    let mut pipeline = Pipeline::start(&ledger);
    // A job taken from the queue with a batch of appends, to be run after them.
    let mut deferred: Option<Job> = None;
    loop {
        let job = match deferred.take() {
            Some(job) => Some(job),
            None => match pipeline.wait(&mut rx) {
                Next::Committed => {
                    pipeline.hand_over(&mut ledger);
                    continue;
                }
                Next::Job(job) => job,
            },
        };
        match job {
            Some(Job::Append(request, reply)) => {
                // Every append queued now, up to the group's limit, is staged with this one.
                let mut appends = vec![(request, reply)];
                let mut events = pipeline.events() + appends[0].0.events.len();
                while events < GROUP_MAX_EVENTS {
                    match rx.try_recv() {
                        Ok(Job::Append(request, reply)) => {
                            events += request.events.len();
                            appends.push((request, reply));
                        }
                        Ok(other) => {
                            deferred = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                pipeline.stage(&mut ledger, appends);
            }
            Some(Job::Rebuild(which, reply)) => {
                // A rebuild is not grouped: the appends staged so far are committed first.
                pipeline.flush(&mut ledger);
                let _ = reply.send(ledger.rebuild_views(which, &mut |_| {}));
            }
            Some(Job::Checkpoint(key, reply)) => {
                pipeline.flush(&mut ledger);
                let _ = reply.send(crate::audit::sign::sign_checkpoint(&mut ledger, &key));
            }
            Some(Job::Stop) | None => break,
        }
    }
    pipeline.flush(&mut ledger);
    pipeline.stop();
    if let Err(e) = ledger.write_views() {
        // The next open folds the records after the stored views on from them.
        tracing::warn!(error = %e, "could not write the views at the stop");
    }
    // Jobs queued after the stop are dropped with their replies: their callers get
    // `Error::Closed`, and nothing of them was written.
    tracing::debug!("writer stopped");
}

/// A group closed, with where each of its answers goes and whom to tell once it is committed.
type Commit = (crate::ledger::Staged, Vec<Reply>, oneshot::Sender<()>);

/// What the writer thread waits for.
enum Next {
    /// A job, or `None` once every handle is gone.
    Job(Option<Job>),
    /// The group committing has been committed and answered.
    Committed,
}

/// The writer's two threads (see the module documentation). The writer thread stages appends
/// into the open group as they come; the commit thread commits one closed group at a time and
/// answers its requests. The open group is closed and handed over whenever no group is
/// committing, so a group holds everything that came while the one before it committed.
struct Pipeline {
    to_commit: Option<std::sync::mpsc::Sender<Commit>>,
    /// Resolves when the group committing has been committed and answered.
    committing: Option<oneshot::Receiver<()>>,
    open: Option<(crate::ledger::Open, Vec<Reply>)>,
    /// Whether the open group was opened while no group was committing: the writer was idle,
    /// so the group writes the views (under load they wait for `ledger::writer::VIEWS_EVERY`
    /// records, or the stop).
    opened_idle: bool,
    /// Waits for a job or for the commit, whichever comes first, on the writer thread.
    waiter: tokio::runtime::Runtime,
    thread: Option<JoinHandle<()>>,
}

impl Pipeline {
    fn start(ledger: &Ledger) -> Pipeline {
        let committer = ledger.committer();
        let (to_commit, groups) = std::sync::mpsc::channel::<Commit>();
        let thread = std::thread::Builder::new()
            .name("coopledger-commit".into())
            .spawn(move || {
                for (staged, replies, done) in groups {
                    let results = committer.commit(staged);
                    for (reply, result) in replies.into_iter().zip(results) {
                        // The caller may have gone away (a cancelled request); its append
                        // stands regardless.
                        let _ = reply.send(result);
                    }
                    let _ = done.send(());
                }
            })
            .expect("spawn the ledger's commit thread");
        let waiter = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime to wait on");
        Pipeline {
            to_commit: Some(to_commit),
            committing: None,
            open: None,
            opened_idle: false,
            waiter,
            thread: Some(thread),
        }
    }

    /// The events staged into the open group.
    fn events(&self) -> usize {
        self.open.as_ref().map_or(0, |(open, _)| open.events())
    }

    /// Waits for a job, or for the group committing to return; only for that while the open
    /// group is full.
    fn wait(&mut self, rx: &mut mpsc::Receiver<Job>) -> Next {
        let full = self.events() >= GROUP_MAX_EVENTS;
        let Some(committing) = &mut self.committing else {
            return Next::Job(rx.blocking_recv());
        };
        let next = self.waiter.block_on(async {
            if full {
                let _ = committing.await;
                return Next::Committed;
            }
            tokio::select! {
                biased;
                _ = &mut *committing => Next::Committed,
                job = rx.recv() => Next::Job(job),
            }
        });
        if matches!(next, Next::Committed) {
            self.committing = None;
        }
        next
    }

    /// Stages `appends` into the open group (opening one over the group committing, if
    /// none is open), and hands it over if no group is committing.
    fn stage(&mut self, ledger: &mut Ledger, appends: Vec<(Request, Reply)>) {
        let (requests, replies): (Vec<_>, Vec<_>) = appends.into_iter().unzip();
        if self.open.is_none() {
            self.opened_idle = self.committing.is_none();
        }
        let (open, waiting) = self
            .open
            .get_or_insert_with(|| (ledger.open_group(), Vec::new()));
        ledger.stage(open, requests);
        waiting.extend(replies);
        if self.committing.is_none() {
            self.hand_over(ledger);
        }
    }

    /// Closes the open group, if any, and hands it to the commit thread (no group is
    /// committing).
    fn hand_over(&mut self, ledger: &mut Ledger) {
        debug_assert!(self.committing.is_none(), "two groups committing at once");
        let Some((open, replies)) = self.open.take() else {
            return;
        };
        let views = if self.opened_idle {
            Views::Now
        } else {
            Views::WhenDue
        };
        let staged = ledger.close_group(open, views);
        let Some(to_commit) = &self.to_commit else {
            return;
        };
        let (done, committed) = oneshot::channel();
        match to_commit.send((staged, replies, done)) {
            Ok(()) => self.committing = Some(committed),
            // The commit thread is gone (it panicked, and said so): the replies are dropped
            // with the group, and their callers get `Error::Closed`.
            Err(_) => self.to_commit = None,
        }
    }

    /// Commits everything staged, and waits until it is answered.
    fn flush(&mut self, ledger: &mut Ledger) {
        while self.open.is_some() || self.committing.is_some() {
            if let Some(committing) = self.committing.take() {
                let _ = self.waiter.block_on(committing);
            }
            self.hand_over(ledger);
        }
    }

    fn stop(mut self) {
        drop(self.to_commit.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn follower_loop(mut ledger: Ledger, mut rx: mpsc::Receiver<Job>) {
    let mut failing = false;
    let mut following = true;
    loop {
        // Writes are refused; a stop is answered once the current wait is over.
        let job = if following {
            match rx.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) => None,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        } else {
            // Stopped following: only the queue is left to answer.
            match rx.blocking_recv() {
                Some(job) => Some(job),
                None => break,
            }
        };
        match job {
            Some(Job::Stop) => break,
            Some(Job::Append(_, reply)) => drop(reply.send(Err(Error::ReadOnly))),
            Some(Job::Rebuild(_, reply)) => drop(reply.send(Err(Error::ReadOnly))),
            Some(Job::Checkpoint(_, reply)) => drop(reply.send(Err(Error::ReadOnly))),
            None => {}
        }
        if !following {
            continue;
        }
        let step = ledger.wait_for_records(FOLLOW_WAIT).and_then(|more| {
            if more {
                ledger.catch_up().map(drop)
            } else {
                Ok(())
            }
        });
        match step {
            Ok(()) if failing => {
                tracing::info!(head = ledger.reader().head().seq, "following the log again");
                failing = false;
            }
            Ok(()) => {}
            Err(e @ Error::Corrupt { .. }) => {
                // What was verified stays served; nothing after the bad record is.
                let reason = format!("stopped following the log: {e}");
                ledger.stop_following(&reason);
                following = false;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot follow the log; trying again");
                    failing = true;
                }
                std::thread::sleep(FOLLOW_RETRY);
            }
        }
    }
    tracing::debug!("follower stopped");
}

/// Why a subscription ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The subscriber fell too far behind the live feed; resume with `subscribe(last + 1)`.
    #[error("subscriber dropped for falling behind; last delivered sequence {last}")]
    Dropped {
        /// The last sequence delivered.
        last: u64,
    },
    /// Reading history failed.
    #[error(transparent)]
    Read(#[from] Error),
}

/// History then live records, in sequence order, each exactly once.
pub struct Subscription {
    reader: Reader,
    replay: Arc<Semaphore>,
    live: broadcast::Receiver<Arc<Vec<RecordedEvent>>>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    ended: bool,
}

impl Subscription {
    /// The next record; `None` once the ledger is closed or after an error was returned.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, SubscriptionError>> {
        if self.buffer.is_empty() {
            match self.fill().await? {
                Ok(()) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        self.buffer.pop_front().map(Ok)
    }

    /// The records ready now, in order (a page of history or a live group; never empty);
    /// `None` once the ledger is closed or after an error was returned.
    pub async fn next_batch(&mut self) -> Option<Result<Vec<RecordedEvent>, SubscriptionError>> {
        if self.buffer.is_empty() {
            match self.fill().await? {
                Ok(()) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(self.buffer.drain(..).collect()))
    }

    /// Waits until the buffer holds records, an error ends the subscription, or the ledger
    /// closes (`None`).
    async fn fill(&mut self) -> Option<Result<(), SubscriptionError>> {
        while self.buffer.is_empty() {
            if self.ended {
                return None;
            }
            // Catch up from the store while the published head is ahead; the live receiver
            // was created first, so nothing committed since can be missed.
            if self.next <= self.reader.head().seq {
                match self.read_history().await {
                    Ok(page) => {
                        self.next += page.len() as u64;
                        self.buffer.extend(page);
                        continue;
                    }
                    Err(e) => {
                        self.ended = true;
                        return Some(Err(e));
                    }
                }
            }
            match self.live.recv().await {
                Ok(batch) => {
                    let first = batch.first().map_or(self.next, |e| e.sequence);
                    if first > self.next {
                        // Committed while we were reading history: fetch the gap from the store.
                        continue;
                    }
                    for event in batch.iter() {
                        if event.sequence >= self.next {
                            self.next = event.sequence + 1;
                            self.buffer.push_back(event.clone());
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.ended = true;
                    return Some(Err(SubscriptionError::Dropped {
                        last: self.next - 1,
                    }));
                }
                Err(broadcast::error::RecvError::Closed) => {
                    self.ended = true;
                    return None;
                }
            }
        }
        Some(Ok(()))
    }

    /// One page of history from `next`, read on a blocking thread once a replay reader is
    /// free.
    async fn read_history(&self) -> Result<Vec<RecordedEvent>, SubscriptionError> {
        let permit = Arc::clone(&self.replay)
            .acquire_owned()
            .await
            .map_err(|_| SubscriptionError::Read(Error::Closed))?;
        let (reader, from) = (self.reader.clone(), self.next);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            reader.read_forward(from, HISTORY_PAGE)
        })
        .await
        .map_err(|e| Error::Internal(format!("a history read failed: {e}")))?
        .map_err(SubscriptionError::Read)
    }

    /// The next sequence this subscription will deliver.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.next
    }
}
