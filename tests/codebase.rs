//! Tests of the codebase itself: conventions that reviews would otherwise
//! have to remember, and the layering of ARCHITECTURE.md checked on what
//! `cargo metadata` resolves (see `layering_violations`: model-api and
//! ais-types depend on nothing of ours, ais-csv on ais-types, detectors on
//! model-api and ais-types, none of them pulls tokio-postgres; registry
//! pulls no tokio-postgres or tokio; nothing depends on runner; only runner
//! and xtask are binaries), with a test that the check does fail on a
//! forbidden edge.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

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

/// The crates other teams' model crates depend on, with real semver: the
/// model contract, the AIS types, and the sample reader for their tests.
/// Every other crate is internal (`0.0.0`).
const VERSIONED: [&str; 3] = ["model-api", "ais-types", "ais-csv"];

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
        let versioned = VERSIONED.contains(&folder.as_str());
        assert_eq!(
            manifest.contains("version = \"0.0.0\""),
            !versioned,
            "{}: internal crates are 0.0.0; only {VERSIONED:?} are versioned",
            dir.display()
        );
        if versioned {
            // A versioned crate tells its users what changed, and documents
            // every public item.
            let changelog = dir.join("CHANGELOG.md");
            let log = std::fs::read_to_string(&changelog)
                .unwrap_or_else(|_| panic!("{} is missing", changelog.display()));
            let version = manifest
                .lines()
                .find_map(|l| l.strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{}: no version", dir.display()));
            assert!(
                log.contains(&format!("## {version}")),
                "{}: no entry for {version}",
                changelog.display()
            );
            let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            assert!(
                lib.contains("#![deny(missing_docs)]"),
                "{folder}: a versioned crate denies missing docs"
            );
        }
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
    let meta = metadata();
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

/// `cargo metadata` of the workspace: every package, its targets, and the
/// resolved dependency graph (with each edge's kinds).
fn metadata() -> &'static Value {
    static METADATA: OnceLock<Value> = OnceLock::new();
    METADATA.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let out = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked", "--offline"])
            .current_dir(root())
            .output()
            .expect("cannot run cargo metadata");
        assert!(
            out.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("cargo metadata printed no JSON")
    })
}

/// The resolved graph by package name: `(name, kinds)` of each dependency,
/// where a kind is `normal`, `dev` or `build`.
struct Graph {
    ours: BTreeSet<String>,
    deps: BTreeMap<String, Vec<(String, Vec<String>)>>,
    /// Binary targets by package, for our packages.
    bins: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn new(m: &Value) -> Graph {
        let name_of: BTreeMap<&str, &str> = m["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let ours: BTreeSet<String> = m["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| name_of[id.as_str().unwrap()].to_owned())
            .collect();
        let mut deps = BTreeMap::new();
        for node in m["resolve"]["nodes"].as_array().unwrap() {
            let name = name_of[node["id"].as_str().unwrap()].to_owned();
            let edges = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let kinds = d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k["kind"].as_str().unwrap_or("normal").to_owned())
                        .collect();
                    (name_of[d["pkg"].as_str().unwrap()].to_owned(), kinds)
                })
                .collect();
            deps.insert(name, edges);
        }
        let mut bins = BTreeMap::new();
        for p in m["packages"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            if !ours.contains(name) {
                continue;
            }
            let targets: Vec<String> = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect();
            bins.insert(name.to_owned(), targets);
        }
        Graph { ours, deps, bins }
    }

    /// `package`'s direct normal dependencies.
    fn normal(&self, package: &str) -> impl Iterator<Item = &str> {
        self.deps
            .get(package)
            .into_iter()
            .flatten()
            .filter(|(_, kinds)| kinds.iter().any(|k| k == "normal"))
            .map(|(name, _)| name.as_str())
    }

    /// Everything `package` pulls in through normal dependencies,
    /// transitively (what ships with it).
    fn pulls(&self, package: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([package]);
        while let Some(p) = queue.pop_front() {
            for d in self.normal(p) {
                if seen.insert(d) {
                    queue.push_back(d);
                }
            }
        }
        seen
    }
}

