//! The Budget sheet and the Kontroll section on ledger lines outside the layout: the
//! evaluation's budget figures (kronor) laid out per district and the total, in tkr rounded
//! half away from zero for display only (subtotals are rounded from exact sums).

use rust_decimal::Decimal;

use super::{Cell, NumberKind, Row, RowStyle, Sheet, TOTAL_LABEL, View, strings};
use crate::evaluate::budget::{BudgetFigures, LineKind, UnclaimedReason};
use crate::model::round_half_away;

/// Kronor as whole tkr, rounded half away from zero (display only).
pub(super) fn tkr(kronor: Decimal) -> Cell {
    Cell::Number {
        kind: NumberKind::ThousandKronor,
        value: round_half_away(kronor / Decimal::ONE_THOUSAND, 0),
        decimals: 0,
    }
}

fn tkr_or(v: Option<Decimal>, error: bool) -> Cell {
    match v {
        Some(v) => tkr(v),
        None if error => Cell::text("fel"),
        None => Cell::Missing,
    }
}

pub(super) fn budget_sheet(view: &View) -> Option<Sheet> {
    let b = &view.eval.budget;
    if b.lines.is_empty() && !b.has_ledger && !b.has_budget {
        return None;
    }
    let mut rows = Vec::new();
    if b.lines.is_empty() {
        rows.push(Row::body(vec![Cell::text(
            "Regelpaketet har ingen budgetuppställning (budgetuppstallning() i rules/)",
        )]));
    }
    let netto_like = |group: &str| group == "netto";
    // By (line, district): a scan per cell would be quadratic at national scale.
    for col in view.columns() {
        let district = col.map(|(d, _)| d);
        if !b.lines.is_empty() {
            if !rows.is_empty() {
                rows.push(Row::styled(RowStyle::Blank, Vec::new()));
            }
            rows.push(Row::styled(
                RowStyle::Section,
                vec![Cell::text(col.map_or(TOTAL_LABEL, |(_, n)| n))],
            ));
        }
        for (i, line) in b.lines.iter().enumerate() {
            if line.kind == LineKind::Heading {
                rows.push(Row::styled(
                    RowStyle::Subtotal,
                    vec![Cell::text(&line.label)],
                ));
                continue;
            }
            let f = view.budget_figures(i, district);
            let style = match line.kind {
                LineKind::Subtotal if netto_like(&line.group) => RowStyle::Total,
                LineKind::Subtotal | LineKind::Difference => RowStyle::Subtotal,
                _ => RowStyle::Body,
            };
            let mut cells = vec![Cell::text(&line.label)];
            match f {
                Some(f) => cells.extend(figure_cells(f)),
                None => cells.extend(std::iter::repeat_n(Cell::Missing, 7)),
            }
            rows.push(Row::styled(style, cells));
        }
    }
    Some(Sheet {
        name: "Budget".to_string(),
        title_lines: vec![
            format!("{} – Budget", view.eval.title),
            format!("Period: {}", view.eval.period.label_sv()),
            view.scope_line(),
            "Belopp i tkr; intäkter visas positiva. Avvikelse = budget − utfall (positiv = överskott)."
                .to_string(),
        ],
        header: strings(&[
            "tkr",
            "Budget helår",
            "Budget perioden",
            "Utfall perioden",
            "Utfall samma period föregående år",
            "Avvikelse perioden",
            "Prognos helår",
            "Avvikelse helår",
        ]),
        rows,
        frozen_columns: 1,
        autofilter: false,
        column_widths: vec![38.0, 12.0, 12.0, 12.0, 15.0, 12.0, 12.0, 12.0],
        landscape: true,
        charts: Vec::new(),
    })
}

fn figure_cells(f: &BudgetFigures) -> Vec<Cell> {
    let e = f.rule_error;
    let blank_or = |v: Option<Decimal>| match v {
        Some(v) => tkr(v),
        None => Cell::Empty,
    };
    vec![
        tkr_or(f.budget_year, false),
        tkr_or(f.budget_period, e),
        tkr_or(f.outcome_period, false),
        blank_or(f.previous_outcome_period),
        tkr_or(f.deviation, e),
        tkr_or(f.forecast_year, e),
        tkr_or(f.forecast_deviation, e),
    ]
}

/// Kontroll: the ledger and budget lines no layout row claims (they are on "Ej i
/// uppställningen") and those of districts outside the report (not counted). A district
/// workbook lists its own district's lines and those without a district.
pub(super) fn unclaimed_section(
    view: &View,
    rows: &mut Vec<Row>,
    section: impl Fn(&mut Vec<Row>, &str),
) {
    let b = &view.eval.budget;
    if !b.has_ledger && !b.has_budget {
        return;
    }
    section(rows, "Huvudbok och budget utanför budgetuppställningen");
    rows.push(Row::styled(
        RowStyle::Header,
        [
            "Dataset",
            "Stadsdel",
            "Verksamhet",
            "Konto",
            "Rader",
            "Belopp (kr)",
            "Månader / år",
            "Hantering",
        ]
        .into_iter()
        .map(Cell::text)
        .collect(),
    ));
    let own = view.own_district.map(|(i, _)| i);
    let shown: Vec<_> = b
        .unclaimed
        .iter()
        .filter(|u| match own {
            None => true,
            Some(d) => u.district == Some(d) || u.district_name.is_none(),
        })
        .collect();
    if shown.is_empty() {
        rows.push(Row::body(vec![Cell::text("Inga")]));
    }
    for u in shown {
        rows.push(Row::body(vec![
            Cell::text(u.dataset),
            u.district_name.as_deref().map_or(Cell::Empty, Cell::text),
            u.activity.as_deref().map_or(Cell::Empty, Cell::text),
            // An account number is a code: no thousands separator.
            Cell::text(u.account.to_string()),
            Cell::count(u.rows),
            Cell::Number {
                kind: NumberKind::Kronor,
                value: u.amount,
                decimals: 2,
            },
            Cell::text(&u.span),
            Cell::text(match u.reason {
                UnclaimedReason::NoRow => "ingen rad tar kontot: visas som \"Ej i uppställningen\"",
                UnclaimedReason::OtherDistrict => "stadsdelen ingår inte i rapporten: ej medräknad",
            }),
        ]));
    }
}
