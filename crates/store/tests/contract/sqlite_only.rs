//! SQLite only: what a single file shared by several processes must do, and what an undecodable row is.

// ---------------------------------------------------------------------------------------------
// SQLite only: one file shared by several processes (each `open` is its own connection, as a
// separate core-api replica or worker process would have).
// ---------------------------------------------------------------------------------------------

mod sqlite_shared_file {
    use crate::{
        gigs::single_gig, open_sqlite, outbox::drain_with_concurrent_claimers, support::*,
    };

    async fn two_stores(dir: &Path) -> (Store, Store) {
        (open_sqlite(dir).await, open_sqlite(dir).await)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_stores_on_one_directory_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;

        let (user, profile) = insert_influencer(&a, "ana@example.com").await;
        assert_eq!(
            b.users.find_by_id(&user.id).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            b.profiles.influencer(&user.id).await.unwrap(),
            Some(profile)
        );

        let suspended = set_status(&b, &user.id, UserStatus::Suspended, now())
            .await
            .unwrap();
        assert_eq!(a.users.find_by_id(&user.id).await.unwrap(), Some(suspended));

        let family_id = family();
        let token = insert_token(&a, &user.id, &family_id).await;
        let next = refresh_token(&user.id, &family_id, now());
        assert_eq!(
            rotate(&b, &token.token_hash, &next, now()).await,
            Rotation::Rotated {
                user_id: user.id.clone()
            }
        );
        assert!(is_live(&a, &next).await);
        assert_eq!(
            rotate(&a, &token.token_hash, &next, now()).await,
            Rotation::Reused {
                user_id: user.id,
                family_id
            }
        );
        assert!(!is_live(&b, &next).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_inserts_through_two_stores_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;

        for round in 0..5 {
            let address = format!("ana{round}@example.com");
            let results = concurrently(20, |i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let user = new_user(&address, Role::Influencer);
                async move {
                    let profile = NewProfile::Influencer(influencer_profile(&user.id));
                    store.users.insert(&user, &profile).await
                }
            })
            .await;

            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                1,
                "{results:?}"
            );
            let conflicts = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::UserEmail))))
                .count();
            assert_eq!(conflicts, 19, "{results:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotations_through_two_stores_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;
        let (user, _) = insert_influencer(&a, "ana@example.com").await;

        for _ in 0..5 {
            let family_id = family();
            let presented = insert_token(&a, &user.id, &family_id).await;
            let rotations = concurrently(10, |i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let presented = presented.token_hash.clone();
                let next = refresh_token(&user.id, &family_id, now());
                async move { rotate(&store, &presented, &next, now()).await }
            })
            .await;

            let rotated = rotations
                .iter()
                .filter(|r| matches!(r, Rotation::Rotated { .. }))
                .count();
            let reused = rotations
                .iter()
                .filter(|r| matches!(r, Rotation::Reused { .. }))
                .count();
            assert_eq!((rotated, reused), (1, 9), "{rotations:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_gig_updates_through_two_stores_have_exactly_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;
        let gig = single_gig(&UserId::generate());
        a.gigs.insert(&gig, &[]).await.unwrap();

        for version in 2..=4 {
            let results = concurrently(10, |i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let next = Gig {
                    title: format!("edit {i}"),
                    version,
                    ..gig.clone()
                };
                async move { store.gigs.update(&next, &[]).await }
            })
            .await;

            assert_eq!(
                results.iter().filter(|r| r.is_ok()).count(),
                1,
                "{results:?}"
            );
            let stale = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(Constraint::StaleVersion))))
                .count();
            assert_eq!(stale, 9, "{results:?}");
            let stored = b.gigs.find(&gig.id).await.unwrap().unwrap();
            assert_eq!(stored.version, version);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_claims_through_two_stores_take_each_message_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_stores(dir.path()).await;
        drain_with_concurrent_claimers(&[a, b]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_opens_of_a_fresh_directory_apply_each_migration_once() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path: PathBuf = dir.path().join("data");
            let stores = concurrently(6, |_| {
                let path = path.clone();
                async move { noillin_store::open(&StoreConfig::Embedded { data_dir: path }).await }
            })
            .await;
            for store in &stores {
                let store = store.as_ref().unwrap();
                store.ping().await.unwrap();
            }
            insert_influencer(stores[0].as_ref().unwrap(), "ana@example.com").await;

            let connection = rusqlite::Connection::open(path.join("noillin.sqlite3")).unwrap();
            let (count, max): (i64, i64) = connection
                .query_row(
                    "SELECT COUNT(*), MAX(version) FROM schema_migrations",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert!(max >= 1);
            assert_eq!(count, max, "every migration recorded once");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn accounts_keep_the_names_their_profiles_had_when_names_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        // A database as the release before kept it: the first three migrations applied, and
        // each profile with its own copy of the name, edited apart from the account's.
        {
            let connection =
                rusqlite::Connection::open(dir.path().join("noillin.sqlite3")).unwrap();
            for (version, sql) in [
                include_str!("../../src/sqlite/migrations/0001_users_sessions_resets.sql"),
                include_str!("../../src/sqlite/migrations/0002_gigs_availability.sql"),
                include_str!("../../src/sqlite/migrations/0003_outbox_notifications_mails.sql"),
            ]
            .into_iter()
            .enumerate()
            {
                connection.execute_batch(sql).unwrap();
                if version == 0 {
                    connection
                        .execute_batch(
                            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, \
                             applied_at INTEGER NOT NULL) STRICT",
                        )
                        .unwrap();
                }
                connection
                    .execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                        [i64::try_from(version + 1).unwrap()],
                    )
                    .unwrap();
            }
            connection
                .execute_batch(
                    "INSERT INTO users VALUES \
                       ('u1', 'ana@example.com', 'x', 'influencer', 'active', 0, 'Ana', 0, 0), \
                       ('u2', 'acme@example.com', 'x', 'brand', 'active', 0, 'Acme', 0, 0), \
                       ('u3', 'root@example.com', 'x', 'admin', 'active', 0, 'Root', 0, 0); \
                     INSERT INTO influencer_profiles VALUES \
                       ('u1', 'Ana Renamed', 'bio', '[]', '[]', NULL, 'UTC', '[]', NULL, 0); \
                     INSERT INTO brand_profiles VALUES \
                       ('u2', 'Acme Journeys', 'travel', NULL, NULL);",
                )
                .unwrap();
        }

        let store = open_sqlite(dir.path()).await;
        let name = |id: &str| {
            let store = store.clone();
            let id = UserId::from_string(id);
            async move {
                store
                    .users
                    .find_by_id(&id)
                    .await
                    .unwrap()
                    .unwrap()
                    .display_name
            }
        };
        assert_eq!(name("u1").await, "Ana Renamed");
        assert_eq!(name("u2").await, "Acme Journeys");
        assert_eq!(name("u3").await, "Root");
        let ana = store
            .profiles
            .influencer(&UserId::from_string("u1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (ana.display_name.as_str(), ana.bio.as_str()),
            ("Ana Renamed", "bio")
        );
        let acme = store
            .profiles
            .brand(&UserId::from_string("u2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (acme.company_name.as_str(), acme.industry.as_str()),
            ("Acme Journeys", "travel")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite(dir.path()).await;
        let (user, profile) = insert_influencer(&store, "ana@example.com").await;
        drop(store);

        let store = open_sqlite(dir.path()).await;
        assert_eq!(
            store.users.find_by_id(&user.id).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(
            store.profiles.influencer(&user.id).await.unwrap(),
            Some(profile)
        );
    }
}

/// Rows no code of ours writes, planted with rusqlite in the file the adapter reads. SQLite only:
/// planting needs raw access to the adapter's storage, which this suite has for the file but not
/// for MongoDB; the MongoDB adapter's decoding of such documents is covered by its unit tests
/// (`crates/store/src/mongo/*.rs`), which decode the same kinds of bad documents.
mod sqlite_corrupt_data {
    use crate::{
        availability::{office_hours, set_weekly},
        open_sqlite,
        support::*,
    };

    fn plant(dir: &Path, statement: &str, params: impl rusqlite::Params) {
        let connection = rusqlite::Connection::open(dir.join("noillin.sqlite3")).unwrap();
        assert_eq!(connection.execute(statement, params).unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_the_adapter_cannot_decode_are_corrupt_not_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_sqlite(dir.path()).await;
        let (wizard, _) = insert_influencer(&store, "wizard@example.com").await;
        let (timeless, _) = insert_influencer(&store, "timeless@example.com").await;
        let (scheduler, _) = insert_influencer(&store, "scheduler@example.com").await;
        set_weekly(&store, &scheduler.id, &office_hours()).await;

        plant(
            dir.path(),
            "UPDATE users SET role = 'wizard' WHERE id = ?1",
            [wizard.id.as_str()],
        );
        plant(
            dir.path(),
            "UPDATE users SET created_at = ?2 WHERE id = ?1",
            rusqlite::params![timeless.id.as_str(), i64::MAX],
        );
        plant(
            dir.path(),
            "UPDATE availability_weekly SET weekly = '{\"monday\": \"always\"}' WHERE user_id = ?1",
            [scheduler.id.as_str()],
        );

        let unknown_role = store.users.find_by_id(&wizard.id).await;
        assert!(
            matches!(&unknown_role, Err(StoreError::Corrupt(reason)) if reason.contains("wizard")),
            "{unknown_role:?}"
        );
        let bad_timestamp = store.users.find_by_id(&timeless.id).await;
        assert!(
            matches!(bad_timestamp, Err(StoreError::Corrupt(_))),
            "{bad_timestamp:?}"
        );
        let bad_json = store.availability.get(&scheduler.id).await;
        assert!(
            matches!(bad_json, Err(StoreError::Corrupt(_))),
            "{bad_json:?}"
        );
        let many = store
            .availability
            .get_many(&[wizard.id.clone(), scheduler.id.clone()])
            .await;
        assert!(matches!(many, Err(StoreError::Corrupt(_))), "{many:?}");

        // The rest of the store still answers: corruption is reported per record.
        let (healthy, _) = insert_influencer(&store, "healthy@example.com").await;
        assert_eq!(
            store.users.find_by_id(&healthy.id).await.unwrap(),
            Some(healthy)
        );
        store.ping().await.unwrap();
    }
}
