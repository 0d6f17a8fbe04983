//! `/availability`: the signed-in influencer's weekly windows and date overrides, in their
//! profile's time zone.

use std::collections::BTreeMap;

use axum::{extract::State, http::StatusCode};
use noillin_domain::availability::{AvailabilityRules, MAX_OVERRIDES, Override, WeeklyRules};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    availability::{self, AvailabilityError},
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiPath, Influencer, WithRole},
    routes::{
        ProblemDoc,
        problems::{JsonBody, RoleRequired},
    },
};

/// A bookable stretch of one local day, `[start, end)` in the profile's time zone.
// The document's description of the domain's `LocalWindow`, which cannot derive the schema
// itself; the handlers read and write the domain type.
#[derive(Serialize, ToSchema)]
#[schema(as = LocalWindow)]
#[allow(dead_code)]
struct LocalWindowDoc {
    /// `HH:MM`, before `end`.
    #[schema(
        pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        example = "09:00"
    )]
    start: String,
    /// `HH:MM`, up to `24:00` (the midnight that ends the day).
    #[schema(
        pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
        example = "17:00"
    )]
    end: String,
}

/// The windows of each weekday (at most 12 a day, not overlapping); an absent or empty day is
/// not bookable.
#[derive(Default, Serialize, ToSchema)]
#[schema(as = WeeklyWindows)]
#[serde(default)]
#[allow(dead_code)]
struct WeeklyDoc {
    #[schema(max_items = 12)]
    monday: Vec<LocalWindowDoc>,
    #[schema(max_items = 12)]
    tuesday: Vec<LocalWindowDoc>,
    #[schema(max_items = 12)]
    wednesday: Vec<LocalWindowDoc>,
    #[schema(max_items = 12)]
    thursday: Vec<LocalWindowDoc>,
    #[schema(max_items = 12)]
    friday: Vec<LocalWindowDoc>,
    #[schema(max_items = 12)]
    saturday: Vec<LocalWindowDoc>,
    #[schema(max_items = 12)]
    sunday: Vec<LocalWindowDoc>,
}

/// What one local date looks like instead of its weekday's windows: `{"kind": "blocked"}`, or
/// `{"kind": "windows", "windows": [...]}` (an empty list is the same as blocked).
#[derive(Serialize, ToSchema)]
#[schema(as = DateOverride)]
#[serde(tag = "kind", content = "windows", rename_all = "snake_case")]
#[allow(dead_code)]
enum OverrideDoc {
    Blocked,
    Windows(Vec<LocalWindowDoc>),
}

/// Everything you wrote about when you can be booked.
#[derive(Serialize, ToSchema)]
#[schema(as = Availability)]
#[allow(dead_code)]
struct AvailabilityDoc {
    weekly: WeeklyDoc,
    /// Overrides keyed by local date `YYYY-MM-DD`.
    overrides: BTreeMap<String, OverrideDoc>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_availability))
        .routes(routes!(replace_weekly))
        .routes(routes!(set_override, remove_override))
}

impl From<AvailabilityError> for ApiError {
    fn from(e: AvailabilityError) -> Self {
        match e {
            AvailabilityError::InvalidDate => ApiError::invalid(
                "date",
                "invalid_date",
                "must be a date YYYY-MM-DD such as 2026-06-10",
            ),
            AvailabilityError::Invalid(errors) => ApiError::Validation(errors),
            AvailabilityError::TooManyOverrides => ApiError::invalid(
                "date",
                "too_many_overrides",
                format!("at most {MAX_OVERRIDES} overrides; remove past ones first"),
            ),
            AvailabilityError::NoOverride => ApiError::NotFound,
            AvailabilityError::Store(e) => e.into(),
        }
    }
}

/// Your weekly windows and overrides. Windows are `{start, end}` local times `"HH:MM"`
/// (`end` up to `"24:00"`); overrides are keyed by local date.
#[utoipa::path(get, path = "/availability", tag = "availability", security(("bearer" = [])),
    responses((status = 200, description = "Your availability", body = AvailabilityDoc), RoleRequired))]
async fn get_availability(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
) -> ApiResult<axum::Json<AvailabilityRules>> {
    Ok(axum::Json(
        availability::get_rules(&state, user.id()).await?,
    ))
}

/// Replaces your weekly windows (overrides stay).
#[utoipa::path(put, path = "/availability/weekly", tag = "availability", security(("bearer" = [])), request_body = WeeklyDoc,
    responses((status = 200, description = "Your availability as changed", body = AvailabilityDoc), RoleRequired, JsonBody))]
async fn replace_weekly(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiJson(weekly): ApiJson<WeeklyRules>,
) -> ApiResult<axum::Json<AvailabilityRules>> {
    Ok(axum::Json(
        availability::replace_weekly(&state, user.id(), weekly).await?,
    ))
}

/// Sets one local date: `{"kind": "blocked"}` or `{"kind": "windows", "windows": [...]}`.
#[utoipa::path(put, path = "/availability/overrides/{date}", tag = "availability", security(("bearer" = [])),
    params(("date" = String, Path, format = Date, description = "Local date, YYYY-MM-DD")), request_body = OverrideDoc,
    responses((status = 200, description = "Your availability as changed", body = AvailabilityDoc), RoleRequired, JsonBody,
        (status = 422, description = "Invalid date or windows, or too many overrides (listed in `errors`)", body = ProblemDoc, content_type = "application/problem+json")))]
async fn set_override(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiPath(date): ApiPath<String>,
    ApiJson(value): ApiJson<Override>,
) -> ApiResult<axum::Json<AvailabilityRules>> {
    Ok(axum::Json(
        availability::set_override(&state, user.id(), &date, value).await?,
    ))
}

/// Removes the override of one local date.
#[utoipa::path(delete, path = "/availability/overrides/{date}", tag = "availability", security(("bearer" = [])),
    params(("date" = String, Path, format = Date, description = "Local date, YYYY-MM-DD")),
    responses((status = 204, description = "Removed"), RoleRequired,
        (status = 400, description = "The date cannot be decoded", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No override on that date", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Not a date", body = ProblemDoc, content_type = "application/problem+json")))]
async fn remove_override(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiPath(date): ApiPath<String>,
) -> ApiResult<StatusCode> {
    availability::remove_override(&state, user.id(), &date).await?;
    Ok(StatusCode::NO_CONTENT)
}
