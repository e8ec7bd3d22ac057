//! Datasets declared in the rule pack: the Socialstyrelsen pack (`packs/socialstyrelsen`)
//! on the six real exports in `../shared/realdata/socialstyrelsen/` (read in place, never
//! copied into the repository), checked against figures computed here from the raw files;
//! extra aliases for a standard dataset; a malformed declaration located in its file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::harness::{CRATE, Case, UTB};

const DATA: &str = "../shared/realdata/socialstyrelsen";
const PACK: &str = "packs/socialstyrelsen";

use utfall::model::MONTH_NAMES_SV as MONTHS;

/// One published month: households and tkr, and the export it was taken from.
#[derive(Clone, Debug)]
struct Published {
    households: Decimal,
    tkr: Decimal,
    export: String,
}

fn number(d: &Data) -> Option<Decimal> {
    match d {
        Data::Int(i) => Some(Decimal::from(*i)),
        Data::Float(f) => Decimal::try_from(*f).ok(),
        Data::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The export date in a file name `…YYYY_MM_DD.xlsx`, as `YYYYMMDD`.
fn export_date(name: &str) -> String {
    let stem = name.trim_end_matches(".xlsx");
    stem[stem.len() - 10..].replace('_', "")
}

/// Every export of `dir`, oldest first, read independently of utfall: per (year, month) the
/// values of the newest export that publishes them.
fn newest_per_month(dir: &Path) -> BTreeMap<(i32, u32), Published> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xlsx"))
        .collect();
    files.sort_by_key(|p| export_date(&p.file_name().unwrap().to_string_lossy()));
    let mut out = BTreeMap::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut wb = open_workbook_auto(&path).unwrap();
        let sheet = wb.sheet_names()[0].clone();
        let range = wb.worksheet_range(&sheet).unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        // Row 1 is the title, row 2 the header.
        assert_eq!(rows[1][0], Data::String("År".into()), "{name}");
        assert_eq!(rows[1][1], Data::String("Månad".into()), "{name}");
        for r in &rows[2..] {
            let year: i32 = r[0].to_string().trim().parse().unwrap();
            let month = MONTHS
                .iter()
                .position(|m| m.eq_ignore_ascii_case(r[1].to_string().trim()))
                .unwrap() as u32
                + 1;
            if let (Some(households), Some(tkr)) = (number(&r[2]), number(&r[3])) {
                out.insert(
                    (year, month),
                    Published {
                        households,
                        tkr,
                        export: name.clone(),
                    },
                );
            }
        }
    }
    out
}

/// (Σ households, Σ tkr, months) of one year.
fn year_sums(data: &BTreeMap<(i32, u32), Published>, year: i32) -> (Decimal, Decimal, usize) {
    let months: Vec<&Published> = data.range((year, 1)..=(year, 12)).map(|(_, p)| p).collect();
    (
        months.iter().map(|p| p.households).sum(),
        months.iter().map(|p| p.tkr).sum(),
        months.len(),
    )
}

fn value(v: &Value) -> Decimal {
    v.to_string().parse().unwrap()
}

fn assert_close(got: &Value, expected: Decimal, what: &str) {
    let diff = (value(got) - expected).abs();
    assert!(
        diff < Decimal::new(1, 6),
        "{what}: utfall gives {got}, the raw files {expected}"
    );
}

fn run_pack(case: &Case, input: &str, period: Option<&str>) -> crate::harness::Run {
    let out = case.output_dir().display().to_string();
    let mut args = vec![
        "run", "-q", "--input", input, "--rules", PACK, "--output", &out,
    ];
    if let Some(p) = period {
        args.extend(["--period", p]);
    }
    case.run_raw(&args)
}

#[test]
fn socialstyrelsen_years_equal_the_newest_export_of_each_month() {
    let data = newest_per_month(&Path::new(CRATE).join(DATA));
    // 2016-12 is "--" in every export: that year has 11 published months.
    for (year, months) in [(2014, 12), (2016, 11), (2023, 12), (2024, 12)] {
        let case = Case::new();
        case.clear_output();
        let run = run_pack(&case, DATA, Some(&year.to_string()));
        run.expect_code(0);
        let report = run.json();
        let (households, tkr, n) = year_sums(&data, year);
        assert_eq!(n, months, "{year}");
        let r = |id: &str| report.result(id, None).clone();
        assert_eq!(value(&r("manader")["value"]), Decimal::from(n), "{year}");
        assert_close(
            &r("hushall_snitt")["value"],
            households / Decimal::from(n),
            &format!("hushall_snitt {year}"),
        );
        assert_close(
            &r("utbetalt")["value"],
            tkr * Decimal::ONE_THOUSAND,
            &format!("utbetalt {year}"),
        );
        assert_close(
            &r("utbetalt_per_hushall")["value"],
            tkr * Decimal::ONE_THOUSAND / households,
            &format!("utbetalt_per_hushall {year}"),
        );
    }
    // The figures, as read off the files by hand once.
    assert_eq!(year_sums(&data, 2024).0, Decimal::from(36079));
    assert_eq!(year_sums(&data, 2024).1, Decimal::from(344866));
    // 2024's late months come from the exports that first published them.
    assert_eq!(data[&(2024, 12)].export, "Socialstyrelsen_2025_01_31.xlsx");
    assert_eq!(data[&(2024, 9)].export, "Socialstyrelsen_2025_01_31.xlsx");
}

