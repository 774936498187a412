//! The Python that checks a protocol with a library no one here wrote
//! (authlib, Twilio's validator, moto's S3 server): the one `TEST_PYTHON`
//! names (CI exports it), or one of the virtual environments `.ci/run`
//! makes under `~/.cache`, newest Python first.

use std::process::{Command, Stdio};

/// The first candidate Python that can run `import {modules}`.
pub fn python_with(modules: &str) -> Option<String> {
    let check = format!("import {modules}");
    candidates().into_iter().find(|python| {
        Command::new(python)
            .args(["-c", &check])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

fn candidates() -> Vec<String> {
    let mut candidates: Vec<String> = std::env::var("TEST_PYTHON").into_iter().collect();
    let Some(home) = std::env::var_os("HOME") else {
        return candidates;
    };
    let Ok(entries) = std::fs::read_dir(std::path::Path::new(&home).join(".cache")) else {
        return candidates;
    };
    let mut venvs: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("landlord-venv-")
        })
        .map(|entry| {
            entry
                .path()
                .join("bin")
                .join("python")
                .display()
                .to_string()
        })
        .collect();
    venvs.sort();
    venvs.reverse();
    candidates.extend(venvs);
    candidates
}
