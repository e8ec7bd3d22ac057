//! Broken rules never take the run down: compile errors, runtime errors inside helper
//! functions and endless loops are reported at `rules/<file>.rhai:<line>:<col>:`, the
//! affected indicators get `fel`, the others are computed, and the run exits 1.

use std::time::Duration;

use crate::harness::{Case, UTB, default_rule};

const SOMMARJOBB: &str = "fn sommarjobb(u) {\n    varde(u.manuellt())\n}";

fn data() -> Case {
    Case::new()
        .csv(
            "utb.csv",
            &format!(
                "{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Norrmalm;H2;500;1;0;0;;\n"
            ),
        )
        .csv(
            "manuella.csv",
            "Indikator;Period;Stadsdel;Utfall\nsommarjobb;2019-01;;400\nsjukfranvaro;2019-01;;5\n",
        )
}

#[test]
fn a_syntax_error_names_file_line_and_column_and_only_its_indicators_fail() {
    // sommarjobb moves to a file of its own, with a syntax error on line 3.
    let manuella = default_rule("berakning_manuella.rhai").replace(SOMMARJOBB, "");
    let broken = "// Sommarjobb rapporteras för hand.\nfn sommarjobb(u) {\n    let x = ;\n    varde(u.manuellt())\n}\n";
    let case = data()
        .rule("berakning_manuella.rhai", &manuella)
        .rule("sommarjobb.rhai", broken);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("rules/sommarjobb.rhai:3:"),
        "{}",
        run.stderr
    );
    // The caret display shows the offending line.
    assert!(run.stderr.contains("let x = ;"), "{}", run.stderr);
    let j = run.json();
    for d in [Some("Kungsholmen"), Some("Norrmalm"), None] {
        assert_eq!(j.status("sommarjobb", d), "fel");
    }
    assert_eq!(j.result("utbetalt", None)["value"], 1500);
    assert_eq!(j.result("sjukfranvaro", None)["value"], 5);
    let errors = j.0["diagnostics"]["rule_errors"].to_string();
    assert!(errors.contains("rules/sommarjobb.rhai:3:"), "{errors}");
    let kontroll = run.whole().sheet("Kontroll");
    assert!(kontroll.contains("rules/sommarjobb.rhai:3:"), "{kontroll}");
}

#[test]
fn a_runtime_error_in_a_helper_reports_the_helpers_line() {
    let rules = default_rule("berakning_manuella.rhai")
        .replace(SOMMARJOBB, "fn sommarjobb(u) {\n    varde(dela(400, 0))\n}")
        + "\n// Delar a med b.\nfn dela(a, b) {\n    a / b\n}\n";
    // The line of `a / b`, not the call site in sommarjobb.
    let helper_line = 1 + rules.lines().position(|l| l == "    a / b").unwrap();
    let case = data().rule("berakning_manuella.rhai", &rules);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(1);
    let want = format!("rules/berakning_manuella.rhai:{helper_line}:");
    assert!(
        run.stderr.contains(&want),
        "want {want} in:\n{}",
        run.stderr
    );
    assert_eq!(run.json().status("sommarjobb", None), "fel");
    assert_eq!(run.json().result("utbetalt", None)["value"], 1500);
}

#[test]
fn a_rule_that_loops_forever_is_stopped() {
    let rules = default_rule("berakning_manuella.rhai").replace(
        SOMMARJOBB,
        "fn sommarjobb(u) {\n    let n = 0;\n    loop { n += 1; }\n}",
    );
    let case = data().rule("berakning_manuella.rhai", &rules);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(1);
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.stderr.contains("rules/berakning_manuella.rhai:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("too long"), "{}", run.stderr);
    let j = run.json();
    assert_eq!(j.status("sommarjobb", None), "fel");
    assert_eq!(j.result("sjukfranvaro", None)["value"], 5);
}

#[test]
fn a_rule_that_reads_the_payment_rows_gets_them() {
    // Payment rows are folded into household-months as they are read; a pack that names
    // the dataset keeps them as a table too, with the same re-export resolution.
    let rules = default_rule("berakning_manuella.rhai").replace(
        SOMMARJOBB,
        "fn sommarjobb(u) {\n    antal(u.rader(\"utbetalningar\").i_perioden(\"Period\").antal())\n}",
    );
    let case = Case::new()
        .csv(
            "utb_2019-01_export_2019-02-01.csv",
            &format!(
                "{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Norrmalm;H2;500;1;0;0;;\n"
            ),
        )
        .csv(
            "utb_2019-01_export_2019-02-10.csv",
            &format!(
                "{UTB}\n2019-01;Kungsholmen;H1;1000;1;0;0;;\n2019-01;Norrmalm;H2;500;1;0;0;;\n2019-01;Norrmalm;H3;700;1;0;0;;\n"
            ),
        )
        .rule("berakning_manuella.rhai", &rules);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let report = run.json();
    // The newer export replaces January: three rows, not five.
    assert_eq!(report.result("sommarjobb", None)["value"], 3);
    assert_eq!(report.result("sommarjobb", Some("Norrmalm"))["value"], 2);
    assert_eq!(report.result("hushall_unika", None)["value"], 3);
}

#[test]
fn payment_rows_asked_for_by_a_computed_name_are_an_error_not_missing() {
    // Without the name in quotes the rows are folded away as they are read: asking for
    // them by a name built at run time must say so, not give `saknas`.
    let rules = default_rule("berakning_manuella.rhai").replace(
        SOMMARJOBB,
        "fn sommarjobb(u) {\n    let namn = \"utbe\" + \"talningar\";\n    antal(u.rader(namn).antal())\n}",
    );
    let case = data().rule("berakning_manuella.rhai", &rules);
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("berakning_manuella.rhai:10:13")
            && run
                .stderr
                .contains("kept only when a rule names the dataset in quotes"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json().status("sommarjobb", None), "fel");
    // Everything else is still computed from the household-months.
    assert_eq!(run.json().result("hushall_unika", None)["value"], 2);
}
