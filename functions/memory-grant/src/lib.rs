//! The part of `memory-grant` that `corebound doctor` shares: how the IAM simulator is asked
//! and its answer read. The Lambda itself is the binary (`src/main.rs`).

pub mod simulation;
