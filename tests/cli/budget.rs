//! Budget, Nyckeltal and Månadsutfall on a hand-computed ledger and budget: a re-exported
//! ledger month, an account no row claims, income signs, a
//! Verksamhet-based layout (the 2007 plan) in a test rule pack, a failing forecast rule, the
//! charts in the written file and golden dumps of the Budget and Nyckeltal sheets.

use std::io::Read;

use serde_json::Value;

use crate::golden::golden;
use crate::harness::{Case, Dump, Report, UTB};

/// Period 2019-03 (three months). Kronor, Kommun-Bas signs (income negative).
///
/// Kungsholmen 2019: 4710 10 000 + 11 000 (February's re-export replaces 99 999) + 12 000;
/// 3110 −500; 3610 −1 500; 8410 250 (no row claims it). Norrmalm: 4710 20 000 + 21 000;
/// 5010 3 000.
/// 2018: Kungsholmen 4710 9 000 (Jan) + 9 500 (Mar); Norrmalm 4710 19 000 (Mar).
fn case() -> Case {
    let mut utb = format!("{UTB}\n");
    for y in [2018, 2019] {
        for m in 1..=3 {
            utb += &format!(
                "{y}-{m:02};Kungsholmen;H1;{};2;1;0;Arbetslöshet;Ja\n",
                9000 + m * 500
            );
            utb += &format!("{y}-{m:02};Norrmalm;H2;20000;1;0;0;Sjukdom;Nej\n");
        }
    }
    let hb = "Period;Ansvar;Verksamhet;Konto;Belopp\n";
    Case::new()
        .csv("utbetalningar.csv", &utb)
        .csv(
            "huvudbok_2019-01.csv",
            &format!(
                "{hb}2019-01;Kungsholmen;1810;4710;10 000,00\n2019-01;Kungsholmen;1810;3110;-500\n\
                 2019-01;Norrmalm;1810;4710;20000\n2019-01;Norrmalm;1830;5010;3000\n"
            ),
        )
        .csv(
            "huvudbok_2019-02_export_2019-03-05.csv",
            &format!("{hb}2019-02;Kungsholmen;1810;4710;99999\n"),
        )
        .csv(
            "huvudbok_2019-02_export_2019-03-20.csv",
            &format!(
                "{hb}2019-02;Kungsholmen;1810;4710;11000\n2019-02;Kungsholmen;1810;8410;250\n"
            ),
        )
        .csv(
            "huvudbok_2019-03.csv",
            &format!(
                "{hb}2019-03;Kungsholmen;1810;4710;12000\n2019-03;Kungsholmen;1820;3610;-1500\n\
                 2019-03;Norrmalm;1810;4710;21000\n"
            ),
        )
        .csv(
            "huvudbok_2018.csv",
            &format!(
                "{hb}2018-01;Kungsholmen;1810;4710;9000\n2018-03;Kungsholmen;1810;4710;9500\n\
                 2018-03;Norrmalm;1810;4710;19000\n"
            ),
        )
        .csv(
            "budget.csv",
            "Ar;Stadsdel;Verksamhet;Konto;Belopp\n2019;Kungsholmen;1810;4710;132000\n\
             2019;Kungsholmen;1810;3110;-6000\n2019;Norrmalm;1810;4710;240000\n\
             2019;Norrmalm;1830;5010;36000\n2018;Kungsholmen;1810;4710;1\n",
        )
}

fn budget_row<'a>(r: &'a Report, row: &str, district: Option<&str>) -> &'a Value {
    r.0["budget"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["row"] == row && b["district"].as_str() == district)
        .unwrap_or_else(|| panic!("no budget row {row} / {district:?}"))
}

/// `budget_year budget_period outcome_period deviation forecast_year forecast_deviation
/// previous_outcome_period` of one JSON budget row.
fn figures(r: &Report, row: &str, district: Option<&str>) -> String {
    let b = budget_row(r, row, district);
    [
        "budget_year",
        "budget_period",
        "outcome_period",
        "deviation",
        "forecast_year",
        "forecast_deviation",
        "previous_outcome_period",
    ]
    .iter()
    .map(|k| b[k].to_string())
    .collect::<Vec<_>>()
    .join(" ")
}

