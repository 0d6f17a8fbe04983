//! The HTTP client the Meilisearch SDK sends through: reqwest, built here rather than by the SDK
//! so that it never asks for compressed responses. Meilisearch delays gzip-compressed answers by
//! about 40 ms to clients that ask for them (it does not set `TCP_NODELAY`), and reqwest asks as
//! soon as any crate in the build enables one of its compression features; turning them off
//! on the builder holds whatever features the final binary unifies.

use std::time::Duration;

use async_trait::async_trait;
use futures::io::AsyncReadExt;
use meilisearch_sdk::{
    errors::Error,
    request::{HttpClient, Method, parse_response},
};
use reqwest_meili::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use serde::{Serialize, de::DeserializeOwned};

use crate::SearchError;

/// No request to Meilisearch may hang a handler longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A keep-alive reqwest client with compression off and Nagle off.
#[derive(Debug, Clone)]
pub(super) struct UncompressedClient {
    client: reqwest_meili::Client,
}

impl UncompressedClient {
    /// `InvalidQuery`-free: a key that cannot be a header value is a configuration error,
    /// reported as `Unavailable` with the reason.
    pub fn new(api_key: Option<&str>) -> Result<Self, SearchError> {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static("noillin-search"));
        if let Some(key) = api_key {
            let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                SearchError::Unavailable("MEILI_API_KEY is not a valid header value".to_owned())
            })?;
            headers.insert(AUTHORIZATION, value);
        }
        let client = reqwest_meili::Client::builder()
            .default_headers(headers)
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| SearchError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client })
    }
}

fn verb<Q, B>(method: &Method<Q, B>) -> reqwest_meili::Method {
    match method {
        Method::Get { .. } => reqwest_meili::Method::GET,
        Method::Delete { .. } => reqwest_meili::Method::DELETE,
        Method::Post { .. } => reqwest_meili::Method::POST,
        Method::Put { .. } => reqwest_meili::Method::PUT,
        Method::Patch { .. } => reqwest_meili::Method::PATCH,
    }
}

#[async_trait]
impl HttpClient for UncompressedClient {
    async fn stream_request<
        Query: Serialize + Send + Sync,
        Body: futures::io::AsyncRead + Send + Sync + 'static,
        Output: DeserializeOwned + 'static,
    >(
        &self,
        url: &str,
        method: Method<Query, Body>,
        content_type: &str,
        expected_status_code: u16,
    ) -> Result<Output, Error> {
        let query = yaup::to_string(method.query())?;
        let url = format!("{url}{query}");
        let mut request = self.client.request(verb(&method), &url);
        if let Some(body) = method.into_body() {
            // Bodies are batches already held in memory; reading them whole keeps this simple.
            let mut bytes = Vec::new();
            let mut body = Box::pin(body);
            body.read_to_end(&mut bytes)
                .await
                .map_err(|e| Error::Other(Box::new(e)))?;
            request = request.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let mut body = response.text().await?;
        if body.is_empty() {
            body = "null".to_owned();
        }
        parse_response(status, expected_status_code, &body, url)
    }

    fn is_tokio(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use meilisearch_sdk::client::Client;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    /// Reads one request's head from a fake Meilisearch and answers it.
    async fn request_head(listener: TcpListener) -> String {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buffer = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the connection closed before the request ended");
            head.extend_from_slice(&buffer[..read]);
        }
        let body = r#"{"status":"available"}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    }

    #[tokio::test]
    async fn requests_never_ask_for_compressed_responses_and_carry_the_key() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(request_head(listener));
        let http = UncompressedClient::new(Some("secret-key")).unwrap();
        let client = Client::new_with_client(host, Some("secret-key"), http);
        client.health().await.unwrap();
        let head = server.await.unwrap();
        assert!(head.starts_with("get /health"), "{head}");
        assert!(!head.contains("accept-encoding"), "{head}");
        assert!(head.contains("authorization: bearer secret-key"), "{head}");
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_not_a_panic() {
        assert!(UncompressedClient::new(Some("bad\nkey")).is_err());
    }
}
