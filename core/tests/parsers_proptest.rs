//! Property tests of the parsers an attacker reaches: whatever the input,
//! they never panic, and a rejection is always a client error (4xx kind).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::crypto::jwt::TokenKeys;
use agora_core::domain::{PasswordPolicy, UserId};
use agora_core::schema::{
    AccountDeletion, ListQuery, PasswordChange, PostCreate, RefreshRequest, UserCreate,
    VoteRequest, bearer_token, parse_json, parse_login, parse_path_id,
};
use agora_core::{Email, Error};
use proptest::prelude::*;
use serde_json::Value;

/// Rejections must be the client's fault, never a 5xx.
fn client_error<T>(result: Result<T, Error>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let status = e.status_code();
        prop_assert!((400..500).contains(&status), "{status}: {e:?}");
    }
    Ok(())
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/json; charset=utf-8".to_owned())),
        Just(Some("application/x-www-form-urlencoded".to_owned())),
        Just(Some("application/merge-patch+json".to_owned())),
        any::<String>().prop_map(Some),
    ]
}

/// Any JSON value, nested a few levels, with field names the schemas use.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("email".to_owned()),
        Just("username".to_owned()),
        Just("password".to_owned()),
        Just("title".to_owned()),
        Just("content".to_owned()),
        Just("published".to_owned()),
        Just("post_id".to_owned()),
        Just("dir".to_owned()),
        Just("refresh_token".to_owned()),
        Just("current_password".to_owned()),
        Just("new_password".to_owned()),
        any::<String>(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bytes: arbitrary, or the serialisation of an arbitrary JSON value.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
    ]
}

fn parse_every_body(ct: Option<&str>, body: &[u8]) -> Result<(), TestCaseError> {
    client_error(parse_json::<UserCreate>(ct, body))?;
    client_error(parse_login(ct, body))?;
    client_error(parse_json::<PostCreate>(ct, body).and_then(PostCreate::into_draft))?;
    client_error(parse_json::<VoteRequest>(ct, body).and_then(|v| v.direction()))?;
    client_error(parse_json::<RefreshRequest>(ct, body))?;
    client_error(parse_json::<PasswordChange>(ct, body))?;
    client_error(parse_json::<AccountDeletion>(ct, body))?;
    client_error(parse_json::<Value>(ct, body))
}

fn keys() -> TokenKeys {
    TokenKeys::new(
        &JwtSecret::generate(),
        Duration::from_secs(900),
        Duration::from_secs(10),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn json_bodies(ct in content_type(), body in body()) {
        parse_every_body(ct.as_deref(), &body)?;
    }

    #[test]
    fn json_objects_reach_the_field_parsers(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        parse_every_body(Some("application/json"), &body)?;
    }

    #[test]
    fn login_forms(body in prop_oneof![
        any::<Vec<u8>>(),
        "[a-z%=&+0-9]{0,64}".prop_map(String::into_bytes),
    ]) {
        client_error(parse_login(Some("application/x-www-form-urlencoded"), &body))?;
    }

    #[test]
    fn list_queries(raw in prop_oneof![
        any::<String>(),
        "((limit|skip|after|search|x)=[-+0-9a-z%. ]{0,24}&?){0,5}",
    ]) {
        client_error(ListQuery::parse(Some(&raw)))?;
        if let Ok(query) = ListQuery::parse(Some(&raw)) {
            prop_assert!((1..=100).contains(&query.limit));
            prop_assert!(!query.search.contains('\0'));
        }
    }

    #[test]
    fn emails(raw in prop_oneof![any::<String>(), "[a-zA-Z0-9.+_-]{0,70}@[a-z0-9.-]{0,70}"]) {
        client_error(Email::parse(&raw))?;
    }

    #[test]
    fn passwords(raw in any::<String>()) {
        client_error(PasswordPolicy::default().check(raw))?;
    }

    #[test]
    fn path_ids(raw in any::<String>()) {
        client_error(parse_path_id("id", &raw))?;
    }

    #[test]
    fn authorization_headers(raw in prop_oneof![any::<String>(), "(Bearer|bearer|Basic) ?.{0,40}"]) {
        client_error(bearer_token(Some(&raw)))?;
    }

    #[test]
    fn access_tokens(raw in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,90}",
    ]) {
        let keys = keys();
        let result = keys.verify(&raw);
        prop_assert!(matches!(result, Err(Error::Unauthorized)), "{result:?}");
    }

    #[test]
    fn tampered_access_tokens(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let keys = keys();
        let token = keys.issue(UserId(1), Some("sid")).unwrap().token;
        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        bytes[i] = byte;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        let result = keys.verify(&tampered);
        if tampered != token {
            // A flipped byte may leave the token valid only where base64url
            // ignores trailing bits; anything else is a 401.
            client_error(result)?;
        }
    }
}

#[test]
fn a_valid_token_still_verifies() {
    let keys = keys();
    let token = keys.issue(UserId(1), Some("sid")).unwrap().token;
    assert!(keys.verify(&token).is_ok());
}
