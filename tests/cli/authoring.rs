//! Rule authoring as a controller meets it: `check` prints a Swedish overview and writes
//! nothing, `explain` says how one figure was reached, `test` runs the pack's own tests.

use crate::harness::{CRATE, Case, UTB, befolkning, default_rule};

const SECRET: &str = "HH-SECRET";

fn population() -> String {
    befolkning(
        2018,
        &[
            ("Kungsholmen", 1000, 100, 100, 800),
            ("Norrmalm", 2000, 200, 200, 1600),
            ("Östermalm", 1000, 100, 100, 800),
        ],
    )
}

/// January and February 2019 (February exported twice), a year before, population.
fn two_months() -> Case {
    Case::new()
        .csv(
            "utb_2018.csv",
            &format!("{UTB}\n2018-01;Kungsholmen;{SECRET}-1;900;1;2;0;;\n2018-02;Kungsholmen;{SECRET}-1;900;1;2;0;;\n"),
        )
        .csv(
            "utb_2019-01.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;{SECRET}-1;1000;1;2;0;;\n2019-01;Norrmalm;{SECRET}-2;500;1;0;0;;\n"),
        )
        .csv(
            "utb_2019-02_export_2019-03-01.csv",
            &format!("{UTB}\n2019-02;Kungsholmen;{SECRET}-1;1000;1;2;0;;\n"),
        )
        .csv(
            "utb_2019-02_export_2019-03-15.csv",
            &format!("{UTB}\n2019-02;Kungsholmen;{SECRET}-1;1000;1;2;0;;\n2019-02;Norrmalm;{SECRET}-2;12x4;1;0;0;;\n"),
        )
        .csv("befolkning.csv", &population())
}

#[test]
fn check_prints_datasets_replacements_rejections_and_missing_datasets() {
    let case = two_months();
    let run = case.run(&["check", "--period", "2019-02"]);
    run.expect_code(1); // the text amount is rejected
    let out = &run.stdout;
    assert!(
        out.contains("Rapportperiod: 2019-02 (januari–februari 2019)"),
        "{out}"
    );
    assert!(out.contains("Datamängder:"), "{out}");
    assert!(
        out.contains("  utbetalningar: 4 filer, 5 rader, 2018-01–2018-02, 2019-01–2019-02"),
        "{out}"
    );
    assert!(
        out.contains("    Kungsholmen: 4 rader, 2018-01–2018-02, 2019-01–2019-02"),
        "{out}"
    );
    assert!(out.contains("    Norrmalm: 1 rad, 2019-01"), "{out}");
    assert!(
        out.contains("  befolkning: 1 fil, 3 rader, år 2018"),
        "{out}"
    );
    assert!(
        out.contains("utbetalningar 2019-02: utb_2019-02_export_2019-03-15.csv ersätter utb_2019-02_export_2019-03-01.csv (1 rad)"),
        "{out}"
    );
    assert!(
        out.contains(
            "Avvisade rader och filer:\n  utb_2019-02_export_2019-03-15.csv: rad 3, kolumn Belopp"
        ),
        "{out}"
    );
    assert!(out.contains("Regelfel:\n  inga"), "{out}");
    // No insatser, avslut or avhysningar: their indicators cannot be computed.
    assert!(
        out.contains("  andel_rehab_egen_forsorjning (Andel deltagare i arbetslivsinriktad rehabilitering som gått till egen eller annan försörjning): ingen fil med insatser"),
        "{out}"
    );
    assert!(
        out.contains("avslutade (Avslutade ärenden): ingen fil med avslut"),
        "{out}"
    );
    assert!(!out.contains("hushall_snitt ("), "computable: {out}");
    assert!(out.contains("Inget skrevs."), "{out}");
    assert!(!case.output_dir().exists());
    assert!(!format!("{out}{}", run.stderr).contains(SECRET), "{out}");
}

