//! Ingest, diagnostics: what went wrong or is worth knowing about one file, sheet or row.
//! Each issue renders its location first, in English (`Display`) and in Swedish
//! (`message_sv`, for the Kontroll sheet). No id value ever enters an issue.

use std::fmt;
use std::path::{Path, PathBuf};

use super::limits::Exceeded;

/// How serious an issue is: errors make the run exit 1, notes are for the record.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// Where in a file a row sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowLocation {
    /// An Excel cell: sheet name, 0-based source column, row as Excel shows it.
    Cell { sheet: String, col: u32, row: u32 },
    /// A CSV record: row as a spreadsheet would show it (the header's line counted).
    Csv { row: u32 },
}

impl RowLocation {
    pub fn row(&self) -> u32 {
        match self {
            RowLocation::Cell { row, .. } | RowLocation::Csv { row } => *row,
        }
    }

    pub fn sheet(&self) -> Option<&str> {
        match self {
            RowLocation::Cell { sheet, .. } => Some(sheet),
            RowLocation::Csv { .. } => None,
        }
    }
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
pub fn column_letters(col: u32) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a row was rejected. `text` is the bad cell's text, already shortened; id columns never
/// carry their text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    Missing,
    NotANumber {
        text: String,
    },
    /// A number of 10^15 or more in magnitude (`model::NUMBER_LIMIT`).
    OutOfRange {
        text: String,
    },
    NotAnInteger {
        text: String,
    },
    NotAMonth {
        text: String,
    },
    NotADate {
        text: String,
    },
    NotYesNo {
        text: String,
    },
    /// An id cell that is not text or a whole number; its value is never shown.
    BadId,
    CellError {
        error: String,
    },
    UnknownDistrict {
        text: String,
    },
}

impl RejectReason {
    fn en(&self, column: &str) -> String {
        match self {
            RejectReason::Missing => format!("{column} is missing"),
            RejectReason::NotANumber { text } => format!("{column} \"{text}\" is not a number"),
            RejectReason::OutOfRange { text } => {
                format!("{column} \"{text}\" is too large (10^15 or more)")
            }
            RejectReason::NotAnInteger { text } => {
                format!("{column} \"{text}\" is not a whole number")
            }
            RejectReason::NotAMonth { text } => format!("{column} \"{text}\" is not a month"),
            RejectReason::NotADate { text } => format!("{column} \"{text}\" is not a date"),
            RejectReason::NotYesNo { text } => format!("{column} \"{text}\" is not Ja/Nej"),
            RejectReason::BadId => format!("{column} is not a readable identifier"),
            RejectReason::CellError { error } => format!("{column} holds the error {error}"),
            RejectReason::UnknownDistrict { text } => {
                format!("{column} \"{text}\" is not one of the listed districts")
            }
        }
    }

    fn sv(&self) -> String {
        match self {
            RejectReason::Missing => "värde saknas".to_string(),
            RejectReason::NotANumber { text } => format!("\"{text}\" är inte ett tal"),
            RejectReason::OutOfRange { text } => {
                format!("\"{text}\" är orimligt stort (10^15 eller mer)")
            }
            RejectReason::NotAnInteger { text } => format!("\"{text}\" är inte ett heltal"),
            RejectReason::NotAMonth { text } => format!("\"{text}\" är inte en månad"),
            RejectReason::NotADate { text } => format!("\"{text}\" är inte ett datum"),
            RejectReason::NotYesNo { text } => format!("\"{text}\" är inte Ja/Nej"),
            RejectReason::BadId => "identiteten går inte att läsa".to_string(),
            RejectReason::CellError { error } => format!("cellen innehåller felet {error}"),
            RejectReason::UnknownDistrict { text } => {
                format!("\"{text}\" är inte en av de angivna stadsdelarna")
            }
        }
    }
}

