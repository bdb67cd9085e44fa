//! Issue 20: an authenticated read of a post costs one database statement
//! on every backend (SQLite always; PostgreSQL and MariaDB when their
//! `AGORA_TEST_*_URL` is set): the token's session is checked by the post's
//! own look-up. Counted from sqlx's own statement log (its `sqlx::query`
//! events), through a subscriber for this whole test process, so this file
//! holds one test and runs the backends one after the other.

use std::sync::{Arc, Mutex};

use agora_contract::harness::{config_for, token_for};
use agora_core::domain::PostId;
use agora_core::schema::PostCreate;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The text of every statement sqlx logged (its summary and, when longer,
/// the whole statement).
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl Statements {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().expect("lock").push(text.0);
        }
    }
}

/// The statements among `logged` that read or write posts or sessions.
fn of_posts_or_sessions(logged: Vec<String>) -> Vec<String> {
    logged
        .into_iter()
        .filter(|s| s.contains("posts") || s.contains("sessions"))
        .collect()
}

async fn one_statement_per_authenticated_read(backend: Backend, statements: &Statements) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let agora = agora_sqlx::open(&config_for(&db)).await.expect("opens");
    let (_, token) = token_for(&agora, "reader@example.com").await;
    let caller = agora.authenticate(&token).await.expect("authenticates");
    let post = agora
        .create_post(
            &caller,
            PostCreate {
                title: "counted".into(),
                content: "read once".into(),
                published: true,
                description: None,
                tags: Some(vec!["rust".into()]),
            },
        )
        .await
        .expect("post created");
    let header = format!("Bearer {token}");

    statements.take();
    let read = agora
        .get_post_as_bearer(Some(&header), post.id)
        .await
        .expect("reads");
    let reading = of_posts_or_sessions(statements.take());
    assert_eq!(read.post.id, post.id);
    assert_eq!(
        reading.len(),
        1,
        "{backend:?}: one statement reads the session and the post: {reading:#?}"
    );
    assert!(
        reading[0].contains("sessions") && reading[0].contains("posts"),
        "{backend:?}: {reading:#?}"
    );

    // A missing post costs the same one statement, and is told from a
    // refused session.
    let missing = agora
        .get_post_as_bearer(Some(&header), PostId(post.id.0 + 1))
        .await
        .expect_err("no such post");
    assert_eq!(missing.status_code(), 404, "{backend:?}");
    assert_eq!(of_posts_or_sessions(statements.take()).len(), 1);
    agora.logout(&caller).await.expect("logs out");
    statements.take();
    let refused = agora
        .get_post_as_bearer(Some(&header), post.id)
        .await
        .expect_err("the session ended");
    assert_eq!(refused.status_code(), 401, "{backend:?}");
    assert_eq!(of_posts_or_sessions(statements.take()).len(), 1);
}

#[tokio::test]
async fn an_authenticated_read_of_a_post_is_one_statement_on_every_backend() {
    let statements = Statements::default();
    let subscriber = tracing_subscriber::registry()
        .with(statements.clone())
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::DEBUG),
        );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        one_statement_per_authenticated_read(backend, &statements).await;
    }
}
