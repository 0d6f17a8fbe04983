//! `/admin`: administrators' actions on users, and the audit log that records them.

use axum::extract::State;
use noillin_domain::{UserId, UserStatus};
use noillin_store::AuditEntry;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState, accounts,
    error::ApiResult,
    extract::{Admin, ApiJson, ApiQuery, PathId, RequestId, WithRole},
    paging::Page,
    routes::{
        problems::{Conflict, InvalidQuery, JsonBody, ObjectInPath, RoleRequired},
        views::UserView,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(update_user))
        .routes(routes!(list_audit_log))
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

/// Suspends or reinstates a user. Either signs the user out everywhere at once; the change is
/// recorded in the audit log.
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "User id")), request_body = UserUpdate,
    responses((status = 200, description = "The user as changed", body = UserView), RoleRequired, JsonBody, ObjectInPath, Conflict))]
async fn update_user(
    State(state): State<AppState>,
    WithRole(admin, _): WithRole<Admin>,
    RequestId(request_id): RequestId,
    PathId(id): PathId,
    ApiJson(update): ApiJson<UserUpdate>,
) -> ApiResult<axum::Json<UserView>> {
    let status = match update.status {
        StatusChange::Active => UserStatus::Active,
        StatusChange::Suspended => UserStatus::Suspended,
    };
    let user = accounts::set_status(
        &state,
        &admin.0,
        &UserId::from_string(id),
        status,
        request_id,
    )
    .await?;
    Ok(axum::Json(UserView::from(&user)))
}

/// One recorded administrative action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    /// The administrator who acted; absent for the operator at the command line.
    pub actor_id: Option<String>,
    /// `admin.created`, `user.suspended` or `user.reinstated`.
    pub action: String,
    /// What it was done to, e.g. `user:{id}`.
    pub target: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// More about the action (an object).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<&AuditEntry> for AuditEntryView {
    fn from(entry: &AuditEntry) -> Self {
        Self {
            id: entry.id.clone(),
            actor_id: entry.actor.as_ref().map(ToString::to_string),
            action: entry.action.clone(),
            target: entry.target.clone(),
            at: entry.at.to_string(),
            details: entry.details.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditLogQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page: the page continues with older entries.
    #[param(max_length = 64)]
    pub before: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogPage {
    pub items: Vec<AuditEntryView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// Lists the audit log, newest first.
#[utoipa::path(get, path = "/admin/audit-log", tag = "admin", security(("bearer" = [])), params(AuditLogQuery),
    responses((status = 200, description = "One page of the audit log", body = AuditLogPage), RoleRequired, InvalidQuery))]
async fn list_audit_log(
    State(state): State<AppState>,
    WithRole(_admin, _): WithRole<Admin>,
    ApiQuery(query): ApiQuery<AuditLogQuery>,
) -> ApiResult<axum::Json<AuditLogPage>> {
    let page = Page::read(query.limit, "before", query.before)?;
    let (items, next_before) = accounts::audit_log(&state, page).await?;
    Ok(axum::Json(AuditLogPage {
        items: items.iter().map(AuditEntryView::from).collect(),
        next_before,
    }))
}
