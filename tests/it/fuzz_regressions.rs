//! Every input the fuzzers found a problem with, fixed and kept under `fuzz/regressions/<target>/`,
//! replayed through the same property checks as the fuzz targets (`fuzz/checks.rs`).

#[path = "../../fuzz/checks.rs"]
mod checks;

/// A property check of one fuzz target.
type Check = fn(&[u8]);

#[test]
fn every_kept_fuzz_input_passes_its_target_checks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let targets: [(&str, Check); 4] = [
        ("staff_json", checks::staff_json),
        ("record_decode", checks::record_decode),
        ("checkpoint", checks::checkpoint),
        ("proofs", checks::proofs),
    ];
    let mut replayed = 0;
    for (name, check) in targets {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("read");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} fails its check again",
                path.display()
            );
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no regression inputs found under {}",
        root.display()
    );
}
