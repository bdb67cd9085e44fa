//! # agora-core
//!
//! The framework-agnostic heart of Agora, a social-media API (users, JWT login,
//! posts, votes) built as a library. Everything that decides an answer lives
//! here: validation, hashing, tokens, ownership and visibility rules, and the
//! error kinds. Web adapters (`agora-axum`, `agora-rocket`) only parse requests,
//! call [`Agora`] and map [`Error`] to HTTP; storage backends (`agora-sqlx`)
//! implement the [`storage`] traits.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn agora_core::storage::Store>) -> Result<(), agora_core::Error> {
//! use agora_core::{Agora, Config, config::{JwtSecret, TokenConfig}, domain::ClientInfo};
//! use agora_core::schema::{UserCreate, LoginRequest};
//!
//! let tokens = TokenConfig { secret: Some(JwtSecret::generate()), ..TokenConfig::default() };
//! let config = Config { tokens, ..Config::default() };
//! let agora = Agora::new(store, &config)?;
//! let client = ClientInfo::default(); // IP and User-Agent, when known
//! let (email, password) = ("ada@example.com".to_owned(), "correct horse battery".to_owned());
//! let request = UserCreate { email: email.clone(), password: password.clone(), username: Some("ada".into()) };
//! let user = agora.register(request, &client).await?;
//! let token = agora.login(LoginRequest { email, password }, &client).await?;
//! assert_eq!(agora.authenticate(&token.access_token).await?.id(), user.id);
//! # Ok(()) }
//! ```

pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod schema;
pub mod service;
mod setting;
pub mod storage;
pub mod throttle;

pub use config::Config;
pub use domain::{Caller, Email, Post, PostId, PostWithVotes, User, UserId};
pub use error::{Error, ErrorKind, FieldError, RefusedPolicy};
pub use service::Agora;
