//! `/availability`: the signed-in influencer's weekly windows and date overrides, in their
//! profile's time zone.

use axum::{extract::State, http::StatusCode};
use jiff::civil::Date;
use noillin_domain::availability::{
    AvailabilityRules, MAX_OVERRIDES, Override, WeeklyRules, parse_local_date,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiPath, Influencer, WithRole},
    routes::ProblemDoc,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_availability))
        .routes(routes!(replace_weekly))
        .routes(routes!(set_override, remove_override))
}

/// Your weekly windows and overrides. Windows are `{start, end}` local times `"HH:MM"`
/// (`end` up to `"24:00"`); overrides are keyed by local date.
#[utoipa::path(get, path = "/availability", tag = "availability", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ProblemDoc)))]
async fn get_availability(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
) -> ApiResult<axum::Json<AvailabilityRules>> {
    Ok(axum::Json(state.store.availability.get(user.id()).await?))
}

/// Replaces your weekly windows (overrides stay).
#[utoipa::path(put, path = "/availability/weekly", tag = "availability", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = ProblemDoc), (status = 403, body = ProblemDoc)))]
async fn replace_weekly(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiJson(weekly): ApiJson<WeeklyRules>,
) -> ApiResult<axum::Json<AvailabilityRules>> {
    weekly.validate()?;
    state
        .store
        .availability
        .set_weekly(user.id(), &weekly)
        .await?;
    Ok(axum::Json(state.store.availability.get(user.id()).await?))
}

fn parse_date(date: &str) -> Result<Date, ApiError> {
    parse_local_date(date).ok_or_else(|| {
        ApiError::invalid(
            "date",
            "invalid_date",
            "must be a date YYYY-MM-DD such as 2026-06-10",
        )
    })
}

/// Sets one local date: `{"kind": "blocked"}` or `{"kind": "windows", "windows": [...]}`.
#[utoipa::path(put, path = "/availability/overrides/{date}", tag = "availability", security(("bearer" = [])),
    params(("date" = String, Path, description = "Local date, YYYY-MM-DD")), request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = ProblemDoc), (status = 403, body = ProblemDoc)))]
async fn set_override(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiPath(date): ApiPath<String>,
    ApiJson(value): ApiJson<Override>,
) -> ApiResult<axum::Json<AvailabilityRules>> {
    let date = parse_date(&date)?;
    value.validate()?;
    let mut rules = state.store.availability.get(user.id()).await?;
    if !rules.overrides.contains_key(&date) && rules.overrides.len() >= MAX_OVERRIDES {
        return Err(ApiError::invalid(
            "date",
            "too_many_overrides",
            format!("at most {MAX_OVERRIDES} overrides; remove past ones first"),
        ));
    }
    state
        .store
        .availability
        .set_override(user.id(), date, &value)
        .await?;
    rules.overrides.insert(date, value);
    Ok(axum::Json(rules))
}

/// Removes the override of one local date.
#[utoipa::path(delete, path = "/availability/overrides/{date}", tag = "availability", security(("bearer" = [])),
    params(("date" = String, Path, description = "Local date, YYYY-MM-DD")),
    responses((status = 204), (status = 404, body = ProblemDoc), (status = 403, body = ProblemDoc)))]
async fn remove_override(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiPath(date): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let date = parse_date(&date)?;
    state
        .store
        .availability
        .remove_override(user.id(), date)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
