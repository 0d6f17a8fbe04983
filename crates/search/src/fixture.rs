//! A deterministic fixture for benchmarks and local seeding: `n` influencers and `3n` gigs of
//! the shape production documents have, the same for the same seed on every machine.

use crate::documents::{
    GigDocument, InfluencerDocument, PlatformFollowers, Price, PriceRange, Rating,
};

const FIRST_NAMES: &[&str] = &[
    "Amelia", "Bruno", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hugo", "Inès", "Jamal",
    "Kenji", "Léa", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma",
    "Victor", "Wen", "Ximena", "Yusuf", "Zoé",
];
const LAST_NAMES: &[&str] = &[
    "Martin",
    "Silva",
    "Kowalski",
    "Nguyen",
    "Okafor",
    "Schmidt",
    "Rossi",
    "García",
    "Dubois",
    "Tanaka",
    "Haddad",
    "Johansson",
    "Murphy",
    "Novak",
    "Petrov",
    "Costa",
    "Lefèvre",
    "Moreau",
];
const NICHES: &[&str] = &[
    "fashion",
    "beauty",
    "travel",
    "food",
    "fitness",
    "wellness",
    "gaming",
    "tech",
    "music",
    "photography",
    "parenting",
    "finance",
    "sustainability",
    "art",
    "comedy",
    "education",
    "sports",
    "pets",
    "home",
    "automotive",
];
const LANGUAGES: &[&str] = &["en", "fr", "de", "es", "it", "pt", "nl", "pl", "ja", "ar"];
const CITIES: &[&str] = &[
    "Paris",
    "Lyon",
    "Berlin",
    "Madrid",
    "Lisbon",
    "London",
    "Milan",
    "Amsterdam",
    "Warsaw",
    "Tokyo",
    "Dubai",
    "New York",
    "Toronto",
    "Sydney",
    "São Paulo",
    "Mexico City",
];
const PLATFORMS: &[&str] = &["instagram", "tiktok", "youtube", "twitch", "x", "pinterest"];
const CATEGORIES: &[&str] = &["reel", "video", "photo", "story", "live", "review", "ugc"];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP"];
const WORDS: &[&str] = &[
    "daily",
    "honest",
    "creative",
    "sustainable",
    "vegan",
    "outdoor",
    "budget",
    "luxury",
    "minimalist",
    "vintage",
    "healthy",
    "street",
    "cozy",
    "weekend",
    "family",
    "urban",
    "mountain",
    "coastal",
    "homemade",
    "seasonal",
    "tutorial",
    "routine",
    "challenge",
    "unboxing",
    "behind",
    "scenes",
    "journey",
    "tips",
    "guide",
    "review",
    "recipes",
    "workouts",
    "adventures",
    "collections",
    "stories",
    "moments",
    "favourites",
    "essentials",
];

/// SplitMix64: tiny, fast, and the same numbers everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The fixture: influencers `inf-<n>` and gigs `gig-<n>` (three per influencer), version 1.
pub struct Fixture {
    pub influencers: Vec<InfluencerDocument>,
    pub gigs: Vec<GigDocument>,
}

