//! Stage 1, ingest: files → typed tables with diagnostics.
