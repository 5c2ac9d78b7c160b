//! Availability under attack (issue 13, items 1–3): the real binary (`coopledger serve` as a
//! child process) against raw TCP clients that hold connections half-open, read no feed, and a
//! SIGTERM while they do. Every wait is bounded in count and time; the figures (how many held,
//! how fast refused, dropped and stopped) are printed with `--nocapture`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coopledger::Ledger;
use reqwest::StatusCode;
use serde_json::Value;
use socket2::{Domain, Socket, Type};

use crate::support::*;

const STAFF: &str = "staff-token-availability-0";
const READER: &str = "reader-token-availability-0";
/// The most any wait of these tests lasts before it fails: far beyond what each needs, so a
/// loaded machine does not fail them, yet a server that never lets go does.
const PATIENCE: Duration = Duration::from_secs(60);
/// Records of history for the feeds: several megabytes, more than the kernel's socket buffers
/// on loopback hold (up to 4 MiB for sending), so a client that does not read stalls the
/// server's writes.
const HISTORY: usize = 16_000;
/// A request head without its final blank line: the server waits for the rest.
const HALF_OPEN: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

struct Served {
    child: Child,
    addr: SocketAddr,
    db: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(extra: &[&str]) -> Served {
        let dir = tempdir();
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, format!("staff {STAFF}\nreader {READER}\n")).expect("tokens");
        let db = dir.path().join("ledger");
        let log = dir.path().join("serve.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_coopledger"))
            .arg("--db")
            .arg(&db)
            .args(["--create", "serve", "--addr", "127.0.0.1:0", "--tokens"])
            .arg(&tokens)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("the URL line");
        let addr = first
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        Served {
            child,
            addr,
            db,
            log,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's counters, read on a connection that closes after the answer.
    fn metrics(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .bearer_auth(READER)
            .header("connection", "close")
            .send()
            .and_then(Response::text)
            .expect("metrics")
    }

    /// SIGTERM, then how long the process took to exit (it must, within PATIENCE).
    fn terminate(&mut self) -> Duration {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                assert!(
                    exit.success(),
                    "serve exits cleanly: {exit:?}\n{}",
                    self.log()
                );
                return started.elapsed();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "serve did not exit after SIGTERM\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Appends `n` synthetic activities, in batches.
    fn seed(&self, n: usize, seed: u64) {
        let mut synth = coopledger::synth::Synth::new(seed);
        for batch in 0..n.div_ceil(8_000) {
            let text: String = (0..(n - batch * 8_000).min(8_000))
                .map(|_| {
                    format!(
                        "{}\n",
                        Value::Object(coopledger::proto_events::staff::to_staff_object(
                            &synth.activity()
                        ))
                    )
                })
                .collect();
            let posted = client()
                .post(self.url("/v1/events"))
                .bearer_auth(STAFF)
                .body(text)
                .send()
                .expect("history");
            assert_eq!(posted.status(), StatusCode::CREATED, "{}", self.log());
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use reqwest::blocking::Response;

/// A connection from `from` (a loopback address) to `to`, with a small receive buffer so that
/// a response the test does not read fills it quickly.
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .bind(&SocketAddrV4::new(from, 0).into())
        .expect("bind a loopback address");
    socket.connect(&to.into()).expect("connect");
    socket.into()
}

/// How a held connection ended, seen from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The server answered 503 (refused by a cap) and closed.
    Refused,
    /// The server closed without answering (it dropped the incomplete request).
    Dropped,
    /// Still open when the client gave up (a failure).
    Held,
    /// Anything else.
    Other(String),
}

/// Reads until the server closes the connection, and says how it ended and how long after
/// `started` (its connect).
fn await_end(mut stream: TcpStream, started: Instant) -> (End, Duration) {
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        match stream.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break None,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break Some(End::Held);
            }
            Err(e) => break Some(End::Other(e.to_string())),
        }
    };
    let end = end.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&got);
        if got.is_empty() {
            End::Dropped
        } else if text.starts_with("HTTP/1.1 503")
            && text.contains("application/problem+json")
            && text.contains("too_many_connections")
        {
            End::Refused
        } else {
            End::Other(text.into_owned())
        }
    });
    (end, started.elapsed())
}

