//! Prometheus metrics: every metric name, label name and recording helper,
//! in one place. Core records logins, hashing, throttling-store errors and
//! mail here; the adapters (`agora_axum::metrics`, `agora_rocket::metrics`)
//! only find each request's route template, method and status, time it and
//! call [`record_request`], and serve [`Exporter::render`] as `GET /metrics`.
//!
//! Recording goes through the [`metrics`] facade: until a recorder is
//! installed (by [`install`], or an app's own) every helper does nothing.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `agora_http_requests_total` | counter | `route`, `method`, `status` |
//! | `agora_http_request_duration_seconds` | histogram | `route`, `method`, `status` |
//! | `agora_logins_total` | counter | `outcome`: `success`, `failure`, `throttled` |
//! | `agora_password_hash_queue` | gauge | |
//! | `agora_password_hash_duration_seconds` | histogram | `operation`: `hash`, `verify` |
//! | `agora_db_pool_connections` | gauge | |
//! | `agora_db_pool_idle` | gauge | |
//! | `agora_db_pool_max` | gauge | |
//! | `agora_db_pool_waiting` | gauge | |
//! | `agora_throttle_store_errors_total` | counter | `operation`: `reserve`, `release`, `reset` |
//! | `agora_mails_total` | counter | `kind`, `outcome`: `sent`, `failed`, `dropped` |
//!
//! Route labels are templates (`/posts/{id}`), never raw paths, and
//! methods outside the standard ones are `OTHER`, so the number of series
//! stays bounded; requests that match no route share [`UNMATCHED_ROUTE`].

