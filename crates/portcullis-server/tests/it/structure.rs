//! Rules about the code's shape that a reviewer would otherwise have to remember: files short enough
//! to read in one sitting, and no new import loops between the server's modules. They read the
//! source as text, so they need no build of their own and fail like any other test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A file longer than this must say, near its top, why it is long.
const LONGEST_WITHOUT_A_REASON: usize = 500;
/// The marker of that reason: a comment line containing it within the first lines of the file.
const WHY_LINE: &str = "Long because:";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | ".git" | "node_modules") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn a_long_file_says_why_it_is_long() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "examples", "fuzz", "bench"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 50,
        "the walk found only {} files",
        files.len()
    );
    let mut unexplained = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines = text.lines().count();
        let explained = text
            .lines()
            .take(12)
            .any(|line| line.trim_start().starts_with("//") && line.contains(WHY_LINE));
        if lines > LONGEST_WITHOUT_A_REASON && !explained {
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            unexplained.push(format!("{shown} ({lines} lines)"));
        }
    }
    assert!(
        unexplained.is_empty(),
        "files over {LONGEST_WITHOUT_A_REASON} lines need a `{WHY_LINE}` comment in their first 12 \
         lines, or splitting: {unexplained:#?}"
    );
}

/// The top-level modules of `portcullis-server` that each module's code names (`crate::x`, also
/// inside `use crate::{x, y}`), comments left out.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap();
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        // Test-only files may reach for what a test needs (admin, to register a client).
        if module == "lib" || matches!(stem.as_str(), "tests" | "testing") {
            continue;
        }
        let targets = graph.entry(module.clone()).or_default();
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for name in named_after(&code, "crate::") {
            if name != module {
                targets.insert(name.to_owned());
            }
        }
    }
    graph
}

