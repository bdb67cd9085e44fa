//! The HTTP side of the suite: a context holding the client and base URL,
//! captured responses with contract assertions, and the high-level steps
//! (register, login, create a post, vote) that cases are built from.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::util::{form_body, random_hex, unique_email, urlencode};

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An id that no test database reaches, for "unknown id" cases.
pub(crate) const UNKNOWN_ID: i64 = 9_000_000_000_000;

/// A password that satisfies the length rule.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// The exact 401 body.
pub(crate) const CREDENTIALS_DETAIL: &str = "Could not validate credentials";
/// The challenge of a 401 when no bearer token was sent.
pub(crate) const NO_TOKEN_CHALLENGE: &str = "Bearer";
/// The challenge of a 401 when a bearer token was sent and refused.
pub(crate) const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer error="invalid_token""#;

/// The exact 403 body detail of a failed login.
pub(crate) const INVALID_CREDENTIALS: &str = "Invalid Credentials";

/// What every case gets: the client and the base URL.
#[derive(Clone)]
pub(crate) struct Ctx {
    base: Arc<str>,
    client: reqwest::Client,
}

/// A request body.
pub(crate) enum Body {
    /// No body at all.
    Empty,
    /// A JSON value, sent as `application/json`.
    Json(Value),
    /// A form, sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// Raw bytes with the given Content-Type.
    Raw(&'static str, Vec<u8>),
}

/// A fully read response.
pub(crate) struct Resp {
    what: String,
    status: u16,
    content_type: Option<String>,
    www_authenticate: Option<String>,
    body: Vec<u8>,
}

/// A registered, logged-in user.
pub(crate) struct User {
    pub id: i64,
    pub email: String,
    pub token: String,
}

impl Ctx {
    /// A context for the server at `base_url` (trailing slashes ignored).
    pub(crate) fn new(base_url: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("building the HTTP client must succeed");
        Self {
            base: Arc::from(base_url.trim_end_matches('/')),
            client,
        }
    }

    /// Sends one request. `auth` is the full `Authorization` header value.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Body,
    ) -> Result<Resp, String> {
        let url = format!("{}{}", self.base, path);
        let what = format!("{method} {path}");
        let mut req = self.client.request(method, &url);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req = match body {
            Body::Empty => req,
            Body::Json(value) => req
                .header("content-type", "application/json")
                .body(value.to_string()),
            Body::Form(pairs) => {
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                req.header("content-type", "application/x-www-form-urlencoded")
                    .body(form_body(&pairs))
            }
            Body::Raw(content_type, bytes) => req.header("content-type", content_type).body(bytes),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{what}: request failed: {e}"))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let status = resp.status().as_u16();
        let content_type = header("content-type");
        let www_authenticate = header("www-authenticate");
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("{what}: reading the body failed: {e}"))?
            .to_vec();
        Ok(Resp {
            what,
            status,
            content_type,
            www_authenticate,
            body,
        })
    }

    /// `GET path`, with a bearer token if given.
    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> Result<Resp, String> {
        let auth = token.map(bearer);
        self.send(Method::GET, path, auth.as_deref(), Body::Empty)
            .await
    }

