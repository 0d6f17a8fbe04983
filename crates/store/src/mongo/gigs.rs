//! Gigs in MongoDB: one document per gig in `gigs` (`_id` = gig id), members embedded. Indexed
//! for keyset paging in `_id` order by owner (`owner_id, _id`), by member (`members.user_id,
//! _id`, multikey) and by status (`status, _id`).
//!
//! An update is one `replaceOne` filtered on `{_id, version: v - 1}`: the server applies it to
//! one document atomically, so of several updates from the same read exactly one matches. With
//! outbox messages, the insert or replace and the messages form one transaction
//! ([`MongoStore::write_with_outbox`]); a replace that matches nothing writes no message.
//!
//! `created_at`/`updated_at` are kept as RFC 3339 strings (the domain's serde form) rather than
//! BSON dates: they are never queried, and this keeps their full precision, as SQLite does.

use async_trait::async_trait;
use jiff::Timestamp;
use mongodb::{
    Collection,
    bson::{Document, doc},
};
use noillin_domain::{
    SocialPlatform, UserId, UserStatus,
    gig::{Gig, GigId, GigMember, GigStatus, GigTerms, MemberState, Money},
    payment::CancellationPolicy,
};
use serde::{Deserialize, Serialize};

use super::{MongoStore, collect, corrupt, index, unavailable};
use crate::{GigRepository, OutboxMessage, PageRequest, StoreError};

/// Creates the indexes of `gigs`.
pub(super) async fn create_indexes(gigs: &Collection<GigDoc>) -> Result<(), StoreError> {
    gigs.create_indexes([
        index(doc! { "owner_id": 1, "_id": 1 }, "gigs_owner_id", |_| {}),
        index(
            doc! { "members.user_id": 1, "_id": 1 },
            "gigs_members_user_id",
            |_| {},
        ),
        index(doc! { "status": 1, "_id": 1 }, "gigs_status", |_| {}),
    ])
    .await
    .map_err(unavailable)?;
    Ok(())
}

/// A document of `gigs`. BSON has no unsigned integers: counts are `i64` here and checked on
/// the way back.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct GigDoc {
    #[serde(rename = "_id")]
    id: String,
    owner_id: String,
    title: String,
    description: String,
    deliverables: Vec<String>,
    platform: SocialPlatform,
    category: String,
    price: Money,
    terms: TermsDoc,
    /// The domain's serde form: small unsigned numbers, which BSON stores as signed integers.
    #[serde(default)]
    cancellation: CancellationPolicy,
    status: GigStatus,
    members: Vec<MemberDoc>,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
struct TermsDoc {
    duration_minutes: i64,
    interval_minutes: Option<i64>,
    buffer_before_minutes: i64,
    buffer_after_minutes: i64,
    min_notice_minutes: i64,
    horizon_days: i64,
    max_per_day: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MemberDoc {
    user_id: String,
    share_bps: i64,
    state: MemberState,
}

/// A stored `u32` field back from BSON's `i64`.
fn small(what: &str, value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|e| corrupt(what, e))
}

fn version_value(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| {
        StoreError::Unavailable(format!(
            "gig version {version} does not fit MongoDB's int64"
        ))
    })
}

