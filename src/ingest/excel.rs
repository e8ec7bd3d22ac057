//! Ingest, workbooks (xlsx, xlsm, xlsb, xls, ods) via calamine: bytes → sheets → rows.
//! Takes one file's bytes, gives each sheet's rows to a `SheetParser`. xlsx/xlsb are
//! streamed cell by cell so that a sparse sheet never becomes a dense grid here; xlsx and
//! xlsm go through the faster `xlsx` reader first, which hands back what it does not read
//! (the whole file, when it gives up partway through a sheet).

use std::io::Cursor;

use calamine::{
    Data, DataRef, Ods, Range, Reader, SheetType, Sheets, Xls, Xlsb, Xlsx,
    open_workbook_auto_from_rs, open_workbook_from_rs,
};

use super::issue::{Issue, RowLocation, SkipReason};
use super::limits::{Exceeded, ReadLimits};
use super::sheet::{FileCtx, Search, SheetParser};
use super::value::Cell;
use super::xlsx;
use crate::model::Date;

/// xls and ods sheets arrive from calamine as a dense grid; one larger than this and
/// mostly empty is refused.
const MAX_DENSE_CELLS: usize = 20_000_000;

/// Reads every sheet of a workbook into `ctx`. Fails only when the workbook cannot be opened
/// (corrupt, password protected, an unsupported format) or would unpack to more than the
/// limit allows.
pub fn read_workbook(
    bytes: &[u8],
    ext: &str,
    limits: &ReadLimits,
    ctx: &mut FileCtx,
) -> Result<(), SkipReason> {
    check_zip(bytes, limits)?;
    let fast = match ext {
        "xlsx" | "xlsm" => xlsx::Workbook::open(bytes),
        _ => None,
    };
    let mut book = match fast {
        Some(fast) => Book::Fast {
            fast: Box::new(fast),
            slow: None,
        },
        None => Book::Calamine(open(bytes, ext).map_err(classify)?),
    };
    // Ends: calamine alone never asks for a second read.
    let first_failure = loop {
        match read_sheets(&mut book, bytes, ext, ctx) {
            Ok(first_failure) => break first_failure,
            Err(Reread) => {
                ctx.restart();
                book = Book::Calamine(open(bytes, ext).map_err(classify)?);
            }
        }
    };
    // A workbook of which no sheet could be read is a file that could not be read: it is
    // listed with that reason rather than not at all.
    if ctx.out.sheets.is_empty() {
        return Err(SkipReason::Unreadable {
            detail: first_failure.unwrap_or_else(|| "the workbook has no sheets".to_string()),
        });
    }
    Ok(())
}

/// The fast reader gave up on a sheet after some of its rows had been read: the file is
/// read again from the start, by calamine alone.
struct Reread;

/// Reads every sheet into `ctx`; gives the first sheet failure, for the diagnostic of a
/// workbook of which no sheet could be read.
fn read_sheets<'b>(
    book: &mut Book<'b>,
    bytes: &'b [u8],
    ext: &str,
    ctx: &mut FileCtx,
) -> Result<Option<String>, Reread> {
    let sheets: Vec<(String, bool)> = match &*book {
        Book::Fast { fast, .. } => fast.sheets().map(|(n, w)| (n.to_string(), w)).collect(),
        Book::Calamine(wb) => wb
            .sheets_metadata()
            .iter()
            .map(|s| (s.name.clone(), s.typ == SheetType::WorkSheet))
            .collect(),
    };
    let mut first_failure: Option<String> = None;
    for (name, is_worksheet) in sheets {
        if ctx.over_rows() {
            break;
        }
        let mut parser = SheetParser::new(Some(name.clone()));
        if !is_worksheet {
            // Chart, dialog and macro sheets hold no rows: noted like a sheet without header.
            parser.finish(ctx);
            continue;
        }
        match book.read_sheet(bytes, ext, &name, &mut parser, ctx) {
            Ok(()) => parser.finish(ctx),
            Err(SheetError::Reread) => return Err(Reread),
            Err(SheetError::Unreadable(detail)) => {
                first_failure.get_or_insert_with(|| one_line(&detail));
                ctx.out.issues.push(Issue::SheetUnreadable {
                    file: ctx.file.clone(),
                    sheet: name.clone(),
                    detail: one_line(&detail),
                })
            }
        }
    }
    Ok(first_failure)
}

enum SheetError {
    /// calamine's error, for the diagnostic.
    Unreadable(String),
    Reread,
}

/// A workbook being read: by the fast xlsx reader (with calamine opened only if a sheet
/// needs it) or by calamine.
enum Book<'b> {
    Fast {
        fast: Box<xlsx::Workbook<'b>>,
        slow: Option<Sheets<Cursor<&'b [u8]>>>,
    },
    Calamine(Sheets<Cursor<&'b [u8]>>),
}

