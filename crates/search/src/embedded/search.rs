//! Running a checked query on one generation: the text query (every word must match, exactly,
//! within its typo budget, or as a prefix for the last one), the filters (scored zero so they
//! never change the ranking), the sort (with the per-document tiebreak), facet counts and hits.

use std::{collections::BTreeMap, ops::Bound};

use tantivy::{
    DocAddress, Score, Searcher, SegmentReader, TantivyDocument, Term,
    collector::{Count, FacetCollector, FacetCounts, TopDocs},
    query::{
        BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
        TermQuery,
    },
    schema::{Facet as TantivyFacet, Field, IndexRecordOption, Value},
};

use super::{
    engine::{Generation, unavailable},
    highlight::{QueryWord, query_words, snippet},
    schema::{Fields, analyzer, currency_of, price_key_range, split_price_key},
};
use crate::{
    SearchError,
    documents::{GigDocument, InfluencerDocument},
    query::{
        Checked, Facet, GigFilters, GigHit, GigSort, InfluencerFilters, InfluencerHit,
        InfluencerSort, SearchResults,
    },
};

/// Name matches weigh more than matches elsewhere, and typo or prefix matches less.
const NAME_BOOST: Score = 3.0;
const APPROXIMATE_BOOST: Score = 0.5;

/// How hits are ordered; every order ends with the tiebreak, ascending.
#[derive(Debug, Clone)]
enum Order {
    Relevance,
    U64 {
        field: &'static str,
        descending: bool,
    },
    F64 {
        field: &'static str,
        descending: bool,
    },
    /// The amount of the price key in `currency` (influencers have one per currency).
    Price {
        field: &'static str,
        currency: u64,
        descending: bool,
    },
}

type Clauses = Vec<(Occur, Box<dyn Query>)>;

pub(super) fn influencers(
    generation: &Generation,
    fields: &Fields,
    query: &Checked<InfluencerFilters, InfluencerSort>,
) -> Result<SearchResults<InfluencerHit>, SearchError> {
    let f = &query.filters;
    let mut clauses = Clauses::new();
    any_facet(&mut clauses, fields.niche, &f.niches);
    any_facet(&mut clauses, fields.platform, &f.platforms);
    any_facet(&mut clauses, fields.language, &f.languages);
    if let Some(location) = &f.location {
        filter(
            &mut clauses,
            Box::new(TermQuery::new(
                Term::from_field_text(fields.location, location),
                IndexRecordOption::Basic,
            )),
        );
    }
    if f.min_followers.is_some() || f.max_followers.is_some() {
        let lower = f.min_followers.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_u64(fields.followers, v))
        });
        let upper = f.max_followers.map_or(Bound::Unbounded, |v| {
            Bound::Included(Term::from_field_u64(fields.followers, v))
        });
        filter(&mut clauses, Box::new(RangeQuery::new(lower, upper)));
    }
    if let Some(min) = f.min_rating {
        filter(
            &mut clauses,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_f64(fields.rating, min)),
                Bound::Unbounded,
            )),
        );
    }
    if let Some(currency) = &f.currency {
        // Some gig may cost an amount in the bounds: cheapest <= max and dearest >= min.
        price_filter(
            &mut clauses,
            fields.price_min_key,
            currency,
            0,
            f.price_max.unwrap_or(u64::MAX),
        )?;
        price_filter(
            &mut clauses,
            fields.price_max_key,
            currency,
            f.price_min.unwrap_or(0),
            u64::MAX,
        )?;
    }
    let currency = f.currency.as_deref().and_then(currency_of).unwrap_or(0);
    let order = match query.sort {
        InfluencerSort::Relevance => Order::Relevance,
        InfluencerSort::FollowersDesc => Order::U64 {
            field: "followers",
            descending: true,
        },
        InfluencerSort::FollowersAsc => Order::U64 {
            field: "followers",
            descending: false,
        },
        InfluencerSort::RatingDesc => Order::F64 {
            field: "rating",
            descending: true,
        },
        InfluencerSort::RatingAsc => Order::F64 {
            field: "rating",
            descending: false,
        },
        InfluencerSort::PriceAsc => Order::Price {
            field: "price_min_key",
            currency,
            descending: false,
        },
        InfluencerSort::PriceDesc => Order::Price {
            field: "price_min_key",
            currency,
            descending: true,
        },
    };
    run(
        generation,
        fields,
        query,
        clauses,
        order,
        |analyzer, doc: InfluencerDocument, words| InfluencerHit {
            snippet: (!words.is_empty()).then(|| snippet(analyzer, &doc.bio, words)),
            id: doc.id,
            display_name: doc.display_name,
            niches: doc.niches,
            location: doc.location,
            platforms: doc.platforms,
            total_followers: doc.total_followers,
            rating: doc.rating,
            price_ranges: doc.price_ranges,
        },
    )
}

