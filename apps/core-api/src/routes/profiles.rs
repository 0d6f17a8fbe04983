//! Profiles: each user reads and edits their own; anyone signed in reads an influencer's public
//! profile. Brands' profiles are private to the brand.

use axum::extract::State;
use noillin_domain::{
    UserId,
    profile::{BrandProfileChanges, InfluencerProfileChanges},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{ApiJson, AuthUser, Brand, Influencer, PathId, RequestId, WithRole},
    profiles::{self, ProfilesError},
    routes::{
        problems::{Authenticated, JsonBody, ObjectInPath, RoleRequired},
        views::{BrandProfileView, InfluencerProfileView, SocialAccountView},
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_influencer_profile, update_my_influencer_profile))
        .routes(routes!(influencer_profile))
        .routes(routes!(my_brand_profile, update_my_brand_profile))
}

/// The problem document of each profile outcome.
impl From<ProfilesError> for ApiError {
    fn from(e: ProfilesError) -> Self {
        match e {
            ProfilesError::NotFound => ApiError::NotFound,
            ProfilesError::Invalid(errors) => ApiError::Validation(errors),
            ProfilesError::Store(e) => e.into(),
            ProfilesError::Outbox(e) => ApiError::Internal(e),
        }
    }
}

/// The signed-in influencer's profile.
#[utoipa::path(get, path = "/influencers/me", tag = "profiles", security(("bearer" = [])),
    responses((status = 200, description = "Your profile", body = InfluencerProfileView), RoleRequired))]
async fn my_influencer_profile(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
) -> ApiResult<axum::Json<InfluencerProfileView>> {
    let profile = profiles::my_influencer_profile(&state, user.id()).await?;
    Ok(axum::Json(InfluencerProfileView::from(&profile)))
}

/// Changes to an influencer profile; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InfluencerProfileUpdate {
    /// 1 to 80 characters.
    #[schema(min_length = 1, max_length = 80)]
    pub display_name: Option<String>,
    /// Up to 2000 characters.
    #[schema(max_length = 2000)]
    pub bio: Option<String>,
    /// Up to 10 tags of 1 to 40 characters.
    #[schema(max_items = 10)]
    pub niches: Option<Vec<String>>,
    /// BCP 47 tags such as `en` or `pt-BR`, at most 10.
    #[schema(max_items = 10)]
    pub languages: Option<Vec<String>>,
    /// Up to 120 characters; an empty string clears it.
    #[schema(max_length = 120)]
    pub location: Option<String>,
    /// IANA time zone, e.g. `Europe/Lisbon`.
    #[schema(max_length = 64, example = "Europe/Lisbon")]
    pub time_zone: Option<String>,
    /// At most 20 accounts.
    #[schema(max_items = 20)]
    pub social_accounts: Option<Vec<SocialAccountView>>,
}

/// Updates the signed-in influencer's profile.
#[utoipa::path(patch, path = "/influencers/me", tag = "profiles", security(("bearer" = [])), request_body = InfluencerProfileUpdate,
    responses((status = 200, description = "Your profile as changed", body = InfluencerProfileView), RoleRequired, JsonBody))]
async fn update_my_influencer_profile(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    request: RequestId,
    ApiJson(update): ApiJson<InfluencerProfileUpdate>,
) -> ApiResult<axum::Json<InfluencerProfileView>> {
    let changes = InfluencerProfileChanges {
        display_name: update.display_name,
        bio: update.bio,
        niches: update.niches,
        languages: update.languages,
        location: update.location,
        time_zone: update.time_zone,
        social_accounts: update
            .social_accounts
            .map(|accounts| accounts.into_iter().map(Into::into).collect()),
    };
    let profile =
        profiles::update_my_influencer_profile(&state, user.id(), changes, request.0.as_deref())
            .await?;
    Ok(axum::Json(InfluencerProfileView::from(&profile)))
}

/// An influencer's public profile. Unknown ids, non-influencers and suspended accounts are all
/// simply not found.
#[utoipa::path(get, path = "/influencers/{id}", tag = "profiles", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 64, description = "The influencer's user id")),
    responses((status = 200, description = "The influencer's public profile", body = InfluencerProfileView), Authenticated, ObjectInPath))]
async fn influencer_profile(
    State(state): State<AppState>,
    _viewer: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<InfluencerProfileView>> {
    let profile = profiles::public_influencer_profile(&state, &UserId::from_string(id)).await?;
    Ok(axum::Json(InfluencerProfileView::from(&profile)))
}

/// The signed-in brand's profile.
#[utoipa::path(get, path = "/brands/me", tag = "profiles", security(("bearer" = [])),
    responses((status = 200, description = "Your profile", body = BrandProfileView), RoleRequired))]
async fn my_brand_profile(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Brand>,
) -> ApiResult<axum::Json<BrandProfileView>> {
    let profile = profiles::my_brand_profile(&state, user.id()).await?;
    Ok(axum::Json(BrandProfileView::from(&profile)))
}

/// Changes to a brand profile; absent fields stay as they are, empty strings clear the
/// optional ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandProfileUpdate {
    /// 1 to 120 characters.
    #[schema(min_length = 1, max_length = 120)]
    pub company_name: Option<String>,
    /// Up to 80 characters.
    #[schema(max_length = 80)]
    pub industry: Option<String>,
    /// An http(s) URL of up to 300 characters.
    #[schema(max_length = 300, example = "https://acme.example")]
    pub website: Option<String>,
    /// Up to 120 characters.
    #[schema(max_length = 120)]
    pub contact_name: Option<String>,
}

/// Updates the signed-in brand's profile.
#[utoipa::path(patch, path = "/brands/me", tag = "profiles", security(("bearer" = [])), request_body = BrandProfileUpdate,
    responses((status = 200, description = "Your profile as changed", body = BrandProfileView), RoleRequired, JsonBody))]
async fn update_my_brand_profile(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Brand>,
    ApiJson(update): ApiJson<BrandProfileUpdate>,
) -> ApiResult<axum::Json<BrandProfileView>> {
    let changes = BrandProfileChanges {
        company_name: update.company_name,
        industry: update.industry,
        website: update.website,
        contact_name: update.contact_name,
    };
    let profile = profiles::update_my_brand_profile(&state, user.id(), changes).await?;
    Ok(axum::Json(BrandProfileView::from(&profile)))
}
