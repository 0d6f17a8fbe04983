//! The tantivy schema of each index and the mapping from documents to tantivy documents.
//!
//! Every tantivy document is either live or a tombstone (`live` = 0, nothing but id, version and
//! tiebreak). The whole search document is kept as JSON in `source`, so hits are read back in
//! one piece. Prices are stored as keys `currency << 40 | amount`, so one range over a key
//! field is "priced in this currency, between these amounts".

use tantivy::{
    Index, TantivyDocument, Term,
    schema::{
        FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
        TextFieldIndexing, TextOptions,
    },
    tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer},
};

use crate::{
    SearchError,
    documents::{GigDocument, InfluencerDocument, tiebreak},
};

/// The name under which the folding analyzer is registered on every index.
pub(super) const ANALYZER: &str = "noillin_folded";
/// Amounts up to 2^40 minor units (eleven billion in a two-decimal currency) fit below the
/// currency in a price key.
const AMOUNT_BITS: u32 = 40;

/// Words split on non-alphanumerics, lowercased and ASCII-folded (`Café` → `cafe`), as in
/// Meilisearch; words over 40 bytes are dropped.
pub(super) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The fields of one index; the kind-specific ones exist only in their index's schema.
#[derive(Clone)]
pub(super) struct Fields {
    pub schema: Schema,
    pub id: Field,
    pub version: Field,
    pub live: Field,
    pub tiebreak: Field,
    pub source: Field,
    /// The name (influencer display name, gig title): matches here rank higher.
    pub name: Field,
    /// Every searchable text, the name included.
    pub text: Field,
    pub platform: Field,
    pub niche: Field,
    pub language: Field,
    pub category: Field,
    pub location: Field,
    pub followers: Field,
    pub rating: Field,
    /// Influencers: the cheapest gig per currency; gigs: the price.
    pub price_min_key: Field,
    /// Influencers: the dearest gig per currency; gigs: the price.
    pub price_max_key: Field,
    pub group: Field,
}

impl Fields {
    /// The schema of both indexes: each leaves the other's fields empty, so one struct serves
    /// both.
    pub fn new() -> Self {
        let mut builder = Schema::builder();
        let text_options = |record: IndexRecordOption| {
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(ANALYZER)
                    .set_index_option(record),
            )
        };
        let facet = FacetOptions::default();
        let id = builder.add_text_field("id", STRING);
        let version = builder.add_u64_field("version", FAST);
        let live = builder.add_u64_field("live", INDEXED | FAST);
        let tiebreak = builder.add_u64_field("tiebreak", FAST);
        let source = builder.add_bytes_field("source", STORED);
        let name = builder.add_text_field("name", text_options(IndexRecordOption::WithFreqs));
        let text = builder.add_text_field("text", text_options(IndexRecordOption::WithFreqs));
        let platform = builder.add_facet_field("platform", facet.clone());
        let niche = builder.add_facet_field("niche", facet.clone());
        let language = builder.add_facet_field("language", facet.clone());
        let category = builder.add_facet_field("category", facet);
        let location = builder.add_text_field("location", STRING);
        let followers = builder.add_u64_field("followers", FAST);
        let rating = builder.add_f64_field("rating", FAST);
        let price_min_key = builder.add_u64_field("price_min_key", FAST);
        let price_max_key = builder.add_u64_field("price_max_key", FAST);
        let group = builder.add_u64_field("group", INDEXED);
        Fields {
            schema: builder.build(),
            id,
            version,
            live,
            tiebreak,
            source,
            name,
            text,
            platform,
            niche,
            language,
            category,
            location,
            followers,
            rating,
            price_min_key,
            price_max_key,
            group,
        }
    }

    /// Registers the analyzer the text fields name; needed on every opened index.
    pub fn register_analyzer(index: &Index) {
        index.tokenizers().register(ANALYZER, analyzer());
    }

    /// The term that finds every version of the document `id`.
    pub fn id_term(&self, id: &str) -> Term {
        Term::from_field_text(self.id, id)
    }

    /// The tombstone of `id` at `version`.
    pub fn tombstone(&self, id: &str, version: u64) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_text(self.id, id);
        doc.add_u64(self.version, version);
        doc.add_u64(self.live, 0);
        doc.add_u64(self.tiebreak, tiebreak(id));
        doc
    }

    /// The live tantivy document of a normalized influencer document.
    pub fn influencer(
        &self,
        document: &InfluencerDocument,
    ) -> Result<TantivyDocument, SearchError> {
        let mut doc = self.live_base(&document.id, document.version, document)?;
        doc.add_text(self.name, &document.display_name);
        for text in [&document.display_name, &document.bio, &document.location] {
            doc.add_text(self.text, text);
        }
        for niche in &document.niches {
            doc.add_text(self.text, niche);
            doc.add_facet(self.niche, Facet::from_path([niche]));
        }
        for language in &document.languages {
            doc.add_facet(self.language, Facet::from_path([language]));
        }
        for platform in &document.platforms {
            doc.add_facet(self.platform, Facet::from_path([&platform.platform]));
        }
        doc.add_text(self.location, document.location_keyword());
        doc.add_u64(self.followers, document.total_followers);
        doc.add_f64(self.rating, document.rating.average);
        for range in &document.price_ranges {
            doc.add_u64(self.price_min_key, price_key(&range.currency, range.min)?);
            doc.add_u64(self.price_max_key, price_key(&range.currency, range.max)?);
        }
        Ok(doc)
    }

    /// The live tantivy document of a normalized gig document.
    pub fn gig(&self, document: &GigDocument) -> Result<TantivyDocument, SearchError> {
        let mut doc = self.live_base(&document.id, document.version, document)?;
        doc.add_text(self.name, &document.title);
        for text in [
            &document.title,
            &document.owner_name,
            &document.category,
            &document.description,
        ] {
            doc.add_text(self.text, text);
        }
        doc.add_facet(self.platform, Facet::from_path([&document.platform]));
        doc.add_facet(self.category, Facet::from_path([&document.category]));
        doc.add_f64(self.rating, document.rating.average);
        let key = price_key(&document.price.currency, document.price.amount)?;
        doc.add_u64(self.price_min_key, key);
        doc.add_u64(self.price_max_key, key);
        doc.add_u64(self.group, u64::from(document.group));
        Ok(doc)
    }

    fn live_base(
        &self,
        id: &str,
        version: u64,
        source: &impl serde::Serialize,
    ) -> Result<TantivyDocument, SearchError> {
        let json = serde_json::to_vec(source)
            .map_err(|e| SearchError::InvalidDocument(format!("{id}: {e}")))?;
        let mut doc = TantivyDocument::new();
        doc.add_text(self.id, id);
        doc.add_u64(self.version, version);
        doc.add_u64(self.live, 1);
        doc.add_u64(self.tiebreak, tiebreak(id));
        doc.add_bytes(self.source, &json);
        Ok(doc)
    }
}

