//! Hostile and odd inputs (the shared corpus of other readers' test files), CSV as it really
//! arrives, read limits, atomic outputs under SIGKILL, inputs left untouched, and ids that
//! never leave the process. The corpus is read from `../shared/corpus/` and copied only into
//! a temp folder; when it is absent, those tests say so and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::harness::{CRATE, Case, UTB, befolkning};

const CORPUS: &str = "../shared/corpus";

/// Every file under `dir`, recursively, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Copies the samples into the case's input folder.
fn with_samples(case: Case) -> Case {
    let mut case = case;
    for p in walk(&Path::new(CRATE).join("samples")) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        case = case.bytes(&name, &std::fs::read(&p).unwrap());
    }
    case
}

/// Name → bytes of every file in a folder (not recursive).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|p| p.parent() == Some(dir))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// The corpus files copied into `case` under flat names, made older than the samples (an
/// old crafted export of a month must not replace the sample of that month). Returns the
/// names.
fn with_corpus(case: Case) -> Option<(Case, Vec<String>)> {
    let files = walk(&Path::new(CRATE).join(CORPUS));
    if files.is_empty() {
        eprintln!("{CORPUS} not found: corpus test skipped");
        return None;
    }
    let root = Path::new(CRATE).join(CORPUS);
    let mut names = Vec::new();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for p in files {
        let rel = p
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('/', "_");
        let dest = case.input_dir().join(&rel);
        std::fs::write(&dest, std::fs::read(&p).unwrap()).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&dest)
            .unwrap()
            .set_modified(old)
            .unwrap();
        names.push(rel);
    }
    Some((case, names))
}

/// What a controller can tell from stderr: only our one-line messages, no panic text.
fn assert_quiet_stderr(stderr: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "memory allocation",
        "thread '",
        "stack overflow",
    ] {
        assert!(!stderr.contains(bad), "{bad:?} in stderr:\n{stderr}");
    }
    for line in stderr.lines() {
        assert!(
            [
                "error: ",
                "warning: ",
                "note: ",
                "… and ",
                "wrote ",
                "checked "
            ]
            .iter()
            .any(|p| line.starts_with(p)),
            "not one of our lines: {line:?}"
        );
    }
}

#[test]
fn the_whole_corpus_with_the_samples_gives_the_samples_report() {
    let Some((case, names)) = with_corpus(with_samples(Case::new())) else {
        return;
    };
    let before = snapshot(&case.input_dir());
    let started = Instant::now();
    let run = case.run(&["run", "--period", "2019-12"]);
    let took = started.elapsed();
    assert_eq!(run.signal, None, "killed by a signal:\n{}", run.stderr);
    run.expect_code(1);
    assert_quiet_stderr(&run.stderr);
    eprintln!("corpus run: {} files in {took:?}", names.len());

    // Every corpus file has its line in Kontroll: read, or skipped with a reason.
    let whole = run.whole();
    let kontroll = &whole.grids["Kontroll"];
    for name in &names {
        let row = kontroll
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(&format!("s:{name}")))
            .unwrap_or_else(|| panic!("{name} is not in Kontroll"));
        let text = row.join(" ");
        assert!(
            ["inläst", "hoppades över", "lästes inte", "dubblett"]
                .iter()
                .any(|w| text.contains(w)),
            "{name}: no outcome in {row:?}"
        );
    }
    // The traps are named as what they are.
    let reason = |name: &str| {
        kontroll
            .iter()
            .find(|r| r.first().is_some_and(|c| c.ends_with(name)))
            .map(|r| r.join(" "))
            .unwrap_or_default()
    };
    assert!(
        reason("oleloop.xls").contains("minne"),
        "{}",
        reason("oleloop.xls")
    );
    assert!(reason("Test_git_issue_382_oom.xls").contains("minne"));
    assert!(reason("Reader_XLS_pwtest.xls").contains("lösenordsskyddad"));
    assert!(reason("standard_AES128_SHA1_ECB_pwd_password.xlsx").contains("lösenordsskyddad"));
    assert!(reason("Test_git_issue_368_ixfe.xls").contains("stöds"));

    // The good data gives the same report as the samples alone.
    let samples = with_samples(Case::new());
    let alone = samples.run(&["run", "--period", "2019-12"]);
    let (a, b) = (alone.json().0, run.json().0);
    assert_eq!(a["results"], b["results"]);
    assert_eq!(a["budget"], b["budget"]);

    // Inputs are never changed, moved or deleted.
    assert!(
        before == snapshot(&case.input_dir()),
        "an input file changed"
    );
}

