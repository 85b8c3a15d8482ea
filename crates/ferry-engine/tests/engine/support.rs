//! The test server and file helpers, shared with the other crates' tests (`ferry-tests`).

pub(crate) use ferry_tests::server::*;