/// Groups of modules that reach each other through their imports (strongly connected components
/// with more than one member).
fn loops(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(next) = todo.pop() {
            for to in graph.get(&next).into_iter().flatten() {
                if seen.insert(to.clone()) {
                    todo.push(to.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|module| (module, reach(module))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for (module, reaches) in &reached {
        let group: BTreeSet<String> = reaches
            .iter()
            .filter(|other| {
                reached
                    .get(other)
                    .is_some_and(|back| back.contains(*module))
            })
            .cloned()
            .chain([(*module).clone()])
            .collect();
        if group.len() > 1 && !found.contains(&group) {
            found.push(group);
        }
    }
    found
}

#[test]
fn the_server_modules_form_no_import_loops() {
    let graph = module_graph();
    assert!(
        graph.contains_key("store") && graph.contains_key("oauth") && graph.contains_key("http"),
        "{graph:?}"
    );
    let found = loops(&graph);
    assert!(
        found.is_empty(),
        "import loops between server modules: {found:?}"
    );
}

/// The layers point one way: `http` may use `oauth`, never the reverse, and the store and the keys
/// use none of the layers above them.
#[test]
fn the_layers_import_downwards_only() {
    let graph = module_graph();
    let forbidden = [
        ("oauth", "http"),
        ("oauth", "admin"),
        ("oauth", "startup"),
        ("store", "oauth"),
        ("store", "http"),
        ("store", "admin"),
        ("store", "keys"),
        ("keys", "oauth"),
        ("keys", "http"),
        ("keys", "admin"),
        ("admin", "http"),
    ];
    let broken: Vec<_> = forbidden
        .iter()
        .filter(|(from, to)| {
            graph
                .get(*from)
                .is_some_and(|targets| targets.contains(*to))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "imports against the layering: {broken:?}"
    );
}

/// Within each directory module (`oauth/`, `http/`, `store/`, `keys/`, `config/`), the parts form
/// no loop either: `crate::oauth::x` and, in a file directly inside, `super::x` are the edges; the
/// parent `mod.rs` and test-only files are left out.
#[test]
fn the_parts_of_each_module_form_no_import_loops() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for parent in ["oauth", "http", "store", "keys", "config"] {
        let graph = part_graph(&src.join(parent), parent);
        assert!(graph.len() >= 2, "{parent}: {graph:?}");
        let found = loops(&graph);
        assert!(found.is_empty(), "import loops inside {parent}/: {found:?}");
    }
}

/// The parts of one directory module and the siblings each names.
fn part_graph(dir: &Path, parent: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(dir).unwrap();
        let first = relative.components().next().unwrap();
        let part = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        if part == "mod" || matches!(stem.as_str(), "tests" | "testing") {
            continue;
        }
        let direct = relative.components().count() == 1;
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let mut names: Vec<&str> = Vec::new();
        let prefix = format!("crate::{parent}::");
        let mut prefixes = vec![prefix.as_str()];
        if direct {
            prefixes.push("super::");
        }
        for prefix in prefixes {
            names.extend(named_after(&code, prefix));
        }
        let targets = graph.entry(part.clone()).or_default();
        for name in names {
            if name != part && name != "tests" && name != "testing" {
                targets.insert(name.to_owned());
            }
        }
    }
    // Only siblings count: a name that is not a part (a type in mod.rs) is no edge.
    let parts: BTreeSet<String> = graph.keys().cloned().collect();
    for targets in graph.values_mut() {
        targets.retain(|t| parts.contains(t));
    }
    graph
}

/// Source without its `//` comments.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `prefix` (also each item of `prefix{a, b::c}`), lower-case
/// names only: modules, not types.
fn named_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        // `crate::oauth::x` also contains `oauth::x`; count only whole prefixes.
        if prefix == "super::" && code[..at].ends_with("::") {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(
                group[..end]
                    .split(',')
                    .map(|item| item.trim().split("::").next().unwrap_or("").trim()),
            );
        } else {
            out.push(
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap(),
            );
        }
    }
    out.retain(|n| n.chars().next().is_some_and(|c| c.is_lowercase()));
    out
}

/// The protocol layer names no HTTP: no axum, hyper, tower or `http` crate paths, and nothing of
/// our own `http` module. Comments may mention them.
#[test]
fn the_protocol_layer_names_no_http() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/oauth");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "{files:?}");
    let mut found = Vec::new();
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for word in [
            "axum",
            "hyper",
            "tower",
            "http::",
            "crate::http",
            "http_body",
            "StatusCode",
            "HeaderMap",
        ] {
            if code.contains(word) {
                found.push(format!("{}: {word}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "HTTP names in oauth/: {found:#?}");
}

#[test]
fn the_loop_finder_finds_a_loop() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(from, to)| (from.to_owned(), to.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        loops(&graph),
        vec![["a", "b", "c"].map(String::from).into()]
    );
}

/// Every workspace file, as a path relative to the workspace root with `/` separators.
fn workspace_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if matches!(name.as_str(), "target" | ".git" | "node_modules") {
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if path.is_dir() {
                out.push(format!("{relative}/"));
                walk(&path, root, out);
            } else {
                out.push(relative);
            }
        }
    }
    let root = workspace_root().canonicalize().unwrap();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

/// ARCHITECTURE.md names only paths and functions that exist, and its code map of the server has a
/// line for every source file (a directory line covers the files in it).
#[test]
fn architecture_md_names_only_what_exists() {
    let text = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let files = workspace_files();
    let sources: String = files
        .iter()
        .filter(|f| f.ends_with(".rs"))
        .map(|f| std::fs::read_to_string(workspace_root().join(f)).unwrap_or_default())
        .collect();
    let quoted: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
    let mut missing = Vec::new();
    for token in &quoted {
        // Paths, leaving out URLs, a bare extension, and what only exists at run time.
        let is_path = !token.contains(' ')
            && !token.contains("://")
            && !token.starts_with('.')
            && !token.starts_with("target/")
            && (token.ends_with('/')
                || [".rs", ".toml", ".sh", ".html", ".sql", ".md"]
                    .iter()
                    .any(|ext| token.ends_with(ext)));
        if is_path {
            let found = files
                .iter()
                .any(|f| f == token || f.ends_with(&format!("/{token}")));
            if !found {
                missing.push(format!("path {token}"));
            }
        }
        // A name like `every_page_error_has_its_status` (four underscores or more, unlike metadata
        // and column names): a test or function that must exist.
        let is_function = token.matches('_').count() >= 4
            && token
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit());
        if is_function && !sources.contains(&format!("fn {token}")) {
            missing.push(format!("fn {token}"));
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names what does not exist: {missing:#?}"
    );

    // The code map: the first column of the table under the server's heading.
    let map_start = text
        .find("### `crates/portcullis-server/src`")
        .expect("the server's code map");
    let map = &text[map_start..];
    let map = &map[..map.find("\n## ").unwrap_or(map.len())];
    let entries: Vec<&str> = map
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let src = "crates/portcullis-server/src/";
    let mut unmapped = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.starts_with(src) && f.ends_with(".rs"))
    {
        let relative = &file[src.len()..];
        let covered = entries
            .iter()
            .any(|e| *e == relative || (e.ends_with('/') && relative.starts_with(e)));
        if !covered {
            unmapped.push(relative.to_owned());
        }
    }
    assert!(
        unmapped.is_empty(),
        "server files missing from ARCHITECTURE.md's code map: {unmapped:#?}"
    );
}

/// The other documents point at code by its path from the workspace root (`crates/…`); each such
/// path exists.
#[test]
fn the_docs_point_at_code_that_exists() {
    let files = workspace_files();
    let mut docs = vec![workspace_root().join("README.md")];
    for entry in std::fs::read_dir(workspace_root().join("docs"))
        .unwrap()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "md") {
            docs.push(entry.path());
        }
    }
    let mut missing = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for token in text.split('`').skip(1).step_by(2) {
            if token.starts_with("crates/")
                && !token.contains(' ')
                && !files.iter().any(|f| f == token)
            {
                missing.push(format!("{}: {token}", doc.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs name paths that do not exist: {missing:#?}"
    );
}