/// Why a whole file was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    NotAnExportFormat,
    /// The file could not be read from disk.
    Io {
        detail: String,
    },
    /// Not a workbook calamine understands: corrupt, encrypted, truncated, another format.
    Unreadable {
        detail: String,
    },
    /// The reader crashed on it.
    Corrupt,
    /// Encrypted with a password (Office encryption or an xls FILEPASS record).
    PasswordProtected,
    /// A spreadsheet format utfall does not read (BIFF2–4, …).
    Unsupported {
        detail: String,
    },
    /// Over one of the limits of `ReadLimits`.
    TooLarge {
        exceeded: Exceeded,
    },
}

impl SkipReason {
    fn en(&self) -> String {
        match self {
            SkipReason::NotAnExportFormat => "not an export format, skipped".to_string(),
            SkipReason::Io { detail } => format!("cannot be read ({detail}), skipped"),
            SkipReason::Unreadable { detail } => {
                format!("not a readable workbook ({detail}), skipped")
            }
            SkipReason::Corrupt => "corrupt (the spreadsheet reader failed), skipped".to_string(),
            SkipReason::PasswordProtected => {
                "password protected, skipped (save it without a password)".to_string()
            }
            SkipReason::Unsupported { detail } => {
                format!("unsupported format ({detail}), skipped")
            }
            SkipReason::TooLarge { exceeded } => format!("too large: {}, skipped", exceeded.en()),
        }
    }

    pub fn sv(&self) -> String {
        match self {
            SkipReason::NotAnExportFormat => "inget exportformat, hoppades över".to_string(),
            SkipReason::Io { detail } => format!("kan inte läsas ({detail}), hoppades över"),
            SkipReason::Unreadable { detail } => {
                format!("ingen läsbar arbetsbok ({detail}), hoppades över")
            }
            SkipReason::Corrupt => "trasig fil, hoppades över".to_string(),
            SkipReason::PasswordProtected => {
                "lösenordsskyddad, hoppades över (spara den utan lösenord)".to_string()
            }
            SkipReason::Unsupported { detail } => {
                format!("format som inte stöds ({detail}), hoppades över")
            }
            SkipReason::TooLarge { exceeded } => {
                format!("för stor: {}, hoppades över", exceeded.sv())
            }
        }
    }
}

/// One diagnostic of ingest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Issue {
    #[error("{} [{}]: {}", file.display(), location_en(at, column), reason.en(column))]
    RowRejected {
        file: PathBuf,
        at: RowLocation,
        /// The canonical column name (`Belopp`).
        column: String,
        reason: RejectReason,
    },
    #[error("{}: {}", file.display(), reason.en())]
    FileSkipped { file: PathBuf, reason: SkipReason },
    #[error("{}: an exact copy of {}, ignored", file.display(), of.display())]
    DuplicateFile { file: PathBuf, of: PathBuf },
    #[error("{}{}: no known export header in the first rows, not read", file.display(), sheet_suffix(sheet))]
    UnknownSheet {
        file: PathBuf,
        sheet: Option<String>,
    },
    #[error("{} [{sheet}]: sheet cannot be read ({detail}), skipped", file.display())]
    SheetUnreadable {
        file: PathBuf,
        sheet: String,
        detail: String,
    },
    /// CSV lines an opening quote that is never closed joined into one record.
    #[error("{} [rows {first_row}–{last_row}]: a quote that is never closed joins these lines into one record; they were not read", file.display())]
    BrokenQuotes {
        file: PathBuf,
        first_row: u32,
        last_row: u32,
    },
}

fn location_en(at: &RowLocation, column: &str) -> String {
    match at {
        RowLocation::Cell { sheet, col, row } => format!("{sheet}!{}{row}", column_letters(*col)),
        RowLocation::Csv { row } => format!("row {row}, {column}"),
    }
}

fn sheet_suffix(sheet: &Option<String>) -> String {
    sheet
        .as_ref()
        .map(|s| format!(" [{s}]"))
        .unwrap_or_default()
}

