//! What a run writes: file names per period, district workbooks that show only their own
//! district and the total, numeric percentages, reproducible bytes; `check` writes nothing;
//! bad arguments produce nothing.

use crate::harness::{Case, UTB, befolkning};

const STEM: &str = "Uppfoljning_ekonomiskt_bistand";

/// January–June 2019 for K, March for N; a Norrmalm-named file with a bad row.
fn half_year() -> Case {
    let mut utb = format!("{UTB}\n2019-03;Norrmalm;H2;800;2;0;1;;\n");
    for m in 1..=6 {
        utb += &format!("2019-{m:02};Kungsholmen;H1;1000;1;2;0;Arbetslöshet;Ja\n");
    }
    Case::new()
        .csv("utb_2019.csv", &utb)
        .csv(
            "avslut_norrmalm.csv",
            "Datum;Stadsdel;Avslutsorsak\n2019-03-04;Norrmalm;Arbete\n2019-03-32;Norrmalm;Flytt\n",
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

fn names(period: &str) -> Vec<String> {
    let mut v: Vec<String> = ["", "_Kungsholmen", "_Norrmalm", "_Östermalm"]
        .iter()
        .map(|d| format!("{STEM}_{period}{d}.xlsx"))
        .collect();
    v.push(format!("{STEM}_{period}.json"));
    v.sort();
    v
}

#[test]
fn file_names_follow_the_period() {
    let case = half_year();
    for (args, period, months) in [
        (&["--period", "2019"][..], "2019", 12),
        (&["--period", "2019-T1"], "2019-T1", 4),
        (&["--period", "2019-T2"], "2019-T2", 8),
        (&["--period", "2019-05"], "2019-05", 5),
        // Default: the latest month with payments.
        (&[], "2019-06", 6),
    ] {
        case.clear_output();
        let mut full = vec!["run"];
        full.extend_from_slice(args);
        let run = case.run(&full);
        run.expect_code(1); // the bad row
        assert_eq!(run.files(), names(period), "{args:?}");
        let j = run.json();
        assert_eq!(j.0["period"], period);
        assert_eq!(j.0["months"].as_array().unwrap().len(), months, "{args:?}");
    }
}

#[test]
fn a_district_workbook_holds_only_its_district_and_the_total() {
    let case = half_year();
    let run = case.run(&["run", "--period", "2019-T1"]);
    let k = run.district("Kungsholmen");
    let raw = run.everything_of(&format!("{STEM}_2019-T1_Kungsholmen.xlsx"));
    for other in ["Norrmalm", "norrmalm", "Östermalm"] {
        assert!(!k.text.contains(other), "{other} in:\n{}", k.text);
        assert!(!raw.contains(other), "{other} in the xml");
    }
    assert!(k.text.contains("Kungsholmen") && k.text.contains("Totalt"));
    let per = k.row("Per stadsdel", "Antal biståndsmånader");
    // K 4 household-months, total 4 + 1 (N's H2 in March) = 5.
    assert_eq!(per[2..].to_vec(), ["n:4", "s:–", "n:5", "s:–"]);
    // The whole workbook has them all.
    let whole = run.whole();
    for d in ["Kungsholmen", "Norrmalm", "Östermalm"] {
        assert!(whole.text.contains(d), "{d}");
    }
}

#[test]
fn percentages_are_numeric_excel_percentages() {
    let case = half_year();
    let run = case.run(&["run", "--period", "2019-T1"]);
    let whole = run.whole();
    // Total andel_barn: 2 children a month (H1) / (400 + 500 + 100) → 0.2 % → 0.002 in Excel.
    assert_eq!(run.json().result("andel_barn", None)["value"], 0.2);
    assert_eq!(
        whole.cell(
            "Sammanfattning",
            "Andel barn som lever i familjer med ekonomiskt bistånd",
            'C'
        ),
        "n:0.002"
    );
    // Årsmål 1 % is 0.01 too.
    assert_eq!(
        whole.cell(
            "Sammanfattning",
            "Andel barn som lever i familjer med ekonomiskt bistånd",
            'E'
        ),
        "n:0.01"
    );
    // Every outcome is a number or "saknas", never a number written as text.
    for row in &whole.grids["Sammanfattning"] {
        if row
            .get(1)
            .is_some_and(|u| u == "s:%" || u == "s:st" || u == "s:kr")
        {
            let c = &row[2];
            assert!(c.starts_with("n:") || c == "s:saknas", "{row:?}");
        }
    }
}

#[test]
fn running_twice_gives_the_same_bytes() {
    let case = half_year();
    let first = case.run(&["run", "--period", "2019-T2"]);
    let bytes = |r: &crate::harness::Run| -> Vec<(String, Vec<u8>)> {
        r.files()
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(r.path(&f)).unwrap()))
            .collect()
    };
    let a = bytes(&first);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = bytes(&case.run(&["run", "--period", "2019-T2"]));
    assert_eq!(a.len(), 5);
    for ((na, ba), (nb, bb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between two runs");
    }
}

/// Sheets without charts stream their rows through temporary files; where none can be
/// made (no usable temp folder), ordinary sheets are written and the workbooks read the same.
#[test]
fn workbooks_read_the_same_without_a_temp_folder() {
    let case = half_year();
    let dumps = |r: &crate::harness::Run| -> Vec<(String, String)> {
        r.files()
            .into_iter()
            .filter(|f| f.ends_with(".xlsx"))
            .map(|f| (f.clone(), r.workbook(&f).text))
            .collect()
    };
    let with_run = case.run(&["run", "--period", "2019-T2"]);
    let with = dumps(with_run.expect_code(1));
    let spans = |r: &crate::harness::Run| -> usize {
        r.files()
            .iter()
            .filter(|f| f.ends_with(".xlsx"))
            .map(|f| r.everything_of(f).matches(" spans=\"").count())
            .sum()
    };
    let streamed_spans = spans(&with_run);
    case.clear_output();
    let no_temp = case.input_dir().join("no-such-folder");
    let without_run = case.run_env(
        &["run", "--period", "2019-T2"],
        &[("TMPDIR", no_temp.to_str().unwrap())],
    );
    let without = dumps(without_run.expect_code(1));
    assert_eq!(with.len(), 4);
    assert_eq!(with, without);
    // Ordinary sheets give their rows `spans` hints, streamed ones none: the second run
    // really wrote ordinary sheets.
    assert!(spans(&without_run) > streamed_spans);
    assert!(
        !without_run.stderr.contains("constant memory"),
        "{}",
        without_run.stderr
    );
}

#[test]
fn check_reads_everything_and_writes_nothing() {
    let case = half_year();
    let run = case.run(&["check"]);
    run.expect_code(1); // the bad row is still reported
    assert!(run.stderr.contains("avslut_norrmalm.csv"), "{}", run.stderr);
    assert!(!case.output_dir().exists());
    assert!(run.files().is_empty());
}

#[test]
fn a_bad_period_or_a_missing_input_folder_produces_nothing() {
    let case = half_year();
    for bad in ["2019-T4", "2019-13", "T1", "maj"] {
        let run = case.run(&["run", "--period", bad]);
        run.expect_code(2);
        assert!(run.stderr.contains("--period"), "{bad}: {}", run.stderr);
        assert!(run.files().is_empty(), "{bad}");
    }
    let missing = case.input_dir().join("finns-inte");
    let out = case.output_dir();
    let run = case.run_raw(&[
        "run".as_ref(),
        "--input".as_ref(),
        missing.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("finns-inte"), "{}", run.stderr);
    assert!(run.files().is_empty());
}

#[test]
fn a_folder_without_any_export_produces_nothing() {
    let case = Case::new().csv("anteckningar.txt", "inget här\n");
    let run = case.run(&["run"]);
    run.expect_code(2);
    assert!(run.files().is_empty());
}
