#![allow(dead_code)]
//! The test harness: a `Case` writes input files (CSV text or bytes, xlsx built from rows)
//! and, when asked, a modified copy of the rule pack into a fresh temp folder, runs the real
//! `utfall` binary on them and reads everything it produced back as text a test can assert on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use calamine::{Data, Reader, open_workbook_auto};
use serde_json::Value;

/// How long one run may take before the test fails instead of hanging.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

pub const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// The header of an `utbetalningar` export with every column.
pub const UTB: &str = "Period;Stadsdel;HushallsID;Belopp;AntalVuxna;AntalBarn;AntalUnga18_24;Forsorjningshinder;AktuellJobbtorg";

/// The text of one shipped rule file, to modify in a test.
pub fn default_rule(file: &str) -> String {
    std::fs::read_to_string(Path::new(CRATE).join("rules").join(file)).unwrap()
}

/// One test's folder: `in/` for inputs, `out/` for outputs, `rules/` when the pack is modified.
pub struct Case {
    root: PathBuf,
    rules_changed: bool,
}

impl Case {
    pub fn new() -> Case {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "utfall-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("in")).unwrap();
        Case {
            root,
            rules_changed: false,
        }
    }

    pub fn input_dir(&self) -> PathBuf {
        self.root.join("in")
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join("out")
    }

    pub fn rules_dir(&self) -> PathBuf {
        if self.rules_changed {
            self.root.join("rules")
        } else {
            Path::new(CRATE).join("rules")
        }
    }

    /// Removes the output folder, so the next run's outputs are alone in it.
    pub fn clear_output(&self) {
        let _ = std::fs::remove_dir_all(self.output_dir());
    }

    /// A text file (UTF-8) in the input folder.
    pub fn csv(self, name: &str, text: &str) -> Case {
        self.bytes(name, text.as_bytes())
    }

    /// A file with exactly these bytes in the input folder.
    pub fn bytes(self, name: &str, bytes: &[u8]) -> Case {
        std::fs::write(self.input_dir().join(name), bytes).unwrap();
        self
    }

    /// An xlsx workbook with one sheet "Blad1" built from rows of cell texts, typed the way
    /// Excel types what is typed into it: a text that reads as a number is a number, `'…` is
    /// text, `#date 2019-03-31` a real date cell, `` an empty cell.
    pub fn xlsx(self, name: &str, rows: &[&[&str]]) -> Case {
        self.xlsx_sheets(name, &[("Blad1", rows)])
    }

    pub fn xlsx_sheets(self, name: &str, sheets: &[(&str, &[&[&str]])]) -> Case {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut wb = Workbook::new();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        for (sheet, rows) in sheets {
            let ws = wb.add_worksheet();
            ws.set_name(*sheet).unwrap();
            for (r, row) in rows.iter().enumerate() {
                for (c, text) in row.iter().enumerate() {
                    let (r, c) = (r as u32, c as u16);
                    if text.is_empty() {
                        continue;
                    } else if let Some(t) = text.strip_prefix('\'') {
                        ws.write_string(r, c, t).unwrap();
                    } else if let Some(d) = text.strip_prefix("#date ") {
                        let dt = ExcelDateTime::parse_from_str(d).unwrap();
                        ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
                    } else if let Ok(n) = text.parse::<f64>() {
                        ws.write_number(r, c, n).unwrap();
                    } else {
                        ws.write_string(r, c, *text).unwrap();
                    }
                }
            }
        }
        let bytes = wb.save_to_buffer().unwrap();
        self.bytes(name, &bytes)
    }

    /// Replaces (or adds) one file in a copy of the shipped rule pack.
    pub fn rule(mut self, file: &str, text: &str) -> Case {
        let dir = self.root.join("rules");
        if !self.rules_changed {
            copy_tree(&Path::new(CRATE).join("rules"), &dir);
            self.rules_changed = true;
        }
        // `file` may lie in a subfolder (`tester/namn/forvantat.csv`).
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Removes one file or folder from the case's copy of the rule pack.
    pub fn remove_rule(mut self, path: &str) -> Case {
        if !self.rules_changed {
            copy_tree(&Path::new(CRATE).join("rules"), &self.root.join("rules"));
            self.rules_changed = true;
        }
        let p = self.root.join("rules").join(path);
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
        self
    }

    /// Runs `utfall <args>` with `--input`, `--rules` (and `--output` for `run`) pointing
    /// into this case, from the crate root.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let input = self.input_dir().display().to_string();
        let rules = self.rules_dir().display().to_string();
        full.extend(["--input".into(), input, "--rules".into(), rules]);
        if args.first() == Some(&"run") {
            full.extend(["--output".into(), self.output_dir().display().to_string()]);
        }
        self.run_raw(&full)
    }