impl GigDoc {
    pub(super) fn encode(gig: &Gig) -> Result<Self, StoreError> {
        let terms = &gig.terms;
        Ok(Self {
            id: gig.id.as_str().to_owned(),
            owner_id: gig.owner_id.as_str().to_owned(),
            title: gig.title.clone(),
            description: gig.description.clone(),
            deliverables: gig.deliverables.clone(),
            platform: gig.platform,
            category: gig.category.clone(),
            price: gig.price.clone(),
            terms: TermsDoc {
                duration_minutes: i64::from(terms.duration_minutes),
                interval_minutes: terms.interval_minutes.map(i64::from),
                buffer_before_minutes: i64::from(terms.buffer_before_minutes),
                buffer_after_minutes: i64::from(terms.buffer_after_minutes),
                min_notice_minutes: i64::from(terms.min_notice_minutes),
                horizon_days: i64::from(terms.horizon_days),
                max_per_day: terms.max_per_day.map(i64::from),
            },
            cancellation: gig.cancellation,
            status: gig.status,
            members: gig
                .members
                .iter()
                .map(|m| MemberDoc {
                    user_id: m.user_id.as_str().to_owned(),
                    share_bps: i64::from(m.share_bps),
                    state: m.state,
                })
                .collect(),
            version: version_value(gig.version)?,
            created_at: gig.created_at,
            updated_at: gig.updated_at,
        })
    }

