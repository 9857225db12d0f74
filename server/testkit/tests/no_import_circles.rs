//! No module of a server or tools crate imports, directly or through others, a module that
//! imports it back: each crate's modules form a graph without circles, so each can be read (and
//! moved) starting from the bottom.
//!
//! Imports are read from the source text (`crate::a::b`, `super::x`, `use crate::{a, b::c}`),
//! outside `#[cfg(test)]` modules, between files and between top-level modules (a folder such
//! as `registry/` counts as one). `lib.rs` is transparent: a name it re-exports counts as an
//! import of the module that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates whose module graphs must have no circles, from the workspace root.
const CRATES: [&str; 7] = [
    "server/node",
    "server/pump",
    "server/drainer",
    "server/tidb",
    "server/loader",
    "server/testkit",
    "tools",
];

#[test]
fn no_module_imports_itself_through_others() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut circles = Vec::new();
    for krate in CRATES {
        let graph = ModuleGraph::read(&workspace.join(krate).join("src"));
        assert!(
            graph.edges.len() > 1,
            "{krate}: read no modules; is the path right?"
        );
        for circle in graph.circles() {
            circles.push(format!("{krate}: {}", circle.join(" -> ")));
        }
        for circle in graph.top_level().circles() {
            circles.push(format!("{krate} (folders): {}", circle.join(" -> ")));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

/// Module path (`a::b`, empty for the crate root) -> the modules it imports.
struct ModuleGraph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// Names `lib.rs` re-exports, with the module that defines them.
    reexports: BTreeMap<String, String>,
}

impl ModuleGraph {
    fn read(src: &Path) -> ModuleGraph {
        let mut sources = BTreeMap::new();
        for file in rust_files(src) {
            let relative = file.strip_prefix(src).unwrap();
            if relative.starts_with("bin") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            sources.insert(module_path(relative), without_tests(&text));
        }
        let modules: BTreeSet<String> = sources.keys().cloned().collect();
        let reexports = sources
            .get("")
            .map(|root| reexported_names(root))
            .unwrap_or_default();
        let mut graph = ModuleGraph {
            edges: BTreeMap::new(),
            reexports,
        };
        for (module, text) in &sources {
            let targets: BTreeSet<String> = referenced_paths(module, text)
                .into_iter()
                .filter_map(|path| graph.resolve(&modules, &path))
                .filter(|target| target != module && !target.is_empty())
                .collect();
            if !module.is_empty() {
                graph.edges.insert(module.clone(), targets);
            }
        }
        graph
    }

    /// The module a path (`a::b::Name`) points into: its longest prefix that is a module, or
    /// for a name the crate root re-exports, the module defining it.
    fn resolve(&self, modules: &BTreeSet<String>, path: &[String]) -> Option<String> {
        for len in (1..=path.len()).rev() {
            let candidate = path[..len].join("::");
            if modules.contains(&candidate) {
                return Some(candidate);
            }
        }
        let first = path.first()?;
        let source = self.reexports.get(first).or_else(|| self.reexports.get(""));
        Some(source.cloned().unwrap_or_default())
    }

    /// The graph between top-level modules: `a::b` counts as `a`.
    fn top_level(&self) -> ModuleGraph {
        let top = |module: &str| module.split("::").next().unwrap_or_default().to_owned();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, targets) in &self.edges {
            let entry = edges.entry(top(module)).or_default();
            entry.extend(targets.iter().map(|target| top(target)));
            entry.remove(&top(module));
        }
        ModuleGraph {
            edges,
            reexports: BTreeMap::new(),
        }
    }

    /// Every circle, each once, as the modules along it.
    fn circles(&self) -> Vec<Vec<String>> {
        let mut found = BTreeSet::new();
        for start in self.edges.keys() {
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((node, path)) = stack.pop() {
                for next in self.edges.get(&node).into_iter().flatten() {
                    if next == start {
                        let mut circle = path.clone();
                        let smallest = (0..circle.len()).min_by_key(|&i| &circle[i]).unwrap();
                        circle.rotate_left(smallest);
                        circle.push(circle[0].clone());
                        found.insert(circle);
                    } else if next > start && seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
        found.into_iter().collect()
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// `lib.rs` -> ``, `a.rs` and `a/mod.rs` -> `a`, `a/b.rs` -> `a::b`.
fn module_path(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The text before the first `#[cfg(test)]` (test modules sit at the end of a file).
fn without_tests(text: &str) -> String {
    text.split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Names the root re-exports with `pub use module::{A, B}` or `pub use module::Name`, with their
/// module; a single `pub use module::*` is stored under the empty name: every root name not
/// found otherwise comes from that module.
fn reexported_names(root: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for line in root.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let rest = rest.strip_prefix("crate::").unwrap_or(rest);
        if let Some((module, list)) = rest.split_once("::{") {
            for name in list.trim_end_matches('}').split(',') {
                let name = name.trim().rsplit("::").next().unwrap_or_default();
                names.insert(name.to_owned(), module.to_owned());
            }
        } else if let Some(module) = rest.strip_suffix("::*") {
            names.insert(String::new(), module.to_owned());
        } else if let Some((module, name)) = rest.rsplit_once("::") {
            names.insert(name.to_owned(), module.to_owned());
        }
    }
    names
}

/// Every `crate::...` and `super::...` path in `text`, made absolute, as segments.
fn referenced_paths(module: &str, text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    for (start, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let before = code[..start].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut base: Vec<String> = if code[start..].starts_with("crate::") {
            Vec::new()
        } else {
            module.split("::").map(str::to_owned).collect()
        };
        let mut rest = &code[start..];
        loop {
            if let Some(after) = rest.strip_prefix("crate::") {
                rest = after;
            } else if let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            } else {
                break;
            }
        }
        for tail in expand_group(rest) {
            let mut path = base.clone();
            path.extend(tail);
            paths.push(path);
        }
    }
    paths
}

/// `a::b::{c, d::e}...` -> `[a,b,c]`, `[a,b,d,e]`; `a::b` -> `[a,b]`.
fn expand_group(text: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        prefix.push(ident.clone());
        rest = &rest[ident.len()..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => return vec![prefix],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![prefix];
    };
    let mut depth = 1;
    let end = group
        .char_indices()
        .find(|&(_, c)| {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            depth == 0
        })
        .map_or(group.len(), |(i, _)| i);
    let mut items = Vec::new();
    let mut depth = 0;
    let mut item_start = 0;
    let inner = &group[..end];
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[item_start..i]);
                item_start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[item_start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty() && *item != "self")
        .flat_map(|item| {
            expand_group(item).into_iter().map(|tail| {
                let mut path = prefix.clone();
                path.extend(tail);
                path
            })
        })
        .chain(std::iter::once(prefix.clone()))
        .collect()
}
