//! Search queries as the client wrote them (every parameter text), read into the index's query
//! with every field error at once. Lists are comma-separated (`niche=fashion,travel`).

use jiff::civil::Date;
use noillin_domain::ValidationErrors;
use noillin_search::{
    Facet, GigFilters, GigQuery, GigSort, InfluencerFilters, InfluencerQuery, InfluencerSort,
    query::{MAX_PAGE_SIZE, MAX_TEXT_LEN},
};

/// The most followers a profile can count.
const MAX_FOLLOWERS: u64 = noillin_domain::profile::MAX_FOLLOWERS;
/// The highest price a gig can ask, in minor units.
const MAX_PRICE: u64 = noillin_domain::gig::MAX_PRICE_MINOR as u64;

/// Most values in one list parameter.
const MAX_LIST_VALUES: usize = 20;
/// Longest single keyword or location.
const MAX_KEYWORD_LEN: usize = 100;

/// `GET /search/influencers` parameters, unread.
#[derive(Debug, Clone, Default)]
pub struct InfluencerSearchRequest {
    pub q: Option<String>,
    pub niche: Option<String>,
    pub platform: Option<String>,
    pub min_followers: Option<String>,
    pub max_followers: Option<String>,
    pub language: Option<String>,
    pub location: Option<String>,
    pub min_rating: Option<String>,
    pub price_min: Option<String>,
    pub price_max: Option<String>,
    pub currency: Option<String>,
    pub available_on: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
}

/// `GET /search/gigs` parameters, unread.
#[derive(Debug, Clone, Default)]
pub struct GigSearchRequest {
    pub q: Option<String>,
    pub platform: Option<String>,
    pub category: Option<String>,
    pub price_min: Option<String>,
    pub price_max: Option<String>,
    pub currency: Option<String>,
    pub group: Option<String>,
    pub available_on: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
}

impl InfluencerSearchRequest {
    /// The index query and the `available_on` day, or every field error.
    pub fn read(&self) -> Result<(InfluencerQuery, Option<Date>), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let sort = match self.sort.as_deref().unwrap_or("relevance") {
            "relevance" => InfluencerSort::Relevance,
            "followers_desc" => InfluencerSort::FollowersDesc,
            "followers_asc" => InfluencerSort::FollowersAsc,
            "rating_desc" => InfluencerSort::RatingDesc,
            "rating_asc" => InfluencerSort::RatingAsc,
            "price_asc" => InfluencerSort::PriceAsc,
            "price_desc" => InfluencerSort::PriceDesc,
            _ => {
                errors.add("sort", "invalid", "must be relevance, followers_desc, followers_asc, rating_desc, rating_asc, price_asc or price_desc");
                InfluencerSort::Relevance
            }
        };
        let min_followers = number(
            &mut errors,
            "min_followers",
            &self.min_followers,
            MAX_FOLLOWERS,
        );
        let max_followers = number(
            &mut errors,
            "max_followers",
            &self.max_followers,
            MAX_FOLLOWERS,
        );
        bounds(&mut errors, "max_followers", min_followers, max_followers);
        let min_rating = self
            .min_rating
            .as_deref()
            .and_then(|text| match text.parse::<f64>() {
                Ok(rating) if (0.0..=5.0).contains(&rating) => Some(rating),
                _ => {
                    errors.add("min_rating", "invalid", "must be a number from 0 to 5");
                    None
                }
            });
        let prices = prices(
            &mut errors,
            &self.currency,
            &self.price_min,
            &self.price_max,
            matches!(sort, InfluencerSort::PriceAsc | InfluencerSort::PriceDesc),
        );
        let query = InfluencerQuery {
            text: text(&mut errors, &self.q),
            filters: InfluencerFilters {
                niches: list(&mut errors, "niche", &self.niche),
                platforms: list(&mut errors, "platform", &self.platform),
                languages: list(&mut errors, "language", &self.language),
                location: keyword(&mut errors, "location", &self.location),
                min_followers,
                max_followers,
                min_rating,
                currency: prices.0,
                price_min: prices.1,
                price_max: prices.2,
            },
            sort,
            facets: vec![Facet::Niche, Facet::Platform, Facet::Language],
            limit: limit(&mut errors, &self.limit),
            after: cursor(&mut errors, &self.after),
        };
        let day = day(&mut errors, &self.available_on);
        errors.into_result((query, day))
    }
}

