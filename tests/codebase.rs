//! Tests of the codebase itself: conventions that reviews would otherwise
//! have to remember.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn crates() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_library_opens_with_a_doc_paragraph() {
    for dir in crates() {
        let lib = dir.join("src/lib.rs");
        if !lib.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&lib).unwrap();
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("//! "),
            "{} must open with a `//!` paragraph",
            lib.display()
        );
        let paragraph: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            paragraph.contains("never"),
            "{}: the opening paragraph must say what the crate must never do",
            lib.display()
        );
    }
}

#[test]
fn folder_name_is_crate_name_and_internal_crates_are_unversioned() {
    for dir in crates() {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            manifest.contains(&format!("name = \"{folder}\"")),
            "{}: package name must equal the folder name",
            dir.display()
        );
        let versioned = folder == "model-api";
        assert_eq!(
            manifest.contains("version = \"0.0.0\""),
            !versioned,
            "{}: internal crates are 0.0.0; only model-api is versioned",
            dir.display()
        );
        assert!(
            manifest.contains("[lints]\nworkspace = true"),
            "{}: use the workspace lints",
            dir.display()
        );
    }
}

#[test]
fn only_runner_and_xtask_are_binaries() {
    for dir in crates() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name == "runner" {
            continue;
        }
        assert!(
            !dir.join("src/main.rs").exists(),
            "{name} must be a library"
        );
        assert!(!dir.join("src/bin").exists(), "{name} must be a library");
    }
}

#[test]
fn migrations_have_flyway_names_and_unique_versions() {
    let mut versions = Vec::new();
    for e in std::fs::read_dir(root().join("migrations")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let (v, rest) = name
            .split_once("__")
            .unwrap_or_else(|| panic!("{name}: expected V###__name.sql"));
        assert!(
            v.starts_with('V') && v[1..].len() == 3 && v[1..].chars().all(|c| c.is_ascii_digit()),
            "{name}"
        );
        assert!(rest.ends_with(".sql"), "{name}");
        versions.push(v.to_owned());
    }
    let n = versions.len();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), n, "two migrations share a version");
    assert!(versions.contains(&"V030".to_owned()) && versions.contains(&"V034".to_owned()));
}

/// `major.minor` of a `rust-version` string (`1.92`, `1.92.0`).
fn minor_version(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The toolchain README promises is the one the locked dependencies need:
/// the workspace's `rust-version` is at least every locked package's
/// `rust-version`, and README names exactly that version. A dependency
/// update that needs a newer Rust fails here, not on a user's machine.
#[test]
fn readme_states_the_toolchain_the_lockfile_needs() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut needed = ((0, 0), String::new());
    let mut ours = None;
    for p in meta["packages"].as_array().unwrap() {
        let Some(v) = p["rust_version"].as_str() else {
            continue;
        };
        if p["name"] == "model-api" {
            ours = Some(v.to_owned());
        }
        if p["source"].is_null() {
            continue; // a crate of this workspace
        }
        let v = minor_version(v);
        if v > needed.0 {
            needed = (v, format!("{} {}", p["name"], p["version"]));
        }
    }
    let ours = ours.expect("model-api has a rust-version");
    assert!(
        minor_version(&ours) >= needed.0,
        "the workspace says rust-version {ours}, but {} needs {}.{}",
        needed.1,
        needed.0.0,
        needed.0.1
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let promise = format!("Rust** (stable, {ours}+)");
    assert!(
        readme.contains(&promise),
        "README must state the toolchain as `{promise}`"
    );
}
