//! Renders a `report::Workbook` as xlsx bytes with rust_xlsxwriter, the only module that
//! uses it. Every `Format` is made once in `Styles`; `format_for` maps a cell kind and row
//! style to one, and `layout` applies widths, panes, filters, titles and print setup.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{
    Chart, ChartFormat, ChartLegendPosition, ChartLine, ChartMarker, ChartMarkerType,
    ChartPatternFill, ChartPatternFillType, ChartSolidFill, ChartType, Color, DocProperties,
    ExcelDateTime, Format, FormatAlign, FormatBorder, Sparkline, SparklineType, Workbook,
    Worksheet, XlsxError,
};

use crate::evaluate::Status;
use crate::render::RenderError;
use crate::report::{self, Cell, NumberKind, RowStyle, Sheet};

/// Every workbook claims this creation time, so the same inputs give the same bytes.
const CREATION: (u16, u8, u8) = (2000, 1, 1);
/// Number formats are made for 0..=MAX_DECIMALS decimals; more are shown as this many.
const MAX_DECIMALS: u32 = 10;
/// Excel's limit on the length of a cell's text.
const MAX_TEXT_CHARS: usize = 32_767;
const DEFAULT_COLUMN_WIDTH: f64 = 12.0;
/// Sheets up to this total width (in characters) are shrunk to one page wide when
/// printed; wider ones (Per stadsdel at national scale) would become unreadable, so
/// they print across pages with the frozen columns repeated.
const FIT_WIDTH_CHARS: f64 = 320.0;

const GREEN: u32 = 0x00_80_3C;
const YELLOW: u32 = 0xB8_86_00;
const RED: u32 = 0xC0_00_00;
const GREY: u32 = 0x80_80_80;
const HEADER_FILL: u32 = 0xD9_E1_F2;
/// Chart series colours, dark enough to tell apart in grey print.
const SERIES_COLORS: [u32; 6] = [
    0x1F_4E_79, 0xC0_00_00, 0x38_76_1D, 0x7F_60_00, 0x70_30_A0, 0x40_40_40,
];
/// Line markers by series: shapes differ where colours do not print.
const MARKERS: [ChartMarkerType; 6] = [
    ChartMarkerType::Circle,
    ChartMarkerType::Square,
    ChartMarkerType::Triangle,
    ChartMarkerType::Diamond,
    ChartMarkerType::X,
    ChartMarkerType::Star,
];

/// Renders the workbook into an in-memory xlsx file.
///
/// Fails only if rust_xlsxwriter rejects something (a sheet name it cannot use, a row or
/// column beyond Excel's limits); the error names the sheet.
pub fn render_workbook(wb: &report::Workbook) -> Result<Vec<u8>, RenderError> {
    streamed_else_in_memory(wb, render)
}

/// `render(wb, Rows::Streamed)`, or, should that panic, `render(wb, Rows::InMemory)`.
/// rust_xlsxwriter writes a streamed sheet's rows to its temporary file with `expect`: a
/// temporary folder that fills up while a workbook is made would otherwise end the run.
/// (Its message still reaches stderr through the panic hook.)
fn streamed_else_in_memory(
    wb: &report::Workbook,
    render: impl Fn(&report::Workbook, Rows) -> Result<Vec<u8>, RenderError>,
) -> Result<Vec<u8>, RenderError> {
    let streamed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render(wb, Rows::Streamed)));
    streamed.unwrap_or_else(|_| render(wb, Rows::InMemory))
}

/// Where a worksheet keeps its rows until the workbook is saved.
#[derive(Copy, Clone, PartialEq, Debug)]
enum Rows {
    /// A sheet without charts writes each row to a temporary file once the next begins
    /// (rust_xlsxwriter's "low memory" mode); a sheet with charts keeps its rows in
    /// memory: a chart's cached values are read from them when the workbook is saved, and
    /// viewers that do not recalculate draw from those. See `add_sheet`.
    Streamed,
    /// Every sheet keeps its rows in memory.
    InMemory,
}

fn render(wb: &report::Workbook, rows: Rows) -> Result<Vec<u8>, RenderError> {
    let styles = &*STYLES;
    let mut book = Workbook::new();
    book.set_zip_compression_level(compression_level(wb));
    if rows == Rows::Streamed
        && let Some(dir) = scratch_dir()
    {
        // Should the folder refuse a file now, the system's temporary folder is used.
        let _ = book.set_tempdir(dir);
    }
    let created = ExcelDateTime::from_ymd(CREATION.0, CREATION.1, CREATION.2).map_err(|e| {
        RenderError::Xlsx {
            part: "document properties".into(),
            source: e,
        }
    })?;
    book.set_properties(
        &DocProperties::new()
            .set_title(&wb.title)
            .set_author("utfall")
            .set_creation_datetime(&created),
    );
    for sheet in &wb.sheets {
        let ws = add_sheet(&mut book, rows == Rows::Streamed && sheet.charts.is_empty());
        write_sheet(ws, sheet, &wb.title, styles).map_err(|e| RenderError::Xlsx {
            part: format!("sheet {:?}", sheet.name),
            source: e,
        })?;
    }
    book.save_to_buffer().map_err(|e| RenderError::Xlsx {
        part: "package".into(),
        source: e,
    })
}

/// Deflate was a fifth of rendering a national run's 291 workbooks at level 3 (Excel's own),
/// and level 1 takes 60 % less time. The many small workbooks (one per district) get level
/// 1, for files about a quarter larger (34 KB instead of 27 KB); a large one (the whole
/// unit's) keeps level 3: at level 1 it would grow by half for little time saved.
fn compression_level(wb: &report::Workbook) -> u8 {
    const LARGE_CELLS: usize = 50_000;
    let cells: usize = wb
        .sheets
        .iter()
        .flat_map(|s| &s.rows)
        .map(|r| r.cells.len())
        .sum();
    if cells > LARGE_CELLS { 3 } else { 1 }
}

