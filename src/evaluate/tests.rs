//! Hand-computed fixtures for the default rule pack, on tables built in memory (the
//! integration tests run the same definitions through real files).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::prepare::{HouseholdIdentity, prepare};
use super::*;
use crate::model::{
    ColumnData, ColumnKind, DatasetSpec, Date, FileId, Interner, Month, RowOrigin, Table,
};
use crate::rules::pack::{indicators, report_settings, targets};
use crate::rules::{Limits, RulePack};

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn spec(name: &str, cols: &[(&str, ColumnKind)]) -> Arc<DatasetSpec> {
    Arc::new(DatasetSpec::of(name, cols))
}

/// A cell of a fixture row.
enum V<'a> {
    T(&'a str),
    N(&'a str),
    I(i64),
    M(i32, u32),
    D(i32, u32, u32),
    B(bool),
    E,
}

fn table(interner: &mut Interner, spec: Arc<DatasetSpec>, rows: &[Vec<V>]) -> Table {
    let mut t = Table::new(spec);
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            match (&mut t.columns[c], v) {
                (ColumnData::Text(col), V::T(s)) => col.push(Some(interner.intern(s))),
                (ColumnData::Text(col), V::E) => col.push(None),
                (ColumnData::Number(col), V::N(s)) => col.push(Some(dec(s))),
                (ColumnData::Number(col), V::E) => col.push(None),
                (ColumnData::Integer(col), V::I(i)) => col.push(Some(*i)),
                (ColumnData::Integer(col), V::E) => col.push(None),
                (ColumnData::Month(col), V::M(y, m)) => col.push(Month::new(*y, *m)),
                (ColumnData::Date(col), V::D(y, m, d)) => col.push(Date::new(*y, *m, *d)),
                (ColumnData::Date(col), V::E) => col.push(None),
                (ColumnData::Bool(col), V::B(b)) => col.push(Some(*b)),
                _ => panic!("fixture cell {r}/{c} does not fit its column"),
            }
        }
        t.origin.push(RowOrigin {
            file: FileId(0),
            row: r as u32 + 2,
        });
    }
    t
}

fn payments_spec() -> Arc<DatasetSpec> {
    use ColumnKind::*;
    spec(
        "utbetalningar",
        &[
            ("Period", Month),
            ("Stadsdel", Text),
            ("HushallsID", Id),
            ("Belopp", Number),
            ("AntalVuxna", Integer),
            ("AntalBarn", Integer),
            ("AntalUnga18_24", Integer),
            ("Forsorjningshinder", Text),
            ("AktuellJobbtorg", YesNo),
        ],
    )
}

fn pay<'a>(
    m: u32,
    d: &'a str,
    h: &'a str,
    amount: &'a str,
    adults: i64,
    children: i64,
) -> Vec<V<'a>> {
    vec![
        V::M(2019, m),
        V::T(d),
        V::T(h),
        V::N(amount),
        V::I(adults),
        V::I(children),
        V::I(0),
        V::T("Sjukdom"),
        V::B(false),
    ]
}

fn shipped_pack() -> RulePack {
    RulePack::load(Path::new("rules"), Limits::default()).unwrap()
}

struct Run {
    outcome: EvalOutcome,
}

impl Run {
    fn get(&self, id: &str, district: Option<&str>) -> &IndicatorResult {
        let e = &self.outcome.evaluation;
        let i = e.indicators.iter().position(|d| d.id == id).unwrap();
        let d = district.map(|n| e.districts.iter().position(|x| x == n).unwrap());
        e.result(i, d).unwrap()
    }

    fn value(&self, id: &str, district: Option<&str>) -> Option<Decimal> {
        self.get(id, district).current.value
    }
}

