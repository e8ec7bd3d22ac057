//! The finer points of the SPEC's "precise semantics" and of the pack's report settings:
//! activity netted across districts, ids per district, re-exports of day-dated datasets,
//! the small-number threshold and input text that looks like a formula.

use crate::harness::{Case, UTB, default_rule};

#[test]
fn rows_in_two_districts_that_net_to_zero_are_active_in_one_district_but_not_the_total() {
    // January: H1 +1000 in K and −1000 in N (moved mid-month, paid back in N).
    // K: net 1000 → active; N: net −1000 → not active; total: net 0 → not active.
    // H2 +500 in K → active everywhere.
    let case = Case::new().csv(
        "utb.csv",
        &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Norrmalm;H1;-1000;1;0;0;;\n2019-01;Kungsholmen;H2;500;1;0;0;;\n"),
    );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let j = run.json();
    assert_eq!(j.result("bidragsmanader", Some("Kungsholmen"))["value"], 2);
    assert_eq!(j.result("bidragsmanader", Some("Norrmalm"))["value"], 0);
    assert_eq!(j.result("bidragsmanader", None)["value"], 1);
    // utbetalt counts every row: K 1500, N −1000, total 500; medelbidrag total 500 / 1.
    assert_eq!(j.result("utbetalt", Some("Norrmalm"))["value"], -1000);
    assert_eq!(
        j.line("medelbidrag", None),
        "medelbidrag Totalt: 500 500 1 500 ingen_malsattning"
    );
}

#[test]
fn ids_per_district_key_households_by_district_and_id() {
    // With hushall_per_stadsdel: true, "1" in K and "1" in N are two households.
    let rapport = default_rule("rapport.rhai")
        .replace("hushall_per_stadsdel: false", "hushall_per_stadsdel: true");
    assert!(rapport.contains("hushall_per_stadsdel: true"));
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;1;1000;1;0;0;;\n2019-01;Norrmalm;1;700;1;0;0;;\n2019-02;Norrmalm;1;700;1;0;0;;\n"),
        )
        .rule("rapport.rhai", &rapport);
    let run = case.run(&["run", "--period", "2019-02"]);
    run.expect_code(0);
    let j = run.json();
    // Total: (K,1) and (N,1) → 2 distinct; Jan 2 + Feb 1 = 3 household-months.
    assert_eq!(j.result("hushall_unika", None)["value"], 2);
    assert_eq!(j.result("bidragsmanader", None)["value"], 3);
    assert_eq!(j.result("bidragstid", None)["value"], 1.5);
}

#[test]
fn a_re_export_of_a_day_dated_dataset_replaces_per_month_of_the_date() {
    // avslut exported 2019-04-02 (January–March) and again 2019-04-10 (March only,
    // corrected). January and February come from the first, March from the second:
    // 1 + 1 + 2 = 4 cases, 2 to work (Jan and the corrected March).
    let case = Case::new()
        .csv("utb.csv", &format!("{UTB}\n2019-03;Kungsholmen;H1;1000;1;0;0;;\n"))
        .csv(
            "avslut_20190402.csv",
            "Datum;Stadsdel;Avslutsorsak\n2019-01-10;Kungsholmen;Arbete\n2019-02-10;Kungsholmen;Flytt\n2019-03-10;Kungsholmen;Flytt\n",
        )
        .csv(
            "avslut_20190410.csv",
            "Datum;Stadsdel;Avslutsorsak\n2019-03-10;Kungsholmen;Arbete\n2019-03-20;Kungsholmen;Studier\n",
        );
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let j = run.json();
    assert_eq!(
        j.line("andel_avslutade_arbete", None),
        "andel_avslutade_arbete Totalt: 50 2 4 50 ingen_malsattning"
    );
    let replacements = j.0["diagnostics"]["replacements"].to_string();
    assert!(
        replacements.contains("avslut_20190410.csv ersätter avslut_20190402.csv"),
        "{replacements}"
    );
}