impl Issue {
    pub fn severity(&self) -> Severity {
        match self {
            Issue::RowRejected { .. }
            | Issue::SheetUnreadable { .. }
            | Issue::BrokenQuotes { .. } => Severity::Error,
            Issue::FileSkipped { reason, .. } => match reason {
                SkipReason::NotAnExportFormat => Severity::Note,
                _ => Severity::Error,
            },
            Issue::DuplicateFile { .. } | Issue::UnknownSheet { .. } => Severity::Note,
        }
    }

    /// Where the issue is, as Kontroll and `utfall check` show it: the file name, and
    /// `[sheet]` when it is about one sheet.
    pub fn location(&self) -> String {
        let file = self
            .file()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match self.sheet() {
            Some(sheet) => format!("{file} [{sheet}]"),
            None => file,
        }
    }

    /// The file the issue is about (display path).
    pub fn file(&self) -> &Path {
        match self {
            Issue::RowRejected { file, .. }
            | Issue::FileSkipped { file, .. }
            | Issue::DuplicateFile { file, .. }
            | Issue::UnknownSheet { file, .. }
            | Issue::SheetUnreadable { file, .. }
            | Issue::BrokenQuotes { file, .. } => file,
        }
    }

    pub fn sheet(&self) -> Option<&str> {
        match self {
            Issue::RowRejected { at, .. } => at.sheet(),
            Issue::UnknownSheet { sheet, .. } => sheet.as_deref(),
            Issue::SheetUnreadable { sheet, .. } => Some(sheet),
            _ => None,
        }
    }

    /// The message in Swedish without file and sheet (the Kontroll sheet has columns for
    /// those): `rad 14, kolumn Belopp: "12 3x4" är inte ett tal`.
    pub fn message_sv(&self) -> String {
        match self {
            Issue::RowRejected {
                at, column, reason, ..
            } => {
                format!("rad {}, kolumn {column}: {}", at.row(), reason.sv())
            }
            Issue::FileSkipped { reason, .. } => format!("filen {}", reason.sv()),
            Issue::DuplicateFile { of, .. } => format!(
                "exakt kopia av {}, ignorerades",
                of.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ),
            Issue::UnknownSheet { .. } => {
                "ingen känd rubrikrad bland de första raderna, lästes inte".to_string()
            }
            Issue::SheetUnreadable { detail, .. } => {
                format!("bladet kan inte läsas ({detail}), hoppades över")
            }
            Issue::BrokenQuotes {
                first_row,
                last_row,
                ..
            } => format!(
                "rad {first_row}–{last_row}: ett citattecken som aldrig avslutas slår ihop raderna till en, de lästes inte"
            ),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_put_the_location_first() {
        let i = Issue::RowRejected {
            file: PathBuf::from("samples/utbetalningar_2019-03.xlsx"),
            at: RowLocation::Cell {
                sheet: "Utbetalningar".into(),
                col: 3,
                row: 14,
            },
            column: "Belopp".into(),
            reason: RejectReason::NotANumber {
                text: "12 3x4".into(),
            },
        };
        assert_eq!(
            i.to_string(),
            "samples/utbetalningar_2019-03.xlsx [Utbetalningar!D14]: Belopp \"12 3x4\" is not a number"
        );
        assert_eq!(
            i.message_sv(),
            "rad 14, kolumn Belopp: \"12 3x4\" är inte ett tal"
        );
        assert_eq!(i.severity(), Severity::Error);
        let c = Issue::RowRejected {
            file: PathBuf::from("file.csv"),
            at: RowLocation::Csv { row: 14 },
            column: "HushallsID".into(),
            reason: RejectReason::Missing,
        };
        assert_eq!(
            c.to_string(),
            "file.csv [row 14, HushallsID]: HushallsID is missing"
        );
    }

    #[test]
    fn column_letters_like_excel() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16383), "XFD");
    }
}
