//! What the `demo` and `demo-org` binaries share: the checks they print as they go, so a demo
//! exits non-zero when one fails.

/// Collects the checks a demo makes.
#[derive(Default)]
pub struct Checks {
    pub failed: Vec<String>,
}

impl Checks {
    pub fn expect(&mut self, ok: bool, what: &str) {
        println!("  {} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failed.push(what.to_string());
        }
    }
}

/// A section of the demo's output.
pub fn heading(text: &str) {
    println!("\n== {text}");
}
