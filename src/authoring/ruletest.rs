//! `utfall test`: the rule pack's own tests, written by a controller. A test is a folder
//! `<rules>/tester/<namn>/` holding tiny exports (CSV or Excel, as the real ones) and
//! `forvantat.csv` with the figures and statuses they must give:
//!
//! ```text
//! indikator;stadsdel;period;varde;status
//! hushall_snitt;Kungsholmen;2019-02;1;
//! sjukfranvaro;;2019-05;6,5;delvis
//! ```
//!
//! Each test's exports go through the real ingest and evaluation (copied into a temp
//! folder; nothing is written to the output folder). Gives one line per test and the
//! counts; a test fails when any of its rows does.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use rust_decimal::Decimal;

use super::explain::{find_district, find_indicator};
use super::{sv_number, sv_optional};
use crate::evaluate::{EvalOutcome, Status};
use crate::ingest::{Severity, decode_text, normalise_header};
use crate::model::{Period, round_half_away};
use crate::pipeline::{FatalError, Log, Pack, evaluate_period, load_pack, read_inputs};

/// The folder of the pack that holds the tests, and the expectations file of each test.
pub const TEST_FOLDER: &str = "tester";
pub const EXPECTED_FILE: &str = "forvantat.csv";

/// One row of `forvantat.csv`.
#[derive(Clone, Debug, PartialEq)]
struct Expectation {
    /// The line in the file (1-based), for messages.
    line: usize,
    indicator: String,
    district: Option<String>,
    period: Option<Period>,
    value: Option<Expected>,
    status: Option<Status>,
}

/// An expected value: a number compared after rounding the computed one to as many
/// decimals as the number was written with, or "missing".
#[derive(Clone, Debug, PartialEq)]
enum Expected {
    Number { value: Decimal, decimals: u32 },
    Missing,
}

/// Why `forvantat.csv` cannot be used.
type ParseError = String;

fn parse_number(text: &str) -> Option<(Decimal, u32)> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let value = Decimal::from_str(&cleaned).ok()?;
    let decimals = cleaned.split_once('.').map_or(0, |(_, f)| f.len() as u32);
    Some((value, decimals))
}

fn parse_status(text: &str) -> Option<Status> {
    let t = text.trim().to_lowercase();
    let code = match t.as_str() {
        "ingen målsättning" | "ingen malsattning" | "ingen_målsättning" => "ingen_malsattning",
        "uppfylls helt" => "helt",
        "uppfylls delvis" => "delvis",
        "uppfylls ej" => "ej",
        other => other,
    };
    Status::parse_code(code)
}

/// Reads `forvantat.csv`: a header row naming `indikator` and any of `stadsdel`,
/// `period`, `varde`, `status` (any case, with or without å/ä/ö), `;` or tab separated;
/// empty lines and lines starting with `#` are skipped. An empty cell is not checked.
fn parse_expectations(text: &str) -> Result<Vec<Expectation>, ParseError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err("no header row (indikator;stadsdel;period;varde;status)".into());
    };
    let sep = if header.contains(';') {
        ';'
    } else if header.contains('\t') {
        '\t'
    } else {
        ','
    };
    let names: Vec<String> = header.split(sep).map(normalise_header).collect();
    let at = |want: &[&str]| names.iter().position(|n| want.contains(&n.as_str()));
    let Some(ind) = at(&["indikator"]) else {
        return Err("the header has no column indikator".into());
    };
    let (dis, per, val, sta) = (
        at(&["stadsdel"]),
        at(&["period"]),
        at(&["varde", "utfall"]),
        at(&["status"]),
    );
    if val.is_none() && sta.is_none() {
        return Err("the header needs a column varde or status".into());
    }
    let mut out = Vec::new();
    for (n, l) in lines {
        let line = n + 1;
        let cells: Vec<&str> = l.split(sep).map(str::trim).collect();
        let cell = |i: Option<usize>| {
            i.and_then(|i| cells.get(i).copied())
                .filter(|c| !c.is_empty())
        };
        let Some(indicator) = cell(Some(ind)) else {
            return Err(format!("line {line}: indikator is empty"));
        };
        let period = cell(per)
            .map(|p| Period::parse(p).map_err(|e| format!("line {line}: period: {e}")))
            .transpose()?;
        let value = match cell(val) {
            None => None,
            Some(".." | "saknas" | "-" | "–") => Some(Expected::Missing),
            Some(v) => {
                let (value, decimals) = parse_number(v)
                    .ok_or_else(|| format!("line {line}: varde {v:?} is not a number"))?;
                Some(Expected::Number { value, decimals })
            }
        };
        let status = cell(sta)
            .map(|s| {
                parse_status(s).ok_or_else(|| {
                    format!(
                        "line {line}: status {s:?} is not helt, delvis, ej, ingen_malsattning, saknas or fel"
                    )
                })
            })
            .transpose()?;
        out.push(Expectation {
            line,
            indicator: indicator.to_string(),
            district: cell(dis)
                .filter(|d| !d.eq_ignore_ascii_case("totalt"))
                .map(str::to_string),
            period,
            value,
            status,
        });
    }
    if out.is_empty() {
        return Err("no expectations below the header".into());
    }
    Ok(out)
}

