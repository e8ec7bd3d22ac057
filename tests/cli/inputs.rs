//! Exports as they arrive: Windows-1252 CSV with Swedish numbers, workbooks with title rows,
//! periods written every way Excel allows, re-exported months, duplicates, lock files,
//! missing-value marks, bad rows and unreadable files.

use crate::harness::{Case, UTB, befolkning};

#[test]
fn windows_1252_csv_with_decimal_comma_and_thousands_separators() {
    // "Östermalm" is one byte 0xD6 in Windows-1252, NBSP is 0xA0.
    let text = "Period;Stadsdel;HushallsID;Belopp;AntalVuxna;AntalBarn\n\
                2019-01;Östermalm;Ö1;1 234,50;1;0\n\
                2019-01;Östermalm;Ö2;2\u{a0}000,25;2;1\n\
                2019-01;Kungsholmen;K1;12 345 678,9;1;0\n";
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!lossy);
    assert!(bytes.contains(&0xD6) && bytes.contains(&0xA0));
    let case = Case::new().bytes("utbetalningar_2019-01.csv", &bytes);
    let run = case.run(&["run", "--period", "2019-01"]);
    // Exit 0: had "Östermalm" been misread it would be rejected as an unknown district.
    run.expect_code(0);
    let j = run.json();
    assert_eq!(j.0["districts"][2], "Östermalm");
    // Ö: 1 234,50 + 2 000,25 = 3 234,75; K: 12 345 678,9.
    assert_eq!(j.result("utbetalt", Some("Östermalm"))["value"], 3234.75);
    assert_eq!(j.result("hushall_unika", Some("Östermalm"))["value"], 2);
    assert_eq!(
        j.result("utbetalt", Some("Kungsholmen"))["value"],
        12345678.9
    );
    assert_eq!(j.result("utbetalt", None)["value"], 12348913.65);
}

#[test]
fn xlsx_header_below_title_rows_and_periods_written_every_way() {
    // Two title rows above the header; the header uses aliases and other spellings.
    // Period as a real date, an unformatted serial (43497 = 2019-02-01), text "2019-03",
    // "mars 2019" and "april 2019".
    let case = Case::new().xlsx(
        "Utbetalningar jan-apr.xlsx",
        &[
            &["Utbetalningar ekonomiskt bistånd"],
            &["Uttag 2019-05-02"],
            &[
                "Månad",
                "Stadsdelsområde",
                "Hushålls-ID",
                "Utbetalt",
                "Antal vuxna",
            ],
            &["#date 2019-01-31", "Kungsholmen", "H1", "100", "1"],
            &["43497", "Kungsholmen", "H1", "200", "1"],
            &["'2019-03", "Kungsholmen", "H1", "300", "1"],
            &["mars 2019", "Kungsholmen", "H2", "1000", "1"],
            &["april 2019", "Kungsholmen", "H1", "400", "1"],
        ],
    );
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let j = run.json();
    // H1 Jan..Apr (4) + H2 Mar (1) = 5 household-months, 100+200+300+1000+400 = 2000 kr.
    assert_eq!(
        j.line("bidragsmanader", Some("Kungsholmen")),
        "bidragsmanader Kungsholmen: 5 5 null 5 ingen_malsattning"
    );
    assert_eq!(j.result("utbetalt", Some("Kungsholmen"))["value"], 2000);
    assert!(
        j.0["diagnostics"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| !w.as_str().unwrap().contains("2019-0")),
        "every month has payments: {}",
        j.0["diagnostics"]
    );
    let kontroll = run.whole().row("Kontroll", "Utbetalningar jan-apr.xlsx");
    assert_eq!(kontroll[1], "s:utbetalningar");
    assert_eq!(kontroll[3], "n:5");
    assert_eq!(kontroll[5], "s:2019-01–2019-04");
}

#[test]
fn a_re_exported_month_replaces_the_older_export() {
    // March exported on 2019-04-02 and again, corrected, on 2019-04-10. The newer one is
    // written first (older modification time) and sorts first by name: only the export
    // date in the name decides.
    let case = Case::new()
        .csv(
            "utb_2019-01.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "a_utb_2019-03_export_2019-04-10.csv",
            &format!("{UTB}\n2019-03;Kungsholmen;H1;1100;1;0;0;;\n"),
        );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let case = case.csv(
        "b_utb_2019-03_export_20190402.csv",
        &format!(
            "{UTB}\n2019-03;Kungsholmen;H1;1000;1;0;0;;\n2019-03;Kungsholmen;H2;500;1;0;0;;\n"
        ),
    );
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let j = run.json();
    // Jan H1 1000 + Mar H1 1100 = 2100 (not 3600 with both, nor 2500 with the old one);
    // household-months: H1 Jan, H1 Mar = 2 (H2 was only in the replaced export).
    assert_eq!(j.result("utbetalt", Some("Kungsholmen"))["value"], 2100);
    assert_eq!(j.result("bidragsmanader", None)["value"], 2);
    let replacements = j.0["diagnostics"]["replacements"].to_string();
    assert!(
        replacements.contains(
            "a_utb_2019-03_export_2019-04-10.csv ersätter b_utb_2019-03_export_20190402.csv"
        ),
        "{replacements}"
    );
    let kontroll = run.whole().sheet("Kontroll");
    assert!(kontroll.contains("s:Ersatta månader"), "{kontroll}");
    assert!(kontroll.contains("2019-03: a_utb_2019-03_export_2019-04-10.csv ersätter b_utb_2019-03_export_20190402.csv"), "{kontroll}");
    assert!(run.stderr.contains("replaces"), "{}", run.stderr);
}

