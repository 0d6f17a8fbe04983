//! Response bodies: what clients see of stored objects. Never a password hash, never a secret.

use noillin_domain::{BrandProfile, InfluencerProfile, SocialAccount, SocialPlatform, User};
use serde::Serialize;
use utoipa::ToSchema;

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    /// `brand`, `influencer` or `admin`.
    pub role: String,
    /// `active` or `suspended`.
    pub status: String,
    pub display_name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            role: user.role.as_str().to_owned(),
            status: user.status.as_str().to_owned(),
            display_name: user.display_name.clone(),
            created_at: user.created_at.to_string(),
        }
    }
}

/// One social account.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialAccountView {
    /// instagram, tiktok, youtube, twitch, x, linkedin, facebook, pinterest or snapchat.
    #[schema(value_type = String)]
    pub platform: SocialPlatform,
    pub handle: String,
    pub followers: u64,
}

impl From<&SocialAccount> for SocialAccountView {
    fn from(a: &SocialAccount) -> Self {
        Self {
            platform: a.platform,
            handle: a.handle.clone(),
            followers: a.followers,
        }
    }
}

impl From<SocialAccountView> for SocialAccount {
    fn from(a: SocialAccountView) -> Self {
        Self {
            platform: a.platform,
            handle: a.handle.trim().trim_start_matches('@').to_owned(),
            followers: a.followers,
        }
    }
}

/// An influencer's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfluencerProfileView {
    pub user_id: String,
    pub display_name: String,
    pub bio: String,
    pub niches: Vec<String>,
    pub languages: Vec<String>,
    pub location: Option<String>,
    pub time_zone: String,
    pub social_accounts: Vec<SocialAccountView>,
    pub rating: Option<f64>,
    pub review_count: u32,
}

impl From<&InfluencerProfile> for InfluencerProfileView {
    fn from(p: &InfluencerProfile) -> Self {
        Self {
            user_id: p.user_id.to_string(),
            display_name: p.display_name.clone(),
            bio: p.bio.clone(),
            niches: p.niches.clone(),
            languages: p.languages.clone(),
            location: p.location.clone(),
            time_zone: p.time_zone.clone(),
            social_accounts: p
                .social_accounts
                .iter()
                .map(SocialAccountView::from)
                .collect(),
            rating: p.rating,
            review_count: p.review_count,
        }
    }
}

/// A brand's profile (visible to the brand itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandProfileView {
    pub user_id: String,
    pub company_name: String,
    pub industry: String,
    pub website: Option<String>,
    pub contact_name: Option<String>,
}

impl From<&BrandProfile> for BrandProfileView {
    fn from(p: &BrandProfile) -> Self {
        Self {
            user_id: p.user_id.to_string(),
            company_name: p.company_name.clone(),
            industry: p.industry.clone(),
            website: p.website.clone(),
            contact_name: p.contact_name.clone(),
        }
    }
}
