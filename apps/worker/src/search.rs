//! Search sync (`search.*`): the worker keeps the search index true to the store. An event only
//! names what changed; the handler reads the current state and upserts the document, or deletes
//! it when the influencer is not an active influencer or the gig is not published with every
//! member active.
//!
//! Versions come from a clock shared by every worker ([`noillin_redis::Redis::tick`]), read
//! *before* the store. The index keeps the write with the highest version, and that write read
//! the store after every change whose event was handled before it was taken; the last change's
//! own event is handled after the change, so the write that wins has read the final state.
//! Redelivered, late and reordered events therefore converge to the newest state, across
//! several workers, without a version in the store that would span a profile, an account and
//! gigs. A reindex reads the same clock, so a write made during a reindex is never lost to it.
//!
//! Search being down fails the handler retryably: the event waits in the retry queues and the
//! write that emitted it has long succeeded.

use std::collections::BTreeMap;

use noillin_domain::{
    UserId,
    event::Event,
    gig::{Gig, GigId, GigStatus},
};
use noillin_messaging::Envelope;
use noillin_search::{
    Documents, GigDocument, IndexKind, InfluencerDocument, PlatformFollowers, Price, PriceRange,
    Rating, SearchError,
};
use noillin_store::{PageRequest, Store};

use crate::handlers::{Failure, Handlers};

/// The clock (under the namespace) that versions search documents.
const VERSION_CLOCK: &str = "search-version";
/// Gigs read per store page when collecting a user's gigs.
const GIG_PAGE: u32 = 100;
/// Records read from the store, and documents added to a reindex, at a time.
const REINDEX_PAGE: u32 = 500;

impl From<SearchError> for Failure {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Unavailable(_) | SearchError::ReindexRunning => {
                Failure::Unavailable(format!("search: {e}"))
            }
            // A document built from stored data that the index refuses would be refused again.
            SearchError::InvalidDocument(_) | SearchError::InvalidQuery(_) => {
                Failure::Corrupt(format!("search: {e}"))
            }
        }
    }
}

/// `search.influencer_changed`: the influencer's document, and every gig they are in (their
/// name, and whether they are suspended, show there too).
pub async fn influencer_changed(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::SearchInfluencerChanged { user_id } = &envelope.event else {
        return Err(Failure::Malformed("not a search.influencer_changed".into()));
    };
    let user_id = UserId::from_string(user_id.as_str());
    sync_influencer(handlers, &user_id).await?;
    for gig in gigs_of(&handlers.store, &user_id).await? {
        sync_gig(handlers, &gig.id).await?;
    }
    Ok(())
}

/// `search.gig_changed`: the gig's document, and its owner's (whose price ranges come from
/// their gigs).
pub async fn gig_changed(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::SearchGigChanged { gig_id } = &envelope.event else {
        return Err(Failure::Malformed("not a search.gig_changed".into()));
    };
    let owner = sync_gig(handlers, &GigId::from_string(gig_id.as_str())).await?;
    if let Some(owner) = owner {
        sync_influencer(handlers, &owner).await?;
    }
    Ok(())
}

/// Writes the influencer's current document, or deletes it.
pub async fn sync_influencer(handlers: &Handlers, user_id: &UserId) -> Result<(), Failure> {
    let index = handlers.search.get().await?;
    let version = handlers.redis.tick(VERSION_CLOCK).await?;
    match influencer_document(&handlers.store, user_id, version).await? {
        Some(document) => index.upsert(Documents::Influencers(&[document])).await?,
        None => {
            index
                .delete(IndexKind::Influencers, user_id.as_str(), version)
                .await?
        }
    }
    tracing::debug!(user_id = %user_id, version, "influencer search document synced");
    Ok(())
}

/// Writes the gig's current document, or deletes it; answers the gig's owner when it exists.
pub async fn sync_gig(handlers: &Handlers, gig_id: &GigId) -> Result<Option<UserId>, Failure> {
    let index = handlers.search.get().await?;
    let version = handlers.redis.tick(VERSION_CLOCK).await?;
    let gig = handlers.store.gigs.find(gig_id).await?;
    let document = match &gig {
        Some(gig) => gig_document(&handlers.store, gig, version).await?,
        None => None,
    };
    match document {
        Some(document) => index.upsert(Documents::Gigs(&[document])).await?,
        None => {
            index
                .delete(IndexKind::Gigs, gig_id.as_str(), version)
                .await?
        }
    }
    tracing::debug!(gig_id = %gig_id, version, "gig search document synced");
    Ok(gig.map(|g| g.owner_id))
}

/// The influencer's document at `version`, or `None` when they are not an active influencer.
pub async fn influencer_document(
    store: &Store,
    user_id: &UserId,
    version: u64,
) -> Result<Option<InfluencerDocument>, Failure> {
    let Some(user) = store.users.find_by_id(user_id).await? else {
        return Ok(None);
    };
    if !user.is_public_influencer() {
        return Ok(None);
    }
    let Some(profile) = store.profiles.influencer(user_id).await? else {
        return Ok(None);
    };
    let platforms: Vec<PlatformFollowers> = profile
        .social_accounts
        .iter()
        .map(|account| PlatformFollowers {
            platform: platform_name(&account.platform),
            followers: account.followers,
        })
        .collect();
    let mut offered = Vec::new();
    for gig in gigs_of(store, user_id).await? {
        if gig.owner_id == *user_id
            && gig.status == GigStatus::Published
            && !store.users.any_suspended(&gig.people()).await?
        {
            offered.push(gig);
        }
    }
    Ok(Some(InfluencerDocument {
        id: user_id.to_string(),
        display_name: profile.display_name,
        bio: profile.bio,
        niches: profile.niches,
        languages: profile.languages,
        location: profile.location.unwrap_or_default(),
        total_followers: platforms.iter().map(|p| p.followers).sum(),
        platforms,
        rating: Rating {
            average: profile.rating.unwrap_or(0.0),
            count: profile.review_count,
        },
        price_ranges: price_ranges(&offered),
        version,
    }))
}