fn counter(metrics: &str, sample: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {sample} in\n{metrics}"))
}

/// Issue 13.1: held half-open connections were never dropped and exhausted the process's files.
/// Now the caps refuse what is over them at once (a 503 problem), the header timeout drops the
/// rest, and the server serves again; the refusals are counted in /metrics.
#[test]
fn half_open_connections_are_capped_overall_and_per_address_then_dropped() {
    let (total, per_address, over) = (150usize, 100usize, 10usize);
    let server = Served::start(&[
        "--max-connections",
        &total.to_string(),
        "--max-connections-per-address",
        &per_address.to_string(),
        "--idle-timeout",
        "2",
    ]);
    // 110 from one address (10 over its cap), then 60 from another (10 over the total).
    let mut held = Vec::new();
    for (from, n) in [
        (Ipv4Addr::new(127, 0, 0, 1), per_address + over),
        (Ipv4Addr::new(127, 0, 0, 2), total - per_address + over),
    ] {
        for _ in 0..n {
            let connected = Instant::now();
            let mut stream = connect_from(from, server.addr);
            stream.write_all(HALF_OPEN).expect("half a request");
            held.push((from, stream, connected));
        }
    }
    let attempted = held.len();
    let watchers: Vec<_> = held
        .into_iter()
        .map(|(from, stream, connected)| {
            std::thread::spawn(move || (from, await_end(stream, connected)))
        })
        .collect();
    let ends: Vec<(Ipv4Addr, (End, Duration))> = watchers
        .into_iter()
        .map(|w| w.join().expect("watcher"))
        .collect();
    let count = |from: u8, what: &End| {
        ends.iter()
            .filter(|(f, (e, _))| f.octets()[3] == from && e == what)
            .count()
    };
    let unexpected: Vec<_> = ends
        .iter()
        .filter(|(_, (e, _))| !matches!(e, End::Refused | End::Dropped))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}\n{}", server.log());
    assert_eq!(
        (count(1, &End::Refused), count(1, &End::Dropped)),
        (over, per_address),
        "per-address cap"
    );
    assert_eq!(
        (count(2, &End::Refused), count(2, &End::Dropped)),
        (over, total - per_address),
        "overall cap"
    );
    let slowest = |what: &End| {
        ends.iter()
            .filter(|(_, (e, _))| e == what)
            .map(|(_, (_, t))| *t)
            .max()
            .unwrap_or_default()
    };
    let first_dropped = ends
        .iter()
        .filter(|(_, (e, _))| *e == End::Dropped)
        .map(|(_, (_, t))| *t)
        .min()
        .unwrap_or_default();
    assert!(
        slowest(&End::Refused) < first_dropped,
        "refusals come at once, before any held connection times out"
    );
    eprintln!(
        "availability: {attempted} half-open connections; {} refused (slowest {:?} after its connect), {} held then dropped by the header timeout (first {first_dropped:?}, last {:?} after its connect)",
        2 * over,
        slowest(&End::Refused),
        total,
        slowest(&End::Dropped),
    );
    // Serving again, with every refusal and drop counted.
    let metrics = server.metrics();
    assert_eq!(
        counter(
            &metrics,
            "coopledger_http_connections_refused_total{reason=\"per_address\"}"
        ),
        over as u64
    );
    assert_eq!(
        counter(
            &metrics,
            "coopledger_http_connections_refused_total{reason=\"total\"}"
        ),
        over as u64
    );
    assert_eq!(
        counter(
            &metrics,
            "coopledger_http_connections_timed_out_total{phase=\"headers\"}"
        ),
        total as u64
    );
}

