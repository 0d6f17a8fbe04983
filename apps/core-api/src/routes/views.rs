//! Response bodies: what clients see of stored objects. Never a password hash, never a secret.

use noillin_domain::{
    BrandProfile, InfluencerProfile, Role, SocialAccount, SocialPlatform, User, UserStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    Brand,
    Influencer,
    Admin,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        match role {
            Role::Brand => Self::Brand,
            Role::Influencer => Self::Influencer,
            Role::Admin => Self::Admin,
        }
    }
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Suspended,
}

impl From<UserStatus> for AccountStatus {
    fn from(status: UserStatus) -> Self {
        match status {
            UserStatus::Active => Self::Active,
            UserStatus::Suspended => Self::Suspended,
        }
    }
}

/// Where an influencer publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Instagram,
    Tiktok,
    Youtube,
    Twitch,
    X,
    Linkedin,
    Facebook,
    Pinterest,
    Snapchat,
}

impl From<SocialPlatform> for Platform {
    fn from(platform: SocialPlatform) -> Self {
        match platform {
            SocialPlatform::Instagram => Self::Instagram,
            SocialPlatform::Tiktok => Self::Tiktok,
            SocialPlatform::Youtube => Self::Youtube,
            SocialPlatform::Twitch => Self::Twitch,
            SocialPlatform::X => Self::X,
            SocialPlatform::Linkedin => Self::Linkedin,
            SocialPlatform::Facebook => Self::Facebook,
            SocialPlatform::Pinterest => Self::Pinterest,
            SocialPlatform::Snapchat => Self::Snapchat,
        }
    }
}

impl From<Platform> for SocialPlatform {
    fn from(platform: Platform) -> Self {
        match platform {
            Platform::Instagram => Self::Instagram,
            Platform::Tiktok => Self::Tiktok,
            Platform::Youtube => Self::Youtube,
            Platform::Twitch => Self::Twitch,
            Platform::X => Self::X,
            Platform::Linkedin => Self::Linkedin,
            Platform::Facebook => Self::Facebook,
            Platform::Pinterest => Self::Pinterest,
            Platform::Snapchat => Self::Snapchat,
        }
    }
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: RoleView,
    pub status: AccountStatus,
    pub display_name: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            role: user.role.into(),
            status: user.status.into(),
            display_name: user.display_name.clone(),
            created_at: user.created_at.to_string(),
        }
    }
}

/// One social account.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialAccountView {
    pub platform: Platform,
    /// 1 to 100 characters after trimming blanks and a leading `@`.
    #[schema(min_length = 1, max_length = 100)]
    pub handle: String,
    /// At most 10,000,000,000 (`MAX_FOLLOWERS` of the domain's profile rules).
    #[schema(maximum = 10_000_000_000_i64)]
    pub followers: u64,
}

impl From<&SocialAccount> for SocialAccountView {
    fn from(a: &SocialAccount) -> Self {
        Self {
            platform: a.platform.into(),
            handle: a.handle.clone(),
            followers: a.followers,
        }
    }
}

impl From<SocialAccountView> for SocialAccount {
    fn from(a: SocialAccountView) -> Self {
        Self {
            platform: a.platform.into(),
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
