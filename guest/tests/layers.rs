//! The kernel's layers only point down.
//!
//! `guest/src/lib.rs` lists the layers in order (its "Layers" table); a module
//! may use its own layer and the layers before it. This test parses every file
//! of `guest/src` with `syn` and resolves every path that can name a module of
//! the crate: `use` trees (groups and globs included), `crate::`, `super::`
//! (repeated) and `self::` paths in code, types and patterns, the same paths
//! inside macro arguments (`matches!(x, crate::...)`, `sym super::...` in
//! `global_asm!`), and the macros a module exports (`println!` is `console`'s).
//! Each path into a later layer is reported with its file and line. Test
//! modules (`#[cfg(test)]`) may use anything.
//!
//! `cargo test -p guest --test layers`

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// The layers, lowest first: (name, its top-level modules), from the table in
/// `lib.rs` (rows `//! | name | `m` `m2` | what |` after the header row).
fn layers_from(lib_rs: &str) -> Vec<(String, Vec<String>)> {
    let mut rows = lib_rs
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "//! | layer | modules | what |")
        .skip(2)
        .take_while(|l| l.starts_with("//! |"));
    let mut layers = Vec::new();
    for row in rows.by_ref() {
        let cells: Vec<&str> = row.trim_start_matches("//!").split('|').map(str::trim).collect();
        let modules = cells[2].split_whitespace().map(|m| m.trim_matches('`').to_string());
        layers.push((cells[1].to_string(), modules.collect()));
    }
    layers
}

/// A source file: its path relative to `src/`, its module path and contents.
struct Source {
    file: String,
    module: Vec<String>,
    text: String,
}

/// The module path of `src/<rel>`: `lib.rs` is the root, `a/mod.rs` is `a`,
/// `a/b.rs` is `a::b`; None for `main.rs` (the binary, a crate of its own).
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> =
        rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

fn read_sources(dir: &Path, rel: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir.join(rel))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(rel).display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = rel.join(path.file_name().unwrap());
        if path.is_dir() {
            read_sources(dir, &name, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            if let Some(module) = module_path(&name) {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push(Source { file: name.to_string_lossy().into_owned(), module, text });
            }
        }
    }
}

/// A path that points into a later layer.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    line: usize,
    /// As written (`crate::trap::entry_frame`, `println!`).
    path: String,
    from_layer: String,
    to_module: String,
    to_layer: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "guest/src/{}:{}: `{}` points up: {} (layer {}) is above layer {}",
            self.file, self.line, self.path, self.to_module, self.to_layer, self.from_layer
        )
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The names of the crate's modules (file modules and inline `mod x { }`) and
/// of the macros each module exports (`#[macro_export]`, which puts them at
/// the crate root).
#[derive(Default)]
struct Names {
    modules: BTreeSet<Vec<String>>,
    macros: BTreeMap<String, Vec<String>>,
}

struct NameCollector<'a> {
    names: &'a mut Names,
    stack: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for NameCollector<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let mut path = self.stack.last().unwrap().clone();
        path.push(m.ident.to_string());
        self.names.modules.insert(path.clone());
        if m.content.is_some() {
            self.stack.push(path);
            visit::visit_item_mod(self, m);
            self.stack.pop();
        }
    }

    fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
        let exported = m.attrs.iter().any(|a| a.path().is_ident("macro_export"));
        if let (true, Some(name)) = (exported, &m.ident) {
            self.names.macros.insert(name.to_string(), self.stack.last().unwrap().clone());
        }
    }
}

/// A path that names something of the crate, with where it was written.
struct Reference {
    line: usize,
    written: String,
    /// The module it resolves to (absolute, from the crate root).
    target: Vec<String>,
}

struct RefCollector<'a> {
    names: &'a Names,
    stack: Vec<Vec<String>>,
    refs: Vec<Reference>,
}

