//! Recording what the planets send: an HTTP proxy in front of ClickHouse that keeps every request, in order, and
//! tells the three kinds of statement apart the way the `clickhouse` crate sends them.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One statement as the server received it.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The SQL text, parameters already bound (the crate binds them client-side).
    pub sql: String,
    /// The request's default database.
    pub database: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// `INSERT … FORMAT RowBinary` with its rows.
    Insert(Bytes),
    /// A query whose rows the caller reads.
    Fetch,
    /// DDL, `INSERT … SELECT`, `ALTER`…: only success matters.
    Execute,
}

struct Request {
    query: String,
    body: Bytes,
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    requests: Mutex<Vec<Request>>,
}

/// The running proxy.
pub struct Recorder {
    url: String,
    proxy: Arc<Proxy>,
    server: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Listens on a free port, forwarding to the ClickHouse HTTP interface at `upstream`.
    pub async fn start(upstream: String) -> Self {
        let proxy = Arc::new(Proxy {
            upstream,
            http: reqwest::Client::new(),
            requests: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, proxy, server }
    }

    /// A client as the planets build theirs, through the proxy. Uncompressed, so that insert bodies are the
    /// RowBinary rows themselves.
    pub fn client(&self) -> clickhouse::Client {
        clickhouse::Client::default()
            .with_url(&self.url)
            .with_validation(false)
            .with_compression(clickhouse::Compression::None)
    }

    /// Every statement received so far, in order.
    pub fn statements(&self) -> Vec<Statement> {
        let requests = self.proxy.requests.lock().unwrap();
        requests.iter().map(statement).collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(proxy): State<Arc<Proxy>>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let query = query.unwrap_or_default();
    proxy.requests.lock().unwrap().push(Request {
        query: query.clone(),
        body: body.clone(),
    });
    let answer = proxy
        .http
        .post(format!("{}/?{query}", proxy.upstream))
        .body(body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("text/plain")
        .to_owned();
    match answer.bytes().await {
        Ok(body) => (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// The crate puts an insert's SQL in the URL (`query=`) and its rows in the body; any other statement is the
/// body, with `default_format=` when the caller reads rows.
fn statement(request: &Request) -> Statement {
    let mut sql_in_url = None;
    let mut database = None;
    let mut fetch = false;
    let url =
        reqwest::Url::parse(&format!("http://server/?{}", request.query)).expect("a valid query string");
    for (name, value) in url.query_pairs() {
        match &*name {
            "query" => sql_in_url = Some(value.into_owned()),
            "database" => database = Some(value.into_owned()),
            "default_format" => fetch = true,
            other => panic!(
                "the client sent setting {other}={value}: teach the replay (tests/modern_clickhouse) to pass it on"
            ),
        }
    }
    match sql_in_url {
        Some(sql) => Statement {
            sql,
            database,
            kind: Kind::Insert(request.body.clone()),
        },
        None => Statement {
            sql: String::from_utf8(request.body.to_vec()).expect("SQL is UTF-8"),
            database,
            kind: if fetch { Kind::Fetch } else { Kind::Execute },
        },
    }
}
