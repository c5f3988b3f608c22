//! Every statement PacketPulse sends to ClickHouse, answered alike by Debian's 18.16 (what the tests run on) and
//! by the ClickHouse 26 engine (what docker compose runs).
//!
//! The planets' own code — Jupiter's migrations, enrichment, sink and resume query, Uranus' runner and data tests
//! over the real dbt project, every query of Mercury's dashboard — runs against 18.16 through a recording proxy,
//! on one seeded fleet. Then the recorded statements run again, one by one, on a fresh database of 18.16 and
//! on the 26.9 engine (chdb behind the testkit's HTTP front), and every answer is compared. `now()` is pinned to the fixture's time
//! in the replay, so both engines see the same clock.

#![allow(clippy::unwrap_used)]

mod capture;
mod compare;
mod fixture;
mod replay;

use chrono::{DateTime, SubsecRound, Utc};
use clickhouse::query::RowCursor;
use mercury::server::warehouse::alerts::AlertFilter;
use mercury::server::warehouse::reports::ReportRange;
use mercury::server::warehouse::{ListQuery, Warehouse};
use packetpulse_testkit::{shared_clickhouse, shared_modern_clickhouse, unique_name};

use capture::{Kind, Recorder};
use fixture::Fleet;
use replay::{Answer, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_answers_alike_on_clickhouse_18_and_26() {
    let clickhouse = shared_clickhouse().unwrap();
    let now = Utc::now().trunc_subsecs(0);
    let fleet = Fleet::new(now);
    let database = unique_name("modern");

    let recorder = Recorder::start(clickhouse.url()).await;
    let client = recorder.client();
    let phases = record(&recorder, &client, &database, &fleet, now).await;
    let statements = recorder.statements();
    drop(recorder);

    // A fresh start on 18.16: the recorded statements create the database again.
    clickhouse
        .client()
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await
        .unwrap();
    let old = Server::new(clickhouse.url());
    let new = Server::new(shared_modern_clickhouse().unwrap().url());
    let pinned_now = format!("toDateTime('{}', 'UTC')", now.format("%Y-%m-%d %H:%M:%S"));

    let mut differences = Vec::new();
    let mut definitions = Vec::new();
    let (mut fetched, mut inserted, mut executed, mut refused) = (0, 0, 0, Vec::new());
    for (index, statement) in statements.iter().enumerate() {
        let sql = statement.sql.replace("now()", &pinned_now);
        let old_answer = old.run(statement, &sql).await;
        let new_answer = new.run(statement, &sql).await;
        match statement.kind {
            Kind::Fetch => fetched += 1,
            Kind::Insert(_) => inserted += 1,
            Kind::Execute => executed += 1,
        }
        if let Answer::Failed(error) = &old_answer {
            refused.push(format!("#{index} {sql}\n  18.16: {error}"));
        }
        let difference = if sql.trim_start().starts_with("SHOW CREATE TABLE") {
            // Each version prints a definition its own way; what the runner decides from them (same structure or
            // not) must agree.
            definitions.push((index, definition(&old_answer), definition(&new_answer)));
            None
        } else {
            compare::difference(&sql, &old_answer, &new_answer)
        };
        if let Some(difference) = difference {
            differences.push(format!(
                "#{index} {}\n  {difference}\n  18.16: {old_answer:?}\n  26:    {new_answer:?}",
                sql.trim()
            ));
        }
    }
    for (i, (first, old_a, new_a)) in definitions.iter().enumerate() {
        for (second, old_b, new_b) in &definitions[i + 1..] {
            if (old_a == old_b) != (new_a == new_b) {
                differences.push(format!(
                    "#{first} and #{second}: SHOW CREATE TABLE says the tables are alike on one version only\n  \
                     18.16: {old_a}\n         {old_b}\n  26:    {new_a}\n         {new_b}"
                ));
            }
        }
    }

    println!(
        "{} statements replayed on ClickHouse 18.16 and 26.9: {fetched} queries compared row by row, {inserted} \
         inserts, {executed} other statements",
        statements.len()
    );
    for (planet, from, to) in phases {
        println!("  {planet}: statements #{from}..#{to}");
    }
    assert!(
        refused.is_empty(),
        "18.16 refused statements in the replay that it ran when they were recorded:\n{}",
        refused.join("\n")
    );
    // The first differences explain the rest: a refused statement changes every answer after it.
    assert!(
        differences.is_empty(),
        "{} statements answered differently; the first:\n{}",
        differences.len(),
        differences[..differences.len().min(8)].join("\n\n")
    );
}

/// A `SHOW CREATE TABLE` answer without the table's name, as Uranus compares them.
fn definition(answer: &Answer) -> String {
    match answer {
        Answer::Rows(rows) => {
            let text = rows["data"][0][0].as_str().unwrap_or_default();
            text.split_once('(').map_or(text, |(_, rest)| rest).to_owned()
        }
        other => format!("{other:?}"),
    }
}

/// Runs the planets' ClickHouse work on the fixture through the recorder; returns which statements each part
/// sent.
async fn record(
    recorder: &Recorder,
    client: &clickhouse::Client,
    database: &str,
    fleet: &Fleet,
    now: DateTime<Utc>,
) -> Vec<(&'static str, usize, usize)> {
    let mut phases = Vec::new();
    let mut mark = |name: &'static str, from: &mut usize| {
        let to = recorder.statements().len();
        phases.push((name, *from, to));
        *from = to;
    };
    let mut from = 0;
    client
        .query(&format!("CREATE DATABASE {database}"))
        .execute()
        .await
        .unwrap();
    let in_database = client.clone().with_database(database);
    let project_dir = packetpulse_stack::repo_root().join("uranus/dbt");
    let project = uranus::project::Project::load(&project_dir, database).unwrap();
    let mut gold = uranus::runner::Runner::new(client.clone(), database, project.clone()).unwrap();
    let every_model = gold.select(&[]).unwrap();

    // Jupiter: migrations, the first batch, and the resume query of a restart.
    let mut silver = jupiter::testing::SilverSeeder::new(client, database).await;
    silver
        .insert(fleet.older.clone(), now - chrono::Duration::minutes(10))
        .await;
    let mut enricher = jupiter::transform::Enricher::new(jupiter::Config::defaults().max_speed_kmh);
    jupiter::resume::restore_open_sessions(&in_database, &mut enricher)
        .await
        .unwrap();
    mark("Jupiter (migrations, first batch, resume)", &mut from);

    // Uranus: the first build of every model.
    uranus::runner::summarise(&gold.run(&every_model, false).await).unwrap();
    mark("Uranus (first build)", &mut from);

    // Jupiter again: migrations already applied, the second batch (a continued session, a re-sent event).
    jupiter::migrations::migrate(client, database).await.unwrap();
    silver.insert(fleet.newer.clone(), now).await;
    jupiter::resume::restore_open_sessions(&in_database, &mut enricher)
        .await
        .unwrap();
    mark("Jupiter (migrations again, second batch, resume)", &mut from);

    // Uranus: an incremental run, a full refresh, and the data tests.
    uranus::runner::summarise(&gold.run(&every_model, false).await).unwrap();
    uranus::runner::summarise(&gold.run(&every_model, true).await).unwrap();
    let tests = uranus::data_tests::collect(&project, &every_model);
    uranus::data_tests::summarise(&uranus::data_tests::run(client, database, tests).await).unwrap();
    mark("Uranus (increment, full refresh, data tests)", &mut from);

    // Mercury: every page's queries, with and without filters.
    let warehouse = Warehouse::new(client.clone(), database);
    warehouse.overview(now.date_naive()).await.unwrap();
    for filter in [
        ListQuery::default(),
        ListQuery {
            q: "veh-1".into(),
            status: "completed".into(),
            page: Some(2),
            per_page: Some(2),
        },
        ListQuery {
            q: "→".into(),
            ..ListQuery::default()
        },
        ListQuery {
            q: "O'Brien".into(),
            status: "en_route".into(),
            ..ListQuery::default()
        },
    ] {
        warehouse.sessions(&filter).await.unwrap();
        warehouse.fleet(&filter).await.unwrap();
    }
    for session in [
        &fleet.live_session,
        &fleet.completed_session,
        &"s-none".to_owned(),
    ] {
        warehouse.session(session).await.unwrap();
    }
    warehouse.active_sessions("", 100).await.unwrap();
    warehouse.active_sessions("en_route", 1).await.unwrap();
    warehouse
        .live_positions(u64::try_from((now - chrono::Duration::hours(1)).timestamp_millis()).unwrap())
        .await
        .unwrap();
    for period in ["day", "week", "month", "year"] {
        warehouse.analytics(period).await.unwrap();
    }
    for order in [
        &fleet.live_order,
        &fleet.completed_order,
        &"order-none".to_owned(),
    ] {
        warehouse.tracking(order).await.unwrap();
    }
    reports(&warehouse, now).await;
    mark("Mercury (every page's queries)", &mut from);
    phases
}