/// Where streamed sheets keep their rows while their workbook is made: `/dev/shm` (memory)
/// where the system has it and TMPDIR does not name another folder, else the system's
/// temporary folder. Each streamed sheet is an unnamed file that lives a few milliseconds
/// and holds a few KB; made and dropped on a disk file system (ext4: a journalled inode
/// each), the 1 750 of a national run were ≈ 8 % of rendering and its most variable part.
/// In memory: rendering the 292 workbooks in parallel, median of 16 rounds 817 → 648 ms,
/// best 620 → 574 ms (in-process probe, alternating rounds); in whole national runs the
/// render stage 0.637 → 0.623 s (6 + 6 alternating).
fn scratch_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        scratch_dir_given(std::env::var_os("TMPDIR").is_some(), Path::new("/dev/shm"))
    })
    .as_deref()
}

/// `memory` when it is a folder and no TMPDIR is set.
fn scratch_dir_given(tmpdir_set: bool, memory: &Path) -> Option<PathBuf> {
    (!tmpdir_set && cfg!(target_os = "linux") && memory.is_dir()).then(|| memory.to_path_buf())
}

/// A new worksheet; `streamed`: one whose rows go to a temporary file as they are finished
/// (rust_xlsxwriter's "low memory" mode), so that rows must be written in order, each
/// finished, formats included, before the next is begun. rust_xlsxwriter starts a thread
/// to assemble every other worksheet when the workbook is saved: for a national run's 291
/// workbooks of seven small sheets, 2 000 threads and about a quarter of rendering. Where
/// no temporary file can be made, an ordinary worksheet (the same content).
fn add_sheet(book: &mut Workbook, streamed: bool) -> &mut Worksheet {
    if !streamed || book.add_worksheet_with_low_memory().is_err() {
        return book.add_worksheet();
    }
    let last = book.worksheets_mut().len() - 1;
    &mut book.worksheets_mut()[last]
}

fn write_sheet(
    ws: &mut Worksheet,
    sheet: &Sheet,
    book_title: &str,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let first_body_row = layout(ws, sheet, book_title, styles)?;
    let mut formats = Vec::new();
    for (i, row) in sheet.rows.iter().enumerate() {
        let r = first_body_row + i as u32;
        formats.clear();
        for (c, cell) in row.cells.iter().enumerate() {
            formats.push(write_cell(ws, r, c as u16, cell, row.style, styles)?);
        }
        apply_row_formats(ws, r, &formats)?;
    }
    let name = sheet_name(&sheet.name);
    for chart in &sheet.charts {
        let drawn = draw_chart(&name, first_body_row, chart);
        ws.insert_chart(first_body_row + chart.anchor_row, chart.anchor_col, &drawn)?;
    }
    Ok(())
}

/// Applies a just written row's formats (by column; `None` is the default, nothing to
/// apply), before the next row is begun. Given a format, rust_xlsxwriter hashes all of it
/// to find its style number, and per cell that was a sixth of rendering a national run:
/// a run of equal formats is applied at once and hashed once. Every format is first met
/// where it was when cells were written one by one, so the style numbers, and the files,
/// are the same.
fn apply_row_formats(
    ws: &mut Worksheet,
    row: u32,
    formats: &[Option<&Format>],
) -> Result<(), XlsxError> {
    let mut c = 0;
    while c < formats.len() {
        let Some(format) = formats[c] else {
            c += 1;
            continue;
        };
        let width = formats[c..]
            .iter()
            .take_while(|f| f.is_some_and(|f| std::ptr::eq(f, format)))
            .count();
        ws.set_range_format(row, c as u16, row, (c + width - 1) as u16, format)?;
        c += width;
    }
    Ok(())
}

/// A chart over the sheet's own cells, sized and labelled to stay readable in print
/// (black-and-white too: the lines carry markers, the columns differ in fill).
fn draw_chart(sheet: &str, first_body_row: u32, spec: &report::Chart) -> Chart {
    let range = |r: &report::CellRange| {
        (
            sheet,
            first_body_row + r.first_row,
            r.col,
            first_body_row + r.last_row,
            r.col,
        )
    };
    let mut chart = Chart::new(match spec.kind {
        report::ChartKind::Line => ChartType::Line,
        report::ChartKind::Column => ChartType::Column,
    });
    for (i, s) in spec.series.iter().enumerate() {
        let color = Color::RGB(SERIES_COLORS[i % SERIES_COLORS.len()]);
        let series = chart
            .add_series()
            .set_name(s.name.as_str())
            .set_categories(range(&spec.categories))
            .set_values(range(&s.values));
        match spec.kind {
            report::ChartKind::Line => {
                series
                    .set_format(
                        ChartFormat::new()
                            .set_line(ChartLine::new().set_color(color).set_width(2.25)),
                    )
                    .set_marker(
                        ChartMarker::new()
                            .set_type(MARKERS[i % MARKERS.len()])
                            .set_size(6)
                            .set_format(
                                ChartFormat::new()
                                    .set_solid_fill(ChartSolidFill::new().set_color(color)),
                            ),
                    );
            }
            report::ChartKind::Column => {
                let mut format = ChartFormat::new();
                if i == 0 {
                    format.set_solid_fill(ChartSolidFill::new().set_color(color));
                } else {
                    // Hatched, so it differs from the first series without colour.
                    format
                        .set_pattern_fill(
                            ChartPatternFill::new()
                                .set_pattern(ChartPatternFillType::DiagonalStripesDarkUpwards)
                                .set_foreground_color(color)
                                .set_background_color(Color::White),
                        )
                        .set_border(ChartLine::new().set_color(color));
                }
                series.set_format(&mut format);
            }
        }
    }
    chart.title().set_name(&spec.title);
    let y_axis = chart
        .y_axis()
        .set_name(&spec.y_axis)
        .set_num_format("#,##0");
    if spec.kind == report::ChartKind::Column {
        // Columns compare heights: an axis not starting at zero would exaggerate.
        y_axis.set_min(0);
    }
    chart.legend().set_position(ChartLegendPosition::Bottom);
    chart.set_width(spec.width).set_height(spec.height);
    chart
}

