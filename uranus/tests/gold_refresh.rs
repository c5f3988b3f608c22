//! A refresh of the project's incremental models costs what changed, not the table's size: `session_summary`
//! is partitioned by the week a session started (16 weeks to a cycle), `session_hours` by the day (64 days to a
//! cycle), and a merge copies only the partitions of the sessions it recomputes. 64 days of 40 sessions each,
//! then new events for five sessions of the last day and one late event that moves a session to another day:
//! the refresh recomputes the last day (the lookback) and the moved session and copies only the rest of their
//! weeks' (days') partitions, and every session is still there once with its new figures.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use jupiter::testing::SilverSeeder;
use packetpulse_model::{DeliveryEvent, DeliveryStatus, PublishedEvent, testing};
use packetpulse_testkit::shared_clickhouse;
use uranus::project::Project;
use uranus::runner::{ModelResult, Outcome, Runner, summarise};

const DAYS: i64 = 64;
const SESSIONS_PER_DAY: i64 = 40;

fn first_day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap()
}

fn session(day: i64, n: i64) -> String {
    format!("day{day:02}-s{n:02}")
}

fn event(session: &str, time: DateTime<Utc>, status: DeliveryStatus, lat: f64) -> PublishedEvent {
    PublishedEvent {
        event_id: uuid::Uuid::new_v4(),
        ..testing::published(DeliveryEvent {
            session_id: session.to_owned(),
            order_id: format!("order-{session}"),
            status,
            timestamp: time,
            current_lat: lat,
            ..testing::event()
        })
    }
}

/// The project's models built for the first time in `database`: the runner and every model, for the next refresh.
async fn first_build(client: &clickhouse::Client, database: &str) -> (Runner, BTreeSet<String>) {
    let project = Project::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt"),
        database,
    )
    .unwrap();
    let mut runner = Runner::new(client.clone(), database, project).unwrap();
    let everything = runner.select(&[]).unwrap();
    summarise(&runner.run(&everything, false).await).unwrap();
    (runner, everything)
}