/// The number of a normalized (three uppercase letters) currency code, in base 26.
fn currency_number(currency: &str) -> Option<u64> {
    let bytes = currency.as_bytes();
    (bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase))
        .then(|| bytes.iter().fold(0, |n, b| n * 26 + u64::from(b - b'A')))
}

/// `currency << 40 | amount`; `InvalidDocument` for an amount of 2^40 or more.
pub(super) fn price_key(currency: &str, amount: u64) -> Result<u64, SearchError> {
    let number = currency_number(currency)
        .ok_or_else(|| SearchError::InvalidDocument(format!("bad currency {currency}")))?;
    if amount >= 1 << AMOUNT_BITS {
        return Err(SearchError::InvalidDocument(format!(
            "price {amount} too large"
        )));
    }
    Ok(number << AMOUNT_BITS | amount)
}

/// The keys of `currency` with amounts in `min..=max` (saturated to what a key can hold).
pub(super) fn price_key_range(currency: &str, min: u64, max: u64) -> Option<(u64, u64)> {
    let base = currency_number(currency)? << AMOUNT_BITS;
    let cap = (1 << AMOUNT_BITS) - 1;
    Some((base | min.min(cap), base | max.min(cap)))
}

/// The currency number and the amount of a price key.
pub(super) fn split_price_key(key: u64) -> (u64, u64) {
    (key >> AMOUNT_BITS, key & ((1 << AMOUNT_BITS) - 1))
}

/// The number of a normalized currency, to compare with [`split_price_key`]'s first part.
pub(super) fn currency_of(currency: &str) -> Option<u64> {
    currency_number(currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_keys_order_by_currency_then_amount() {
        let eur_low = price_key("EUR", 5).unwrap();
        let eur_high = price_key("EUR", 1_000_000).unwrap();
        let usd_low = price_key("USD", 0).unwrap();
        assert!(eur_low < eur_high && eur_high < usd_low);
        assert_eq!(
            split_price_key(eur_high),
            (currency_of("EUR").unwrap(), 1_000_000)
        );
        assert!(price_key("EUR", 1 << 40).is_err());
        let (from, to) = price_key_range("EUR", 0, u64::MAX).unwrap();
        assert!(from <= eur_low && eur_high <= to && to < usd_low);
    }
}
