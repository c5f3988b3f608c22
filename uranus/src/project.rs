//! The dbt project on disk: `dbt_project.yml`, the model files under its model paths, the macro files under its
//! macro paths, `sources.yml` and the `schema.yml` files (descriptions and tests). Only what the runner needs is read; unknown keys are ignored, as
//! dbt ignores keys of other adapters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// `dbt_project.yml`, the parts the runner uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ProjectFile {
    name: String,
    #[serde(default = "default_model_paths")]
    model_paths: Vec<String>,
    #[serde(default = "default_macro_paths")]
    macro_paths: Vec<String>,
    #[serde(default = "default_target_path")]
    target_path: String,
    #[serde(default)]
    vars: BTreeMap<String, Value>,
    /// `models: <project>: <folder>: … +config: value`.
    #[serde(default)]
    models: Value,
}

fn default_model_paths() -> Vec<String> {
    vec!["models".to_owned()]
}

fn default_macro_paths() -> Vec<String> {
    vec!["macros".to_owned()]
}

fn default_target_path() -> String {
    "target".to_owned()
}

/// A model: one `.sql` file.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The file name without `.sql`; what `ref()` names.
    pub name: String,
    /// Path relative to the project root, for messages and `target/compiled/`.
    pub path: PathBuf,
    /// Folders between the model path and the file, for the folder configs of `dbt_project.yml`.
    pub folders: Vec<String>,
    /// The Jinja-SQL source.
    pub source: String,
    /// Configuration from `dbt_project.yml` (`+key` entries of the model's folders; deeper folders win).
    pub folder_config: BTreeMap<String, Value>,
}

/// A file of macros: `{% macro name(…) %}…{% endmacro %}` blocks that every model may call, as in dbt.
#[derive(Debug, Clone)]
pub struct MacroFile {
    /// Path relative to the project root; the template name models import it by.
    pub path: PathBuf,
    /// The Jinja source.
    pub source: String,
    /// The macros it defines.
    pub names: Vec<String>,
}

/// A table of a source in `sources.yml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    /// The ClickHouse database (`schema:` of the source, default its name).
    pub database: String,
    /// The table (`identifier:`, default its name).
    pub table: String,
}

#[derive(Debug, Deserialize)]
struct PropertiesFile {
    #[serde(default)]
    sources: Vec<SourceEntry>,
    #[serde(default)]
    models: Vec<ModelProperties>,
}

#[derive(Debug, Deserialize)]
struct SourceEntry {
    name: String,
    schema: Option<String>,
    #[serde(default)]
    tables: Vec<SourceTableEntry>,
}

#[derive(Debug, Deserialize)]
struct SourceTableEntry {
    name: String,
    identifier: Option<String>,
}

/// A model's entry in a `schema.yml`: its tests (model-level and per column).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelProperties {
    /// The model's name.
    pub name: String,
    /// What the model is.
    #[serde(default)]
    pub description: String,
    /// Its columns.
    #[serde(default)]
    pub columns: Vec<ColumnProperties>,
}

/// A column's entry in a `schema.yml`.
#[derive(Debug, Clone, Deserialize)]
pub struct ColumnProperties {
    /// Column name.
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: String,
    /// Generic tests (`data_tests:`, or the older `tests:`), each a name or a one-key map of name → arguments.
    #[serde(default, alias = "tests")]
    pub data_tests: Vec<Value>,
}

/// Everything loaded from a project directory.
#[derive(Debug, Clone)]
pub struct Project {
    /// `name:` of `dbt_project.yml`.
    pub name: String,
    /// The project directory.
    pub root: PathBuf,
    /// Where `compile` writes (`target-path`, relative to the root).
    pub target_path: PathBuf,
    /// `vars:`.
    pub vars: BTreeMap<String, Value>,
    /// Models by name.
    pub models: BTreeMap<String, ModelFile>,
    /// Macro files, in path order.
    pub macros: Vec<MacroFile>,
    /// Sources: (source name, table name) → where it is.
    pub sources: BTreeMap<(String, String), SourceTable>,
    /// Model properties from every `schema.yml`, by model name.
    pub properties: BTreeMap<String, ModelProperties>,
}

impl Project {
    /// Loads the project in `root` for the target database `target_database`. YAML files are rendered first, as
    /// dbt renders them: `env_var()` and `target.schema` (the target database) may be used in values.
    pub fn load(root: &Path, target_database: &str) -> Result<Self, Error> {
        let render_yaml = |path: &Path, text: &str| crate::jinja::render_yaml(path, text, target_database);
        let project_path = root.join("dbt_project.yml");
        let text = read(&project_path)?;
        let file: ProjectFile = parse_yaml(&project_path, &render_yaml(&project_path, &text)?)?;
        let mut project = Self {
            root: root.to_owned(),
            target_path: PathBuf::from(&file.target_path),
            vars: file.vars.clone(),
            models: BTreeMap::new(),
            macros: Vec::new(),
            sources: BTreeMap::new(),
            properties: BTreeMap::new(),
            name: file.name.clone(),
        };
        for model_path in &file.model_paths {
            let dir = root.join(model_path);
            for path in files_under(&dir)? {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
                match path.extension().and_then(|e| e.to_str()) {
                    Some("sql") => project.add_model(&file, &dir, &path, relative)?,
                    Some("yml" | "yaml") => {
                        let text = read(&path)?;
                        let properties: PropertiesFile =
                            parse_yaml(&relative, &render_yaml(&relative, &text)?)?;
                        project.add_properties(properties, &relative)?;
                    }
                    _ => {}
                }
            }
        }
        for macro_path in &file.macro_paths {
            let dir = root.join(macro_path);
            if !dir.is_dir() {
                continue;
            }
            let mut paths = files_under(&dir)?;
            paths.sort();
            for path in paths {
                if path.extension().and_then(|e| e.to_str()) == Some("sql") {
                    let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
                    project.add_macros(relative, read(&path)?)?;
                }
            }
        }
        Ok(project)
    }