/// What one test found.
#[derive(Debug)]
pub struct TestResult {
    pub name: String,
    pub checks: usize,
    /// Empty when the test passed.
    pub failures: Vec<String>,
}

/// Every test's result, in name order.
#[derive(Debug)]
pub struct TestRun {
    pub results: Vec<TestResult>,
    /// Compile and declaration errors of the pack (its tests show `fel` for them).
    pub pack_errors: Vec<crate::rules::RuleError>,
}

impl TestRun {
    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| !r.failures.is_empty())
            .count()
    }

    pub fn passed(&self) -> usize {
        self.results.len() - self.failed()
    }

    /// One line per test (`ok  namn: …` / `FEL namn: …`, further failures indented) and
    /// the closing `N passed, N failed`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for r in &self.results {
            match r.failures.split_first() {
                None => {
                    let _ = writeln!(s, "ok  {}: {} checks", r.name, r.checks);
                }
                Some((first, rest)) => {
                    let _ = writeln!(s, "FEL {}: {first}", r.name);
                    for f in rest {
                        let _ = writeln!(s, "    {f}");
                    }
                }
            }
        }
        let _ = writeln!(s, "{} passed, {} failed", self.passed(), self.failed());
        s
    }
}

/// The test folders of a pack: `<rules>/tester/*/` holding a `forvantat.csv`.
fn test_folders(rules_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(rules_dir.join(TEST_FOLDER)) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(EXPECTED_FILE).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Runs every test of the pack in `rules_dir`.
///
/// Fails (exit code 2) when the pack cannot be loaded or it has no tests; a test whose
/// files cannot be read is a failed test.
pub fn run_tests(rules_dir: &Path) -> Result<TestRun, FatalError> {
    let folders = test_folders(rules_dir);
    if folders.is_empty() {
        return Err(FatalError::NoRuleTests {
            dir: rules_dir.join(TEST_FOLDER),
        });
    }
    let pack = load_pack(rules_dir)?;
    let results = folders.iter().map(|dir| run_one(&pack, dir)).collect();
    Ok(TestRun {
        results,
        pack_errors: pack.errors.clone(),
    })
}

/// A temp folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> std::io::Result<TempDir> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "utfall-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            crate::deliver::file_name_part(name)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies a test's exports (everything but `forvantat.csv`) into a temp folder, so ingest
/// reads them exactly as it reads a drop folder.
fn stage_inputs(dir: &Path, name: &str) -> std::io::Result<TempDir> {
    let tmp = TempDir::new(name)?;
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        let Some(file) = path.file_name() else {
            continue;
        };
        if path.is_file() && file != EXPECTED_FILE {
            std::fs::copy(&path, tmp.0.join(file))?;
        }
    }
    Ok(tmp)
}

fn run_one(pack: &Pack, dir: &Path) -> TestResult {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fail = |message: String| TestResult {
        name: name.clone(),
        checks: 0,
        failures: vec![message],
    };
    let expected_path = dir.join(EXPECTED_FILE);
    let text = match std::fs::read(&expected_path) {
        Ok(bytes) => decode_text(&bytes).into_owned(),
        Err(e) => return fail(format!("{EXPECTED_FILE}: {e}")),
    };
    let expectations = match parse_expectations(&text) {
        Ok(x) => x,
        Err(e) => return fail(format!("{EXPECTED_FILE}: {e}")),
    };
    let staged = match stage_inputs(dir, &name) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot copy the test's exports: {e}")),
    };
    let session = match read_inputs(&staged.0, pack, &Log::new(true)) {
        Ok(s) => s,
        Err(e) => return fail(format!("the test's exports: {e}")),
    };
    let mut failures = Vec::new();
    // A rejected row in a test's own exports is almost always a typing slip: say so.
    for issue in &session.record.issues {
        if issue.severity() == Severity::Error {
            let file = issue
                .file()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            failures.push(format!("{file}: {}", issue.message_sv()));
        }
    }

    let mut outcomes: BTreeMap<String, (Period, EvalOutcome)> = BTreeMap::new();
    for x in &expectations {
        let Some(period) = x.period.or(session.latest_month.map(Period::month)) else {
            failures.push(format!(
                "{EXPECTED_FILE} line {}: no period and no utbetalningar to take it from",
                x.line
            ));
            continue;
        };
        let (_, outcome) = outcomes
            .entry(period.label())
            .or_insert_with(|| (period, evaluate_period(pack, &session, period)));
        if let Err(e) = check_one(pack, outcome, x, period) {
            failures.push(e);
        }
    }
    TestResult {
        name,
        checks: expectations.len(),
        failures,
    }
}

