//! The routes table: operational endpoints at the root, the public API under `/api/v1`, its
//! OpenAPI document at `/api/v1/openapi.json` and interactive docs at `/api/docs`.

mod admin;
mod auth;
mod availability;
mod bookings;
mod conversations;
mod deliveries;
mod earnings;
mod gigs;
mod notifications;
mod payments;
mod problems;
mod profiles;
mod reviews;
mod search;
pub mod views;

pub use problems::{FieldErrorDoc, ProblemDoc};

use axum::{Router, extract::DefaultBodyLimit, http::StatusCode, routing::get};
use metrics_exporter_prometheus::PrometheusHandle;
use noillin_service::{http, ops, problem};
use utoipa::{
    PartialSchema,
    openapi::{
        InfoBuilder, OpenApi,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_scalar::{Scalar, Servable};

use crate::AppState;

/// The version of the API contract (the `/api/v1` paths carry its major version).
const API_VERSION: &str = "1.0.0";

const API_DESCRIPTION: &str = "Noillin's HTTP API: brands discover influencers and book their \
gigs on slots the influencers are really free. JSON in and out; signed-in operations take an \
access token from `/auth/login` or `/auth/register` as `Authorization: Bearer <token>`. Errors \
are RFC 9457 problem documents (`application/problem+json`) with a stable `type`; \
`/problems/validation-failed` lists `errors: [{field, code, message}]`. Lists are keyset paged.";

/// Largest JSON body the API reads (the gateway allows more for later uploads).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API's routes and their OpenAPI description, from the same declarations.
pub fn api() -> (Router<AppState>, OpenApi) {
    let (router, mut openapi) = OpenApiRouter::new()
        .merge(auth::router())
        .merge(profiles::router())
        .merge(admin::router())
        .merge(gigs::router())
        .merge(bookings::router())
        .merge(deliveries::router())
        .merge(reviews::router())
        .merge(earnings::router())
        .merge(availability::router())
        .merge(notifications::router())
        .merge(conversations::router())
        .merge(payments::router())
        .merge(search::router())
        .split_for_parts();
    openapi.info = InfoBuilder::new()
        .title("Noillin API")
        .version(API_VERSION)
        .description(Some(API_DESCRIPTION))
        .build();
    // Every operation reads the store, which can be briefly unreachable.
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .insert("503".to_owned(), problems::unavailable().into());
        }
    }
    let components = openapi.components.get_or_insert_default();
    // The shared error responses refer to the problem schema by name.
    components
        .schemas
        .insert("ProblemDoc".to_owned(), ProblemDoc::schema());
    components
        .schemas
        .insert("FieldErrorDoc".to_owned(), FieldErrorDoc::schema());
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    openapi.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    (router, openapi)
}

pub fn router(state: AppState, readiness: ops::Readiness, metrics: PrometheusHandle) -> Router {
    let (api, openapi) = api();
    let spec = openapi.clone();
    let api = api
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(spec) }),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    http::instrument(
        Router::new()
            .merge(ops::router("core-api", readiness, metrics))
            .nest("/api/v1", api)
            .merge(Router::from(Scalar::with_url("/api/docs", openapi)))
            .fallback(problem::not_found),
    )
}

/// A known path with a method it does not have; axum keeps the `Allow` header.
async fn method_not_allowed() -> problem::Problem {
    problem::Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    )
}
