//! `/health`: each dependency checked, with its latency.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::Agora;
use crate::error::Error;
use crate::storage::StorageResult;

/// Whether a dependency, or the whole service, is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// It answered.
    Ok,
    /// It did not answer (in time).
    Error,
}

/// The check of one dependency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Whether it answered.
    pub status: HealthStatus,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
    /// Why it failed, in a few words that reveal nothing internal (no
    /// address, no driver message); absent when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The answer of [`Agora::health_report`]: every required dependency
/// (`database`, and `redis` when throttling counters live there) and its
/// check. The service is [`HealthStatus::Ok`] when every check is.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// `ok` when every check is, else `error`.
    pub status: HealthStatus,
    /// The checks, by dependency name.
    pub checks: BTreeMap<&'static str, Check>,
    /// The first failure, as [`Agora::health`] reports it; `None` when
    /// healthy.
    #[serde(skip)]
    pub error: Option<Error>,
}

/// Times `ping`, which its store bounds by its own deadline (the database
/// call deadline, the Redis command timeout).
async fn check(ping: impl Future<Output = StorageResult<()>>) -> (Check, Option<Error>) {
    let started = Instant::now();
    let result = ping.await;
    // Milliseconds with microsecond precision.
    let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    match result {
        Ok(()) => (
            Check {
                status: HealthStatus::Ok,
                latency_ms,
                reason: None,
            },
            None,
        ),
        Err(e) => {
            let error = Error::from(e);
            let reason = match error {
                Error::Unavailable(_) => "does not answer",
                _ => "check failed",
            };
            (
                Check {
                    status: HealthStatus::Error,
                    latency_ms,
                    reason: Some(reason),
                },
                Some(error),
            )
        }
    }
}

impl Agora {
    /// Checks every required dependency at once, each within its store's
    /// deadline: the database, and the throttling counters' store when
    /// throttling is on and the counters are remote
    /// ([`crate::throttle::ThrottleStore::dependency`], e.g. `redis`).
    /// Never fails: a dependency down is a check with
    /// [`HealthStatus::Error`].
    pub async fn health_report(&self) -> HealthReport {
        let database = check(self.inner.store.ping());
        let counters = self
            .inner
            .throttle_store
            .as_ref()
            .and_then(|store| store.dependency().map(|name| (name, store)));
        let counters = async {
            match counters {
                Some((name, store)) => Some((name, check(store.ping()).await)),
                None => None,
            }
        };
        let (database, counters) = tokio::join!(database, counters);
        let mut checks = BTreeMap::new();
        let mut error = None;
        for (name, (check, failure)) in std::iter::once(("database", database)).chain(counters) {
            checks.insert(name, check);
            error = error.or(failure);
        }
        HealthReport {
            status: if error.is_some() {
                HealthStatus::Error
            } else {
                HealthStatus::Ok
            },
            checks,
            error,
        }
    }
}
