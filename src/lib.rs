//! utfall: from a folder of monthly social-assistance exports to the follow-up workbooks.
//!
//! The pipeline, one module a stage: `ingest` (files → typed tables) → `rules` (the Rhai
//! rule pack) → `evaluate` (indicators, targets, fulfilment) → `report` (format-neutral
//! tables) → `render` (xlsx, JSON) → `deliver` (atomic writes).

pub mod authoring;
pub mod cli;
pub mod deliver;
pub mod evaluate;
pub mod ingest;
pub mod model;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod rules;
