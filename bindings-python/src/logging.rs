//! Agora's log events (Rust `tracing` events, the audit log included, and
//! `log` records of the libraries underneath) forwarded to Python's
//! `logging`.
//!
//! A `tracing` layer copies each enabled event (level, target, fields,
//! file and line, time, thread name) into a bounded channel and returns:
//! the threads that emit events (Tokio's, the hashing pool's, yours)
//! never take the GIL, never wait, and so cannot deadlock with Python. One
//! thread of this module (`agora-logging`) takes the GIL once per batch
//! and hands each record to `logging.getLogger(<name>)` when that logger
//! is enabled for its level. When Python falls behind by more than
//! [`CAPACITY`] events, the newest are dropped and counted, and a warning
//! says how many.
//!
//! Names: target `agora::audit` is the logger `agora.audit`, `agora::mail`
//! `agora.mail`, a module of an Agora crate `agora.<crate>.<module>`
//! (`agora_core::service::auth` is `agora.core.service.auth`), anything
//! else `agora.deps.<target>` (`sqlx::query` is `agora.deps.sqlx.query`).
//! Levels: ERROR 40, WARN 30, INFO 20, DEBUG 10, TRACE 5. Fields are
//! appended to the message as `name=value` and set on the record as
//! attributes (`record.user_id`), unless the name is one of `LogRecord`'s.
//!
//! Filter: INFO and above always reach the forwarding thread (they are
//! few: one per login, registration, ...). DEBUG and TRACE are dropped in
//! Rust, without the GIL, unless Python enables them on `agora` or a
//! logger under it: the levels are read when an instance or a server is
//! created, then at most once a second (on a call, or after a batch).

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Most events waiting for Python; more are dropped (and counted).
pub(crate) const CAPACITY: usize = 10_000;

/// The most verbose level forwarded, by [`rank`]: never below INFO.
static THRESHOLD: AtomicU8 = AtomicU8::new(INFO);
const INFO: u8 = 3;
/// Events dropped because the channel was full, not yet reported.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// 1 (ERROR) to 5 (TRACE).
fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Python's number for a level.
fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Installs the forwarding layer as the process's `tracing` subscriber
/// (and `log` logger), once, and reads Python's levels.
pub(crate) fn install(py: Python<'_>) {
    refresh(py);
    // Fails only if a subscriber is set already (by an embedding program).
    let _ = tracing_subscriber::registry().with(Forward).try_init();
}

/// The layer: copies enabled events to the channel.
struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.is_event() && rank(meta.level()) <= THRESHOLD.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match THRESHOLD.load(Ordering::Relaxed) {
            0..=3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut record = Record {
            level: python_level(meta.level()),
            target: meta.target().to_owned(),
            file: meta.file().map(str::to_owned),
            line: meta.line(),
            message: String::new(),
            fields: Vec::new(),
            time: SystemTime::now(),
            thread: std::thread::current().name().map(str::to_owned),
        };
        event.record(&mut record);
        send(record);
    }
}

/// One event, copied for Python.
struct Record {
    level: u8,
    target: String,
    file: Option<String>,
    line: Option<u32>,
    message: String,
    fields: Vec<(&'static str, Value)>,
    time: SystemTime,
    thread: Option<String>,
}

/// A field's value, as Python gets it.
enum Value {
    Str(String),
    Int(i64),
    UInt(u64),
    Bool(bool),
    Float(f64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(n) => write!(f, "{n}"),
            Value::UInt(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Float(x) => write!(f, "{x}"),
        }
    }
}

impl Record {
    fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.message = value.to_string();
        } else if !name.starts_with("log.") {
            self.fields.push((name, value));
        }
    }
}

impl Visit for Record {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::UInt(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::Float(value));
    }
}

/// Queues `record` for Python without waiting; counts it when full.
fn send(record: Record) {
    if let Some(sender) = sender()
        && let Err(TrySendError::Full(_)) = sender.try_send(record)
    {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// This process's channel to its forwarding thread, started on first use;
/// a child of `fork()` (which has no copy of the thread) starts its own.
fn sender() -> Option<SyncSender<Record>> {
    static FIRST: OnceLock<(u32, Option<SyncSender<Record>>)> = OnceLock::new();
    static CHILD: Mutex<Option<(u32, Option<SyncSender<Record>>)>> = Mutex::new(None);
    let pid = std::process::id();
    let (first, sender) = FIRST.get_or_init(|| (pid, start()));
    if *first == pid {
        return sender.clone();
    }
    let mut child = CHILD.lock().unwrap_or_else(PoisonError::into_inner);
    match &*child {
        Some((owner, sender)) if *owner == pid => sender.clone(),
        _ => {
            let sender = start();
            *child = Some((pid, sender.clone()));
            sender
        }
    }
}

/// Starts the forwarding thread; `None` if the thread cannot start.
fn start() -> Option<SyncSender<Record>> {
    let (sender, receiver) = sync_channel(CAPACITY);
    std::thread::Builder::new()
        .name("agora-logging".to_owned())
        .spawn(move || forward(&receiver))
        .ok()?;
    Some(sender)
}

/// The forwarding thread: waits for events without the GIL, then hands
/// each batch to Python; ends when the interpreter shuts down.
fn forward(receiver: &Receiver<Record>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match receiver.try_recv() {
                Ok(record) => batch.push(record),
                Err(_) => break,
            }
        }
        let attached = Python::try_attach(|py| {
            let dropped = DROPPED.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let _ = emit(py, &dropped_warning(dropped));
            }
            for record in &batch {
                // A failing handler reports through logging's own
                // `handleError`; anything else is not worth a crash.
                let _ = emit(py, record);
            }
            refresh_now_and_then(py);
        });
        if attached.is_none() {
            return;
        }
    }
}