fn run(tables: Vec<Table>, interner: Interner, period: &str) -> Run {
    let pack = shipped_pack();
    assert!(pack.errors.is_empty(), "{:?}", pack.errors);
    let (mut settings, e) = report_settings(&pack);
    assert!(e.is_none());
    settings.districts = None; // use the districts present in the fixture
    let (specs, errs) = indicators(&pack);
    assert!(errs.is_empty(), "{errs:?}");
    let t = targets(&pack);
    let map: BTreeMap<String, Table> = tables
        .into_iter()
        .map(|t| (t.spec.name.clone(), t))
        .collect();
    let data = Arc::new(prepare(
        interner,
        map,
        None,
        [
            "utbetalningar",
            "befolkning",
            "avslut",
            "insatser",
            "avhysningar",
            "manuella_utfall",
        ]
        .map(String::from)
        .to_vec(),
        None,
        HouseholdIdentity::Global,
    ));
    let outcome = evaluate(
        data,
        &pack,
        &settings,
        &specs,
        &t,
        crate::model::Period::parse(period).unwrap(),
    );
    assert!(outcome.rule_errors.is_empty(), "{:?}", outcome.rule_errors);
    Run { outcome }
}

fn population(i: &mut Interner) -> Table {
    use ColumnKind::*;
    let s = spec(
        "befolkning",
        &[
            ("Ar", Integer),
            ("Stadsdel", Text),
            ("Folkmangd", Number),
            ("Barn0_17", Number),
            ("Unga18_24", Number),
            ("Vuxna18plus", Number),
        ],
    );
    table(
        i,
        s,
        &[
            vec![
                V::I(2018),
                V::T("A"),
                V::N("1000"),
                V::N("200"),
                V::N("100"),
                V::N("800"),
            ],
            vec![
                V::I(2018),
                V::T("B"),
                V::N("3000"),
                V::N("600"),
                V::N("300"),
                V::N("2400"),
            ],
        ],
    )
}

#[test]
fn household_counts_use_net_amounts_and_the_total_is_a_union() {
    let mut i = Interner::default();
    let p = table(
        &mut i,
        payments_spec(),
        &[
            // h1 in A: January and February (two rows in February)
            pay(1, "A", "h1", "1000", 1, 2),
            pay(2, "A", "h1", "600", 1, 2),
            pay(2, "A", "h1", "400", 2, 1),
            // h2 in A: January nets to zero (a correction), so not active
            pay(1, "A", "h2", "500", 1, 0),
            pay(1, "A", "h2", "-500", 1, 0),
            // h3 moves: A in January, B in February
            pay(1, "A", "h3", "300", 1, 0),
            pay(2, "B", "h3", "700", 1, 0),
            // a lone återkrav in B counts in utbetalt only
            pay(2, "B", "h4", "-100", 1, 0),
        ],
    );
    let pop = population(&mut i);
    let r = run(vec![p, pop], i, "2019-02");
    // A: Jan {h1,h3}, Feb {h1} → 3 household-months, 2 households
    assert_eq!(r.value("bidragsmanader", Some("A")), Some(dec("3")));
    assert_eq!(r.value("hushall_unika", Some("A")), Some(dec("2")));
    assert_eq!(r.value("hushall_snitt", Some("A")), Some(dec("1.5")));
    assert_eq!(r.value("utbetalt", Some("A")), Some(dec("2300")));
    // B: Feb {h3}; utbetalt 700 − 100
    assert_eq!(r.value("bidragsmanader", Some("B")), Some(dec("1")));
    assert_eq!(r.value("utbetalt", Some("B")), Some(dec("600")));
    // Total: Jan {h1,h3}, Feb {h1,h3} → 4 months, 2 households (h3 once)
    assert_eq!(r.value("bidragsmanader", None), Some(dec("4")));
    assert_eq!(r.value("hushall_unika", None), Some(dec("2")));
    assert_eq!(r.value("bidragstid", None), Some(dec("2")));
    assert_eq!(r.value("utbetalt", None), Some(dec("2900")));
    // medelbidrag = utbetalt ÷ bidragsmanader = 2900 / 4
    assert_eq!(r.value("medelbidrag", None), Some(dec("725")));
    let m = r.get("medelbidrag", None);
    assert_eq!(
        (m.current.numerator, m.current.denominator),
        (Some(dec("2900")), Some(dec("4")))
    );
    // Persons: A Jan h1 3 + h3 1, Feb h1 max(1,2)+max(2,1) = 4 → (4 + 4) / 2 / 1000 × 100
    assert_eq!(r.value("andel_befolkning", Some("A")), Some(dec("0.4")));
    // Largest persons per household over P: h1 4, h3 1 → 5 / 1000 × 100
    assert_eq!(r.value("andel_befolkning_ar", Some("A")), Some(dec("0.5")));
    // Children: A Jan 2 + Feb 2 → 2 per month / 200 × 100 = 1
    assert_eq!(r.value("andel_barn", Some("A")), Some(dec("1")));
    // Total population is the sum over districts: children (2+0)+(2+0) per 2 months / 800
    assert_eq!(r.value("andel_barn", None), Some(dec("0.25")));
}

