//! Ingest, workbooks (xlsx, xlsm, xlsb, xls, ods) via calamine: bytes → sheets → rows.
//! Takes one file's bytes, gives each sheet's rows to a `SheetParser`. xlsx/xlsb are
//! streamed cell by cell so that a sparse sheet never becomes a dense grid here.

use std::io::Cursor;

use calamine::{Data, DataRef, Range, Reader, Sheets, open_workbook_auto_from_rs};

use super::issue::{Issue, RowLocation, SkipReason};
use super::sheet::{FileCtx, Search, SheetParser};
use super::value::Cell;
use crate::model::Date;

/// xls and ods sheets arrive from calamine as a dense grid; one larger than this and
/// mostly empty is refused.
const MAX_DENSE_CELLS: usize = 20_000_000;

/// Reads every sheet of a workbook into `ctx`. Fails only when the workbook cannot be opened.
pub fn read_workbook(bytes: &[u8], ctx: &mut FileCtx) -> Result<(), SkipReason> {
    let mut wb =
        open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| SkipReason::Unreadable {
            detail: one_line(&e.to_string()),
        })?;
    let names = wb.sheet_names();
    for name in names {
        let mut parser = SheetParser::new(Some(name.clone()));
        let result = match &mut wb {
            Sheets::Xlsx(x) => match x.worksheet_cells_reader(&name) {
                Ok(mut r) => stream(&mut parser, ctx, &name, || {
                    r.next_cell().map_err(|e| e.to_string())
                }),
                Err(e) => Err(e.to_string()),
            },
            Sheets::Xlsb(x) => match x.worksheet_cells_reader(&name) {
                Ok(mut r) => stream(&mut parser, ctx, &name, || {
                    r.next_cell().map_err(|e| e.to_string())
                }),
                Err(e) => Err(e.to_string()),
            },
            Sheets::Xls(_) | Sheets::Ods(_) => match wb.worksheet_range(&name) {
                Ok(range) => dense(&mut parser, ctx, &name, &range),
                Err(e) => Err(e.to_string()),
            },
        };
        match result {
            Ok(()) => parser.finish(ctx),
            Err(detail) => ctx.out.issues.push(Issue::SheetUnreadable {
                file: ctx.file.clone(),
                sheet: name.clone(),
                detail: one_line(&detail),
            }),
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    line.chars().take(120).collect()
}

fn header_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => (*t).to_string(),
        Cell::Float(_) | Cell::Int(_) => cell.display(),
        _ => String::new(),
    }
}

fn date_of(dt: &calamine::ExcelDateTime) -> Option<Date> {
    let v = dt.as_f64();
    if !dt.is_datetime() || !(0.0..2_958_466.0).contains(&v) {
        return None;
    }
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    Date::new(i32::from(y), u32::from(m), u32::from(d))
}

fn cell_of_ref<'b>(v: &'b DataRef<'_>) -> Cell<'b> {
    match v {
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Float(*f),
        DataRef::String(s) => Cell::Text(s),
        DataRef::SharedString(s) => Cell::Text(s),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) if dt.is_duration() => Cell::Float(dt.as_f64()),
        DataRef::DateTime(dt) => Cell::Date(date_of(dt)),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s),
        DataRef::Error(e) => Cell::Error(e.to_string()),
        DataRef::Empty => Cell::Empty,
    }
}

fn cell_of_data(v: &Data) -> Cell<'_> {
    match v {
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::String(s) => Cell::Text(s),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) if dt.is_duration() => Cell::Float(dt.as_f64()),
        Data::DateTime(dt) => Cell::Date(date_of(dt)),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s),
        Data::Error(e) => Cell::Error(e.to_string()),
        Data::Empty => Cell::Empty,
    }
}

/// Feeds one row (cells sorted by column) to the parser. Returns false to stop the sheet.
fn feed(
    parser: &mut SheetParser,
    ctx: &mut FileCtx,
    sheet: &str,
    row0: u32,
    cells: &[(u32, Cell)],
) -> bool {
    if !parser.has_header() {
        let texts: Vec<(u32, String)> = cells.iter().map(|(c, v)| (*c, header_text(v))).collect();
        return !matches!(parser.offer_header(ctx, &texts), Search::GiveUp);
    }
    let row = row0.saturating_add(1);
    parser.row(
        ctx,
        row,
        |c| {
            cells
                .binary_search_by_key(&c, |(col, _)| *col)
                .map_or(Cell::Empty, |i| cells[i].1.clone())
        },
        |col| RowLocation::Cell {
            sheet: sheet.to_string(),
            col,
            row,
        },
    );
    true
}

/// Streams an xlsx/xlsb sheet: cells arrive row by row, only the needed columns are kept.
fn stream<'a>(
    parser: &mut SheetParser,
    ctx: &mut FileCtx,
    sheet: &str,
    mut next: impl FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, String>,
) -> Result<(), String> {
    let mut current: Option<u32> = None;
    let mut buf: Vec<(u32, DataRef<'a>)> = Vec::new();
    let flush = |parser: &mut SheetParser,
                 ctx: &mut FileCtx,
                 row: u32,
                 buf: &mut Vec<(u32, DataRef<'a>)>| {
        buf.sort_by_key(|(c, _)| *c);
        let cells: Vec<(u32, Cell)> = buf.iter().map(|(c, v)| (*c, cell_of_ref(v))).collect();
        let go_on = feed(parser, ctx, sheet, row, &cells);
        buf.clear();
        go_on
    };
    while let Some(cell) = next()? {
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(prev) = current
                && !flush(parser, ctx, prev, &mut buf)
            {
                return Ok(());
            }
            current = Some(r);
        }
        if parser.wants(c) && !matches!(cell.get_value(), DataRef::Empty) {
            buf.push((c, cell.get_value().clone()));
        }
    }
    if let Some(prev) = current {
        flush(parser, ctx, prev, &mut buf);
    }
    Ok(())
}

/// Reads an xls/ods sheet from calamine's grid, refusing absurdly large sparse ones.
fn dense(
    parser: &mut SheetParser,
    ctx: &mut FileCtx,
    sheet: &str,
    range: &Range<Data>,
) -> Result<(), String> {
    let (h, w) = range.get_size();
    if h.saturating_mul(w) > MAX_DENSE_CELLS {
        let used = range.used_cells().count();
        if used.saturating_mul(100) < h.saturating_mul(w) {
            return Err(format!(
                "{h} rows × {w} columns, almost all empty: too sparse to read"
            ));
        }
    }
    let Some((r0, c0)) = range.start() else {
        return Ok(());
    };
    for (i, row) in range.rows().enumerate() {
        let cells: Vec<(u32, Cell)> = row
            .iter()
            .enumerate()
            .filter(|(_, v)| !matches!(v, Data::Empty))
            .map(|(j, v)| (c0 + j as u32, cell_of_data(v)))
            .collect();
        if !feed(parser, ctx, sheet, r0 + i as u32, &cells) {
            break;
        }
    }
    Ok(())
}
