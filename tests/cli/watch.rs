//! `utfall watch` as a controller meets it: exports dropped into the watched folder (some
//! slowly, some while Excel holds a lock, some broken), a rule edited, then Ctrl-C or
//! SIGTERM. Every wait has a timeout; the watcher is killed if a test fails.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Case, UTB, befolkning, default_rule};

const STEM: &str = "Uppfoljning_ekonomiskt_bistand";
/// What the tests give `--settle-ms`: longer than any pause in a slow copy below.
const SETTLE_MS: u64 = 700;
const RUN_WAIT: Duration = Duration::from_secs(60);

/// A running `utfall watch` and the stderr lines it has printed.
struct Watching {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watching {
    fn start(case: &Case) -> Watching {
        let mut child = Command::new(env!("CARGO_BIN_EXE_utfall"))
            .arg("watch")
            .arg("--input")
            .arg(case.input_dir())
            .arg("--rules")
            .arg(case.rules_dir())
            .arg("--output")
            .arg(case.output_dir())
            .args(["--settle-ms", &SETTLE_MS.to_string()])
            // Room for the deliberately slow rule below (a busy loop of two seconds).
            .env("UTFALL_RULE_MAX_OPERATIONS", "1000000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `text`; fails with everything seen after `timeout`.
    fn wait_for(&mut self, text: &str, timeout: Duration) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {text:?} within {timeout:?}; stderr:\n{}",
            self.seen.join("\n")
        );
    }

    /// Collects what is printed for `d`.
    fn idle(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(line) = self.lines.recv_timeout(left) {
                self.seen.push(line);
            }
        }
    }

    fn runs(&self) -> Vec<&String> {
        self.seen
            .iter()
            .filter(|l| l.starts_with("watch: run "))
            .collect()
    }

