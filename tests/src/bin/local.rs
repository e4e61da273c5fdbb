//! `make local`: the local AWS in the foreground, seeded with every resource the files in
//! `events/` name, printing the settings to paste into the shell that runs `cargo lambda watch`.
//!
//! ```text
//! local [--port 4599] [--host 127.0.0.1]     # LOCAL_PORT / LOCAL_HOST: the same
//! local --sam-env-vars [--port 4599]         # print events/env.json (for sam local invoke)
//! ```
//!
//! `--host 0.0.0.0` lets containers (`sam local invoke` on Linux) reach it. Ctrl-C stops it.

use std::process::{ExitCode, Stdio};

use corebound_tests::local::settings::{sam_env_vars, DEFAULT_PORT};
use corebound_tests::local::LocalAws;

fn main() -> ExitCode {
    let mut port: u16 = std::env::var("LOCAL_PORT")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_port(&p))
        .unwrap_or(DEFAULT_PORT);
    let mut host = std::env::var("LOCAL_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut sam = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = parse_port(&args.next().unwrap_or_default()),
            "--host" => host = args.next().unwrap_or_default(),
            "--sam-env-vars" => sam = true,
            other => {
                eprintln!(
                    "local: unknown argument {other:?} (see the header of tests/src/bin/local.rs)"
                );
                return ExitCode::from(2);
            }
        }
    }
    if sam {
        println!(
            "{}",
            serde_json::to_string_pretty(&sam_env_vars(port)).unwrap()
        );
        return ExitCode::SUCCESS;
    }
    let local = LocalAws::start(&host, port, Stdio::inherit());
    print!("{}", local.banner());
    // Ctrl-C reaches the emulator too (same process group); it exits, and so do we.
    if local.emulator.wait() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse_port(text: &str) -> u16 {
    text.trim().parse().unwrap_or_else(|_| {
        eprintln!("local: the port must be a number from 0 to 65535, got {text:?}");
        std::process::exit(2)
    })
}
