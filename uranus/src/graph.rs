//! The dependency graph of models, from their `ref()`s: a run order in which every model comes after what it
//! reads, cycles reported with the models on them, and dbt's selectors (`model`, `model+`, `+model`, `+model+`).

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;

/// Models and what each one reads.
#[derive(Debug, Clone)]
pub struct Graph {
    upstream: BTreeMap<String, BTreeSet<String>>,
    downstream: BTreeMap<String, BTreeSet<String>>,
    order: Vec<String>,
}

impl Graph {
    /// The graph of `refs` (model → the models it refers to). Fails on a cycle, naming it.
    pub fn new(refs: &BTreeMap<String, Vec<String>>) -> Result<Self, Error> {
        let mut upstream: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut downstream: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (model, reads) in refs {
            upstream.entry(model.clone()).or_default();
            downstream.entry(model.clone()).or_default();
            for read in reads {
                upstream.entry(model.clone()).or_default().insert(read.clone());
                downstream.entry(read.clone()).or_default().insert(model.clone());
            }
        }
        // Kahn's algorithm; ties in name order, so the order is reproducible.
        let mut waiting: BTreeMap<&String, usize> = upstream.iter().map(|(m, u)| (m, u.len())).collect();
        let mut ready: BTreeSet<&String> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(m, _)| *m)
            .collect();
        let mut order = Vec::with_capacity(upstream.len());
        while let Some(model) = ready.pop_first() {
            waiting.remove(model);
            order.push(model.clone());
            for next in downstream.get(model).into_iter().flatten() {
                if let Some(count) = waiting.get_mut(next) {
                    *count -= 1;
                    if *count == 0 {
                        ready.insert(next);
                    }
                }
            }
        }
        if order.len() < upstream.len() {
            let stuck: BTreeSet<&String> = waiting.keys().copied().collect();
            return Err(Error::Cycle(find_cycle(&upstream, &stuck)));
        }
        Ok(Self {
            upstream,
            downstream,
            order,
        })
    }

    /// Every model, each after the models it reads.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// What `model` reads directly.
    pub fn upstream(&self, model: &str) -> impl Iterator<Item = &String> {
        self.upstream.get(model).into_iter().flatten()
    }

    /// The models a dbt selector names: `m`, `m+` (and everything downstream), `+m` (and everything upstream),
    /// `+m+`.
    pub fn select(&self, selector: &str) -> Result<BTreeSet<String>, Error> {
        let with_downstream = selector.ends_with('+');
        let with_upstream = selector.starts_with('+');
        let name = selector.trim_start_matches('+').trim_end_matches('+');
        if !self.upstream.contains_key(name) {
            return Err(Error::Selector(format!("{selector:?}: no model named {name:?}")));
        }
        let mut selected = BTreeSet::from([name.to_owned()]);
        if with_downstream {
            selected.extend(reachable(&self.downstream, name));
        }
        if with_upstream {
            selected.extend(reachable(&self.upstream, name));
        }
        Ok(selected)
    }
}

fn reachable(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending = vec![from.to_owned()];
    while let Some(model) = pending.pop() {
        for next in edges.get(&model).into_iter().flatten() {
            if seen.insert(next.clone()) {
                pending.push(next.clone());
            }
        }
    }
    seen
}

/// One cycle among `stuck` (models Kahn's algorithm could not order), as `a → b → a`.
fn find_cycle(upstream: &BTreeMap<String, BTreeSet<String>>, stuck: &BTreeSet<&String>) -> Vec<String> {
    let Some(start) = stuck.first() else {
        return Vec::new();
    };
    // Every stuck model reads another stuck model, so walking upstream inside `stuck` must repeat.
    let mut path: Vec<String> = vec![(*start).clone()];
    loop {
        let current = path.last().cloned().unwrap_or_default();
        let Some(next) = upstream
            .get(&current)
            .into_iter()
            .flatten()
            .find(|read| stuck.contains(read))
        else {
            return path;
        };
        if let Some(position) = path.iter().position(|seen| seen == next) {
            let mut cycle = path.split_off(position);
            cycle.push(next.clone());
            // Walking upstream gives "reads" order; reverse for "feeds" order.
            cycle.reverse();
            return cycle;
        }
        path.push(next.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(m, r)| ((*m).to_owned(), r.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn every_model_runs_after_what_it_reads() {
        let graph = Graph::new(&refs(&[
            ("kpi", &["summary"]),
            ("summary", &[]),
            ("fleet", &["summary"]),
            ("a", &[]),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(graph.order(), ["a", "summary", "fleet", "kpi"]);
        assert_eq!(
            graph.select("summary+").unwrap_or_default(),
            BTreeSet::from(["summary".to_owned(), "fleet".to_owned(), "kpi".to_owned()])
        );
        assert_eq!(
            graph.select("+kpi").unwrap_or_default(),
            BTreeSet::from(["summary".to_owned(), "kpi".to_owned()])
        );
        assert!(graph.select("nope+").is_err());
    }

    #[test]
    fn a_cycle_is_reported_with_its_models() {
        let error = Graph::new(&refs(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("a → b → c → a"), "{error}");
    }
}
