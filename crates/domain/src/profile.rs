//! Influencer and brand profiles and their validation.

use serde::{Deserialize, Serialize};

use crate::{UserId, ValidationErrors, validation::is_invisible};

/// Where an influencer publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SocialPlatform {
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

/// The largest follower count an account may claim: more than there are people, far below
/// `i64::MAX`, so every count fits the API's and the stores' signed 64-bit integers.
pub const MAX_FOLLOWERS: u64 = 10_000_000_000;

/// One account of an influencer on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialAccount {
    pub platform: SocialPlatform,
    pub handle: String,
    /// At most [`MAX_FOLLOWERS`].
    pub followers: u64,
}

/// What brands see of an influencer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfluencerProfile {
    pub user_id: UserId,
    /// The account's name: the store keeps it once, as the user's `display_name`.
    pub display_name: String,
    pub bio: String,
    pub niches: Vec<String>,
    /// BCP 47 language tags, e.g. `en`, `pt-BR`.
    pub languages: Vec<String>,
    pub location: Option<String>,
    /// IANA time zone in which the influencer's availability is written.
    pub time_zone: String,
    pub social_accounts: Vec<SocialAccount>,
    /// Average review rating (1–5), once there are reviews.
    pub rating: Option<f64>,
    pub review_count: u32,
}

impl InfluencerProfile {
    /// A fresh profile for a newly registered influencer.
    pub fn new(user_id: UserId, display_name: String) -> Self {
        Self {
            user_id,
            display_name,
            bio: String::new(),
            niches: Vec::new(),
            languages: Vec::new(),
            location: None,
            time_zone: "UTC".to_owned(),
            social_accounts: Vec::new(),
            rating: None,
            review_count: 0,
        }
    }

    /// Checks every owner-editable field.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        errors.text("display_name", &self.display_name, 1, 80);
        errors.text("bio", &self.bio, 0, 2000);
        tags(&mut errors, "niches", &self.niches, 10, 40);
        if self.languages.len() > 10 {
            errors.add("languages", "too_many", "at most 10 languages");
        }
        for (i, language) in self.languages.iter().enumerate() {
            if !is_language_tag(language) {
                errors.add(
                    format!("languages[{i}]"),
                    "invalid_language",
                    "must be a language tag such as en or pt-BR",
                );
            }
        }
        if let Some(location) = &self.location {
            errors.text("location", location, 1, 120);
        }
        if !is_time_zone(&self.time_zone) {
            errors.add(
                "time_zone",
                "invalid_time_zone",
                "must be an IANA time zone such as Europe/Lisbon",
            );
        }
        if self.social_accounts.len() > 20 {
            errors.add("social_accounts", "too_many", "at most 20 accounts");
        }
        for (i, account) in self.social_accounts.iter().enumerate() {
            let handle = account.handle.trim().trim_start_matches('@');
            if handle.is_empty()
                || handle.len() > 100
                || handle
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
            {
                errors.add(
                    format!("social_accounts[{i}].handle"),
                    "invalid_handle",
                    "must be 1-100 characters without spaces",
                );
            }
            if account.followers > MAX_FOLLOWERS {
                errors.add(
                    format!("social_accounts[{i}].followers"),
                    "too_large",
                    format!("must be at most {MAX_FOLLOWERS}"),
                );
            }
        }
        errors.into_result(())
    }
}

/// Changes an influencer makes to its profile: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfluencerProfileChanges {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub niches: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    /// A blank location clears it.
    pub location: Option<String>,
    pub time_zone: Option<String>,
    pub social_accounts: Option<Vec<SocialAccount>>,
}

impl InfluencerProfile {
    /// This profile with `changes` applied (the name, niches and location trimmed), or every
    /// field error at once; `self` is left as it was either way.
    pub fn apply(&self, changes: InfluencerProfileChanges) -> Result<Self, ValidationErrors> {
        let mut next = self.clone();
        if let Some(v) = changes.display_name {
            next.display_name = v.trim().to_owned();
        }
        if let Some(v) = changes.bio {
            next.bio = v;
        }
        if let Some(v) = changes.niches {
            next.niches = v.into_iter().map(|n| n.trim().to_owned()).collect();
        }
        if let Some(v) = changes.languages {
            next.languages = v;
        }
        if let Some(v) = changes.location {
            next.location = non_blank(v);
        }
        if let Some(v) = changes.time_zone {
            next.time_zone = v;
        }
        if let Some(v) = changes.social_accounts {
            next.social_accounts = v;
        }
        next.validate()?;
        Ok(next)
    }
}

/// Changes a brand makes to its profile: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandProfileChanges {
    pub company_name: Option<String>,
    pub industry: Option<String>,
    /// A blank website clears it.
    pub website: Option<String>,
    /// A blank contact name clears it.
    pub contact_name: Option<String>,
}

