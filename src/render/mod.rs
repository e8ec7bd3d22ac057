//! Stage 5, render: writes a `report::Workbook` as xlsx bytes and an `Evaluation` as JSON
//! bytes. The only place that knows rust_xlsxwriter and the JSON schema; writing the bytes
//! to disk (atomically) is `deliver`'s job.

pub mod json;
pub mod xlsx;

pub use json::render_json;
pub use xlsx::render_workbook;

/// Why rendering failed. Both point at what was being written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `part` is what was being written: `sheet "Kontroll"`, `document properties`,
    /// `package`.
    #[error("writing the workbook's {part}: {source}")]
    Xlsx {
        part: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("serialising the JSON report: {source}")]
    Json {
        #[source]
        source: serde_json::Error,
    },
}
