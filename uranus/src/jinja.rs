//! The Jinja pieces every rendering shares: the environment with dbt's `env_var()` (all a YAML file may use),
//! YAML rendering for the project files, and errors that name the file and line.

use std::path::Path;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, context};

use crate::Error;

/// A template error with `message`.
pub(crate) fn invalid(message: String) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, message)
}

fn env_var(name: String, default: Option<String>) -> Result<String, minijinja::Error> {
    std::env::var(&name)
        .ok()
        .or(default)
        .ok_or_else(|| invalid(format!("env_var({name:?}): not set and no default given")))
}

/// An environment with `env_var()` only, for YAML files (dbt renders `env_var` in profiles and sources).
pub fn yaml_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.add_function("env_var", env_var);
    env
}

/// Renders a YAML file's text with [`yaml_environment`] and dbt's `target` (`target.schema` is the target
/// database).
pub fn render_yaml(path: &Path, text: &str, target_database: &str) -> Result<String, Error> {
    let name = path.to_string_lossy();
    yaml_environment()
        .render_named_str(
            &name,
            text,
            context! { target => context! { schema => target_database, type => "clickhouse" } },
        )
        .map_err(|error| render_error("", path, &error))
}

pub(crate) fn render_error(model: &str, path: &Path, error: &minijinja::Error) -> Error {
    let mut message = error
        .detail()
        .map_or_else(|| error.kind().to_string(), str::to_owned);
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        message = format!("{message}: {inner}");
        cause = inner.source();
    }
    Error::Render {
        model: model.to_owned(),
        path: path.to_owned(),
        line: error.line().unwrap_or(0),
        message,
    }
}
