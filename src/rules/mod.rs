//! stage: rules (to be written)