/// The gig's document at `version`, or `None` unless it is published and every one of its
/// people is active.
pub async fn gig_document(
    store: &Store,
    gig: &Gig,
    version: u64,
) -> Result<Option<GigDocument>, Failure> {
    if gig.status != GigStatus::Published {
        return Ok(None);
    }
    let people = gig.people();
    if store.users.any_suspended(&people).await? {
        return Ok(None);
    }
    let Some(owner) = store.profiles.influencer(&gig.owner_id).await? else {
        return Ok(None);
    };
    let group = people.len() > 1;
    Ok(Some(GigDocument {
        id: gig.id.to_string(),
        owner_id: gig.owner_id.to_string(),
        owner_name: owner.display_name,
        title: gig.title.clone(),
        description: gig.description.clone(),
        platform: platform_name(&gig.platform),
        category: gig.category.clone(),
        price: Price {
            // Validated positive when the gig was written.
            amount: u64::try_from(gig.price.amount_minor).unwrap_or(0),
            currency: gig.price.currency.clone(),
        },
        group,
        member_ids: if group {
            people.iter().map(|p| p.to_string()).collect()
        } else {
            Vec::new()
        },
        rating: Rating {
            average: owner.rating.unwrap_or(0.0),
            count: owner.review_count,
        },
        version,
    }))
}

/// Every gig `user` owns or is a member of, in any status.
pub async fn gigs_of(store: &Store, user: &UserId) -> Result<Vec<Gig>, Failure> {
    let mut gigs = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .gigs
            .list_for_member(
                user,
                &PageRequest {
                    after: after.take(),
                    limit: GIG_PAGE,
                },
            )
            .await?;
        let full = page.len() == GIG_PAGE as usize;
        after = page.last().map(|g| g.id.to_string());
        gigs.extend(page);
        if !full {
            return Ok(gigs);
        }
    }
}

/// The cheapest and dearest of `gigs` per currency.
fn price_ranges(gigs: &[Gig]) -> Vec<PriceRange> {
    let mut ranges: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for gig in gigs {
        let amount = u64::try_from(gig.price.amount_minor).unwrap_or(0);
        let range = ranges
            .entry(gig.price.currency.as_str())
            .or_insert((amount, amount));
        range.0 = range.0.min(amount);
        range.1 = range.1.max(amount);
    }
    ranges
        .into_iter()
        .map(|(currency, (min, max))| PriceRange {
            currency: currency.to_owned(),
            min,
            max,
        })
        .collect()
}

/// The platform's name as the API spells it (`instagram`).
fn platform_name(platform: &noillin_domain::SocialPlatform) -> String {
    serde_json::to_value(platform)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `search.reindex_requested`: rebuilds one index from the store beside the live one and swaps
/// it in. Every document is versioned by the shared clock like a sync, so a change synced while
/// the rebuild runs (sync writes reach the build too) is never overwritten by an older read.
/// A redelivered request rebuilds again, which is harmless.
pub async fn reindex(handlers: &Handlers, envelope: &Envelope) -> Result<(), Failure> {
    let Event::SearchReindexRequested { index } = &envelope.event else {
        return Err(Failure::Malformed("not a search.reindex_requested".into()));
    };
    let kind = IndexKind::parse(index)
        .ok_or_else(|| Failure::Malformed(format!("no search index is named {index}")))?;
    let started = std::time::Instant::now();
    let mut build = handlers.search.get().await?.begin_reindex(kind).await?;
    let mut page = PageRequest {
        after: None,
        limit: REINDEX_PAGE,
    };
    let mut indexed = 0;
    loop {
        let (next, added) = match kind {
            IndexKind::Influencers => {
                let ids = handlers.store.profiles.influencer_ids(&page).await?;
                let mut documents = Vec::with_capacity(ids.len());
                for id in &ids {
                    let version = handlers.redis.tick(VERSION_CLOCK).await?;
                    documents.extend(influencer_document(&handlers.store, id, version).await?);
                }
                build.add(Documents::Influencers(&documents)).await?;
                (ids.last().map(ToString::to_string), documents.len())
            }
            IndexKind::Gigs => {
                let gigs = handlers.store.gigs.list_published(&page).await?;
                let mut documents = Vec::with_capacity(gigs.len());
                for gig in &gigs {
                    let version = handlers.redis.tick(VERSION_CLOCK).await?;
                    documents.extend(gig_document(&handlers.store, gig, version).await?);
                }
                build.add(Documents::Gigs(&documents)).await?;
                (gigs.last().map(|g| g.id.to_string()), documents.len())
            }
        };
        indexed += added;
        match next {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    build.finish().await?;
    tracing::info!(
        index = kind.name(),
        indexed,
        seconds = started.elapsed().as_secs_f64(),
        "search index rebuilt and swapped in"
    );
    Ok(())
}