/// Compares one expectation with the evaluation; `Err` says what differs.
fn check_one(
    pack: &Pack,
    outcome: &EvalOutcome,
    x: &Expectation,
    period: Period,
) -> Result<(), String> {
    let eval = &outcome.evaluation;
    let (index, spec) = find_indicator(&pack.specs, &x.indicator).map_err(|e| e.to_string())?;
    let district =
        find_district(&eval.districts, x.district.as_deref()).map_err(|e| e.to_string())?;
    let what = format!(
        "{} {} {}",
        spec.def.id,
        x.district.as_deref().unwrap_or("Totalt"),
        period
    );
    let r = eval
        .result(index, district)
        .ok_or_else(|| format!("{what}: no result"))?;
    let error = r
        .rule_error
        .and_then(|i| outcome.rule_errors.get(i))
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    let mut wrong = Vec::new();
    match &x.value {
        None => {}
        Some(Expected::Missing) if r.current.value.is_none() => {}
        Some(Expected::Missing) => wrong.push(format!(
            "value: expected saknas, got {}",
            sv_optional(r.current.value)
        )),
        Some(Expected::Number { value, decimals }) => {
            let got = r.current.value.map(|v| round_half_away(v, *decimals));
            if got != Some(*value) {
                wrong.push(format!(
                    "value: expected {}, got {}{error}",
                    sv_number(*value),
                    match r.current.value {
                        Some(v) =>
                            sv_number(round_half_away(v, (*decimals).max(spec.def.decimals))),
                        None if r.status == Status::Error => "fel".into(),
                        None => "saknas".into(),
                    }
                ));
            }
        }
    }
    if let Some(want) = x.status
        && want != r.status
    {
        wrong.push(format!(
            "status: expected {}, got {}{error}",
            want.code(),
            r.status.code()
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} ({EXPECTED_FILE} line {}): {}",
            x.line,
            wrong.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_are_read_with_swedish_numbers_and_optional_cells() {
        let x = parse_expectations(
            "# Hushåll som nettar till noll\nIndikator;Stadsdel;Period;Värde;Status\nhushall_snitt;Kungsholmen;2019-02;1 234,50;\nsjukfranvaro;;2019-05;;Uppfylls delvis\nandel_barn;Totalt;2019;..;saknas\n",
        )
        .unwrap();
        assert_eq!(x.len(), 3);
        assert_eq!(x[0].line, 3);
        assert_eq!(
            x[0].value,
            Some(Expected::Number {
                value: Decimal::from_str("1234.50").unwrap(),
                decimals: 2
            })
        );
        assert_eq!(x[0].status, None);
        assert_eq!(x[1].district, None);
        assert_eq!(x[1].status, Some(Status::PartlyMet));
        assert_eq!(x[2].district, None);
        assert_eq!(x[2].value, Some(Expected::Missing));
        assert_eq!(x[2].period.map(|p| p.label()), Some("2019".to_string()));
    }

    #[test]
    fn a_bad_expectation_says_which_line() {
        let e = parse_expectations("indikator;status\nutbetalt;kanske\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = parse_expectations("indikator;varde\nutbetalt;12x\n").unwrap_err();
        assert!(e.contains("not a number"), "{e}");
        assert!(parse_expectations("stadsdel;varde\n").is_err());
    }

    #[test]
    fn the_closing_line_counts_tests() {
        let run = TestRun {
            results: vec![
                TestResult {
                    name: "a".into(),
                    checks: 2,
                    failures: vec![],
                },
                TestResult {
                    name: "b".into(),
                    checks: 1,
                    failures: vec!["x: expected 1, got 2".into()],
                },
            ],
            pack_errors: Vec::new(),
        };
        let text = run.text();
        assert!(text.contains("ok  a: 2 checks\n"), "{text}");
        assert!(text.contains("FEL b: x: expected 1, got 2\n"), "{text}");
        assert!(text.ends_with("\n1 passed, 1 failed\n"), "{text}");
    }
}