#[test]
fn long_term_needs_ten_of_twelve_months_and_a_full_window() {
    let mut i = Interner::default();
    let mut rows = Vec::new();
    // 2018-04 .. 2019-03 is the window for a 2019-03 report; data starts 2018-04.
    let months: Vec<(i32, u32)> = (4..=12)
        .map(|m| (2018, m))
        .chain((1..=3).map(|m| (2019, m)))
        .collect();
    for (n, (y, m)) in months.iter().enumerate() {
        // h10 active 10 of 12 months (skips the first two); h9 active 9 (skips three)
        let mk = |h: &'static str, adults: i64| -> Vec<V<'static>> {
            vec![
                V::M(*y, *m),
                V::T("A"),
                V::T(h),
                V::N("100"),
                V::I(adults),
                V::I(0),
                V::I(0),
                V::T("Sjukdom"),
                V::B(false),
            ]
        };
        if n >= 2 {
            rows.push(mk("h10", if n == 5 { 2 } else { 1 }));
        }
        if n >= 3 {
            rows.push(mk("h9", 1));
        }
        if n < 2 {
            rows.push(mk("h2", 1)); // makes the data start with the window
        }
    }
    let p = table(&mut i, payments_spec(), &rows);
    let pop = population(&mut i);
    let r = run(vec![p, pop], i, "2019-03");
    // Only h10 qualifies, with its largest AntalVuxna 2 → 2 / 800 × 100
    assert_eq!(r.value("andel_langvarigt", Some("A")), Some(dec("0.25")));
    let f = &r.get("andel_langvarigt", Some("A")).current;
    assert_eq!(
        (f.numerator, f.denominator),
        (Some(dec("2")), Some(dec("800")))
    );
    // A 2019-02 report's window starts 2018-03, before the data: saknas, never 0
    let mut i2 = Interner::default();
    let p2 = table(&mut i2, payments_spec(), &rows);
    let pop2 = population(&mut i2);
    let r2 = run(vec![p2, pop2], i2, "2019-02");
    assert_eq!(r2.value("andel_langvarigt", Some("A")), None);
    assert_eq!(
        r2.get("andel_langvarigt", Some("A")).status,
        Status::Missing
    );
}

#[test]
fn jobbtorg_is_a_snapshot_of_the_last_month() {
    let mut i = Interner::default();
    let row = |m: u32, h: &'static str, reason: &'static str, jt: bool| -> Vec<V<'static>> {
        vec![
            V::M(2019, m),
            V::T("A"),
            V::T(h),
            V::N("100"),
            V::I(1),
            V::I(0),
            V::I(0),
            V::T(reason),
            V::B(jt),
        ]
    };
    let p = table(
        &mut i,
        payments_spec(),
        &[
            row(1, "h1", "Arbetslöshet", false), // January does not count
            row(2, "h1", "Arbetslöshet", true),
            row(2, "h2", "arbetslöshet", false),
            row(2, "h3", "Sjukdom", true),
            // h4: one row says Arbetslöshet, another Jobbtorg = Ja → both hold
            row(2, "h4", "Sjukdom", true),
            row(2, "h4", "Arbetslöshet", false),
        ],
    );
    let r = run(vec![p], i, "2019-02");
    // Unemployed in February: h1, h2, h4; on Jobbtorg: h1, h4 → 2/3
    let f = &r.get("andel_jobbtorg", Some("A")).current;
    assert_eq!(
        (f.numerator, f.denominator),
        (Some(dec("2")), Some(dec("3")))
    );
    // Without population every share is missing, with a warning
    assert_eq!(r.value("andel_barn", Some("A")), None);
    assert!(
        r.outcome
            .warnings
            .iter()
            .any(|w| matches!(w, EvalWarning::NoPopulation { .. }))
    );
    assert!(
        !r.outcome
            .warnings
            .iter()
            .any(|w| matches!(w, EvalWarning::MonthWithoutPayments { .. }))
    );
}

