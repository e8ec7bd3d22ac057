//! Ingest, xlsx/xlsm fast path: bytes of a workbook → its sheets' cells, exactly as
//! calamine 0.38 streams them (`worksheet_cells_reader`), several times faster. Whatever
//! it does not read with certainty it declines, and the caller uses calamine instead.
//!
//! The small parts (relationships, workbook, styles, shared strings) are inflated whole
//! and read on `open`. A worksheet is inflated a window (`sheet::CHUNK`) at a time into a
//! buffer the thread keeps, and each window is scanned up to its last complete row, the
//! rest carried over. `cells` scans the first window before giving out anything, so a
//! workbook or a sheet no larger than a window is declined (`None`) before any of its
//! cells has left this module. A decline in a later window (a form the scanner does not
//! read, a damaged stream, a wrong size) comes after cells were given out, which cannot
//! be taken back: `SheetCells::next_cell` then fails with `Decline`, and the caller
//! forgets everything it read from the file and reads the file again with calamine
//! alone. That needs a sheet that changes form after its first window, which exports,
//! written by one program from the first row to the last, do not do.

mod parts;
mod sheet;
#[cfg(test)]
mod tests;
mod xml;

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{Cursor, Read};

use calamine::{CellErrorType, DataRef, ExcelDateTime, ExcelDateTimeType};

use parts::{Format, SheetEntry, Strings};
use sheet::{Ctx, Scratch, Sheet, Val};
pub use xml::Decline;
use xml::Fast;

thread_local! {
    /// The sheet buffers of the thread's last workbook, for its next one.
    static SPARE: Cell<Scratch> = Cell::new(Scratch::default());
}

/// A small part (worksheets are streamed) larger than this is left to calamine, which
/// streams it instead of holding it.
const MAX_PART_BYTES: u64 = 256 << 20;

/// An opened workbook: its sheets, shared strings and cell formats.
pub struct Workbook<'b> {
    zip: zip::ZipArchive<Cursor<&'b [u8]>>,
    /// Lower-cased part name → name in the archive, as calamine looks parts up.
    names: HashMap<String, String>,
    sheets: Vec<SheetEntry>,
    strings: Strings,
    formats: Vec<Format>,
    is_1904: bool,
    scratch: Scratch,
    /// Bytes of sheet XML inflated at a time (tests make it tiny).
    chunk: usize,
}

impl Drop for Workbook<'_> {
    fn drop(&mut self) {
        if self.scratch.worth_keeping() {
            SPARE.set(std::mem::take(&mut self.scratch));
        }
    }
}

impl<'b> Workbook<'b> {
    /// Opens the workbook, or `None` when the fast path does not read it (calamine may,
    /// or may fail; either way it decides).
    pub fn open(bytes: &'b [u8]) -> Option<Workbook<'b>> {
        Workbook::try_open(bytes).ok()
    }

    fn try_open(bytes: &'b [u8]) -> Fast<Workbook<'b>> {
        if !bytes.starts_with(b"PK") {
            return Err(Decline);
        }
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Decline)?;
        let mut names = HashMap::with_capacity(zip.len());
        for name in zip.file_names() {
            let name = name.map_err(|_| Decline)?;
            let key = name.replace('\\', "/").to_ascii_lowercase();
            // Two names that calamine's lookup would confuse.
            if names.insert(key, name.to_string()).is_some() {
                return Err(Decline);
            }
        }
        let mut wb = Workbook {
            zip,
            names,
            sheets: Vec::new(),
            strings: Strings::default(),
            formats: Vec::new(),
            is_1904: false,
            scratch: SPARE.take(),
            chunk: sheet::CHUNK,
        };
        let rels = wb.part("_rels/.rels")?.ok_or(Decline)?;
        let (xl_path, book_name) = parts::office_document(&rels)?;
        if let Some(sst) = wb.part(&format!("{xl_path}sharedStrings.xml"))? {
            wb.strings = parts::shared_strings(&sst)?;
        }
        if let Some(styles) = wb.part(&format!("{xl_path}styles.xml"))? {
            wb.formats = parts::styles(&styles)?;
        }
        let book_rels = wb
            .part(&format!("{xl_path}_rels/{book_name}.rels"))?
            .ok_or(Decline)?;
        let book_rels = parts::relationships(&book_rels)?;
        // A workbook without its workbook part opens in calamine with no sheets; that
        // rare case is left to it.
        let book = wb.part(&format!("{xl_path}{book_name}"))?.ok_or(Decline)?;
        let (sheets, is_1904) = parts::workbook(&book, &xl_path, &book_rels)?;
        wb.sheets = sheets;
        wb.is_1904 = is_1904;
        Ok(wb)
    }

    /// A part's bytes, `None` when the archive has no such part. Declines on a part larger
    /// than `MAX_PART_BYTES`, one that inflates to other than its declared size, or a
    /// damaged or encrypted one.
    fn part(&mut self, path: &str) -> Fast<Option<Vec<u8>>> {
        let name = archive_name(&self.names, path);
        let file = match self.zip.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(_) => return Err(Decline),
        };
        let size = file.size();
        if size > MAX_PART_BYTES {
            return Err(Decline);
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).map_err(|_| Decline)?);
        file.take(size + 1)
            .read_to_end(&mut buf)
            .map_err(|_| Decline)?;
        if buf.len() as u64 != size {
            return Err(Decline);
        }
        Ok(Some(buf))
    }

    /// The sheets in workbook order: name and whether it is a worksheet (chart and dialog
    /// sheets hold no cells).
    pub fn sheets(&self) -> impl Iterator<Item = (&str, bool)> {
        self.sheets.iter().map(|s| (s.name.as_str(), s.worksheet))
    }

    /// The worksheet `name`, its first window read; `None` to leave it to calamine.
    pub fn cells(&mut self, name: &str) -> Option<SheetCells<'_, 'b>> {
        let path = &self.sheets.iter().find(|s| s.name == name)?.path;
        let Workbook {
            zip,
            names,
            strings,
            formats,
            is_1904,
            scratch,
            chunk,
            ..
        } = self;
        let file = zip.by_name(archive_name(names, path)).ok()?;
        let size = file.size();
        let ctx = Ctx { strings, formats };
        let sheet = Sheet::open(
            file.take(size.saturating_add(1)),
            size,
            scratch,
            *chunk,
            ctx,
        )
        .ok()?;
        Some(SheetCells {
            sheet,
            strings,
            is_1904: *is_1904,
            next: 0,
        })
    }
}

