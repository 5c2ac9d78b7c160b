//! The README's local example (`examples/postgres-local.sh`) runs: a primary and a standby on
//! loopback, the demo through the primary, the ledger read and verified on the standby.

use std::path::Path;
use std::process::Command;

#[test]
fn the_local_example_script_runs_the_demo_on_a_primary_and_a_standby() {
    if !super::cluster::enabled("the_local_example_script_runs_the_demo_on_a_primary_and_a_standby")
    {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/postgres-local.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("COOPLEDGER", env!("CARGO_BIN_EXE_coopledger"))
        .env("SYNTHETIC", "200")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: Vec<&str> = stdout.lines().filter(|l| l.starts_with("ok: ")).collect();
    assert_eq!(
        verified.len(),
        2,
        "the demo's and the standby's verification:\n{stdout}"
    );
    assert!(stdout.contains("as the standby serves it"), "{stdout}");
}