#[test]
fn an_exact_duplicate_file_and_a_lock_file_are_ignored() {
    let jan =
        format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Norrmalm;H2;700;1;0;0;;\n");
    let case = Case::new()
        .csv("utb_2019-01.csv", &jan)
        .csv("utb_2019-01 - Kopia.csv", &jan)
        .bytes(
            "~$Utbetalningar.xlsx",
            b"\x00\x01 lock file of an open workbook",
        )
        .xlsx(
            "~$utb_2019-02.xlsx",
            &[
                &["Period", "Stadsdel", "HushallsID", "Belopp"],
                &["2019-02", "Kungsholmen", "H9", "99999"],
            ],
        );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let j = run.json();
    // Counted once: 1000 + 700.
    assert_eq!(j.result("utbetalt", None)["value"], 1700);
    assert_eq!(j.result("bidragsmanader", None)["value"], 2);
    let kontroll = run.whole().sheet("Kontroll");
    assert!(kontroll.contains("dubblett av utb_2019-01"), "{kontroll}");
    assert!(
        !kontroll.contains("~$") && !run.stderr.contains("~$"),
        "{kontroll}\n{}",
        run.stderr
    );
}

#[test]
fn missing_value_marks_are_never_read_as_zero() {
    // Barn0_17 ".." and Vuxna18plus "–" for K: andel_barn and andel_langvarigt have no
    // value (not 0, not a division by zero); Folkmangd is there, so andel_befolkning is.
    // AntalBarn "--" on H1's second row in January does not replace the 2 of its first.
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;600;1;2;0;;\n2019-01;Kungsholmen;H1;400;1;--;0;;\n"),
        )
        .csv(
            "bef.csv",
            "Ar;Stadsdel;Folkmangd;Barn0_17;Unga18_24;Vuxna18plus\n2018;Kungsholmen;1000;..;100;–\n2018;Norrmalm;1000;200;100;700\n",
        );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let j = run.json();
    for id in ["andel_barn", "andel_langvarigt"] {
        let r = j.result(id, Some("Kungsholmen"));
        assert!(r["value"].is_null(), "{r}");
        assert_eq!(r["status"], "saknas", "{r}");
    }
    // 3 persons (1 adult + 2 children) / 1000 → 0.3 %.
    assert_eq!(
        j.result("andel_befolkning", Some("Kungsholmen"))["value"],
        0.3
    );
    // Total barn: 2 / (K unknown + N 200): the total's population is incomplete, so either
    // no value or the known part, never 2 / 200 presented as if K had no children.
    let total = j.result("andel_barn", None);
    assert!(total["value"].is_null(), "{total}");
}

#[test]
fn a_bad_row_is_rejected_with_file_row_and_column_and_the_rest_is_used() {
    let case = Case::new().csv(
        "utb_2019-01.csv",
        &format!(
            "{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Kungsholmen;H2;12 3x4;1;0;0;;\n2019-01;Kungsholmen;H3;250;1;0;0;;\n"
        ),
    );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(1);
    // Row 3 as a spreadsheet shows it (the header is row 1).
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("utb_2019-01.csv"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        line.contains("row 3") && line.contains("Belopp") && line.contains("12 3x4"),
        "{line}"
    );
    let j = run.json();
    assert_eq!(j.result("utbetalt", Some("Kungsholmen"))["value"], 1250);
    assert_eq!(j.0["diagnostics"]["rejected_rows"], 1);
    let rejected = run.whole().row("Kontroll", "utb_2019-01.csv");
    assert_eq!(rejected[4], "n:1", "Avvisade: {rejected:?}");
}