    /// Runs `utfall` with exactly these arguments (outputs still read from `out/`).
    pub fn run_raw<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        self.run_raw_env(args, &[])
    }

    /// `run` with environment variables set (the limits `UTFALL_*`).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let input = self.input_dir().display().to_string();
        let rules = self.rules_dir().display().to_string();
        full.extend(["--input".into(), input, "--rules".into(), rules]);
        if args.first() == Some(&"run") {
            full.extend(["--output".into(), self.output_dir().display().to_string()]);
        }
        self.run_raw_env(&full, env)
    }

    pub fn run_raw_env<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], env: &[(&str, &str)]) -> Run {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_utfall"))
            .args(args)
            .envs(env.iter().copied())
            .current_dir(CRATE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read stderr on a thread so a chatty run cannot block on a full pipe.
        let mut err_pipe = child.stderr.take().unwrap();
        let mut out_pipe = child.stdout.take().unwrap();
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut err_pipe, &mut s).unwrap();
            s
        });
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut out_pipe, &mut s).unwrap();
            s
        });
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > RUN_TIMEOUT {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!(
                    "utfall {:?} ran longer than {RUN_TIMEOUT:?}",
                    args.iter()
                        .map(|a| a.as_ref().to_os_string())
                        .collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = err_reader.join().unwrap();
        let stdout = out_reader.join().unwrap();
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal = None;
        Run {
            code: status.code().unwrap_or(-1),
            signal,
            stderr,
            stdout,
            elapsed: started.elapsed(),
            out_dir: self.output_dir(),
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        if !std::thread::panicking() || std::env::var_os("KEEP_TEMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// What one run did.
pub struct Run {
    pub code: i32,
    /// The signal that ended the process, if one did.
    pub signal: Option<i32>,
    pub stderr: String,
    pub stdout: String,
    pub elapsed: Duration,
    out_dir: PathBuf,
}

impl Run {
    /// Fails with stderr shown unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code; stderr:\n{}", self.stderr);
        self
    }

    /// Names of the files in the output folder, sorted; empty when there is none.
    pub fn files(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(&self.out_dir) else {
            return Vec::new();
        };
        let mut v: Vec<String> = rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.out_dir.join(name)
    }

    /// The one JSON report of the run.
    pub fn json(&self) -> Report {
        let name = self
            .files()
            .into_iter()
            .find(|f| f.ends_with(".json"))
            .unwrap_or_else(|| panic!("no JSON written; stderr:\n{}", self.stderr));
        let text = std::fs::read_to_string(self.path(&name)).unwrap();
        Report(serde_json::from_str(&text).unwrap())
    }

    /// The text dump of one workbook of the output folder.
    pub fn workbook(&self, name: &str) -> Dump {
        Dump::read(&self.path(name))
    }

    /// The whole workbook (`<stem>_<period>.xlsx`).
    pub fn whole(&self) -> Dump {
        let name = self
            .files()
            .into_iter()
            .filter(|f| f.ends_with(".xlsx"))
            .min_by_key(|f| f.len())
            .expect("no workbook written");
        self.workbook(&name)
    }

    /// The workbook of one district.
    pub fn district(&self, district: &str) -> Dump {
        let suffix = format!("_{district}.xlsx");
        let name = self
            .files()
            .into_iter()
            .find(|f| f.ends_with(&suffix))
            .unwrap_or_else(|| panic!("no workbook for {district}: {:?}", self.files()));
        self.workbook(&name)
    }

    /// The calamine dump and the raw xml of one output workbook.
    pub fn everything_of(&self, name: &str) -> String {
        let p = self.path(name);
        format!("{}{}", Dump::read(&p).text, raw_xlsx_text(&p))
    }

    /// Every output file's text as one string (workbook dumps, the JSON) plus stderr and
    /// stdout, for "does X appear anywhere" checks.
    pub fn everything(&self) -> String {
        let mut s = format!("{}\n{}\n", self.stderr, self.stdout);
        for f in self.files() {
            let p = self.path(&f);
            if f.ends_with(".xlsx") {
                s.push_str(&Dump::read(&p).text);
                // The raw xml too: document properties, shared strings, anything.
                s.push_str(&raw_xlsx_text(&p));
            } else {
                s.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
        s
    }
}

/// Copies a folder with its subfolders (the rule pack holds its tests in `tester/`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, target).unwrap();
        }
    }
}

/// All xml parts of an xlsx as text.
fn raw_xlsx_text(path: &Path) -> String {
    let file = std::fs::File::open(path).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut s = String::new();
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut part, &mut bytes).unwrap();
        s.push_str(&String::from_utf8_lossy(&bytes));
        s.push('\n');
    }
    s
}