/// A reader process that runs out of its address space or time costs that file only.
#[test]
fn a_file_over_the_memory_or_time_limit_is_skipped_with_the_limit_named() {
    let path = Path::new(CRATE)
        .join(CORPUS)
        .join("spreadsheets/phpspreadsheet/tests/data/Reader/XLS/oleloop.xls");
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    let case = Case::new().bytes("oleloop.xls", &bytes).csv(
        "utb.csv",
        &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
    );
    let run = case.run_env(&["check"], &[("UTFALL_PARSE_MEMORY_MB", "256")]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("oleloop.xls: too large: reading it needs more than 256 MB of memory (UTFALL_PARSE_MEMORY_MB), skipped"),
        "{}",
        run.stderr
    );
    assert_quiet_stderr(&run.stderr);
    // With one second, the same file is stopped by the clock or the memory limit, never
    // hangs.
    let run = case.run_env(&["check"], &[("UTFALL_PARSE_TIMEOUT_S", "1")]);
    run.expect_code(1);
    assert!(run.elapsed < Duration::from_secs(60), "{:?}", run.elapsed);
}

#[test]
fn size_row_and_unpacked_limits_skip_the_file_and_name_the_variable() {
    let mut big = format!("{UTB}\n");
    for i in 0..50 {
        big += &format!("2019-01;Kungsholmen;H{i};1000;1;0;0;;\n");
    }
    let case = Case::new().csv("utb_2019-01.csv", &big).xlsx(
        "utb_2019-02.xlsx",
        &[
            &["Period", "Stadsdel", "HushallsID", "Belopp"],
            &["2019-02", "Norrmalm", "H1", "500"],
        ],
    );
    let run = case.run_env(&["check"], &[("UTFALL_MAX_ROWS", "10")]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("utb_2019-01.csv: too large: more than 10 rows (UTFALL_MAX_ROWS), skipped"),
        "{}",
        run.stderr
    );
    let run = case.run_env(
        &["check"],
        &[("UTFALL_MAX_UNZIPPED_MB", "1"), ("UTFALL_MAX_FILE_MB", "1")],
    );
    run.expect_code(0);
    let long = Path::new(CRATE)
        .join(CORPUS)
        .join("crafted/long_strings.xlsx");
    if let Ok(bytes) = std::fs::read(long) {
        // 112 kB on disk, more than a megabyte unpacked.
        let case = case.bytes("long_strings.xlsx", &bytes);
        let run = case.run_env(&["check"], &[("UTFALL_MAX_UNZIPPED_MB", "1")]);
        run.expect_code(1);
        assert!(
            run.stderr
                .contains("long_strings.xlsx: too large: unpacks to"),
            "{}",
            run.stderr
        );
    }
    let case = Case::new()
        .csv("utb.csv", &big)
        .bytes("stor.csv", &vec![b'x'; 1024 * 1024 + 1]);
    let run = case.run_env(&["check"], &[("UTFALL_MAX_FILE_MB", "1")]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "stor.csv: too large: 2 MB, more than the limit of 1 MB (UTFALL_MAX_FILE_MB), skipped"
        ),
        "{}",
        run.stderr
    );
}

