//! Jinja rendering of models with minijinja, with the functions dbt models commonly use: `ref`, `source`,
//! `config`, `var`, `env_var`, `is_incremental()` and `this`, and the project's macros. Rendering a model also records what it refers to
//! (the dependency graph) and the configuration it asks for.
//!
//! Relations render as dbt-clickhouse renders them: `` `database`.`table` `` (a dbt schema is a ClickHouse
//! database). Errors carry the model's file and line; minijinja adds both to errors our functions return too.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Kwargs, Object};
use minijinja::{Environment, ErrorKind, State, Value, context};

use crate::Error;
use crate::jinja::{invalid, render_error, yaml_environment};
use crate::project::{ModelFile, Project, SourceTable};

/// Name of the render-context entry holding the per-render [`ModelState`].
const STATE_KEY: &str = "__uranus";

/// What rendering a model produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The SQL to run (a `SELECT`).
    pub sql: String,
    /// Models it refers to with `ref()`, in order of appearance.
    pub refs: Vec<String>,
    /// Sources it reads, as (source, table).
    pub sources: Vec<(String, String)>,
    /// Folder configuration overlaid with what `config(...)` set.
    pub config: BTreeMap<String, serde_json::Value>,
}

/// A `` `database`.`table` `` relation, as `this` and `ref()` give them.
pub fn relation(database: &str, table: &str) -> String {
    format!("`{database}`.`{table}`")
}

/// Per-render state the Jinja functions read and record into.
#[derive(Debug)]
struct ModelState {
    database: String,
    models: Arc<Vec<String>>,
    sources: Arc<BTreeMap<(String, String), SourceTable>>,
    vars: Arc<BTreeMap<String, serde_json::Value>>,
    incremental: bool,
    refs: Mutex<Vec<String>>,
    used_sources: Mutex<Vec<(String, String)>>,
    config: Mutex<BTreeMap<String, serde_json::Value>>,
}

impl Object for ModelState {}

/// `this`: the model's own relation, with dbt's attributes.
#[derive(Debug)]
struct This {
    database: String,
    name: String,
}

impl Object for This {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "schema" => Some(Value::from(self.database.clone())),
            "name" | "identifier" | "table" => Some(Value::from(self.name.clone())),
            "database" => Some(Value::from("")),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&relation(&self.database, &self.name))
    }
}

fn state(state: &State) -> Result<Arc<ModelState>, minijinja::Error> {
    state
        .lookup(STATE_KEY)
        .and_then(|value| value.downcast_object::<ModelState>())
        .ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "ref/source/config used outside a model",
            )
        })
}

/// The Jinja environment shared by every render.
pub struct Renderer {
    env: Environment<'static>,
    /// `{% from "<macro file>" import … %}` of every macro file, put before each model (on its first line, so
    /// that error lines stay the model's): dbt makes a project's macros callable from every model.
    imports: String,
    database: String,
    models: Arc<Vec<String>>,
    sources: Arc<BTreeMap<(String, String), SourceTable>>,
    vars: Arc<BTreeMap<String, serde_json::Value>>,
}

impl Renderer {
    /// A renderer for `project`'s models, whose relations live in `database`. Fails on a macro file that is not
    /// valid Jinja.
    pub fn new(project: &Project, database: &str) -> Result<Self, Error> {
        let mut env = yaml_environment();
        let mut imports = String::new();
        for file in &project.macros {
            let name = file.path.to_string_lossy().into_owned();
            env.add_template_owned(name.clone(), file.source.clone())
                .map_err(|error| Error::Project {
                    path: file.path.clone(),
                    message: format!("not valid Jinja: {error}"),
                })?;
            if !file.names.is_empty() {
                imports.push_str(&format!("{{% from {name:?} import {} %}}", file.names.join(", ")));
            }
        }
        env.add_function("ref", |state_: &State, name: String| {
            let model = state(state_)?;
            if !model.models.contains(&name) {
                return Err(invalid(format!(
                    "ref({name:?}): no model named {name:?} in the project"
                )));
            }
            lock(&model.refs).push(name.clone());
            Ok(relation(&model.database, &name))
        });
        env.add_function("source", |state_: &State, source: String, table: String| {
            let model = state(state_)?;
            let located = model
                .sources
                .get(&(source.clone(), table.clone()))
                .ok_or_else(|| {
                    invalid(format!(
                        "source({source:?}, {table:?}): no such table in any sources.yml"
                    ))
                })?;
            lock(&model.used_sources).push((source, table));
            Ok(relation(&located.database, &located.table))
        });
        env.add_function("config", |state_: &State, arguments: Kwargs| {
            let model = state(state_)?;
            let mut config = lock(&model.config);
            for key in arguments.args() {
                let value: Value = arguments.get(key)?;
                let value = serde_json::to_value(&value)
                    .map_err(|error| invalid(format!("config({key}=…): {error}")))?;
                config.insert(key.to_owned(), value);
            }
            // An empty string, not (): minijinja prints none as "None".
            Ok(String::new())
        });
        env.add_function("var", |state_: &State, name: String, default: Option<Value>| {
            let model = state(state_)?;
            match model.vars.get(&name) {
                Some(value) => Ok(Value::from_serialize(value)),
                None => default.ok_or_else(|| {
                    invalid(format!(
                        "var({name:?}): not in dbt_project.yml vars and no default"
                    ))
                }),
            }
        });
        env.add_function("is_incremental", |state_: &State| Ok(state(state_)?.incremental));
        Ok(Self {
            env,
            imports,
            database: database.to_owned(),
            models: Arc::new(project.models.keys().cloned().collect()),
            sources: Arc::new(project.sources.clone()),
            vars: Arc::new(project.vars.clone()),
        })
    }

    /// Renders `model`; `incremental` is what `is_incremental()` returns (the table exists and is incremental).
    pub fn render(&self, model: &ModelFile, incremental: bool) -> Result<Rendered, Error> {
        let model_state = Arc::new(ModelState {
            database: self.database.clone(),
            models: self.models.clone(),
            sources: self.sources.clone(),
            vars: self.vars.clone(),
            incremental,
            refs: Mutex::new(Vec::new()),
            used_sources: Mutex::new(Vec::new()),
            config: Mutex::new(model.folder_config.clone()),
        });
        let this = Value::from_object(This {
            database: self.database.clone(),
            name: model.name.clone(),
        });
        let name = model.path.to_string_lossy();
        let sql = self
            .env
            .render_named_str(
                &name,
                &format!("{}{}", self.imports, model.source),
                context! { this => this, __uranus => Value::from_dyn_object(model_state.clone()) },
            )
            .map_err(|error| render_error(&model.name, &model.path, &error))?;
        Ok(Rendered {
            sql: sql.trim().trim_end_matches(';').trim_end().to_owned(),
            refs: lock(&model_state.refs).clone(),
            sources: lock(&model_state.used_sources).clone(),
            config: lock(&model_state.config).clone(),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
