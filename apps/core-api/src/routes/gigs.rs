//! `/gigs`: influencers offer gigs (alone or as a group); everyone signed in reads published
//! ones and their bookable slots.

use axum::{extract::State, http::StatusCode};
use jiff::{Timestamp, tz::TimeZone};
use noillin_domain::{
    UserId,
    gig::{self, Gig, GigDraft, GigStatus, GigTerms, MemberState, Money},
    payment::CancellationPolicy,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery, AuthUser, Influencer, PathId, RequestId, WithRole},
    gigs::{self, GigError, GigSlots, Listing, SlotsRequest},
    paging::Page,
    routes::{
        ProblemDoc,
        problems::{Authenticated, Conflict, InvalidQuery, JsonBody, ObjectInPath, RoleRequired},
        views::Platform,
    },
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
    /// Integer minor units (cents; yen for JPY), 1 to 100,000,000.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub amount_minor: i64,
    /// A supported ISO 4217 code, e.g. `EUR`.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
}

impl From<MoneyDto> for Money {
    fn from(m: MoneyDto) -> Self {
        Money {
            amount_minor: m.amount_minor,
            currency: m.currency,
        }
    }
}

impl From<&Money> for MoneyDto {
    fn from(m: &Money) -> Self {
        MoneyDto {
            amount_minor: m.amount_minor,
            currency: m.currency.clone(),
        }
    }
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

/// What a brand that cancels a paid booking gets back, by the notice it gives (an influencer
/// or an administrator who cancels always gives everything back). Defaults: everything at 72
/// hours or more before the start, 50% at 24 hours or more, nothing later. Partial refunds
/// round up, in the brand's favour.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancellationDto {
    /// Cancelled at least this many hours before the start: everything back.
    #[schema(minimum = 0, maximum = 8784)]
    pub full_refund_hours: u32,
    /// Cancelled later, but at least this many hours before the start:
    /// `partial_refund_percent` back. Not more than `full_refund_hours`.
    #[schema(minimum = 0, maximum = 8784)]
    pub partial_refund_hours: u32,
    #[schema(minimum = 0, maximum = 100)]
    pub partial_refund_percent: u8,
}

impl From<CancellationDto> for CancellationPolicy {
    fn from(c: CancellationDto) -> Self {
        CancellationPolicy {
            full_refund_hours: c.full_refund_hours,
            partial_refund_hours: c.partial_refund_hours,
            partial_refund_percent: c.partial_refund_percent,
        }
    }
}

impl From<CancellationPolicy> for CancellationDto {
    fn from(c: CancellationPolicy) -> Self {
        CancellationDto {
            full_refund_hours: c.full_refund_hours,
            partial_refund_hours: c.partial_refund_hours,
            partial_refund_percent: c.partial_refund_percent,
        }
    }
}

/// Where a gig is in its life.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GigState {
    Draft,
    Published,
    Archived,
}

impl From<GigStatus> for GigState {
    fn from(status: GigStatus) -> Self {
        match status {
            GigStatus::Draft => Self::Draft,
            GigStatus::Published => Self::Published,
            GigStatus::Archived => Self::Archived,
        }
    }
}

/// A member's answer to the invitation (the owner has always accepted).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Invitation {
    Invited,
    Accepted,
    Declined,
}