/// Every way `m` (cargo metadata's JSON) breaks the layering that
/// ARCHITECTURE.md documents:
///
/// - `model-api` and `ais-types` depend (normal dependencies) on no crate of
///   this workspace, `ais-csv` on `ais-types` alone, `detectors` on
///   `model-api` and `ais-types` alone, and none of them pulls
///   `tokio-postgres` (nor, but detectors, `tokio`), transitively: a
///   downstream team's model crate looks exactly like `detectors`.
/// - `registry` depends on no crate of ours beyond `model-api`, and pulls no
///   `tokio-postgres` and no `tokio`, transitively: planning is pure.
/// - `charts` depends on nothing at all (plain numbers in, SVG out).
/// - Only `ops-server` (and `runner`, through it) pulls `hyper`: the
///   snapshot, telemetry and pipeline know nothing of HTTP.
/// - No crate depends on `runner` (of any kind: it is the edge).
/// - Only `runner` and `xtask` have binary targets.
fn layering_violations(m: &Value) -> Vec<String> {
    let g = Graph::new(m);
    let mut out = Vec::new();
    let allowed_ours = |package: &str, allowed: &[&str], out: &mut Vec<String>| {
        for d in g.normal(package) {
            if g.ours.contains(d) && !allowed.contains(&d) {
                out.push(format!("{package} depends on {d}"));
            }
        }
    };
    allowed_ours("model-api", &[], &mut out);
    allowed_ours("ais-types", &[], &mut out);
    allowed_ours("ais-csv", &["ais-types"], &mut out);
    allowed_ours("detectors", &["model-api", "ais-types"], &mut out);
    allowed_ours("registry", &["model-api"], &mut out);
    for (package, forbidden) in [
        ("model-api", &["tokio-postgres"][..]),
        ("ais-types", &["tokio-postgres", "tokio"]),
        ("ais-csv", &["tokio-postgres", "tokio"]),
        ("detectors", &["tokio-postgres"]),
        ("registry", &["tokio-postgres", "tokio"]),
        ("snapshot", &["hyper"]),
        ("telemetry", &["hyper"]),
        ("pipeline", &["hyper"]),
    ] {
        let pulled = g.pulls(package);
        for f in forbidden {
            if pulled.contains(f) {
                out.push(format!("{package} pulls {f}"));
            }
        }
    }
    for d in g.normal("charts") {
        out.push(format!("charts depends on {d}"));
    }
    for (package, deps) in &g.deps {
        if deps.iter().any(|(d, _)| d == "runner") {
            out.push(format!("{package} depends on runner"));
        }
    }
    for (package, bins) in &g.bins {
        if !bins.is_empty() && package != "runner" && package != "xtask" {
            out.push(format!("{package} has binary targets {bins:?}"));
        }
    }
    out
}

/// The layering of ARCHITECTURE.md, on what cargo actually resolves (see
/// [`layering_violations`] for the rules).
#[test]
fn the_crates_keep_their_documented_layers() {
    let g = Graph::new(metadata());
    for package in ["model-api", "detectors", "registry", "runner", "xtask"] {
        assert!(
            g.ours.contains(package),
            "{package} is not a workspace member"
        );
    }
    assert!(
        g.pulls("runner").contains("tokio-postgres"),
        "the graph is read wrongly: runner must pull tokio-postgres"
    );
    assert_eq!(layering_violations(metadata()), Vec::<String>::new());
}

/// The check fails when a forbidden edge is added: the real metadata with
/// a database driver under `model-api` (so also under `detectors` and
/// `registry`), a crate of ours under `detectors`, `runner` under
/// `pipeline` (which brings `hyper` under `pipeline` and `telemetry`),
/// anything under `charts`, and a binary in `registry`.
#[test]
fn a_forbidden_dependency_is_reported() {
    let mut m = metadata().clone();
    let id_of = |m: &Value, name: &str| -> String {
        m["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no package {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let add_edge = |m: &mut Value, from: &str, to: &str| {
        let (from, to) = (id_of(m, from), id_of(m, to));
        let node = m["resolve"]["nodes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|n| n["id"] == from.as_str())
            .unwrap();
        node["deps"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "name": "forbidden",
                "pkg": to,
                "dep_kinds": [{ "kind": null, "target": null }],
            }));
    };
    add_edge(&mut m, "model-api", "tokio-postgres");
    add_edge(&mut m, "detectors", "params-cache");
    add_edge(&mut m, "pipeline", "runner");
    add_edge(&mut m, "charts", "model-api");
    let registry = id_of(&m, "registry");
    m["packages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["id"] == registry.as_str())
        .unwrap()["targets"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "name": "registry-cli", "kind": ["bin"] }));
    let found: BTreeSet<String> = layering_violations(&m).into_iter().collect();
    let expected: BTreeSet<String> = [
        "model-api pulls tokio-postgres",
        "detectors depends on params-cache",
        "detectors pulls tokio-postgres",
        "registry pulls tokio-postgres",
        "registry pulls tokio",
        "pipeline depends on runner",
        "pipeline pulls hyper",
        "telemetry pulls hyper",
        "charts depends on model-api",
        "registry has binary targets [\"registry-cli\"]",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
}

/// Only `registry-store` writes the registry tables (`detection_models`,
/// `detection_model_versions`, `detection_model_dependencies`): every
/// lifecycle rule is checked in one place. Tests and benchmarks may set up
/// rows by hand; shipped code (`src/`) may not.
#[test]
fn only_registry_store_writes_the_registry_tables() {
    let tables = [
        "kcg.detection_models",
        "kcg.detection_model_versions",
        "kcg.detection_model_dependencies",
    ];
    let mut dirs: Vec<PathBuf> = crates()
        .into_iter()
        .filter(|d| !d.ends_with("registry-store"))
        .map(|d| d.join("src"))
        .collect();
    dirs.push(root().join("xtask/src"));
    let found = writes(&tables, dirs);
    assert!(found.is_empty(), "{found:#?}");
}

