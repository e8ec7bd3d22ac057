//! Ingest, xlsx/xlsm fast path: bytes of a workbook → its sheets' cells, exactly as
//! calamine 0.38 streams them (`worksheet_cells_reader`), several times faster: parts are
//! inflated whole and scanned in place. Whatever it does not read with certainty it
//! declines (`None`), before giving out anything, and the caller uses calamine instead.

mod parts;
mod sheet;
#[cfg(test)]
mod tests;
mod xml;

use std::collections::HashMap;
use std::io::{Cursor, Read};

use calamine::{CellErrorType, DataRef, ExcelDateTime, ExcelDateTimeType};

use parts::{Format, SheetEntry, Strings};
use sheet::{Cells, Val};
use xml::{Decline, Fast};

/// A part larger than this is left to calamine, which streams it instead of holding it.
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
        let key = path.to_ascii_lowercase();
        let name = self.names.get(&key).map_or(path, String::as_str);
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

    /// Every cell of the worksheet `name`, or `None` to leave it to calamine.
    pub fn cells(&mut self, name: &str) -> Option<SheetCells> {
        let path = self.sheets.iter().find(|s| s.name == name)?.path.clone();
        let xml = self.part(&path).ok()??;
        sheet::read_sheet(&xml, &self.strings, &self.formats)
            .ok()
            .map(|cells| SheetCells { cells })
    }

    /// A cell as calamine would give it.
    fn data<'s>(&'s self, cells: &SheetCells, val: Val) -> DataRef<'s> {
        let text = |a: u32, b: u32| {
            cells
                .cells
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
            Val::Shared(i) => DataRef::SharedString(self.strings.get(i as usize).unwrap_or_default()),
            Val::Float(v) => DataRef::Float(v),
            Val::DateTime(v) => date(v, ExcelDateTimeType::DateTime),
            Val::Duration(v) => date(v, ExcelDateTimeType::TimeDelta),
            Val::Bool(v) => DataRef::Bool(v),
            Val::Error(i) => DataRef::Error(error_type(i)),
            Val::Text(a, b) => DataRef::String(text(a, b)),
            Val::Iso(a, b) => DataRef::DateTimeIso(text(a, b)),
        }
    }

    /// The sheet's cells as calamine's `next_cell` gives them, in order.
    pub fn stream<'s>(
        &'s self,
        cells: &'s SheetCells,
    ) -> impl Iterator<Item = calamine::Cell<DataRef<'s>>> + 's {
        cells
            .cells
            .cells
            .iter()
            .map(move |c| calamine::Cell::new((c.row, c.col), self.data(cells, c.val)))
    }
}

/// One worksheet read whole.
pub struct SheetCells {
    cells: Cells,
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
