//! The Conduit (RealWorld) example server, `agora_examples::conduit`, on a
//! free port over a fresh database of every configured backend (SQLite
//! always; PostgreSQL and MariaDB when `AGORA_TEST_POSTGRES_URL` /
//! `AGORA_TEST_MYSQL_URL` are set): its main flows through HTTP, and the
//! official Postman suite run by newman (when `npx` and `../shared/realworld`
//! are there).

use std::path::PathBuf;
use std::process::Command;

use agora_contract::harness as common;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use reqwest::Method;
use serde_json::{Value, json};

/// A running server: the API's base URL (`.../api`), its database, and a
/// scratch directory.
struct Server {
    base: String,
    _db: TestDatabase,
    dir: tempfile::TempDir,
}

/// The server over a fresh database of `backend`; `None` when that backend
/// is not configured (the harness prints `skipped: ...`).
async fn start(backend: Backend) -> Option<Server> {
    let db = TestDatabase::create(backend).await?;
    let mut config = common::config_for(&db);
    config.server.cors_origins = vec!["http://localhost:4200".to_owned()];
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/api", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let app = agora_examples::conduit::router(agora);
        agora_axum::serve_router(listener, app, &config, std::future::pending())
            .await
            .expect("server runs");
    });
    let dir = tempfile::tempdir().expect("temp dir");
    Some(Server { base, _db: db, dir })
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// Status and JSON body (`null` when empty) of one request, with
    /// `Authorization: Token <token>` when a token is given.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, body)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(Method::GET, path, token, None).await
    }

    /// Registers `name` (`<name>@example.com`) and returns the token.
    async fn register(&self, name: &str) -> String {
        let user = json!({"user": {"username": name, "email": format!("{name}@example.com"),
                                   "password": "correct horse battery"}});
        let (status, body) = self.call(Method::POST, "/users", None, Some(user)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["user"]["username"], name);
        body["user"]["token"].as_str().expect("token").to_owned()
    }
}

/// Asserts Conduit's error shape and status; returns the first message.
fn error(status: u16, body: &Value, expected: u16) -> String {
    assert_eq!(status, expected, "{body}");
    let messages = body["errors"]["body"].as_array().expect("errors.body");
    messages[0].as_str().expect("message").to_owned()
}

