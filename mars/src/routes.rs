//! Road routes: GeoJSON LineStrings ([lon, lat] per RFC 7946) turned into polylines vehicles can drive.
//! The ten Athens routes of the original simulator are built in; `--routes` loads any file or directory.

use std::path::Path;
use std::sync::Arc;

use geojson::{GeoJson, Geometry, GeometryValue, Position};
use packetpulse_model::GeoPoint;
use packetpulse_model::geo::Polyline;

use crate::Error;

/// A named route.
#[derive(Debug)]
pub struct Route {
    /// From the feature's `name` property, else `{file}#{n}`.
    pub name: String,
    /// The road.
    pub line: Polyline,
}

const BUILT_IN: [(&str, &str); 10] = [
    ("athens-01", include_str!("../routes/athens-01.geojson")),
    ("athens-02", include_str!("../routes/athens-02.geojson")),
    ("athens-03", include_str!("../routes/athens-03.geojson")),
    ("athens-04", include_str!("../routes/athens-04.geojson")),
    ("athens-05", include_str!("../routes/athens-05.geojson")),
    ("athens-06", include_str!("../routes/athens-06.geojson")),
    ("athens-07", include_str!("../routes/athens-07.geojson")),
    ("athens-08", include_str!("../routes/athens-08.geojson")),
    ("athens-09", include_str!("../routes/athens-09.geojson")),
    ("athens-10", include_str!("../routes/athens-10.geojson")),
];

/// The built-in Athens routes.
pub fn built_in() -> Result<Vec<Arc<Route>>, Error> {
    let mut routes = Vec::new();
    for (name, text) in BUILT_IN {
        routes.extend(parse(name, text)?);
    }
    Ok(routes)
}

/// Every LineString (and each line of a MultiLineString) in a GeoJSON file, or in every `*.geojson` / `*.json`
/// file of a directory (in name order, so a seed picks the same routes every time).
pub fn load(path: &Path) -> Result<Vec<Arc<Route>>, Error> {
    let files = if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::Routes(format!("{}: {e}", path.display())))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "geojson" || ext == "json"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut routes = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).map_err(|e| Error::Routes(format!("{}: {e}", file.display())))?;
        let stem = file
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        routes.extend(parse(&stem, &text)?);
    }
    if routes.is_empty() {
        return Err(Error::Routes(format!(
            "{}: no LineString routes found",
            path.display()
        )));
    }
    Ok(routes)
}

fn parse(source: &str, text: &str) -> Result<Vec<Arc<Route>>, Error> {
    let geojson: GeoJson = text
        .parse()
        .map_err(|e| Error::Routes(format!("{source}: not GeoJSON: {e}")))?;
    let mut lines: Vec<(Option<String>, Vec<GeoPoint>)> = Vec::new();
    let mut collect = |name: Option<String>, geometry: &Geometry| match &geometry.value {
        GeometryValue::LineString { coordinates } => lines.push((name, to_points(coordinates))),
        GeometryValue::MultiLineString { coordinates } => {
            lines.extend(coordinates.iter().map(|line| (name.clone(), to_points(line))))
        }
        _ => {}
    };
    match &geojson {
        GeoJson::FeatureCollection(collection) => {
            for feature in &collection.features {
                if let Some(geometry) = &feature.geometry {
                    collect(feature_name(feature), geometry);
                }
            }
        }
        GeoJson::Feature(feature) => {
            if let Some(geometry) = &feature.geometry {
                collect(feature_name(feature), geometry);
            }
        }
        GeoJson::Geometry(geometry) => collect(None, geometry),
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(n, (name, points))| {
            let name = name.unwrap_or_else(|| format!("{source}#{n}"));
            let line =
                Polyline::new(points).map_err(|e| Error::Routes(format!("{source}: route {name}: {e}")))?;
            Ok(Arc::new(Route { name, line }))
        })
        .collect()
}

/// RFC 7946 positions are [lon, lat]; one with fewer than two numbers becomes NaN, which `Polyline` refuses.
fn to_points(positions: &[Position]) -> Vec<GeoPoint> {
    positions
        .iter()
        .map(|p| {
            let p = p.as_slice();
            GeoPoint::new(
                p.get(1).copied().unwrap_or(f64::NAN),
                p.first().copied().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn feature_name(feature: &geojson::Feature) -> Option<String> {
    feature
        .property("name")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ten_athens_routes_are_built_in_with_their_names_and_lengths() {
        let routes = built_in().unwrap();
        assert_eq!(routes.len(), 10);
        assert_eq!(routes[0].name, "athens-01");
        assert_eq!(routes[0].line.points().len(), 88);
        // [lon, lat] in the file: the first point is in Athens (lat ≈ 37.98, lon ≈ 23.77).
        let first = routes[0].line.points()[0];
        assert!(
            (first.lat - 37.975678).abs() < 1e-9 && (first.lon - 23.767335).abs() < 1e-9,
            "{first:?}"
        );
        for route in &routes {
            assert!(
                route.line.length_m() > 500.0,
                "{} is {} m",
                route.name,
                route.line.length_m()
            );
        }
    }

    #[test]
    fn a_bare_linestring_geometry_and_bad_input_are_handled() {
        let routes = parse(
            "bare",
            r#"{"type":"LineString","coordinates":[[23.7,37.9],[23.71,37.91]]}"#,
        )
        .unwrap();
        assert_eq!(routes[0].name, "bare#0");
        let error = parse("bad", r#"{"type":"LineString","coordinates":[[23.7,37.9]]}"#).unwrap_err();
        assert!(error.to_string().contains("at least 2 points"), "{error}");
        assert!(parse("junk", "{").is_err());
    }
}