/// The JSON report.
pub struct Report(pub Value);

impl Report {
    /// The result of one indicator for a district (`None` = the total).
    pub fn result(&self, id: &str, district: Option<&str>) -> &Value {
        self.0["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id && r["district"].as_str() == district)
            .unwrap_or_else(|| panic!("no result for {id} / {district:?}"))
    }

    /// `value numerator denominator rounded status` of a result, as one comparable line:
    /// `hushall_snitt Kungsholmen: 2 8 4 2 saknas`.
    pub fn line(&self, id: &str, district: Option<&str>) -> String {
        let r = self.result(id, district);
        format!(
            "{id} {}: {} {} {} {} {}",
            district.unwrap_or("Totalt"),
            r["value"],
            r["numerator"],
            r["denominator"],
            r["rounded"],
            r["status"].as_str().unwrap()
        )
    }

    pub fn status(&self, id: &str, district: Option<&str>) -> String {
        self.result(id, district)["status"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A workbook read back with calamine: one `Sheet!A1 = kind:value` line per non-empty cell
/// (`n:` a number, `s:` a string, `b:` a bool, `d:` a date, `e:` an error).
pub struct Dump {
    pub text: String,
    pub sheets: Vec<String>,
    /// Sheet name → rows of rendered cells (`n:…`, `s:…`, `` for empty).
    pub grids: BTreeMap<String, Vec<Vec<String>>>,
}

impl Dump {
    pub fn read(path: &Path) -> Dump {
        let mut wb = open_workbook_auto(path).unwrap();
        let sheets = wb.sheet_names().to_vec();
        let mut text = String::new();
        let mut grids = BTreeMap::new();
        for name in &sheets {
            let range = wb.worksheet_range(name).unwrap();
            let (r0, c0) = range.start().unwrap_or((0, 0));
            let mut grid = Vec::new();
            for (r, row) in range.rows().enumerate() {
                let mut cells = Vec::new();
                for (c, cell) in row.iter().enumerate() {
                    let v = render(cell);
                    if !v.is_empty() {
                        let addr = address(r as u32 + r0, c as u32 + c0);
                        text.push_str(&format!("{name}!{addr} = {v}\n"));
                    }
                    cells.push(v);
                }
                grid.push(cells);
            }
            // Pad so row/column indices are absolute (A1 = [0][0]).
            let mut padded = vec![Vec::new(); r0 as usize];
            for row in grid {
                let mut p = vec![String::new(); c0 as usize];
                p.extend(row);
                padded.push(p);
            }
            grids.insert(name.clone(), padded);
        }
        Dump {
            text,
            sheets,
            grids,
        }
    }

    /// The dump lines of one sheet.
    pub fn sheet(&self, name: &str) -> String {
        let prefix = format!("{name}!");
        self.text
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The cells of the first row of `sheet` whose column A is the text `first`.
    pub fn row(&self, sheet: &str, first: &str) -> Vec<String> {
        let want = format!("s:{first}");
        self.grids[sheet]
            .iter()
            .find(|r| r.first() == Some(&want))
            .unwrap_or_else(|| panic!("no row {first:?} in {sheet}:\n{}", self.sheet(sheet)))
            .clone()
    }

    /// One cell of the row whose column A is `first`, by column letter.
    pub fn cell(&self, sheet: &str, first: &str, column: char) -> String {
        let row = self.row(sheet, first);
        row.get((column as u8 - b'A') as usize)
            .cloned()
            .unwrap_or_default()
    }
}

fn render(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => format!("s:{s}"),
        Data::Float(f) => format!("n:{f}"),
        Data::Int(i) => format!("n:{i}"),
        Data::Bool(b) => format!("b:{b}"),
        Data::DateTime(d) => format!("d:{}", d.as_f64()),
        Data::DateTimeIso(s) => format!("d:{s}"),
        Data::DurationIso(s) => format!("d:{s}"),
        Data::Error(e) => format!("e:{e:?}"),
    }
}

fn address(row: u32, col: u32) -> String {
    let mut c = col + 1;
    let mut letters = Vec::new();
    while c > 0 {
        let rem = (c - 1) % 26;
        letters.push((b'A' + rem as u8) as char);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", letters.into_iter().collect::<String>(), row + 1)
}

/// Population rows for the three shipped districts, as a befolkning CSV.
pub fn befolkning(year: i32, rows: &[(&str, u32, u32, u32, u32)]) -> String {
    let mut s = String::from("Ar;Stadsdel;Folkmangd;Barn0_17;Unga18_24;Vuxna18plus\n");
    for (d, f, b, u, v) in rows {
        s.push_str(&format!("{year};{d};{f};{b};{u};{v}\n"));
    }
    s
}
