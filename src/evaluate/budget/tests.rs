use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;

use super::layout::{Item, Layout, SumOf};
use super::{LineKind, UNCLAIMED_LABEL, lines};
use crate::rules::{Limits, RulePack};

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn shipped() -> RulePack {
    RulePack::from_sources(
        vec![(
            "rules/budget.rhai".into(),
            include_str!("../../../rules/budget.rhai").into(),
        )],
        Limits::default(),
    )
}

fn input(budget: &str, outcome: &str, months: i64, last_year: Option<&[i64]>) -> Map {
    let mut m = Map::new();
    m.insert("budget_helar".into(), Dynamic::from_decimal(dec(budget)));
    m.insert("utfall".into(), Dynamic::from_decimal(dec(outcome)));
    m.insert("manader".into(), Dynamic::from_int(months));
    m.insert(
        "foregaende_per_manad".into(),
        match last_year {
            None => Dynamic::UNIT,
            Some(v) => v
                .iter()
                .map(|x| Dynamic::from_decimal(Decimal::from(*x)))
                .collect::<Array>()
                .into(),
        },
    );
    m
}

fn call(pack: &RulePack, f: &str, m: Map) -> Decimal {
    pack.call(f, (m,)).unwrap().as_decimal().unwrap()
}

#[test]
fn shipped_methods_are_the_linear_defaults_in_exact_decimal() {
    let p = shipped();
    // 100 000 × 5 ÷ 12 = 41 666,666…: exact to 28 digits, not a float.
    let v = call(&p, "budget_perioden", input("100000", "0", 5, None));
    assert_eq!(v.round_dp(6), dec("41666.666667"));
    assert_eq!(
        call(&p, "prognos_helar", input("0", "-1500", 3, None)),
        dec("-6000")
    );
}

#[test]
fn last_years_profile_periodises_and_forecasts() {
    let p = shipped();
    let profile = [10, 10, 20, 10, 10, 10, 10, 10, 10, 10, 10, 10];
    // Budget 1 300 × (10 + 10 + 20) ÷ 130.
    let v = call(
        &p,
        "budget_perioden_fjolaret",
        input("1300", "0", 3, Some(&profile)),
    );
    assert_eq!(v, dec("400"));
    // Outcome 50 plus last year's April–December (90).
    let v = call(
        &p,
        "prognos_helar_fjolaret",
        input("0", "50", 3, Some(&profile)),
    );
    assert_eq!(v, dec("140"));
    // Without last year: linear.
    let v = call(&p, "budget_perioden_fjolaret", input("1200", "0", 3, None));
    assert_eq!(v, dec("300"));
}

#[test]
fn unclaimed_line_stands_before_the_netto_and_income_is_shown_positive() {
    let row = |label: &str, group: &str| Item::Row {
        label: label.into(),
        group: group.into(),
        accounts: vec![(3000, 3999)],
        activities: Vec::new(),
    };
    let layout = Layout {
        items: vec![
            row("Avgifter", "intakter"),
            Item::Sum {
                label: "Summa intäkter".into(),
                group: "Summa intäkter".into(),
                of: SumOf::Lines(vec!["Avgifter".into()]),
            },
            row("Stöd", "kostnader"),
            Item::Sum {
                label: "Netto".into(),
                group: "netto".into(),
                of: SumOf::All,
            },
        ],
        periodisation: "budget_perioden".into(),
        forecast: "prognos_helar".into(),
        paid_against: None,
        key_figures: Vec::new(),
    };
    let l = lines(&layout, true);
    let labels: Vec<&str> = l.iter().map(|x| x.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Avgifter",
            "Summa intäkter",
            "Stöd",
            UNCLAIMED_LABEL,
            "Netto"
        ]
    );
    let signs: Vec<i32> = l.iter().map(|x| x.sign).collect();
    assert_eq!(signs, [-1, -1, 1, 1, 1]);
    assert_eq!(l[4].kind, LineKind::Subtotal);
    assert_eq!(lines(&layout, false).len(), 4);
}