/// Applies the sheet's layout and writes its title lines and header row. Returns the row
/// where the body starts.
fn layout(
    ws: &mut Worksheet,
    sheet: &Sheet,
    book_title: &str,
    styles: &Styles,
) -> Result<u32, XlsxError> {
    ws.set_name(sheet_name(&sheet.name))?;

    let columns = sheet
        .rows
        .iter()
        .map(|r| r.cells.len())
        .chain([sheet.header.len(), 1])
        .max()
        .unwrap_or(1);
    let mut total_width = 0.0;
    for c in 0..columns {
        let width = sheet
            .column_widths
            .get(c)
            .copied()
            .unwrap_or(DEFAULT_COLUMN_WIDTH);
        ws.set_column_width(c as u16, width)?;
        total_width += width;
    }

    for (i, line) in sheet.title_lines.iter().enumerate() {
        let format = if i == 0 {
            &styles.title
        } else {
            &styles.subtitle
        };
        ws.write_string_with_format(i as u32, 0, clip(line), format)?;
    }
    let title_rows = sheet.title_lines.len() as u32;
    // One empty row between the title lines and the table.
    let header_row = if title_rows > 0 { title_rows + 1 } else { 0 };

    let first_body_row = if sheet.header.is_empty() {
        header_row
    } else {
        let mut lines = 1.0f64;
        for (c, text) in sheet.header.iter().enumerate() {
            write_text(ws, header_row, c as u16, clip(text), styles)?;
            let width = sheet
                .column_widths
                .get(c)
                .copied()
                .unwrap_or(DEFAULT_COLUMN_WIDTH)
                .max(1.0);
            lines = lines.max((text.chars().count() as f64 / (width - 1.0).max(1.0)).ceil());
        }
        // One format for the whole row: see `BodyFormats`.
        ws.set_range_format(
            header_row,
            0,
            header_row,
            sheet.header.len() as u16 - 1,
            &styles.header,
        )?;
        // Wrapped headers need a taller row, or the words spill over the first data row.
        ws.set_row_height(header_row, 15.0 * lines.min(4.0))?;
        ws.set_freeze_panes(header_row + 1, sheet.frozen_columns)?;
        ws.set_repeat_rows(header_row, header_row)?;
        if sheet.autofilter {
            let last_row = header_row + sheet.rows.len() as u32;
            ws.autofilter(header_row, 0, last_row, sheet.header.len() as u16 - 1)?;
        }
        header_row + 1
    };

    if sheet.landscape {
        ws.set_landscape();
    }
    ws.set_paper_size(9); // A4
    if total_width <= FIT_WIDTH_CHARS {
        ws.set_print_fit_to_pages(1, 0);
    } else if sheet.frozen_columns > 0 {
        ws.set_repeat_columns(0, sheet.frozen_columns - 1)?;
    }
    ws.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    ws.set_header(format!("&L{}&R&A", header_text(book_title)));
    ws.set_footer("&CSida &P (&N)");
    Ok(first_body_row)
}

/// Writes a cell's value without its format and returns the format to apply later
/// (`None`: the default, nothing to apply). See `BodyFormats`.
fn write_cell<'a>(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    style: RowStyle,
    styles: &'a Styles,
) -> Result<Option<&'a Format>, XlsxError> {
    let format = format_for(cell, style, styles);
    let format = match cell {
        Cell::Text(text) => {
            write_text(ws, row, col, clip(text), styles)?;
            format
        }
        Cell::Number { kind, value, .. } => match excel_number(*kind, *value) {
            Some(n) => {
                ws.write_number(row, col, n)?;
                format
            }
            None => {
                ws.write_string(row, col, "saknas")?;
                &styles.missing
            }
        },
        Cell::Status(status) => {
            ws.write_string(row, col, status.symbol())?;
            format
        }
        Cell::StatusText(status) => {
            ws.write_string(row, col, status.label_sv())?;
            format
        }
        Cell::Suppressed => {
            ws.write_string(row, col, "..")?;
            format
        }
        Cell::Missing => {
            ws.write_string(row, col, "saknas")?;
            format
        }
        Cell::Sparkline {
            first_col,
            last_col,
        } => {
            let name = ws.name();
            let sparkline = Sparkline::new()
                .set_range((name.as_str(), row, *first_col, row, *last_col))
                .set_type(SparklineType::Line)
                .show_markers(true)
                .set_sparkline_color(Color::RGB(SERIES_COLORS[0]))
                .set_line_weight(1.25);
            ws.add_sparkline(row, col, &sparkline)?;
            return Ok(None);
        }
        Cell::Empty => {
            // A blank keeps a total row's border unbroken; elsewhere nothing is written.
            if !matches!(style, RowStyle::Total | RowStyle::Header) {
                return Ok(None);
            }
            // Written in the default format: its range (the sheet's dimension) counts it.
            ws.write_blank(row, col, styles.plain())?;
            format
        }
    };
    Ok((!std::ptr::eq(format, styles.plain())).then_some(format))
}