#[test]
fn closures_evictions_and_rehabilitation_follow_the_definitions() {
    use ColumnKind::*;
    let mut i = Interner::default();
    let p = table(
        &mut i,
        payments_spec(),
        &[
            pay(1, "A", "h1", "100", 1, 0),
            pay(6, "A", "h1", "100", 1, 0),
        ],
    );
    let avslut = table(
        &mut i,
        spec(
            "avslut",
            &[
                ("Datum", Date),
                ("Stadsdel", Text),
                ("HushallsID", Id),
                ("Avslutsorsak", Text),
            ],
        ),
        &[
            vec![V::D(2019, 1, 15), V::T("A"), V::T("x1"), V::T("Arbete")],
            vec![V::D(2019, 5, 2), V::T("A"), V::T("x2"), V::T("arbete")],
            vec![V::D(2019, 6, 30), V::T("A"), V::T("x3"), V::T("Studier")],
            vec![V::D(2019, 7, 1), V::T("A"), V::T("x4"), V::T("Arbete")], // after P
            vec![V::D(2018, 6, 1), V::T("A"), V::T("x5"), V::T("Arbete")], // previous year
        ],
    );
    let evictions = table(
        &mut i,
        spec(
            "avhysningar",
            &[
                ("Datum", Date),
                ("Stadsdel", Text),
                ("ArendeID", Id),
                ("BarnBerorda", YesNo),
                ("Avvarjd", YesNo),
            ],
        ),
        &[
            vec![
                V::D(2019, 2, 1),
                V::T("A"),
                V::T("e1"),
                V::B(true),
                V::B(true),
            ],
            vec![
                V::D(2019, 3, 1),
                V::T("A"),
                V::T("e2"),
                V::B(true),
                V::B(false),
            ],
            vec![
                V::D(2019, 4, 1),
                V::T("A"),
                V::T("e3"),
                V::B(false),
                V::B(false),
            ],
            vec![
                V::D(2019, 5, 1),
                V::T("A"),
                V::T("e4"),
                V::B(false),
                V::B(true),
            ],
        ],
    );
    let measures = table(
        &mut i,
        spec(
            "insatser",
            &[
                ("PersonID", Id),
                ("Stadsdel", Text),
                ("Insats", Text),
                ("Startdatum", Date),
                ("Slutdatum", Date),
                ("Resultat", Text),
            ],
        ),
        &[
            // ended in P to own support
            vec![
                V::T("p1"),
                V::T("A"),
                V::T("Arbetslivsinriktad rehabilitering"),
                V::D(2018, 9, 1),
                V::D(2019, 3, 1),
                V::T("Egen försörjning"),
            ],
            // ended in P to other support
            vec![
                V::T("p2"),
                V::T("A"),
                V::T("Arbetslivsinriktad rehabilitering"),
                V::D(2019, 1, 1),
                V::D(2019, 4, 1),
                V::T("Annan försörjning"),
            ],
            // ended in P, interrupted
            vec![
                V::T("p3"),
                V::T("A"),
                V::T("Arbetslivsinriktad rehabilitering"),
                V::D(2019, 1, 1),
                V::D(2019, 5, 1),
                V::T("Avbrutet"),
            ],
            // ongoing at the period's end (no end date, and one ending after P)
            vec![
                V::T("p4"),
                V::T("A"),
                V::T("Arbetslivsinriktad rehabilitering"),
                V::D(2019, 2, 1),
                V::E,
                V::E,
            ],
            vec![
                V::T("p5"),
                V::T("A"),
                V::T("Arbetslivsinriktad rehabilitering"),
                V::D(2019, 2, 1),
                V::D(2019, 9, 1),
                V::T("Egen försörjning"),
            ],
            // started after P: neither
            vec![
                V::T("p6"),
                V::T("A"),
                V::T("Arbetslivsinriktad rehabilitering"),
                V::D(2019, 7, 1),
                V::E,
                V::E,
            ],
            // another measure
            vec![
                V::T("p7"),
                V::T("A"),
                V::T("Jobbtorg"),
                V::D(2019, 1, 1),
                V::D(2019, 2, 1),
                V::T("Egen försörjning"),
            ],
        ],
    );
    let r = run(vec![p, avslut, evictions, measures], i, "2019-06");
    assert_eq!(r.value("avslutade", Some("A")), Some(dec("3")));
    let f = &r.get("andel_avslutade_arbete", Some("A")).current;
    assert_eq!(
        (f.numerator, f.denominator),
        (Some(dec("2")), Some(dec("3")))
    );
    assert_eq!(r.get("avslutade", Some("A")).previous.value, Some(dec("1")));
    let f = &r.get("andel_avhysningar_avvarjda", Some("A")).current;
    assert_eq!(
        (f.numerator, f.denominator, f.value),
        (Some(dec("2")), Some(dec("4")), Some(dec("50")))
    );
    assert_eq!(r.value("vrakningar_barn", Some("A")), Some(dec("1")));
    // rehab: 2 to support ÷ (3 ended + 2 ongoing) = 40 %
    let f = &r.get("andel_rehab_egen_forsorjning", Some("A")).current;
    assert_eq!(
        (f.numerator, f.denominator, f.value),
        (Some(dec("2")), Some(dec("5")), Some(dec("40")))
    );
    // vrakningar_barn 2019 target 0, outcome 1 → ej; rehab target 25 higher is better → helt
    assert_eq!(r.get("vrakningar_barn", Some("A")).status, Status::NotMet);
    assert_eq!(
        r.get("andel_rehab_egen_forsorjning", Some("A")).status,
        Status::Met
    );
    // avhysningar 50 vs 75 (higher is better; 75 × 0,9 = 67,5) → ej
    assert_eq!(
        r.get("andel_avhysningar_avvarjda", Some("A")).status,
        Status::NotMet
    );
}