impl From<MemberState> for Invitation {
    fn from(state: MemberState) -> Self {
        match state {
            MemberState::Invited => Self::Invited,
            MemberState::Accepted => Self::Accepted,
            MemberState::Declined => Self::Declined,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    /// Basis points of the payout (100 = 1%).
    pub share_bps: u32,
    pub state: Invitation,
}

/// A gig.
#[derive(Debug, Serialize, ToSchema)]
pub struct GigView {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub description: String,
    pub deliverables: Vec<String>,
    pub platform: Platform,
    pub category: String,
    pub price: MoneyDto,
    pub terms: TermsDto,
    pub cancellation: CancellationDto,
    pub status: GigState,
    /// The owner first; more than one member makes a group gig.
    pub members: Vec<MemberView>,
    /// Changes with every update.
    pub version: u64,
}

impl From<&Gig> for GigView {
    fn from(g: &Gig) -> Self {
        Self {
            id: g.id.to_string(),
            owner_id: g.owner_id.to_string(),
            title: g.title.clone(),
            description: g.description.clone(),
            deliverables: g.deliverables.clone(),
            platform: g.platform.into(),
            category: g.category.clone(),
            price: MoneyDto::from(&g.price),
            terms: g.terms.into(),
            cancellation: g.cancellation.into(),
            status: g.status.into(),
            members: g
                .members
                .iter()
                .map(|m| MemberView {
                    user_id: m.user_id.to_string(),
                    share_bps: m.share_bps,
                    state: m.state.into(),
                })
                .collect(),
            version: g.version,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGig {
    /// 3 to 120 characters.
    #[schema(min_length = 3, max_length = 120)]
    pub title: String,
    /// Up to 5000 characters.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    /// Up to 20 items of 1 to 200 characters.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub deliverables: Vec<String>,
    pub platform: Platform,
    /// 1 to 60 characters.
    #[schema(min_length = 1, max_length = 60)]
    pub category: String,
    pub price: MoneyDto,
    pub terms: TermsDto,
    /// The refund policy for brands that cancel after paying (default: see the schema).
    pub cancellation: Option<CancellationDto>,
}

/// Creates a draft gig owned by the signed-in influencer.
#[utoipa::path(post, path = "/gigs", tag = "gigs", security(("bearer" = [])), request_body = NewGig,
    responses((status = 201, description = "The new draft", body = GigView), RoleRequired, JsonBody))]
async fn create_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    ApiJson(body): ApiJson<NewGig>,
) -> ApiResult<(StatusCode, axum::Json<GigView>)> {
    let gig = gigs::create(&state, user.id(), body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(GigView::from(&gig))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: the gigs you own or are invited to (any status). Otherwise published gigs.
    #[serde(default)]
    pub mine: bool,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    #[param(max_length = 64)]
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
    responses((status = 200, description = "One page of gigs, newest first", body = GigPage), Authenticated, InvalidQuery))]
async fn list_gigs(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<GigPage>> {
    let page = Page::read(query.limit, "after", query.after)?;
    let listing = if query.mine {
        Listing::Mine
    } else {
        Listing::Published
    };
    let listed = gigs::list(&state, user.id(), listing, page).await?;
    Ok(axum::Json(GigPage {
        items: listed.gigs.iter().map(GigView::from).collect(),
        next_after: listed.next_after.map(|id| id.to_string()),
    }))
}

/// A gig: published ones for anyone signed in, drafts for their owner and members only.
#[utoipa::path(get, path = "/gigs/{id}", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")),
    responses((status = 200, description = "The gig", body = GigView), Authenticated, ObjectInPath))]
async fn get_gig(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::visible(&state, &id, user.id()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GigUpdate {
    /// 3 to 120 characters.
    #[schema(min_length = 3, max_length = 120)]
    pub title: Option<String>,
    /// Up to 5000 characters.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Up to 20 items of 1 to 200 characters.
    #[schema(max_items = 20)]
    pub deliverables: Option<Vec<String>>,
    pub platform: Option<Platform>,
    /// 1 to 60 characters.
    #[schema(min_length = 1, max_length = 60)]
    pub category: Option<String>,
    pub price: Option<MoneyDto>,
    pub terms: Option<TermsDto>,
    /// Applies to bookings made from now on; existing ones keep theirs.
    pub cancellation: Option<CancellationDto>,
}

/// Changes the owner's gig (not once archived). Bookings keep the price they were made at.
#[utoipa::path(patch, path = "/gigs/{id}", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")), request_body = GigUpdate,
    responses((status = 200, description = "The gig as changed", body = GigView), RoleRequired, JsonBody, ObjectInPath, Conflict))]
async fn update_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    PathId(id): PathId,
    request: RequestId,
    ApiJson(update): ApiJson<GigUpdate>,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::update(&state, &id, user.id(), update.into(), request.0.as_deref()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

/// Publishes a draft: valid, and every member accepted.
#[utoipa::path(post, path = "/gigs/{id}/publish", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")),
    responses((status = 200, description = "The published gig", body = GigView), RoleRequired, ObjectInPath, Conflict,
        (status = 422, description = "Not a draft, invalid, or not every member accepted (listed in `errors`)", body = ProblemDoc, content_type = "application/problem+json")))]