/// The row `label` within the block headed `section` (a district or Totalt) of a sheet.
fn block_row(d: &Dump, sheet: &str, section: &str, label: &str) -> Vec<String> {
    let grid = &d.grids[sheet];
    let start = grid
        .iter()
        .position(|r| r.first().map(String::as_str) == Some(&format!("s:{section}")))
        .unwrap_or_else(|| panic!("no block {section} in {sheet}:\n{}", d.sheet(sheet)));
    grid[start + 1..]
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(&format!("s:{label}")))
        .unwrap_or_else(|| panic!("no {label} under {section}:\n{}", d.sheet(sheet)))
        .clone()
}

#[test]
fn budget_table_from_ledger_and_budget_in_kronor_and_tkr() {
    let case = case();
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    let r = run.json();
    // Income shown positive: 3110 budget −6 000 → 6 000; × 3/12 = 1 500; outcome 500;
    // deviation −1 500 − (−500) = −1 000 (less income than budgeted); forecast 500 × 4.
    assert_eq!(
        figures(&r, "Taxor och avgifter", Some("Kungsholmen")),
        "6000 1500 500 -1000 2000 -4000 0"
    );
    // 3610 unbudgeted income: a surplus.
    assert_eq!(
        figures(&r, "Försäljning", Some("Kungsholmen")),
        "0 0 1500 1500 6000 6000 0"
    );
    assert_eq!(
        figures(&r, "Summa intäkter", Some("Kungsholmen")),
        "6000 1500 2000 500 8000 2000 0"
    );
    // The re-exported February counts once, with the newer file's 11 000.
    assert_eq!(
        figures(&r, "Försörjningsstöd", Some("Kungsholmen")),
        "132000 33000 33000 0 132000 0 18500"
    );
    // 8410 is claimed by no row: it is on its own line and in the netto.
    assert_eq!(
        figures(&r, "Ej i uppställningen", Some("Kungsholmen")),
        "0 0 250 -250 1000 -1000 0"
    );
    assert_eq!(
        figures(&r, "Summa netto", Some("Kungsholmen")),
        "126000 31500 31250 250 125000 1000 18500"
    );
    assert_eq!(
        figures(&r, "Summa netto", Some("Norrmalm")),
        "276000 69000 44000 25000 176000 100000 19000"
    );
    // Östermalm has nothing: zeros, and no previous year's ledger for it is still a
    // ledger covering those months (zero, not missing).
    assert_eq!(
        figures(&r, "Summa netto", Some("Östermalm")),
        "0 0 0 0 0 0 0"
    );
    // The total is the sum of every ledger line of the report's districts in the period:
    // −500 + 10 000 + 20 000 + 3 000 + 11 000 + 250 + 12 000 − 1 500 + 21 000 = 75 250.
    assert_eq!(
        figures(&r, "Summa netto", None),
        "402000 100500 75250 25250 301000 101000 37500"
    );
    let total = budget_row(&r, "Summa netto", None);
    assert_eq!(total["group"], "netto");
    assert_eq!(total["kind"], "subtotal");
    assert_eq!(budget_row(&r, "Försäljning", None)["group"], "intakter");
    assert_eq!(
        budget_row(&r, "Summa kostnader", None)["group"],
        "Summa kostnader"
    );
    // One object per row (not headings) and scope: 15 lines × 4 scopes.
    assert_eq!(r.0["budget"].as_array().unwrap().len(), 15 * 4);

    // The workbook in tkr, rounded half away from zero only for display: 31 500 → 32,
    // 31 250 → 31, 250 → 0.
    let wb = run.whole();
    assert_eq!(
        block_row(&wb, "Budget", "Kungsholmen", "Summa netto"),
        [
            "s:Summa netto",
            "n:126",
            "n:32",
            "n:31",
            "n:19",
            "n:0",
            "n:125",
            "n:1"
        ]
    );
    assert_eq!(
        block_row(&wb, "Budget", "Totalt", "Summa intäkter"),
        [
            "s:Summa intäkter",
            "n:6",
            "n:2",
            "n:2",
            "n:0",
            "n:1",
            "n:8",
            "n:2"
        ]
    );
    // Kontroll lists the unclaimed account, where it was and what became of it.
    let kontroll = wb.sheet("Kontroll");
    assert!(kontroll.contains("s:8410"), "{kontroll}");
    assert!(kontroll.contains("= s:2019-02\n"), "{kontroll}");
    assert!(kontroll.contains("Ej i uppställningen"), "{kontroll}");
    assert!(
        kontroll.contains("huvudbok_2019-02_export_2019-03-20.csv ersätter"),
        "{kontroll}"
    );
    let warnings = r.0["diagnostics"]["warnings"].to_string();
    assert!(warnings.contains("Konto 8410"), "{warnings}");
}

