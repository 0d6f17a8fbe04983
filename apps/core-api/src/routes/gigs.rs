//! `/gigs`: influencers offer gigs (alone or as a group); everyone signed in reads published
//! ones and their bookable slots.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
};
use jiff::Timestamp;
use noillin_domain::{
    SocialPlatform,
    availability::MAX_QUERY_DAYS,
    gig::{FULL_SHARE_BPS, Gig, GigId, GigMember, GigStatus, GigTerms, MemberState, Money},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{ApiJson, AuthUser, Influencer, RequestId, WithRole},
    gigs,
    routes::{ProblemDoc, page_limit},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_gig, list_gigs))
        .routes(routes!(get_gig, update_gig))
        .routes(routes!(publish_gig))
        .routes(routes!(archive_gig))
        .routes(routes!(set_members))
        .routes(routes!(accept_invitation))
        .routes(routes!(decline_invitation))
        .routes(routes!(gig_slots))
}

/// Price in minor units of a currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    /// Integer minor units (cents; yen for JPY).
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// Slot terms.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermsDto {
    pub duration_minutes: u32,
    /// Minutes between slot starts (default: the duration).
    pub interval_minutes: Option<u32>,
    #[serde(default)]
    pub buffer_before_minutes: u32,
    #[serde(default)]
    pub buffer_after_minutes: u32,
    #[serde(default)]
    pub min_notice_minutes: u32,
    /// How many days ahead slots are offered.
    pub horizon_days: u32,
    /// Bookings per local day of the owner, at most.
    pub max_per_day: Option<u32>,
}

impl From<TermsDto> for GigTerms {
    fn from(t: TermsDto) -> Self {
        GigTerms {
            duration_minutes: t.duration_minutes,
            interval_minutes: t.interval_minutes,
            buffer_before_minutes: t.buffer_before_minutes,
            buffer_after_minutes: t.buffer_after_minutes,
            min_notice_minutes: t.min_notice_minutes,
            horizon_days: t.horizon_days,
            max_per_day: t.max_per_day,
        }
    }
}