    /// `POST path` with a JSON body, with a bearer token if given.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<Resp, String> {
        let auth = token.map(bearer);
        self.send(Method::POST, path, auth.as_deref(), Body::Json(body))
            .await
    }

    /// `PUT path` with a JSON body, with a bearer token if given.
    pub(crate) async fn put_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<Resp, String> {
        let auth = token.map(bearer);
        self.send(Method::PUT, path, auth.as_deref(), Body::Json(body))
            .await
    }

    /// `DELETE path`, with a bearer token if given.
    pub(crate) async fn delete(&self, path: &str, token: Option<&str>) -> Result<Resp, String> {
        let auth = token.map(bearer);
        self.send(Method::DELETE, path, auth.as_deref(), Body::Empty)
            .await
    }

    /// `POST /login` with the OAuth2 password form.
    pub(crate) async fn login_form(&self, email: &str, password: &str) -> Result<Resp, String> {
        self.send(
            Method::POST,
            "/login",
            None,
            form(&[("username", email), ("password", password)]),
        )
        .await
    }

    /// Registers `email`/`password`, asserting 201, and returns the user id.
    pub(crate) async fn register(&self, email: &str, password: &str) -> Result<i64, String> {
        let resp = self
            .post_json(
                "/users",
                None,
                json!({"email": email, "password": password}),
            )
            .await?;
        let user = resp.expect(201)?;
        check_user(&user)
    }

    /// Logs in with the form, asserting 200, and returns the access token.
    pub(crate) async fn login(&self, email: &str, password: &str) -> Result<String, String> {
        let body = self.login_form(email, password).await?.expect(200)?;
        check_token_response(&body)
    }

    /// Registers a fresh user with a fresh username (returned) and logs it in.
    pub(crate) async fn new_named_user(&self) -> Result<(User, String), String> {
        let (email, username) = (unique_email(), format!("n{}", random_hex(8)));
        let body = json!({"email": email, "password": PASSWORD, "username": username});
        let user = self.post_json("/users", None, body).await?.expect(201)?;
        ensure_eq!(user["username"], json!(username), "registered username");
        let id = check_user(&user)?;
        let token = self.login(&email, PASSWORD).await?;
        Ok((User { id, email, token }, username))
    }

    /// Registers a fresh user and logs it in.
    pub(crate) async fn new_user(&self) -> Result<User, String> {
        let email = unique_email();
        let id = self.register(&email, PASSWORD).await?;
        let token = self.login(&email, PASSWORD).await?;
        Ok(User { id, email, token })
    }

    /// Creates a post as `user`, asserting 201 and the `Post` shape, and
    /// returns it.
    pub(crate) async fn create_post(
        &self,
        user: &User,
        title: &str,
        published: bool,
    ) -> Result<Value, String> {
        let content = format!("content of {title}");
        let resp = self
            .post_json(
                "/posts",
                Some(&user.token),
                json!({"title": title, "content": content, "published": published}),
            )
            .await?;
        let post = resp.expect(201)?;
        check_post(&post)?;
        ensure_eq!(post["title"], json!(title), "created post title");
        ensure_eq!(post["owner_id"], json!(user.id), "created post owner_id");
        ensure_eq!(
            post["published"],
            json!(published),
            "created post published"
        );
        Ok(post)
    }

    /// `GET /posts?<query>` as `token`, asserting 200 and the `PostOut`
    /// shape of every item.
    pub(crate) async fn list_posts(&self, token: &str, query: &str) -> Result<Vec<Value>, String> {
        let path = if query.is_empty() {
            "/posts".to_owned()
        } else {
            format!("/posts?{query}")
        };
        let body = self.get(&path, Some(token)).await?.expect(200)?;
        let items = body
            .as_array()
            .ok_or_else(|| format!("GET /posts?{query}: expected a JSON array, got {body}"))?;
        for item in items {
            check_post_out(item)?;
        }
        Ok(items.clone())
    }

    /// `GET /posts?search=<marker>&limit=100` as `token`: the posts carrying
    /// the marker, newest first.
    pub(crate) async fn search(&self, token: &str, marker: &str) -> Result<Vec<Value>, String> {
        self.list_posts(token, &format!("search={}&limit=100", urlencode(marker)))
            .await
    }

    /// `GET /posts/{id}` as `token`, asserting 200 and the `PostOut` shape.
    pub(crate) async fn get_post(&self, token: &str, id: i64) -> Result<Value, String> {
        let body = self
            .get(&format!("/posts/{id}"), Some(token))
            .await?
            .expect(200)?;
        check_post_out(&body)?;
        Ok(body)
    }

    /// The `votes` count of a post as seen by `token`.
    pub(crate) async fn votes_of(&self, token: &str, id: i64) -> Result<i64, String> {
        let post = self.get_post(token, id).await?;
        int(&post, "votes")
    }

    /// `POST /vote {post_id, dir}` as `token`.
    pub(crate) async fn vote(&self, token: &str, post_id: i64, dir: i64) -> Result<Resp, String> {
        self.post_json(
            "/vote",
            Some(token),
            json!({"post_id": post_id, "dir": dir}),
        )
        .await
    }
}

