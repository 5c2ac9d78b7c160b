//! Model-based state-machine test of the ledger through a real sled directory.
//!
//! `proptest-state-machine` drives it. The *reference* machine (`RefMachine`) holds a plain
//! model of the accepted log (ids, streams, contents, in a canonical order) and predicts with
//! rules of its own. It generates the transitions, with
//! realistic weights: valid batches of 1–4 events (joins, status changes, partners, meetings,
//! scheduled, cancelled and delivered activities, cases with milestones, additions and
//! closure), batches with a conflicting `expected_version`, idempotent re-sends, re-used ids
//! with other content, corrections and retractions (valid and invalid), batches with an
//! invalid fact, a large batch for the writer's parallel path, concurrent submissions from
//! tokio tasks through the async `LedgerHandle` (including racing writers of one stream and
//! racing identical retries), requests pipelined on the handle (grouped by the writer, later
//! ones depending on earlier ones), close and reopen, and reads. For every submission it
//! predicts acceptance (stream and version of each new record, or the original receipt of a
//! re-sent event) or refusal (which events, which rules, conflict or invalid).
//!
//! A refused batch may name only its first failing event or all of them (each judged without
//! the failed ones before it); a refusal must be a conflict when every rule it names is one
//! (`expected_version`, `event_id_reused`) and invalid when none is.
//!
//! The *system under test* (`Sut`) is a real ledger in a temporary directory, used through
//! `Ledger` until the first concurrent or pipelined transition and through a `LedgerHandle`
//! (a real tokio runtime) from then until the next reopen. Next to it the test keeps the log as
//! acknowledged, by sequence (id, stream, version, content, recording time, hash), built from
//! the receipts; every read (`get`, `read_forward`, `read_backward`, `read_stream`,
//! `stream_version`, `head`, `seq_at_time`, `views_at`, `verify`, `verify_store`) is checked
//! against it, and every refused event id must stay unknown.
//!
//! The views (`views_at` by sequence, time and head; the maintained views after concurrent and
//! pipelined transitions, reopens and at the end) are compared as JSON with the model's:
//! which countries have a view, every per-country view and the inter-regional view; the
//! maintained views must also equal a fresh fold of the log. (`views_model.rs` checks them
//! by date too, against a model of its own.)
//!
//! The model is an oracle independent of the code it checks: its rules (`rules`), effective
//! state (`effective`) and views (`views`) are written from the domain reference
//! (`/work/shared/docs/domain.md`, "Validation", "Effective state", "Regions", "Views") and the
//! README's "Rules the domain reference leaves open", not from `src/`, and in another style:
//! every answer is recomputed from the whole list of records with plain loops over `Vec`s and
//! `BTreeMap`s, with no state carried from one append to the next. Where the product settles
//! what the domain text leaves open, the comment at that rule says so and cites the README or
//! the rule's own description; where it departs from the text (a delivery on its schedule's
//! stream, the rules of a cancellation, a reused id or a step of a case that is not open
//! reported alone), the comment says that too.
//!
//! Every run prints its seed first and, at the end, how many transitions of each kind ran;
//! rerun one with `PROPTEST_RNG_SEED=<seed> cargo test --test it state_machine -- --nocapture`.
//! Deeper runs: `STATE_MACHINE_CASES=<n>` (default 40), `STATE_MACHINE_STEPS=<n>` (default
//! 100; each case runs between half that and that many transitions).
//!
//! Layout: this file wires the two machines to `proptest-state-machine` and holds the test;
//! `data` the generators' reference data and ids; `domain` the event vocabulary as domain.md
//! describes it (streams, types, milestone countries, programme regions); `model` the
//! reference state and its predictions; `rules` the rules it predicts with; `effective` the
//! effective state; `views` the model's views; `generate` events and `transitions`
//! transitions; `sut` the ledger under test and the acknowledged log; `checks` the
//! comparisons; `stats` the counts printed at the end.

mod checks;
mod data;
mod domain;
mod effective;
mod generate;
mod model;
mod rules;
mod stats;
mod sut;
mod transitions;
mod views;

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};

use crate::backends::Kind;
use crate::support::seed;
use model::{RefState, SubExpect};
use stats::{TRANSITIONS, stat, stats};
use sut::Sut;
use transitions::Transition;

struct RefMachine;

impl ReferenceStateMachine for RefMachine {
    type State = RefState;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<RefState> {
        Just(RefState::default()).boxed()
    }

    fn transitions(state: &RefState) -> BoxedStrategy<Transition> {
        transitions::strategy(state)
    }

    fn apply(mut state: RefState, transition: &Transition) -> RefState {
        state.expect.clear();
        match transition {
            Transition::Append { events, next, .. } => {
                state.next = state.next.max(*next);
                let expect = state.decide(events);
                state.expect = vec![SubExpect::Alone(expect)];
            }
            Transition::Concurrent { subs, next } => {
                state.next = state.next.max(*next);
                state.expect = state.predict_concurrent(subs);
            }
            Transition::Pipelined { requests, next } => {
                state.next = state.next.max(*next);
                state.expect = requests
                    .iter()
                    .map(|events| SubExpect::Alone(state.decide(events)))
                    .collect();
            }
            _ => {}
        }
        state
    }
}

