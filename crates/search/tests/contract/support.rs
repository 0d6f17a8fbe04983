//! The labeled fixture every case runs on (12 influencers, 12 gigs, every sort key distinct
//! where a case compares exact order) and helpers to search it.

pub use std::collections::{BTreeMap, BTreeSet};

/// What every case runs against.
pub type Search = std::sync::Arc<dyn SearchIndex>;

pub use noillin_search::{
    Documents, Facet, GigDocument, GigFilters, GigQuery, GigSort, IndexKind, InfluencerDocument,
    InfluencerFilters, InfluencerQuery, InfluencerSort, PlatformFollowers, Price, PriceRange,
    Rating, SearchError, SearchIndex, documents::tiebreak,
};

#[allow(clippy::too_many_arguments)]
fn influencer(
    id: &str,
    name: &str,
    bio: &str,
    niches: &[&str],
    languages: &[&str],
    location: &str,
    platforms: &[(&str, u64)],
    rating: f64,
    prices: &[(&str, u64, u64)],
) -> InfluencerDocument {
    InfluencerDocument {
        id: id.to_owned(),
        display_name: name.to_owned(),
        bio: bio.to_owned(),
        niches: niches.iter().map(|s| (*s).to_owned()).collect(),
        languages: languages.iter().map(|s| (*s).to_owned()).collect(),
        location: location.to_owned(),
        platforms: platforms
            .iter()
            .map(|(p, f)| PlatformFollowers {
                platform: (*p).to_owned(),
                followers: *f,
            })
            .collect(),
        total_followers: platforms.iter().map(|(_, f)| f).sum(),
        rating: Rating {
            average: rating,
            count: if rating > 0.0 { 10 } else { 0 },
        },
        price_ranges: prices
            .iter()
            .map(|(c, min, max)| PriceRange {
                currency: (*c).to_owned(),
                min: *min,
                max: *max,
            })
            .collect(),
        version: 1,
    }
}

pub fn influencers() -> Vec<InfluencerDocument> {
    vec![
        influencer(
            "i01",
            "Amelia Fashionista",
            "Sustainable fashion and thrift hauls from Lyon.",
            &["Fashion", "sustainability"],
            &["fr", "en"],
            "Lyon",
            &[("instagram", 120_000), ("tiktok", 30_000)],
            4.8,
            &[("EUR", 20_000, 80_000)],
        ),
        influencer(
            "i02",
            "Bruno Travels",
            "Backpacking travel photography across Patagonia.",
            &["travel", "photography"],
            &["es", "en"],
            "Buenos Aires",
            &[("youtube", 500_000)],
            4.2,
            &[("EUR", 50_000, 150_000), ("USD", 60_000, 160_000)],
        ),
        influencer(
            "i03",
            "Chloé Cuisine",
            "Cooking vegan recipes and café reviews.",
            &["food"],
            &["fr"],
            "Paris",
            &[("instagram", 80_000)],
            4.5,
            &[("EUR", 10_000, 30_000)],
        ),
        influencer(
            "i04",
            "Dmitri Gaming",
            "Speedruns and retro gaming streams.",
            &["gaming"],
            &["en", "ru"],
            "Berlin",
            &[("twitch", 250_000), ("youtube", 100_000)],
            3.9,
            &[("USD", 30_000, 90_000)],
        ),
        influencer(
            "i05",
            "Eva Yoga",
            "Yoga flows and mindful living for beginners.",
            &["wellness", "fitness"],
            &["en"],
            "London",
            &[("instagram", 45_000)],
            4.9,
            &[("GBP", 15_000, 40_000)],
        ),
        influencer(
            "i06",
            "Farid Fitness",
            "Strength training, calisthenics and nutrition.",
            &["fitness"],
            &["en", "ar"],
            "Dubai",
            &[("instagram", 900_000), ("tiktok", 1_200_000)],
            4.1,
            &[("USD", 200_000, 500_000)],
        ),
        influencer(
            "i07",
            "Greta Green",
            "Zero waste tips, sustainability and gardening.",
            &["sustainability"],
            &["de", "en"],
            "Berlin",
            &[("youtube", 60_000)],
            4.6,
            &[("EUR", 15_000, 25_000)],
        ),
        influencer(
            "i08",
            "Hugo Photo",
            "Street photography workshops in Lisbon.",
            &["photography"],
            &["pt", "en"],
            "Lisbon",
            &[("instagram", 30_000)],
            0.0,
            &[("EUR", 8_000, 12_000)],
        ),
        influencer(
            "i09",
            "Ines Beauty",
            "Makeup tutorials and skincare reviews.",
            &["beauty", "fashion"],
            &["es"],
            "Madrid",
            &[("tiktok", 700_000), ("instagram", 300_000)],
            4.4,
            &[("EUR", 100_000, 300_000)],
        ),
        influencer(
            "i10",
            "Jamal Tech",
            "Smartphone reviews and gadget unboxings.",
            &["tech"],
            &["en"],
            "London",
            &[("youtube", 1_500_000)],
            4.7,
            &[("GBP", 300_000, 800_000), ("USD", 350_000, 900_000)],
        ),
        influencer(
            "i11",
            "Kenji Anime",
            "Anime reviews and manga drawing.",
            &["art", "gaming"],
            &["ja", "en"],
            "Tokyo",
            &[("youtube", 220_000)],
            4.3,
            &[("USD", 40_000, 70_000)],
        ),
        influencer(
            "i12",
            "Lea Travelogue",
            "Slow travel, trains and cozy cafés in Europe.",
            &["travel"],
            &["fr", "de"],
            "Paris",
            &[("instagram", 95_000)],
            4.0,
            &[("EUR", 25_000, 45_000)],
        ),
    ]
}

