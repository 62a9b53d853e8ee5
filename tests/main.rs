//! Integration tests: run the real `vault` binary against real repositories.
//!
//! One harness with scenario modules; every test makes its own temporary
//! repository and source tree, so tests are independent and run in parallel.
mod attacks;
mod cache;
mod check;
mod commands;
mod common;
mod copy;
mod corruption;
mod crash;
mod docs;
mod errors;
mod excludes;
mod forget;
mod hostile_names;
mod hostile_snapshots;
mod incremental;
mod inspect;
mod interrupt;
mod keys;
mod locks;
mod memory;
mod mount;
mod postgres;
mod profiles;
mod prune;
mod put_only;
mod races;
mod restore;
mod restore_safety;
mod roundtrip;
mod s3;
mod secrets;
mod serve;
mod starvation;
mod stdin;
mod structure;
mod torture;
