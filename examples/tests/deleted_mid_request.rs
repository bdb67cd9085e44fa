//! A user deleted while one of their requests is in flight (issue 19): the
//! token was accepted, then the user row is gone when the service writes.
//! Creating a post or updating the profile then answers as every protected
//! route answers a token whose user is gone: 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750), never a
//! plain `Bearer` challenge. Over SQLite, whose foreign keys refuse the
//! write.
//!
//! The race is made deterministic by deleting the user through the store
//! between authentication and the service call, as a concurrent
//! `DELETE /users/me` would.

use agora_contract::harness::{test_app, token_for};
use agora_core::http::Response;
use agora_core::schema::{PostCreate, ProfileUpdate};
use agora_core::storage::UserStore;
use agora_core::{Caller, Error};

/// The answer adapters write for `result`'s error.
fn answer<T: std::fmt::Debug>(result: Result<T, Error>) -> (Error, Response) {
    let e = result.expect_err("refused");
    let response = Response::error(&e);
    (e, response)
}

fn assert_invalid_token((e, response): (Error, Response)) {
    assert!(matches!(e, Error::InvalidToken), "{e:?}");
    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
}

/// A caller whose token was accepted, and whose user is then deleted.
async fn deleted_caller() -> (agora_contract::harness::TestApp, Caller) {
    let app = test_app().await;
    let (id, token) = token_for(&app.agora, "gone@example.com").await;
    let caller = app
        .agora
        .authenticate_header(Some(&format!("Bearer {token}")))
        .await
        .expect("the token is accepted");
    assert!(app.store.delete_user(id).await.expect("deleted"));
    // What every protected route answers from now on.
    assert_invalid_token(answer(
        app.agora
            .authenticate_header(Some(&format!("Bearer {token}")))
            .await,
    ));
    (app, caller)
}

#[tokio::test]
async fn creating_a_post_as_a_deleted_user_is_an_invalid_token() {
    let (app, caller) = deleted_caller().await;
    let post = PostCreate {
        title: "ghost".to_owned(),
        content: "written by nobody".to_owned(),
        published: true,
        description: None,
        tags: None,
    };
    assert_invalid_token(answer(app.agora.create_post(&caller, post).await));
}

#[tokio::test]
async fn updating_a_deleted_users_profile_is_an_invalid_token() {
    let (app, caller) = deleted_caller().await;
    let update = ProfileUpdate {
        username: None,
        bio: Some(Some("still here?".to_owned())),
        image: None,
    };
    assert_invalid_token(answer(app.agora.update_profile(&caller, update).await));
}
