//! Child servers (killed on drop) and what /proc says about them.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load;
use crate::seed::Backend;
use crate::{BoxError, err};

/// A server process started by the bench, killed and reaped on drop.
pub struct Server {
    /// What it is ("agora", "ceiling"), for messages.
    pub name: &'static str,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `bin` with `env` on a free port of 127.0.0.1 (passed as
    /// `AGORA_BIND`), logging to `log`, and waits for `GET /health` to
    /// answer 200.
    pub async fn start(
        name: &'static str,
        bin: &Path,
        env: &[(&str, String)],
        dir: &Path,
        log: PathBuf,
    ) -> Result<Server, BoxError> {
        let addr = free_port()?;
        let out = fs::File::create(&log)?;
        let child = Command::new(bin)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("AGORA_BIND", addr.to_string())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| err(format!("starting {}: {e}", bin.display())))?;
        let mut server = Server {
            name,
            addr,
            child,
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&mut self) -> Result<(), BoxError> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(err(format!(
                    "{} server exited ({status}) before it was ready; its log:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            if let Ok((status, _)) = load::one_request(self.addr, load::get("/health")).await
                && status.is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(err(format!(
                    "{} server not ready after 120 s; its log:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of the server's output.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// CPU time (user + system, all threads) in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks(self.child.id()).unwrap_or(0)
    }

    /// Resident set size now (VmRSS), in KiB.
    pub fn rss_kb(&self) -> u64 {
        status_kb(self.child.id(), "VmRSS").unwrap_or(0)
    }

    /// Peak resident set size over the process's life (VmHWM), in KiB.
    pub fn hwm_kb(&self) -> u64 {
        status_kb(self.child.id(), "VmHWM").unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port of 127.0.0.1 nobody listens on right now.
fn free_port() -> Result<SocketAddr, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of
/// `/proc/<pid>/stat`, counted after the parenthesised command name).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` line of `/proc/<pid>/status`.
pub fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// CPU ticks of the database server of `backend`: every process named
/// `postgres` for PostgreSQL, `mariadbd` or `mysqld` for MariaDB/MySQL
/// (the database's side of the work; the machine runs nothing else during
/// a scenario); 0 for SQLite, which runs in the server's process.
pub fn db_ticks(backend: Backend) -> u64 {
    let names: &[&str] = match backend {
        Backend::Sqlite => return 0,
        Backend::Postgres => &["postgres"],
        Backend::MySql => &["mariadbd", "mysqld"],
    };
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| names.contains(&c.trim()))
        })
        .filter_map(cpu_ticks)
        .sum()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux if that fails).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Busy CPU ticks of the whole machine (all of /proc/stat's `cpu` line but
/// idle and iowait).
pub fn machine_busy_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return 0;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    fields.iter().take(8).sum::<u64>()
        - fields.get(3).copied().unwrap_or(0)
        - fields.get(4).copied().unwrap_or(0)
}

/// This process's CPU ticks (the load generator).
pub fn self_ticks() -> u64 {
    cpu_ticks(std::process::id()).unwrap_or(0)
}

/// The CPU time, in nanoseconds, that the threads of process `pid` (this
/// process when `None`) whose names start with `prefix` have run
/// (`/proc/<pid>/task/<tid>/schedstat`, first field), summed; `None` when
/// no thread has such a name.
pub fn threads_cpu_ns(pid: Option<u32>, prefix: &str) -> Option<u64> {
    let tasks = match pid {
        Some(pid) => format!("/proc/{pid}/task"),
        None => "/proc/self/task".to_owned(),
    };
    let mut total = None;
    for task in std::fs::read_dir(tasks).ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
            total = Some(total.unwrap_or(0) + ns);
        }
    }
    total
}