#[test]
fn manual_outcomes_and_comments_come_from_manuella_utfall() {
    use ColumnKind::*;
    let mut i = Interner::default();
    let p = table(&mut i, payments_spec(), &[pay(12, "A", "h1", "100", 1, 0)]);
    let manual = table(
        &mut i,
        spec(
            "manuella_utfall",
            &[
                ("Indikator", Text),
                ("Period", Text),
                ("Stadsdel", Text),
                ("Utfall", Number),
                ("Kommentar", Text),
            ],
        ),
        &[
            vec![
                V::T("sjukfranvaro"),
                V::T("2019"),
                V::E,
                V::N("6.6"),
                V::T("Hög korttidsfrånvaro"),
            ],
            vec![
                V::T("Sjukfrånvaro"),
                V::T("2019"),
                V::T("A"),
                V::N("6.4"),
                V::E,
            ],
            vec![V::T("sommarjobb"), V::T("2019"), V::E, V::N("350"), V::E],
            vec![V::T("sommarjobb"), V::T("2018"), V::E, V::N("330"), V::E],
        ],
    );
    let r = run(vec![p, manual], i, "2019");
    let s = r.get("sjukfranvaro", None);
    assert_eq!(s.current.value, Some(dec("6.6")));
    assert_eq!(s.comment.as_deref(), Some("Hög korttidsfrånvaro"));
    // 6,6 vs 6 lower is better: 6,6 ≤ 6,6 → delvis
    assert_eq!(s.status, Status::PartlyMet);
    // matched by the indicator's name
    assert_eq!(r.value("sjukfranvaro", Some("A")), Some(dec("6.4")));
    let j = r.get("sommarjobb", None);
    assert_eq!(
        (j.current.value, j.previous.value),
        (Some(dec("350")), Some(dec("330")))
    );
    assert_eq!(j.status, Status::Met);
}