/// Writes text without a format. An empty text becomes a blank in the default format, as
/// rust_xlsxwriter makes of an empty text with a format: it counts in the sheet's range,
/// and the format applied afterwards is kept.
fn write_text(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    text: &str,
    styles: &Styles,
) -> Result<(), XlsxError> {
    if text.is_empty() {
        ws.write_blank(row, col, styles.plain())?;
    } else {
        ws.write_string(row, col, text)?;
    }
    Ok(())
}

/// The number Excel stores: percentages as fractions (0.45 % → 0.0045), converted to f64
/// only here, at the last moment.
fn excel_number(kind: NumberKind, value: Decimal) -> Option<f64> {
    let value = match kind {
        NumberKind::Percent => value.checked_div(Decimal::ONE_HUNDRED)?,
        _ => value,
    };
    value.to_f64().filter(|f| f.is_finite())
}

/// Which row look a row style uses for text and numbers.
#[derive(Copy, Clone)]
enum Look {
    Normal = 0,
    Subtotal = 1,
    Total = 2,
}

const LOOKS: [Look; 3] = [Look::Normal, Look::Subtotal, Look::Total];

/// Made once per run: every workbook uses the same formats (a national run renders 292).
static STYLES: std::sync::LazyLock<Styles> = std::sync::LazyLock::new(Styles::new);

/// Every format a workbook uses, made once.
struct Styles {
    title: Format,
    subtitle: Format,
    header: Format,
    section: Format,
    /// By `Look`.
    text: [Format; 3],
    /// By `Look`, then decimals: `#,##0.00`.
    grouped: [Vec<Format>; 3],
    /// By `Look`, then decimals: `0.00%`.
    percent: [Vec<Format>; 3],
    /// By `status_index`, for the symbol and for the words.
    status_symbol: [Format; 6],
    status_text: [Format; 6],
    missing: Format,
    suppressed: Format,
}

impl Styles {
    fn new() -> Styles {
        let look_base = |look: Look| match look {
            Look::Normal => Format::new(),
            Look::Subtotal => Format::new().set_bold(),
            Look::Total => Format::new().set_bold().set_border_top(FormatBorder::Thin),
        };
        let numbers = |pattern: fn(u32) -> String| {
            LOOKS.map(|look| {
                (0..=MAX_DECIMALS)
                    .map(|d| look_base(look).set_num_format(pattern(d)))
                    .collect::<Vec<_>>()
            })
        };
        let status_color = |i: usize| match i {
            0 => GREEN,
            1 => YELLOW,
            2 | 5 => RED,
            _ => GREY,
        };
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            subtitle: Format::new().set_font_size(11),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Top)
                .set_background_color(Color::RGB(HEADER_FILL))
                .set_border_bottom(FormatBorder::Thin),
            section: Format::new().set_bold().set_font_size(12),
            text: LOOKS.map(look_base),
            grouped: numbers(|d| decimals_pattern("#,##0", d, "")),
            percent: numbers(|d| decimals_pattern("0", d, "%")),
            status_symbol: std::array::from_fn(|i| {
                Format::new()
                    .set_bold()
                    .set_font_size(12)
                    .set_align(FormatAlign::Center)
                    .set_font_color(Color::RGB(status_color(i)))
            }),
            status_text: std::array::from_fn(|i| {
                Format::new().set_font_color(Color::RGB(status_color(i)))
            }),
            missing: Format::new()
                .set_italic()
                .set_align(FormatAlign::Right)
                .set_font_color(Color::RGB(GREY)),
            suppressed: Format::new()
                .set_align(FormatAlign::Right)
                .set_font_color(Color::RGB(GREY)),
        }
    }

    /// Body text's format: the workbook default.
    fn plain(&self) -> &Format {
        &self.text[Look::Normal as usize]
    }
}

fn decimals_pattern(integer: &str, decimals: u32, suffix: &str) -> String {
    if decimals == 0 {
        format!("{integer}{suffix}")
    } else {
        format!("{integer}.{}{suffix}", "0".repeat(decimals as usize))
    }
}

fn status_index(status: Status) -> usize {
    match status {
        Status::Met => 0,
        Status::PartlyMet => 1,
        Status::NotMet => 2,
        Status::NoTarget => 3,
        Status::Missing => 4,
        Status::Error => 5,
    }
}

/// The one place that decides how a cell looks.
fn format_for<'a>(cell: &Cell, style: RowStyle, styles: &'a Styles) -> &'a Format {
    let look = match style {
        RowStyle::Body | RowStyle::Blank => Look::Normal,
        RowStyle::Subtotal => Look::Subtotal,
        RowStyle::Total => Look::Total,
        RowStyle::Header => return &styles.header,
        RowStyle::Section => return &styles.section,
    } as usize;
    match cell {
        Cell::Text(_) | Cell::Empty => &styles.text[look],
        Cell::Number { kind, decimals, .. } => {
            let family = match kind {
                NumberKind::Percent => &styles.percent[look],
                _ => &styles.grouped[look],
            };
            let d = (*decimals).min(MAX_DECIMALS) as usize;
            &family[d]
        }
        Cell::Status(s) => &styles.status_symbol[status_index(*s)],
        Cell::StatusText(s) => &styles.status_text[status_index(*s)],
        Cell::Suppressed => &styles.suppressed,
        Cell::Missing => &styles.missing,
        Cell::Sparkline { .. } => &styles.text[look],
    }
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, not starting or
/// ending with an apostrophe.
fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '-',
            c => c,
        })
        .take(31)
        .collect();
    let cleaned = cleaned.trim_matches('\'').trim();
    if cleaned.is_empty() {
        "Blad".to_string()
    } else {
        cleaned.to_string()
    }
}

/// Text for a page header: `&` doubled (it starts a code), kept well under Excel's 255.
fn header_text(s: &str) -> String {
    s.chars().take(100).collect::<String>().replace('&', "&&")
}

