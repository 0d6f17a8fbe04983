//! The store contract: one set of cases, run against every adapter.
//!
//! Each case is an `async fn(&Store)`; the `contract!` macro turns every case into one
//! `#[tokio::test]` per adapter (`sqlite::<case>`, `mongo::<case>`). SQLite runs always, each
//! test on a fresh temporary directory. MongoDB runs on demand (`--run-ignored`/`--ignored`)
//! against `MONGO_URI`, each test in a fresh database `noillin_contract_<uuid>` that is dropped
//! afterwards. Timestamps are built at millisecond precision, the precision both adapters keep.
//!
//! Races that must hold across processes are `async fn(&[Store])` cases, registered with
//! `contract_two_handles!`: each gets two handles opened separately on the same store (the same
//! SQLite file, the same MongoDB database), as two processes have.

// Test code throughout (the cases are plain async fns, so clippy's allow-unwrap-in-tests does
// not see them as tests): an unwrap is an assertion here.
#![allow(clippy::unwrap_used)]

mod accounts;
mod availability;
mod booking_reads;
mod bookings;
mod chat;
mod gigs;
mod ledger;
mod mails;
mod notifications;
mod outbox;
mod payments;
mod races;
mod reviews;
mod sessions;
mod sqlite_only;
mod support;

use support::*;

// ---------------------------------------------------------------------------------------------
// Instantiation per adapter
// ---------------------------------------------------------------------------------------------

/// A store on a fresh temporary directory, deleted when dropped.
struct SqliteFixture {
    store: Store,
    dir: tempfile::TempDir,
}

impl SqliteFixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite(dir.path()).await;
        Self { store, dir }
    }

    /// Another handle on the same file, with its own connections.
    async fn second_handle(&self) -> Store {
        open_sqlite(self.dir.path()).await
    }
}

async fn open_sqlite(data_dir: &Path) -> Store {
    let store = noillin_store::open(&StoreConfig::Embedded {
        data_dir: data_dir.to_owned(),
    })
    .await
    .unwrap();
    assert_eq!(store.adapter(), "sqlite");
    store
}

/// A store on a fresh database of the MongoDB at `MONGO_URI`.
struct MongoFixture {
    store: Store,
    uri: String,
    database: String,
}

impl MongoFixture {
    async fn new() -> Self {
        let uri = std::env::var("MONGO_URI")
            .expect("MONGO_URI must point at a MongoDB to run the MongoDB contract tests");
        // The adapter prefers the URI's own database; each test needs its own.
        let uri = without_default_database(&uri);
        let database = format!("noillin_contract_{}", uuid::Uuid::new_v4().simple());
        let store = noillin_store::open(&StoreConfig::Mongo {
            uri: uri.clone(),
            database: database.clone(),
        })
        .await
        .unwrap();
        assert_eq!(store.adapter(), "mongodb");
        Self {
            store,
            uri,
            database,
        }
    }

    /// Another handle on the same database, with its own client.
    async fn second_handle(&self) -> Store {
        noillin_store::open(&StoreConfig::Mongo {
            uri: self.uri.clone(),
            database: self.database.clone(),
        })
        .await
        .unwrap()
    }

    /// Best effort: a failure here leaves a database behind, it fails no test.
    async fn drop_database(self) {
        match mongodb::Client::with_uri_str(&self.uri).await {
            Ok(client) => {
                if let Err(e) = client.database(&self.database).drop().await {
                    eprintln!("could not drop {}: {e}", self.database);
                }
            }
            Err(e) => eprintln!("could not drop {}: {e}", self.database),
        }
    }

    /// Runs a case, then drops the database whether the case passed or panicked.
    async fn run<F: Future<Output = ()>>(self, case: impl FnOnce(Store) -> F) {
        let outcome = AssertUnwindSafe(case(self.store.clone()))
            .catch_unwind()
            .await;
        self.drop_database().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// `mongodb://u:p@h1,h2/app?x=y` → `mongodb://u:p@h1,h2/?x=y&authSource=app`: the database is
/// dropped from the path, and kept as the authentication database if the URI relied on it.
fn without_default_database(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let (hosts, database) = location.split_once('/').unwrap_or((location, ""));
    let mut options: Vec<String> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    let has_credentials = hosts.contains('@');
    let has_auth_source = options
        .iter()
        .any(|o| o.to_ascii_lowercase().starts_with("authsource="));
    if !database.is_empty() && has_credentials && !has_auth_source {
        options.push(format!("authSource={database}"));
    }
    if options.is_empty() {
        format!("{scheme}://{hosts}/")
    } else {
        format!("{scheme}://{hosts}/?{}", options.join("&"))
    }
}

#[test]
fn the_test_uri_loses_its_default_database_but_not_its_auth_source() {
    assert_eq!(
        without_default_database("mongodb://localhost:27017"),
        "mongodb://localhost:27017/"
    );
    assert_eq!(
        without_default_database("mongodb://localhost:27017/app?replicaSet=rs0"),
        "mongodb://localhost:27017/?replicaSet=rs0"
    );
    assert_eq!(
        without_default_database("mongodb+srv://u:p@cluster.example/app"),
        "mongodb+srv://u:p@cluster.example/?authSource=app"
    );
    assert_eq!(
        without_default_database("mongodb://u:p@h1,h2/app?authSource=admin&w=1"),
        "mongodb://u:p@h1,h2/?authSource=admin&w=1"
    );
}

macro_rules! contract {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = super::SqliteFixture::new().await;
                    super::$module::$case(&fixture.store).await;
                }
            )*
        }

        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs MONGO_URI; scripts/test runs ignored tests when it is set"]
                async fn $case() {
                    super::MongoFixture::new()
                        .await
                        .run(|store| async move { super::$module::$case(&store).await })
                        .await;
                }
            )*
        }
    };
}