async fn publish_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    PathId(id): PathId,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::publish(&state, &id, user.id(), request.0.as_deref()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

/// Archives a gig: it is no longer offered.
#[utoipa::path(post, path = "/gigs/{id}/archive", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")),
    responses((status = 200, description = "The gig as changed", body = GigView), RoleRequired, ObjectInPath, Conflict))]
async fn archive_gig(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    PathId(id): PathId,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::archive(&state, &id, user.id(), request.0.as_deref()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitedMember {
    /// An active influencer's user id.
    pub user_id: String,
    /// Basis points of the payout (100 = 1%), more than 0.
    #[schema(minimum = 1)]
    pub share_bps: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    /// The owner's own share, in basis points, more than 0.
    #[schema(minimum = 1)]
    pub owner_share_bps: u32,
    /// The other members (at most 9); everyone's shares must sum to 10000.
    #[schema(max_items = 9)]
    pub members: Vec<InvitedMember>,
}

/// Makes a draft a group gig: sets who is invited with which payout share. Every member must
/// accept before the gig can be published.
#[utoipa::path(put, path = "/gigs/{id}/members", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")), request_body = MembersRequest,
    responses((status = 200, description = "The gig with its new members, all invited anew", body = GigView), RoleRequired, JsonBody, ObjectInPath, Conflict))]
async fn set_members(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    PathId(id): PathId,
    request: RequestId,
    ApiJson(body): ApiJson<MembersRequest>,
) -> ApiResult<axum::Json<GigView>> {
    let invited = body
        .members
        .into_iter()
        .map(|m| (UserId::from_string(m.user_id), m.share_bps))
        .collect();
    let gig = gigs::set_members(
        &state,
        &id,
        user.id(),
        body.owner_share_bps,
        invited,
        request.0.as_deref(),
    )
    .await?;
    Ok(axum::Json(GigView::from(&gig)))
}

/// Accepts your invitation to a group gig.
#[utoipa::path(post, path = "/gigs/{id}/membership/accept", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")),
    responses((status = 200, description = "The gig as changed", body = GigView), RoleRequired, ObjectInPath, Conflict))]
async fn accept_invitation(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    PathId(id): PathId,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::answer_invitation(&state, &id, user.id(), true, request.0.as_deref()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

/// Declines your invitation to a group gig.
#[utoipa::path(post, path = "/gigs/{id}/membership/decline", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id")),
    responses((status = 200, description = "The gig as changed", body = GigView), RoleRequired, ObjectInPath, Conflict))]
