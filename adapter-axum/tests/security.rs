//! The security suite (`agora_contract::security`: sessions, refresh-token
//! reuse, throttling, client IPs, legacy hashes, JWKS, hidden emails) against
//! the axum adapter, each case on its own server and SQLite database.

agora_contract::security_suite!(agora_contract::harness::Adapter::Axum);