#[test]
fn socialstyrelsen_without_period_reports_the_latest_published_month() {
    let case = Case::new();
    let run = run_pack(&case, DATA, None);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report.0["period"], "2024-12", "{}", run.stderr);
    // No district column: only the total, no district workbooks.
    assert_eq!(report.0["districts"], serde_json::json!([]));
    let xlsx: Vec<String> = run
        .files()
        .into_iter()
        .filter(|f| f.ends_with(".xlsx"))
        .collect();
    assert_eq!(xlsx, ["Socialstyrelsen_ekonomiskt_bistand_2024-12.xlsx"]);
}

/// Only the exports of 2024-05-08 and 2024-10-16 (copied into a temp folder): 2024 is
/// January–August from the later one, the `--` months are not published, none is counted
/// twice, and the default period is the last published month.
#[test]
fn socialstyrelsen_older_exports_give_only_the_months_they_publish() {
    let case = Case::new();
    for name in [
        "Socialstyrelsen_2024_05_08.xlsx",
        "Socialstyrelsen 2024_10_16.xlsx",
    ] {
        std::fs::copy(
            Path::new(CRATE).join(DATA).join(name),
            case.input_dir().join(name),
        )
        .unwrap();
    }
    let data = newest_per_month(&case.input_dir());
    let (households, tkr, n) = year_sums(&data, 2024);
    assert_eq!(n, 8);
    assert!(
        data.range((2024, 1)..=(2024, 8))
            .all(|(_, p)| p.export == "Socialstyrelsen 2024_10_16.xlsx")
    );
    let input = case.input_dir().display().to_string();
    let run = run_pack(&case, &input, None);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(report.0["period"], "2024-08");
    assert_eq!(
        value(&report.result("manader", None)["value"]),
        Decimal::from(8)
    );
    assert_close(
        &report.result("utbetalt", None)["value"],
        tkr * Decimal::ONE_THOUSAND,
        "utbetalt 2024-08",
    );
    assert_close(
        &report.result("hushall_snitt", None)["value"],
        households / Decimal::from(8),
        "hushall_snitt 2024-08",
    );
}

#[test]
fn check_lists_the_declared_dataset() {
    let case = Case::new();
    let run = case.run_raw(&["check", "--input", DATA, "--rules", PACK]);
    run.expect_code(0);
    let out = &run.stdout;
    assert!(
        out.contains("  socialstyrelsen: 6 filer, 131 rader, 2014-01–2016-11, 2017-01–2024-12"),
        "{out}"
    );
    assert!(
        out.contains("socialstyrelsen 2017-01–2024-10: Socialstyrelsen_2025_01_31.xlsx ersätter Socialstyrelsen_2024_12_03.xlsx (94 rader)"),
        "{out}"
    );
    assert!(out.contains("Regelfel:\n  inga"), "{out}");
}

/// A copy of the Socialstyrelsen pack with `datamangder.rhai` replaced.
fn pack_with(case: &Case, datamangder: &str) -> String {
    let dir = case.input_dir().parent().unwrap().join("pack");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(Path::new(CRATE).join(PACK)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("datamangder.rhai"), datamangder).unwrap();
    dir.display().to_string()
}

#[test]
fn a_malformed_dataset_declaration_is_reported_at_its_line() {
    let case = Case::new();
    let pack = pack_with(
        &case,
        "fn datamangder() {\n    [\n        #{\n            namn: \"socialstyrelsen\",\n            kolumner: [ #{ namn: \"Ar\", alias: [\"År\"], typ: \"årtal\", kravs: true } ],\n        },\n    ]\n}\n",
    );
    let run = case.run_raw(&["check", "--input", DATA, "--rules", &pack]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "datamangder.rhai:5:34: dataset #1 \"socialstyrelsen\": column #1: column \"Ar\": typ \"årtal\" is not one of text, id, tal, heltal, manad, datum, janej, manadsnamn"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_pack_adds_a_header_alias_to_a_standard_dataset() {
    let header = UTB.replace("Belopp", "Summa utbetalt");
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{header}\n2019-01;Kungsholmen;A;1000;1;0;0;;\n2019-01;Norrmalm;B;500;1;0;0;;\n"),
        )
        .rule(
            "datamangder.rhai",
            r#"fn datamangder() { [ #{ namn: "utbetalningar", alias: #{ "Belopp": ["Summa utbetalt"] } } ] }"#,
        );
    let run = case.run(&["run"]);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report.0["period"], "2019-01");
    assert_eq!(
        value(&report.result("utbetalt", None)["value"]),
        Decimal::from(1500)
    );
}
