//! `uranus test`: dbt's generic tests from `schema.yml` — `not_null`, `unique`, `accepted_values`,
//! `relationships` — each run as one query counting the rows that break it, reported with that count.
//!
//! Arguments are read in both spellings dbt accepts: under `arguments:` (dbt 1.10+) or directly under the test.

use std::time::Instant;

use clickhouse::Client;
use serde_json::Value;

use crate::Error;
use crate::project::Project;
use crate::render::relation;

/// What a test checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// No NULL in the column.
    NotNull,
    /// No value twice in the column.
    Unique,
    /// Every value is one of these.
    AcceptedValues(Vec<Value>),
    /// Every non-NULL value appears in `field` of model `to`.
    Relationships {
        /// The model referred to.
        to: String,
        /// Its column.
        field: String,
    },
}

/// One test of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTest {
    /// dbt-style name, e.g. `not_null_session_summary_session_id`.
    pub name: String,
    /// The model tested.
    pub model: String,
    /// The column tested.
    pub column: String,
    /// What is checked.
    pub check: Check,
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TestOutcome {
    /// No row breaks it.
    Pass,
    /// This many rows (for `unique`: duplicated values) break it.
    Fail(u64),
    /// It could not run (the model is missing, the test is malformed…).
    Error(String),
}

/// Every test declared for the `models` (all when empty), or the declaration errors.
pub fn collect(
    project: &Project,
    models: &std::collections::BTreeSet<String>,
) -> Vec<Result<DataTest, String>> {
    let mut tests = Vec::new();
    for (model, properties) in &project.properties {
        if !models.is_empty() && !models.contains(model) {
            continue;
        }
        for column in &properties.columns {
            for declared in &column.data_tests {
                tests.push(parse(model, &column.name, declared));
            }
        }
    }
    tests
}

fn parse(model: &str, column: &str, declared: &Value) -> Result<DataTest, String> {
    let (kind, arguments) = match declared {
        Value::String(kind) => (kind.as_str(), Value::Null),
        Value::Object(map) if map.len() == 1 => {
            let (kind, body) = map.iter().next().ok_or("empty test")?;
            let arguments = body.get("arguments").cloned().unwrap_or_else(|| body.clone());
            (kind.as_str(), arguments)
        }
        other => {
            return Err(format!(
                "{model}.{column}: a test is a name or a one-key map, got {other}"
            ));
        }
    };
    let check = match kind {
        "not_null" => Check::NotNull,
        "unique" => Check::Unique,
        "accepted_values" => Check::AcceptedValues(
            arguments
                .get("values")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| format!("{model}.{column}: accepted_values needs `values: [...]`"))?,
        ),
        "relationships" => {
            let to = arguments
                .get("to")
                .and_then(Value::as_str)
                .and_then(referenced_model)
                .ok_or_else(|| format!("{model}.{column}: relationships needs `to: ref('model')`"))?;
            let field = arguments
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{model}.{column}: relationships needs `field:`"))?
                .to_owned();
            Check::Relationships { to, field }
        }
        other => {
            return Err(format!(
                "{model}.{column}: unsupported test {other:?} (not_null, unique, accepted_values, relationships)"
            ));
        }
    };
    Ok(DataTest {
        name: format!("{kind}_{model}_{column}"),
        model: model.to_owned(),
        column: column.to_owned(),
        check,
    })
}

/// `ref('x')` or `ref("x")` → `x`.
fn referenced_model(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix("ref(")?.strip_suffix(')')?.trim();
    let name = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))?;
    Some(name.to_owned())
}

/// A SQL literal for an accepted value.
fn literal(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Bool(flag) => u8::from(*flag).to_string(),
        other => other.to_string(),
    }
}

/// The query counting the rows that break `test`.
pub fn failing_rows_sql(test: &DataTest, database: &str) -> String {
    let table = relation(database, &test.model);
    let column = format!("`{}`", test.column);
    match &test.check {
        Check::NotNull => format!("SELECT count() FROM {table} WHERE {column} IS NULL"),
        Check::Unique => format!(
            "SELECT count() FROM (SELECT {column} FROM {table} WHERE {column} IS NOT NULL GROUP BY {column} HAVING count() > 1)"
        ),
        Check::AcceptedValues(values) => {
            let values: Vec<String> = values.iter().map(literal).collect();
            format!(
                "SELECT count() FROM {table} WHERE {column} NOT IN ({})",
                values.join(", ")
            )
        }
        Check::Relationships { to, field } => format!(
            "SELECT count() FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN (SELECT `{field}` FROM {})",
            relation(database, to)
        ),
    }
}

/// Runs the tests, printing one line each, and returns every test's name and outcome.
pub async fn run(
    client: &Client,
    database: &str,
    tests: Vec<Result<DataTest, String>>,
) -> Vec<(String, TestOutcome)> {
    let total = tests.len();
    let mut outcomes = Vec::with_capacity(total);
    for (index, test) in tests.into_iter().enumerate() {
        let started = Instant::now();
        let (name, outcome) = match test {
            Err(problem) => ("(malformed test)".to_owned(), TestOutcome::Error(problem)),
            Ok(test) => {
                let outcome = match client
                    .query_raw(&failing_rows_sql(&test, database))
                    .fetch_one::<u64>()
                    .await
                {
                    Ok(0) => TestOutcome::Pass,
                    Ok(rows) => TestOutcome::Fail(rows),
                    Err(error) => TestOutcome::Error(error.to_string()),
                };
                (test.name, outcome)
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        match &outcome {
            TestOutcome::Pass => println!("{} of {total} PASS  {name} [{seconds:.2}s]", index + 1),
            TestOutcome::Fail(rows) => {
                println!("{} of {total} FAIL {rows} {name} [{seconds:.2}s]", index + 1)
            }
            TestOutcome::Error(message) => println!("{} of {total} ERROR {name}: {message}", index + 1),
        }
        outcomes.push((name, outcome));
    }
    outcomes
}

/// `Err(Failed)` when any test failed or could not run.
pub fn summarise(outcomes: &[(String, TestOutcome)]) -> Result<(), Error> {
    let failed = outcomes.iter().filter(|(_, o)| *o != TestOutcome::Pass).count();
    Error::fail_if_any(failed, outcomes.len(), "tests")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_argument_spellings_and_refs_are_understood() {
        let new_style =
            serde_json::json!({"relationships": {"arguments": {"to": "ref('fleet')", "field": "id"}}});
        let old_style = serde_json::json!({"relationships": {"to": "ref(\"fleet\")", "field": "id"}});
        for declared in [new_style, old_style] {
            let test = parse("m", "c", &declared).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                test.check,
                Check::Relationships {
                    to: "fleet".to_owned(),
                    field: "id".to_owned()
                }
            );
        }
        assert!(parse("m", "c", &serde_json::json!("dbt_utils.at_least_one")).is_err());
        assert_eq!(literal(&serde_json::json!("it's")), "'it\\'s'");
    }
}