impl GigSearchRequest {
    /// The index query and the `available_on` day, or every field error.
    pub fn read(&self) -> Result<(GigQuery, Option<Date>), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let sort = match self.sort.as_deref().unwrap_or("relevance") {
            "relevance" => GigSort::Relevance,
            "rating_desc" => GigSort::RatingDesc,
            "rating_asc" => GigSort::RatingAsc,
            "price_asc" => GigSort::PriceAsc,
            "price_desc" => GigSort::PriceDesc,
            _ => {
                errors.add(
                    "sort",
                    "invalid",
                    "must be relevance, rating_desc, rating_asc, price_asc or price_desc",
                );
                GigSort::Relevance
            }
        };
        let group = match self.group.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                errors.add("group", "invalid", "must be true or false");
                None
            }
        };
        let prices = prices(
            &mut errors,
            &self.currency,
            &self.price_min,
            &self.price_max,
            matches!(sort, GigSort::PriceAsc | GigSort::PriceDesc),
        );
        let query = GigQuery {
            text: text(&mut errors, &self.q),
            filters: GigFilters {
                platforms: list(&mut errors, "platform", &self.platform),
                categories: list(&mut errors, "category", &self.category),
                currency: prices.0,
                price_min: prices.1,
                price_max: prices.2,
                group,
            },
            sort,
            facets: vec![Facet::Platform, Facet::Category],
            limit: limit(&mut errors, &self.limit),
            after: cursor(&mut errors, &self.after),
        };
        let day = day(&mut errors, &self.available_on);
        errors.into_result((query, day))
    }
}

fn text(errors: &mut ValidationErrors, q: &Option<String>) -> String {
    let text = q.as_deref().unwrap_or_default().trim();
    if text.len() > MAX_TEXT_LEN {
        errors.add("q", "too_long", format!("at most {MAX_TEXT_LEN} bytes"));
    }
    text.to_owned()
}

/// A non-negative integer parameter.
/// A whole number from 0 to `max` (the most any stored value can be, so a larger bound is a
/// mistake rather than a filter).
fn number(
    errors: &mut ValidationErrors,
    field: &str,
    value: &Option<String>,
    max: u64,
) -> Option<u64> {
    let text = value.as_deref()?;
    text.parse::<u64>().ok().filter(|n| *n <= max).or_else(|| {
        errors.add(
            field,
            "invalid",
            format!("must be an integer from 0 to {max}"),
        );
        None
    })
}

/// Refuses a maximum below its minimum, naming the maximum.
fn bounds(errors: &mut ValidationErrors, field: &str, min: Option<u64>, max: Option<u64>) {
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        errors.add(field, "invalid_range", "must not be below the minimum");
    }
}

/// The currency and the price bounds: prices compare in one currency only, so a bound or a
/// price sort needs one.
fn prices(
    errors: &mut ValidationErrors,
    currency: &Option<String>,
    min: &Option<String>,
    max: &Option<String>,
    price_sort: bool,
) -> (Option<String>, Option<u64>, Option<u64>) {
    let code = currency.as_deref().and_then(|text| {
        noillin_search::documents::currency_code(text).or_else(|| {
            errors.add(
                "currency",
                "invalid",
                "must be a three-letter ISO 4217 code",
            );
            None
        })
    });
    let min = number(errors, "price_min", min, MAX_PRICE);
    let max = number(errors, "price_max", max, MAX_PRICE);
    bounds(errors, "price_max", min, max);
    if currency.is_none() && (min.is_some() || max.is_some() || price_sort) {
        errors.add(
            "currency",
            "required",
            "prices are compared in one currency: name it with a price bound or a price sort",
        );
    }
    (code, min, max)
}