#[test]
fn counts_below_the_small_number_threshold_are_shown_as_two_dots() {
    // sekretessgrans 3: K has 2 households (shown as ".."), N 5, the total 7.
    let rapport = default_rule("rapport.rhai").replace("sekretessgrans: 0", "sekretessgrans: 3");
    assert!(rapport.contains("sekretessgrans: 3"));
    let mut utb = format!("{UTB}\n");
    for i in 0..2 {
        utb += &format!("2019-01;Kungsholmen;K{i};1000;1;0;0;;\n");
    }
    for i in 0..5 {
        utb += &format!("2019-01;Norrmalm;N{i};1000;1;0;0;;\n");
    }
    let case = Case::new()
        .csv("utb.csv", &utb)
        .rule("rapport.rhai", &rapport);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let j = run.json();
    let k = j.result("hushall_unika", Some("Kungsholmen"));
    assert_eq!(k["suppressed"], true, "{k}");
    assert!(k["value"] == ".." && k["numerator"] == "..", "{k}");
    assert_eq!(j.result("hushall_unika", Some("Norrmalm"))["value"], 5);
    assert_eq!(j.result("hushall_unika", None)["value"], 7);
    let per = run
        .whole()
        .row("Per stadsdel", "Antal biståndshushåll under perioden");
    assert_eq!(per[2], "s:..");
    assert_eq!(per[4], "n:5");
}

#[test]
fn input_text_that_looks_like_a_formula_is_written_as_text() {
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "manuella.csv",
            "Indikator;Period;Stadsdel;Utfall;Kommentar\nsjukfranvaro;2019-01;;5;=SUM(A1:A3)\n",
        );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let name = run
        .files()
        .into_iter()
        .find(|f| f.ends_with("_2019-01.xlsx"))
        .unwrap();
    let whole = run.workbook(&name);
    assert_eq!(
        whole.cell("Sammanfattning", "Sjukfrånvaro", 'J'),
        "s:=SUM(A1:A3)"
    );
    let raw = run.everything_of(&name);
    assert!(!raw.contains("<f>"), "a formula was written");
}

#[test]
fn a_district_is_judged_against_its_own_target_and_the_total_against_the_units() {
    // 2012 andel_barn: unit årsmål 0.5, Kungsholmen's own 0.6, Norrmalm's 0.5, KF "minska".
    // Every district: 11 children in January / 2000 → 0.55 %; total 33 / 6000 → 0.55 %.
    // K: 0.55 ≤ 0.6 → helt; N: 0.55 ≤ 0.5 × 1.1 → delvis; total against 0.5 → delvis.
    let mut utb = format!("{UTB}\n");
    let mut bef = String::from("Ar;Stadsdel;Folkmangd;Barn0_17\n");
    for d in ["Kungsholmen", "Norrmalm", "Östermalm"] {
        utb += &format!("2012-01;{d};H-{d};5000;2;11;0;;\n");
        bef += &format!("2011;{d};10000;2000\n");
    }
    let case = Case::new().csv("utb.csv", &utb).csv("bef.csv", &bef);
    let run = case.run(&["run", "--period", "2012-01"]);
    run.expect_code(0);
    let j = run.json();
    let summary = |d: Option<&str>| {
        let r = j.result("andel_barn", d);
        format!(
            "{} {} {} {}",
            r["value"], r["target"], r["kf_target"], r["status"]
        )
    };
    assert_eq!(summary(Some("Kungsholmen")), "0.55 0.6 \"minska\" \"helt\"");
    assert_eq!(summary(Some("Norrmalm")), "0.55 0.5 \"minska\" \"delvis\"");
    assert_eq!(summary(None), "0.55 0.5 \"minska\" \"delvis\"");
}

#[test]
fn a_piped_run_shows_no_progress() {
    let case = Case::new().csv(
        "utb.csv",
        &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
    );
    let run = case.run(&["run"]);
    run.expect_code(0);
    assert!(!run.stderr.contains("s] "), "{}", run.stderr);
    let quiet = case.run(&["run", "--quiet"]);
    quiet.expect_code(0);
    assert_eq!(quiet.stderr, "", "--quiet prints nothing but errors");
}