#[test]
fn a_bad_row_in_a_workbook_names_the_sheet_and_cell() {
    let case = Case::new().xlsx_sheets(
        "utb_2019-01.xlsx",
        &[(
            "Januari",
            &[
                &["Period", "Stadsdel", "HushallsID", "Belopp"],
                &["2019-01", "Kungsholmen", "H1", "1000"],
                &["2019-01", "Kungsholmen", "H2", "tusen"],
            ],
        )],
    );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(1);
    assert!(run.stderr.contains("utb_2019-01.xlsx"), "{}", run.stderr);
    assert!(run.stderr.contains("Januari!D3"), "{}", run.stderr);
    assert_eq!(run.json().result("utbetalt", None)["value"], 1000);
}

#[test]
fn an_unreadable_file_is_reported_and_skipped() {
    let case = Case::new()
        .bytes(
            "utb_2019-02.xlsx",
            b"this is not a zip file at all \x00\xff\xfe garbage",
        )
        .csv(
            "utb_2019-01.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "bef.csv",
            &befolkning(2018, &[("Kungsholmen", 1000, 100, 100, 800)]),
        );
    let run = case.run(&["run", "--period", "2019-01"]);
    // The run finished but a file was rejected.
    run.expect_code(1);
    assert!(run.stderr.contains("utb_2019-02.xlsx"), "{}", run.stderr);
    assert_eq!(run.json().result("utbetalt", None)["value"], 1000);
    let kontroll = run.whole().row("Kontroll", "utb_2019-02.xlsx");
    assert!(kontroll[6].contains("hoppades över"), "{kontroll:?}");
}

#[test]
fn utf8_bom_comma_csv_tab_txt_and_a_workbook_with_several_datasets() {
    // BOM + "," + decimal point; a tab-separated .txt; one workbook with befolkning and
    // avslut on two sheets, with header aliases (År, Invånare, Vuxna 18+).
    let case = Case::new()
        .bytes(
            "utb_2019-01.csv",
            "\u{feff}Period,Stadsdel,HushallsID,Belopp,AntalVuxna,AntalBarn\n2019-01,Östermalm,H1,1500.50,1,1\n".as_bytes(),
        )
        .csv(
            "utb_2019-02.txt",
            "Period\tStadsdel\tHushallsID\tBelopp\tAntalVuxna\tAntalBarn\n2019-02\tÖstermalm\tH1\t1 499,50\t1\t1\n",
        )
        .xlsx_sheets(
            "underlag.xlsx",
            &[
                ("Befolkning", &[
                    &["År", "Stadsdel", "Invånare", "Barn0_17", "Vuxna 18+"],
                    &["2018", "Östermalm", "500", "100", "400"],
                ]),
                ("Avslut", &[
                    &["Avslutsdatum", "Stadsdel", "Avslutsorsak"],
                    &["#date 2019-02-14", "Östermalm", "Arbete"],
                ]),
            ],
        );
    let run = case.run(&["run", "--period", "2019-02"]);
    run.expect_code(0);
    let j = run.json();
    // 1500.50 + 1499.50 = 3000 kr over 2 household-months.
    assert_eq!(
        j.line("medelbidrag", Some("Östermalm")),
        "medelbidrag Östermalm: 1500 3000 2 1500 ingen_malsattning"
    );
    // 2 persons a month / 500 → 0.4 %.
    assert_eq!(
        j.result("andel_befolkning", Some("Östermalm"))["value"],
        0.4
    );
    assert_eq!(j.result("avslutade", Some("Östermalm"))["value"], 1);
}

#[test]
fn population_is_taken_from_the_latest_year_not_after_the_report_year() {
    // 2017, 2018 and 2020 are present: a 2019 report uses 2018 for every district.
    let mut bef = String::from("Ar;Stadsdel;Folkmangd\n");
    for (y, f) in [(2017, 100), (2018, 1000), (2020, 5000)] {
        for d in ["Kungsholmen", "Norrmalm", "Östermalm"] {
            bef += &format!("{y};{d};{f}\n");
        }
    }
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;1;0;;\n"),
        )
        .csv("bef.csv", &bef);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let j = run.json();
    assert_eq!(j.0["population_year"], 2018);
    // 2 persons / 1000 → 0.2 %; total 2 / 3000.
    assert_eq!(
        j.line("andel_befolkning", Some("Kungsholmen")),
        "andel_befolkning Kungsholmen: 0.2 2 1000 0.2 helt"
    );
    assert_eq!(j.result("andel_befolkning", None)["denominator"], 3000);
}

#[test]
fn export_dates_written_with_underscores_decide_too() {
    // 2019_04_10 is newer than 2019_04_02, whatever the names' order and the write order.
    let case = Case::new().csv(
        "z_utb_2019_04_10.csv",
        &format!("{UTB}\n2019-03;Kungsholmen;H1;1100;1;0;0;;\n"),
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let case = case.csv(
        "a_utb_2019_04_02.csv",
        &format!("{UTB}\n2019-03;Kungsholmen;H1;1000;1;0;0;;\n"),
    );
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    assert_eq!(run.json().result("utbetalt", None)["value"], 1100);
}
