//! The bearer token type, shared with the server: see [`ferry_proto::token`].

pub use ferry_proto::token::Token;
