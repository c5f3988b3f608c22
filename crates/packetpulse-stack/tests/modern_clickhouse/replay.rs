//! Running a recorded statement on an engine over ClickHouse's HTTP interface — the 18.16 server, or the ClickHouse
//! 26 engine behind the testkit's chdb front — the way it was sent. Rows come back as JSONCompact, which carries
//! the result types too.

use crate::capture::{Kind, Statement};

/// What an engine answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A statement without rows succeeded.
    Done,
    /// The JSONCompact document of a query's result.
    Rows(serde_json::Value),
    Failed(String),
}

fn rows(text: &str) -> Answer {
    match serde_json::from_str(text) {
        Ok(json) => Answer::Rows(json),
        Err(error) => Answer::Failed(format!("not JSONCompact ({error}): {text}")),
    }
}

/// An engine's HTTP interface.
pub struct Server {
    url: String,
    http: reqwest::Client,
}

impl Server {
    pub fn new(url: String) -> Self {
        Self {
            url,
            http: reqwest::Client::new(),
        }
    }

    /// Runs `sql` (the statement's text, possibly rewritten) the way the statement was sent.
    pub async fn run(&self, statement: &Statement, sql: &str) -> Answer {
        let mut url = reqwest::Url::parse(&self.url).unwrap();
        if let Some(database) = &statement.database {
            url.query_pairs_mut().append_pair("database", database);
        }
        let body = match &statement.kind {
            Kind::Insert(rows) => {
                url.query_pairs_mut().append_pair("query", sql);
                rows.clone()
            }
            Kind::Fetch => format!("{sql} FORMAT JSONCompact").into(),
            Kind::Execute => sql.to_owned().into(),
        };
        let response = match self.http.post(url).body(body).send().await {
            Ok(response) => response,
            Err(error) => return Answer::Failed(error.to_string()),
        };
        let ok = response.status().is_success();
        let text = response.text().await.unwrap_or_default();
        match (ok, &statement.kind) {
            (false, _) => Answer::Failed(text),
            (true, Kind::Fetch) => rows(&text),
            (true, _) => Answer::Done,
        }
    }
}