#[test]
fn district_workbook_has_the_budget_sheets_of_its_district_only() {
    let case = case();
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    let name = run
        .files()
        .into_iter()
        .find(|f| f.ends_with("_Kungsholmen.xlsx"))
        .unwrap();
    let d = run.workbook(&name);
    for sheet in ["Budget", "Nyckeltal", "Månadsutfall"] {
        assert!(d.sheets.iter().any(|s| s == sheet), "{:?}", d.sheets);
    }
    assert_eq!(
        block_row(&d, "Budget", "Kungsholmen", "Försörjningsstöd")[3],
        "n:33"
    );
    assert!(d.grids["Budget"].iter().any(|r| r[0] == "s:Totalt"));
    // Nothing of another district anywhere, Kontroll's ledger lines included.
    let all = run.everything_of(&name);
    for other in ["Norrmalm", "Östermalm"] {
        assert!(!all.contains(other), "{other} in the Kungsholmen workbook");
    }
    assert!(all.contains("8410"));
}

#[test]
fn key_figures_and_monthly_outcome() {
    let case = case();
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    let wb = run.whole();
    // 2018 and 2019 side by side, same months (January–March).
    assert_eq!(
        block_row(
            &wb,
            "Nyckeltal",
            "Kungsholmen",
            "Antal biståndshushåll under perioden"
        ),
        [
            "s:Antal biståndshushåll under perioden",
            "s:st",
            "n:1",
            "n:1"
        ]
    );
    // Utbetalt 9 500 + 10 000 + 10 500 both years.
    assert_eq!(
        block_row(
            &wb,
            "Nyckeltal",
            "Kungsholmen",
            "Utbetalt ekonomiskt bistånd"
        )[2..],
        ["n:30000", "n:30000"]
    );
    // Ledger netto: 2018 18 500 → 19 tkr (18,5 half away), 2019 31 250 → 31 tkr.
    assert_eq!(
        block_row(&wb, "Nyckeltal", "Kungsholmen", "Netto enligt huvudboken")[2..],
        ["n:19", "n:31"]
    );
    assert_eq!(
        block_row(
            &wb,
            "Nyckeltal",
            "Kungsholmen",
            "Intäkter enligt huvudboken"
        )[2..],
        ["n:0", "n:2"]
    );
    // Månadsutfall: one household a month; paid 9 500 in January (→ 10 tkr, half away);
    // the month's budget for
    // Försörjningsstöd 132 000 ÷ 12 = 11 000 → 11 tkr; after March no outcome.
    assert_eq!(
        block_row(&wb, "Månadsutfall", "Kungsholmen", "januari")[..4],
        ["s:januari", "n:1", "n:10", "n:11"]
    );
    let april = block_row(&wb, "Månadsutfall", "Kungsholmen", "april");
    assert_eq!(april[1], "");
    assert_eq!(april[3], "n:11");
}

/// The chart parts of a written workbook.
fn chart_parts(path: &std::path::Path) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = String::from_utf8_lossy(f.name_raw()).into_owned();
        if name.starts_with("xl/charts/chart") {
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            out.push((name, s));
        }
    }
    out.sort();
    out
}

