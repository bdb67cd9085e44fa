//! Tracing export (issue 19): with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the
//! example servers export each request's span over OTLP/HTTP (protobuf),
//! named after the route and carrying its method, template, status and
//! request id; without it, nothing is sent.
//!
//! The test runs its own OTLP/HTTP receiver (`POST /v1/traces`, decoding
//! `ExportTraceServiceRequest`) and the server in a child process
//! ([`child`]), as the example servers start.

#[path = "support/child.rs"]
mod child;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::StatusCode;

use child::Child;

/// Not a test: the server of [`child`], in a child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for the OTLP tests"]
async fn child_server() {
    child::serve_if_child().await;
}

/// What the receiver got: each span with its service's name.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// Starts an OTLP/HTTP receiver on a free port: its base URL and what it
/// receives.
async fn receiver() -> (String, Received) {
    async fn traces(State(received): State<Received>, body: Bytes) -> Vec<u8> {
        let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
        let mut received = received.lock().expect("lock");
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    received.push((service.clone(), span));
                }
            }
        }
        ExportTraceServiceResponse::default().encode_to_vec()
    }
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver runs") });
    (base, received)
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A span's attributes, as text.
fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref()?.value.as_ref()?)?)))
        .collect()
}

async fn a_requests_span_is_exported(adapter: &str) {
    let (collector, received) = receiver().await;
    let server = Child::start(adapter, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)]);
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/users/12345", server.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    // The whole answer read and the connection closed: the server stops
    // at once, with nothing in flight.
    r.bytes().await.expect("body");
    drop(http);
    // Stopping flushes the exporter.
    let logs = server.stop().await;
    let received = received.lock().expect("lock");
    let (service, span) = received
        .iter()
        .find(|(_, span)| attributes(span).get("request_id") == Some(&id))
        .unwrap_or_else(|| {
            panic!("no span with request_id {id}: {received:#?}; the server's output: {logs:#?}")
        });
    assert_eq!(service, "agora");
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(span.kind, 2, "SPAN_KIND_SERVER");
    let attributes = attributes(span);
    assert_eq!(attributes["http.route"], "/users/{id}");
    assert_eq!(attributes["http.request.method"], "GET");
    assert_eq!(attributes["url.path"], "/users/12345");
    assert_eq!(attributes["http.response.status_code"], "404");
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_exports_a_requests_span() {
    a_requests_span_is_exported("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_exports_a_requests_span() {
    a_requests_span_is_exported("rocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_exported_without_the_endpoint() {
    let (collector, received) = receiver().await;
    // The exporter's own variable for traces is not the switch.
    let traces = format!("{collector}/v1/traces");
    let server = Child::start("axum", &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces)]);
    let r = reqwest::get(format!("{}/", server.base))
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(received.lock().expect("lock").is_empty());
}