fn dropped_warning(dropped: u64) -> Record {
    Record {
        level: 30,
        target: "agora::logging".to_owned(),
        file: None,
        line: None,
        message: format!(
            "{dropped} log events were dropped: Python's logging did not keep up with Agora's"
        ),
        fields: Vec::new(),
        time: SystemTime::now(),
        thread: None,
    }
}

/// The Python logger name of a `tracing` target.
fn logger_name(target: &str) -> String {
    let dotted = target.replace("::", ".");
    if let Some(rest) = dotted.strip_prefix("agora_") {
        format!("agora.{rest}")
    } else if let Some(rest) = dotted.strip_prefix("_agora") {
        format!("agora.python{rest}")
    } else if dotted == "agora" || dotted.starts_with("agora.") {
        dotted
    } else {
        format!("agora.deps.{dotted}")
    }
}

/// The attributes every `LogRecord` has, which `extra` may not replace.
const RESERVED: &[&str] = &[
    "name",
    "msg",
    "args",
    "levelname",
    "levelno",
    "pathname",
    "filename",
    "module",
    "exc_info",
    "exc_text",
    "stack_info",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "processName",
    "process",
    "taskName",
    "message",
    "asctime",
];

fn logging(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static LOGGING: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    LOGGING
        .get_or_try_init(py, || Ok(py.import("logging")?.unbind()))
        .map(|m| m.bind(py))
}

/// Hands `record` to its Python logger, if enabled for its level.
fn emit(py: Python<'_>, record: &Record) -> PyResult<()> {
    let name = logger_name(&record.target);
    let logger = logging(py)?.call_method1("getLogger", (&name,))?;
    if !logger
        .call_method1("isEnabledFor", (record.level,))?
        .is_truthy()?
    {
        return Ok(());
    }
    let mut message = record.message.clone();
    let extra = PyDict::new(py);
    for (field, value) in &record.fields {
        let _ = write!(message, " {field}={value}");
        if RESERVED.contains(field) {
            continue;
        }
        match value {
            Value::Str(s) => extra.set_item(field, s)?,
            Value::Int(n) => extra.set_item(field, n)?,
            Value::UInt(n) => extra.set_item(field, n)?,
            Value::Bool(b) => extra.set_item(field, b)?,
            Value::Float(x) => extra.set_item(field, x)?,
        }
    }
    let created = record
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |t| t.as_secs_f64());
    let log_record = logger.call_method1(
        "makeRecord",
        (
            &name,
            record.level,
            record.file.as_deref().unwrap_or("(unknown file)"),
            record.line.unwrap_or(0),
            message.trim_start(),
            PyTuple::empty(py),
            py.None(),
            py.None(),
            extra,
        ),
    )?;
    log_record.setattr("created", created)?;
    log_record.setattr("msecs", (created.fract() * 1000.0).floor())?;
    if let Some(thread) = &record.thread {
        log_record.setattr("threadName", thread)?;
    }
    logger.call_method1("handle", (log_record,))?;
    Ok(())
}

/// Reads Python's levels: DEBUG and TRACE events are forwarded only when
/// `agora` or a logger under it is enabled for them.
pub(crate) fn refresh(py: Python<'_>) {
    let Ok(level) = python_threshold(py) else {
        return;
    };
    let threshold = match level {
        ..=5 => 5,
        6..=10 => 4,
        _ => INFO,
    };
    if THRESHOLD.swap(threshold, Ordering::Relaxed) != threshold {
        tracing::callsite::rebuild_interest_cache();
        tracing_log::log::set_max_level(match threshold {
            5 => tracing_log::log::LevelFilter::Trace,
            4 => tracing_log::log::LevelFilter::Debug,
            _ => tracing_log::log::LevelFilter::Info,
        });
    }
}

/// The lowest effective level of `agora` and the loggers under it.
fn python_threshold(py: Python<'_>) -> PyResult<i64> {
    let logging = logging(py)?;
    let mut level: i64 = logging
        .call_method1("getLogger", ("agora",))?
        .call_method0("getEffectiveLevel")?
        .extract()?;
    let logger_class = logging.getattr("Logger")?;
    let loggers = logging
        .getattr("root")?
        .getattr("manager")?
        .getattr("loggerDict")?;
    let loggers = loggers.cast::<PyDict>()?;
    for (name, logger) in loggers.iter() {
        let name: String = name.extract()?;
        if name.starts_with("agora.") && logger.is_instance(&logger_class)? {
            level = level.min(logger.call_method0("getEffectiveLevel")?.extract()?);
        }
    }
    Ok(level)
}

/// [`refresh`], at most once a second.
pub(crate) fn refresh_now_and_then(py: Python<'_>) {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(START.elapsed().as_millis()).unwrap_or(u64::MAX);
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 1000
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        refresh(py);
    }
}

#[cfg(test)]
mod tests {
    use super::logger_name;

    #[test]
    fn targets_become_loggers_under_agora() {
        for (target, logger) in [
            ("agora::audit", "agora.audit"),
            ("agora::mail", "agora.mail"),
            ("agora_core::service::auth", "agora.core.service.auth"),
            ("agora_sqlx", "agora.sqlx"),
            ("_agora::server", "agora.python.server"),
            ("sqlx::query", "agora.deps.sqlx.query"),
        ] {
            assert_eq!(logger_name(target), logger, "{target}");
        }
    }
}
