//! What the binary says about a damaged store (issue 13, item 14): a bit flipped anywhere in
//! sled's data file `db` gives a sentence naming what is damaged — never sled's debug text
//! (`Read corrupted data at file offset Some(Inline(…)) backtrace ()`), never a panic — and an
//! exit code of the documented ones.

use crate::proofs::{coopledger, ledger_with, path_str};
use crate::support::tempdir;

/// Text that only debug formatting of a library's error produces.
const DEBUG_TEXT: [&str; 6] = [
    "Some(",
    "Inline(",
    "backtrace",
    "Error {",
    "Corruption {",
    "panicked",
];

#[test]
fn a_flipped_bit_in_the_data_file_is_named_in_a_sentence() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let pristine = cwd.join("pristine");
    ledger_with(&pristine, 1_414, 300);
    let bytes = std::fs::read(pristine.join("db")).expect("db");
    let copy = cwd.join("copy");
    let mut seen = std::collections::BTreeMap::<i32, usize>::new();
    // Every 1/40 of the file, first and last byte included.
    let step = (bytes.len() / 40).max(1);
    for at in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(&copy).expect("copy");
        for entry in std::fs::read_dir(&pristine).expect("list") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_file() {
                std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copy");
            }
        }
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x04;
        std::fs::write(copy.join("db"), &damaged).expect("damage");
        let report = cwd.join("report.html");
        let report = ["report", "--out", path_str(&report)];
        for command in [&["verify"][..], &["log", "--limit", "1"], &report] {
            let mut args = vec!["--db", path_str(&copy)];
            args.extend_from_slice(command);
            let run = coopledger(cwd, &args);
            assert!(
                matches!(run.code, 0 | 1 | 4),
                "byte {at}, {command:?}: exit {}: {run:#?}",
                run.code
            );
            for text in DEBUG_TEXT {
                assert!(
                    !run.stderr.contains(text),
                    "byte {at}, {command:?} printed debug text {text:?}: {run:#?}"
                );
            }
            if run.code != 0 {
                let first = run.stderr.lines().next().unwrap_or_default();
                assert!(
                    first.starts_with("verification failed: ") || first.starts_with("error: "),
                    "byte {at}, {command:?}: not a sentence: {run:#?}"
                );
            }
            *seen.entry(run.code).or_default() += 1;
        }
    }
    println!("exit codes over the flipped bytes: {seen:?}");
    assert!(
        seen.keys().any(|code| *code != 0),
        "no flip was detected: {seen:?}"
    );
}