#[test]
fn charts_are_in_the_written_files() {
    let case = case();
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    for f in run.files().into_iter().filter(|f| f.ends_with(".xlsx")) {
        let charts = chart_parts(&run.path(&f));
        let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["xl/charts/chart1.xml", "xl/charts/chart2.xml"],
            "{f}"
        );
        assert!(charts[0].1.contains("<c:lineChart>"), "{f}");
        assert!(charts[1].1.contains("<c:barChart>"), "{f}");
        // Columns start from zero.
        assert!(charts[1].1.contains("<c:min val=\"0\"/>"), "{f}");
        // The series point at the Månadsutfall sheet's cells.
        assert!(charts[0].1.contains("Månadsutfall"), "{f}");
        assert!(charts[0].1.contains("!$B$"), "{f}");
    }
    let whole = run
        .files()
        .into_iter()
        .filter(|f| f.ends_with(".xlsx"))
        .min_by_key(|f| f.len())
        .unwrap();
    let line = &chart_parts(&run.path(&whole))[0].1;
    // One line per district in the whole workbook.
    for d in ["Kungsholmen", "Norrmalm", "Östermalm"] {
        assert!(line.contains(d), "{d} missing from the line chart");
    }
}

/// The 2007 plan's layout by Verksamhet: Socialbidrag 1800, Enheten för försörjningsstöd
/// 1810, Arbetsmarknad 1820, Summa försörjningsstöd, Gemensamt 1830, Anslag totalt, Diff
/// mot budgetramen.
const LAYOUT_2007: &str = r#"
fn budgetuppstallning() {
    #{
        rader: [
            #{ rad: "Socialbidrag", grupp: "verksamhet", verksamheter: ["1800"] },
            #{ rad: "Enheten för försörjningsstöd", grupp: "verksamhet", verksamheter: ["1810"] },
            #{ rad: "Arbetsmarknad", grupp: "verksamhet", verksamheter: [1820] },
            #{ summa: "Summa försörjningsstöd", rader: ["Socialbidrag", "Enheten för försörjningsstöd", "Arbetsmarknad"] },
            #{ rad: "Gemensamt", grupp: "verksamhet", verksamheter: ["1830-1839"] },
            #{ summa: "Anslag totalt", alla: true, grupp: "netto" },
            #{ skillnad: "Diff mot budgetramen", ram: #{ "Kungsholmen": 130000, "Norrmalm": 300000, "Totalt": 500000 }, mot: "Anslag totalt" },
        ],
    }
}
fn budget_perioden(b) { b.budget_helar * b.manader / 12 }
fn prognos_helar(b) { b.utfall * 12 / b.manader }
"#;

#[test]
fn verksamhet_based_layout_from_a_test_rule_pack() {
    let case = case().rule("budget.rhai", LAYOUT_2007);
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    let r = run.json();
    // 1810: −500 + 10 000 + 11 000 + 250 + 12 000 = 32 750 (8410 is claimed by Verksamhet
    // here); 1820: −1 500.
    assert_eq!(
        budget_row(&r, "Enheten för försörjningsstöd", Some("Kungsholmen"))["outcome_period"],
        32750
    );
    assert_eq!(
        figures(&r, "Summa försörjningsstöd", Some("Kungsholmen")),
        "126000 31500 31250 250 125000 1000 18500"
    );
    assert_eq!(
        budget_row(&r, "Summa försörjningsstöd", None)["group"],
        "Summa försörjningsstöd"
    );
    assert_eq!(
        budget_row(&r, "Anslag totalt", Some("Norrmalm"))["outcome_period"],
        44000
    );
    // Ram 130 000 − budget 126 000; periodised ram 32 500 − outcome 31 250.
    let diff = budget_row(&r, "Diff mot budgetramen", Some("Kungsholmen"));
    assert_eq!(diff["budget_year"], 4000);
    assert_eq!(diff["outcome_period"], 1250);
    assert_eq!(diff["kind"], "difference");
    assert_eq!(
        budget_row(&r, "Diff mot budgetramen", None)["budget_year"],
        98000
    );
    assert!(budget_row(&r, "Diff mot budgetramen", Some("Östermalm"))["budget_year"].is_null());
    // Every line is claimed: no "Ej i uppställningen" line.
    assert!(
        !r.0["budget"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["row"] == "Ej i uppställningen")
    );
    let wb = run.whole();
    let labels: Vec<String> = wb.grids["Budget"]
        .iter()
        .map(|r| r[0].clone())
        .skip_while(|c| c != "s:Kungsholmen")
        .take(8)
        .collect();
    assert_eq!(
        labels,
        [
            "s:Kungsholmen",
            "s:Socialbidrag",
            "s:Enheten för försörjningsstöd",
            "s:Arbetsmarknad",
            "s:Summa försörjningsstöd",
            "s:Gemensamt",
            "s:Anslag totalt",
            "s:Diff mot budgetramen"
        ]
    );
}

