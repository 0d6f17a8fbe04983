//! socketioxide keeps each connection's request head (URI and headers) for the socket's whole
//! life. As hyper parsed them, they are slices of the connection's 8 KiB read buffer, and keeping
//! any slice keeps the whole buffer. Owned copies hold only their own few hundred bytes, so the
//! buffer is freed once the handshake is read.

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, Uri},
    middleware::Next,
    response::Response,
};

/// Replaces the request's URI and headers with copies that own their bytes.
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
    if let Ok(uri) = Uri::try_from(request.uri().to_string()) {
        *request.uri_mut() = uri;
    }
    next.run(request).await
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
                get(|request: Request| async move {
                    let headers: Vec<String> = request
                        .headers()
                        .iter()
                        .map(|(n, v)| format!("{n}={}", v.to_str().unwrap_or("?")))
                        .collect();
                    format!("{} {}", request.uri(), headers.join(","))
                }),
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
            "/socket/?EIO=4&transport=websocket origin=http://app.noillin.test,x-custom=a,x-custom=b"
        );
    }
}