fn clip(s: &str) -> &str {
    // No shorter string has that many characters: skip counting them.
    if s.len() <= MAX_TEXT_CHARS {
        return s;
    }
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::{Cursor, Read};

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

    use super::*;
    use crate::report::{Scope, build, fixture};

    /// `Sheet!A1 = F:0.0029` lines, one per non-empty cell, sheets in workbook order.
    fn dump(bytes: &[u8]) -> (Vec<String>, BTreeMap<String, String>) {
        let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
        let names = book.sheet_names();
        let mut cells = BTreeMap::new();
        for name in &names {
            let range = book.worksheet_range(name).unwrap();
            let (r0, c0) = range.start().unwrap_or((0, 0));
            for (r, c, v) in range.used_cells() {
                let text = match v {
                    Data::Float(f) => format!("F:{f}"),
                    Data::Int(i) => format!("I:{i}"),
                    Data::String(s) => format!("S:{s}"),
                    other => format!("?:{other:?}"),
                };
                let addr = format!("{name}!{}{}", col_letter(c as u32 + c0), r as u32 + r0 + 1);
                cells.insert(addr, text);
            }
        }
        (names, cells)
    }

    fn col_letter(c: u32) -> String {
        let mut c = c + 1;
        let mut s = String::new();
        while c > 0 {
            let m = (c - 1) % 26;
            s.insert(0, (b'A' + m as u8) as char);
            c = (c - 1) / 26;
        }
        s
    }

    fn get<'a>(cells: &'a BTreeMap<String, String>, addr: &str) -> &'a str {
        cells.get(addr).map_or("<empty>", String::as_str)
    }

    fn whole() -> Vec<u8> {
        let (eval, control) = fixture::sample();
        render_workbook(&build(&eval, &control, Scope::Whole)).unwrap()
    }

    /// Every xml part of the package, decompressed.
    fn xml_parts(bytes: &[u8]) -> Vec<(String, String)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).unwrap();
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                (String::from_utf8_lossy(f.name_raw()).into_owned(), s)
            })
            .collect()
    }

    #[test]
    fn sheets_and_summary_read_back() {
        let (names, c) = dump(&whole());
        assert_eq!(
            names,
            ["Sammanfattning", "Per stadsdel", "Underlag", "Kontroll"]
        );
        assert_eq!(
            get(&c, "Sammanfattning!A1"),
            "S:Uppföljning ekonomiskt bistånd – Sammanfattning"
        );
        assert_eq!(get(&c, "Sammanfattning!A2"), "S:Period: januari–maj 2019");
        assert_eq!(get(&c, "Sammanfattning!A3"), "S:Hela enheten");
        // Header on row 6 (4 title lines, one blank), body from row 7.
        assert_eq!(get(&c, "Sammanfattning!A6"), "S:Indikator");
        assert_eq!(get(&c, "Sammanfattning!H6"), "S:Status");
        // andel_barn total 0.285 % → shown rounded half away: 0.29 % → stored 0.0029.
        assert_eq!(get(&c, "Sammanfattning!C7"), "F:0.0029");
        assert_eq!(get(&c, "Sammanfattning!D7"), "F:0.003");
        assert_eq!(get(&c, "Sammanfattning!E7"), "F:0.005");
        assert_eq!(get(&c, "Sammanfattning!F7"), "F:0.028");
        assert_eq!(get(&c, "Sammanfattning!G7"), "S:januari–maj 2019");
        assert_eq!(get(&c, "Sammanfattning!H7"), "S:●");
        assert_eq!(get(&c, "Sammanfattning!I7"), "S:Uppfylls helt");
        // utbetalt: kronor rounded to whole, target "minska".
        assert_eq!(get(&c, "Sammanfattning!C8"), "F:1235068");
        assert_eq!(get(&c, "Sammanfattning!E8"), "S:minska");
        assert_eq!(get(&c, "Sammanfattning!H8"), "S:○");
        assert_eq!(get(&c, "Sammanfattning!I8"), "S:Uppfylls ej");
        // The comment starting with = is text, not a formula.
        assert_eq!(
            get(&c, "Sammanfattning!J9"),
            "S:=HYPERLINK(\"http://example.com\")"
        );
    }

    #[test]
    fn per_district_has_values_and_flags_for_every_column() {
        let (_, c) = dump(&whole());
        let header: Vec<&str> = ["A", "B", "C", "D", "E", "F", "G", "H"]
            .iter()
            .map(|col| get(&c, &format!("Per stadsdel!{col}6")))
            .collect();
        assert_eq!(
            header,
            [
                "S:Indikator",
                "S:Enhet",
                "S:Kungsholmen",
                "S:Status",
                "S:Norrmalm",
                "S:Status",
                "S:Totalt",
                "S:Status"
            ]
        );
        // andel_barn: 0.3125 → 0.31 %, 0.52 %, 0.285 → 0.29 %.
        assert_eq!(get(&c, "Per stadsdel!C7"), "F:0.0031");
        assert_eq!(get(&c, "Per stadsdel!D7"), "S:●");
        assert_eq!(get(&c, "Per stadsdel!E7"), "F:0.0052");
        assert_eq!(get(&c, "Per stadsdel!F7"), "S:◐");
        // utbetalt Norrmalm suppressed.
        assert_eq!(get(&c, "Per stadsdel!E8"), "S:..");
        assert_eq!(get(&c, "Per stadsdel!F8"), "S:–");
        // sommarjobb: Kungsholmen missing, Norrmalm rule error.
        assert_eq!(get(&c, "Per stadsdel!C9"), "S:saknas");
        assert_eq!(get(&c, "Per stadsdel!D9"), "S:..");
        assert_eq!(get(&c, "Per stadsdel!E9"), "S:saknas");
        assert_eq!(get(&c, "Per stadsdel!F9"), "S:✖");
        assert_eq!(get(&c, "Per stadsdel!G9"), "F:400");
    }

    #[test]
    fn underlag_holds_unrounded_values_and_underlag() {
        let (_, c) = dump(&whole());
        // Row 7: andel_barn Kungsholmen.
        assert_eq!(get(&c, "Underlag!B7"), "S:andel_barn");
        assert_eq!(get(&c, "Underlag!D7"), "S:Kungsholmen");
        assert_eq!(get(&c, "Underlag!E7"), "S:2019-05");
        assert_eq!(get(&c, "Underlag!F7"), "F:0.003125");
        assert_eq!(get(&c, "Underlag!G7"), "F:0.0031");
        assert_eq!(get(&c, "Underlag!H7"), "F:12.5");
        assert_eq!(get(&c, "Underlag!I7"), "F:4000");
        assert_eq!(get(&c, "Underlag!J7"), "F:0.004");
        assert_eq!(get(&c, "Underlag!K7"), "F:0.006");
        assert_eq!(get(&c, "Underlag!L7"), "S:Uppfylls helt");
        assert_eq!(get(&c, "Underlag!D9"), "S:Totalt");
        // Kronor unrounded in Underlag, rounded beside it.
        assert_eq!(get(&c, "Underlag!F10"), "F:1234567.5");
        assert_eq!(get(&c, "Underlag!G10"), "F:1234568");
        assert_eq!(get(&c, "Underlag!I10"), "<empty>");
    }

    #[test]
    fn every_status_symbol_and_word_appears() {
        let (_, c) = dump(&whole());
        let values: Vec<&String> = c.values().collect();
        for status in [
            Status::Met,
            Status::PartlyMet,
            Status::NotMet,
            Status::NoTarget,
            Status::Missing,
            Status::Error,
        ] {
            let symbol = format!("S:{}", status.symbol());
            let words = format!("S:{}", status.label_sv());
            assert!(values.contains(&&symbol), "{symbol}");
            assert!(values.contains(&&words), "{words}");
        }
    }

    #[test]
    fn kontroll_lists_files_rejections_and_rule_errors() {
        let (_, c) = dump(&whole());
        let values: Vec<&str> = c
            .iter()
            .filter(|(k, _)| k.starts_with("Kontroll!"))
            .map(|(_, v)| v.as_str())
            .collect();
        for expected in [
            "S:sha256:0123abcd",
            "S:samples/utbetalningar_2019-05.xlsx",
            "F:1234",
            "S:hoppades över: okänd rubrikrad",
            "S:samples/utbetalningar_2019-05.xlsx [Blad1!D14]",
            "S:rules/mal.rhai:3:5: division by zero",
            "S:april 2019 saknar utbetalningar",
            "S:Ersatta månader",
        ] {
            assert!(values.contains(&expected), "{expected} in {values:?}");
        }
    }

    #[test]
    fn district_workbook_names_no_other_district_anywhere() {
        let (eval, control) = fixture::sample();
        let bytes = render_workbook(&build(&eval, &control, Scope::District(0))).unwrap();
        let (_, c) = dump(&bytes);
        assert!(c.values().any(|v| v.contains("Kungsholmen")));
        assert!(!c.values().any(|v| v.contains("Norrmalm")));
        assert_eq!(get(&c, "Sammanfattning!A3"), "S:Stadsdel: Kungsholmen");
        // Kungsholmen's andel_barn 0.3125 → 0.31 %.
        assert_eq!(get(&c, "Sammanfattning!C7"), "F:0.0031");
        assert_eq!(get(&c, "Per stadsdel!E6"), "S:Totalt");
        // Nor in any part of the package: shared strings, defined names, properties.
        for (part, xml) in xml_parts(&bytes) {
            assert!(!xml.contains("Norrmalm"), "{part} mentions Norrmalm");
        }
    }

    #[test]
    fn text_is_never_a_formula() {
        let bytes = whole();
        for (part, xml) in xml_parts(&bytes) {
            assert!(!xml.contains("<f>"), "{part} holds a formula");
        }
    }

    #[test]
    fn same_input_gives_same_bytes() {
        assert_eq!(whole(), whole());
    }

    #[test]
    fn print_setup_and_panes_are_written() {
        let bytes = whole();
        let parts = xml_parts(&bytes);
        let sheet1 = &parts
            .iter()
            .find(|(n, _)| n == "xl/worksheets/sheet1.xml")
            .unwrap()
            .1;
        assert!(sheet1.contains("paperSize=\"9\""), "{sheet1}");
        assert!(sheet1.contains("orientation=\"landscape\""));
        assert!(sheet1.contains("fitToHeight=\"0\""));
        assert!(sheet1.contains("state=\"frozen\""));
        assert!(sheet1.contains("&amp;P (&amp;N)"));
        let workbook = &parts
            .iter()
            .find(|(n, _)| n == "xl/workbook.xml")
            .unwrap()
            .1;
        assert!(workbook.contains("_xlnm._FilterDatabase"));
        assert!(workbook.contains("_xlnm.Print_Titles"));
        let core = &parts
            .iter()
            .find(|(n, _)| n == "docProps/core.xml")
            .unwrap()
            .1;
        assert!(core.contains("2000-01-01T00:00:00Z"), "{core}");
    }

    #[test]
    fn national_scale_per_district_prints_across_pages() {
        let eval = fixture::wide(290, 19);
        let (_, control) = fixture::sample();
        let bytes = render_workbook(&build(&eval, &control, Scope::Whole)).unwrap();
        let (_, c) = dump(&bytes);
        // 2 + 2 × 290 columns, then Totalt.
        assert_eq!(get(&c, "Per stadsdel!C6"), "S:Kommun 000");
        let totalt = format!("Per stadsdel!{}6", col_letter(2 + 2 * 290));
        assert_eq!(get(&c, &totalt), "S:Totalt");
        let parts = xml_parts(&bytes);
        let per = &parts
            .iter()
            .find(|(n, _)| n == "xl/worksheets/sheet2.xml")
            .unwrap()
            .1;
        assert!(!per.contains("fitToPage"));
        let workbook = &parts
            .iter()
            .find(|(n, _)| n == "xl/workbook.xml")
            .unwrap()
            .1;
        assert!(
            workbook.contains("'Per stadsdel'!$A:$B,'Per stadsdel'!$6:$6"),
            "{workbook}"
        );
    }

    #[test]
    fn sheet_names_are_made_acceptable() {
        assert_eq!(sheet_name("a/b[c]:d*e?f\\g"), "a-b-c--d-e-f-g");
        assert_eq!(sheet_name(&"x".repeat(40)).len(), 31);
        assert_eq!(sheet_name("''"), "Blad");
    }

    #[test]
    fn sparklines_and_charts_are_drawn_from_the_sheet() {
        let number = |v: i64| Cell::Number {
            kind: NumberKind::Count,
            value: Decimal::from(v),
            decimals: 0,
        };
        let range = |col| report::CellRange {
            first_row: 0,
            last_row: 2,
            col,
        };
        let sheet = Sheet {
            name: "Trend".into(),
            title_lines: vec!["T".into()],
            header: vec!["År".into(), "Värde".into()],
            rows: (0..3)
                .map(|i| {
                    report::Row::body(vec![
                        Cell::text(format!("{}", 2017 + i)),
                        number(10 + i),
                        Cell::Sparkline {
                            first_col: 0,
                            last_col: 1,
                        },
                    ])
                })
                .collect(),
            frozen_columns: 0,
            autofilter: false,
            column_widths: Vec::new(),
            landscape: false,
            charts: vec![report::Chart {
                kind: report::ChartKind::Line,
                title: "Värde".into(),
                y_axis: "st".into(),
                categories: range(0),
                series: vec![report::ChartSeries {
                    name: "Värde".into(),
                    values: range(1),
                }],
                anchor_row: 0,
                anchor_col: 3,
                width: 400,
                height: 300,
            }],
        };
        let bytes = render_workbook(&report::Workbook {
            title: "T".into(),
            sheets: vec![sheet],
        })
        .unwrap();
        let parts = xml_parts(&bytes);
        let part = |name: &str| &parts.iter().find(|(n, _)| n == name).unwrap().1;
        // Body from row 4 (title, blank, header): the sparkline of row 4 reads A4:B4.
        assert!(part("xl/worksheets/sheet1.xml").contains("<xm:f>Trend!A4:B4</xm:f>"));
        let chart = part("xl/charts/chart1.xml");
        assert!(chart.contains("<c:f>Trend!$B$4:$B$6</c:f>"), "{chart}");
        assert!(chart.contains("<c:f>Trend!$A$4:$A$6</c:f>"), "{chart}");
    }

    /// The workbook as it was written before `apply_row_formats`: every body cell with its
    /// own format, one at a time (in sheets of the same kinds).
    fn formatted_cell_by_cell(wb: &report::Workbook) -> Vec<u8> {
        let styles = &*STYLES;
        let mut book = Workbook::new();
        book.set_zip_compression_level(compression_level(wb));
        let created = ExcelDateTime::from_ymd(CREATION.0, CREATION.1, CREATION.2).unwrap();
        book.set_properties(
            &DocProperties::new()
                .set_title(&wb.title)
                .set_author("utfall")
                .set_creation_datetime(&created),
        );
        for sheet in &wb.sheets {
            let ws = add_sheet(&mut book, sheet.charts.is_empty());
            let first = layout(ws, sheet, &wb.title, styles).unwrap();
            for (i, row) in sheet.rows.iter().enumerate() {
                let r = first + i as u32;
                for (c, cell) in row.cells.iter().enumerate() {
                    let c = c as u16;
                    let f = format_for(cell, row.style, styles);
                    match cell {
                        Cell::Text(t) => ws.write_string_with_format(r, c, t, f),
                        Cell::Number { kind, value, .. } => match excel_number(*kind, *value) {
                            Some(n) => ws.write_number_with_format(r, c, n, f),
                            None => ws.write_string_with_format(r, c, "saknas", &styles.missing),
                        },
                        Cell::Status(s) => ws.write_string_with_format(r, c, s.symbol(), f),
                        Cell::StatusText(s) => ws.write_string_with_format(r, c, s.label_sv(), f),
                        Cell::Suppressed => ws.write_string_with_format(r, c, "..", f),
                        Cell::Missing => ws.write_string_with_format(r, c, "saknas", f),
                        Cell::Empty if matches!(row.style, RowStyle::Total | RowStyle::Header) => {
                            ws.write_blank(r, c, f)
                        }
                        Cell::Empty | Cell::Sparkline { .. } => continue,
                    }
                    .unwrap();
                }
            }
        }
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn formats_applied_as_runs_give_the_bytes_of_formats_cell_by_cell() {
        let number = |v: &str, kind, decimals| Cell::Number {
            kind,
            value: v.parse().unwrap(),
            decimals,
        };
        let row = |style, cells| report::Row { cells, style };
        // Runs across and down, formats met first in the body, blanks in every row
        // style, an empty text in the default format, and a last row of blanks only.
        let mixed = Sheet {
            name: "Blandat".into(),
            title_lines: vec!["T".into(), "U".into()],
            header: vec!["A".into(), String::new(), "C".into(), "D".into()],
            rows: vec![
                row(RowStyle::Section, vec![Cell::text("Avsnitt")]),
                row(
                    RowStyle::Header,
                    vec![Cell::text("x"), Cell::Empty, Cell::text("")],
                ),
                row(
                    RowStyle::Body,
                    vec![
                        Cell::text(""),
                        number("1.5", NumberKind::Kronor, 1),
                        number("2.5", NumberKind::Kronor, 1),
                        Cell::Status(Status::Met),
                    ],
                ),
                row(
                    RowStyle::Body,
                    vec![
                        Cell::text("b"),
                        number("1.5", NumberKind::Kronor, 1),
                        number("2.5", NumberKind::Kronor, 1),
                        Cell::Status(Status::NotMet),
                    ],
                ),
                row(
                    RowStyle::Subtotal,
                    vec![
                        Cell::text("s"),
                        number("3", NumberKind::Percent, 2),
                        Cell::Suppressed,
                        Cell::Missing,
                    ],
                ),
                row(
                    RowStyle::Total,
                    vec![
                        Cell::text("t"),
                        Cell::Empty,
                        number("4", NumberKind::Count, 0),
                    ],
                ),
                row(RowStyle::Blank, vec![]),
                row(
                    RowStyle::Total,
                    vec![Cell::Empty, Cell::text(""), Cell::Empty],
                ),
            ],
            frozen_columns: 1,
            autofilter: false,
            column_widths: Vec::new(),
            landscape: false,
            charts: Vec::new(),
        };
        let mut books = fixture_books();
        books.push(report::Workbook {
            title: "T".into(),
            sheets: vec![mixed],
        });
        for wb in &books {
            assert_eq!(
                render_workbook(wb).unwrap(),
                formatted_cell_by_cell(wb),
                "{}",
                wb.title
            );
        }
    }

    /// A streamed worksheet is the one kept in memory without its rows' optional `spans`
    /// hints, and every other part is the same byte for byte: no cell, format, size or
    /// print setting is lost by writing rows out as they are finished.
    #[test]
    fn streamed_sheets_hold_what_sheets_kept_in_memory_hold() {
        for wb in &fixture_books() {
            let streamed = xml_parts(&render(wb, Rows::Streamed).unwrap());
            let kept = xml_parts(&render(wb, Rows::InMemory).unwrap());
            let names = |parts: &[(String, String)]| -> Vec<String> {
                parts.iter().map(|(n, _)| n.clone()).collect()
            };
            assert_eq!(names(&streamed), names(&kept));
            let kept: BTreeMap<String, String> = kept.into_iter().collect();
            for (name, s) in &streamed {
                let k = &kept[name];
                let sheet = wb
                    .sheets
                    .iter()
                    .enumerate()
                    .find(|(i, _)| *name == format!("xl/worksheets/sheet{}.xml", i + 1));
                match sheet {
                    Some((_, sheet)) if sheet.charts.is_empty() => {
                        assert!(
                            k.contains(" spans=\"") && !s.contains(" spans=\""),
                            "{name}"
                        );
                        assert_eq!(*s, without_attribute(k, " spans=\""), "{name}");
                    }
                    _ => assert_eq!(s, k, "{} {name}", wb.title),
                }
            }
        }
    }

    /// The whole and a district workbook of the small fixture and of a wide one.
    fn fixture_books() -> Vec<report::Workbook> {
        let (eval, control) = fixture::sample();
        let wide = fixture::wide(30, 7);
        vec![
            build(&eval, &control, Scope::Whole),
            build(&eval, &control, Scope::District(1)),
            build(&wide, &control, Scope::Whole),
            build(&wide, &control, Scope::District(3)),
        ]
    }

    #[test]
    fn a_streamed_render_that_panics_is_made_again_in_memory() {
        for wb in &fixture_books() {
            let failing = |wb: &report::Workbook, rows: Rows| {
                assert!(
                    rows == Rows::InMemory,
                    "a temporary file could not be written"
                );
                render(wb, rows)
            };
            assert_eq!(
                streamed_else_in_memory(wb, failing).unwrap(),
                render(wb, Rows::InMemory).unwrap()
            );
            let working = |wb: &report::Workbook, rows: Rows| {
                assert!(rows == Rows::Streamed, "made again though nothing failed");
                render(wb, rows)
            };
            assert_eq!(
                streamed_else_in_memory(wb, working).unwrap(),
                render(wb, Rows::Streamed).unwrap()
            );
        }
    }

    /// `xml` without any attribute that starts with `attr` (`name="`).
    fn without_attribute(xml: &str, attr: &str) -> String {
        let mut out = String::with_capacity(xml.len());
        let mut rest = xml;
        while let Some(at) = rest.find(attr) {
            out.push_str(&rest[..at]);
            let value = &rest[at + attr.len()..];
            rest = value.find('"').map_or("", |end| &value[end + 1..]);
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn streamed_sheets_use_memory_only_when_no_tmpdir_is_set() {
        let dir = std::env::temp_dir();
        let want = cfg!(target_os = "linux").then(|| dir.clone());
        assert_eq!(scratch_dir_given(false, &dir), want);
        assert_eq!(scratch_dir_given(true, &dir), None);
        let gone = dir.join(format!("utfall-no-such-folder-{}", std::process::id()));
        assert_eq!(scratch_dir_given(false, &gone), None);
    }

    #[test]
    fn percent_is_divided_in_decimal_before_f64() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(excel_number(NumberKind::Percent, d("0.29")), Some(0.0029));
        assert_eq!(excel_number(NumberKind::Kronor, d("42")), Some(42.0));
    }
}
