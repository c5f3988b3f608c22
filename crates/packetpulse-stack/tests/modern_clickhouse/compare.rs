//! When two engines' answers count as the same: both succeeded (or both refused), and rows have the same types
//! and values — numbers to a relative 1e-9, as sums in another order may round differently — in the same order
//! when the statement orders them.

use serde_json::Value;

use crate::replay::Answer;

/// How the answers differ, if they do.
pub fn difference(sql: &str, old: &Answer, new: &Answer) -> Option<String> {
    match (old, new) {
        (Answer::Done, Answer::Done) | (Answer::Failed(_), Answer::Failed(_)) => None,
        (Answer::Rows(old), Answer::Rows(new)) => rows_difference(sql, old, new),
        _ => Some("one engine refused the statement, the other ran it".into()),
    }
}

fn types(result: &Value) -> Vec<&str> {
    result["meta"]
        .as_array()
        .map(|columns| {
            columns
                .iter()
                .map(|c| c["type"].as_str().unwrap_or("?"))
                .collect()
        })
        .unwrap_or_default()
}

fn rows_difference(sql: &str, old: &Value, new: &Value) -> Option<String> {
    // The client reads RowBinary by position: a changed type is a changed answer even when values print alike.
    if types(old) != types(new) {
        return Some(format!(
            "result types differ: {:?} vs {:?}",
            types(old),
            types(new)
        ));
    }
    let mut old_rows = old["data"].as_array().cloned().unwrap_or_default();
    let mut new_rows = new["data"].as_array().cloned().unwrap_or_default();
    if old_rows.len() != new_rows.len() {
        return Some(format!("{} rows vs {}", old_rows.len(), new_rows.len()));
    }
    if !orders_its_rows(sql) {
        let by_text = |a: &Value, b: &Value| a.to_string().cmp(&b.to_string());
        old_rows.sort_by(by_text);
        new_rows.sort_by(by_text);
    }
    old_rows
        .iter()
        .zip(&new_rows)
        .position(|(a, b)| !same(a, b))
        .map(|row| format!("row {row} differs: {} vs {}", old_rows[row], new_rows[row]))
}

/// An `ORDER BY` outside any parentheses orders the result; one in a subquery does not.
fn orders_its_rows(sql: &str) -> bool {
    let upper = sql.to_uppercase();
    let mut depth = 0i32;
    for (at, character) in upper.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            'O' if depth == 0 && upper[at..].starts_with("ORDER BY") => return true,
            _ => {}
        }
    }
    false
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        // 64-bit integers and non-finite floats come quoted.
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    }
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subquery_order_does_not_order_the_result() {
        assert!(orders_its_rows("SELECT a FROM t ORDER BY a"));
        assert!(!orders_its_rows(
            "SELECT a FROM (SELECT a FROM t ORDER BY a) GROUP BY a"
        ));
    }

    #[test]
    fn numbers_compare_with_tolerance_and_quoted() {
        assert!(same(
            &serde_json::json!(["1", 0.1]),
            &serde_json::json!([1, 0.1000000000000001])
        ));
        assert!(!same(&serde_json::json!([0.1]), &serde_json::json!([0.2])));
        assert!(!same(&serde_json::json!(["a"]), &serde_json::json!(["b"])));
    }
}
