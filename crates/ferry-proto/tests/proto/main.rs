//! ferry-proto's integration tests, one binary for all protocols.
mod galileo;
mod galileo_props;
