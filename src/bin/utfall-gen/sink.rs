//! Table writers: one file, one or more sheets of header + rows, written row by row as
//! either an xlsx workbook (optionally with a title row above the header, real Excel dates
//! and numbers) or a Swedish-style CSV (delimiter, encoding, decimal comma chosen per file).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet};

use crate::GenError;
use crate::calendar::{Date, Ym};

/// One cell of a row, typed so each format can write it the way a real export would.
pub enum Cell<'a> {
    Text(&'a str),
    Int(i64),
    /// A fixed-point number: `value` × 10^-`decimals` (money is öre with 2 decimals).
    Fixed {
        value: i64,
        decimals: u32,
    },
    Date(Date),
    /// A month: a real date (the last day) in Excel, `2019-03` in CSV.
    Month(Ym),
    Empty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Windows1252,
    Utf8Bom,
}

#[derive(Clone, Copy, Debug)]
pub struct CsvStyle {
    pub delimiter: char,
    pub encoding: Encoding,
    pub decimal_comma: bool,
    /// Thousands separator for numbers with decimals (space or no-break space), if any.
    pub thousands: Option<char>,
}

impl CsvStyle {
    /// What a Swedish Excel or case system writes: `;`, Windows-1252, `1234,50`.
    pub const SWEDISH: CsvStyle = CsvStyle {
        delimiter: ';',
        encoding: Encoding::Windows1252,
        decimal_comma: true,
        thousands: None,
    };
}

#[derive(Clone, Copy, Debug)]
pub enum Layout {
    Xlsx { title_rows: bool },
    Csv(CsvStyle),
}

impl Layout {
    pub fn extension(&self) -> &'static str {
        match self {
            Layout::Xlsx { .. } => "xlsx",
            Layout::Csv(_) => "csv",
        }
    }
}

pub struct TableWriter {
    path: PathBuf,
    rows: u64,
    inner: Inner,
}

enum Inner {
    Csv {
        out: BufWriter<File>,
        style: CsvStyle,
        line: String,
        header_written: bool,
    },
    Xlsx(Box<XlsxState>),
}

struct XlsxState {
    workbook: Workbook,
    title_rows: bool,
    sheet: Option<Worksheet>,
    row: u32,
    widths: Vec<usize>,
    date: Format,
    money: Format,
    decimal1: Format,
    header: Format,
    title: Format,
}

/// The fixed creation time stamped into every workbook, so output is byte-reproducible.
fn fixed_properties() -> Result<DocProperties, rust_xlsxwriter::XlsxError> {
    let created = ExcelDateTime::from_ymd(2020, 1, 8)?.and_hms(7, 0, 0)?;
    Ok(DocProperties::new()
        .set_creation_datetime(&created)
        .set_author("Verksamhetssystem"))
}

impl TableWriter {
    /// Creates the file (CSV) or an empty workbook (xlsx, saved by `finish`).
    /// Fails when the file cannot be created.
    pub fn create(path: &Path, layout: Layout) -> Result<TableWriter, GenError> {
        let inner = match layout {
            Layout::Csv(style) => {
                let file = File::create(path).map_err(|e| GenError::io(path, e))?;
                let mut out = BufWriter::with_capacity(1 << 16, file);
                if style.encoding == Encoding::Utf8Bom {
                    out.write_all("\u{feff}".as_bytes())
                        .map_err(|e| GenError::io(path, e))?;
                }
                Inner::Csv {
                    out,
                    style,
                    line: String::with_capacity(256),
                    header_written: false,
                }
            }
            Layout::Xlsx { title_rows } => {
                let mut workbook = Workbook::new();
                let props = fixed_properties().map_err(|e| GenError::xlsx(path, e))?;
                workbook.set_properties(&props);
                Inner::Xlsx(Box::new(XlsxState {
                    workbook,
                    title_rows,
                    sheet: None,
                    row: 0,
                    widths: Vec::new(),
                    date: Format::new().set_num_format("yyyy-mm-dd"),
                    money: Format::new().set_num_format("#,##0.00"),
                    decimal1: Format::new().set_num_format("0.0"),
                    header: Format::new().set_bold(),
                    title: Format::new().set_bold().set_font_size(12),
                }))
            }
        };
        Ok(TableWriter {
            path: path.to_path_buf(),
            rows: 0,
            inner,
        })
    }