/// Nothing but V050's triggers writes the audit trail: shipped code (also
/// `registry-store`'s) names a change, it never records one itself, so no
/// change can be recorded without having happened or happen unrecorded.
#[test]
fn only_the_audit_triggers_write_the_audit_trail() {
    let mut dirs: Vec<PathBuf> = crates().into_iter().map(|d| d.join("src")).collect();
    dirs.push(root().join("xtask/src"));
    let found = writes(&["kcg.detection_model_audit"], dirs);
    assert!(found.is_empty(), "{found:#?}");
}

/// Every `INSERT INTO`, `UPDATE`, `DELETE FROM` or `TRUNCATE` of one of
/// `tables` in the `.rs` files under `dirs`, as `path: statement`.
fn writes(tables: &[&str], mut dirs: Vec<PathBuf>) -> Vec<String> {
    let verbs = ["INSERT INTO", "UPDATE", "DELETE FROM", "TRUNCATE"];
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            // Statements are split over lines; compare on one line of
            // single-spaced text.
            let text = std::fs::read_to_string(&path).unwrap();
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            for verb in verbs {
                for table in tables {
                    let statement = format!("{verb} {table}");
                    let at = flat.match_indices(&statement).any(|(i, _)| {
                        // `kcg.detection_models` is a prefix of neither other
                        // table, but `detection_model_versions_x` would be.
                        flat[i + statement.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                    });
                    if at {
                        found.push(format!("{}: {statement}", path.display()));
                    }
                }
            }
        }
    }
    found
}

/// `(name, version)` of every registry package a `Cargo.lock` pins.
fn locked_registry_packages(lock: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for package in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            package.lines().find_map(|l| {
                l.strip_prefix(&format!("{key} = \""))
                    .and_then(|v| v.strip_suffix('"'))
                    .map(str::to_owned)
            })
        };
        if let (Some(name), Some(version), Some(_registry)) =
            (field("name"), field("version"), field("source"))
        {
            out.insert((name, version));
        }
    }
    out
}

/// The template of a downstream deploy (`examples/own-models`, a workspace
/// of its own) locks exactly the versions this workspace locks for every
/// package both use: it tests what this workspace ships, and CI, building
/// it into the same target directory, compiles them once. After `cargo
/// update` here, copy `Cargo.lock` into the template and let cargo prune it
/// (`cargo metadata` there).
#[test]
fn the_template_locks_the_workspaces_versions() {
    let ours =
        locked_registry_packages(&std::fs::read_to_string(root().join("Cargo.lock")).unwrap());
    let template = locked_registry_packages(
        &std::fs::read_to_string(root().join("examples/own-models/Cargo.lock")).unwrap(),
    );
    assert!(template.len() > 50, "{} packages", template.len());
    let differ: Vec<&(String, String)> = template.difference(&ours).collect();
    assert!(
        differ.is_empty(),
        "the template locks versions this workspace does not: {differ:?}"
    );
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The variants of `text` whose `#[error("...")]` message prints the cause
/// it also hands on as its `source()` (`{source}`, `{0}` with `#[from]` or
/// `#[source]`): a chain rendered link by link would say it twice (the
/// "db error: db error" of issue 13).
fn messages_repeating_their_cause(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let starts: Vec<usize> = text.match_indices("#[error(").map(|(i, _)| i).collect();
    for (n, &start) in starts.iter().enumerate() {
        let rest = &text[start..];
        // The variant runs to the next message, or to the end of its enum.
        let end = starts.get(n + 1).map_or_else(
            || rest.find("\n}").unwrap_or(rest.len()),
            |next| next - start,
        );
        let variant = &rest[..end];
        let message = variant.lines().next().unwrap_or("");
        if message.contains("transparent") {
            continue;
        }
        let has_source = variant.contains("#[source]") || variant.contains("#[from]");
        let prints_cause = ["{source}", "{source:", "{0}", "{0:"]
            .iter()
            .any(|p| message.contains(p));
        let tuple_source = variant.contains("(#[from]") || variant.contains("(#[source]");
        if has_source && (message.contains("{source") || (prints_cause && tuple_source)) {
            out.push(message.trim().to_owned());
        }
    }
    out
}

#[test]
fn no_error_message_repeats_its_cause() {
    let mut files = Vec::new();
    for dir in crates() {
        rust_files(&dir.join("src"), &mut files);
    }
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for m in messages_repeating_their_cause(&text) {
            found.push(format!("{}: {m}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "these messages print their own source (say the layer, let source() carry the cause):\n{}",
        found.join("\n")
    );
    // The check itself catches both forms.
    let bad = "enum E {\n    #[error(\"model {model}: {source}\")]\n    Run { model: String, #[source] source: X },\n    #[error(\"db: {0}\")]\n    Db(#[from] Y),\n    #[error(\"fine\")]\n    Fine(#[source] Z),\n}\n";
    assert_eq!(
        messages_repeating_their_cause(bad),
        [
            "#[error(\"model {model}: {source}\")]",
            "#[error(\"db: {0}\")]"
        ]
    );
}
