//! ferry-proto's integration tests: one binary, one module per subject.

mod tus_fixtures;
mod tus_flows;
mod tus_props;
mod tus_sim;