#[test]
fn targets_decrease_and_rounding_decide_the_status() {
    let mut i = Interner::default();
    // 2018: 2 households a month; 2019: 1 a month → hushall_snitt "minska" met
    let mut rows = Vec::new();
    for m in 1..=12 {
        rows.push(vec![
            V::M(2018, m),
            V::T("A"),
            V::T("h1"),
            V::N("1"),
            V::I(1),
            V::I(0),
            V::I(0),
            V::T("x"),
            V::B(false),
        ]);
        rows.push(vec![
            V::M(2018, m),
            V::T("A"),
            V::T("h2"),
            V::N("1"),
            V::I(1),
            V::I(0),
            V::I(0),
            V::T("x"),
            V::B(false),
        ]);
        rows.push(vec![
            V::M(2019, m),
            V::T("A"),
            V::T("h1"),
            V::N("1"),
            V::I(1),
            V::I(0),
            V::I(0),
            V::T("x"),
            V::B(false),
        ]);
    }
    let p = table(&mut i, payments_spec(), &rows);
    let r = run(vec![p], i, "2019");
    let h = r.get("hushall_snitt", Some("A"));
    assert_eq!(
        (h.current.value, h.previous.value),
        (Some(dec("1")), Some(dec("2")))
    );
    assert_eq!(h.target, Some(Target::Decrease));
    assert_eq!(h.status, Status::Met);
    // no target for bidragsmanader
    assert_eq!(r.get("bidragsmanader", None).status, Status::NoTarget);
}

/// The README's "Add an indicator" example, taken from the README itself, added to the
/// shipped pack: it must compile and compute what the README says.
#[test]
fn readme_worked_example_adds_an_indicator() {
    let readme = include_str!("../../README.md");
    let declaration = readme
        .lines()
        .find(|l| l.contains("id: \"andel_hushall_med_barn\""))
        .unwrap()
        .trim();
    let start = readme.find("fn andel_hushall_med_barn(u)").unwrap();
    let end = start + readme[start..].find("\n   }").unwrap() + 5;
    let function: String = readme[start..end]
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let mut sources = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("rules")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    for path in files {
        let display = format!("rules/{}", path.file_name().unwrap().to_string_lossy());
        let mut text = std::fs::read_to_string(&path).unwrap();
        if display == "rules/indikatorer.rhai" {
            text = text.replacen(
                "fn indikatorer() {\n    [\n",
                &format!("fn indikatorer() {{\n    [\n        {declaration}\n"),
                1,
            );
            text.push('\n');
            text.push_str(&function);
        }
        sources.push((display, text));
    }
    let pack = RulePack::from_sources(sources, Limits::default());
    assert!(pack.errors.is_empty(), "{:?}", pack.errors);
    let (specs, errs) = indicators(&pack);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(specs[0].def.id, "andel_hushall_med_barn");
    let mut i = Interner::default();
    let p = table(
        &mut i,
        payments_spec(),
        &[
            pay(1, "A", "h1", "100", 1, 2),
            pay(1, "A", "h2", "100", 1, 0),
            pay(2, "A", "h2", "100", 1, 1),
            pay(2, "A", "h3", "100", 2, 0),
        ],
    );
    let map: BTreeMap<String, Table> = [("utbetalningar".to_string(), p)].into_iter().collect();
    let known = [
        "utbetalningar",
        "befolkning",
        "avslut",
        "insatser",
        "avhysningar",
        "manuella_utfall",
    ];
    let data = Arc::new(prepare(
        i,
        map,
        None,
        known.map(String::from).to_vec(),
        None,
        HouseholdIdentity::Global,
    ));
    let (settings, _) = report_settings(&pack);
    let settings = crate::rules::pack::ReportSettings {
        districts: None,
        ..settings
    };
    let out = evaluate(
        data,
        &pack,
        &settings,
        &specs,
        &targets(&pack),
        crate::model::Period::parse("2019-02").unwrap(),
    );
    // h1 and h2 have children in some active month, h3 never: 2 of 3
    assert!(out.rule_errors.is_empty(), "{:?}", out.rule_errors);
    let r = out.evaluation.result(0, None).unwrap();
    assert_eq!(
        (r.current.numerator, r.current.denominator),
        (Some(dec("2")), Some(dec("3")))
    );
}
