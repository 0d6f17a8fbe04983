//! socketioxide keeps each connection's request head (URI, headers and extensions) for the
//! socket's whole life. As hyper parsed them, the URI and header values are slices of the
//! connection's 16 KiB read buffer, and keeping any slice keeps the whole buffer: it was half of
//! what a socket held (docs/benchmarks.md). Owned copies hold only their own few hundred bytes, so
//! the buffer is freed once the handshake is read.

use axum::{
    extract::{OriginalUri, Request},
    http::{HeaderMap, HeaderName, HeaderValue, Uri},
    middleware::Next,
    response::Response,
};

/// Replaces the request's URI, headers and the router's copy of the URI (`OriginalUri`, which
/// axum puts in the extensions before any middleware runs) with copies that own their bytes.
pub async fn own_request_head(mut request: Request, next: Next) -> Response {
    let head = request.headers();
    let mut owned = HeaderMap::with_capacity(head.len());
    for (name, value) in head {
        // Both copy: `from_bytes` builds its own buffer.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            owned.append(name, value);
        }
    }
    *request.headers_mut() = owned;
    if let Some(uri) = owned_uri(request.uri()) {
        *request.uri_mut() = uri;
    }
    if let Some(OriginalUri(original)) = request.extensions_mut().get_mut::<OriginalUri>()
        && let Some(uri) = owned_uri(original)
    {
        *original = uri;
    }
    next.run(request).await
}

/// The same URI in a buffer of its own: parsing a `String` takes it over.
fn owned_uri(uri: &Uri) -> Option<Uri> {
    Uri::try_from(uri.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, body::Body, routing::get};
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_handler_sees_the_same_uri_and_headers() {
        let app = Router::new()
            .route(
                "/socket/",
                get(
                    |OriginalUri(original): OriginalUri, request: Request| async move {
                        let headers: Vec<String> = request
                            .headers()
                            .iter()
                            .map(|(n, v)| format!("{n}={}", v.to_str().unwrap_or("?")))
                            .collect();
                        format!("{original} {} {}", request.uri(), headers.join(","))
                    },
                ),
            )
            .layer(axum::middleware::from_fn(own_request_head));
        let request = Request::builder()
            .uri("/socket/?EIO=4&transport=websocket")
            .header("origin", "http://app.noillin.test")
            .header("x-custom", "a")
            .header("x-custom", "b")
            .body(Body::empty())
            .expect("a request");
        let response = app.oneshot(request).await.expect("an answer");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("a body");
        assert_eq!(
            String::from_utf8_lossy(&body),
            "/socket/?EIO=4&transport=websocket /socket/?EIO=4&transport=websocket origin=http://app.noillin.test,x-custom=a,x-custom=b"
        );
    }
}
