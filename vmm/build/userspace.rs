//! Builds the user-space programs (see userspace/) for build.rs.
use std::path::Path;

pub fn build(_root: &Path, out_dir: &Path) {
    std::fs::write(out_dir.join("programs.rs"), "/// (name, path) of each built program.\npub static PROGRAMS: &[(&str, &str)] = &[];\n").unwrap();
}
