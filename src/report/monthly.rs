//! The Månadsutfall sheet: per district and the total, each month of the report year with
//! active households, paid amount and the month's budget for ekonomiskt bistånd, under two
//! charts (households per month per district; paid against budget per month).

use rust_decimal::Decimal;

use super::budget::tkr;
use super::{
    Cell, CellRange, Chart, ChartKind, ChartSeries, NumberKind, Row, RowStyle, Sheet, TOTAL_LABEL,
    View,
};
use crate::evaluate::budget::Shown;

/// Body rows the two stacked charts take above the tables.
const CHART_ROWS: u32 = 18;
/// A line chart with more districts than this shows only the total.
const MAX_LINES: usize = 12;

pub(super) fn monthly_sheet(view: &View) -> Option<Sheet> {
    let b = &view.eval.budget;
    if b.monthly.is_empty() {
        return None;
    }
    let year = view.eval.period.calendar_year();
    let against = b.paid_against.as_deref().unwrap_or("budget");
    // Two charts stacked above the tables.
    let mut rows: Vec<Row> = (0..2 * CHART_ROWS)
        .map(|_| Row {
            cells: Vec::new(),
            style: RowStyle::Blank,
        })
        .collect();
    // (scope column, first month row) per block, for the charts.
    let mut blocks: Vec<(Option<(usize, &str)>, u32)> = Vec::new();
    for col in view.columns() {
        let district = col.map(|(d, _)| d);
        let Some(scope) = b.monthly.iter().find(|m| m.district == district) else {
            continue;
        };
        rows.push(Row::styled(
            RowStyle::Section,
            vec![Cell::text(col.map_or(TOTAL_LABEL, |(_, n)| n))],
        ));
        rows.push(Row::styled(
            RowStyle::Header,
            [
                "Månad",
                "Hushåll",
                "Utbetalt (tkr)",
                "Budget (tkr)",
                "Avvikelse (tkr)",
            ]
            .into_iter()
            .map(Cell::text)
            .collect(),
        ));
        blocks.push((col, rows.len() as u32));
        let (mut paid_sum, mut budget_sum) = (Some(Decimal::ZERO), Some(Decimal::ZERO));
        for m in &scope.months {
            let in_period = view.eval.period.contains(m.month);
            let households = match m.households {
                Shown::Value(v) => Cell::Number {
                    kind: NumberKind::Count,
                    value: v,
                    decimals: 0,
                },
                Shown::Suppressed => Cell::Suppressed,
                // Months after the period stay empty, so the chart line stops there.
                Shown::Missing if !in_period => Cell::Empty,
                Shown::Missing | Shown::Error => Cell::Missing,
            };
            let money = |v: Option<Decimal>| v.map_or(Cell::Empty, tkr);
            let deviation = match (m.budget, m.paid) {
                (Some(b), Some(p)) => tkr(b - p),
                _ => Cell::Empty,
            };
            if in_period {
                paid_sum = paid_sum.and_then(|s| Some(s + m.paid?));
                budget_sum = budget_sum.and_then(|s| Some(s + m.budget?));
            }
            rows.push(Row::body(vec![
                Cell::text(m.month.name_sv()),
                households,
                money(m.paid),
                money(m.budget),
                deviation,
            ]));
        }
        let deviation = match (budget_sum, paid_sum) {
            (Some(b), Some(p)) => tkr(b - p),
            _ => Cell::Empty,
        };
        rows.push(Row::styled(
            RowStyle::Total,
            vec![
                Cell::text(view.eval.period.label_sv()),
                Cell::Empty,
                paid_sum.map_or(Cell::Missing, tkr),
                budget_sum.map_or(Cell::Missing, tkr),
                deviation,
            ],
        ));
        rows.push(Row::styled(RowStyle::Blank, Vec::new()));
    }
    let &(_, first_block) = blocks.first()?;
    let range = |first: u32, col: u16| CellRange {
        first_row: first,
        last_row: first + 11,
        col,
    };
    // Households per district (the total alone when there are too many districts to tell
    // apart, or in a district workbook next to its district).
    let lines: Vec<&(Option<(usize, &str)>, u32)> = {
        let districts: Vec<_> = blocks.iter().filter(|(c, _)| c.is_some()).collect();
        if !districts.is_empty() && districts.len() <= MAX_LINES {
            districts
        } else {
            blocks.iter().filter(|(c, _)| c.is_none()).collect()
        }
    };
    let name = |c: &Option<(usize, &str)>| c.map_or(TOTAL_LABEL, |(_, n)| n).to_string();
    let households = Chart {
        kind: ChartKind::Line,
        title: format!("Biståndshushåll per månad {year}"),
        y_axis: "Hushåll".into(),
        categories: range(first_block, 0),
        series: lines
            .iter()
            .map(|(c, first)| ChartSeries {
                name: name(c),
                values: range(*first, 1),
            })
            .collect(),
        anchor_row: 0,
        anchor_col: 0,
        width: 620,
        height: 340,
    };
    // Paid against budget for the district of a district workbook, else the total.
    let (main, main_first) = match view.own_district {
        Some(_) => blocks
            .iter()
            .find(|(c, _)| c.is_some())
            .copied()
            .unwrap_or(blocks[0]),
        None => blocks
            .iter()
            .find(|(c, _)| c.is_none())
            .copied()
            .unwrap_or(blocks[0]),
    };
    let paid = Chart {
        kind: ChartKind::Column,
        title: format!(
            "Utbetalt och budget ({against}) per månad {year}, {}",
            name(&main)
        ),
        y_axis: "tkr".into(),
        categories: range(main_first, 0),
        series: vec![
            ChartSeries {
                name: "Utbetalt".into(),
                values: range(main_first, 2),
            },
            ChartSeries {
                name: "Budget".into(),
                values: range(main_first, 3),
            },
        ],
        anchor_row: CHART_ROWS,
        anchor_col: 0,
        width: 620,
        height: 340,
    };
    Some(Sheet {
        name: "Månadsutfall".to_string(),
        title_lines: vec![
            format!("{} – Månadsutfall", view.eval.title),
            format!("År: {year} (period {})", view.eval.period.label_sv()),
            view.scope_line(),
            format!("Budget per månad: raden {against}, periodiserad enligt regelpaketet"),
        ],
        header: Vec::new(),
        rows,
        frozen_columns: 0,
        autofilter: false,
        column_widths: vec![22.0, 12.0, 15.0, 15.0, 15.0],
        landscape: false,
        charts: vec![households, paid],
    })
}