async fn decline_invitation(
    State(state): State<AppState>,
    WithRole(user, _): WithRole<Influencer>,
    PathId(id): PathId,
    request: RequestId,
) -> ApiResult<axum::Json<GigView>> {
    let gig = gigs::answer_invitation(&state, &id, user.id(), false, request.0.as_deref()).await?;
    Ok(axum::Json(GigView::from(&gig)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// RFC 3339 instant, inclusive.
    #[param(format = DateTime, example = "2026-06-01T00:00:00Z")]
    pub from: String,
    /// RFC 3339 instant, exclusive; after `from`, at most 62 days later.
    #[param(format = DateTime, example = "2026-06-08T00:00:00Z")]
    pub to: String,
    /// IANA zone to present the slots in (default UTC).
    #[param(example = "Europe/Lisbon")]
    pub tz: Option<String>,
}

impl From<SlotsQuery> for SlotsRequest {
    fn from(q: SlotsQuery) -> Self {
        SlotsRequest {
            from: q.from,
            to: q.to,
            time_zone: q.tz,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    /// RFC 3339 with the offset of the requested zone.
    #[schema(format = DateTime)]
    pub start: String,
    #[schema(format = DateTime)]
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotList {
    pub gig_id: String,
    pub time_zone: String,
    pub slots: Vec<SlotView>,
}

/// The instants the gig can be booked at within `[from, to)`, presented in `tz`.
#[utoipa::path(get, path = "/gigs/{id}/slots", tag = "gigs", security(("bearer" = [])), params(("id" = String, Path, max_length = 64, description = "The gig's id"), SlotsQuery),
    responses((status = 200, description = "The bookable slots, earliest first", body = SlotList), Authenticated, ObjectInPath, InvalidQuery))]
async fn gig_slots(
    State(state): State<AppState>,
    user: AuthUser,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<SlotsQuery>,
) -> ApiResult<axum::Json<SlotList>> {
    let GigSlots {
        gig,
        zone_name,
        zone,
        slots,
    } = gigs::slots(&state, &id, user.id(), query.into()).await?;
    Ok(axum::Json(SlotList {
        gig_id: gig.id.to_string(),
        time_zone: zone_name,
        slots: slots
            .into_iter()
            .map(|(start, end)| SlotView {
                start: rfc3339_in(start, &zone),
                end: rfc3339_in(end, &zone),
            })
            .collect(),
    }))
}

/// An instant as RFC 3339 with the offset `zone` has at that instant.
fn rfc3339_in(instant: Timestamp, zone: &TimeZone) -> String {
    instant
        .display_with_offset(zone.to_offset(instant))
        .to_string()
}

impl From<NewGig> for GigDraft {
    fn from(body: NewGig) -> Self {
        GigDraft {
            title: body.title,
            description: body.description,
            deliverables: body.deliverables,
            platform: body.platform.into(),
            category: body.category,
            price: body.price.into(),
            terms: body.terms.into(),
            cancellation: body.cancellation.map(Into::into).unwrap_or_default(),
        }
    }
}

impl From<GigUpdate> for gig::GigUpdate {
    fn from(body: GigUpdate) -> Self {
        gig::GigUpdate {
            title: body.title,
            description: body.description,
            deliverables: body.deliverables,
            platform: body.platform.map(Into::into),
            category: body.category,
            price: body.price.map(Into::into),
            terms: body.terms.map(Into::into),
            cancellation: body.cancellation.map(Into::into),
        }
    }
}

impl From<GigError> for ApiError {
    fn from(e: GigError) -> Self {
        match e {
            GigError::NotFound => ApiError::NotFound,
            GigError::Stale => ApiError::Conflict(
                "concurrent-change",
                "the gig changed meanwhile; read it again".into(),
            ),
            GigError::Archived => {
                ApiError::Conflict("archived", "archived gigs cannot change".into())
            }
            GigError::AlreadyArchived => {
                ApiError::Conflict("already-archived", "the gig is archived".into())
            }
            GigError::MembersLocked => ApiError::Conflict(
                "not-a-draft",
                "members can change only while the gig is a draft".into(),
            ),
            GigError::InvitationClosed => {
                ApiError::Conflict("not-a-draft", "the gig is no longer a draft".into())
            }
            GigError::Invalid(errors) => ApiError::Validation(errors),
            GigError::Corrupt(reason) => ApiError::Internal(anyhow::anyhow!(reason)),
            GigError::Store(e) => e.into(),
            GigError::Outbox(e) => ApiError::Internal(e),
        }
    }
}