#[allow(clippy::too_many_arguments)]
fn gig(
    id: &str,
    owner: &str,
    title: &str,
    description: &str,
    platform: &str,
    category: &str,
    price: (&str, u64),
    members: &[&str],
) -> GigDocument {
    let owner_doc = influencers().into_iter().find(|i| i.id == owner).unwrap();
    GigDocument {
        id: id.to_owned(),
        owner_id: owner.to_owned(),
        owner_name: owner_doc.display_name,
        title: title.to_owned(),
        description: description.to_owned(),
        platform: platform.to_owned(),
        category: category.to_owned(),
        price: Price {
            amount: price.1,
            currency: price.0.to_owned(),
        },
        group: !members.is_empty(),
        member_ids: members.iter().map(|m| (*m).to_owned()).collect(),
        rating: owner_doc.rating,
        version: 1,
    }
}

pub fn gigs() -> Vec<GigDocument> {
    vec![
        gig(
            "g01",
            "i01",
            "Instagram reel for a fashion brand",
            "A 30-second reel styling your collection.",
            "instagram",
            "reel",
            ("EUR", 30_000),
            &[],
        ),
        gig(
            "g02",
            "i01",
            "TikTok try-on haul",
            "Trying on your pieces in one video.",
            "tiktok",
            "video",
            ("EUR", 20_000),
            &[],
        ),
        gig(
            "g03",
            "i02",
            "YouTube travel vlog sponsorship",
            "Your brand inside a travel vlog episode.",
            "youtube",
            "video",
            ("EUR", 150_000),
            &[],
        ),
        gig(
            "g04",
            "i02",
            "Photography pack of ten pictures",
            "Ten edited pictures of your product outdoors.",
            "instagram",
            "photo",
            ("USD", 60_000),
            &[],
        ),
        gig(
            "g05",
            "i03",
            "Recipe video with your product",
            "A vegan recipe featuring your ingredient.",
            "instagram",
            "reel",
            ("EUR", 25_000),
            &[],
        ),
        gig(
            "g06",
            "i04",
            "Twitch stream sponsorship",
            "Two hours of retro gaming with your banner.",
            "twitch",
            "stream",
            ("USD", 90_000),
            &[],
        ),
        gig(
            "g07",
            "i05",
            "Yoga class livestream",
            "A beginner yoga session on your account.",
            "instagram",
            "live",
            ("GBP", 15_000),
            &[],
        ),
        gig(
            "g08",
            "i06",
            "Fitness challenge campaign",
            "A thirty-day training challenge with a partner.",
            "tiktok",
            "video",
            ("USD", 500_000),
            &["i06", "i05"],
        ),
        gig(
            "g09",
            "i09",
            "Skincare routine tutorial",
            "Morning skincare with your products.",
            "tiktok",
            "video",
            ("EUR", 100_000),
            &[],
        ),
        gig(
            "g10",
            "i10",
            "Smartphone unboxing review",
            "An honest unboxing and first impressions.",
            "youtube",
            "video",
            ("GBP", 300_000),
            &[],
        ),
        gig(
            "g11",
            "i12",
            "Travel duo Europe train trip",
            "Two travellers, one rail pass, your brand.",
            "instagram",
            "reel",
            ("EUR", 45_000),
            &["i12", "i02"],
        ),
        gig(
            "g12",
            "i07",
            "Gardening photo story",
            "A balcony garden story with your tools.",
            "instagram",
            "photo",
            ("EUR", 15_000),
            &[],
        ),
    ]
}

