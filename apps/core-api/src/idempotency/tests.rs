//! `once` against the machine's Redis, and the key header's checks.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Json, http::Request};
use noillin_test_support::{redis_url, unique_namespace};
use serde_json::json;

use super::*;

const FINGERPRINT: &[u8] = br#"POST /api/v1/things {"name":"a"}"#;

/// A Redis handle in a fresh namespace, whose keys are deleted when it is dropped.
struct TestRedis(Redis);

impl TestRedis {
    fn new() -> Self {
        Self(Redis::new(&redis_url(), &unique_namespace()).unwrap())
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let redis = self.0.clone();
        // Drop cannot await: clean up on a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(redis.delete_namespace())
        })
        .join();
    }
}

fn user(id: &str) -> UserId {
    UserId::from_string(id)
}

/// A handler that creates thing number n on its nth run.
async fn create(runs: &AtomicUsize) -> Response {
    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
    let location = format!("/api/v1/things/{n}");
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({ "id": n })),
    )
        .into_response()
}

async fn body(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn replayed(response: &Response) -> bool {
    response.headers().get(REPLAYED_HEADER) == Some(&HeaderValue::from_static("true"))
}

/// Repeats a request until its key is no longer in use, for keys freed in the background;
/// gives up after about five seconds.
async fn once_the_key_is_free(redis: &Redis, runs: &AtomicUsize) -> Response {
    for _ in 0..250 {
        let response = once(redis, &user("u1"), Some("k"), FINGERPRINT, create(runs)).await;
        if response.status() != StatusCode::CONFLICT {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the key was never freed");
}

#[tokio::test]
async fn a_repeat_replays_the_first_response_without_running_again() {
    let redis = TestRedis::new();
    let runs = AtomicUsize::new(0);
    let first = once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, create(&runs)).await;
    let repeat = once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, create(&runs)).await;

    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(!replayed(&first));
    assert!(replayed(&repeat));
    assert_eq!(repeat.status(), first.status());
    for name in [header::CONTENT_TYPE, header::LOCATION] {
        assert_eq!(
            repeat.headers().get(&name),
            first.headers().get(&name),
            "{name}"
        );
    }
    assert_eq!(body(repeat).await, body(first).await);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_a_422_problem() {
    let redis = TestRedis::new();
    let runs = AtomicUsize::new(0);
    once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, create(&runs)).await;
    let other = b"POST /api/v1/things {\"name\":\"b\"}";
    let response = once(&redis.0, &user("u1"), Some("k"), other, create(&runs)).await;

    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: serde_json::Value = serde_json::from_str(&body(response).await).unwrap();
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
}

#[tokio::test]
async fn a_repeat_while_the_first_runs_is_a_409_and_runs_nothing() {
    let redis = TestRedis::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn({
        let (redis, runs) = (redis.0.clone(), runs.clone());
        async move {
            let run = async {
                let _ = started_tx.send(());
                let _ = finish_rx.await;
                create(&runs).await
            };
            once(&redis, &user("u1"), Some("k"), FINGERPRINT, run).await
        }
    });
    started_rx.await.unwrap();

    let repeat = once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, create(&runs)).await;
    assert_eq!(repeat.status(), StatusCode::CONFLICT);
    finish_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap().status(), StatusCode::CREATED);
    let after = once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, create(&runs)).await;
    assert!(replayed(&after));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_error_stores_nothing_so_a_retry_runs() {
    let redis = TestRedis::new();
    let runs = AtomicUsize::new(0);
    let failing = async { StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let first = once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, failing).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);

    let retry = once(&redis.0, &user("u1"), Some("k"), FINGERPRINT, create(&runs)).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert!(!replayed(&retry));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn keys_belong_to_their_user_and_requests_without_one_always_run() {
    let redis = TestRedis::new();
    let runs = AtomicUsize::new(0);
    for id in ["u1", "u2"] {
        let response = once(&redis.0, &user(id), Some("k"), FINGERPRINT, create(&runs)).await;
        assert!(!replayed(&response), "{id}");
    }
    for _ in 0..2 {
        once(&redis.0, &user("u1"), None, FINGERPRINT, create(&runs)).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn without_redis_nothing_runs_and_the_answer_is_503_with_retry_after() {
    let unreachable = Redis::new("redis://127.0.0.1:1", &unique_namespace()).unwrap();
    let runs = AtomicUsize::new(0);
    let response = once(
        &unreachable,
        &user("u1"),
        Some("k"),
        FINGERPRINT,
        create(&runs),
    )
    .await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_first_request_that_panics_frees_its_key() {
    let redis = TestRedis::new();
    let panicking = tokio::spawn({
        let redis = redis.0.clone();
        async move {
            let run = async { panic!("handler bug") };
            once(&redis, &user("u1"), Some("k"), FINGERPRINT, run).await
        }
    });
    assert!(panicking.await.unwrap_err().is_panic());

    let runs = AtomicUsize::new(0);
    let retry = once_the_key_is_free(&redis.0, &runs).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_first_request_dropped_midway_frees_its_key() {
    let redis = TestRedis::new();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let abandoned = tokio::spawn({
        let redis = redis.0.clone();
        async move {
            let run = async {
                let _ = started_tx.send(());
                std::future::pending::<Response>().await
            };
            once(&redis, &user("u1"), Some("k"), FINGERPRINT, run).await
        }
    });
    started_rx.await.unwrap();
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());

    let runs = AtomicUsize::new(0);
    let retry = once_the_key_is_free(&redis.0, &runs).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn read_key(values: &[&[u8]]) -> Result<Option<String>, StatusCode> {
    let mut request = Request::builder();
    for value in values {
        request = request.header(KEY_HEADER, HeaderValue::from_bytes(value).unwrap());
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    match IdempotencyKey::from_request_parts(&mut parts, &()).await {
        Ok(IdempotencyKey(key)) => Ok(key),
        Err(e) => Err(e.into_response().status()),
    }
}

#[tokio::test]
async fn the_key_header_is_read_when_well_formed_and_refused_otherwise() {
    assert_eq!(read_key(&[]).await, Ok(None));
    let longest = "k".repeat(MAX_KEY_LEN);
    for good in ["abc", "\"8e03978e-40d5\"", "!~", longest.as_str()] {
        assert_eq!(
            read_key(&[good.as_bytes()]).await,
            Ok(Some(good.to_owned()))
        );
    }
    let too_long = "k".repeat(MAX_KEY_LEN + 1);
    let bad: [&[u8]; 5] = [b"", b"a b", b"a\tb", "café".as_bytes(), too_long.as_bytes()];
    for value in bad {
        let refused = read_key(&[value]).await;
        assert_eq!(refused, Err(StatusCode::UNPROCESSABLE_ENTITY), "{value:?}");
    }
    let twice = read_key(&[b"one", b"two"]).await;
    assert_eq!(twice, Err(StatusCode::UNPROCESSABLE_ENTITY));
}
