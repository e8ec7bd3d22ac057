//! stage: render (to be written)
