//! Integration tests: each one writes exports (and, when needed, a changed rule pack) into a
//! temp folder, runs the real `utfall` binary and checks its exit code, stderr, the JSON and
//! the workbooks read back with calamine. Expected figures are computed by hand in comments.
//!
//! `UPDATE_GOLDEN=1 cargo test --test cli` rewrites the golden dumps under `tests/golden/`.
//! `KEEP_TEMP=1` keeps a failing test's folder.

#[path = "cli/harness.rs"]
mod harness;

#[path = "cli/indicators.rs"]
mod indicators;

#[path = "cli/inputs.rs"]
mod inputs;

#[path = "cli/statuses.rs"]
mod statuses;

#[path = "cli/rules.rs"]
mod rules;

#[path = "cli/outputs.rs"]
mod outputs;

#[path = "cli/privacy.rs"]
mod privacy;

#[path = "cli/golden.rs"]
mod golden;

#[path = "cli/semantics.rs"]
mod semantics;

#[path = "cli/budget.rs"]
mod budget;

#[path = "cli/email.rs"]
mod email;

#[path = "cli/watch.rs"]
mod watch;

#[path = "cli/robustness.rs"]
mod robustness;

#[path = "cli/authoring.rs"]
mod authoring;

#[path = "cli/datasets.rs"]
mod datasets;