fn is_millis_timestamp(value: &Value) -> bool {
    let s = value.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

async fn the_main_conduit_flows_work(backend: Backend) {
    let Some(server) = start(backend).await else {
        return;
    };
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base.clone(),
    };
    // CORS for the configured origin (a frontend on another origin).
    let preflight = api
        .http
        .request(Method::OPTIONS, format!("{}/articles", api.base))
        .header("origin", "http://localhost:4200")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("preflight");
    let allowed = preflight.headers().get("access-control-allow-origin");
    assert_eq!(
        allowed.map(|v| v.as_bytes()),
        Some(&b"http://localhost:4200"[..])
    );

    let ada = api.register("ada").await;
    let bob = api.register("bob").await;

    // Uniqueness is core's; conflicts are 422 in Conduit's shape.
    let dup = json!({"user": {"username": "ADA", "email": "other@example.com", "password": "correct horse battery"}});
    let (status, body) = api.call(Method::POST, "/users", None, Some(dup)).await;
    assert!(error(status, &body, 422).contains("taken"), "{body}");
    let dup = json!({"user": {"username": "carol", "email": "ada@example.com", "password": "correct horse battery"}});
    let (status, body) = api.call(Method::POST, "/users", None, Some(dup)).await;
    assert!(
        error(status, &body, 422).contains("already exists"),
        "{body}"
    );

    // Login, current user (Token or Bearer), 401 without a token.
    let login = json!({"user": {"email": "ada@example.com", "password": "correct horse battery"}});
    let (status, body) = api
        .call(Method::POST, "/users/login", None, Some(login))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], "ada@example.com");
    let wrong = json!({"user": {"email": "ada@example.com", "password": "not the password"}});
    let (status, body) = api
        .call(Method::POST, "/users/login", None, Some(wrong))
        .await;
    error(status, &body, 401);
    let (status, body) = api.get("/user", Some(&ada)).await;
    assert_eq!((status, &body["user"]["username"]), (200, &json!("ada")));
    assert_eq!(body["user"]["token"], ada.as_str());
    let bearer = api
        .http
        .get(format!("{}/user", api.base))
        .bearer_auth(&ada)
        .send()
        .await
        .expect("request");
    assert_eq!(bearer.status().as_u16(), 200);
    let (status, body) = api.get("/user", None).await;
    error(status, &body, 401);

    // Update user: profile fields; an unchanged email is fine, a new one or a password is 422.
    let change = json!({"user": {"email": "ADA@example.com", "bio": "Mathematician"}});
    let (status, body) = api
        .call(Method::PUT, "/user", Some(&ada), Some(change))
        .await;
    assert_eq!(
        (status, &body["user"]["bio"]),
        (200, &json!("Mathematician"))
    );
    for change in [
        json!({"user": {"email": "new@example.com"}}),
        json!({"user": {"password": "a new password 123"}}),
    ] {
        let (status, body) = api
            .call(Method::PUT, "/user", Some(&ada), Some(change))
            .await;
        error(status, &body, 422);
    }

    // Create an article with tags; read it by slug without a token.
    let new = json!({"article": {"title": "How to train your dragon", "description": "Ever wonder how?",
                                 "body": "Very carefully.", "tagList": ["training", "Dragons"]}});
    let (status, body) = api
        .call(Method::POST, "/articles", None, Some(new.clone()))
        .await;
    error(status, &body, 401);
    let (status, body) = api
        .call(Method::POST, "/articles", Some(&ada), Some(new))
        .await;
    assert_eq!(status, 201, "{body}");
    let article = &body["article"];
    let slug = article["slug"].as_str().expect("slug").to_owned();
    assert!(slug.starts_with("how-to-train-your-dragon-"), "{slug}");
    assert_eq!(article["tagList"], json!(["dragons", "training"]));
    assert_eq!(article["author"]["username"], "ada");
    assert!(is_millis_timestamp(&article["createdAt"]), "{article}");
    assert!(is_millis_timestamp(&article["updatedAt"]), "{article}");
    let (status, body) = api.get(&format!("/articles/{slug}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["article"]["body"], "Very carefully.");
    assert_eq!(body["article"]["favoritesCount"], 0);

    // Lists by tag and author, without and with a token.
    for (path, count) in [
        ("/articles?tag=dragons", 1),
        ("/articles?tag=cats", 0),
        ("/articles?author=ada", 1),
        ("/articles?author=bob", 0),
        ("/articles", 1),
    ] {
        for token in [None, Some(bob.as_str())] {
            let (status, body) = api.get(path, token).await;
            assert_eq!(status, 200, "{path}: {body}");
            assert_eq!(body["articlesCount"], count, "{path}: {body}");
            assert_eq!(body["articles"].as_array().expect("list").len(), count);
        }
    }

    // Favorite and unfavorite (idempotent), and the favorited filter.
    let favorite = format!("/articles/{slug}/favorite");
    for _ in 0..2 {
        let (status, body) = api.call(Method::POST, &favorite, Some(&bob), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["article"]["favorited"], true);
        assert_eq!(body["article"]["favoritesCount"], 1);
    }
    let (_, body) = api.get("/articles?favorited=bob", None).await;
    assert_eq!(body["articles"][0]["favoritesCount"], 1, "{body}");
    let (_, body) = api.get("/articles?favorited=bob", Some(&bob)).await;
    assert_eq!(body["articles"][0]["favorited"], true, "{body}");
    let (status, body) = api.call(Method::DELETE, &favorite, Some(&bob), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["article"]["favorited"], false);
    assert_eq!(body["article"]["favoritesCount"], 0);
    let (_, body) = api.get("/articles?favorited=bob", None).await;
    assert_eq!(body["articlesCount"], 0, "{body}");

    // The feed after a follow.
    let (_, body) = api.get("/articles/feed", Some(&bob)).await;
    assert_eq!(body["articlesCount"], 0, "{body}");
    let (status, body) = api.get("/articles/feed", None).await;
    error(status, &body, 401);
    let (status, body) = api
        .call(Method::POST, "/profiles/ada/follow", Some(&bob), None)
        .await;
    assert_eq!((status, &body["profile"]["following"]), (200, &json!(true)));
    let (_, body) = api.get("/articles/feed", Some(&bob)).await;
    assert_eq!(body["articlesCount"], 1, "{body}");
    assert_eq!(body["articles"][0]["author"]["following"], true);
    let (_, body) = api.get("/profiles/ada", None).await;
    assert_eq!(body["profile"]["following"], false, "{body}");

    // Comments: add, list without a token, someone else's is 403, delete.
    let comments = format!("/articles/{slug}/comments");
    let comment = json!({"comment": {"body": "Thank you so much!"}});
    let (status, body) = api
        .call(Method::POST, &comments, Some(&bob), Some(comment))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["comment"]["id"].as_i64().expect("comment id");
    let (status, body) = api.get(&comments, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["comments"][0]["body"], "Thank you so much!");
    assert_eq!(body["comments"][0]["author"]["username"], "bob");
    let one = format!("{comments}/{id}");
    let (status, body) = api.call(Method::DELETE, &one, Some(&ada), None).await;
    error(status, &body, 403);
    let (status, _) = api.call(Method::DELETE, &one, Some(&bob), None).await;
    assert_eq!(status, 204);
    let (_, body) = api.get(&comments, None).await;
    assert_eq!(body["comments"], json!([]));

    // Someone else's article is 403; the owner's partial update keeps the rest.
    let path = format!("/articles/{slug}");
    let change = json!({"article": {"body": "With two hands"}});
    let (status, body) = api
        .call(Method::PUT, &path, Some(&bob), Some(change.clone()))
        .await;
    error(status, &body, 403);
    let (status, body) = api.call(Method::DELETE, &path, Some(&bob), None).await;
    error(status, &body, 403);
    let (status, body) = api.call(Method::PUT, &path, Some(&ada), Some(change)).await;
    assert_eq!(status, 200, "{body}");
    let updated = &body["article"];
    assert_eq!(updated["body"], "With two hands");
    assert_eq!(updated["title"], "How to train your dragon");
    assert_eq!(updated["description"], "Ever wonder how?");
    assert_eq!(updated["tagList"], json!(["dragons", "training"]));
    assert_eq!(updated["slug"], slug.as_str());

    // Unknown slugs and routes are 404, a known route with another method 405.
    let (status, body) = api.get("/nothing", None).await;
    error(status, &body, 404);
    let (status, body) = api.call(Method::PATCH, "/user", Some(&ada), None).await;
    error(status, &body, 405);
    for missing in ["/articles/nothing-here-99999", "/articles/no-id"] {
        let (status, body) = api.get(missing, None).await;
        error(status, &body, 404);
    }

    // articlesCount: offset + page length, plus one when more exist.
    for title in ["Second", "Third"] {
        let new = json!({"article": {"title": title, "description": "", "body": "text"}});
        let (status, _) = api
            .call(Method::POST, "/articles", Some(&ada), Some(new))
            .await;
        assert_eq!(status, 201);
    }
    for (query, len, count) in [
        ("limit=1", 1, 2),
        ("limit=3", 3, 3),
        ("limit=2&offset=1", 2, 3),
        ("limit=1&offset=2", 1, 3),
    ] {
        let (_, body) = api.get(&format!("/articles?{query}"), None).await;
        assert_eq!(
            body["articles"].as_array().expect("list").len(),
            len,
            "{query}"
        );
        assert_eq!(body["articlesCount"], count, "{query}: {body}");
    }
    let (status, body) = api.get("/articles?limit=0", None).await;
    assert!(error(status, &body, 422).starts_with("limit:"), "{body}");
    let (_, body) = api.get("/tags", None).await;
    assert!(
        body["tags"]
            .as_array()
            .expect("tags")
            .contains(&json!("dragons"))
    );

    let (status, _) = api.call(Method::DELETE, &path, Some(&ada), None).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(&path, None).await;
    error(status, &body, 404);
}

/// The newman release the suite's instructions name (`../shared/realworld/SOURCE.txt`).
const NEWMAN: &str = "newman@6.2.2";

async fn the_official_postman_suite_passes(backend: Backend) {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/realworld");
    let collection = shared.join("Conduit.postman_collection.json");
    if !collection.exists() {
        eprintln!("skipped: {} not found", collection.display());
        return;
    }
    // Fetches newman from the npm registry once (npx caches it); no node,
    // npx or registry: the suite cannot run here.
    let newman = Command::new("npx")
        .args(["--yes", NEWMAN, "--version"])
        .output();
    if !newman.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: {NEWMAN} cannot be run with npx (no node, npx or npm registry)");
        return;
    }
    let Some(server) = start(backend).await else {
        return;
    };
    let report = server.dir.path().join("newman.json");
    let mut newman = Command::new("npx");
    newman
        .args(["--yes", NEWMAN, "run"])
        .arg(&collection)
        .args(["--delay-request", "50", "--reporters", "cli,json"])
        .arg("--reporter-json-export")
        .arg(&report);
    for var in [
        format!("APIURL={}", server.base),
        "USERNAME=newman".to_owned(),
        "EMAIL=newman@example.com".to_owned(),
        // Not "password": core refuses common passwords.
        "PASSWORD=correct horse battery".to_owned(),
    ] {
        newman.arg("--global-var").arg(var);
    }
    let output = tokio::task::spawn_blocking(move || newman.output())
        .await
        .expect("newman task")
        .expect("npx runs");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let report = std::fs::read(&report).expect("newman's JSON report (see its output above)");
    let report: Value = serde_json::from_slice(&report).expect("JSON report");
    let assertions = &report["run"]["stats"]["assertions"];
    assert!(assertions["total"].as_u64() > Some(0), "{assertions}");
    assert_eq!(assertions["failed"], 0, "{assertions}");
    assert!(
        output.status.success(),
        "newman exited with {}",
        output.status
    );
}

agora_contract::on_every_backend!(
    the_main_conduit_flows_work,
    the_official_postman_suite_passes
);