struct LedgerMachine;

impl StateMachineTest for LedgerMachine {
    type SystemUnderTest = Sut;
    type Reference = RefMachine;

    fn init_test(_: &RefState) -> Sut {
        Sut::new()
    }

    fn apply(mut sut: Sut, model: &RefState, transition: Transition) -> Sut {
        sut.step += 1;
        stat(transition.label(), None);
        TRANSITIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = match &transition {
            Transition::Append { events, .. } => match model.expect.first() {
                Some(SubExpect::Alone(expect)) => {
                    sut.run_append(transition.label(), events, expect)
                }
                other => Err(format!("no prediction for the append: {other:?}")),
            },
            Transition::Concurrent { subs, .. } => sut.run_concurrent(subs, &model.expect),
            Transition::Pipelined { requests, .. } => sut.run_pipelined(requests, &model.expect),
            Transition::Reopen => sut.run_reopen(),
            Transition::Get { pick, unknown } => sut.run_get(*pick, *unknown),
            Transition::ReadForward { from, limit } => sut.run_read_forward(*from, *limit),
            Transition::ReadBackward { from, limit } => sut.run_read_backward(*from, *limit),
            Transition::ReadStream {
                pick,
                from_version,
                limit,
            } => sut.run_read_stream(*pick, *from_version, *limit),
            Transition::Head => sut.check_head(),
            Transition::SeqAtTime { picks } => sut.run_seq_at_time(picks),
            Transition::ViewsAt { pick } => {
                let k = pick % (sut.head() + 2);
                if pick % 3 == 1 && k >= 1 && k <= sut.head() {
                    sut.check_views_at_time(k)
                } else {
                    sut.check_views(k, pick.is_multiple_of(5))
                }
            }
            Transition::Verify => sut.run_verify(),
        };
        if let Err(msg) = result {
            panic!(
                "step {} ({}): {msg}\n(seed {}: PROPTEST_RNG_SEED={} cargo test --test it state_machine)",
                sut.step,
                transition.label(),
                seed(),
                seed()
            );
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &RefState) {
        assert_eq!(
            sut.log.len(),
            model.log.len(),
            "step {}: the ledger acknowledged {} events, the reference model accepted {}",
            sut.step,
            sut.log.len(),
            model.log.len()
        );
        if let Err(msg) = sut.check_head() {
            panic!("step {}: {msg}", sut.step);
        }
    }

    fn teardown(mut sut: Sut, _: RefState) {
        let result = sut
            .check_all()
            .and_then(|()| sut.run_verify())
            .and_then(|()| sut.check_views(sut.head(), false))
            .and_then(|()| sut.check_maintained_views());
        if let Err(msg) = result {
            panic!("at the end (step {}): {msg}", sut.step);
        }
        sut.close();
    }
}

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// The ledger (sync and through the async handle) behaves as the reference model says, through
/// appends, refusals, retries, amendments, concurrent submissions, reopens and reads.
#[test]
fn ledger_follows_the_reference_model() {
    run_model(Kind::Sled, env_or("STATE_MACHINE_CASES", 40));
}

/// The same on PostgreSQL: the contextual rules, idempotency, versions, views and reopens are
/// the ledger's on every backend (fewer cases: each is a new database).
#[test]
fn ledger_follows_the_reference_model_on_postgres() {
    if crate::pg::cluster::enabled("ledger_follows_the_reference_model_on_postgres") {
        run_model(Kind::Postgres, env_or("STATE_MACHINE_PG_CASES", 6));
    }
}

fn run_model(kind: Kind, cases: u32) {
    sut::BACKEND.with(|b| b.set(kind));
    let seed = seed();
    let steps = env_or("STATE_MACHINE_STEPS", 100) as usize;
    eprintln!(
        "state_machine ({kind:?}): seed {seed}, {cases} cases of {}..={steps} transitions \
         (rerun with PROPTEST_RNG_SEED={seed} cargo test --test it state_machine -- --nocapture)",
        steps / 2 + 1
    );
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 400,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let started = Instant::now();
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(
        &RefMachine::sequential_strategy(steps / 2 + 1..=steps),
        |(initial, transitions, seen)| {
            LedgerMachine::test_sequential(config.clone(), initial, transitions, seen);
            Ok(())
        },
    );
    let elapsed = started.elapsed();
    let stats = stats()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let transitions = TRANSITIONS.load(std::sync::atomic::Ordering::Relaxed);
    let mut report = format!(
        "state_machine: {transitions} transitions in {:.1} s (seed {seed}; shrinking runs included):\n",
        elapsed.as_secs_f64()
    );
    for (label, n) in stats.iter() {
        report.push_str(&format!("  {label:<48} {n:>6}\n"));
    }
    eprintln!("{report}");
    drop(stats);
    if let Err(e) = result {
        panic!(
            "{e}\nseed {seed}: rerun with PROPTEST_RNG_SEED={seed} cargo test --test it state_machine -- --nocapture"
        );
    }
}
