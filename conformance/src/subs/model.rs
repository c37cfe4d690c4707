//! The §7 model (filled in with the property).