/// Like `contract!`, for cases that take two handles on one store (`sqlite_two_handles::<case>`,
/// `mongo_two_handles::<case>`).
macro_rules! contract_two_handles {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite_two_handles {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = super::SqliteFixture::new().await;
                    let second = fixture.second_handle().await;
                    super::$module::$case(&[fixture.store.clone(), second]).await;
                }
            )*
        }

        mod mongo_two_handles {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "needs MONGO_URI; scripts/test runs ignored tests when it is set"]
                async fn $case() {
                    let fixture = super::MongoFixture::new().await;
                    let second = fixture.second_handle().await;
                    fixture
                        .run(|store| async move { super::$module::$case(&[store, second]).await })
                        .await;
                }
            )*
        }
    };
}

contract! {
    accounts::a_user_is_found_by_id_and_by_email,
    accounts::email_lookup_is_exact_on_the_normalized_address,
    accounts::unknown_users_and_profiles_are_not_found,
    accounts::a_duplicate_email_is_a_typed_conflict,
    accounts::a_user_without_a_profile_has_neither_profile,
    accounts::timestamps_are_kept_to_the_millisecond,
    accounts::set_status_bumps_the_token_version_by_exactly_one,
    accounts::a_status_change_ends_sessions_and_stores_its_audit_entry_and_messages_together,
    accounts::a_status_change_from_a_stale_read_writes_nothing,
    accounts::an_administrator_is_created_with_its_audit_entry_or_not_at_all,
    accounts::the_audit_log_pages_newest_first,
    sessions::completing_a_reset_sets_the_password_ends_sessions_and_stores_its_messages,
    sessions::a_refused_reset_completion_writes_nothing,
    sessions::a_reset_request_works_only_with_its_last_minted_token,
    sessions::a_reset_request_has_no_working_token_until_one_is_minted,
    accounts::changing_an_unknown_user_is_not_found,
    accounts::any_suspended_tells_whether_one_of_the_users_is_suspended,
    accounts::an_influencer_profile_round_trips_with_every_field,
    accounts::a_brand_profile_round_trips_with_every_field,
    accounts::updating_an_influencer_profile_replaces_it,
    accounts::updating_a_brand_profile_replaces_it,
    accounts::updating_a_missing_profile_is_not_found,
    accounts::a_profiles_name_is_its_accounts_name_stored_once,
    accounts::influencer_ids_page_through_influencers_only_in_id_order,
    sessions::an_inserted_refresh_token_is_live_until_it_expires,
    sessions::a_rotated_token_replayed_is_reuse_and_revokes_the_family,
    sessions::a_rotated_token_keeps_the_presented_family_and_user,
    sessions::an_expired_refresh_token_is_invalid,
    sessions::an_unknown_refresh_token_is_invalid,
    sessions::a_revoked_refresh_token_is_invalid,
    sessions::revoking_a_family_ends_only_that_family,
    sessions::revoking_a_user_ends_every_family_of_that_user_only,
    sessions::a_password_reset_token_is_single_use,
    sessions::an_expired_password_reset_token_is_refused,
    sessions::looking_up_a_reset_token_uses_nothing_up,
    races::the_store_answers_ping_and_names_its_adapter,
    races::concurrent_inserts_with_one_email_have_exactly_one_winner,
    races::concurrent_rotations_of_one_token_have_exactly_one_winner,
    races::concurrent_completions_of_one_reset_token_have_exactly_one_winner,
    races::concurrent_status_changes_from_one_read_have_exactly_one_winner,
    gigs::a_group_gig_round_trips_with_every_field,
    gigs::a_gig_update_is_a_compare_and_swap_on_the_version,
    gigs::concurrent_gig_updates_from_one_read_have_exactly_one_winner,
    gigs::a_members_gigs_are_the_owned_and_joined_ones_in_id_order,
    gigs::paging_through_a_members_gigs_returns_each_once,
    gigs::only_published_gigs_are_listed_as_published,
    gigs::published_gigs_leave_the_listing_while_their_owner_or_a_member_is_suspended,
    availability::availability_never_set_is_empty,
    availability::setting_weekly_windows_keeps_the_overrides,
    availability::removing_an_override_twice_is_not_found_the_second_time,
    availability::availability_of_several_users_is_each_users_own,
    availability::overrides_come_back_in_date_order_with_midnight_ends,
    availability::concurrent_overrides_of_one_user_are_all_kept,
    outbox::a_gig_change_and_its_messages_are_stored_together,
    outbox::a_refused_state_change_stores_no_message,
    outbox::a_message_that_cannot_be_stored_undoes_its_state_change,
    outbox::a_password_reset_and_its_mail_job_are_stored_together,
    outbox::appended_messages_are_claimed_oldest_first_up_to_the_limit,
    outbox::a_claimed_message_is_held_until_its_lease_ends,
    outbox::only_the_holding_claim_completes_or_releases_a_message,
    outbox::a_refused_message_waits_its_own_delay_while_others_are_claimed,
    outbox::a_message_refused_max_attempts_times_is_parked_and_never_claimed,
    outbox::parked_messages_are_listed_and_a_retried_one_is_claimed_again,
    outbox::concurrent_claimers_take_each_message_exactly_once,
    outbox::concurrent_gig_updates_with_messages_store_only_the_winners,
    notifications::a_notification_is_stored_once_per_id,
    notifications::booking_and_message_notifications_keep_what_they_are_about,
    notifications::a_users_notifications_are_listed_newest_first_in_pages,
    notifications::the_unread_filter_and_count_follow_reads,
    notifications::marking_another_users_notification_read_is_not_found,
    notifications::marking_read_twice_keeps_the_first_read_time,
    notifications::marking_all_read_counts_and_touches_only_that_user,
    notifications::a_push_is_taken_once_until_it_is_given_back,
    notifications::racing_deliveries_take_a_push_exactly_once,
    mails::a_mail_is_recorded_once_per_id,
    mails::concurrent_inserts_of_one_mail_all_return_the_one_record,
    mails::recording_attempts_counts_them_and_sets_status_and_error,
    mails::a_mail_is_held_by_one_attempt_at_a_time_until_recorded_or_expired,
    mails::racing_attempts_take_a_mail_once,
    bookings::a_group_booking_round_trips_with_every_field,
    bookings::an_overlap_with_any_members_live_booking_is_refused_counting_buffers,
    bookings::lapsed_cancelled_and_expired_bookings_do_not_block_confirmed_ones_always_do,
    bookings::the_hold_limit_counts_only_the_brands_live_unpaid_holds,
    bookings::the_daily_cap_counts_only_the_gigs_live_bookings_starting_that_day,
    bookings::refusals_come_in_the_documented_order,
    bookings::a_created_booking_stores_its_messages_and_a_refused_one_none,
    booking_reads::a_booking_update_is_a_compare_and_swap_on_the_version,
    booking_reads::bookings_are_listed_newest_first_to_their_parties,
    booking_reads::paging_through_bookings_returns_each_once_newest_first,
    booking_reads::busy_spans_and_live_starts_are_those_of_live_bookings_in_range,
    payments::an_event_is_recorded_once_with_its_message,
    payments::a_lapsed_booking_is_reclaimed_while_its_slot_is_free,
    payments::a_lapsed_booking_whose_slot_went_to_another_is_not_reclaimed,
    payments::lapsed_unpaid_holds_are_listed_oldest_first,
    bookings::due_bookings_are_found_once_due_by_id_until_nothing_is_due,
    ledger::postings_take_their_accounts_next_place_and_running_balance,
    ledger::a_settlement_posts_fee_and_earnings_pending_until_their_payout_date,
    ledger::a_payout_beyond_the_available_balance_writes_nothing,
    ledger::a_stale_or_missing_booking_change_writes_no_posting,
    reviews::a_review_counts_in_every_members_rating_once,
    reviews::a_reply_is_a_compare_and_swap_on_the_reviews_version,
    reviews::an_influencers_reviews_page_newest_first,
    reviews::a_profile_update_keeps_the_rating_reviews_made,
    accounts::a_payout_account_is_set_once_and_only_for_an_influencer,
    chat::a_conversation_is_opened_once_per_subject,
    chat::a_users_conversations_page_newest_activity_first,
    chat::messages_are_numbered_in_order_with_the_conversations_last_message,
    chat::a_retried_send_is_stored_once_and_writes_no_outbox,
    chat::a_send_to_a_missing_conversation_is_not_found_and_writes_nothing,
    chat::history_pages_are_ascending_at_every_edge,
    chat::a_read_mark_is_capped_never_moves_back_and_is_a_partys_own,
}

contract_two_handles! {
    booking_reads::racing_overlapping_creations_have_exactly_one_winner,
    booking_reads::racing_disjoint_creations_all_succeed,
    payments::racing_deliveries_of_one_event_record_it_once,
    ledger::racing_payouts_of_the_whole_balance_have_exactly_one_winner,
    chat::racing_opens_of_one_subject_store_one_conversation,
    chat::racing_sends_get_distinct_consecutive_numbers,
}