use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use metrics::{
    Label, SharedString, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::storage::PoolStatus;

/// Requests answered, by route template, method and status.
pub const HTTP_REQUESTS: &str = "agora_http_requests_total";
/// Time to answer a request (until its response head), in seconds.
pub const HTTP_REQUEST_DURATION: &str = "agora_http_request_duration_seconds";
/// Login attempts by outcome.
pub const LOGINS: &str = "agora_logins_total";
/// Hashes and verifications waiting for a hashing thread.
pub const HASH_QUEUE: &str = "agora_password_hash_queue";
/// Time one hash or verification takes on its thread, in seconds.
pub const HASH_DURATION: &str = "agora_password_hash_duration_seconds";
/// Connections open in the database pool.
pub const DB_POOL_CONNECTIONS: &str = "agora_db_pool_connections";
/// Idle connections in the database pool.
pub const DB_POOL_IDLE: &str = "agora_db_pool_idle";
/// The most connections the database pool may open.
pub const DB_POOL_MAX: &str = "agora_db_pool_max";
/// Storage calls waiting for a database connection.
pub const DB_POOL_WAITING: &str = "agora_db_pool_waiting";
/// Failed calls to the throttling store (Redis), by operation.
pub const THROTTLE_STORE_ERRORS: &str = "agora_throttle_store_errors_total";
/// Account mails by kind and outcome.
pub const MAILS: &str = "agora_mails_total";

/// The label naming a request's route template.
pub const ROUTE: &str = "route";
/// The label naming a request's method.
pub const METHOD: &str = "method";
/// The label naming a response's status code.
pub const STATUS: &str = "status";
/// The label naming an outcome.
pub const OUTCOME: &str = "outcome";
/// The label naming an operation.
pub const OPERATION: &str = "operation";
/// The label naming a mail's kind.
pub const KIND: &str = "kind";

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `Content-Type` of [`Exporter::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets of [`HTTP_REQUEST_DURATION`], in seconds.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of [`HASH_DURATION`], in seconds (an OWASP argon2id hash takes
/// tens of milliseconds).
const HASH_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// How often the installed recorder's histograms are folded (its upkeep).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The route template of a request Agora's own routes answered, mounted at
/// `base` (`""` at the root, `"/api"` when nested): `base` + the endpoint's
/// template, or [`UNMATCHED_ROUTE`] when no endpoint matched. Adapters put
/// it where their metrics layer or fairing finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLabel(pub SharedString);

impl RouteLabel {
    /// The label of `template` (an endpoint's path) mounted at `base`.
    pub fn of(base: &str, template: &'static str) -> Self {
        let base = base.trim_end_matches('/');
        RouteLabel(match (base, template) {
            ("", template) => SharedString::const_str(template),
            (base, "/") => SharedString::from_owned(base.to_owned()),
            (base, template) => SharedString::from_owned(format!("{base}{template}")),
        })
    }

    /// The label of a request that matched no route.
    pub fn unmatched() -> Self {
        RouteLabel(SharedString::const_str(UNMATCHED_ROUTE))
    }
}

/// A request method as a label: the standard methods as they are, any
/// other `OTHER` (a client can send any token as a method).
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("OTHER")
}

/// Records one answered request: `route` is its template (or
/// [`UNMATCHED_ROUTE`]), never the raw path.
pub fn record_request(route: SharedString, method: &str, status: u16, elapsed: Duration) {
    let labels = vec![
        Label::new(ROUTE, route),
        Label::from_static_parts(METHOD, method_label(method)),
        Label::new(STATUS, status_label(status)),
    ];
    counter!(HTTP_REQUESTS, labels.clone()).increment(1);
    histogram!(HTTP_REQUEST_DURATION, labels).record(elapsed.as_secs_f64());
}

/// A status code as a label, shared for the codes HTTP defines (100-599)
/// so that recording one allocates nothing.
fn status_label(status: u16) -> SharedString {
    static DEFINED: LazyLock<Vec<SharedString>> = LazyLock::new(|| {
        (100..600u16)
            .map(|code| SharedString::from_shared(Arc::from(code.to_string())))
            .collect()
    });
    match DEFINED.get(usize::from(status).wrapping_sub(100)) {
        Some(label) => label.clone(),
        None => SharedString::from_owned(status.to_string()),
    }
}

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Tokens were issued.
    Success,
    /// Wrong credentials, or an account that may not log in (address not
    /// verified, password changed during the attempt).
    Failure,
    /// Refused by throttling (429) before the password was checked.
    Throttled,
}

impl LoginOutcome {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::Failure => "failure",
            LoginOutcome::Throttled => "throttled",
        }
    }

    /// The outcome of a login that failed with `error` (`None`: it
    /// succeeded); `None` for an error that says nothing about the
    /// credentials (the database or Redis down: 503).
    pub(crate) fn of(error: Option<&crate::Error>) -> Option<Self> {
        use crate::Error;
        match error {
            None => Some(LoginOutcome::Success),
            Some(Error::RateLimited { .. }) => Some(LoginOutcome::Throttled),
            Some(Error::InvalidCredentials | Error::EmailNotVerified) => {
                Some(LoginOutcome::Failure)
            }
            Some(_) => None,
        }
    }
}

/// Records a login attempt's outcome.
pub(crate) fn record_login(outcome: LoginOutcome) {
    counter!(LOGINS, OUTCOME => outcome.as_str()).increment(1);
}

/// A hash or verification joined the hashing pool's queue; the guard
/// leaves it when dropped (when a thread takes the work, or the work is
/// dropped unrun).
pub(crate) fn hash_queued() -> HashQueueSlot {
    gauge!(HASH_QUEUE).increment(1.0);
    HashQueueSlot(())
}

/// One place in the hashing queue (see [`hash_queued`]).
#[derive(Debug)]
pub(crate) struct HashQueueSlot(());

impl Drop for HashQueueSlot {
    fn drop(&mut self) {
        gauge!(HASH_QUEUE).decrement(1.0);
    }
}

/// Records the time one hash (`"hash"`) or verification (`"verify"`) took
/// on its thread.
pub(crate) fn record_hash_time(operation: &'static str, elapsed: Duration) {
    histogram!(HASH_DURATION, OPERATION => operation).record(elapsed.as_secs_f64());
}

/// Records a failed call to the throttling store.
pub(crate) fn record_throttle_store_error(operation: &'static str) {
    counter!(THROTTLE_STORE_ERRORS, OPERATION => operation).increment(1);
}

/// What became of an account mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// Handed to the mailer (with no SMTP server: its link logged).
    Sent,
    /// Every delivery attempt failed.
    Failed,
    /// Not queued: too many mails were waiting already.
    Dropped,
}

impl MailOutcome {
    /// Its label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MailOutcome::Sent => "sent",
            MailOutcome::Failed => "failed",
            MailOutcome::Dropped => "dropped",
        }
    }
}

/// Records what became of an account mail of `kind`.
pub(crate) fn record_mail(kind: crate::mail::MailKind, outcome: MailOutcome) {
    counter!(MAILS, KIND => kind.as_str(), OUTCOME => outcome.as_str()).increment(1);
}

/// Sets the database pool gauges from `status`.
pub fn record_pool(status: &PoolStatus) {
    gauge!(DB_POOL_CONNECTIONS).set(f64::from(status.size));
    gauge!(DB_POOL_IDLE).set(f64::from(status.idle));
    gauge!(DB_POOL_MAX).set(f64::from(status.max));
    gauge!(DB_POOL_WAITING).set(f64::from(status.waiting));
}

/// Describes every metric to the current recorder (its `# HELP` lines).
fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "Requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time to answer a request, by route template, method and status."
    );
    describe_counter!(
        LOGINS,
        "Login attempts by outcome (success, failure, throttled)."
    );
    describe_gauge!(
        HASH_QUEUE,
        "Password hashes and verifications waiting for a hashing thread."
    );
    describe_histogram!(
        HASH_DURATION,
        metrics::Unit::Seconds,
        "Time one password hash or verification takes."
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Connections open in the database pool."
    );
    describe_gauge!(DB_POOL_IDLE, "Idle connections in the database pool.");
    describe_gauge!(
        DB_POOL_MAX,
        "The most connections the database pool may open."
    );
    describe_gauge!(
        DB_POOL_WAITING,
        "Storage calls waiting for a database connection (calls in flight beyond the connections in use)."
    );
    describe_counter!(
        THROTTLE_STORE_ERRORS,
        "Failed calls to the throttling store (Redis), by operation."
    );
    describe_counter!(
        MAILS,
        "Account mails by kind and outcome (sent, failed, dropped)."
    );
}