/// `value` trimmed, or nothing when that leaves it empty.
fn non_blank(value: String) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// What influencers see of a brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandProfile {
    pub user_id: UserId,
    /// The account's name: the store keeps it once, as the user's `display_name`.
    pub company_name: String,
    pub industry: String,
    pub website: Option<String>,
    pub contact_name: Option<String>,
}

impl BrandProfile {
    pub fn new(user_id: UserId, company_name: String) -> Self {
        Self {
            user_id,
            company_name,
            industry: String::new(),
            website: None,
            contact_name: None,
        }
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        errors.text("company_name", &self.company_name, 1, 120);
        errors.text("industry", &self.industry, 0, 80);
        if let Some(website) = &self.website
            && !is_web_url(website)
        {
            errors.add("website", "invalid_url", "must be an http(s) URL");
        }
        if let Some(contact) = &self.contact_name {
            errors.text("contact_name", contact, 1, 120);
        }
        errors.into_result(())
    }
}

impl BrandProfile {
    /// This profile with `changes` applied (every field trimmed), or every field error at
    /// once; `self` is left as it was either way.
    pub fn apply(&self, changes: BrandProfileChanges) -> Result<Self, ValidationErrors> {
        let mut next = self.clone();
        if let Some(v) = changes.company_name {
            next.company_name = v.trim().to_owned();
        }
        if let Some(v) = changes.industry {
            next.industry = v.trim().to_owned();
        }
        if let Some(v) = changes.website {
            next.website = non_blank(v);
        }
        if let Some(v) = changes.contact_name {
            next.contact_name = non_blank(v);
        }
        next.validate()?;
        Ok(next)
    }
}

fn tags(
    errors: &mut ValidationErrors,
    field: &str,
    values: &[String],
    max_count: usize,
    max_len: usize,
) {
    if values.len() > max_count {
        errors.add(field, "too_many", format!("at most {max_count} entries"));
    }
    for (i, value) in values.iter().enumerate() {
        errors.text(&format!("{field}[{i}]"), value, 1, max_len);
    }
}

/// Whether `name` is a time zone in the bundled IANA database.
pub fn is_time_zone(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && jiff::tz::TimeZone::get(name).is_ok()
}

