//! Stage 4, report: turns an `Evaluation` and the run's `ControlData` into format-neutral
//! tables (a `Workbook` of `Sheet`s whose cells carry a semantic kind: money, percent,
//! status …). `render` maps these kinds to formats; nothing here knows about xlsx.

use rust_decimal::Decimal;

use crate::evaluate::budget::BudgetFigures;
use crate::evaluate::{Evaluation, IndicatorDef, IndicatorResult, Status, Target, Unit};
use crate::model::round_half_away;

// ------------------------------------------------------------------------------------------
// Inputs besides the evaluation

/// What the Kontroll sheet reports about the run; the orchestrator fills it from ingest's
/// and the rule pack's diagnostics. For a district workbook the orchestrator passes a copy
/// filtered to what that district may see; this stage renders what it gets.
#[derive(Clone, Debug, Default)]
pub struct ControlData {
    pub files: Vec<ControlFile>,
    pub rejected_rows: Vec<ControlIssue>,
    /// "utbetalningar 2019-03: utb_2019-03_v2.xlsx ersätter utb_2019-03.xlsx".
    pub replacements: Vec<String>,
    /// `location` is `rules/x.rhai:line:col`.
    pub rule_errors: Vec<ControlIssue>,
    pub warnings: Vec<String>,
    pub rule_fingerprint: String,
    /// "utfall 0.1.0".
    pub generated_by: String,
}

/// One input file as the run saw it.
#[derive(Clone, Debug, Default)]
pub struct ControlFile {
    pub name: String,
    pub dataset: Option<String>,
    pub sheet: Option<String>,
    pub rows: usize,
    pub rejected: usize,
    /// "2019-01–2019-12", or empty.
    pub months: String,
    /// "inläst", "hoppades över: …", "dubblett av …".
    pub outcome: String,
}

/// A diagnostic with where it happened: `samples/x.xlsx [Blad1!D14]` or `rules/x.rhai:3:5`.
#[derive(Clone, Debug, Default)]
pub struct ControlIssue {
    pub location: String,
    pub message: String,
}

impl ControlIssue {
    /// `location: message`, the way compilers print it.
    pub fn line(&self) -> String {
        if self.location.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.location, self.message)
        }
    }
}

/// Which part of the evaluation a workbook shows.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Scope {
    /// All districts and the total.
    Whole,
    /// One district (index into `Evaluation::districts`) and the total, nothing else.
    District(usize),
}

// ------------------------------------------------------------------------------------------
// Output tables

#[derive(Clone, Debug, PartialEq)]
pub struct Workbook {
    /// Document title (file properties, page headers).
    pub title: String,
    pub sheets: Vec<Sheet>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sheet {
    /// At most 31 characters, none of `[]:*?/\`.
    pub name: String,
    /// Lines above the table; the first is the heading.
    pub title_lines: Vec<String>,
    /// Column headings; empty for a sheet made of sections (Kontroll).
    pub header: Vec<String>,
    pub rows: Vec<Row>,
    /// Columns kept in view when scrolling right (the header row is always kept).
    pub frozen_columns: u16,
    pub autofilter: bool,
    /// Suggested widths in characters, by column; missing ones get a default.
    pub column_widths: Vec<f64>,
    pub landscape: bool,
    /// Charts drawn from the sheet's own cells.
    pub charts: Vec<Chart>,
}

/// A chart over cells of its sheet. Rows are body rows (0 = the first row after the
/// header), so the report need not know where the renderer puts the title lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    pub y_axis: String,
    /// The category labels (one column).
    pub categories: CellRange,
    pub series: Vec<ChartSeries>,
    /// The top-left body cell the chart is drawn over, and its size in pixels.
    pub anchor_row: u32,
    pub anchor_col: u16,
    pub width: u32,
    pub height: u32,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChartKind {
    Line,
    Column,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChartSeries {
    pub name: String,
    pub values: CellRange,
}

/// Body rows `first_row..=last_row` of one column.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CellRange {
    pub first_row: u32,
    pub last_row: u32,
    pub col: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub style: RowStyle,
}

impl Row {
    pub fn body(cells: Vec<Cell>) -> Row {
        Row {
            cells,
            style: RowStyle::Body,
        }
    }

