//! The project's macros (`macros/`, dbt's default macro path) are callable from every model, as in dbt; a model's
//! error lines stay its own; a macro defined twice or a macro file that is not Jinja stops the load, naming it.

#![allow(clippy::unwrap_used)]

mod common;

use uranus::project::Project;
use uranus::render::Renderer;

fn write_macro(dir: &std::path::Path, path: &str, text: &str) {
    let path = dir.join("macros").join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_model_may_call_the_project_macros() {
    let dir = tempfile::tempdir().unwrap();
    common::write_project(
        dir.path(),
        &[
            (
                "doubled.sql",
                "SELECT {{ double('x') }} AS y, {{ shout('a') }} AS z FROM t",
            ),
            ("broken.sql", "SELECT 1\n{{ no_such_macro() }}"),
        ],
    );
    write_macro(
        dir.path(),
        "math.sql",
        "{% macro double(column) -%}\n({{ column }} * 2)\n{%- endmacro %}\n",
    );
    write_macro(
        dir.path(),
        "text/shout.sql",
        "{%- macro shout(word) %}upper('{{ word }}'){% endmacro -%}",
    );
    let project = Project::load(dir.path(), "db").unwrap();
    assert_eq!(project.macros.len(), 2);
    let renderer = Renderer::new(&project, "db").unwrap();

    let rendered = renderer.render(&project.models["doubled"], false).unwrap();
    assert_eq!(rendered.sql, "SELECT (x * 2) AS y, upper('a') AS z FROM t");
    let error = renderer
        .render(&project.models["broken"], false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("models/broken.sql:2"), "{error}");
}

#[test]
fn a_macro_defined_twice_or_not_jinja_stops_the_load() {
    let dir = tempfile::tempdir().unwrap();
    common::write_project(dir.path(), &[("m.sql", "SELECT 1 AS x")]);
    write_macro(dir.path(), "a.sql", "{% macro twice() %}1{% endmacro %}");
    write_macro(dir.path(), "b.sql", "{% macro twice() %}2{% endmacro %}");
    let error = Project::load(dir.path(), "db").unwrap_err().to_string();
    assert!(
        error.contains("macros/b.sql") && error.contains("\"twice\" is also defined in macros/a.sql"),
        "{error}"
    );

    std::fs::remove_file(dir.path().join("macros/b.sql")).unwrap();
    write_macro(dir.path(), "c.sql", "{% macro open() %}never closed");
    let error = Project::load(dir.path(), "db").unwrap_err().to_string();
    assert!(
        error.contains("macros/c.sql") && error.contains("not valid Jinja"),
        "{error}"
    );
}
