//! The C2SP tlog-tiles read API (`GET /checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//! `/tile/entries/<N>[.p/<W>]`) on a real port, against the tree: at several sizes (around the
//! tile boundaries), every tile and entry bundle the spec says a tree of that size has equals
//! what `ct-merkle` and `tlog_tiles` compute from the record bodies; `tlog_tiles`'s own client
//! (the Go sumdb algorithms), reading tiles over HTTP, authenticates them against the signed
//! checkpoint and proves inclusion and consistency; tiles the tree does not hold are 404, paths
//! that are not tile paths are 400, and the cache headers say what may be cached.

use std::path::Path;

use coopledger::LedgerHandle;
use coopledger::audit::checkpoint::{self, Key, PublicKey};
use coopledger::http::{self, Config, auth::Tokens};
use coopledger::synth::Synth;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use reqwest::StatusCode;
use sha2::Sha256;
use tlog_tiles::{Tile, TileHashReader, TileReader};

use crate::support::{check_schema, client, tempdir};

const READER: &str = "reader-token-tlog-0123456789";

struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
    handle: Option<LedgerHandle>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = LedgerHandle::create(dir).expect("create");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let config = Config {
            tokens: Some(Tokens::parse("t", &format!("reader {READER}\n")).expect("tokens")),
            ..Config::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = runtime.spawn(http::serve(listener, handle.clone(), config, async {
            let _ = stopped.await;
        }));
        Server {
            base,
            runtime,
            handle: Some(handle),
            stop: Some(stop),
            done: Some(done),
        }
    }

    fn handle(&self) -> &LedgerHandle {
        self.handle.as_ref().expect("the server runs")
    }

    fn get(&self, path: &str) -> reqwest::blocking::Response {
        client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(READER)
            .send()
            .expect("GET")
    }

    fn bytes(&self, path: &str) -> (StatusCode, String, Vec<u8>) {
        let response = self.get(path);
        let status = response.status();
        let cache = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, cache, response.bytes().expect("body").to_vec())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server's shutdown waits for the writer, which waits for every handle.
        drop(self.handle.take());
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = self.runtime.block_on(done);
        }
    }
}

/// The tile path of the spec for `(level or entries, index, width)`, through `tlog_tiles`.
fn spec_path(level: Option<u8>, index: u64, width: u32) -> String {
    let tile = Tile::new(8, level.unwrap_or(0), index, width, level.is_none());
    let path = tile.path();
    let rest = path.strip_prefix("tile/8/").expect("height 8");
    match rest.strip_prefix("data/") {
        Some(n) => format!("/tile/entries/{n}"),
        None => format!("/tile/{rest}"),
    }
}

/// A `tlog_tiles` tile reader over the API.
struct HttpTiles<'a>(&'a Server);

impl TileReader for HttpTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let (status, _, bytes) =
                    self.0
                        .bytes(&spec_path(Some(t.level()), t.level_index(), t.width()));
                if status == StatusCode::OK {
                    Ok(bytes)
                } else {
                    Err(tlog_tiles::Error::InvalidTile)
                }
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// The hashes of the tile `(level, index)` of a tree over `bodies`, computed independently:
/// level 0 by `tlog_tiles::record_hash`, level 1 as `ct-merkle` roots of 256 leaves.
fn expected_tile(bodies: &[Vec<u8>], level: u8, index: u64, width: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..width {
        let n = index * 256 + i;
        let hash = match level {
            0 => tlog_tiles::record_hash(&bodies[n as usize]).0.to_vec(),
            1 => {
                let mut tree = MemoryBackedTree::<Sha256, Vec<u8>>::new();
                for body in &bodies[(n * 256) as usize..((n + 1) * 256) as usize] {
                    tree.push(body.clone());
                }
                tree.root().as_bytes().to_vec()
            }
            _ => unreachable!("level {level}"),
        };
        out.extend_from_slice(&hash);
    }
    out
}

