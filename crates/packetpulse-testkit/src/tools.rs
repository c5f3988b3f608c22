//! Finding the servers' programs: the project's tool dir first, then PATH, then fixed system locations.

use std::path::{Path, PathBuf};

use crate::Error;

/// The one command that installs every tool the tests need.
pub(crate) const INSTALL_HINT: &str = "bash infrastructure/local/install.sh (from the repository root)";

/// The project's tool directory: `$PACKETPULSE_TOOLS`, default `~/.cache/packetpulse/tools`.
pub fn tools_dir() -> Option<PathBuf> {
    std::env::var_os("PACKETPULSE_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/packetpulse/tools")))
}

/// `program` of the Python venv `venv` that the install script creates in the tool directory (pyiceberg, dbt).
pub fn venv_program(venv: &str, program: &'static str) -> Result<PathBuf, Error> {
    let path = tools_dir().map(|dir| dir.join(venv).join("bin").join(program));
    match path {
        Some(path) if is_executable(&path) => Ok(path),
        other => Err(Error::ToolMissing {
            tool: program,
            looked: other.map(|p| p.display().to_string()).unwrap_or_default(),
            hint: INSTALL_HINT,
        }),
    }
}

/// Finds `tool`, looking in `$PACKETPULSE_TOOLS/bin` (default `~/.cache/packetpulse/tools/bin`), `PATH`, and
/// `extra` locations.
pub(crate) fn find(tool: &'static str, extra: &[&str]) -> Result<PathBuf, Error> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = tools_dir() {
        candidates.push(dir.join("bin").join(tool));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(tool)));
    }
    candidates.extend(extra.iter().map(PathBuf::from));
    candidates
        .iter()
        .find(|p| is_executable(p))
        .cloned()
        .ok_or_else(|| Error::ToolMissing {
            tool,
            looked: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            hint: INSTALL_HINT,
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_the_install_command() {
        let error = find(
            "packetpulse-no-such-tool",
            &["/nonexistent/packetpulse-no-such-tool"],
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("packetpulse-no-such-tool is not installed (looked in: "),
            "{message}"
        );
        assert!(
            message.contains("/nonexistent/packetpulse-no-such-tool"),
            "{message}"
        );
        assert!(
            message.ends_with(
                "Install it with: bash infrastructure/local/install.sh (from the repository root)"
            )
        );
    }

    #[test]
    fn finds_a_tool_on_the_path() {
        assert!(find("sh", &[]).is_ok());
    }
}