    /// Starts a sheet (xlsx) with an optional title row and an empty row above the header.
    /// A CSV file has one table: its header is written on the first call only.
    pub fn begin_sheet(
        &mut self,
        name: &str,
        title: Option<&str>,
        headers: &[&str],
    ) -> Result<(), GenError> {
        match &mut self.inner {
            Inner::Csv { header_written, .. } => {
                if !*header_written {
                    *header_written = true;
                    let cells: Vec<Cell> = headers.iter().map(|h| Cell::Text(h)).collect();
                    self.write_csv(&cells)?;
                }
                Ok(())
            }
            Inner::Xlsx(state) => {
                state.close_sheet();
                let mut sheet = Worksheet::new();
                let path = &self.path;
                sheet.set_name(name).map_err(|e| GenError::xlsx(path, e))?;
                state.row = 0;
                state.widths = headers.iter().map(|h| h.chars().count() + 2).collect();
                if let (true, Some(title)) = (state.title_rows, title) {
                    sheet
                        .write_string_with_format(0, 0, title, &state.title)
                        .map_err(|e| GenError::xlsx(path, e))?;
                    state.row = 2;
                }
                for (col, h) in headers.iter().enumerate() {
                    sheet
                        .write_string_with_format(state.row, col as u16, *h, &state.header)
                        .map_err(|e| GenError::xlsx(path, e))?;
                }
                state.row += 1;
                state.sheet = Some(sheet);
                Ok(())
            }
        }
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<(), GenError> {
        self.rows += 1;
        match &mut self.inner {
            Inner::Csv { .. } => self.write_csv(cells),
            Inner::Xlsx(state) => state
                .write_row(cells)
                .map_err(|e| GenError::xlsx(&self.path, e)),
        }
    }

    /// Data rows written so far (headers and titles not counted).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the CSV or saves the workbook. Fails on any write error.
    pub fn finish(self) -> Result<(), GenError> {
        match self.inner {
            Inner::Csv { mut out, .. } => out.flush().map_err(|e| GenError::io(&self.path, e)),
            Inner::Xlsx(mut state) => {
                state.close_sheet();
                state
                    .workbook
                    .save(&self.path)
                    .map_err(|e| GenError::xlsx(&self.path, e))
            }
        }
    }

    fn write_csv(&mut self, cells: &[Cell]) -> Result<(), GenError> {
        let Inner::Csv {
            out, style, line, ..
        } = &mut self.inner
        else {
            return Ok(());
        };
        line.clear();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push(style.delimiter);
            }
            let start = line.len();
            match cell {
                Cell::Text(s) => line.push_str(s),
                Cell::Int(v) => line.push_str(&v.to_string()),
                Cell::Fixed { value, decimals } => format_fixed(line, *value, *decimals, style),
                Cell::Date(d) => line.push_str(&d.iso()),
                Cell::Month(ym) => line.push_str(&ym.tag()),
                Cell::Empty => {}
            }
            let field = &line[start..];
            if field.contains([style.delimiter, '"', '\n']) {
                let quoted = format!("\"{}\"", field.replace('"', "\"\""));
                line.truncate(start);
                line.push_str(&quoted);
            }
        }
        line.push_str("\r\n");
        let result = match style.encoding {
            Encoding::Utf8Bom => out.write_all(line.as_bytes()),
            Encoding::Windows1252 => {
                let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(line);
                out.write_all(&bytes)
            }
        };
        result.map_err(|e| GenError::io(&self.path, e))
    }
}

impl XlsxState {
    fn write_row(&mut self, cells: &[Cell]) -> Result<(), rust_xlsxwriter::XlsxError> {
        let Some(sheet) = self.sheet.as_mut() else {
            return Ok(());
        };
        let row = self.row;
        for (i, cell) in cells.iter().enumerate() {
            let col = i as u16;
            let width = match cell {
                Cell::Text(s) => {
                    sheet.write_string(row, col, *s)?;
                    s.chars().count()
                }
                Cell::Int(v) => {
                    sheet.write_number(row, col, *v as f64)?;
                    6
                }
                Cell::Fixed { value, decimals } => {
                    let v = *value as f64 / 10f64.powi(*decimals as i32);
                    let format = if *decimals == 1 {
                        &self.decimal1
                    } else {
                        &self.money
                    };
                    sheet.write_number_with_format(row, col, v, format)?;
                    12
                }
                Cell::Date(d) => {
                    sheet.write_number_with_format(row, col, d.excel_serial(), &self.date)?;
                    10
                }
                Cell::Month(ym) => {
                    let serial = ym.last_day().excel_serial();
                    sheet.write_number_with_format(row, col, serial, &self.date)?;
                    10
                }
                Cell::Empty => 0,
            };
            if let Some(w) = self.widths.get_mut(i) {
                *w = (*w).max(width + 2);
            }
        }
        self.row += 1;
        Ok(())
    }

    fn close_sheet(&mut self) {
        if let Some(mut sheet) = self.sheet.take() {
            for (col, w) in self.widths.iter().enumerate() {
                // Widths are cosmetic; an out-of-range column cannot happen here.
                let _ = sheet.set_column_width(col as u16, (*w).min(60) as f64);
            }
            self.workbook.push_worksheet(sheet);
        }
    }
}

/// `-1234,50` / `1 234 567,00`: sign, optional thousands separator, decimal mark.
fn format_fixed(line: &mut String, value: i64, decimals: u32, style: &CsvStyle) {
    let scale = 10i64.pow(decimals);
    if value < 0 {
        line.push('-');
    }
    let abs = value.unsigned_abs();
    let whole = (abs / scale as u64).to_string();
    match style.thousands {
        Some(sep) => {
            for (i, c) in whole.chars().enumerate() {
                if i > 0 && (whole.len() - i).is_multiple_of(3) {
                    line.push(sep);
                }
                line.push(c);
            }
        }
        None => line.push_str(&whole),
    }
    if decimals > 0 {
        line.push(if style.decimal_comma { ',' } else { '.' });
        let frac = abs % scale as u64;
        line.push_str(&format!("{:0width$}", frac, width = decimals as usize));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_numbers_are_swedish() {
        let mut s = String::new();
        let style = CsvStyle {
            thousands: Some('\u{a0}'),
            ..CsvStyle::SWEDISH
        };
        format_fixed(&mut s, -123_456_750, 2, &style);
        assert_eq!(s, "-1\u{a0}234\u{a0}567,50");
        s.clear();
        format_fixed(&mut s, 873_450, 2, &CsvStyle::SWEDISH);
        assert_eq!(s, "8734,50");
        s.clear();
        format_fixed(&mut s, 64, 1, &CsvStyle::SWEDISH);
        assert_eq!(s, "6,4");
    }
}
