//! The Nyckeltal sheet: key figures for the report year and every earlier year in the
//! input, side by side as the unit's plans print them, per district and the total. Values
//! are rounded half away from zero to the indicator's decimals; ledger money in tkr.

use super::budget::tkr;
use super::{Cell, NumberKind, Row, RowStyle, Sheet, TOTAL_LABEL, View, strings};
use crate::evaluate::Unit;
use crate::evaluate::budget::Shown;
use crate::model::round_half_away;

pub(super) fn key_figures_sheet(view: &View) -> Option<Sheet> {
    let k = &view.eval.budget.key_figures;
    if k.years.is_empty() || k.rows.is_empty() {
        return None;
    }
    let end = view.eval.period.end;
    let mut header = strings(&["Nyckeltal", "Enhet"]);
    header.extend(k.years.iter().map(|y| y.to_string()));
    if k.years.len() > 2 {
        header.push("Trend".to_string());
    }
    let mut rows = Vec::new();
    for col in view.columns() {
        let district = col.map(|(d, _)| d);
        if !rows.is_empty() {
            rows.push(Row::styled(RowStyle::Blank, Vec::new()));
        }
        rows.push(Row::styled(
            RowStyle::Section,
            vec![Cell::text(col.map_or(TOTAL_LABEL, |(_, n)| n))],
        ));
        for r in k.rows.iter().filter(|r| r.district == district) {
            let mut cells = vec![Cell::text(&r.label), Cell::text(r.unit.label())];
            cells.extend(r.values.iter().map(|v| match v {
                Shown::Value(x) if r.unit == Unit::ThousandKronor => tkr(*x),
                Shown::Value(x) => Cell::Number {
                    kind: NumberKind::of_unit(r.unit),
                    value: round_half_away(*x, r.decimals),
                    decimals: r.decimals,
                },
                Shown::Missing => Cell::Missing,
                Shown::Suppressed => Cell::Suppressed,
                Shown::Error => Cell::text("fel"),
            }));
            if k.years.len() > 2 {
                // The years' trend beside them, when there are enough years to make one.
                cells.push(Cell::Sparkline {
                    first_col: 2,
                    last_col: 1 + k.years.len() as u16,
                });
            }
            rows.push(Row::body(cells));
        }
    }
    let months = if end.month == 1 {
        "januari".to_string()
    } else {
        format!("januari–{}", end.name_sv())
    };
    let mut widths = vec![48.0, 7.0];
    widths.extend(k.years.iter().map(|_| 13.0));
    widths.push(14.0);
    Some(Sheet {
        name: "Nyckeltal".to_string(),
        title_lines: vec![
            format!("{} – Nyckeltal", view.eval.title),
            format!("Samma period varje år: {months}"),
            view.scope_line(),
        ],
        header,
        rows,
        frozen_columns: 2,
        autofilter: false,
        column_widths: widths,
        landscape: false,
        charts: Vec::new(),
    })
}