pub(super) fn gigs(
    generation: &Generation,
    fields: &Fields,
    query: &Checked<GigFilters, GigSort>,
) -> Result<SearchResults<GigHit>, SearchError> {
    let f = &query.filters;
    let mut clauses = Clauses::new();
    any_facet(&mut clauses, fields.platform, &f.platforms);
    any_facet(&mut clauses, fields.category, &f.categories);
    if let Some(currency) = &f.currency {
        price_filter(
            &mut clauses,
            fields.price_min_key,
            currency,
            f.price_min.unwrap_or(0),
            f.price_max.unwrap_or(u64::MAX),
        )?;
    }
    if let Some(group) = f.group {
        filter(
            &mut clauses,
            Box::new(TermQuery::new(
                Term::from_field_u64(fields.group, u64::from(group)),
                IndexRecordOption::Basic,
            )),
        );
    }
    let currency = f.currency.as_deref().and_then(currency_of).unwrap_or(0);
    let order = match query.sort {
        GigSort::Relevance => Order::Relevance,
        GigSort::RatingDesc => Order::F64 {
            field: "rating",
            descending: true,
        },
        GigSort::RatingAsc => Order::F64 {
            field: "rating",
            descending: false,
        },
        GigSort::PriceAsc => Order::Price {
            field: "price_min_key",
            currency,
            descending: false,
        },
        GigSort::PriceDesc => Order::Price {
            field: "price_min_key",
            currency,
            descending: true,
        },
    };
    run(
        generation,
        fields,
        query,
        clauses,
        order,
        |analyzer, doc: GigDocument, words| GigHit {
            snippet: (!words.is_empty()).then(|| snippet(analyzer, &doc.description, words)),
            id: doc.id,
            owner_id: doc.owner_id,
            owner_name: doc.owner_name,
            title: doc.title,
            platform: doc.platform,
            category: doc.category,
            price: doc.price,
            group: doc.group,
            rating: doc.rating,
        },
    )
}

fn filter(clauses: &mut Clauses, query: Box<dyn Query>) {
    clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(query, 0.0))));
}

fn any_facet(clauses: &mut Clauses, field: Field, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let any: Clauses = values
        .iter()
        .map(|v| {
            let term = Term::from_facet(field, &TantivyFacet::from_path([v]));
            (
                Occur::Should,
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>,
            )
        })
        .collect();
    filter(clauses, Box::new(BooleanQuery::new(any)));
}

fn price_filter(
    clauses: &mut Clauses,
    field: Field,
    currency: &str,
    min: u64,
    max: u64,
) -> Result<(), SearchError> {
    let (from, to) = price_key_range(currency, min, max)
        .ok_or_else(|| SearchError::InvalidQuery(format!("bad currency {currency}")))?;
    let range = RangeQuery::new(
        Bound::Included(Term::from_field_u64(field, from)),
        Bound::Included(Term::from_field_u64(field, to)),
    );
    filter(clauses, Box::new(range));
    Ok(())
}

/// One clause per query word, each required.
fn text_clauses(fields: &Fields, words: &[QueryWord]) -> Clauses {
    words
        .iter()
        .map(|word| {
            let exact_name = TermQuery::new(
                Term::from_field_text(fields.name, &word.text),
                IndexRecordOption::WithFreqs,
            );
            let exact = TermQuery::new(
                Term::from_field_text(fields.text, &word.text),
                IndexRecordOption::WithFreqs,
            );
            let mut any: Clauses = vec![
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact_name), NAME_BOOST)),
                ),
                (Occur::Should, Box::new(exact)),
            ];
            if word.typos > 0 || word.prefix {
                let term = Term::from_field_text(fields.text, &word.text);
                let approximate = if word.prefix {
                    FuzzyTermQuery::new_prefix(term, word.typos, true)
                } else {
                    FuzzyTermQuery::new(term, word.typos, true)
                };
                any.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(approximate), APPROXIMATE_BOOST)),
                ));
            }
            (
                Occur::Must,
                Box::new(BooleanQuery::new(any)) as Box<dyn Query>,
            )
        })
        .collect()
}