/// `count` influencers and `3 × count` gigs from `seed`.
pub fn generate(count: usize, seed: u64) -> Fixture {
    let mut rng = Rng(seed);
    let mut influencers = Vec::with_capacity(count);
    let mut gigs = Vec::with_capacity(count * 3);
    for n in 0..count {
        let id = format!("inf-{n:07}");
        let name = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
        let mut niches: Vec<String> = (0..1 + rng.below(3))
            .map(|_| rng.pick(NICHES).to_owned())
            .collect();
        niches.sort();
        niches.dedup();
        let mut platforms: Vec<PlatformFollowers> = (0..1 + rng.below(3))
            .map(|_| PlatformFollowers {
                platform: rng.pick(PLATFORMS).to_owned(),
                // Long-tailed, like real follower counts.
                followers: 1_000 + rng.next() % 10_u64.pow(3 + rng.below(4) as u32),
            })
            .collect();
        platforms.sort_by(|a, b| a.platform.cmp(&b.platform));
        platforms.dedup_by(|a, b| a.platform == b.platform);
        let currency = rng.pick(CURRENCIES);
        let rating = Rating {
            average: (rng.below(41) as f64) / 10.0 + 1.0,
            count: rng.below(300) as u32,
        };
        let niche_words = niches.join(" ");
        let mut prices = Vec::with_capacity(3);
        for g in 0..3 {
            let amount = 5_000 + rng.next() % 500_000;
            prices.push(amount);
            let platform = rng.pick(PLATFORMS);
            let category = rng.pick(CATEGORIES);
            let group = rng.below(10) == 0;
            gigs.push(GigDocument {
                id: format!("gig-{:07}", n * 3 + g),
                owner_id: id.clone(),
                owner_name: name.clone(),
                title: format!("{} {category} on {platform}", rng.sentence(2)),
                description: format!("{} {} {}", rng.sentence(6), niche_words, rng.sentence(6)),
                platform: platform.to_owned(),
                category: category.to_owned(),
                price: Price {
                    amount,
                    currency: currency.to_owned(),
                },
                group,
                member_ids: if group {
                    vec![id.clone(), format!("inf-{:07}", rng.below(count))]
                } else {
                    Vec::new()
                },
                rating,
                version: 1,
            });
        }
        influencers.push(InfluencerDocument {
            id,
            display_name: name,
            bio: format!("{} {} {}", rng.sentence(8), niche_words, rng.sentence(8)),
            languages: (0..1 + rng.below(2))
                .map(|_| rng.pick(LANGUAGES).to_owned())
                .collect(),
            location: rng.pick(CITIES).to_owned(),
            total_followers: platforms.iter().map(|p| p.followers).sum(),
            platforms,
            niches,
            rating,
            price_ranges: vec![PriceRange {
                currency: currency.to_owned(),
                min: prices.iter().copied().min().unwrap_or(0),
                max: prices.iter().copied().max().unwrap_or(0),
            }],
            version: 1,
        });
    }
    Fixture { influencers, gigs }
}

/// Words from the fixture's bios: one or two per query, every third with two letters swapped.
pub fn texts(fixture: &Fixture, count: usize) -> Vec<String> {
    let step = (fixture.influencers.len() / count).max(1);
    fixture
        .influencers
        .iter()
        .step_by(step)
        .take(count)
        .enumerate()
        .map(|(n, d)| {
            let words: Vec<&str> = d.bio.split_whitespace().filter(|w| w.len() >= 5).collect();
            let first = words
                .get(n % words.len().max(1))
                .copied()
                .unwrap_or("travel");
            let mut text = if n % 2 == 0 {
                first.to_owned()
            } else {
                format!("{first} {}", words.last().copied().unwrap_or("tips"))
            };
            if n % 3 == 0 {
                let mut chars: Vec<char> = text.chars().collect();
                chars.swap(1, 2);
                text = chars.into_iter().collect();
            }
            text
        })
        .collect()
}

/// `count` name prefixes of 3 to 5 letters, spread over the fixture's influencers: what a brand
/// types before finishing a name.
pub fn prefixes(fixture: &Fixture, count: usize) -> Vec<String> {
    fixture
        .influencers
        .iter()
        .step_by((fixture.influencers.len() / count.max(1)).max(1))
        .take(count)
        .enumerate()
        .map(|(n, d)| d.display_name.chars().take(3 + n % 3).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_fixture() {
        let (a, b) = (generate(50, 7), generate(50, 7));
        assert_eq!(a.influencers, b.influencers);
        assert_eq!(a.gigs.len(), 150);
        assert_ne!(generate(50, 8).influencers, a.influencers);
        assert!(a.influencers.iter().all(|i| i.normalized().is_ok()));
        assert!(a.gigs.iter().all(|g| g.normalized().is_ok()));
    }
}
