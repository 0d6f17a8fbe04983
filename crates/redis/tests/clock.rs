//! The shared clock against the machine's Redis: racing readers never read the same value, each
//! reader's readings only go up, and losing the key does not send the clock back.

use std::{collections::HashSet, sync::Arc};

use tokio::sync::Barrier;

mod common;

use common::TestRedis;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_readers_each_get_a_distinct_reading_and_readings_only_go_up() {
    let redis = TestRedis::new();
    let (readers, ticks) = (32, 25);
    let start = Arc::new(Barrier::new(readers));
    let tasks: Vec<_> = (0..readers)
        .map(|_| {
            let (redis, start) = (redis.redis.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut readings = Vec::with_capacity(ticks);
                for _ in 0..ticks {
                    readings.push(redis.tick("race").await.expect("a reading"));
                }
                readings
            })
        })
        .collect();
    let mut all = HashSet::new();
    for task in tasks {
        let readings = task.await.expect("reader task");
        assert!(
            readings.windows(2).all(|pair| pair[0] < pair[1]),
            "{readings:?}"
        );
        all.extend(readings);
    }
    assert_eq!(
        all.len(),
        readers * ticks,
        "no reading was handed out twice"
    );
    assert!(
        all.iter().all(|reading| *reading < (1 << 53)),
        "readings stay exact in an f64"
    );
}

#[tokio::test]
async fn a_lost_clock_resumes_above_its_last_reading() {
    let redis = TestRedis::new();
    let before = redis.tick("lost").await.unwrap();
    redis.delete_namespace().await.unwrap();
    let after = redis.tick("lost").await.unwrap();
    assert!(after > before, "{after} <= {before}");
}