impl From<GigTerms> for TermsDto {
    fn from(t: GigTerms) -> Self {
        TermsDto {
            duration_minutes: t.duration_minutes,
            interval_minutes: t.interval_minutes,
            buffer_before_minutes: t.buffer_before_minutes,
            buffer_after_minutes: t.buffer_after_minutes,
            min_notice_minutes: t.min_notice_minutes,
            horizon_days: t.horizon_days,
            max_per_day: t.max_per_day,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub share_bps: u32,
    /// `invited`, `accepted` or `declined`.
    pub state: String,
}

/// A gig.
#[derive(Debug, Serialize, ToSchema)]
pub struct GigView {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub description: String,
    pub deliverables: Vec<String>,
    #[schema(value_type = String)]
    pub platform: SocialPlatform,
    pub category: String,
    pub price: MoneyDto,
    pub terms: TermsDto,
    /// `draft`, `published` or `archived`.
    pub status: String,
    /// The owner first; more than one member makes a group gig.
    pub members: Vec<MemberView>,
    /// Changes with every update.
    pub version: u64,
}

impl From<&Gig> for GigView {
    fn from(g: &Gig) -> Self {
        let status = match g.status {
            GigStatus::Draft => "draft",
            GigStatus::Published => "published",
            GigStatus::Archived => "archived",
        };
        Self {
            id: g.id.to_string(),
            owner_id: g.owner_id.to_string(),
            title: g.title.clone(),
            description: g.description.clone(),
            deliverables: g.deliverables.clone(),
            platform: g.platform,
            category: g.category.clone(),
            price: MoneyDto {
                amount_minor: g.price.amount_minor,
                currency: g.price.currency.clone(),
            },
            terms: g.terms.into(),
            status: status.to_owned(),
            members: g
                .members
                .iter()
                .map(|m| MemberView {
                    user_id: m.user_id.to_string(),
                    share_bps: m.share_bps,
                    state: match m.state {
                        MemberState::Invited => "invited",
                        MemberState::Accepted => "accepted",
                        MemberState::Declined => "declined",
                    }
                    .to_owned(),
                })
                .collect(),
            version: g.version,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGig {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub deliverables: Vec<String>,
    #[schema(value_type = String)]
    pub platform: SocialPlatform,
    pub category: String,
    pub price: MoneyDto,
    pub terms: TermsDto,
}

/// Creates a draft gig owned by the signed-in influencer.
#[utoipa::path(post, path = "/gigs", tag = "gigs", security(("bearer" = [])), request_body = NewGig,
    responses((status = 201, body = GigView), (status = 422, body = ProblemDoc), (status = 403, body = ProblemDoc)))]
async fn create_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiJson(body): ApiJson<NewGig>,
) -> ApiResult<(StatusCode, axum::Json<GigView>)> {
    let now = Timestamp::now();
    let gig = Gig {
        id: GigId::generate(),
        owner_id: user.id().clone(),
        title: body.title.trim().to_owned(),
        description: body.description,
        deliverables: body
            .deliverables
            .into_iter()
            .map(|d| d.trim().to_owned())
            .collect(),
        platform: body.platform,
        category: body.category.trim().to_owned(),
        price: Money {
            amount_minor: body.price.amount_minor,
            currency: body.price.currency,
        },
        terms: body.terms.into(),
        status: GigStatus::Draft,
        members: vec![GigMember {
            user_id: user.id().clone(),
            share_bps: FULL_SHARE_BPS,
            state: MemberState::Accepted,
        }],
        version: 1,
        created_at: now,
        updated_at: now,
    };
    gig.validate()?;
    state.store.gigs.insert(&gig, &[]).await?;
    Ok((StatusCode::CREATED, axum::Json(GigView::from(&gig))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: the gigs you own or are invited to (any status). Otherwise published gigs.
    #[serde(default)]
    pub mine: bool,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// The last id of the previous page.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GigPage {
    pub items: Vec<GigView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Lists published gigs, or your own.
#[utoipa::path(get, path = "/gigs", tag = "gigs", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = GigPage), (status = 422, body = ProblemDoc)))]
async fn list_gigs(
    State(state): State<AppState>,
    user: AuthUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<GigPage>> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", "invalid", &e.body_text()))?;
    let limit = page_limit(query.limit, "after", query.after.as_deref())?;
    let page = noillin_store::PageRequest {
        after: query.after,
        limit,
    };
    let gigs = if query.mine {
        state.store.gigs.list_for_member(user.id(), &page).await?
    } else {
        state.store.gigs.list_published(&page).await?
    };
    let next_after = (gigs.len() == limit as usize)
        .then(|| gigs.last().map(|g| g.id.to_string()))
        .flatten();
    Ok(axum::Json(GigPage {
        items: gigs.iter().map(GigView::from).collect(),
        next_after,
    }))
}

/// A gig: published ones for anyone signed in, drafts for their owner and members only.
#[utoipa::path(get, path = "/gigs/{id}", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc)))]
async fn get_gig(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::visible(&state, &id, user.id()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GigUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub deliverables: Option<Vec<String>>,
    #[schema(value_type = Option<String>)]
    pub platform: Option<SocialPlatform>,
    pub category: Option<String>,
    pub price: Option<MoneyDto>,
    pub terms: Option<TermsDto>,
}

/// Changes the owner's gig (not once archived). Bookings keep the price they were made at.
#[utoipa::path(patch, path = "/gigs/{id}", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)), request_body = GigUpdate,
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc), (status = 409, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn update_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    Path(id): Path<String>,
    request: RequestId,
    ApiJson(update): ApiJson<GigUpdate>,
) -> ApiResult<axum::Json<GigView>> {
    let original = gigs::owned(&state, &id, user.id()).await?;
    let mut gig = original.clone();
    if gig.status == GigStatus::Archived {
        return Err(ApiError::Conflict(
            "archived",
            "archived gigs cannot change".into(),
        ));
    }
    if let Some(v) = update.title {
        gig.title = v.trim().to_owned();
    }
    if let Some(v) = update.description {
        gig.description = v;
    }
    if let Some(v) = update.deliverables {
        gig.deliverables = v.into_iter().map(|d| d.trim().to_owned()).collect();
    }
    if let Some(v) = update.platform {
        gig.platform = v;
    }
    if let Some(v) = update.category {
        gig.category = v.trim().to_owned();
    }
    if let Some(v) = update.price {
        gig.price = Money {
            amount_minor: v.amount_minor,
            currency: v.currency,
        };
    }
    if let Some(v) = update.terms {
        gig.terms = v.into();
    }
    gig.validate()?;
    Ok(axum::Json(GigView::from(
        &gigs::save(&state, &original, gig, &request).await?,
    )))
}

/// Publishes a draft: valid, and every member accepted.
#[utoipa::path(post, path = "/gigs/{id}/publish", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn publish_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    Path(id): Path<String>,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::owned(&state, &id, user.id()).await?;
    Ok(axum::Json(GigView::from(
        &gigs::publish(&state, gig, &request).await?,
    )))
}

/// Archives a gig: it is no longer offered.
#[utoipa::path(post, path = "/gigs/{id}/archive", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc), (status = 409, body = ProblemDoc)))]
async fn archive_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    Path(id): Path<String>,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::owned(&state, &id, user.id()).await?;
    Ok(axum::Json(GigView::from(
        &gigs::archive(&state, gig, &request).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitedMember {
    pub user_id: String,
    /// Basis points of the payout (100 = 1%).
    pub share_bps: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    /// The owner's own share, in basis points.
    pub owner_share_bps: u32,
    /// The other members; everyone's shares must sum to 10000.
    pub members: Vec<InvitedMember>,
}

/// Makes a draft a group gig: sets who is invited with which payout share. Every member must
/// accept before the gig can be published.
#[utoipa::path(put, path = "/gigs/{id}/members", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)), request_body = MembersRequest,
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc), (status = 409, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn set_members(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    Path(id): Path<String>,
    request: RequestId,
    ApiJson(body): ApiJson<MembersRequest>,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::owned(&state, &id, user.id()).await?;
    let invited = body
        .members
        .into_iter()
        .map(|m| (m.user_id, m.share_bps))
        .collect();
    Ok(axum::Json(GigView::from(
        &gigs::set_members(&state, gig, body.owner_share_bps, invited, &request).await?,
    )))
}

/// Accepts your invitation to a group gig.
#[utoipa::path(post, path = "/gigs/{id}/membership/accept", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc), (status = 409, body = ProblemDoc)))]
async fn accept_invitation(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    Path(id): Path<String>,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    Ok(axum::Json(GigView::from(
        &gigs::answer_invitation(&state, &id, user.id(), true, &request).await?,
    )))
}

/// Declines your invitation to a group gig.
#[utoipa::path(post, path = "/gigs/{id}/membership/decline", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = GigView), (status = 404, body = ProblemDoc), (status = 409, body = ProblemDoc)))]
async fn decline_invitation(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    Path(id): Path<String>,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    Ok(axum::Json(GigView::from(
        &gigs::answer_invitation(&state, &id, user.id(), false, &request).await?,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// RFC 3339 instant, inclusive.
    pub from: String,
    /// RFC 3339 instant, exclusive; at most 62 days after `from`.
    pub to: String,
    /// IANA zone to present the slots in (default UTC).
    pub tz: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    /// RFC 3339 with the offset of the requested zone.
    pub start: String,
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotList {
    pub gig_id: String,
    pub time_zone: String,
    pub slots: Vec<SlotView>,
}

/// The instants the gig can be booked at within `[from, to)`, presented in `tz`.
#[utoipa::path(get, path = "/gigs/{id}/slots", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path), SlotsQuery),
    responses((status = 200, body = SlotList), (status = 404, body = ProblemDoc), (status = 422, body = ProblemDoc)))]
async fn gig_slots(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    query: Result<Query<SlotsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<SlotList>> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", "invalid", &e.body_text()))?;
    let gig = gigs::visible(&state, &id, user.id()).await?;
    let mut errors = noillin_domain::ValidationErrors::default();
    let from = query
        .from
        .parse::<Timestamp>()
        .map_err(|_| errors.add("from", "invalid_instant", "must be an RFC 3339 instant"))
        .ok();
    let to = query
        .to
        .parse::<Timestamp>()
        .map_err(|_| errors.add("to", "invalid_instant", "must be an RFC 3339 instant"))
        .ok();
    let zone_name = query.tz.unwrap_or_else(|| "UTC".to_owned());
    let zone = jiff::tz::TimeZone::get(&zone_name)
        .map_err(|_| errors.add("tz", "invalid_time_zone", "must be an IANA time zone"))
        .ok();
    let (Some(from), Some(to), Some(zone)) = (from, to, zone) else {
        return Err(ApiError::Validation(errors));
    };
    if to <= from {
        return Err(ApiError::invalid(
            "to",
            "invalid_range",
            "must be after from",
        ));
    }
    if to.duration_since(from) > jiff::SignedDuration::from_hours(MAX_QUERY_DAYS * 24) {
        return Err(ApiError::invalid(
            "to",
            "range_too_long",
            "the range may span at most 62 days",
        ));
    }
    let duration = jiff::SignedDuration::from_mins(i64::from(gig.terms.duration_minutes));
    // Drafts can be previewed by their members; archived gigs offer nothing.
    let bookable = gig.status == GigStatus::Published
        || (gig.status == GigStatus::Draft && gig.is_member(user.id()));
    let starts = if bookable {
        gigs::gig_slots(&state, &gig, from, to).await?
    } else {
        Vec::new()
    };
    let slots = starts
        .into_iter()
        .map(|start| SlotView {
            start: rfc3339_in(start, &zone),
            end: rfc3339_in(start + duration, &zone),
        })
        .collect();
    Ok(axum::Json(SlotList {
        gig_id: gig.id.to_string(),
        time_zone: zone_name,
        slots,
    }))
}

/// An instant as RFC 3339 with the offset `zone` has at that instant.
fn rfc3339_in(instant: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    instant
        .display_with_offset(zone.to_offset(instant))
        .to_string()
}
