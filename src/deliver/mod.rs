//! stage: deliver (to be written)