    /// Sends `signal` (TERM or INT) and waits for a clean exit; gives the exit code.
    fn stop(mut self, signal: &str) -> (i32, Vec<String>) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the watcher did not stop on SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.idle(Duration::from_millis(100));
        let seen = std::mem::take(&mut self.seen);
        (code, seen)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn january() -> Case {
    Case::new()
        .csv(
            "utb_2019-01.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "befolkning.csv",
            &befolkning(
                2018,
                &[
                    ("Kungsholmen", 1000, 400, 300, 800),
                    ("Norrmalm", 2000, 500, 250, 1600),
                    ("Östermalm", 1000, 100, 450, 800),
                ],
            ),
        )
}

/// One result of the JSON of `period` in the case's output.
fn result(case: &Case, period: &str, id: &str) -> Value {
    let text =
        std::fs::read_to_string(case.output_dir().join(format!("{STEM}_{period}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id && r["district"].is_null())
        .unwrap()
        .clone()
}

fn stopped_cleanly(w: Watching, signal: &str, runs: usize) {
    let (code, seen) = w.stop(signal);
    assert_eq!(code, 0, "{}", seen.join("\n"));
    let last = seen.last().map(String::as_str).unwrap_or_default();
    assert_eq!(
        last,
        format!("watch: stopped after {runs} run(s)"),
        "{}",
        seen.join("\n")
    );
}

#[test]
fn a_file_copied_in_slowly_is_read_once_and_complete() {
    let case = january();
    let mut w = Watching::start(&case);
    let first = w.wait_for("watch: run 1 ", RUN_WAIT);
    assert!(first.contains("period 2019-01"), "{first}");

    // 60 households in February, written in uneven chunks that cut rows in half, with
    // pauses shorter than the settle time, as a slow network copy does.
    let mut text = format!("{UTB}\n");
    for h in 0..60 {
        text += &format!("2019-02;Kungsholmen;F{h};100;1;0;0;;\n");
    }
    let bytes = text.as_bytes();
    let path = case.input_dir().join("utb_2019-02.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in bytes.chunks(bytes.len() / 6 + 7) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(f);

    let second = w.wait_for("watch: run 2 ", RUN_WAIT);
    assert!(second.contains("(utb_2019-02.csv added)"), "{second}");
    assert!(second.contains("period 2019-02"), "{second}");
    assert!(!second.contains("problems"), "read complete: {second}");
    w.idle(Duration::from_millis(3 * SETTLE_MS));
    assert_eq!(w.runs().len(), 2, "read once: {:?}", w.runs());
    // Everything was read: 1 household in January + 60 in February.
    assert_eq!(result(&case, "2019-02", "hushall_unika")["value"], 61);
    assert_eq!(result(&case, "2019-02", "utbetalt")["value"], 7000);
    stopped_cleanly(w, "TERM", 2);
}

#[test]
fn a_rule_edit_triggers_a_rerun() {
    let case = january().rule("rapport.rhai", &default_rule("rapport.rhai"));
    let mut w = Watching::start(&case);
    w.wait_for("watch: run 1 ", RUN_WAIT);
    let edited = default_rule("rapport.rhai").replace(
        "titel: \"Uppföljning ekonomiskt bistånd\"",
        "titel: \"Uppföljning försörjningsstöd\"",
    );
    std::fs::write(case.rules_dir().join("rapport.rhai"), edited).unwrap();
    let second = w.wait_for("watch: run 2 ", RUN_WAIT);
    assert!(second.contains("(rapport.rhai changed)"), "{second}");
    let json =
        std::fs::read_to_string(case.output_dir().join(format!("{STEM}_2019-01.json"))).unwrap();
    assert!(
        json.contains("\"report\": \"Uppföljning försörjningsstöd\""),
        "{json}"
    );
    // An editor's backup file is not a rule file: no run for it.
    std::fs::write(case.rules_dir().join("rapport.rhai~"), "x").unwrap();
    w.idle(Duration::from_millis(3 * SETTLE_MS));
    assert_eq!(w.runs().len(), 2, "{:?}", w.runs());
    stopped_cleanly(w, "INT", 2);
}

#[test]
fn a_rule_edit_that_breaks_the_pack_keeps_the_last_report_and_says_why() {
    let case = january().rule("mal.rhai", &default_rule("mal.rhai"));
    let mut w = Watching::start(&case);
    w.wait_for("watch: run 1 ", RUN_WAIT);
    let json = case.output_dir().join(format!("{STEM}_2019-01.json"));
    let workbook = case.output_dir().join(format!("{STEM}_2019-01.xlsx"));
    let before = (
        std::fs::read(&json).unwrap(),
        std::fs::read(&workbook).unwrap(),
    );
    let stamp = std::fs::metadata(&json).unwrap().modified().unwrap();

    // A half-typed edit: the file no longer compiles.
    let broken = default_rule("mal.rhai").replacen("#{ indikator:", "#{ indikator: ,", 1);
    std::fs::write(case.rules_dir().join("mal.rhai"), broken).unwrap();
    let second = w.wait_for("watch: run 2 ", RUN_WAIT);
    assert!(second.contains("(mal.rhai changed)"), "{second}");
    assert!(second.contains("nothing written"), "{second}");
    assert!(second.contains("the rule pack is broken"), "{second}");
    assert!(second.contains("rules/mal.rhai:"), "{second}");
    assert!(second.contains("the last report is kept"), "{second}");
    assert!(
        w.seen
            .iter()
            .any(|l| l.starts_with("error: rules/mal.rhai:")),
        "{}",
        w.seen.join("\n")
    );
    assert_eq!(std::fs::metadata(&json).unwrap().modified().unwrap(), stamp);
    assert!(std::fs::read(&json).unwrap() == before.0, "JSON untouched");
    assert!(
        std::fs::read(&workbook).unwrap() == before.1,
        "workbook untouched"
    );

    // Fixed again: the next run writes.
    std::fs::write(case.rules_dir().join("mal.rhai"), default_rule("mal.rhai")).unwrap();
    let third = w.wait_for("watch: run 3 ", RUN_WAIT);
    assert!(third.contains("wrote 5 files"), "{third}");
    stopped_cleanly(w, "TERM", 3);
}

#[test]
fn a_file_open_in_excel_is_read_when_the_lock_goes() {
    let case = january();
    let mut w = Watching::start(&case);
    w.wait_for("watch: run 1 ", RUN_WAIT);
    let lock = case.input_dir().join("~$utb_2019-03.csv");
    std::fs::write(&lock, b"owner").unwrap();
    std::fs::write(
        case.input_dir().join("utb_2019-03.csv"),
        format!("{UTB}\n2019-03;Kungsholmen;H9;500;1;0;0;;\n"),
    )
    .unwrap();
    let waiting = w.wait_for("waiting for utb_2019-03.csv", RUN_WAIT);
    assert!(waiting.contains("~$utb_2019-03.csv"), "{waiting}");
    w.idle(Duration::from_millis(2 * SETTLE_MS));
    assert_eq!(
        w.runs().len(),
        1,
        "no run while the lock is there: {:?}",
        w.runs()
    );
    std::fs::remove_file(&lock).unwrap();
    let second = w.wait_for("watch: run 2 ", RUN_WAIT);
    assert!(second.contains("utb_2019-03.csv added"), "{second}");
    assert!(second.contains("period 2019-03"), "{second}");
    stopped_cleanly(w, "TERM", 2);
}

#[test]
fn a_bad_file_is_reported_and_the_watcher_goes_on() {
    let case = january();
    let mut w = Watching::start(&case);
    w.wait_for("watch: run 1 ", RUN_WAIT);
    std::fs::write(
        case.input_dir().join("trasig.xlsx"),
        b"not a workbook at all",
    )
    .unwrap();
    let second = w.wait_for("watch: run 2 ", RUN_WAIT);
    assert!(second.contains("trasig.xlsx added"), "{second}");
    assert!(second.contains("with problems"), "{second}");
    assert!(
        w.seen
            .iter()
            .any(|l| l.starts_with("error:") && l.contains("trasig.xlsx")),
        "{}",
        w.seen.join("\n")
    );
    // Removing it is a change too, and the next run is clean again.
    std::fs::remove_file(case.input_dir().join("trasig.xlsx")).unwrap();
    let third = w.wait_for("watch: run 3 ", RUN_WAIT);
    assert!(third.contains("(trasig.xlsx removed)"), "{third}");
    assert!(!third.contains("problems"), "{third}");
    // Every input gone: reported, and the watcher still waits for exports.
    for f in ["utb_2019-01.csv", "befolkning.csv"] {
        std::fs::remove_file(case.input_dir().join(f)).unwrap();
    }
    let fourth = w.wait_for("watch: run 4 ", RUN_WAIT);
    assert!(fourth.contains("nothing written"), "{fourth}");
    stopped_cleanly(w, "TERM", 4);
}

#[test]
fn sigterm_during_a_run_lets_the_run_finish() {
    // A rule that takes two seconds of wall-clock time (once a run: the total's current
    // year), whatever the machine's speed, so that the signal lands mid-run.
    let slow = default_rule("berakning_manuella.rhai").replacen(
        "fn sjukfranvaro(u) {",
        "fn sjukfranvaro(u) {\n    if u.stadsdel() == () && u.ar() == 2019 {\n        let t = timestamp();\n        while t.elapsed < 2 { }\n    }",
        1,
    );
    let case = january().rule("berakning_manuella.rhai", &slow);
    let mut w = Watching::start(&case);
    w.wait_for("watch: watching", RUN_WAIT);
    // The first run starts once the folder has settled (SETTLE_MS).
    w.idle(Duration::from_millis(SETTLE_MS + 800));
    assert!(
        w.runs().is_empty(),
        "the run should still be going: {:?}",
        w.seen
    );
    let signalled = Instant::now();
    let (code, seen) = w.stop("TERM");
    assert_eq!(code, 0, "{}", seen.join("\n"));
    let run = seen.iter().position(|l| l.starts_with("watch: run 1 "));
    let stop = seen
        .iter()
        .position(|l| l == "watch: stopped after 1 run(s)");
    assert!(
        matches!((run, stop), (Some(r), Some(s)) if r < s),
        "the run finished, then the watcher stopped:\n{}",
        seen.join("\n")
    );
    assert!(
        seen.iter().any(|l| l.contains("wrote 5 files")),
        "{}",
        seen.join("\n")
    );
    assert!(
        signalled.elapsed() > Duration::from_millis(300),
        "it waited for the run"
    );
    assert!(
        case.output_dir()
            .join(format!("{STEM}_2019-01.json"))
            .is_file()
    );
}