impl<'b> Book<'b> {
    /// Streams one worksheet into `parser`.
    fn read_sheet(
        &mut self,
        bytes: &'b [u8],
        ext: &str,
        name: &str,
        parser: &mut SheetParser,
        ctx: &mut FileCtx,
    ) -> Result<(), SheetError> {
        let wb = match self {
            Book::Fast { fast, slow } => {
                if let Some(mut cells) = fast.cells(name) {
                    return stream(parser, ctx, name, || cells.next_cell())
                        .map_err(|xlsx::Decline| SheetError::Reread);
                }
                match slow {
                    Some(wb) => wb,
                    None => slow.insert(open(bytes, ext).map_err(SheetError::Unreadable)?),
                }
            }
            Book::Calamine(wb) => wb,
        };
        calamine_sheet(wb, name, parser, ctx).map_err(SheetError::Unreadable)
    }
}

/// Streams one worksheet with calamine.
fn calamine_sheet(
    wb: &mut Sheets<Cursor<&[u8]>>,
    name: &str,
    parser: &mut SheetParser,
    ctx: &mut FileCtx,
) -> Result<(), String> {
    match wb {
        Sheets::Xlsx(x) => match x.worksheet_cells_reader(name) {
            Ok(mut r) => stream(parser, ctx, name, || {
                r.next_cell().map_err(|e| e.to_string())
            }),
            Err(e) => Err(e.to_string()),
        },
        Sheets::Xlsb(x) => match x.worksheet_cells_reader(name) {
            Ok(mut r) => stream(parser, ctx, name, || {
                r.next_cell().map_err(|e| e.to_string())
            }),
            Err(e) => Err(e.to_string()),
        },
        Sheets::Xls(_) | Sheets::Ods(_) => match wb.worksheet_range(name) {
            Ok(range) => dense(parser, ctx, name, &range),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// A zip-based workbook (xlsx, xlsm, xlsb, ods) whose parts declare more unpacked bytes
/// than the limit is refused before anything is inflated; the zip reader itself refuses to
/// inflate a part past its declared size, so the declaration bounds the cost.
fn check_zip(bytes: &[u8], limits: &ReadLimits) -> Result<(), SkipReason> {
    if !bytes.starts_with(b"PK") {
        return Ok(());
    }
    // An archive that does not open is left to calamine, whose error says more.
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        if let Ok(f) = zip.by_index_raw(i) {
            total = total.saturating_add(f.size());
        }
    }
    if total > limits.max_unzipped_bytes {
        return Err(SkipReason::TooLarge {
            exceeded: Exceeded::Unzipped {
                bytes: total,
                limit: limits.max_unzipped_bytes,
            },
        });
    }
    Ok(())
}

/// Why a workbook did not open, as the controller needs to hear it.
fn classify(detail: String) -> SkipReason {
    let lower = detail.to_lowercase();
    if lower.contains("password") || lower.contains("encrypt") {
        SkipReason::PasswordProtected
    } else if lower.contains("biff2") {
        SkipReason::Unsupported { detail }
    } else {
        SkipReason::Unreadable { detail }
    }
}

/// Office encryption puts the real workbook in an OLE stream of this name.
fn is_encrypted_ooxml(bytes: &[u8]) -> bool {
    let needle: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    bytes.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// Opens with the reader the extension names, so that its error says what is wrong; a
/// workbook with the wrong extension is still found by trying every reader.
fn open<'b>(bytes: &'b [u8], ext: &str) -> Result<Sheets<Cursor<&'b [u8]>>, String> {
    if bytes.is_empty() {
        return Err("empty file".to_string());
    }
    let c = Cursor::new(bytes);
    let ole = bytes.starts_with(&[0xd0, 0xcf, 0x11, 0xe0]);
    // BIFF2–4 (Excel 2.1–4.0) start with a BOF record, not an OLE container.
    if matches!(bytes, [0x09, 0x00 | 0x02 | 0x04, ..]) {
        return Err(
            "Excel 2.1–4.0 format (BIFF2–4) is not supported; save it as .xlsx".to_string(),
        );
    }
    if ole && is_encrypted_ooxml(bytes) {
        return Err("encrypted with a password".to_string());
    }
    let specific = match ext {
        "xlsx" | "xlsm" => open_workbook_from_rs::<Xlsx<_>, _>(c.clone())
            .map(Sheets::Xlsx)
            .map_err(|e| e.to_string()),
        "xlsb" => open_workbook_from_rs::<Xlsb<_>, _>(c.clone())
            .map(Sheets::Xlsb)
            .map_err(|e| e.to_string()),
        "xls" => open_workbook_from_rs::<Xls<_>, _>(c.clone())
            .map(Sheets::Xls)
            .map_err(|e| e.to_string()),
        "ods" => open_workbook_from_rs::<Ods<_>, _>(c.clone())
            .map(Sheets::Ods)
            .map_err(|e| e.to_string()),
        _ => Err("unknown workbook type".to_string()),
    };
    match specific {
        Ok(wb) => Ok(wb),
        Err(e) => open_workbook_auto_from_rs(c).map_err(|_| one_line(&e)),
    }
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
fn stream<'a, E>(
    parser: &mut SheetParser,
    ctx: &mut FileCtx,
    sheet: &str,
    mut next: impl FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, E>,
) -> Result<(), E> {
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
        if ctx.over_rows() {
            return Ok(());
        }
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
        if !feed(parser, ctx, sheet, r0 + i as u32, &cells) || ctx.over_rows() {
            break;
        }
    }
    Ok(())
}
