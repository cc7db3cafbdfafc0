//! Builds the user-space test programs (see userspace/) for build.rs: the Rust
//! programs with a nested cargo for `x86_64-unknown-none` (static, non-PIE), the C
//! programs in userspace/c/ with `cc` (static non-PIE, except `NAME_pie.c`:
//! static PIE), and writes `OUT_DIR/programs.rs`, the table behind
//! `vmm::programs`.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Flags for the freestanding C programs (see userspace/include/kvmfork.h).
const C_FLAGS: &[&str] =
    &["-nostdlib", "-ffreestanding", "-O2", "-fno-stack-protector", "-Wall", "-Wextra"];
/// Added to [`C_FLAGS`] for a C program: a static, non-PIE `ET_EXEC`...
const C_EXEC_FLAGS: &[&str] = &["-static", "-fno-pie", "-no-pie"];
/// ...except for `NAME_pie.c` (see [`C_PIE_SUFFIX`]): a static PIE (`ET_DYN`
/// without `PT_INTERP`) that relocates itself (it defines `KVMFORK_STATIC_PIE`).
const C_PIE_FLAGS: &[&str] = &["-static-pie", "-fpie"];
const C_PIE_SUFFIX: &str = "_pie";

pub fn build(root: &Path, out_dir: &Path) {
    let user = root.join("userspace");
    println!("cargo:rerun-if-changed={}", user.display());

    let programs_dir = out_dir.join("programs");
    std::fs::create_dir_all(&programs_dir).expect("creating OUT_DIR/programs");
    let mut programs: Vec<(String, PathBuf)> = Vec::new();

    // Rust programs: one per userspace/src/bin/*.rs (each is a [[bin]] of the crate).
    let rust_names = files_with_ext(&user.join("src/bin"), "rs");
    let target_dir = out_dir.join("userspace-target");
    // Static, non-PIE ET_EXEC that Linux runs directly and the guest loads as is.
    super::nested_cargo_build(
        root,
        &["--package", "userspace", "--bins", "--features", "programs"],
        &target_dir,
        "-Crelocation-model=static",
        "the user programs (userspace/)",
        false,
    );
    let built = target_dir.join("x86_64-unknown-none/kernel");
    for name in rust_names {
        let from = built.join(&name);
        if !from.is_file() {
            panic!(
                "userspace/src/bin/{name}.rs was not built: add a [[bin]] entry for it \
                 (with required-features = [\"programs\"]) to userspace/Cargo.toml"
            );
        }
        let to = programs_dir.join(&name);
        copy(&from, &to);
        programs.push((name, to));
    }

    // C programs: userspace/c/NAME.c -> OUT_DIR/programs/NAME.
    let c_names = files_with_ext(&user.join("c"), "c");
    if !c_names.is_empty() && Command::new("cc").arg("--version").output().is_err() {
        panic!(
            "the C compiler `cc` was not found; it builds the C test programs in \
             userspace/c/. Run ci/setup.sh (it installs gcc) and build again."
        );
    }
    for name in c_names {
        let src = user.join("c").join(format!("{name}.c"));
        let to = programs_dir.join(&name);
        let kind = if name.ends_with(C_PIE_SUFFIX) { C_PIE_FLAGS } else { C_EXEC_FLAGS };
        let status = Command::new("cc")
            .args(C_FLAGS)
            .args(kind)
            .arg("-I")
            .arg(user.join("include"))
            .arg("-o")
            .arg(&to)
            .arg(&src)
            .status()
            .expect("running cc");
        if !status.success() {
            panic!("compiling {} failed ({status}); see the errors above", src.display());
        }
        programs.push((name, to));
    }

    programs.sort();
    for w in programs.windows(2) {
        if w[0].0 == w[1].0 {
            panic!("two user programs are named {:?} (a Rust bin and a C file?)", w[0].0);
        }
    }
    std::fs::write(out_dir.join("programs.rs"), programs_rs(&programs))
        .expect("writing OUT_DIR/programs.rs");
}

/// The base names of `dir/*.ext`, sorted; none if `dir` does not exist.
fn files_with_ext(dir: &Path, ext: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.expect("reading a userspace directory").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn copy(from: &Path, to: &Path) {
    // Remove first: a running program keeps its old file busy, not its name.
    let _ = std::fs::remove_file(to);
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}

fn programs_rs(programs: &[(String, PathBuf)]) -> String {
    let mut s = String::from(
        "/// `(name, absolute path)` of each built user program, sorted by name: Rust\n\
         /// programs by their bin name, C programs by their file name (`hello_c`).\n\
         pub static PROGRAMS: &[(&str, &str)] = &[\n",
    );
    for (name, path) in programs {
        let path = path.to_str().expect("OUT_DIR is not valid UTF-8");
        s.push_str(&format!("    ({name:?}, {path:?}),\n"));
    }
    s.push_str(
        "];\n\
         \n\
         /// The path of the built program `name` (for example `\"hello\"`, `\"hello_c\"`).\n\
         ///\n\
         /// # Panics\n\
         ///\n\
         /// If there is no program of that name; the message lists the known ones.\n\
         pub fn path(name: &str) -> &'static std::path::Path {\n\
         \x20   match PROGRAMS.iter().find(|(n, _)| *n == name) {\n\
         \x20       Some((_, p)) => std::path::Path::new(p),\n\
         \x20       None => {\n\
         \x20           let known: Vec<&str> = PROGRAMS.iter().map(|(n, _)| *n).collect();\n\
         \x20           panic!(\"no user program named {name:?}; the programs are: {}\", known.join(\", \"))\n\
         \x20       }\n\
         \x20   }\n\
         }\n",
    );
    s
}