    fn styled(style: RowStyle, cells: Vec<Cell>) -> Row {
        Row { cells, style }
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum RowStyle {
    Body,
    /// Column headings inside a sheet made of sections.
    Header,
    /// A section heading (Kontroll: "Inlästa filer").
    Section,
    Subtotal,
    Total,
    /// Spacing between sections.
    Blank,
}

/// What a number is, which decides how it is shown.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum NumberKind {
    Count,
    Kronor,
    ThousandKronor,
    /// In percent units: 0.45 means 0,45 % (the renderer divides by 100).
    Percent,
    Months,
    /// A number without a unit of its own (underlag: numerators, denominators).
    Plain,
}

impl NumberKind {
    pub fn of_unit(unit: Unit) -> NumberKind {
        match unit {
            Unit::Count => NumberKind::Count,
            Unit::Percent => NumberKind::Percent,
            Unit::Kronor => NumberKind::Kronor,
            Unit::ThousandKronor => NumberKind::ThousandKronor,
            Unit::Months => NumberKind::Months,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Always written as text, never as a formula, whatever it starts with.
    Text(String),
    /// A number shown with `decimals` decimals. The value is written as given: the report
    /// rounds it (half away from zero) where the figure shown must match the judged one.
    Number {
        kind: NumberKind,
        value: Decimal,
        decimals: u32,
    },
    /// The status as a coloured symbol (● ◐ ○ …).
    Status(Status),
    /// The status in words ("Uppfylls helt").
    StatusText(Status),
    /// Hidden by the small-number threshold: `..`.
    Suppressed,
    /// No value: `saknas`.
    Missing,
    /// A small line chart in the cell of the same row's numbers in columns
    /// `first_col..=last_col` (a trend over the years).
    Sparkline {
        first_col: u16,
        last_col: u16,
    },
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn count(n: usize) -> Cell {
        Cell::Number {
            kind: NumberKind::Count,
            value: Decimal::from(n as u64),
            decimals: 0,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Building

const TOTAL_LABEL: &str = "Totalt";
const WHOLE_UNIT_LABEL: &str = "Hela enheten";

/// Builds the workbook for `scope`. A district workbook holds that district's figures and
/// the total only: no other district's name appears in any sheet built from `eval`.
/// Building several workbooks from one evaluation, index it once and use `build_indexed`.
pub fn build(eval: &Evaluation, control: &ControlData, scope: Scope) -> Workbook {
    build_indexed(&Index::new(eval), control, scope)
}

/// `build` for an evaluation indexed once for all its workbooks.
pub fn build_indexed(index: &Index, control: &ControlData, scope: Scope) -> Workbook {
    let eval = index.eval;
    let view = View::new(index, scope);
    let title = match view.own_district {
        Some(d) => format!("{} – {}", eval.title, d.1),
        None => eval.title.clone(),
    };
    Workbook {
        title,
        sheets: [
            Some(summary_sheet(&view)),
            Some(per_district_sheet(&view)),
            budget::budget_sheet(&view),
            keyfigures::key_figures_sheet(&view),
            monthly::monthly_sheet(&view),
            Some(underlag_sheet(&view)),
            Some(control_sheet(&view, control)),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }
}

/// An evaluation's results and budget figures by (row, district), made once for all the
/// workbooks built from it: `Evaluation::result` scans, which is quadratic for ~290
/// districts, and even one pass over all results per workbook (292 at national scale)
/// was a noticeable part of building them.
pub struct Index<'a> {
    eval: &'a Evaluation,
    results: Lookup<'a, IndicatorResult>,
    budget: Lookup<'a, BudgetFigures>,
}

impl<'a> Index<'a> {
    pub fn new(eval: &'a Evaluation) -> Index<'a> {
        let districts = eval.districts.len();
        Index {
            eval,
            results: Lookup::new(eval.indicators.len(), districts, &eval.results, |r| {
                (r.indicator, r.district)
            }),
            budget: Lookup::new(
                eval.budget.lines.len(),
                districts,
                &eval.budget.figures,
                |f| (f.line, f.district),
            ),
        }
    }
}

/// The evaluation as one scope sees it.
struct View<'a> {
    eval: &'a Evaluation,
    index: &'a Index<'a>,
    /// The district of a district workbook.
    own_district: Option<(usize, &'a str)>,
    /// The districts whose columns and rows appear.
    districts: Vec<(usize, &'a str)>,
}

impl<'a> View<'a> {
    fn new(index: &'a Index<'a>, scope: Scope) -> View<'a> {
        let eval = index.eval;
        let all = eval
            .districts
            .iter()
            .enumerate()
            .map(|(i, d)| (i, d.as_str()));
        match scope {
            Scope::Whole => View {
                eval,
                index,
                own_district: None,
                districts: all.collect(),
            },
            Scope::District(i) => {
                let own = eval.districts.get(i).map(|d| (i, d.as_str()));
                View {
                    eval,
                    index,
                    own_district: own,
                    districts: own.into_iter().collect(),
                }
            }
        }
    }

    fn result(&self, indicator: usize, district: Option<usize>) -> Option<&'a IndicatorResult> {
        self.index.results.get(indicator, district)
    }

    fn budget_figures(&self, line: usize, district: Option<usize>) -> Option<&'a BudgetFigures> {
        self.index.budget.get(line, district)
    }

    fn scope_line(&self) -> String {
        match self.own_district {
            Some((_, name)) => format!("Stadsdel: {name}"),
            None => WHOLE_UNIT_LABEL.to_string(),
        }
    }

    fn title_lines(&self, sheet_heading: &str) -> Vec<String> {
        let mut lines = vec![
            format!("{} – {}", self.eval.title, sheet_heading),
            format!("Period: {}", self.eval.period.label_sv()),
            self.scope_line(),
        ];
        if let Some(y) = self.eval.population_year {
            lines.push(format!("Befolkning: 31 december {y}"));
        }
        lines
    }

    /// The districts shown followed by the total (`None`).
    fn columns(&self) -> Vec<Option<(usize, &'a str)>> {
        self.districts
            .iter()
            .copied()
            .map(Some)
            .chain(std::iter::once(None))
            .collect()
    }
}

/// Items of a flat list by (row, district or `None` for the total): a dense table rather
/// than a hash map (hashing every result for every workbook was a tenth of the rendering
/// stage at national scale). As with a map, a later item replaces an earlier one with the
/// same key.
struct Lookup<'a, T> {
    districts: usize,
    slots: Vec<Option<&'a T>>,
}

impl<'a, T> Lookup<'a, T> {
    fn new(
        rows: usize,
        districts: usize,
        items: &'a [T],
        key: impl Fn(&T) -> (usize, Option<usize>),
    ) -> Lookup<'a, T> {
        let mut lookup = Lookup {
            districts,
            slots: vec![None; rows * (districts + 1)],
        };
        for item in items {
            let (row, district) = key(item);
            if let Some(i) = lookup.slot(row, district) {
                lookup.slots[i] = Some(item);
            }
        }
        lookup
    }

    /// `None` for a key outside the table: nothing can be stored there.
    fn slot(&self, row: usize, district: Option<usize>) -> Option<usize> {
        let column = match district {
            Some(d) if d < self.districts => d,
            Some(_) => return None,
            None => self.districts,
        };
        let i = row.checked_mul(self.districts + 1)?.checked_add(column)?;
        (i < self.slots.len()).then_some(i)
    }

    fn get(&self, row: usize, district: Option<usize>) -> Option<&'a T> {
        self.slot(row, district).and_then(|i| self.slots[i])
    }
}

/// The width of the indicator-name column: the longest name, within reason.
fn name_width(eval: &Evaluation) -> f64 {
    let longest = eval
        .indicators
        .iter()
        .map(|d| d.name.chars().count())
        .max()
        .unwrap_or(30);
    (longest as f64 + 2.0).clamp(30.0, 90.0)
}

fn summary_sheet(view: &View) -> Sheet {
    let eval = view.eval;
    let district = view.own_district.map(|(i, _)| i);
    let rows = eval
        .indicators
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let result = view.result(i, district);
            let period = def.window.label_sv(eval.period);
            let mut cells = vec![Cell::text(&def.name), Cell::text(def.unit.label())];
            match result {
                Some(r) => {
                    cells.push(shown_value(def, r, r.current.value));
                    cells.push(shown_value(def, r, r.previous.value));
                    cells.push(target_cell(def, r.target.as_ref()));
                    cells.push(target_cell(def, r.kf_target.as_ref()));
                    cells.push(Cell::text(&period));
                    cells.push(Cell::Status(r.status));
                    cells.push(Cell::StatusText(r.status));
                    cells.push(comment_cell(r));
                }
                None => {
                    cells.extend([Cell::Missing, Cell::Missing, Cell::Empty, Cell::Empty]);
                    cells.push(Cell::text(&period));
                    cells.push(Cell::Status(Status::Missing));
                    cells.push(Cell::StatusText(Status::Missing));
                    cells.push(Cell::Empty);
                }
            }
            Row::body(cells)
        })
        .collect();
    Sheet {
        name: "Sammanfattning".to_string(),
        title_lines: view.title_lines("Sammanfattning"),
        header: strings(&[
            "Indikator",
            "Enhet",
            "Periodens utfall",
            "Utfall samma period föregående år",
            "Årsmål",
            "KF:s årsmål",
            "Period",
            "Status",
            "Måluppfyllelse",
            "Kommentar",
        ]),
        rows,
        frozen_columns: 1,
        autofilter: false,
        column_widths: vec![
            name_width(eval),
            7.0,
            12.0,
            16.0,
            10.0,
            10.0,
            27.0,
            7.0,
            18.0,
            40.0,
        ],
        landscape: true,
        charts: Vec::new(),
    }
}

fn per_district_sheet(view: &View) -> Sheet {
    let eval = view.eval;
    let columns = view.columns();
    let mut header = strings(&["Indikator", "Enhet"]);
    let mut widths = vec![58.0, 7.0];
    for col in &columns {
        header.push(col.map_or(TOTAL_LABEL, |(_, name)| name).to_string());
        header.push("Status".to_string());
        widths.extend([14.0, 7.0]);
    }
    let rows = eval
        .indicators
        .iter()
        .enumerate()
        .map(|(i, def)| {
            let mut cells = vec![Cell::text(&def.name), Cell::text(def.unit.label())];
            for col in &columns {
                match view.result(i, col.map(|(d, _)| d)) {
                    Some(r) => {
                        cells.push(shown_value(def, r, r.current.value));
                        cells.push(Cell::Status(r.status));
                    }
                    None => cells.extend([Cell::Missing, Cell::Status(Status::Missing)]),
                }
            }
            Row::body(cells)
        })
        .collect();
    Sheet {
        name: "Per stadsdel".to_string(),
        title_lines: view.title_lines("Per stadsdel"),
        header,
        rows,
        frozen_columns: 2,
        autofilter: false,
        column_widths: widths,
        landscape: true,
        charts: Vec::new(),
    }
}

fn underlag_sheet(view: &View) -> Sheet {
    let eval = view.eval;
    let period = eval.period.label();
    let mut rows = Vec::new();
    for (i, def) in eval.indicators.iter().enumerate() {
        for col in view.columns() {
            let Some(r) = view.result(i, col.map(|(d, _)| d)) else {
                continue;
            };
            let kind = NumberKind::of_unit(def.unit);
            let unrounded = |v: Decimal| Cell::Number {
                kind,
                value: v,
                decimals: precise_decimals(v, def.decimals),
            };
            let cells = vec![
                Cell::text(&def.name),
                Cell::text(&def.id),
                Cell::text(def.unit.label()),
                Cell::text(col.map_or(TOTAL_LABEL, |(_, name)| name)),
                Cell::text(&period),
                hidden(r, r.current.value, unrounded, Cell::Missing),
                shown_value(def, r, r.current.value),
                // A count has no denominator: an absent one is not "saknas".
                hidden(r, r.current.numerator, plain, Cell::Empty),
                hidden(r, r.current.denominator, plain, Cell::Empty),
                shown_value(def, r, r.previous.value),
                target_cell(def, r.target.as_ref()),
                Cell::StatusText(r.status),
            ];
            let style = if col.is_none() {
                RowStyle::Total
            } else {
                RowStyle::Body
            };
            rows.push(Row::styled(style, cells));
        }
    }
    Sheet {
        name: "Underlag".to_string(),
        title_lines: view.title_lines("Underlag"),
        header: strings(&[
            "Indikator",
            "Id",
            "Enhet",
            "Stadsdel",
            "Period",
            "Värde",
            "Avrundat",
            "Täljare",
            "Nämnare",
            "Föregående år",
            "Mål",
            "Status",
        ]),
        rows,
        frozen_columns: 1,
        autofilter: true,
        column_widths: vec![
            name_width(view.eval),
            24.0,
            7.0,
            14.0,
            9.0,
            14.0,
            12.0,
            14.0,
            14.0,
            14.0,
            10.0,
            18.0,
        ],
        landscape: true,
        charts: Vec::new(),
    }
}

fn control_sheet(view: &View, control: &ControlData) -> Sheet {
    let mut rows = Vec::new();
    let section = |rows: &mut Vec<Row>, heading: &str| {
        if !rows.is_empty() {
            rows.push(Row::styled(RowStyle::Blank, Vec::new()));
        }
        rows.push(Row::styled(RowStyle::Section, vec![Cell::text(heading)]));
    };
    let none = || Row::body(vec![Cell::text("Inga")]);

    section(&mut rows, "Körning");
    rows.push(Row::body(vec![
        Cell::text("Regelpaketets fingeravtryck"),
        Cell::text(&control.rule_fingerprint),
    ]));
    rows.push(Row::body(vec![
        Cell::text("Skapad av"),
        Cell::text(&control.generated_by),
    ]));
    rows.push(Row::body(vec![
        Cell::text("Period"),
        Cell::text(format!(
            "{} ({})",
            view.eval.period.label_sv(),
            view.eval.period.label()
        )),
    ]));

    section(&mut rows, "Inlästa filer");
    rows.push(Row::styled(
        RowStyle::Header,
        [
            "Fil", "Dataset", "Blad", "Rader", "Avvisade", "Månader", "Utfall",
        ]
        .into_iter()
        .map(Cell::text)
        .collect(),
    ));
    if control.files.is_empty() {
        rows.push(none());
    }
    for f in &control.files {
        rows.push(Row::body(vec![
            Cell::text(&f.name),
            opt_text(f.dataset.as_deref()),
            opt_text(f.sheet.as_deref()),
            Cell::count(f.rows),
            Cell::count(f.rejected),
            Cell::text(&f.months),
            Cell::text(&f.outcome),
        ]));
    }
    let total_rows: usize = control.files.iter().map(|f| f.rows).sum();
    let total_rejected: usize = control.files.iter().map(|f| f.rejected).sum();
    if !control.files.is_empty() {
        rows.push(Row::styled(
            RowStyle::Total,
            vec![
                Cell::text("Summa"),
                Cell::Empty,
                Cell::Empty,
                Cell::count(total_rows),
                Cell::count(total_rejected),
            ],
        ));
    }

    section(&mut rows, "Avvisade rader");
    rows.push(Row::styled(
        RowStyle::Header,
        vec![Cell::text("Plats"), Cell::text("Orsak")],
    ));
    if control.rejected_rows.is_empty() {
        rows.push(none());
    }
    for issue in &control.rejected_rows {
        rows.push(Row::body(vec![
            Cell::text(&issue.location),
            Cell::text(&issue.message),
        ]));
    }

    for (heading, lines) in [
        ("Ersatta månader", &control.replacements),
        (
            "Regelfel",
            &control.rule_errors.iter().map(ControlIssue::line).collect(),
        ),
        ("Varningar", &control.warnings),
    ] {
        section(&mut rows, heading);
        if lines.is_empty() {
            rows.push(none());
        }
        rows.extend(lines.iter().map(|l| Row::body(vec![Cell::text(l)])));
    }

    budget::unclaimed_section(view, &mut rows, section);

    Sheet {
        name: "Kontroll".to_string(),
        title_lines: view.title_lines("Kontroll"),
        header: Vec::new(),
        rows,
        frozen_columns: 0,
        autofilter: false,
        column_widths: vec![48.0, 40.0, 16.0, 9.0, 11.0, 18.0, 30.0],
        landscape: true,
        charts: Vec::new(),
    }
}

// ------------------------------------------------------------------------------------------
// Cells

/// A value as the controller sees it: rounded half away from zero to the indicator's
/// decimals, so that the digits shown are the ones the status was judged on.
fn shown_value(def: &IndicatorDef, r: &IndicatorResult, value: Option<Decimal>) -> Cell {
    if r.suppressed {
        return Cell::Suppressed;
    }
    match value {
        Some(v) => Cell::Number {
            kind: NumberKind::of_unit(def.unit),
            value: round_half_away(v, def.decimals),
            decimals: def.decimals,
        },
        None => Cell::Missing,
    }
}

/// An underlag value: `..` when the figure is suppressed, else `cell(v)` or `absent`.
fn hidden(
    r: &IndicatorResult,
    v: Option<Decimal>,
    cell: impl Fn(Decimal) -> Cell,
    absent: Cell,
) -> Cell {
    match v {
        _ if r.suppressed => Cell::Suppressed,
        Some(v) => cell(v),
        None => absent,
    }
}

/// Enough decimals to show an unrounded value: at least the indicator's, at most four more.
fn precise_decimals(v: Decimal, decimals: u32) -> u32 {
    v.normalize().scale().clamp(decimals, decimals + 4)
}

fn plain(v: Decimal) -> Cell {
    Cell::Number {
        kind: NumberKind::Plain,
        value: v,
        decimals: v.normalize().scale().min(4),
    }
}

fn target_cell(def: &IndicatorDef, target: Option<&Target>) -> Cell {
    match target {
        Some(Target::Value(v)) => Cell::Number {
            kind: NumberKind::of_unit(def.unit),
            value: *v,
            decimals: v.normalize().scale().max(def.decimals),
        },
        Some(t) => Cell::Text(t.label_sv()),
        None => Cell::Empty,
    }
}

fn comment_cell(r: &IndicatorResult) -> Cell {
    match &r.comment {
        Some(c) if !c.is_empty() => Cell::Text(c.clone()),
        _ => Cell::Empty,
    }
}

fn opt_text(s: Option<&str>) -> Cell {
    s.map_or(Cell::Empty, Cell::text)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

mod budget;
mod keyfigures;
mod monthly;

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn all_text(wb: &Workbook) -> String {
        let mut out = String::new();
        for s in &wb.sheets {
            out.push_str(&s.name);
            out.push('\n');
            for l in s.title_lines.iter().chain(&s.header) {
                out.push_str(l);
                out.push('\n');
            }
            for r in &s.rows {
                for c in &r.cells {
                    if let Cell::Text(t) = c {
                        out.push_str(t);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    #[test]
    fn sheets_are_in_spec_order() {
        let (eval, control) = fixture::sample();
        let wb = build(&eval, &control, Scope::Whole);
        let names: Vec<&str> = wb.sheets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["Sammanfattning", "Per stadsdel", "Underlag", "Kontroll"]
        );
        for s in &wb.sheets {
            assert!(s.name.chars().count() <= 31);
        }
    }

    #[test]
    fn summary_shows_rounded_values_half_away_from_zero() {
        let (eval, control) = fixture::sample();
        let wb = build(&eval, &control, Scope::Whole);
        let first = &wb.sheets[0].rows[0].cells;
        // Total of andel_barn is 0.285 (exact midpoint): shown as 0.29, not 0.28.
        assert_eq!(
            first[2],
            Cell::Number {
                kind: NumberKind::Percent,
                value: dec("0.29"),
                decimals: 2
            }
        );
    }

    #[test]
    fn underlag_keeps_the_unrounded_value() {
        let (eval, control) = fixture::sample();
        let wb = build(&eval, &control, Scope::Whole);
        let underlag = &wb.sheets[2];
        let total_row = underlag
            .rows
            .iter()
            .find(|r| r.cells[3] == Cell::text("Totalt"))
            .unwrap();
        assert_eq!(
            total_row.cells[5],
            Cell::Number {
                kind: NumberKind::Percent,
                value: dec("0.285"),
                decimals: 3
            }
        );
        assert_eq!(total_row.style, RowStyle::Total);
    }

    #[test]
    fn district_scope_mentions_no_other_district() {
        let (eval, control) = fixture::sample();
        let wb = build(&eval, &control, Scope::District(0));
        let text = all_text(&wb);
        assert!(text.contains("Kungsholmen"));
        assert!(!text.contains("Norrmalm"), "{text}");
        assert!(!wb.title.contains("Norrmalm"));
        let per = &wb.sheets[1];
        assert_eq!(
            per.header,
            strings(&[
                "Indikator",
                "Enhet",
                "Kungsholmen",
                "Status",
                "Totalt",
                "Status"
            ])
        );
    }

    #[test]
    fn suppressed_figures_hide_every_number() {
        let (eval, control) = fixture::sample();
        let wb = build(&eval, &control, Scope::Whole);
        // Norrmalm's utbetalt is suppressed.
        let row = wb.sheets[2]
            .rows
            .iter()
            .find(|r| r.cells[1] == Cell::text("utbetalt") && r.cells[3] == Cell::text("Norrmalm"))
            .unwrap();
        for i in [5, 6, 7, 8, 9] {
            assert_eq!(row.cells[i], Cell::Suppressed, "column {i}");
        }
    }
}