    pub(super) fn into_gig(self) -> Result<Gig, StoreError> {
        let terms = self.terms;
        Ok(Gig {
            id: GigId::from_string(self.id),
            owner_id: UserId::from_string(self.owner_id),
            title: self.title,
            description: self.description,
            deliverables: self.deliverables,
            platform: self.platform,
            category: self.category,
            price: self.price,
            terms: GigTerms {
                duration_minutes: small("gig duration", terms.duration_minutes)?,
                interval_minutes: terms
                    .interval_minutes
                    .map(|m| small("gig interval", m))
                    .transpose()?,
                buffer_before_minutes: small("gig buffer", terms.buffer_before_minutes)?,
                buffer_after_minutes: small("gig buffer", terms.buffer_after_minutes)?,
                min_notice_minutes: small("gig notice", terms.min_notice_minutes)?,
                horizon_days: small("gig horizon", terms.horizon_days)?,
                max_per_day: terms
                    .max_per_day
                    .map(|m| small("gig daily cap", m))
                    .transpose()?,
            },
            cancellation: self.cancellation,
            status: self.status,
            members: self
                .members
                .into_iter()
                .map(|m| {
                    Ok(GigMember {
                        user_id: UserId::from_string(m.user_id),
                        share_bps: small("member share", m.share_bps)?,
                        state: m.state,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            version: u64::try_from(self.version).map_err(|e| corrupt("gig version", e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The filter of a page: `filter` and, after a given id, `_id > after`.
fn page_filter(mut filter: Document, page: &PageRequest) -> Document {
    if let Some(after) = &page.after {
        filter.insert("_id", doc! { "$gt": after.as_str() });
    }
    filter
}

/// The fields [`published_pipeline`] adds to each gig while filtering, removed before decoding.
const SUSPENDED_OWNER: &str = "suspended_owner";
const SUSPENDED_MEMBERS: &str = "suspended_members";

/// A page of published gigs whose owner and members are not suspended: the `status, _id` index
/// walks published gigs in `_id` order, each is joined with its suspended owner or members
/// (lookups on `users._id`; `$lookup` with both `localField` and a `pipeline` needs MongoDB 5.0),
/// and only gigs with none count towards the limit. The users' status is read by the same query,
/// so nothing kept on the gig can go stale when an account is suspended or reinstated.
fn published_pipeline(page: &PageRequest) -> Vec<Document> {
    let suspended = |local_field: &str, into: &str| {
        doc! {
            "$lookup": {
                "from": "users",
                "localField": local_field,
                "foreignField": "_id",
                "pipeline": [
                    { "$match": { "status": UserStatus::Suspended.as_str() } },
                    { "$project": { "_id": 1 } },
                ],
                "as": into,
            },
        }
    };
    vec![
        doc! { "$match": page_filter(doc! { "status": "published" }, page) },
        doc! { "$sort": { "_id": 1 } },
        suspended("owner_id", SUSPENDED_OWNER),
        suspended("members.user_id", SUSPENDED_MEMBERS),
        doc! { "$match": { SUSPENDED_OWNER: { "$size": 0 }, SUSPENDED_MEMBERS: { "$size": 0 } } },
        doc! { "$limit": i64::from(page.limit) },
        doc! { "$unset": [SUSPENDED_OWNER, SUSPENDED_MEMBERS] },
    ]
}

impl MongoStore {
    /// One page of the gigs matching `filter`, in `_id` order.
    async fn gig_page(&self, filter: Document, page: &PageRequest) -> Result<Vec<Gig>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .gigs
            .find(page_filter(filter, page))
            .sort(doc! { "_id": 1 })
            .limit(i64::from(page.limit))
            .await
            .map_err(unavailable)?;
        collect(cursor, GigDoc::into_gig).await
    }
}

#[async_trait]
impl GigRepository for MongoStore {
    async fn insert(&self, gig: &Gig, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        // A duplicate id (never expected: ids are UUIDv7) fails as `Unavailable`.
        self.insert_with_outbox(&self.gigs, &GigDoc::encode(gig)?, outbox)
            .await
    }

    async fn find(&self, id: &GigId) -> Result<Option<Gig>, StoreError> {
        self.gigs
            .find_one(doc! { "_id": id.as_str() })
            .await
            .map_err(unavailable)?
            .map(GigDoc::into_gig)
            .transpose()
    }

    async fn update(&self, gig: &Gig, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
        let document = GigDoc::encode(gig)?;
        self.replace_versioned(
            &self.gigs,
            "gig",
            gig.id.as_str(),
            gig.version,
            &document,
            outbox,
        )
        .await
    }

    async fn list_for_member(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Vec<Gig>, StoreError> {
        self.gig_page(
            doc! {
                "$or": [
                    { "owner_id": user.as_str() },
                    { "members.user_id": user.as_str() },
                ],
            },
            page,
        )
        .await
    }

    async fn list_published(&self, page: &PageRequest) -> Result<Vec<Gig>, StoreError> {
        // A limit of 0 means "no limit" to the server.
        if page.limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = self
            .gigs
            .aggregate(published_pipeline(page))
            .await
            .map_err(unavailable)?;
        collect(cursor.with_type::<GigDoc>(), GigDoc::into_gig).await
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{self, Bson};

    use super::*;

    fn gig() -> Gig {
        let owner = UserId::generate();
        let at = Timestamp::new(1_780_000_000, 123_456_789).unwrap();
        Gig {
            id: GigId::generate(),
            owner_id: owner.clone(),
            title: "Story feature".into(),
            description: "Three \"honest\" stories — no filters.".into(),
            deliverables: vec!["3 stories".into(), "1 reel".into()],
            platform: SocialPlatform::Instagram,
            category: "sportswear".into(),
            price: Money {
                amount_minor: 45_000,
                currency: "EUR".into(),
            },
            terms: GigTerms {
                duration_minutes: 60,
                interval_minutes: Some(30),
                buffer_before_minutes: 5,
                buffer_after_minutes: 15,
                min_notice_minutes: 120,
                horizon_days: 60,
                max_per_day: None,
            },
            cancellation: CancellationPolicy {
                full_refund_hours: 48,
                partial_refund_hours: 12,
                partial_refund_percent: 25,
            },
            status: GigStatus::Published,
            members: vec![
                GigMember {
                    user_id: owner,
                    share_bps: 6_000,
                    state: MemberState::Accepted,
                },
                GigMember {
                    user_id: UserId::generate(),
                    share_bps: 4_000,
                    state: MemberState::Invited,
                },
            ],
            version: 5_000_000_000,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn gig_documents_use_native_types_and_round_trip() {
        let gig = gig();
        let document = bson::to_document(&GigDoc::encode(&gig).unwrap()).unwrap();
        assert_eq!(document.get_str("_id").unwrap(), gig.id.as_str());
        assert_eq!(document.get_str("owner_id").unwrap(), gig.owner_id.as_str());
        assert_eq!(document.get_str("status").unwrap(), "published");
        assert_eq!(document.get_str("platform").unwrap(), "instagram");
        assert_eq!(document.get_i64("version").unwrap(), 5_000_000_000);
        assert_eq!(
            document.get_str("created_at").unwrap(),
            "2026-05-28T20:26:40.123456789Z"
        );
        let terms = document.get_document("terms").unwrap();
        assert_eq!(terms.get_i64("duration_minutes").unwrap(), 60);
        assert_eq!(terms.get("max_per_day"), Some(&Bson::Null));
        let members = document.get_array("members").unwrap();
        let second = members[1].as_document().unwrap();
        assert_eq!(
            second.get_str("user_id").unwrap(),
            gig.members[1].user_id.as_str()
        );
        assert_eq!(second.get_str("state").unwrap(), "invited");
        assert_eq!(second.get_i64("share_bps").unwrap(), 4_000);
        let price = document.get_document("price").unwrap();
        assert_eq!(price.get_i64("amount_minor").unwrap(), 45_000);

        let back: GigDoc = bson::from_document(document).unwrap();
        assert_eq!(back.into_gig().unwrap(), gig);
    }

    #[test]
    fn a_version_beyond_int64_is_refused_not_wrapped() {
        let mut gig = gig();
        gig.version = u64::MAX;
        assert!(matches!(
            GigDoc::encode(&gig),
            Err(StoreError::Unavailable(_))
        ));
    }

    #[test]
    fn unexpected_gig_documents_are_errors_not_panics() {
        let mut document = bson::to_document(&GigDoc::encode(&gig()).unwrap()).unwrap();
        document.insert("version", -1_i64);
        let decoded: GigDoc = bson::from_document(document.clone()).unwrap();
        assert!(matches!(decoded.into_gig(), Err(StoreError::Corrupt(_))));

        document.insert("version", 1_i64);
        let mut terms = document.get_document("terms").unwrap().clone();
        terms.insert("horizon_days", i64::from(u32::MAX) + 1);
        document.insert("terms", terms);
        let decoded: GigDoc = bson::from_document(document.clone()).unwrap();
        assert!(matches!(decoded.into_gig(), Err(StoreError::Corrupt(_))));

        document.insert("status", "deleted");
        assert!(bson::from_document::<GigDoc>(document).is_err());
    }

    #[test]
    fn the_published_listing_filters_out_suspended_members_before_it_limits() {
        let next = PageRequest {
            after: Some("abc".into()),
            limit: 10,
        };
        let pipeline = published_pipeline(&next);
        let stage = |name: &str| {
            pipeline
                .iter()
                .position(|stage| stage.contains_key(name))
                .unwrap_or_else(|| panic!("no {name} stage"))
        };
        assert_eq!(
            pipeline[0],
            doc! { "$match": { "status": "published", "_id": { "$gt": "abc" } } }
        );
        let lookups: Vec<&str> = pipeline
            .iter()
            .filter_map(|stage| stage.get_document("$lookup").ok())
            .map(|lookup| lookup.get_str("localField").unwrap())
            .collect();
        assert_eq!(lookups, ["owner_id", "members.user_id"]);
        let filter = pipeline
            .iter()
            .rposition(|stage| stage.contains_key("$match"))
            .unwrap();
        assert!(stage("$sort") < stage("$lookup") && filter < stage("$limit"));
        assert_eq!(pipeline[stage("$limit")], doc! { "$limit": 10_i64 });
    }

    #[test]
    fn pages_after_an_id_filter_on_it() {
        let first = PageRequest {
            after: None,
            limit: 10,
        };
        assert_eq!(
            page_filter(doc! { "status": "published" }, &first),
            doc! { "status": "published" }
        );
        let next = PageRequest {
            after: Some("abc".into()),
            limit: 10,
        };
        assert_eq!(
            page_filter(doc! { "status": "published" }, &next),
            doc! { "status": "published", "_id": { "$gt": "abc" } }
        );
    }
}
