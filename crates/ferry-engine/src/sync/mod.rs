//! Folder sync: keeping whole folders uploaded. [`scan`] walks a folder and compares it with
//! the journal, [`ignore`] says which files are never uploaded, and [`plan`] is the pure
//! decision of what to do with one path. None of these know of networks, servers or events.

pub mod ignore;
pub mod plan;
pub mod scan;