/// `Bearer <token>`.
pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A form body from string pairs.
pub(crate) fn form(pairs: &[(&str, &str)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

impl Resp {
    /// The HTTP status code.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The body as (lossy, shortened) text, for messages.
    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        if text.chars().count() > 400 {
            let short: String = text.chars().take(400).collect();
            format!("{short}...")
        } else {
            text.into_owned()
        }
    }

    /// Asserts a JSON Content-Type and parses the body.
    pub(crate) fn json(&self) -> Result<Value, String> {
        let ct = self.content_type.as_deref().unwrap_or("");
        ensure!(
            ct.starts_with("application/json"),
            "{} ({}): expected Content-Type application/json, got {:?}; body {}",
            self.what,
            self.status,
            self.content_type,
            self.text()
        );
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "{} ({}): body is not JSON ({e}): {}",
                self.what,
                self.status,
                self.text()
            )
        })
    }

    /// Asserts the status, then (except for 204, which must have an empty
    /// body and yields `null`) a JSON body, which is returned.
    pub(crate) fn expect(&self, status: u16) -> Result<Value, String> {
        ensure!(
            self.status == status,
            "{}: expected status {status}, got {}: {}",
            self.what,
            self.status,
            self.text()
        );
        if status == 204 {
            ensure!(
                self.body.is_empty(),
                "{}: expected an empty 204 body, got {}",
                self.what,
                self.text()
            );
            return Ok(Value::Null);
        }
        self.json()
    }

    /// Asserts the status and a body of exactly `{"detail": <string>,
    /// "code": <CODE>}` (an upper-case code), and returns the detail.
    pub(crate) fn expect_detail(&self, status: u16) -> Result<String, String> {
        let body = self.expect(status)?;
        let obj = body
            .as_object()
            .ok_or_else(|| format!("{}: expected a JSON object, got {body}", self.what))?;
        ensure!(
            obj.len() == 2 && is_code(obj.get("code")),
            "{}: expected only the keys \"detail\" and \"code\" (UPPER_SNAKE), got {body}",
            self.what
        );
        let detail = obj.get("detail").and_then(Value::as_str).ok_or_else(|| {
            format!(
                "{}: expected {{\"detail\": <string>}}, got {body}",
                self.what
            )
        })?;
        Ok(detail.to_owned())
    }

    /// Asserts the status and exactly `{"detail": detail}`.
    pub(crate) fn expect_exact_detail(&self, status: u16, detail: &str) -> Result<(), String> {
        let got = self.expect_detail(status)?;
        ensure!(
            got == detail,
            "{}: expected detail {detail:?}, got {got:?}",
            self.what
        );
        Ok(())
    }

    /// Asserts the status, a `{"detail": <string>, "code": code}` body, and
    /// returns the detail.
    pub(crate) fn expect_error(&self, status: u16, code: &str) -> Result<String, String> {
        let detail = self.expect_detail(status)?;
        self.expect_code(code)?;
        Ok(detail)
    }

    /// Asserts the body's `code` (after a status check).
    pub(crate) fn expect_code(&self, code: &str) -> Result<(), String> {
        let body = self.json()?;
        ensure!(
            body.get("code").and_then(Value::as_str) == Some(code),
            "{}: expected code {code}, got {body}",
            self.what
        );
        Ok(())
    }

    /// Asserts the contract's 401 for a request without a bearer token: the
    /// exact body and the plain challenge `WWW-Authenticate: Bearer`.
    pub(crate) fn expect_401(&self) -> Result<(), String> {
        self.expect_401_with(NO_TOKEN_CHALLENGE)
    }

    /// Asserts the contract's 401 for a bearer token that was sent and
    /// refused: the same body, and the challenge
    /// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1).
    pub(crate) fn expect_invalid_token(&self) -> Result<(), String> {
        self.expect_401_with(INVALID_TOKEN_CHALLENGE)
    }

    /// Asserts a 401 with the exact body and `challenge`.
    pub(crate) fn expect_401_with(&self, challenge: &str) -> Result<(), String> {
        self.expect_exact_detail(401, CREDENTIALS_DETAIL)?;
        self.expect_code("UNAUTHORIZED")?;
        ensure!(
            self.www_authenticate.as_deref() == Some(challenge),
            "{}: expected header WWW-Authenticate: {challenge}, got {:?}",
            self.what,
            self.www_authenticate
        );
        Ok(())
    }

    /// Asserts a 422 of the validation shape
    /// `{"detail": [{"loc": [...], "msg": str, "type": str}, ...]}` where
    /// every `loc` starts with "body", "query" or "path", and some `loc`
    /// starts with `loc_prefix`.
    pub(crate) fn expect_422(&self, loc_prefix: &[&str]) -> Result<(), String> {
        let body = self.expect(422)?;
        let what = &self.what;
        let obj = body
            .as_object()
            .ok_or_else(|| format!("{what}: expected a JSON object, got {body}"))?;
        ensure!(
            obj.get("code").and_then(Value::as_str) == Some("VALIDATION_ERROR"),
            "{what}: expected \"code\": \"VALIDATION_ERROR\", got {body}"
        );
        let items = obj
            .get("detail")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{what}: expected \"detail\" to be an array, got {body}"))?;
        ensure!(!items.is_empty(), "{what}: \"detail\" is an empty array");
        let mut matched = false;
        for item in items {
            let loc = item
                .get("loc")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{what}: detail item without a loc array: {item}"))?;
            let first = loc.first().and_then(Value::as_str);
            ensure!(
                matches!(first, Some("body" | "query" | "path")),
                "{what}: loc must start with \"body\", \"query\" or \"path\": {item}"
            );
            ensure!(
                item.get("msg").is_some_and(Value::is_string),
                "{what}: detail item without a string msg: {item}"
            );
            ensure!(
                item.get("type").is_some_and(Value::is_string),
                "{what}: detail item without a string type: {item}"
            );
            let prefix_matches = loc_prefix.len() <= loc.len()
                && loc_prefix
                    .iter()
                    .zip(loc)
                    .all(|(want, got)| got.as_str() == Some(*want));
            matched |= prefix_matches;
        }
        ensure!(
            matched,
            "{what}: expected some detail item with loc starting with {loc_prefix:?}, got {body}"
        );
        Ok(())
    }
}

