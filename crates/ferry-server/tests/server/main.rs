//! ferry-server's integration tests: the real server on 127.0.0.1 port 0, real HTTP and
//! WebSocket clients. One binary, one module per subject.

mod api;
mod cli;
mod copy;
mod crash;
mod durability;
mod galileo_client;
mod galileo_endpoint;
mod galileo_resume;
mod hostile_disk;
mod hostile_limits;
mod hostile_login;
mod hostile_ownership;
mod hostile_publish;
mod hostile_revocation;
mod hostile_support;
mod interop;
mod operate;
mod support;
mod tls;
mod tus_auth;
mod tus_core;
mod tus_driver;
mod tus_errors;
mod tus_extensions;