/// A comma-separated list of keywords, blanks dropped.
fn list(errors: &mut ValidationErrors, field: &str, value: &Option<String>) -> Vec<String> {
    let Some(text) = value.as_deref() else {
        return Vec::new();
    };
    let values: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect();
    if values.len() > MAX_LIST_VALUES {
        errors.add(
            field,
            "too_many",
            format!("at most {MAX_LIST_VALUES} values"),
        );
    }
    if values.iter().any(|v| v.len() > MAX_KEYWORD_LEN) {
        errors.add(
            field,
            "too_long",
            format!("each value at most {MAX_KEYWORD_LEN} bytes"),
        );
    }
    values
}

fn keyword(errors: &mut ValidationErrors, field: &str, value: &Option<String>) -> Option<String> {
    let text = value.as_deref()?.trim();
    if text.len() > MAX_KEYWORD_LEN {
        errors.add(
            field,
            "too_long",
            format!("at most {MAX_KEYWORD_LEN} bytes"),
        );
    }
    (!text.is_empty()).then(|| text.to_owned())
}

fn limit(errors: &mut ValidationErrors, value: &Option<String>) -> Option<usize> {
    let text = value.as_deref()?;
    match text.parse::<usize>() {
        Ok(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Some(limit),
        _ => {
            errors.add(
                "limit",
                "out_of_range",
                format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
            );
            None
        }
    }
}

/// The cursor is checked against the query by the index; here only that it is one.
fn cursor(errors: &mut ValidationErrors, value: &Option<String>) -> Option<String> {
    let text = value.as_deref()?;
    if noillin_search::Cursor::decode(text).is_none() {
        errors.add(
            "after",
            "invalid_cursor",
            "must be the next_after of a previous page",
        );
        return None;
    }
    Some(text.to_owned())
}

fn day(errors: &mut ValidationErrors, value: &Option<String>) -> Option<Date> {
    let text = value.as_deref()?;
    // Exactly `YYYY-MM-DD`: jiff also reads other spellings a client should not rely on.
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    match text.parse::<Date>() {
        Ok(date) if well_formed => Some(date),
        _ => {
            errors.add("available_on", "invalid_date", "must be a date, YYYY-MM-DD");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_bad_parameter_is_named_at_once() {
        let request = InfluencerSearchRequest {
            min_followers: Some("-1".into()),
            min_rating: Some("6".into()),
            price_max: Some("100".into()),
            limit: Some("101".into()),
            available_on: Some("2026-2-30".into()),
            sort: Some("loudest".into()),
            after: Some("not a cursor".into()),
            ..Default::default()
        };
        let mut named = fields(request.read().unwrap_err());
        named.sort();
        assert_eq!(
            named,
            [
                "after",
                "available_on",
                "currency",
                "limit",
                "min_followers",
                "min_rating",
                "sort"
            ]
        );
    }

    #[test]
    fn lists_are_comma_separated_and_prices_need_a_currency() {
        let request = GigSearchRequest {
            platform: Some("instagram, tiktok,,".into()),
            currency: Some("eur".into()),
            price_min: Some("100".into()),
            price_max: Some("50".into()),
            group: Some("yes".into()),
            ..Default::default()
        };
        let mut named = fields(request.read().unwrap_err());
        named.sort();
        assert_eq!(named, ["group", "price_max"]);
        let (query, day) = GigSearchRequest {
            platform: Some("instagram, tiktok,,".into()),
            currency: Some("eur".into()),
            available_on: Some("2026-03-01".into()),
            ..Default::default()
        }
        .read()
        .unwrap();
        assert_eq!(query.filters.platforms, ["instagram", "tiktok"]);
        assert_eq!(query.filters.currency.as_deref(), Some("EUR"));
        assert_eq!(day, Some(jiff::civil::date(2026, 3, 1)));
    }
}