/// An integer field of a JSON object.
pub(crate) fn int(value: &Value, key: &str) -> Result<i64, String> {
    value
        .get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("expected integer field {key:?} in {value}"))
}

/// A string field of a JSON object.
pub(crate) fn string<'a>(value: &'a Value, key: &str) -> Result<&'a str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("expected string field {key:?} in {value}"))
}

/// Asserts the `User` shape — exactly `{id, email, created_at}` of the
/// original API plus the profile's `{username, bio, image}` and
/// `email_verified` — and returns the id.
pub(crate) fn check_user(user: &Value) -> Result<i64, String> {
    let obj = user
        .as_object()
        .ok_or_else(|| format!("expected a user object, got {user}"))?;
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    ensure!(
        keys == [
            "bio",
            "created_at",
            "email",
            "email_verified",
            "id",
            "image",
            "username"
        ],
        "a user must have exactly the keys id, email, created_at, username, bio, image, \
         email_verified; got {user}"
    );
    ensure!(
        user["email_verified"].is_boolean(),
        "email_verified must be a boolean: {user}"
    );
    let id = int(user, "id")?;
    string(user, "email")?;
    let created_at = string(user, "created_at")?;
    ensure!(
        crate::util::is_rfc3339(created_at),
        "user created_at is not RFC 3339: {created_at:?}"
    );
    Ok(id)
}

/// Asserts the `Post` shape and returns the id.
pub(crate) fn check_post(post: &Value) -> Result<i64, String> {
    ensure!(post.is_object(), "expected a post object, got {post}");
    let id = int(post, "id")?;
    string(post, "title")?;
    string(post, "content")?;
    ensure!(
        post.get("published").is_some_and(Value::is_boolean),
        "expected boolean field \"published\" in {post}"
    );
    let created_at = string(post, "created_at")?;
    ensure!(
        crate::util::is_rfc3339(created_at),
        "post created_at is not RFC 3339: {created_at:?}"
    );
    let owner_id = int(post, "owner_id")?;
    let owner = post
        .get("owner")
        .ok_or_else(|| format!("expected field \"owner\" in {post}"))?;
    let owner_user_id = check_user(owner).map_err(|e| format!("post owner: {e}"))?;
    ensure_eq!(owner_user_id, owner_id, "post owner.id vs owner_id");
    Ok(id)
}

/// Asserts the `PostOut` shape `{"Post": Post, "votes": int}` and returns the
/// post id.
pub(crate) fn check_post_out(out: &Value) -> Result<i64, String> {
    let post = out
        .get("Post")
        .ok_or_else(|| format!("expected field \"Post\" in {out}"))?;
    let id = check_post(post)?;
    let votes = int(out, "votes")?;
    ensure!(votes >= 0, "negative votes in {out}");
    Ok(id)
}

/// Asserts a successful login body and returns the access token.
pub(crate) fn check_token_response(body: &Value) -> Result<String, String> {
    let token = string(body, "access_token")?;
    ensure!(!token.is_empty(), "empty access_token");
    ensure_eq!(body["token_type"], json!("bearer"), "token_type");
    let expires_in = int(body, "expires_in")?;
    ensure!(
        expires_in > 0,
        "expires_in must be positive, got {expires_in}"
    );
    Ok(token.to_owned())
}

/// The ids of the posts in a `PostOut` list, in order.
pub(crate) fn ids(list: &[Value]) -> Vec<i64> {
    list.iter()
        .filter_map(|out| out["Post"]["id"].as_i64())
        .collect()
}

/// Whether `value` is an error code: a non-empty UPPER_SNAKE string.
fn is_code(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
}