/// Why [`install`] failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the Prometheus metrics recorder: {0}")]
pub struct MetricsError(String);

/// The Prometheus recorder [`install`] made, to render what it holds.
#[derive(Debug, Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
}

/// The exporter installed in this process, if any.
static INSTALLED: Mutex<Option<Exporter>> = Mutex::new(None);

/// The Prometheus recorder with Agora's histogram buckets, not installed
/// (for tests, with [`metrics::with_local_recorder`]).
pub fn recorder() -> Result<metrics_exporter_prometheus::PrometheusRecorder, MetricsError> {
    let error = |e: metrics_exporter_prometheus::BuildError| MetricsError(e.to_string());
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.into()), REQUEST_BUCKETS)
        .map_err(error)?
        .set_buckets_for_metric(Matcher::Full(HASH_DURATION.into()), HASH_BUCKETS)
        .map_err(error)?
        .build_recorder())
}

/// Installs a Prometheus recorder as this process's global metrics
/// recorder, once: later calls return the same [`Exporter`]. Fails when
/// another recorder is installed already (an app's own: render that one
/// instead). A background thread folds its histograms every few seconds,
/// so memory stays bounded between scrapes.
pub fn install() -> Result<Exporter, MetricsError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(exporter) = installed.as_ref() {
        return Ok(exporter.clone());
    }
    let recorder = recorder()?;
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| MetricsError(e.to_string()))?;
    describe();
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("agora-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| MetricsError(e.to_string()))?;
    let exporter = Exporter { handle };
    *installed = Some(exporter.clone());
    Ok(exporter)
}

impl Exporter {
    /// Every metric in the Prometheus text format ([`CONTENT_TYPE`]), the
    /// database pool gauges sampled from `agora` now.
    pub fn render(&self, agora: &crate::Agora) -> String {
        if let Some(status) = agora.pool_status() {
            record_pool(&status);
        }
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_templates_under_their_base() {
        assert_eq!(&*RouteLabel::of("", "/posts/{id}").0, "/posts/{id}");
        assert_eq!(&*RouteLabel::of("/api", "/posts/{id}").0, "/api/posts/{id}");
        assert_eq!(&*RouteLabel::of("/api/", "/").0, "/api");
        assert_eq!(&*RouteLabel::of("", "/").0, "/");
        assert_eq!(&*RouteLabel::unmatched().0, UNMATCHED_ROUTE);
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("get"), "OTHER");
        assert_eq!(method_label("BREW"), "OTHER");
    }