/// Every report (a page's first rows and a whole export), for the fleet and one vehicle over the fixture's days, and
/// the alerts page.
async fn reports(warehouse: &Warehouse, now: DateTime<Utc>) {
    async fn drain<T: clickhouse::RowRead>(mut cursor: RowCursor<T>) {
        while cursor.next().await.unwrap().is_some() {}
    }
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let ms = |at: DateTime<Utc>| u64::try_from(at.timestamp_millis()).unwrap();
    for (vehicle, limit) in [("", Some(200)), ("", None), ("veh-1", Some(200))] {
        let range = ReportRange {
            from_ms: ms(midnight - chrono::Duration::days(14)),
            to_ms: ms(midnight + chrono::Duration::days(1)),
            vehicle: vehicle.to_owned(),
            limit,
        };
        drain(warehouse.trips_report(&range).unwrap()).await;
        drain(warehouse.daily_report(&range).unwrap()).await;
        drain(warehouse.stops_report(&range, 120_000).unwrap()).await;
        drain(warehouse.alerts_report(&range).unwrap()).await;
    }
    warehouse
        .alerts(&AlertFilter {
            to_ms: ms(now),
            ids: vec![String::new()],
            limit: 50,
            ..AlertFilter::default()
        })
        .await
        .unwrap();
}