impl RefCollector<'_> {
    fn current(&self) -> &Vec<String> {
        self.stack.last().unwrap()
    }

    /// Resolve `segments` written in the current module to an absolute path;
    /// None for paths that do not start in this crate (`core::`, `spin::`,
    /// local names, a child module's items: all in the same layer).
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let mut here = self.current().clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                here.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    here.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        here.extend(rest.iter().cloned());
        Some(here)
    }

    fn add(&mut self, span: Span, segments: &[String], written: String) {
        if let Some(target) = self.resolve(segments) {
            self.refs.push(Reference { line: span.start().line, written, target });
        }
    }

    /// `crate::a::b`, `super::x`, `self::y` sequences in a token stream (macro
    /// arguments, which `syn` does not parse).
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Ident(id) if ["crate", "super", "self"].contains(&&*id.to_string()) => {
                    // ident (`::` ident)*
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                        (trees.get(j), trees.get(j + 1))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        match trees.get(j + 2) {
                            Some(TokenTree::Ident(next)) => segments.push(next.to_string()),
                            _ => break,
                        }
                        j += 3;
                    }
                    // `$crate::` in a macro definition is the crate root too.
                    let dollar =
                        i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                    if segments.len() > 1 || dollar {
                        let written = segments.join("::");
                        self.add(id.span(), &segments, written);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        let leaf = |prefix: &Vec<String>, name: String| {
            let mut p = prefix.clone();
            p.push(name);
            p
        };
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let path = leaf(prefix, n.ident.to_string());
                self.add(n.ident.span(), &path, path.join("::"));
            }
            syn::UseTree::Rename(r) => {
                let path = leaf(prefix, r.ident.to_string());
                self.add(r.ident.span(), &path, path.join("::"));
            }
            syn::UseTree::Glob(g) => {
                let span = g.star_token.spans[0];
                self.add(span, prefix, format!("{}::*", prefix.join("::")));
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

fn segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

impl<'ast> Visit<'ast> for RefCollector<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if is_cfg_test(&m.attrs) {
            return;
        }
        if m.content.is_some() {
            let mut path = self.current().clone();
            path.push(m.ident.to_string());
            self.stack.push(path);
            visit::visit_item_mod(self, m);
            self.stack.pop();
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_cfg_test(&f.attrs) {
            visit::visit_item_fn(self, f);
        }
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if !is_cfg_test(&i.attrs) {
            visit::visit_item_impl(self, i);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if !is_cfg_test(&u.attrs) {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs = segments(p);
        if let Some(first) = p.segments.first() {
            self.add(first.ident.span(), &segs, segs.join("::"));
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // The macro itself: one the crate exports belongs to its module.
        let segs = segments(&m.path);
        let name = segs.last().cloned().unwrap_or_default();
        let local = segs.len() == 1 || matches!(segs[0].as_str(), "crate" | "self" | "super");
        match self.names.macros.get(&name) {
            Some(module) if local => {
                let span = m.path.segments.last().unwrap().ident.span();
                self.refs.push(Reference {
                    line: span.start().line,
                    written: format!("{}!", segs.join("::")),
                    target: module.clone(),
                });
            }
            _ => self.visit_path(&m.path),
        }
        self.scan_tokens(m.tokens.clone());
    }

    fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
        if !is_cfg_test(&m.attrs) {
            self.visit_macro(&m.mac);
        }
    }

    // Not dependencies: `pub(in crate::x)` and doc comments.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// Every path in `sources` that points into a later layer of `layers`, and
/// every problem with the table itself (a module in no layer, one in two).
fn check(layers: &[(String, Vec<String>)], sources: &[Source]) -> Result<Vec<Violation>, String> {
    let mut layer_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (name, modules)) in layers.iter().enumerate() {
        for m in modules {
            if layer_of.insert(m, i).is_some() {
                return Err(format!("module `{m}` is in two layers (the second: {name})"));
            }
        }
    }
    let mut files = Vec::new();
    for s in sources {
        let file = syn::parse_file(&s.text).map_err(|e| format!("{}: {e}", s.file))?;
        files.push((s, file));
    }
    let mut names = Names::default();
    for (s, file) in &files {
        names.modules.insert(s.module.clone());
        NameCollector { names: &mut names, stack: vec![s.module.clone()] }.visit_file(file);
    }
    let top_level: BTreeSet<&str> =
        names.modules.iter().filter(|m| m.len() == 1).map(|m| m[0].as_str()).collect();
    for m in &top_level {
        if !layer_of.contains_key(m) {
            return Err(format!("module `{m}` is in no layer: add it to lib.rs's table"));
        }
    }
    for m in layer_of.keys() {
        if !top_level.contains(m) {
            return Err(format!("lib.rs's table lists `{m}`, which is not a module"));
        }
    }
    let mut violations = Vec::new();
    for (s, file) in &files {
        // The crate root only declares the modules.
        let Some(from) = s.module.first() else { continue };
        let from_layer = layer_of[from.as_str()];
        let mut c = RefCollector { names: &names, stack: vec![s.module.clone()], refs: Vec::new() };
        c.visit_file(file);
        for r in c.refs {
            let Some(to) = r.target.first() else { continue };
            let to = names.macros.get(to).and_then(|m| m.first()).unwrap_or(to);
            let Some(&to_layer) = layer_of.get(to.as_str()) else {
                return Err(format!(
                    "guest/src/{}:{}: `{}` names `{to}`, which is not a module",
                    s.file, r.line, r.written
                ));
            };
            if to_layer > from_layer {
                violations.push(Violation {
                    file: s.file.clone(),
                    line: r.line,
                    path: r.written,
                    from_layer: layers[from_layer].0.clone(),
                    to_module: to.clone(),
                    to_layer: layers[to_layer].0.clone(),
                });
            }
        }
    }
    violations.sort();
    violations.dedup();
    Ok(violations)
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn layers_only_point_down() {
    let lib_rs = std::fs::read_to_string(src_dir().join("lib.rs")).unwrap();
    let layers = layers_from(&lib_rs);
    assert!(layers.len() >= 5, "lib.rs's layer table was not found or is cut short");
    let mut sources = Vec::new();
    read_sources(&src_dir(), Path::new(""), &mut sources);
    let violations = check(&layers, &sources).unwrap_or_else(|e| panic!("{e}"));
    let report: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    assert!(report.is_empty(), "{} paths point up a layer:\n{}", report.len(), report.join("\n"));
}

/// `unsafe` stays in arch: lib.rs denies `unsafe_code` for the crate and
/// allows it for `arch` alone; no other file may allow it again (an inner
/// `#![allow(unsafe_code)]` would undo the crate's deny for its module).
#[test]
fn unsafe_code_is_allowed_in_arch_only() {
    let mut sources = Vec::new();
    read_sources(&src_dir(), Path::new(""), &mut sources);
    let mut found = Vec::new();
    for s in sources.iter().filter(|s| !s.file.starts_with("arch/")) {
        let lines: Vec<&str> = s.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code: String = line.split("//").next().unwrap_or("").split_whitespace().collect();
            let allows = ["allow(", "expect(", "warn("]
                .iter()
                .any(|a| code.contains(a) && code.contains("unsafe_code"));
            // lib.rs: the one exception, on the declaration of `arch`.
            let arch =
                s.file == "lib.rs" && lines.get(i + 1).is_some_and(|l| *l == "pub mod arch;");
            if allows && !arch {
                found.push(format!("guest/src/{}:{}: {}", s.file, i + 1, line.trim()));
            }
        }
    }
    let lib_rs = &sources.iter().find(|s| s.file == "lib.rs").unwrap().text;
    assert!(lib_rs.contains("#![deny(unsafe_code)]"), "lib.rs denies unsafe_code");
    assert!(found.is_empty(), "unsafe_code allowed outside arch:\n{}", found.join("\n"));
}

/// The check finds every form of reference: a fixture with one upward path
/// of each kind, and the downward and same-layer paths it must leave alone.
#[test]
fn the_check_finds_every_form() {
    let layers: Vec<(String, Vec<String>)> = [("low", &["a"][..]), ("high", &["b", "c"])]
        .iter()
        .map(|(n, m)| (n.to_string(), m.iter().map(|s| s.to_string()).collect()))
        .collect();
    let src = |file: &str, text: &str| Source {
        file: file.into(),
        module: module_path(Path::new(file)).unwrap(),
        text: text.into(),
    };
    let sources = [
        src("lib.rs", "mod a; mod b; mod c;"),
        src(
            "b/mod.rs",
            "#[macro_export] macro_rules! shout { () => { $crate::b::f() } }\npub fn f() {}",
        ),
        src("c.rs", "use crate::a::X;\nuse crate::b;\npub fn g() { crate::b::f(); shout!(); }"),
        src(
            "a/mod.rs",
            "use crate::{a::x, b::{f, g}};\n\
             use crate::c::*;\n\
             mod inner { fn h() { super::super::b::f(); } }\n\
             fn k() { self::x::y(); let _ = matches!(1, _ if crate::c::g() == ()); }\n\
             fn m() { crate::shout!(); shout!(); }\n\
             pub(in crate::a) fn n(_: crate::b::T) {}\n\
             /// Not a dependency: [`crate::b`].\n\
             fn o() {}\n\
             #[cfg(test)]\nmod tests { use crate::b; }",
        ),
        src("a/x.rs", "pub fn y() { super::super::a::z(); }"),
    ];
    let found: Vec<(String, usize, String)> =
        check(&layers, &sources).unwrap().into_iter().map(|v| (v.file, v.line, v.path)).collect();
    let expected = [
        ("a/mod.rs", 1, "crate::b::f"),
        ("a/mod.rs", 1, "crate::b::g"),
        ("a/mod.rs", 2, "crate::c::*"),
        ("a/mod.rs", 3, "super::super::b::f"),
        ("a/mod.rs", 4, "crate::c::g"),
        ("a/mod.rs", 5, "crate::shout!"),
        ("a/mod.rs", 5, "shout!"),
        ("a/mod.rs", 6, "crate::b::T"),
    ];
    let expected: Vec<(String, usize, String)> =
        expected.iter().map(|(f, l, p)| (f.to_string(), *l, p.to_string())).collect();
    assert_eq!(found, expected);
    // A module the table does not place is an error, not silence.
    let unplaced = [src("lib.rs", "mod a; mod d;"), src("a/mod.rs", ""), src("d.rs", "")];
    assert!(check(&layers, &unplaced).unwrap_err().contains("`d` is in no layer"));
}
