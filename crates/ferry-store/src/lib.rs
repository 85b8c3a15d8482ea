//! The client journal of Ferry: the single source of truth for what is uploaded.
//!
//! # Layout (to come)
//! - `schema`: the SQLite schema, applied through `rusqlite_migration`, each migration tested.
//! - `accounts`, `folders`, `files`, `uploads`, `history`: typed queries over the tables of
//!   DESIGN 4.3. Offsets are written only after the server confirmed them.
//!
//! This crate knows nothing of networks, protocols or user interfaces: it stores facts that
//! the engine hands it and answers questions about them. Secrets never reach it.