#[test]
fn tiles_and_entry_bundles_equal_the_tree_at_several_sizes_and_tlog_tiles_proves_them() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let (skey, vkey) = checkpoint::generate("tlog.test/log");
    let key = std::sync::Arc::new(Key::parse(&skey).expect("key"));
    let public = PublicKey::parse(&vkey).expect("verifier key");

    let response = server.get("/checkpoint");
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no checkpoint yet"
    );
    check_schema(
        "/checkpoint",
        "get",
        404,
        &response.json().expect("a JSON error"),
    );
    let (status, _, _) = server.bytes("/tile/0/000.p/1");
    assert_eq!(status, StatusCode::NOT_FOUND, "an empty tree has no tiles");

    let mut synth = Synth::new(13_009);
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut previous: Option<(u64, tlog_tiles::Hash)> = None;
    for size in [1u64, 255, 256, 257, 511, 512, 513, 600] {
        let more = size - bodies.len() as u64;
        server
            .runtime
            .block_on(
                server
                    .handle()
                    .append((0..more).map(|_| synth.activity()).collect()),
            )
            .expect("append");
        let reader = server.handle().reader().clone();
        bodies = (1..=size)
            .map(|seq| reader.record_body(seq).expect("body"))
            .collect();
        server
            .runtime
            .block_on(server.handle().sign_checkpoint(key.clone()))
            .expect("sign");

        let response = server.get("/checkpoint");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/plain; charset=utf-8")
        );
        let cache = headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            cache.contains("max-age=5"),
            "the checkpoint is mutable: {cache}"
        );
        let note = response.text().expect("note");
        let signed = public.open(&note).expect("a checkpoint of the log");
        assert_eq!(signed.size, size);
        let root = tlog_tiles::Hash(signed.root);

        // Every tile of the spec's tiling of this tree, level 0 and 1, full and partial.
        for level in 0u8..=2 {
            let level_size = size >> (8 * u32::from(level));
            for index in 0..=level_size / 256 {
                let full = level_size >= (index + 1) * 256;
                let width = if full { 256 } else { level_size % 256 };
                if width == 0 {
                    let (status, _, _) = server.bytes(&spec_path(Some(level), index, 1));
                    assert_eq!(status, StatusCode::NOT_FOUND, "empty tile {level}/{index}");
                    continue;
                }
                let path = spec_path(Some(level), index, width as u32);
                let (status, cache, bytes) = server.bytes(&path);
                assert_eq!(status, StatusCode::OK, "{path} at size {size}");
                assert!(cache.contains("immutable"), "{path}: {cache}");
                assert_eq!(
                    bytes,
                    expected_tile(&bodies, level, index, width),
                    "{path} at size {size}"
                );
                if !full {
                    let wider = spec_path(Some(level), index, width as u32 + 1);
                    let (status, _, _) = server.bytes(&wider);
                    assert_eq!(status, StatusCode::NOT_FOUND, "{wider} at size {size}");
                }
                if level == 0 {
                    let path = spec_path(None, index, width as u32);
                    let (status, cache, bytes) = server.bytes(&path);
                    assert_eq!(status, StatusCode::OK, "{path}");
                    assert!(cache.contains("immutable"), "{path}: {cache}");
                    let mut expected = Vec::new();
                    for body in &bodies[(index * 256) as usize..(index * 256 + width) as usize] {
                        expected.extend_from_slice(&(body.len() as u16).to_be_bytes());
                        expected.extend_from_slice(body);
                    }
                    assert_eq!(bytes, expected, "{path} at size {size}");
                }
            }
        }
        // A partial tile stays what it was once the tile is full (it is cached as immutable).
        if size >= 256 {
            let (_, _, narrow) = server.bytes(&spec_path(Some(0), 0, 17));
            assert_eq!(narrow, expected_tile(&bodies, 0, 0, 17));
        }

        // tlog_tiles's client, over HTTP: the tiles authenticate to the signed root, and give
        // inclusion proofs of records and a consistency proof from the previous checkpoint.
        let tiles = HttpTiles(&server);
        let hashes = TileHashReader::new(size, root, &tiles);
        assert_eq!(
            tlog_tiles::tree_hash(size, &hashes).expect("tree hash"),
            root,
            "size {size}"
        );
        for n in [0, size / 2, size - 1] {
            let proof = tlog_tiles::prove_record(size, n, &hashes).expect("prove record");
            tlog_tiles::check_record(
                &proof,
                size,
                root,
                n,
                tlog_tiles::record_hash(&bodies[n as usize]),
            )
            .expect("inclusion");
        }
        if let Some((old_size, old_root)) = previous {
            let proof = tlog_tiles::prove_tree(size, old_size, &hashes).expect("prove tree");
            tlog_tiles::check_tree(&proof, size, root, old_size, old_root).expect("consistency");
        }
        previous = Some((size, root));
    }
}

#[test]
fn bad_tile_paths_are_400_and_missing_tiles_404_with_json_errors() {
    let dir = tempdir();
    let server = Server::start(dir.path());
    let mut synth = Synth::new(13_010);
    server
        .runtime
        .block_on(
            server
                .handle()
                .append((0..300).map(|_| synth.activity()).collect()),
        )
        .expect("append");
    for path in [
        "/tile/0/0",
        "/tile/0/00",
        "/tile/0/0000",
        "/tile/00/000",
        "/tile/64/000",
        "/tile/255/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0/000.p/044",
        "/tile/0/x000/001",
        "/tile/0/001/002",
        "/tile/0/x001",
        "/tile/entries/1",
        "/tile/entries/000.p/0",
        "/tile/a/000",
        "/tile/-1/000",
        "/tile/0/000/",
        "/tile/data/000",
    ] {
        let response = server.get(path);
        let status = response.status();
        let body: serde_json::Value = response.json().unwrap_or_default();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "bad_request", "{path}: {body}");
        check_schema("/tile/{tile}", "get", 400, &body);
    }
    for path in [
        "/tile/0/001",      // the second level-0 tile is partial (44 wide)
        "/tile/0/001.p/45", // wider than the tree
        "/tile/0/002.p/1",  // past the tree
        "/tile/1/000",      // level 1 holds one hash
        "/tile/1/000.p/2",
        "/tile/2/000.p/1",   // no level 2 yet
        "/tile/entries/001", // the second bundle is partial
        "/tile/entries/x001/000.p/1",
        "/tile/63/x018/x446/x744/x073/x709/x551/615",
        "/tile/", // no tile path at all: no such endpoint
    ] {
        let response = server.get(path);
        let status = response.status();
        let body: serde_json::Value = response.json().unwrap_or_default();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], "not_found", "{path}: {body}");
        check_schema("/tile/{tile}", "get", 404, &body);
    }
    for path in [
        "/tile/0/000",
        "/tile/0/001.p/44",
        "/tile/1/000.p/1",
        "/tile/entries/001.p/44",
    ] {
        assert_eq!(server.get(path).status(), StatusCode::OK, "{path}");
    }
    // Reads of the tiles follow the server's read policy like every other read.
    let anonymous = client()
        .get(format!("{}/tile/0/000", server.base))
        .send()
        .expect("GET");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