fn run<F, S, D, H>(
    generation: &Generation,
    fields: &Fields,
    query: &Checked<F, S>,
    mut clauses: Clauses,
    order: Order,
    hit: impl Fn(&mut tantivy::tokenizer::TextAnalyzer, D, &[QueryWord]) -> H,
) -> Result<SearchResults<H>, SearchError>
where
    D: serde::de::DeserializeOwned,
{
    let mut analyzer = analyzer();
    let words = query_words(&mut analyzer, &query.text);
    clauses.extend(text_clauses(fields, &words));
    let live = TermQuery::new(
        Term::from_field_u64(fields.live, 1),
        IndexRecordOption::Basic,
    );
    filter(&mut clauses, Box::new(live));
    let full = BooleanQuery::new(clauses);
    let searcher = generation.reader.searcher();
    let facet_collector = |facet: Facet| {
        query.facets.contains(&facet).then(|| {
            let mut collector = FacetCollector::for_field(facet_field_name(facet));
            collector.add_facet(TantivyFacet::root());
            collector
        })
    };
    let top = TopDocs::with_limit(query.limit.max(1))
        .and_offset(query.offset)
        .tweak_score(move |segment: &SegmentReader| {
            let keys = SortKeys::new(segment, &order);
            move |doc, score| keys.key(doc, score)
        });
    let facets = (
        facet_collector(Facet::Niche),
        facet_collector(Facet::Platform),
        facet_collector(Facet::Language),
        facet_collector(Facet::Category),
    );
    let (top, total, facets) = searcher
        .search(&full, &(top, Count, facets))
        .map_err(unavailable)?;
    let hits = if query.limit == 0 { Vec::new() } else { top };
    let mut results = Vec::with_capacity(hits.len());
    for (_, address) in hits {
        let document: D = read_source(&searcher, fields, address)?;
        results.push(hit(&mut analyzer, document, &words));
    }
    let mut counts = BTreeMap::new();
    let (niche, platform, language, category) = facets;
    for (facet, found) in [
        (Facet::Niche, niche),
        (Facet::Platform, platform),
        (Facet::Language, language),
        (Facet::Category, category),
    ] {
        if let Some(found) = found {
            counts.insert(facet, facet_counts(&found));
        }
    }
    let total = total as u64;
    Ok(SearchResults {
        next_cursor: query.next_cursor(results.len(), total),
        hits: results,
        facets: counts,
        total_estimate: total,
    })
}

fn facet_field_name(facet: Facet) -> &'static str {
    match facet {
        Facet::Niche => "niche",
        Facet::Platform => "platform",
        Facet::Language => "language",
        Facet::Category => "category",
    }
}

fn facet_counts(counts: &FacetCounts) -> BTreeMap<String, u64> {
    counts
        .get(TantivyFacet::root())
        .filter_map(|(facet, count)| {
            facet
                .to_path()
                .last()
                .map(|value| ((*value).to_owned(), count))
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

fn read_source<D: serde::de::DeserializeOwned>(
    searcher: &Searcher,
    fields: &Fields,
    address: DocAddress,
) -> Result<D, SearchError> {
    let doc: TantivyDocument = searcher.doc(address).map_err(unavailable)?;
    let bytes = doc
        .get_first(fields.source)
        .and_then(|v| v.as_bytes())
        .ok_or_else(|| SearchError::Unavailable("an indexed document has no source".to_owned()))?;
    serde_json::from_slice(bytes)
        .map_err(|e| SearchError::Unavailable(format!("an indexed document is unreadable: {e}")))
}

/// The columns one segment's sort keys are read from. Keys are `(primary, inverted tiebreak)`,
/// highest first; a missing column reads as zero (it cannot be missing: the schema is ours).
struct SortKeys {
    order: Order,
    tiebreak: Option<tantivy::columnar::Column<u64>>,
    u64s: Option<tantivy::columnar::Column<u64>>,
    f64s: Option<tantivy::columnar::Column<f64>>,
}

impl SortKeys {
    fn new(segment: &SegmentReader, order: &Order) -> Self {
        let fast = segment.fast_fields();
        let (u64s, f64s) = match order {
            Order::Relevance => (None, None),
            Order::U64 { field, .. } | Order::Price { field, .. } => (fast.u64(field).ok(), None),
            Order::F64 { field, .. } => (None, fast.f64(field).ok()),
        };
        Self {
            order: order.clone(),
            tiebreak: fast.u64("tiebreak").ok(),
            u64s,
            f64s,
        }
    }

    fn key(&self, doc: u32, score: Score) -> (u64, u64) {
        let tiebreak = self
            .tiebreak
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(0);
        let ordered =
            |value: u64, descending: bool| if descending { value } else { u64::MAX - value };
        let primary = match &self.order {
            Order::Relevance => u64::from(score.max(0.0).to_bits()),
            Order::U64 { descending, .. } => ordered(
                self.u64s.as_ref().and_then(|c| c.first(doc)).unwrap_or(0),
                *descending,
            ),
            // Non-negative floats order as their bits do.
            Order::F64 { descending, .. } => ordered(
                self.f64s
                    .as_ref()
                    .and_then(|c| c.first(doc))
                    .unwrap_or(0.0)
                    .max(0.0)
                    .to_bits(),
                *descending,
            ),
            Order::Price {
                currency,
                descending,
                ..
            } => {
                let amount = self.u64s.as_ref().and_then(|column| {
                    column
                        .values_for_doc(doc)
                        .map(split_price_key)
                        .find(|(c, _)| c == currency)
                        .map(|(_, amount)| amount)
                });
                // Documents without a price in the currency go last either way.
                amount.map_or(0, |amount| ordered(amount, *descending).max(1))
            }
        };
        (primary, u64::MAX - tiebreak)
    }
}