#[test]
fn check_is_clean_without_problems_and_shows_a_rule_error_with_a_caret() {
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv("befolkning.csv", &population());
    let run = case.run(&["check"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("Avvisade rader och filer:\n  inga"),
        "{}",
        run.stdout
    );

    let broken = "// Sommarjobb.\nfn sommarjobb(u) {\n    let x = ;\n    varde(u.manuellt())\n}\n";
    let manuella = default_rule("berakning_manuella.rhai")
        .replace("fn sommarjobb(u) {\n    varde(u.manuellt())\n}", "");
    let case = case
        .rule("berakning_manuella.rhai", &manuella)
        .rule("sommarjobb.rhai", broken);
    let run = case.run(&["check"]);
    run.expect_code(1);
    let out = &run.stdout;
    let at = out
        .find("Regelfel:\n  rules/sommarjobb.rhai:3:")
        .unwrap_or_else(|| panic!("{out}"));
    let lines: Vec<&str> = out[at..].lines().collect();
    assert_eq!(lines[2].trim(), "let x = ;", "{out}");
    // The caret sits under the column the error names.
    let column: usize = lines[1].split(':').nth(2).unwrap().parse().unwrap();
    let caret = lines[3].find('^').unwrap();
    let text_start = lines[2].find("let").unwrap() - 4; // "let" is at column 5 of the rule
    assert_eq!(caret - text_start, column - 1, "{out}");
}

#[test]
fn check_without_any_usable_export_exits_2() {
    let case = Case::new().csv("anteckningar.txt", "inget här\n");
    let run = case.run(&["check"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no usable input"), "{}", run.stderr);
}

/// The 2019 target of andel_barn with Kungsholmen's own årsmål.
fn with_district_target(case: Case) -> Case {
    let mal = default_rule("mal.rhai").replace(
        "#{ indikator: \"andel_barn\", ar: 2019, arsmal: 1, kf: 2.8 },",
        "#{ indikator: \"andel_barn\", ar: 2019, arsmal: 1, kf: 2.8, stadsdelar: #{ \"Kungsholmen\": 0.5 } },",
    );
    case.rule("mal.rhai", &mal)
}

#[test]
fn explain_shows_the_rule_the_figures_the_files_the_target_and_the_status() {
    let case = with_district_target(two_months());
    let run = case.run(&[
        "explain",
        "andel_barn",
        "--district",
        "Kungsholmen",
        "--period",
        "2019-02",
    ]);
    run.expect_code(0);
    let out = &run.stdout;
    for want in [
        "Indikator: Andel barn som lever i familjer med ekonomiskt bistånd (andel_barn)",
        "Enhet: %, 2 decimaler, lägre är bättre",
        "Stadsdel: Kungsholmen",
        "Regel: rules/berakning_andelar.rhai rad 14–16 (funktionen andel_barn)",
        "    13 | // barn i aktiva hushåll i snitt per månad ÷ barn 0–17 år × 100",
        "    14 | fn andel_barn(u) {",
        // 2 children in each of 2 months ÷ 2 months ÷ 100 children × 100 = 2 %.
        "  värde 2 % (avrundat till 2 decimaler: 2 %)",
        "  täljare 2: barn i aktiva hushåll i snitt per månad",
        "  nämnare 100: barn 0–17 år",
        "  samma period föregående år: 2 %",
        "  befolkning (befolkningsår 2018)",
        "    befolkning.csv: alla rader (3)",
        "  utbetalningar",
        "    utb_2019-01.csv: 2019-01",
        "    utb_2019-02_export_2019-03-15.csv: 2019-02",
        "  målet som gällde: 0,5 — stadsdelens eget årsmål (Kungsholmen)",
        "  KF:s årsmål: 2,8",
        "Status: ej (Uppfylls ej)",
        "    f.utfall = 2",
        "    f.foregaende = 2",
        "    f.mal = 0,5",
        "    f.riktning = \"lägre\"",
        "  och svarade \"ej\".",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // The replaced export gave nothing to the figure; last year's file is not this period.
    assert!(!out.contains("export_2019-03-01"), "{out}");
    assert!(!out.contains("utb_2018.csv"), "{out}");
    assert!(
        out.contains("uppfyllelse(f) i rules/uppfyllelse.rhai rad "),
        "{out}"
    );
    assert!(!out.contains(SECRET), "{out}");

    // By its Swedish name, for a district judged against the unit's target.
    let run = case.run(&[
        "explain",
        "andel barn som lever i familjer med ekonomiskt bistånd",
        "--district",
        "norrmalm",
        "--period",
        "2019-02",
    ]);
    run.expect_code(0);
    assert!(run.stdout.contains("Stadsdel: Norrmalm"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("  målet som gällde: 1 — enhetens årsmål (stadsdelen har inget eget)"),
        "{}",
        run.stdout
    );
    // The total by default.
    let run = case.run(&["explain", "hushall_unika", "--period", "2019-02"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("Stadsdel: Totalt (alla stadsdelar)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ingen målsättning för 2019"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Status: ingen_malsattning"),
        "{}",
        run.stdout
    );
}

#[test]
fn explain_names_the_valid_indicators_and_districts_when_given_an_unknown_one() {
    let case = two_months();
    let run = case.run(&["explain", "andel_katter"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown indicator \"andel_katter\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hushall_snitt, hushall_unika"),
        "{}",
        run.stderr
    );
    let run = case.run(&["explain", "andel_barn", "--district", "Solna"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown district \"Solna\"; the report's districts are: Kungsholmen, Norrmalm, Östermalm"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn explain_of_a_failing_rule_shows_the_error_and_exits_1() {
    let manuella = default_rule("berakning_manuella.rhai").replace(
        "fn sommarjobb(u) {\n    varde(u.manuellt())\n}",
        "fn sommarjobb(u) {\n    varde(u.manuellt(42))\n}",
    );
    let case = two_months().rule("berakning_manuella.rhai", &manuella);
    let run = case.run(&["explain", "sommarjobb", "--period", "2019-02"]);
    run.expect_code(1);
    assert!(run.stdout.contains("Status: fel (Fel)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("regeln misslyckades:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("rules/berakning_manuella.rhai:"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_shipped_pack_passes_its_own_tests() {
    let case = Case::new();
    let run = case.run_raw(&["test", "--rules", &format!("{CRATE}/rules")]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.len() >= 5, "{}", run.stdout);
    for l in &lines[..lines.len() - 1] {
        assert!(l.starts_with("ok  "), "{}", run.stdout);
    }
    let n = lines.len() - 1;
    assert_eq!(lines[n], format!("{n} passed, 0 failed"));
}

#[test]
fn a_failing_rule_test_says_what_was_expected_and_what_came_out() {
    let case = Case::new()
        .rule(
            "tester/felaktig/utb.csv",
            &format!("{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Kungsholmen;H2;1000;1;0;0;;\n"),
        )
        .rule(
            "tester/felaktig/forvantat.csv",
            "indikator;stadsdel;period;varde;status\nhushall_snitt;Kungsholmen;2019-01;3;\nutbetalt;Kungsholmen;2019-01;2000;\n",
        );
    let run = case.run(&["test"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("FEL felaktig: hushall_snitt Kungsholmen 2019-01 (forvantat.csv line 2): value: expected 3, got 2\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("\n4 passed, 1 failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_changed_target_shows_in_the_rule_tests() {
    // The controller lowers sjukfrånvaro's årsmål 2019 from 6 to 5: 6,6 is no longer delvis.
    let mal = default_rule("mal.rhai").replace(
        "#{ indikator: \"sjukfranvaro\", ar: 2019, arsmal: 6 },",
        "#{ indikator: \"sjukfranvaro\", ar: 2019, arsmal: 5 },",
    );
    let case = Case::new().rule("mal.rhai", &mal);
    let run = case.run(&["test"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("FEL mal_helt_delvis_ej: sjukfranvaro Norrmalm 2019-05 (forvantat.csv line 5): status: expected delvis, got ej"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("\n3 passed, 1 failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_pack_without_tests_is_told_so() {
    let case = Case::new().remove_rule("tester");
    let run = case.run(&["test"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no rule tests"), "{}", run.stderr);
}