fn utf16(text: &str, le: bool) -> Vec<u8> {
    let mut b = if le {
        vec![0xff, 0xfe]
    } else {
        vec![0xfe, 0xff]
    };
    for u in text.encode_utf16() {
        b.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    b
}

fn utf32(text: &str, le: bool) -> Vec<u8> {
    let mut b = if le {
        vec![0xff, 0xfe, 0, 0]
    } else {
        vec![0, 0, 0xfe, 0xff]
    };
    for c in text.chars() {
        let u = c as u32;
        b.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    b
}

#[test]
fn csv_as_it_really_arrives_is_read_or_reported_never_garbled() {
    let rows = |m: &str, id: &str| format!("{UTB}\r\n2019-{m};Östermalm;{id};1000;1;0;0;;\r\n");
    let cp1252: Vec<u8> = format!("sep=;\n{UTB}\n2019-06;\u{d6}stermalm;H6;1 000,50;1;0;0;;\n")
        .chars()
        .map(|c| if c == 'Ö' { 0xd6 } else { c as u8 })
        .collect();
    let case = Case::new()
        .bytes("utb_2019-01.csv", &utf16(&rows("01", "H1"), true))
        .bytes("utb_2019-02.csv", &utf16(&rows("02", "H2"), false))
        .bytes("utb_2019-03.csv", &utf32(&rows("03", "H3"), true))
        .bytes("utb_2019-04.csv", &utf32(&rows("04", "H4"), false))
        // Old Mac line ends mixed with Windows ones and a sep= line.
        .csv(
            "utb_2019-05.csv",
            &format!("sep=;\r{UTB}\r2019-05;Östermalm;H5;1000;1;0;0;;\r\n2019-05;Östermalm;H55;1000;1;0;0;;\r"),
        )
        .bytes("utb_2019-06.csv", &cp1252)
        // A quote opened and never closed swallows the rows after it: reported, not lost
        // silently.
        .csv(
            "utb_2019-07.csv",
            &format!("{UTB}\n2019-07;Östermalm;H7;1000;1;0;0;\"Arbetslöshet;\n2019-07;Östermalm;H8;1000;1;0;0;;\n2019-07;Östermalm;H9;1000;1;0;0;;\n"),
        )
        .csv(
            "bef.csv",
            &befolkning(2018, &[("Östermalm", 1000, 100, 100, 800)]),
        );
    let run = case.run(&["run", "--period", "2019-07"]);
    run.expect_code(1);
    let j = run.json();
    // January to June: one payment each, two in May, 1 000,50 in June; July's rows were
    // swallowed by the quote and are reported, not counted.
    let utbetalt = j.result("utbetalt", None)["value"].to_string();
    assert_eq!(utbetalt, "7000.5", "{}", run.stderr);
    assert!(
        run.stderr
            .contains("utb_2019-07.csv [rows 2–4]: a quote that is never closed"),
        "{}",
        run.stderr
    );
    // No mojibake and no replacement characters anywhere.
    let all = run.everything();
    for bad in ["Ã", "\u{fffd}", "\u{0}"] {
        assert!(!all.contains(bad), "{bad:?} in the outputs");
    }
    let kontroll = run.whole().sheet("Kontroll");
    assert!(kontroll.contains("rad 2–4: ett citattecken"), "{kontroll}");
}

#[test]
fn csv_rows_are_numbered_like_a_spreadsheet_whatever_the_line_ends() {
    let case = Case::new()
        .csv(
            "crlf.csv",
            &format!("{UTB}\r\n2019-01;Kungsholmen;H1;1000;1;0;0;;\r\n\r\n2019-01;Kungsholmen;H2;x;1;0;0;;\r\n"),
        )
        .csv(
            "lf.csv",
            &format!("{UTB}\n2019-02;Kungsholmen;H1;1000;1;0;0;;\n2019-02;Kungsholmen;H2;y;1;0;0;;\n"),
        );
    let run = case.run(&["check"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("crlf.csv [row 4, Belopp]: Belopp \"x\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("lf.csv [row 3, Belopp]: Belopp \"y\""),
        "{}",
        run.stderr
    );
}

/// Every file of the output folder: final names with their bytes, and the other names.
fn outputs(dir: &Path) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    let mut finals = BTreeMap::new();
    let mut others = Vec::new();
    for (name, bytes) in snapshot(dir) {
        if name.starts_with('.') {
            others.push(name);
        } else {
            finals.insert(name, bytes);
        }
    }
    (finals, others)
}

#[test]
fn killing_a_run_at_any_moment_leaves_every_previous_output_whole() {
    let case = Case::new();
    let gen_out = Command::new(env!("CARGO_BIN_EXE_utfall-gen"))
        .args(["--out"])
        .arg(case.input_dir())
        .args(["--households", "3000", "--years", "2019", "--format", "csv"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(gen_out.success());
    let inputs_before = snapshot(&case.input_dir());
    let args = ["run", "--period", "2019-12"];
    let first = case.run(&args);
    assert_eq!(first.signal, None);
    let (old, _) = outputs(&case.output_dir());
    assert!(old.len() >= 5, "{:?}", old.keys());

    // New inputs, so every output changes: March's payments are gone.
    std::fs::remove_file(case.input_dir().join("utbetalningar_2019-03.csv")).unwrap();

    let bin = env!("CARGO_BIN_EXE_utfall");
    let full_args: Vec<String> = {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--input".into(),
            case.input_dir().display().to_string(),
            "--rules".into(),
            case.rules_dir().display().to_string(),
            "--output".into(),
            case.output_dir().display().to_string(),
        ]);
        v
    };
    // When to kill: after a fixed time (reading, evaluating), as soon as a temporary file
    // appears (rendered, writing), as soon as the first final file was replaced.
    enum When {
        After(Duration),
        TempAppears,
        FirstReplaced,
    }
    let whole = old
        .keys()
        .filter(|n| n.ends_with(".xlsx"))
        .min_by_key(|n| n.len())
        .unwrap()
        .clone();
    let mut seen: Vec<BTreeMap<String, Vec<u8>>> = Vec::new();
    for when in [
        When::After(Duration::from_millis(100)),
        When::After(Duration::from_millis(700)),
        When::TempAppears,
        When::FirstReplaced,
        When::After(Duration::from_millis(1500)),
    ] {
        let mut child = Command::new(bin)
            .args(&full_args)
            .current_dir(CRATE)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            let fire = match &when {
                When::After(d) => started.elapsed() >= *d,
                When::TempAppears => !outputs(&case.output_dir()).1.is_empty(),
                When::FirstReplaced => {
                    std::fs::read(case.output_dir().join(&whole)).is_ok_and(|b| b != old[&whole])
                }
            };
            if fire || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let (finals, others) = outputs(&case.output_dir());
        let replaced = finals.iter().filter(|(n, b)| *b != &old[*n]).count();
        eprintln!(
            "killed after {:?}: {} temporary files, {replaced} outputs already new",
            started.elapsed(),
            others.len()
        );
        assert_eq!(
            finals.keys().collect::<Vec<_>>(),
            old.keys().collect::<Vec<_>>(),
            "a file under a final name appeared or vanished"
        );
        assert!(
            others.iter().all(|n| n.ends_with(".tmp")),
            "unexpected files: {others:?}"
        );
        seen.push(finals);
    }

    // The next run finishes, cleans what the killed ones left, and every state seen after a
    // kill was the old file or the new one, whole.
    let last = case.run(&args);
    assert_eq!(last.signal, None);
    let (new, others) = outputs(&case.output_dir());
    assert!(others.is_empty(), "left behind: {others:?}");
    for (i, state) in seen.iter().enumerate() {
        for (name, bytes) in state {
            assert!(
                bytes == &old[name] || bytes == &new[name],
                "kill {i}: {name} is neither the previous nor the new file"
            );
        }
    }
    assert_ne!(
        old[&whole], new[&whole],
        "the inputs changed, so must the output"
    );
    // The inputs were only read.
    let mut after = snapshot(&case.input_dir());
    after.insert(
        "utbetalningar_2019-03.csv".into(),
        inputs_before["utbetalningar_2019-03.csv"].clone(),
    );
    assert!(after == inputs_before, "an input changed");
}

/// Every written form of a personnummer (and samordningsnummer): YYMMDD-NNNN,
/// YYMMDDNNNN, YYYYMMDDNNNN, YYYYMMDD-NNNN.
fn forms(pnr12: &str) -> Vec<String> {
    let (date, num) = pnr12.split_at(8);
    vec![
        format!("{}-{num}", &date[2..]),
        format!("{}{num}", &date[2..]),
        format!("{date}{num}"),
        format!("{date}-{num}"),
    ]
}

#[test]
fn no_id_in_any_form_leaves_the_process_whatever_column_or_file_it_is_in() {
    let pnrs = [
        "198501011234",
        "197512319876",
        "200102034567",
        "196003615555", // samordningsnummer (day + 60)
        "199012241111",
        "198807072222",
        "197001013333",
    ];
    let [a, b, c, d, e, f, g] = pnrs.map(forms);
    let utb = format!(
        "{UTB}\n\
         2019-01;Kungsholmen;{};1000;1;0;0;;\n\
         2019-01;Kungsholmen;{};900;1;0;0;Arbetslöshet;\n\
         2019-01;Norrmalm;{};800;1;0;0;;\n\
         2019-01;Norrmalm;{};700;1;0;0;;\n\
         2019-01;Norrmalm;HH-LEAK-1;{};1;0;0;;\n\
         2019-01;{};HH-LEAK-2;100;1;0;0;;\n\
         2019-01;Kungsholmen;HH-LEAK-3;100;{};0;0;;\n\
         2019-01;Kungsholmen;;100;1;0;0;;\n\
         2019-01;Kungsholmen;HH-LEAK-8;100;1;0;0;{};\n",
        a[0], a[2], b[1], b[3], c[0], c[2], d[0], a[1]
    );
    let case = Case::new()
        .csv("utb_2019-01.csv", &utb)
        // Free text with a personnummer in it: a comment and a category.
        .csv(
            "manuella.csv",
            &format!(
                "Indikator;Period;Stadsdel;Utfall;Kommentar\nsjukfranvaro;2019-01;;5;ring {} om detta\n",
                b[2]
            ),
        )
        .xlsx(
            "utb_2019-02.xlsx",
            &[
                &["Period", "Stadsdel", "HushallsID", "Belopp"],
                // A personnummer typed into Excel becomes a number.
                &["2019-02", "Kungsholmen", &d[2], "1000"],
                &["2019-02", "Norrmalm", &format!("'{}", e[0]), "1000"],
                &["2019-02", "Norrmalm", "HH-LEAK-4", &format!("'{}", e[2])],
                &["2019-02", &format!("'{}", f[1]), "HH-LEAK-5", "10"],
            ],
        )
        .xlsx(
            "insatser.xlsx",
            &[
                &["PersonID", "Stadsdel", "Insats", "Startdatum", "Slutdatum", "Resultat"],
                &[&f[3], "Kungsholmen", "Arbetslivsinriktad rehabilitering", "#date 2018-05-01", "", ""],
                &["PERS-LEAK-6", "Kungsholmen", "Arbetslivsinriktad rehabilitering", &g[0], "", ""],
            ],
        )
        .csv(
            "avhysningar.csv",
            &format!(
                "Datum;Stadsdel;ArendeID;BarnBerorda;Avvarjd\n2019-01-10;Kungsholmen;{};Ja;Ja\n2019-01-11;Norrmalm;AH-LEAK-7;{};Ja\n",
                g[2], g[3]
            ),
        );
    let case = match std::fs::read(
        Path::new(CRATE)
            .join(CORPUS)
            .join("crafted/injection_and_pnr.csv"),
    ) {
        Ok(bytes) => case.bytes("injection_and_pnr.csv", &bytes),
        Err(_) => case,
    };
    let run = case.run(&["run", "--period", "2019-02"]);
    run.expect_code(1);
    let check = case.run(&["check", "--period", "2019-02"]);
    let all = format!("{}\n{}\n{}", run.everything(), check.stderr, check.stdout);
    let mut secrets: Vec<String> = pnrs.iter().flat_map(|p| forms(p)).collect();
    secrets.push("HH-LEAK-8".into());
    secrets.extend((1..=7).map(|i| {
        if i == 6 {
            "PERS-LEAK-6".to_string()
        } else if i == 7 {
            "AH-LEAK-7".to_string()
        } else {
            format!("HH-LEAK-{i}")
        }
    }));
    // The crafted file's ids.
    secrets.extend(forms("198501011234"));
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "{s} leaked:\n{}", run.stderr);
    }
    // The data behind the ids still counts: 2 + 2 households in January.
    assert!(
        run.json().result("utbetalt", None)["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn suppressed_counts_show_two_dots_in_every_workbook_and_never_their_figure() {
    // sekretessgrans 3: Kungsholmen has 2 households, Norrmalm 5.
    let rapport = crate::harness::default_rule("rapport.rhai")
        .replace("sekretessgrans: 0", "sekretessgrans: 3");
    let mut utb = format!("{UTB}\n");
    for i in 0..2 {
        utb += &format!("2019-01;Kungsholmen;K{i};1111;1;0;0;;\n");
    }
    for i in 0..5 {
        utb += &format!("2019-01;Norrmalm;N{i};1000;1;0;0;;\n");
    }
    let case = Case::new()
        .csv("utb.csv", &utb)
        .rule("rapport.rhai", &rapport);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let k = run.district("Kungsholmen");
    let per = k.row("Per stadsdel", "Antal biståndshushåll under perioden");
    assert_eq!(per[2], "s:..", "{per:?}");
    let whole = run.whole();
    assert_eq!(
        whole.row("Per stadsdel", "Antal biståndshushåll under perioden")[2],
        "s:.."
    );
    let j = run.json();
    let r = j.result("hushall_unika", Some("Kungsholmen"));
    assert_eq!(r["suppressed"], true);
    for field in ["value", "rounded", "numerator", "denominator"] {
        assert_eq!(r[field], "..", "{field} shows a suppressed figure: {r}");
    }
    // Kungsholmen's own count (2) is nowhere in its district workbook's Underlag either.
    let underlag = k.row("Underlag", "Antal biståndshushåll under perioden");
    assert!(
        !underlag.iter().any(|c| c == "n:2"),
        "Underlag shows the suppressed count: {underlag:?}"
    );
}

/// A hostile rule is stopped by the engine's limits and reported at its file, line and
/// column; every other indicator is still computed and the run exits 1.
#[test]
fn hostile_rules_are_stopped_and_located_and_the_rest_is_computed() {
    const SOMMARJOBB: &str = "fn sommarjobb(u) {\n    varde(u.manuellt())\n}";
    let bodies = [
        (
            "loop",
            "fn sommarjobb(u) {\n    let n = 0;\n    loop { n += 1; }\n}",
            "too long",
        ),
        (
            "recursion",
            "fn sommarjobb(u) {\n    djup(1)\n}\nfn djup(n) {\n    djup(n + 1)\n}",
            "nested",
        ),
        (
            "string",
            "fn sommarjobb(u) {\n    let s = \"x\";\n    loop { s += s; }\n}",
            "too large",
        ),
        (
            "array",
            "fn sommarjobb(u) {\n    let a = [];\n    loop { a.push(1); }\n}",
            "too large|too long",
        ),
        (
            "map",
            "fn sommarjobb(u) {\n    let m = #{};\n    let i = 0;\n    loop { m[`k${i}`] = i; i += 1; }\n}",
            "too large|too long",
        ),
        ("throw", "fn sommarjobb(u) {\n    throw \"nej\";\n}", "nej"),
    ];
    for (what, body, message) in bodies {
        let rules =
            crate::harness::default_rule("berakning_manuella.rhai").replace(SOMMARJOBB, body);
        assert!(rules.contains(body));
        let line = 1 + rules
            .lines()
            .position(|l| l.starts_with("fn sommarjobb"))
            .unwrap();
        let case = Case::new()
            .csv("utb.csv", &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"))
            .csv(
                "manuella.csv",
                "Indikator;Period;Stadsdel;Utfall\nsommarjobb;2019-01;;400\nsjukfranvaro;2019-01;;5\n",
            )
            .rule("berakning_manuella.rhai", &rules);
        let run = case.run_env(
            &["run", "--period", "2019-01"],
            &[("UTFALL_RULE_TIMEOUT_S", "2")],
        );
        assert_eq!(run.signal, None, "{what}");
        run.expect_code(1);
        assert!(
            run.elapsed < Duration::from_secs(60),
            "{what}: {:?}",
            run.elapsed
        );
        // file:line:col, the line inside the hostile function (or its first line when a
        // limit stops it without a position).
        let located = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: rules/berakning_manuella.rhai:"))
            .unwrap_or_else(|| panic!("{what}: not located:\n{}", run.stderr));
        let pos: Vec<usize> = located["error: rules/berakning_manuella.rhai:".len()..]
            .split(':')
            .take(2)
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(
            pos[0] >= line && pos[0] < line + 6 && pos[1] >= 1,
            "{what}: {located}"
        );
        // A growing array or map may reach the clock before its size limit: stopped either way.
        assert!(
            message.split('|').any(|m| located.contains(m)),
            "{what}: {located}"
        );
        let j = run.json();
        assert_eq!(j.status("sommarjobb", None), "fel", "{what}");
        assert_eq!(j.result("sjukfranvaro", None)["value"], 5, "{what}");
        assert_eq!(j.result("utbetalt", None)["value"], 1000, "{what}");
    }
}

#[test]
fn an_amount_too_large_to_add_up_is_rejected_where_it_is_and_the_rest_is_summed() {
    // Two rows of the largest amount a Decimal holds would overflow its addition: each is
    // rejected (CSV by the fast path's fallback and by the general one, xlsx as a number),
    // and the household's other amounts are summed as if they were not there.
    let huge = "79228162514264337593543950335";
    let case = Case::new()
        .csv(
            "utbetalningar_2019-01.csv",
            &format!(
                "{UTB}\n2019-01;Kungsholmen;H1;{huge};1;0;0;;\n2019-01;Kungsholmen;H1;{huge};1;0;0;;\n\
                 2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Kungsholmen;H2; 1 000 000 000 000 000 ;1;0;0;;\n\
                 2019-01;Kungsholmen;H2;999999999999999;1;0;0;;\n"
            ),
        )
        .xlsx(
            "utbetalningar_2019-02.xlsx",
            &[
                &UTB.split(';').collect::<Vec<_>>(),
                &["2019-02", "Kungsholmen", "H1", "1e28", "1", "0", "0", "", ""],
                &["2019-02", "Kungsholmen", "H1", "1e28", "1", "0", "0", "", ""],
                &["2019-02", "Kungsholmen", "H1", "500", "1", "0", "0", "", ""],
            ],
        );
    let run = case.run(&["run", "--period", "2019-02"]);
    run.expect_code(1);
    for at in [
        "utbetalningar_2019-01.csv [row 2, Belopp]: Belopp",
        "utbetalningar_2019-01.csv [row 3, Belopp]: Belopp",
        "utbetalningar_2019-01.csv [row 5, Belopp]: Belopp",
        "utbetalningar_2019-02.xlsx [Blad1!D2]: Belopp",
        "utbetalningar_2019-02.xlsx [Blad1!D3]: Belopp",
    ] {
        assert!(run.stderr.contains(at), "{at}\n{}", run.stderr);
    }
    assert!(run.stderr.contains("too large"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let json = run.json();
    // H1: 1000 in January, 500 in February; H2: 999 999 999 999 999 in January.
    assert_eq!(
        json.result("utbetalt", None)["value"].to_string(),
        "1000000000001499"
    );
    let kontroll = run.whole().sheet("Kontroll");
    assert!(kontroll.contains("orimligt stort"), "{kontroll}");
}

#[test]
fn a_rule_handing_back_a_number_too_large_to_add_up_is_a_located_rule_error() {
    // Budget lines are summed and subtracted natively: a forecast of 7.9e28 on two lines
    // overflowed that arithmetic (a panic, exit 101). Now every number a rule hands back
    // is held below 10^24 (sums of exported numbers, each below 10^15, stay far under it:
    // the test above hands back a total of more than 10^15).
    const PROGNOS: &str = "fn prognos_helar(b) {\n    b.utfall * 12 / b.manader\n}";
    const HUGE: &str = "79228162514264337593543950335.0";
    let budget = crate::harness::default_rule("budget.rhai");
    assert!(budget.contains(PROGNOS));
    let budget = budget.replace(PROGNOS, &format!("fn prognos_helar(b) {{\n    {HUGE}\n}}"));
    let manuella = crate::harness::default_rule("berakning_manuella.rhai").replace(
        "fn sommarjobb(u) {\n    varde(u.manuellt())\n}",
        &format!("fn sommarjobb(u) {{\n    varde({HUGE})\n}}"),
    );
    assert!(manuella.contains(HUGE));
    let case = with_samples(Case::new())
        .rule("budget.rhai", &budget)
        .rule("berakning_manuella.rhai", &manuella);
    let run = case.run(&["run"]);
    assert_eq!(run.signal, None);
    run.expect_code(1);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for file in ["rules/budget.rhai:", "rules/berakning_manuella.rhai:"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&format!("error: {file}")) && l.contains("too large")),
            "{file}\n{}",
            run.stderr
        );
    }
    let j = run.json();
    assert_eq!(j.status("sommarjobb", None), "fel");
    assert_ne!(j.status("utbetalt", None), "fel");
}