/// Issue 13.2: SIGTERM with half-open connections and feeds whose clients do not read left the
/// server running indefinitely. Now it exits within its grace period, and every append it
/// acknowledged, up to the signal, is durable.
#[test]
fn sigterm_stops_the_server_within_its_grace_whatever_clients_hold() {
    let mut server = Served::start(&["--grace", "2", "--idle-timeout", "60"]);
    // History for the feeds to replay: more than their buffers and sockets hold.
    server.seed(HISTORY, 1_313);
    let loopback = Ipv4Addr::LOCALHOST;
    let half_open: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = connect_from(loopback, server.addr);
            s.write_all(HALF_OPEN).expect("half a request");
            s
        })
        .collect();
    let feeds: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connect_from(loopback, server.addr);
            write!(
                s,
                "GET /v1/feed?from=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READER}\r\n\r\n"
            )
            .expect("feed request");
            s
        })
        .collect();
    // Appends go on until the signal; each one acknowledged must survive.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3u64)
        .map(|w| {
            let (url, stop) = (server.url("/v1/events"), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut synth = coopledger::synth::Synth::new(7_000 + w);
                let mut acked = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let event = synth.activity();
                    let text =
                        Value::Object(coopledger::proto_events::staff::to_staff_object(&event))
                            .to_string();
                    match client().post(&url).bearer_auth(STAFF).body(text).send() {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            acked.push(event.event_id.expect("id"));
                        }
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    // The feeds are open and stalled before the signal: wait until the server counts them.
    let opened = Instant::now();
    while counter(&server.metrics(), "coopledger_http_feeds_open") < feeds.len() as u64 {
        assert!(opened.elapsed() < PATIENCE, "the feeds never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let took = server.terminate();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    eprintln!(
        "availability: SIGTERM with {} half-open connections, {} unread feeds and {} writers: exited after {took:?} (grace 2 s), {} appends acknowledged meanwhile",
        half_open.len(),
        feeds.len(),
        3,
        acked.len()
    );
    drop((half_open, feeds));
    let ledger = Ledger::open(&server.db).expect("the store is released and reopens");
    let reader = ledger.reader();
    for id in &acked {
        assert!(
            reader.get(id).expect("read").is_some(),
            "acknowledged {id} lost"
        );
    }
    assert!(reader.head().seq >= HISTORY as u64 + acked.len() as u64);
    reader.verify(&mut |_, _| {}).expect("verify");
}

/// Issue 13.3: a feed whose client does not read held its connection (and its replay) forever.
/// Now the connection is closed once the response makes no progress for the idle timeout, and
/// other requests are served meanwhile.
#[test]
fn a_feed_whose_client_does_not_read_is_closed_and_others_are_served() {
    let server = Served::start(&["--idle-timeout", "1"]);
    server.seed(HISTORY, 1_414);
    let started = Instant::now();
    let mut stalled = connect_from(Ipv4Addr::LOCALHOST, server.addr);
    write!(
        stalled,
        "GET /v1/feed?from=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READER}\r\n\r\n"
    )
    .expect("feed request");
    // While it stalls, the server answers others; then it counts the stalled write.
    loop {
        let head: Value = client()
            .get(server.url("/v1/head"))
            .bearer_auth(READER)
            .send()
            .and_then(Response::json)
            .expect("the head while a feed stalls");
        assert_eq!(head["seq"], HISTORY);
        if counter(
            &server.metrics(),
            "coopledger_http_connections_timed_out_total{phase=\"write\"}",
        ) == 1
        {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the stalled feed was never closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed_after = started.elapsed();
    // What the server had sent is there to read, and then the end of the connection.
    stalled
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    let mut received = Vec::new();
    let end = stalled.read_to_end(&mut received);
    assert!(
        end.is_ok()
            || end
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{end:?}"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    let delivered = text.matches("\nid: ").count();
    assert!(
        delivered < HISTORY,
        "the stalled client cannot have received the whole history"
    );
    eprintln!(
        "availability: a feed that does not read (4 KiB receive buffer) was closed after {closed_after:?} (idle timeout 1 s), {delivered} of {HISTORY} records sent into its buffers"
    );
}
