//! A small typed client for the HTTP API through the gateway.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A response, read whole: status, headers and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl ApiResponse {
    /// The `Content-Type` header, or "".
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The field names listed in a 422 problem document.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Calls the API under `{gateway}/api/v1`.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(gateway: &str) -> Self {
        Self {
            base: format!("{gateway}/api/v1"),
            http: reqwest::Client::new(),
        }
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> ApiResponse {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request reaches the gateway");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    /// Sends a POST with a JSON body, a bearer token and extra headers (an `Idempotency-Key`).
    pub async fn post_with_headers(
        &self,
        path: &str,
        body: &Value,
        token: &str,
        headers: &[(&str, &str)],
    ) -> ApiResponse {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request reaches the gateway");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        ApiResponse {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> ApiResponse {
        self.send(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> ApiResponse {
        self.send(Method::POST, path, Some(body), token).await
    }

    pub async fn patch(&self, path: &str, body: &Value, token: Option<&str>) -> ApiResponse {
        self.send(Method::PATCH, path, Some(body), token).await
    }

    pub async fn put(&self, path: &str, body: &Value, token: Option<&str>) -> ApiResponse {
        self.send(Method::PUT, path, Some(body), token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> ApiResponse {
        self.send(Method::DELETE, path, None, token).await
    }

    /// Registers a user with a fresh email and returns it signed in.
    pub async fn register(&self, role: &str) -> TestUser {
        let email = format!(
            "{role}-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let password = "correct horse battery staple".to_owned();
        let response = self
            .post(
                "/auth/register",
                &json!({ "email": email, "password": password, "role": role, "display_name": format!("Test {role}") }),
                None,
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "register: {:?}",
            response.body
        );
        TestUser::from_tokens(
            email,
            password,
            &response.body["user"],
            &response.body["tokens"],
        )
    }

    /// Creates a draft gig owned by `owner` and returns its id.
    pub async fn create_gig(&self, owner: &TestUser, title: &str) -> String {
        self.create_gig_with_terms(
            owner,
            title,
            json!({ "duration_minutes": 60, "horizon_days": 60 }),
        )
        .await
    }

    /// Sets `user`'s zone and makes them available 09:00–17:00 every day there.
    pub async fn make_available(&self, user: &TestUser, zone: &str) {
        let profile = self
            .patch(
                "/influencers/me",
                &json!({ "time_zone": zone }),
                Some(&user.access),
            )
            .await;
        assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
        let day = json!([{ "start": "09:00", "end": "17:00" }]);
        let weekly = json!({ "monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day });
        let response = self
            .put("/availability/weekly", &weekly, Some(&user.access))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    }

    /// Creates a draft gig owned by `owner` with these slot terms and returns its id.
    pub async fn create_gig_with_terms(
        &self,
        owner: &TestUser,
        title: &str,
        terms: Value,
    ) -> String {
        let gig = json!({
            "title": title,
            "description": "Three stories on launch day.",
            "deliverables": ["3 stories"],
            "platform": "instagram",
            "category": "sportswear",
            "price": { "amount_minor": 45000, "currency": "EUR" },
            "terms": terms
        });
        let response = self.post("/gigs", &gig, Some(&owner.access)).await;
        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "create gig: {:?}",
            response.body
        );
        response.body["id"].as_str().expect("gig id").to_owned()
    }

    /// Booking `id` as `user` reads it; panics unless they can.
    pub async fn booking(&self, user: &TestUser, id: &str) -> Value {
        let response = self
            .get(&format!("/bookings/{id}"), Some(&user.access))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response.body
    }

    /// Waits up to `timeout` until booking `id`, as `user` reads it, is in `state`; answers it,
    /// or panics with the booking as it is.
    pub async fn booking_in_state(
        &self,
        user: &TestUser,
        id: &str,
        state: &str,
        timeout: std::time::Duration,
    ) -> Value {
        let reached = crate::eventually_some(timeout, || async {
            let current = self.booking(user, id).await;
            (current["state"] == state).then_some(current)
        })
        .await;
        match reached {
            Some(booking) => booking,
            None => panic!(
                "booking {id} never became {state}: {}",
                self.booking(user, id).await
            ),
        }
    }

    /// Invites `members` into `owner`'s draft gig, sharing the payout equally with the owner.
    pub async fn invite(&self, owner: &TestUser, gig_id: &str, members: &[&TestUser]) {
        let share = 10_000 / (members.len() as u32 + 1);
        let owner_share = 10_000 - share * members.len() as u32;
        let members: Vec<Value> = members
            .iter()
            .map(|m| json!({ "user_id": m.id, "share_bps": share }))
            .collect();
        let response = self
            .send(
                Method::PUT,
                &format!("/gigs/{gig_id}/members"),
                Some(&json!({ "owner_share_bps": owner_share, "members": members })),
                Some(&owner.access),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "invite: {:?}",
            response.body
        );
    }

    /// Publishes `owner`'s draft gig; the response says whether it could.
    pub async fn publish_gig(&self, owner: &TestUser, gig_id: &str) -> ApiResponse {
        self.post(
            &format!("/gigs/{gig_id}/publish"),
            &json!({}),
            Some(&owner.access),
        )
        .await
    }

    /// `user` accepts an invitation into a group gig; the response says whether they could.
    pub async fn accept_invitation(&self, user: &TestUser, gig_id: &str) -> ApiResponse {
        self.post(
            &format!("/gigs/{gig_id}/membership/accept"),
            &json!({}),
            Some(&user.access),
        )
        .await
    }

    /// The starts `gig` lists in `[from, to)`, as instants (however the API presents them).
    pub async fn slot_starts(
        &self,
        token: &str,
        gig: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Vec<jiff::Timestamp> {
        let response = self
            .get(
                &format!("/gigs/{gig}/slots?from={from}&to={to}"),
                Some(token),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response.body["slots"]
            .as_array()
            .expect("a list of slots")
            .iter()
            .map(|slot| {
                slot["start"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .expect("an instant")
            })
            .collect()
    }

    /// Signs in and returns the new tokens.
    pub async fn login(&self, email: &str, password: &str) -> ApiResponse {
        self.post(
            "/auth/login",
            &json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    /// Exchanges a refresh token for a new pair.
    pub async fn refresh(&self, refresh_token: &str) -> ApiResponse {
        self.post(
            "/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
            None,
        )
        .await
    }

    /// An administrator's `PATCH /admin/users/{id}` with `{"status": status}`, sent with `token`.
    pub async fn set_user_status(
        &self,
        user_id: &str,
        status: &str,
        token: Option<&str>,
    ) -> ApiResponse {
        self.patch(
            &format!("/admin/users/{user_id}"),
            &json!({ "status": status }),
            token,
        )
        .await
    }
}

/// A registered user and its current tokens.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestUser {
    pub fn from_tokens(email: String, password: String, user: &Value, tokens: &Value) -> Self {
        Self {
            id: user["id"].as_str().expect("user id").to_owned(),
            email,
            password,
            access: tokens["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh: tokens["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        }
    }
}