fn copied(results: &[ModelResult], model: &str) -> u64 {
    let result = results.iter().find(|r| r.model == model).unwrap();
    match result.outcome {
        Outcome::Built {
            copied: Some(copied), ..
        } => copied,
        ref other => panic!("{model} was not merged incrementally: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_copies_only_the_partitions_of_the_sessions_it_recomputes() {
    let clickhouse = shared_clickhouse().unwrap();
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    let mut silver = SilverSeeder::new(&client, &database).await;
    // Each day ingested two minutes after the one before, as a stream would: the models' lookback (60 s)
    // reaches back into the last day only.
    let now = Utc::now();
    for day in 0..DAYS {
        let mut events = Vec::new();
        for n in 0..SESSIONS_PER_DAY {
            let start = first_day() + Duration::days(day) + Duration::minutes(n);
            let id = session(day, n);
            events.push(event(&id, start, DeliveryStatus::Started, 37.98));
            events.push(event(
                &id,
                start + Duration::seconds(30),
                DeliveryStatus::EnRoute,
                37.981,
            ));
        }
        silver
            .insert(events, now - Duration::hours(3) + Duration::minutes(2 * day))
            .await;
    }

    let (mut runner, everything) = first_build(&client, &database).await;

    // Five sessions of the last day drive on; one session of day 10 gets a late event from the day before, so
    // its start (and partition) moves.
    let last = DAYS - 1;
    let mut more: Vec<PublishedEvent> = (0..5)
        .map(|n| {
            let at = first_day() + Duration::days(last) + Duration::minutes(n) + Duration::seconds(60);
            event(&session(last, n), at, DeliveryStatus::Completed, 37.982)
        })
        .collect();
    more.push(event(
        &session(10, 0),
        first_day() + Duration::days(9) + Duration::hours(12),
        DeliveryStatus::EnRoute,
        37.979,
    ));
    silver.insert(more, now).await;
    let results = runner.run(&everything, false).await;
    summarise(&results).unwrap();

    // The touched partitions: the last day's, day 10's (where the moved session was) and day 9's (where it is
    // now); each holds one week (session_summary) or one day (session_hours) of this fleet. Without partitions
    // the merge copied every other session.
    let (summary_copied, hours_copied) = (
        copied(&results, "session_summary"),
        copied(&results, "session_hours"),
    );
    println!("rows copied by the refresh: session_summary {summary_copied}, session_hours {hours_copied}");
    let three_days = 3 * u64::try_from(SESSIONS_PER_DAY).unwrap();
    let three_weeks = 7 * three_days;
    assert!(
        summary_copied <= three_weeks,
        "session_summary copied {summary_copied} old rows for 6 changed sessions (3 weeks hold {three_weeks})"
    );
    assert!(
        hours_copied <= 2 * three_days,
        "session_hours copied {hours_copied} old rows for 6 changed sessions"
    );
    // vehicle_daily regroups the days those sessions span and copies the rest of their weeks: one vehicle here,
    // so a row per day and at most one more marking a regrouped day.
    let daily_copied = copied(&results, "vehicle_daily");
    assert!(
        daily_copied <= 3 * 7 * 2,
        "vehicle_daily copied {daily_copied} old rows for 6 changed sessions"
    );

    let client = client.with_database(&database);
    let (rows, sessions): (u64, u64) = client
        .query("SELECT count(), uniqExact(session_id) FROM session_summary")
        .fetch_one()
        .await
        .unwrap();
    let expected = u64::try_from(DAYS * SESSIONS_PER_DAY).unwrap();
    assert_eq!((rows, sessions), (expected, expected), "every session once");
    let updated: Vec<(String, String, u64)> = client
        .query(
            "SELECT session_id, status, events FROM session_summary \
             WHERE session_id IN (?, ?) ORDER BY session_id",
        )
        .bind(session(10, 0))
        .bind(session(last, 0))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        updated,
        [
            (session(10, 0), "en_route".to_owned(), 3),
            (session(last, 0), "completed".to_owned(), 3),
        ]
    );
    let (hour_rows, hour_events): (u64, u64) = client
        .query("SELECT uniqExact(session_id, hour), sum(events) FROM session_hours")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(hour_events, 2 * expected + 6, "every event counted once");
    assert!(hour_rows >= expected, "{hour_rows}");
    common::assert_vehicle_daily_is_a_fresh_grouping(&client).await;
}

/// A late event from before midnight moves the start of the only trip of a day to the day before: the daily
/// summary counts it on that day and no longer on the day it left, which has no trip left to regroup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_whose_start_moves_back_a_day_leaves_nothing_on_the_day_it_left() {
    let clickhouse = shared_clickhouse().unwrap();
    let (database, client) = clickhouse.fresh_database().await.unwrap();
    let mut silver = SilverSeeder::new(&client, &database).await;
    let after_midnight = Utc.with_ymd_and_hms(2026, 9, 2, 0, 10, 0).unwrap();
    let now = Utc::now();
    silver
        .insert(
            vec![
                event("late", after_midnight, DeliveryStatus::Started, 37.98),
                event(
                    "late",
                    after_midnight + Duration::minutes(1),
                    DeliveryStatus::EnRoute,
                    37.981,
                ),
            ],
            now - Duration::hours(1),
        )
        .await;
    let (mut runner, everything) = first_build(&client, &database).await;
    let days = |rows: Vec<common::VehicleDay>| -> Vec<(u16, u64)> {
        rows.into_iter().map(|row| (row.day, row.trips)).collect()
    };
    let reporting = client.clone().with_database(&database);
    let day = |date: DateTime<Utc>| u16::try_from(date.timestamp() / 86_400).unwrap();
    assert_eq!(
        days(common::vehicle_daily(&reporting).await),
        [(day(after_midnight), 1)]
    );

    let before_midnight = after_midnight - Duration::minutes(20);
    silver
        .insert(
            vec![event("late", before_midnight, DeliveryStatus::Started, 37.979)],
            now,
        )
        .await;
    summarise(&runner.run(&everything, false).await).unwrap();
    assert_eq!(
        days(common::vehicle_daily(&reporting).await),
        [(day(before_midnight), 1)]
    );
    common::assert_vehicle_daily_is_a_fresh_grouping(&reporting).await;
}
