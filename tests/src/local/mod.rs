//! `make local`: the local AWS seeded with every resource the files in `events/` name, and the
//! settings a user pastes into the shell that runs the functions (`cargo lambda watch`).
//!
//! The end-to-end test `tests/tests/local_run.rs` starts it through [`LocalAws::start`] exactly as
//! the `local` binary does, only on a free port.

pub mod seed;
pub mod settings;

use std::process::Stdio;

use crate::emulator::Emulator;

/// Path of the stand-in for CloudFormation's ResponseURL on the emulator.
pub const RESPONSE_PATH: &str = "/cloudformation-response/";

pub struct LocalAws {
    pub emulator: Emulator,
    /// The URL functions use, e.g. `http://127.0.0.1:4599`.
    pub endpoint: String,
    pub port: u16,
    pub seeded: seed::Summary,
}

impl LocalAws {
    /// The emulator on `host:port` (0: a free port), seeded. `stderr` receives the emulator's
    /// own error output (tracebacks).
    pub fn start(host: &str, port: u16, stderr: Stdio) -> Self {
        let emulator = Emulator::start_at(host, port, stderr);
        let port: u16 = emulator
            .url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the emulator's URL ends in its port");
        // Listening on every interface (for containers) is still reached on loopback from here.
        let endpoint = format!("http://127.0.0.1:{port}");
        let seeded = seed::seed(&emulator);
        LocalAws {
            emulator,
            endpoint,
            port,
            seeded,
        }
    }

    /// Host functions may PUT their CloudFormation answers to.
    pub fn response_host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The `export` lines for the functions' shell.
    pub fn export_lines(&self) -> String {
        settings::export_lines(&self.endpoint, self.response_host())
    }

    /// Everything `make local` prints once the local AWS is ready.
    pub fn banner(&self) -> String {
        let mut out = format!(
            "corebound local AWS at {} (moto + corebound's emulators), account {}, region {}\n\n",
            self.endpoint,
            settings::ACCOUNT,
            settings::REGION
        );
        out.push_str("Seeded with every resource the files in events/ name:\n");
        let width = self.seeded.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (what, detail) in &self.seeded {
            out.push_str(&format!("  {what:<width$}  {detail}\n"));
        }
        out.push_str(
            "\nIn another terminal, paste these lines, then run `cargo lambda watch`:\n\n",
        );
        out.push_str(&self.export_lines());
        out.push_str(&format!(
            "\nIn a third terminal, invoke a function with a file from events/:\n\n  \
             cargo lambda invoke runtime-policy --data-file events/runtime-policy/create.json\n\n\
             Custom resources answer CloudFormation at the file's ResponseURL, here; read the answer with:\n\n  \
             curl -s {}{RESPONSE_PATH}runtime-policy\n\n\
             (one path per function: runtime-policy, memory-grant; `curl -s {}{RESPONSE_PATH}` lists them).\n\
             Ctrl-C stops the local AWS; its state lives in memory only.\n",
            self.endpoint, self.endpoint
        ));
        out
    }
}
