//! Test fixture shared by `report` and `render` tests: a small hand-made evaluation
//! (two districts, three indicators in %, kr and st, every status, a missing and a
//! suppressed figure) and the Kontroll data of its run.

use rust_decimal::Decimal;

use crate::evaluate::{
    Direction, Evaluation, Figure, IndicatorDef, IndicatorResult, Status, Target, Unit,
};
use crate::model::{Period, round_half_away};
use crate::report::{ControlData, ControlFile, ControlIssue};

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn fig(value: Option<&str>, num: Option<&str>, den: Option<&str>) -> Figure {
    Figure {
        value: value.map(dec),
        numerator: num.map(dec),
        denominator: den.map(dec),
    }
}

struct R {
    district: Option<usize>,
    current: Figure,
    previous: Option<&'static str>,
    target: Option<Target>,
    kf: Option<Target>,
    status: Status,
    comment: Option<&'static str>,
    suppressed: bool,
}

fn result(indicator: usize, decimals: u32, r: R) -> IndicatorResult {
    IndicatorResult {
        indicator,
        district: r.district,
        rounded: r.current.value.map(|v| round_half_away(v, decimals)),
        current: r.current,
        previous: fig(r.previous, None, None),
        target: r.target,
        kf_target: r.kf,
        status: r.status,
        comment: r.comment.map(str::to_string),
        rule_error: None,
        suppressed: r.suppressed,
    }
}