/// One worksheet being read.
pub struct SheetCells<'w, 'b> {
    sheet: Sheet<'w, std::io::Take<zip::read::ZipFile<'w, Cursor<&'b [u8]>>>>,
    strings: &'w Strings,
    is_1904: bool,
    /// The next cell of the current window.
    next: usize,
}

impl<'w> SheetCells<'w, '_> {
    /// The next cell as calamine's `next_cell` gives it, `None` after the last. Fails
    /// with `Decline` when the fast path gives up after having given out cells: they
    /// cannot be taken back, and the file must be read again by calamine from the start.
    pub fn next_cell(&mut self) -> Result<Option<calamine::Cell<DataRef<'w>>>, Decline> {
        loop {
            if let Some(c) = self.sheet.cells().cells.get(self.next) {
                self.next += 1;
                return Ok(Some(calamine::Cell::new((c.row, c.col), self.data(c.val))));
            }
            if self.sheet.done() {
                return Ok(None);
            }
            self.sheet.advance()?;
            self.next = 0;
        }
    }

    /// A cell as calamine would give it.
    fn data(&self, val: Val) -> DataRef<'w> {
        let text = |a: u32, b: u32| {
            self.sheet
                .cells()
                .text
                .get(a as usize..b as usize)
                .unwrap_or_default()
                .to_string()
        };
        let date = |v: f64, t: ExcelDateTimeType| {
            DataRef::DateTime(ExcelDateTime::new(v, t, self.is_1904))
        };
        match val {
            Val::Empty => DataRef::Empty,
            Val::Shared(i) => {
                DataRef::SharedString(self.strings.get(i as usize).unwrap_or_default())
            }
            Val::Float(v) => DataRef::Float(v),
            Val::DateTime(v) => date(v, ExcelDateTimeType::DateTime),
            Val::Duration(v) => date(v, ExcelDateTimeType::TimeDelta),
            Val::Bool(v) => DataRef::Bool(v),
            Val::Error(i) => DataRef::Error(error_type(i)),
            Val::Text(a, b) => DataRef::String(text(a, b)),
            Val::Iso(a, b) => DataRef::DateTimeIso(text(a, b)),
        }
    }
}

/// A part's name as the archive spells it (parts are looked up without regard to case,
/// as calamine does).
fn archive_name<'a>(names: &'a HashMap<String, String>, path: &'a str) -> &'a str {
    names
        .get(&path.to_ascii_lowercase())
        .map_or(path, String::as_str)
}

fn error_type(i: u8) -> CellErrorType {
    match i {
        0 => CellErrorType::Div0,
        1 => CellErrorType::NA,
        2 => CellErrorType::Name,
        3 => CellErrorType::Null,
        4 => CellErrorType::Num,
        5 => CellErrorType::Ref,
        _ => CellErrorType::Value,
    }
}