    #[test]
    fn requests_render_as_a_counter_and_a_histogram_with_their_labels() {
        let recorder = recorder().expect("recorder");
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            record_request("/posts/{id}".into(), "GET", 200, Duration::from_millis(3));
            record_request("/posts/{id}".into(), "GET", 200, Duration::from_millis(30));
            record_request(
                UNMATCHED_ROUTE.into(),
                "BREW",
                404,
                Duration::from_millis(1),
            );
            record_request(UNMATCHED_ROUTE.into(), "GET", 999, Duration::from_millis(1));
        });
        let text = handle.render();
        assert!(
            text.contains(
                r#"agora_http_requests_total{route="/posts/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"agora_http_requests_total{route="unmatched",method="OTHER",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"agora_http_requests_total{route="unmatched",method="GET",status="999"} 1"#
            ),
            "a code outside 100-599 keeps its number: {text}"
        );
        assert!(
            text.contains(
                r#"agora_http_request_duration_seconds_bucket{route="/posts/{id}",method="GET",status="200",le="0.005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"agora_http_request_duration_seconds_count{route="/posts/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
    }

    #[test]
    fn the_hash_queue_gauge_counts_waiting_work_only() {
        let recorder = recorder().expect("recorder");
        let handle = recorder.handle();
        let (while_one_waits, once_none_waits) = metrics::with_local_recorder(&recorder, || {
            let first = hash_queued();
            let second = hash_queued();
            drop(first);
            let one = handle.render();
            drop(second);
            (one, handle.render())
        });
        assert!(
            while_one_waits.contains("agora_password_hash_queue 1\n"),
            "{while_one_waits}"
        );
        assert!(
            once_none_waits.contains("agora_password_hash_queue 0\n"),
            "{once_none_waits}"
        );
    }

    #[test]
    fn agora_metrics_bind_sets_the_metrics_address() {
        let read = |vars: &'static [(&'static str, &'static str)]| {
            crate::Config::from_lookup(|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert_eq!(read(&[]).expect("defaults").server.metrics_bind, None);
        let config = read(&[("AGORA_METRICS_BIND", "127.0.0.1:9100")]).expect("valid");
        assert_eq!(
            config.server.metrics_bind,
            Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9100)))
        );
        let err = read(&[("AGORA_METRICS_BIND", "nine")]).expect_err("not an address");
        assert!(
            err.to_string()
                .starts_with("AGORA_METRICS_BIND: \"nine\" is not an address"),
            "{err}"
        );
        let err = read(&[
            ("AGORA_BIND", "127.0.0.1:9100"),
            ("AGORA_METRICS_BIND", "127.0.0.1:9100"),
        ])
        .expect_err("the API's own address");
        assert!(
            err.to_string()
                .starts_with("AGORA_METRICS_BIND: is the API's own address"),
            "{err}"
        );
    }

    #[test]
    fn login_outcomes_are_read_from_the_error() {
        use crate::Error;
        assert_eq!(LoginOutcome::of(None), Some(LoginOutcome::Success));
        let throttled = Error::RateLimited {
            retry_after_secs: 3,
            policy: None,
        };
        assert_eq!(
            LoginOutcome::of(Some(&throttled)),
            Some(LoginOutcome::Throttled)
        );
        for refused in [Error::InvalidCredentials, Error::EmailNotVerified] {
            assert_eq!(
                LoginOutcome::of(Some(&refused)),
                Some(LoginOutcome::Failure)
            );
        }
        assert_eq!(LoginOutcome::of(Some(&Error::internal("down"))), None);
    }

    /// A mailer whose every delivery fails.
    #[derive(Debug)]
    struct Bouncing;

    #[async_trait::async_trait]
    impl crate::mail::Mailer for Bouncing {
        async fn send(&self, _: &crate::mail::Mail) -> Result<(), crate::mail::MailError> {
            Err("mailbox unavailable".into())
        }
    }

    #[test]
    fn the_services_record_login_outcomes_and_failed_mails() {
        use crate::schema::{EmailRequest, LoginRequest, UserCreate};
        let recorder = recorder().expect("recorder");
        let handle = recorder.handle();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let mut config = crate::Config::default();
        config.tokens.secret = Some(crate::config::JwtSecret::generate());
        config.hashing.params = crate::crypto::password::HashParams {
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
        };
        config.mail.public_url = url::Url::parse("https://app.example.com").ok();
        config.mail.attempts = 1;
        let agora = crate::Agora::from_parts(
            std::sync::Arc::new(crate::storage::memory::MemoryStore::new()),
            std::sync::Arc::new(crate::throttle::MemoryThrottleStore::default()),
            std::sync::Arc::new(Bouncing),
            &config,
        )
        .expect("agora");
        let client = crate::domain::ClientInfo::default();
        let email = "ada@example.com".to_owned();
        let login = |password: &str| LoginRequest {
            email: email.clone(),
            password: password.to_owned(),
        };
        let text = metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let user = UserCreate {
                    email: email.clone(),
                    password: "plum orchard at dusk".to_owned(),
                    username: None,
                };
                agora.register(user, &client).await.expect("registers");
                assert!(agora.login(login("wrong"), &client).await.is_err());
                assert!(agora.login(login("wrong"), &client).await.is_err());
                agora
                    .login(login("plum orchard at dusk"), &client)
                    .await
                    .expect("logs in");
                let reset = EmailRequest {
                    email: email.clone(),
                };
                agora.forgot_password(reset, &client).await.expect("queued");
                // The mail is sent by a task of this runtime.
                for _ in 0..200 {
                    if handle.render().contains(MAILS) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                handle.render()
            })
        });
        for line in [
            r#"agora_logins_total{outcome="failure"} 2"#,
            r#"agora_logins_total{outcome="success"} 1"#,
            r#"agora_mails_total{kind="password_reset",outcome="failed"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains(r#"outcome="throttled""#), "{text}");
    }

    #[test]
    fn pool_status_sets_every_pool_gauge() {
        let recorder = recorder().expect("recorder");
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            record_pool(&PoolStatus {
                size: 4,
                idle: 1,
                max: 10,
                waiting: 2,
            });
        });
        let text = handle.render();
        for line in [
            "agora_db_pool_connections 4\n",
            "agora_db_pool_idle 1\n",
            "agora_db_pool_max 10\n",
            "agora_db_pool_waiting 2\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
    }
}
