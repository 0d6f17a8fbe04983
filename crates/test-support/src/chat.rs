//! Chat calls of the HTTP API (`/conversations`), for the end-to-end tests.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{ApiClient, ApiResponse, TestUser};

impl ApiClient {
    /// `POST /conversations` with `subject` (`{"influencer_id": ..}`, `{"gig_id": ..}` or
    /// `{"booking_id": ..}`) as `user`.
    pub async fn open_conversation(&self, user: &TestUser, subject: &Value) -> ApiResponse {
        self.post("/conversations", subject, Some(&user.access))
            .await
    }

    /// `brand`'s direct conversation with `influencer`, opened or found; panics unless the API
    /// answers 201 or 200. Returns the conversation view.
    pub async fn direct_conversation(&self, brand: &TestUser, influencer: &TestUser) -> Value {
        let response = self
            .open_conversation(brand, &json!({ "influencer_id": influencer.id }))
            .await;
        assert!(
            matches!(response.status, StatusCode::CREATED | StatusCode::OK),
            "open a direct conversation: {} {:?}",
            response.status,
            response.body
        );
        response.body
    }

    /// `POST /conversations/{id}/messages` as `user`.
    pub async fn send_message(
        &self,
        user: &TestUser,
        conversation: &str,
        client_id: &str,
        text: &str,
    ) -> ApiResponse {
        self.post(
            &format!("/conversations/{conversation}/messages"),
            &json!({ "client_id": client_id, "text": text }),
            Some(&user.access),
        )
        .await
    }

    /// Sends `text` with a fresh client id; panics unless it is stored (201). Returns the
    /// message view.
    pub async fn say(&self, user: &TestUser, conversation: &str, text: &str) -> Value {
        let client_id = uuid::Uuid::new_v4().simple().to_string();
        let response = self
            .send_message(user, conversation, &client_id, text)
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "send a message: {:?}",
            response.body
        );
        response.body
    }

    /// `GET /conversations/{id}/messages{query}` as `user` (`query` starts with `?` or is
    /// empty).
    pub async fn messages(&self, user: &TestUser, conversation: &str, query: &str) -> ApiResponse {
        self.get(
            &format!("/conversations/{conversation}/messages{query}"),
            Some(&user.access),
        )
        .await
    }

    /// The ids of a page of messages, in the order the API listed them; panics unless 200.
    pub async fn message_ids(&self, user: &TestUser, conversation: &str, query: &str) -> Vec<u64> {
        let response = self.messages(user, conversation, query).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response.body["items"]
            .as_array()
            .expect("a list of messages")
            .iter()
            .map(|m| m["id"].as_u64().expect("a message id"))
            .collect()
    }

    /// `POST /conversations/{id}/read` with `{"up_to": up_to}` as `user`.
    pub async fn mark_read(&self, user: &TestUser, conversation: &str, up_to: u64) -> ApiResponse {
        self.post(
            &format!("/conversations/{conversation}/read"),
            &json!({ "up_to": up_to }),
            Some(&user.access),
        )
        .await
    }

    /// `GET /conversations/{id}` as `user`.
    pub async fn conversation(&self, user: &TestUser, conversation: &str) -> ApiResponse {
        self.get(
            &format!("/conversations/{conversation}"),
            Some(&user.access),
        )
        .await
    }

    /// The first page of `user`'s conversations (`GET /conversations`); panics unless 200.
    pub async fn conversations(&self, user: &TestUser) -> Vec<Value> {
        let response = self.get("/conversations", Some(&user.access)).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response.body["items"]
            .as_array()
            .expect("a list of conversations")
            .clone()
    }
}
