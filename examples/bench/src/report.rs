//! The Markdown report: one table and one target checklist per backend.

use std::fmt::Write as _;

/// One measured scenario (one group of connections in it).
pub struct Row {
    /// Posts in the database when measured ("100k").
    pub scale: String,
    /// The route and variant.
    pub route: String,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles in microseconds: p50, p99, p99.9.
    pub p50: u64,
    /// p99 in microseconds.
    pub p99: u64,
    /// p99.9 in microseconds.
    pub p999: u64,
    /// Requests in the window.
    pub requests: u64,
    /// Errors in the window.
    pub errors: u64,
    /// Server CPU seconds per 1,000 requests (the whole scenario's requests).
    pub cpu_per_1k: f64,
    /// The database server's CPU seconds per 1,000 requests (all `postgres`
    /// processes, or `mariadbd`/`mysqld`); none on SQLite.
    pub db_cpu_per_1k: Option<f64>,
    /// Server VmRSS at the end of the scenario, KiB.
    pub rss_kb: u64,
    /// Server VmHWM (peak since it started), KiB.
    pub hwm_kb: u64,
    /// The ceiling's requests per second for this route at this scale.
    pub ceiling_rps: Option<f64>,
}

/// A target and how it went.
pub struct Target {
    /// What the issue asks.
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// `None`: not measured in this run.
    pub pass: Option<bool>,
}

/// Everything measured on one backend.
#[derive(Default)]
pub struct BackendReport {
    /// "SQLite", "PostgreSQL 15.x".
    pub name: String,
    /// Lines above the table (seeding times, idle RSS, words).
    pub facts: Vec<String>,
    /// The table.
    pub rows: Vec<Row>,
    /// The checklist.
    pub targets: Vec<Target>,
    /// Lines below the checklist (plans, errors seen).
    pub notes: Vec<String>,
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Microseconds as milliseconds with sensible precision.
pub fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// KiB as MB (MiB, one decimal).
pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Requests per second, rounded.
pub fn rps(r: f64) -> String {
    if r >= 100.0 {
        thousands(r.round() as i64)
    } else {
        format!("{r:.1}")
    }
}

impl BackendReport {
    /// The Markdown section.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## {}\n", self.name);
        for fact in &self.facts {
            let _ = writeln!(out, "- {fact}");
        }
        let db_cpu = self.rows.iter().any(|r| r.db_cpu_per_1k.is_some());
        out.push('\n');
        out.push_str(
            "| posts | route | req/s | p50 | p99 | p99.9 | errors | server CPU s / 1k req |",
        );
        if db_cpu {
            out.push_str(" database CPU s / 1k req |");
        }
        out.push_str(" RSS end | peak RSS | ceiling req/s | ratio |\n");
        out.push_str("|---|---|--:|--:|--:|--:|--:|--:|");
        if db_cpu {
            out.push_str("--:|");
        }
        out.push_str("--:|--:|--:|--:|\n");
        for r in &self.rows {
            let _ = write!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {:.3} |",
                r.scale,
                r.route,
                rps(r.rps),
                ms(r.p50),
                ms(r.p99),
                ms(r.p999),
                if r.errors == 0 {
                    "0".to_owned()
                } else {
                    format!(
                        "{} of {}",
                        thousands(r.errors as i64),
                        thousands(r.requests as i64)
                    )
                },
                r.cpu_per_1k
            );
            if db_cpu {
                match r.db_cpu_per_1k {
                    Some(c) => {
                        let _ = write!(out, " {c:.3} |");
                    }
                    None => out.push_str(" |"),
                }
            }
            let (ceiling, ratio) = match r.ceiling_rps {
                Some(c) if c > 0.0 => (rps(c), format!("{:.0}%", 100.0 * r.rps / c)),
                _ => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                " {} | {} | {ceiling} | {ratio} |",
                mb(r.rss_kb),
                mb(r.hwm_kb)
            );
        }
        out.push_str("\n| target | measured | result |\n|---|---|---|\n");
        for t in &self.targets {
            let result = match t.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "not measured",
            };
            let _ = writeln!(out, "| {} | {} | {result} |", t.goal, t.measured);
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "{note}\n");
            }
        }
        out
    }
}