    fn add_macros(&mut self, path: PathBuf, source: String) -> Result<(), Error> {
        let problem = |message: String| Error::Project {
            path: path.clone(),
            message,
        };
        minijinja::Environment::new()
            .template_from_str(&source)
            .map_err(|error| problem(format!("not valid Jinja: {error}")))?;
        let names = macro_names(&source);
        for name in &names {
            if let Some(other) = self.macros.iter().find(|file| file.names.contains(name)) {
                return Err(problem(format!(
                    "macro {name:?} is also defined in {}",
                    other.path.display()
                )));
            }
        }
        self.macros.push(MacroFile { path, source, names });
        Ok(())
    }

    fn add_model(
        &mut self,
        file: &ProjectFile,
        dir: &Path,
        path: &Path,
        relative: PathBuf,
    ) -> Result<(), Error> {
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_owned();
        let folders: Vec<String> = path
            .parent()
            .and_then(|parent| parent.strip_prefix(dir).ok())
            .map(|inner| {
                inner
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(existing) = self.models.get(&name) {
            return Err(Error::Project {
                path: relative,
                message: format!(
                    "a model named {name:?} already exists in {}",
                    existing.path.display()
                ),
            });
        }
        let folder_config = folder_config(&file.models, &file.name, &folders);
        let model = ModelFile {
            name: name.clone(),
            path: relative,
            folders,
            source: read(path)?,
            folder_config,
        };
        self.models.insert(name, model);
        Ok(())
    }

    fn add_properties(&mut self, file: PropertiesFile, path: &Path) -> Result<(), Error> {
        for source in file.sources {
            let database = source.schema.clone().unwrap_or_else(|| source.name.clone());
            for table in source.tables {
                let located = SourceTable {
                    database: database.clone(),
                    table: table.identifier.clone().unwrap_or_else(|| table.name.clone()),
                };
                self.sources.insert((source.name.clone(), table.name), located);
            }
        }
        for model in file.models {
            if self.properties.contains_key(&model.name) {
                return Err(Error::Project {
                    path: path.to_owned(),
                    message: format!("model {:?} is described twice", model.name),
                });
            }
            self.properties.insert(model.name.clone(), model);
        }
        Ok(())
    }
}

/// The `+key` entries along `models: <project>: <folder>: …`, deeper folders overriding.
fn folder_config(models: &Value, project: &str, folders: &[String]) -> BTreeMap<String, Value> {
    let mut config = BTreeMap::new();
    let mut node = models.get(project);
    let mut depth = 0;
    while let Some(Value::Object(entries)) = node {
        for (key, value) in entries {
            if let Some(key) = key.strip_prefix('+') {
                config.insert(key.to_owned(), value.clone());
            }
        }
        node = folders.get(depth).and_then(|folder| entries.get(folder));
        depth += 1;
    }
    config
}

/// The names of the `{% macro name(…) %}` blocks in `source`.
fn macro_names(source: &str) -> Vec<String> {
    source
        .split("{%")
        .skip(1)
        .filter_map(|tag| {
            let tag = tag.trim_start_matches(['-', '+']).trim_start();
            let rest = tag.strip_prefix("macro")?;
            if !rest.starts_with(char::is_whitespace) {
                return None;
            }
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Project {
        path: path.to_owned(),
        message: source.to_string(),
    })
}

fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Error> {
    serde_saphyr::from_str(text).map_err(|source| Error::Project {
        path: path.to_owned(),
        message: source.to_string(),
    })
}

/// Files under `dir`, recursively, sorted (so runs are reproducible).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|source| Error::Project {
            path: current.clone(),
            message: source.to_string(),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeper_folder_configs_override_shallower_ones() {
        let models = serde_json::json!({
            "gold_project": {
                "+materialized": "view",
                "+engine": "MergeTree()",
                "gold": { "+materialized": "table", "nested": { "+order_by": "id" } }
            }
        });
        let config = folder_config(&models, "gold_project", &["gold".to_owned(), "nested".to_owned()]);
        assert_eq!(config["materialized"], "table");
        assert_eq!(config["engine"], "MergeTree()");
        assert_eq!(config["order_by"], "id");
        assert_eq!(
            folder_config(&models, "gold_project", &[])["materialized"],
            "view"
        );
    }
}
