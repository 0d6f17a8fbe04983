//! `/admin`: administrators' actions on users.

use axum::extract::State;
use noillin_domain::{UserId, UserStatus};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState, accounts,
    error::ApiResult,
    extract::{Admin, ApiJson, PathId, WithRole},
    routes::{
        problems::{Conflict, JsonBody, ObjectInPath, RoleRequired},
        views::UserView,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_user))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    Active,
    Suspended,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub status: StatusChange,
}

/// Suspends or reinstates a user. Suspension signs the user out everywhere at once.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "User id")), request_body = UserUpdate,
    responses((status = 200, description = "The user as changed", body = UserView), RoleRequired, JsonBody, ObjectInPath, Conflict))]
async fn update_user(
    State(state): State<AppState>,
    WithRole(admin, _): WithRole<Admin>,
    PathId(id): PathId,
    ApiJson(update): ApiJson<UserUpdate>,
) -> ApiResult<axum::Json<UserView>> {
    let status = match update.status {
        StatusChange::Active => UserStatus::Active,
        StatusChange::Suspended => UserStatus::Suspended,
    };
    let user = accounts::set_status(&state, &admin.0, &UserId::from_string(id), status).await?;
    Ok(axum::Json(UserView::from(&user)))
}