/// A simple BCP 47 shape check: a 2–3 letter language, optional subtags of 2–8 alphanumerics.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    language_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// An absolute http(s) URL with a host. We never fetch it; it is shown as a link.
fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            url.len() <= 300
                && host.contains('.')
                && !host.contains('@')
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn influencer() -> InfluencerProfile {
        InfluencerProfile::new(UserId::generate(), "Ana".into())
    }

    fn codes(result: Result<(), ValidationErrors>) -> Vec<(String, &'static str)> {
        result
            .err()
            .map(|e| e.0.into_iter().map(|f| (f.field, f.code)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_influencer_update_changes_only_the_given_fields_trimmed() {
        let mut before = influencer();
        before.bio = "Travel".into();
        before.location = Some("Lisbon".into());

        let after = before
            .apply(InfluencerProfileChanges {
                display_name: Some("  Ana Silva ".into()),
                niches: Some(vec![" travel ".into(), "food".into()]),
                location: Some("   ".into()),
                ..Default::default()
            })
            .unwrap();

        assert_eq!(after.display_name, "Ana Silva");
        assert_eq!(after.niches, vec!["travel".to_owned(), "food".to_owned()]);
        assert_eq!(after.location, None, "a blank location clears it");
        assert_eq!(after.bio, "Travel", "absent fields stay");
        assert_eq!(after.time_zone, before.time_zone);
    }

    #[test]
    fn an_invalid_influencer_update_lists_every_field() {
        let before = influencer();

        let refused = before.apply(InfluencerProfileChanges {
            display_name: Some("   ".into()),
            time_zone: Some("Mars/Olympus".into()),
            ..Default::default()
        });

        let fields: Vec<String> = refused
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec!["display_name".to_owned(), "time_zone".to_owned()]
        );
    }

    #[test]
    fn a_brand_update_trims_its_fields_and_blank_optional_ones_clear() {
        let mut before = BrandProfile::new(UserId::generate(), "Acme".into());
        before.website = Some("https://acme.example".into());
        before.contact_name = Some("Rui".into());

        let after = before
            .apply(BrandProfileChanges {
                company_name: Some(" Acme Lda ".into()),
                industry: Some(" Food ".into()),
                website: Some("".into()),
                contact_name: None,
            })
            .unwrap();

        assert_eq!(after.company_name, "Acme Lda");
        assert_eq!(after.industry, "Food");
        assert_eq!(after.website, None);
        assert_eq!(after.contact_name.as_deref(), Some("Rui"));
    }

    #[test]
    fn an_invalid_brand_update_is_refused_with_its_fields() {
        let before = BrandProfile::new(UserId::generate(), "Acme".into());

        let refused = before.apply(BrandProfileChanges {
            company_name: Some("".into()),
            website: Some("ftp://acme.example".into()),
            ..Default::default()
        });

        let fields: Vec<String> = refused
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec!["company_name".to_owned(), "website".to_owned()]
        );
    }

    #[test]
    fn a_fresh_profile_is_valid() {
        assert_eq!(codes(influencer().validate()), vec![]);
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        let mut profile = influencer();
        for zone in [
            "Europe/Lisbon",
            "America/Sao_Paulo",
            "Pacific/Kiritimati",
            "UTC",
        ] {
            profile.time_zone = zone.into();
            assert_eq!(codes(profile.validate()), vec![], "{zone}");
        }
        for zone in ["", "Mars/Olympus", "GMT+25", "../../etc/passwd"] {
            profile.time_zone = zone.into();
            assert_eq!(
                codes(profile.validate()),
                vec![("time_zone".to_owned(), "invalid_time_zone")],
                "{zone}"
            );
        }
    }

    #[test]
    fn each_bad_field_is_reported_with_its_path() {
        let mut profile = influencer();
        profile.display_name = "  ".into();
        profile.languages = vec!["en".into(), "english!".into()];
        profile.social_accounts = vec![
            SocialAccount {
                platform: SocialPlatform::Instagram,
                handle: "@ana".into(),
                followers: 10,
            },
            SocialAccount {
                platform: SocialPlatform::Tiktok,
                handle: "a b".into(),
                followers: 1,
            },
        ];
        assert_eq!(
            codes(profile.validate()),
            vec![
                ("display_name".to_owned(), "required"),
                ("languages[1]".to_owned(), "invalid_language"),
                ("social_accounts[1].handle".to_owned(), "invalid_handle"),
            ]
        );
    }

    #[test]
    fn follower_counts_are_bounded_well_inside_a_signed_64_bit_integer() {
        let mut profile = influencer();
        let account = |followers| SocialAccount {
            platform: SocialPlatform::Youtube,
            handle: "ana".into(),
            followers,
        };
        profile.social_accounts = vec![account(0), account(MAX_FOLLOWERS)];
        assert_eq!(codes(profile.validate()), vec![]);
        for too_many in [MAX_FOLLOWERS + 1, i64::MAX as u64 + 1, u64::MAX] {
            profile.social_accounts = vec![account(10), account(too_many)];
            assert_eq!(
                codes(profile.validate()),
                vec![("social_accounts[1].followers".to_owned(), "too_large")],
                "{too_many}"
            );
        }
    }

    #[test]
    fn names_with_bidi_overrides_or_only_invisible_characters_are_refused() {
        let mut profile = influencer();
        profile.display_name = "\u{202E}anA".into();
        profile.location = Some("\u{200B}\u{FEFF}".into());
        profile.niches = vec!["\u{2066}travel\u{2069}".into()];
        profile.social_accounts = vec![SocialAccount {
            platform: SocialPlatform::Instagram,
            handle: "ana\u{200B}".into(),
            followers: 1,
        }];
        assert_eq!(
            codes(profile.validate()),
            vec![
                ("display_name".to_owned(), "invalid_characters"),
                ("niches[0]".to_owned(), "invalid_characters"),
                ("location".to_owned(), "invisible_only"),
                ("social_accounts[0].handle".to_owned(), "invalid_handle"),
            ]
        );

        let mut brand = BrandProfile::new(UserId::generate(), "\u{2060}".into());
        brand.contact_name = Some("Ana \u{202B}Silva".into());
        assert_eq!(
            codes(brand.validate()),
            vec![
                ("company_name".to_owned(), "invisible_only"),
                ("contact_name".to_owned(), "invalid_characters"),
            ]
        );
    }

    #[test]
    fn names_in_right_to_left_scripts_and_with_emoji_are_accepted() {
        let mut profile = influencer();
        profile.display_name = "ليلى 👩\u{200D}🍳".into();
        profile.bio = "שלום! Cooking 🧑\u{200D}🤝\u{200D}🧑".into();
        profile.location = Some("القاهرة".into());
        assert_eq!(codes(profile.validate()), vec![]);
        let brand = BrandProfile::new(UserId::generate(), "شركة النور".into());
        assert_eq!(codes(brand.validate()), vec![]);
    }

    #[test]
    fn brand_websites_must_be_http_urls() {
        let mut brand = BrandProfile::new(UserId::generate(), "Acme".into());
        brand.website = Some("https://acme.example/about".into());
        assert_eq!(codes(brand.validate()), vec![]);
        for bad in [
            "javascript:alert(1)",
            "ftp://acme.example",
            "https://localhost",
            "https://user@acme.example",
        ] {
            brand.website = Some(bad.into());
            assert_eq!(
                codes(brand.validate()),
                vec![("website".to_owned(), "invalid_url")],
                "{bad}"
            );
        }
    }
}