#[test]
fn a_failing_forecast_rule_is_a_located_rule_error_and_the_rest_is_produced() {
    let text = crate::harness::default_rule("budget.rhai").replace(
        "fn prognos_helar(b) {\n",
        "fn prognos_helar(b) {\n    if b.rad == \"Försörjningsstöd\" { throw \"ingen prognos\"; }\n",
    );
    let line = text
        .lines()
        .position(|l| l.contains("ingen prognos"))
        .unwrap()
        + 1;
    let case = case().rule("budget.rhai", &text);
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("rules/budget.rhai:{line}:")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ingen prognos"));
    let r = run.json();
    let f = budget_row(&r, "Försörjningsstöd", Some("Kungsholmen"));
    assert!(f["forecast_year"].is_null());
    assert_eq!(f["outcome_period"], 33000);
    assert!(budget_row(&r, "Summa netto", None)["forecast_year"].is_null());
    assert_eq!(
        budget_row(&r, "Taxor och avgifter", None)["forecast_year"],
        2000
    );
    assert_eq!(r.status("utbetalt", None), "ingen_malsattning");
    let wb = run.whole();
    assert_eq!(
        block_row(&wb, "Budget", "Kungsholmen", "Försörjningsstöd")[6],
        "s:fel"
    );
}

#[test]
fn a_broken_layout_is_a_rule_error_and_the_indicators_are_still_produced() {
    let case = case().rule(
        "budget.rhai",
        "fn budgetuppstallning() {\n    #{ rader: [ #{ rad: \"X\", konton: [\"4000-4999\"] } ] }\n}\n",
    );
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("rules/budget.rhai:1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("grupp"), "{}", run.stderr);
    let r = run.json();
    assert_eq!(r.0["budget"], serde_json::json!([]));
    assert_eq!(r.result("utbetalt", None)["value"], 90000);
}

#[test]
fn golden_budget_and_key_figures() {
    let case = case();
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    let wb = run.whole();
    golden("budget_2019-03.txt", &wb.sheet("Budget"));
    golden("nyckeltal_2019-03.txt", &wb.sheet("Nyckeltal"));
}

#[test]
fn ledger_lines_of_a_district_outside_the_report_are_listed_not_counted() {
    // Without a district list the report's districts are those paid in: Vasastan's ledger
    // line is outside the report, so it is listed in Kontroll and not in any total.
    let rapport = crate::harness::default_rule("rapport.rhai")
        .lines()
        .filter(|l| !l.contains("stadsdelar:"))
        .collect::<Vec<_>>()
        .join("\n");
    // March again, with Vasastan's line (one file per month: a second March file would be
    // a re-export replacing this one).
    let case = case().rule("rapport.rhai", &rapport).csv(
        "huvudbok_2019-03.csv",
        "Period;Ansvar;Verksamhet;Konto;Belopp\n2019-03;Kungsholmen;1810;4710;12000\n\
         2019-03;Kungsholmen;1820;3610;-1500\n2019-03;Norrmalm;1810;4710;21000\n\
         2019-03;Vasastan;1810;4710;7777\n",
    );
    let run = case.run(&["run", "--period", "2019-03"]);
    run.expect_code(0);
    let r = run.json();
    assert_eq!(
        r.0["districts"],
        serde_json::json!(["Kungsholmen", "Norrmalm"])
    );
    assert_eq!(budget_row(&r, "Summa netto", None)["outcome_period"], 75250);
    let kontroll = run.whole().sheet("Kontroll");
    assert!(kontroll.contains("s:Vasastan"), "{kontroll}");
    assert!(kontroll.contains("ej medräknad"), "{kontroll}");
    assert!(
        !run.everything_of(
            &run.files()
                .into_iter()
                .find(|f| f.ends_with("_Kungsholmen.xlsx"))
                .unwrap()
        )
        .contains("Vasastan")
    );
}