/// Loads the fixture into both indexes.
pub async fn seed(search: &dyn SearchIndex) {
    search
        .upsert(Documents::Influencers(&influencers()))
        .await
        .unwrap();
    search.upsert(Documents::Gigs(&gigs())).await.unwrap();
}

pub async fn influencer_ids(search: &dyn SearchIndex, query: InfluencerQuery) -> Vec<String> {
    let query = InfluencerQuery {
        limit: Some(50),
        ..query
    };
    let results = search.search_influencers(&query).await.unwrap();
    results.hits.into_iter().map(|h| h.id).collect()
}

pub async fn gig_ids(search: &dyn SearchIndex, query: GigQuery) -> Vec<String> {
    let query = GigQuery {
        limit: Some(50),
        ..query
    };
    let results = search.search_gigs(&query).await.unwrap();
    results.hits.into_iter().map(|h| h.id).collect()
}

pub async fn text_hits(search: &dyn SearchIndex, text: &str) -> Vec<String> {
    influencer_ids(
        search,
        InfluencerQuery {
            text: text.to_owned(),
            ..Default::default()
        },
    )
    .await
}

pub fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

pub fn as_set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

/// The fixture's influencer ids ordered by `key` (descending when asked), ties by tiebreak.
pub fn influencers_by<K: PartialOrd>(
    key: impl Fn(&InfluencerDocument) -> Option<K>,
    descending: bool,
) -> Vec<String> {
    let mut keyed: Vec<(K, u64, String)> = influencers()
        .iter()
        .filter_map(|i| key(i).map(|k| (k, tiebreak(&i.id), i.id.clone())))
        .collect();
    keyed.sort_by(|a, b| {
        let primary = a.0.partial_cmp(&b.0).unwrap();
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(a.1.cmp(&b.1))
    });
    keyed.into_iter().map(|(_, _, id)| id).collect()
}

/// The same for gigs.
pub fn gigs_by<K: PartialOrd>(
    key: impl Fn(&GigDocument) -> Option<K>,
    descending: bool,
) -> Vec<String> {
    let mut keyed: Vec<(K, u64, String)> = gigs()
        .iter()
        .filter_map(|g| key(g).map(|k| (k, tiebreak(&g.id), g.id.clone())))
        .collect();
    keyed.sort_by(|a, b| {
        let primary = a.0.partial_cmp(&b.0).unwrap();
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(a.1.cmp(&b.1))
    });
    keyed.into_iter().map(|(_, _, id)| id).collect()
}

/// Value counts of a keyword list over the documents `keep` accepts, lowercase.
pub fn count<T>(
    docs: &[T],
    keep: impl Fn(&T) -> bool,
    values: impl Fn(&T) -> Vec<String>,
) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for doc in docs.iter().filter(|d| keep(d)) {
        let distinct: BTreeSet<String> =
            values(doc).into_iter().map(|v| v.to_lowercase()).collect();
        for value in distinct {
            *counts.entry(value).or_insert(0) += 1;
        }
    }
    counts
}