pub(crate) fn sample() -> (Evaluation, ControlData) {
    let indicators = vec![
        IndicatorDef {
            id: "andel_barn".into(),
            name: "Andel barn som lever i familjer med ekonomiskt bistånd".into(),
            unit: Unit::Percent,
            decimals: 2,
            direction: Direction::LowerIsBetter,
            window: crate::evaluate::Window::YearToDate,
            source: None,
        },
        IndicatorDef {
            id: "utbetalt".into(),
            name: "Utbetalt ekonomiskt bistånd".into(),
            unit: Unit::Kronor,
            decimals: 0,
            direction: Direction::LowerIsBetter,
            window: crate::evaluate::Window::YearToDate,
            source: None,
        },
        IndicatorDef {
            id: "sommarjobb".into(),
            name: "Antal ungdomar som fått sommarjobb".into(),
            unit: Unit::Count,
            decimals: 0,
            direction: Direction::HigherIsBetter,
            window: crate::evaluate::Window::YearToDate,
            source: None,
        },
    ];
    let pct = |v: &str| Some(Target::Value(dec(v)));
    let results = vec![
        result(
            0,
            2,
            R {
                district: Some(0),
                current: fig(Some("0.3125"), Some("12.5"), Some("4000")),
                previous: Some("0.4"),
                target: pct("0.6"),
                kf: pct("2.8"),
                status: Status::Met,
                comment: None,
                suppressed: false,
            },
        ),
        result(
            0,
            2,
            R {
                district: Some(1),
                current: fig(Some("0.52"), Some("31.2"), Some("6000")),
                previous: Some("0.5"),
                target: pct("0.5"),
                kf: pct("2.8"),
                status: Status::PartlyMet,
                comment: None,
                suppressed: false,
            },
        ),
        result(
            0,
            2,
            R {
                district: None,
                current: fig(Some("0.285"), Some("28.5"), Some("10000")),
                previous: Some("0.3"),
                target: pct("0.5"),
                kf: pct("2.8"),
                status: Status::Met,
                comment: None,
                suppressed: false,
            },
        ),
        result(
            1,
            0,
            R {
                district: Some(0),
                current: fig(Some("1234567.5"), Some("1234567.5"), None),
                previous: Some("1200000"),
                target: Some(Target::Decrease),
                kf: None,
                status: Status::NotMet,
                comment: None,
                suppressed: false,
            },
        ),
        result(
            1,
            0,
            R {
                district: Some(1),
                current: fig(Some("500"), Some("500"), None),
                previous: Some("700"),
                target: None,
                kf: None,
                status: Status::NoTarget,
                comment: None,
                suppressed: true,
            },
        ),
        result(
            1,
            0,
            R {
                district: None,
                current: fig(Some("1235067.5"), Some("1235067.5"), None),
                previous: Some("1200700"),
                target: Some(Target::Decrease),
                kf: None,
                status: Status::NotMet,
                comment: None,
                suppressed: false,
            },
        ),
        result(
            2,
            0,
            R {
                district: Some(0),
                current: fig(None, None, None),
                previous: Some("40"),
                target: pct("60"),
                kf: None,
                status: Status::Missing,
                comment: Some("inget manuellt utfall"),
                suppressed: false,
            },
        ),
        result(
            2,
            0,
            R {
                district: Some(1),
                current: fig(None, None, None),
                previous: None,
                target: pct("60"),
                kf: None,
                status: Status::Error,
                comment: Some("rules/mal.rhai:3:5: division by zero"),
                suppressed: false,
            },
        ),
        result(
            2,
            0,
            R {
                district: None,
                current: fig(Some("400"), Some("400"), None),
                previous: Some("380"),
                target: pct("350"),
                kf: pct("9000"),
                status: Status::Met,
                comment: Some("=HYPERLINK(\"http://example.com\")"),
                suppressed: false,
            },
        ),
    ];
    let eval = Evaluation {
        period: Period::parse("2019-05").unwrap(),
        title: "Uppföljning ekonomiskt bistånd".into(),
        file_stem: "Uppfoljning_ekonomiskt_bistand".into(),
        districts: vec!["Kungsholmen".into(), "Norrmalm".into()],
        indicators,
        results,
        population_year: Some(2018),
        budget: Default::default(),
    };
    let control = ControlData {
        files: vec![
            ControlFile {
                name: "samples/utbetalningar_2019-05.xlsx".into(),
                dataset: Some("utbetalningar".into()),
                sheet: Some("Blad1".into()),
                rows: 1234,
                rejected: 1,
                months: "2019-05".into(),
                outcome: "inläst".into(),
            },
            ControlFile {
                name: "samples/anteckningar.txt".into(),
                dataset: None,
                sheet: None,
                rows: 0,
                rejected: 0,
                months: String::new(),
                outcome: "hoppades över: okänd rubrikrad".into(),
            },
        ],
        rejected_rows: vec![ControlIssue {
            location: "samples/utbetalningar_2019-05.xlsx [Blad1!D14]".into(),
            message: "Belopp \"12 3x4\" är inte ett tal".into(),
        }],
        replacements: vec![
            "utbetalningar 2019-03: utbetalningar_2019-03_v2.xlsx ersätter utbetalningar_2019-03.xlsx"
                .into(),
        ],
        rule_errors: vec![ControlIssue {
            location: "rules/mal.rhai:3:5".into(),
            message: "division by zero".into(),
        }],
        warnings: vec!["april 2019 saknar utbetalningar".into()],
        rule_fingerprint: "sha256:0123abcd".into(),
        generated_by: "utfall 0.1.0".into(),
    };
    (eval, control)
}

/// A national-scale evaluation: `districts` districts, `indicators` percentage indicators,
/// every figure present.
pub(crate) fn wide(districts: usize, indicators: usize) -> Evaluation {
    let (mut eval, _) = sample();
    let template = eval.indicators[0].clone();
    eval.districts = (0..districts).map(|d| format!("Kommun {d:03}")).collect();
    eval.indicators = (0..indicators)
        .map(|i| IndicatorDef {
            id: format!("ind_{i}"),
            ..template.clone()
        })
        .collect();
    eval.results = (0..indicators)
        .flat_map(|i| (0..districts).map(Some).chain([None]).map(move |d| (i, d)))
        .map(|(i, d)| {
            let v = Decimal::new((i * 1000 + d.unwrap_or(999)) as i64, 4);
            result(
                i,
                2,
                R {
                    district: d,
                    current: fig(Some(&v.to_string()), None, None),
                    previous: None,
                    target: None,
                    kf: None,
                    status: Status::NoTarget,
                    comment: None,
                    suppressed: false,
                },
            )
        })
        .collect();
    eval
}
