//! ferry-proto's integration tests: one binary, one module per subject.

#![allow(
    clippy::cast_possible_truncation,
    reason = "test files are small enough that offsets fit in usize"
)]
#![allow(clippy::too_many_lines, reason = "case tables read best in one piece")]

mod galileo;
mod galileo_props;
mod tus_concat_resume;
mod tus_fixtures;
mod tus_flows;
mod tus_limits;
mod tus_props;
mod tus_sim;
